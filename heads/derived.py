"""Metrics derived from states the heads keep anyway (`heads.options`).

* `ClassAverage`: a 'micro', 'macro' or 'weighted' average over classes of
  precision, recall or F1, from the per-class one-vs-rest confusion counts.
* `CurveAverage`: the 'macro' or 'weighted' average of per-class AUCs (ROC
  or PR): a view of those AUCs' curve states, no state of its own.
* `OperatingPoint`: precision at a recall, recall at a precision or the
  threshold at a recall, read off an AUC's curve state (a view too).
* `TopClassCalibration`: a multi-class head's top-class calibration, with the
  expected calibration error as one more row.

The views hold no data: merging one adds nothing (the AUCs it reads merge as
members of the same dict, as `heads.auc`'s AUC-PR views do). Each counts its
merges and refuses to read AUCs merged fewer times (`states.IncompatibleStateError`):
a view merged without its AUCs would otherwise give a value missing data.
"""
import numpy as np

from heads import formulas, keys, metrics, states

_CONFUSION_FORMULAS = {
    keys.MetricKeys.PRECISION: (formulas.precision, formulas.precision_defined),
    keys.MetricKeys.RECALL: (formulas.recall, formulas.recall_defined),
    keys.MetricKeys.F1: (formulas.f1, formulas.f1_defined),
}


class _Computed(metrics.Metric):
    """A metric whose value and definedness come from one computation."""

    def _value(self) -> tuple:
        raise NotImplementedError

    def result(self) -> float:
        return self._value()[0]

    def defined(self) -> bool:
        return self._value()[1]

    def rows(self) -> list:
        i = self.info
        value, defined = self._value()
        return [metrics.Row(i.name, i.class_name, i.threshold, float(value), i.key,
                            bool(defined), i.average, i.k)]


class ClassAverage(_Computed):
    """Precision, recall or F1 (`kind`, the base name of `info`) averaged
    over classes as `info.average` says: 'micro' from the counts summed over
    classes, 'macro' and 'weighted' by `formulas.class_average`. Its state
    is every class's `[label, predicted]` counts at one threshold."""

    def __init__(self, info, n_classes):
        if info.name not in _CONFUSION_FORMULAS or info.average not in ("micro", "macro",
                                                                         "weighted"):
            raise ValueError("ClassAverage averages %s as micro, macro or weighted; got %r, %r"
                             % (", ".join(_CONFUSION_FORMULAS), info.name, info.average))
        self.n_classes = int(n_classes)
        super().__init__(info)

    def _empty(self):
        return states.ClassConfusionState.empty(self.n_classes)

    @classmethod
    def from_state(cls, state_dict: dict, info=None, **kwargs) -> "ClassAverage":
        config = {"n_classes": np.shape(state_dict["matrix"])[0]}
        config.update(kwargs)
        return super().from_state(state_dict, info, **config)

    def _value(self):
        formula, defined_formula = _CONFUSION_FORMULAS[self.info.name]
        matrix = self._state.matrix
        if self.info.average == "micro":
            pooled = matrix.sum(axis=0)
            return float(formula(pooled)), bool(defined_formula(pooled))
        tp, _, _, fn = formulas.confusion_counts(matrix)
        return formulas.class_average(formula(matrix), defined_formula(matrix), tp + fn,
                                      self.info.average)


class _View(_Computed):
    """A metric that reads AUCs of its dict (module docstring)."""

    def __init__(self, info, sources):
        self.sources = tuple(sources)
        super().__init__(info)

    def _empty(self):
        return None

    def reset_state(self) -> None:
        self.merges = 0

    def add_state(self, delta):
        raise TypeError("%s (%s) reads other metrics' states; it takes none"
                        % (type(self).__name__, self.info.key))

    def get_state(self) -> dict:
        raise TypeError("%s (%s) has no state of its own: it reads %s"
                        % (type(self).__name__, self.info.key,
                           ", ".join(s.info.key for s in self.sources)))

    def merge_state(self, others: list) -> "_View":
        """Counts the merges (the AUCs it reads bring the data)."""
        others = list(others)
        for other in others:
            if not isinstance(other, type(self)):
                raise states.IncompatibleStateError(
                    "cannot merge %s (%s) with %s" % (type(self).__name__, self.info.key,
                                                     type(other).__name__))
        self.merges += len(others)
        return self

    def _checked_sources(self):
        for source in self.sources:
            if source.curve_state.merges < self.merges:
                raise states.IncompatibleStateError(
                    "%s (%s) was merged %d times but the AUC it reads (%s) only %d times: "
                    "merge every metric of the dicts (heads.metrics.merge_metric_dicts)"
                    % (type(self).__name__, self.info.key, self.merges, source.info.key,
                       source.curve_state.merges))
        return self.sources


class CurveAverage(_View):
    """The 'macro' or 'weighted' (by positive weight) average of the AUCs
    `sources`, one per class, leaving out classes whose AUC is undefined
    (`formulas.class_average`)."""

    def _value(self):
        sources = self._checked_sources()
        values = [s.result() for s in sources]
        defined = [s.defined() for s in sources]
        support = [np.sum(s.curve_state.entries()[0]) for s in sources]
        return formulas.class_average(values, defined, support, self.info.average)


class OperatingPoint(_View):
    """`kind` ('precision_at_recall', 'recall_at_precision',
    'threshold_at_recall') at `target`, from the curve state of the AUC
    `source` (`formulas.operating_point`)."""

    def __init__(self, info, source, kind, target):
        self.kind, self.target = kind, float(target)
        super().__init__(info, (source,))

    def _value(self):
        source, = self._checked_sources()
        return formulas.operating_point(source.curve_points(max_points=None), self.kind,
                                        self.target)


class TopClassCalibration(metrics.Calibration):
    """`Calibration` of the top class's probability against whether it is
    the label, plus the expected calibration error: the weight-averaged
    |accuracy - confidence| over the buckets."""

    def expected_calibration_error(self) -> tuple:
        """(ECE, defined): undefined without weight."""
        weight, wp, wy = self._state.sums
        total = weight.sum()
        if total == 0:
            return 0.0, False
        return float(np.abs(wy - wp).sum() / total), True

    def rows(self) -> list:
        """The buckets' rows, then `expected_calibration_error`: a metric of
        its own name (not a `calibration/...` bucket row), keyed as the
        calibration is (`expected_calibration_error/<head name>`)."""
        i = self.info
        value, defined = self.expected_calibration_error()
        name = keys.MetricKeys.EXPECTED_CALIBRATION_ERROR
        tail = i.key[len(i.name):] if i.key.startswith(i.name) else ""
        return super().rows() + [metrics.Row(name, i.class_name, None, value, name + tail,
                                             defined)]
