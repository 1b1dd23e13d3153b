"""ROC AUC and AUC-PR: two views of one curve state.

A `CurveState` holds float32 probability scores with their weighted
positives and negatives, in a bounded form. An `AUC` metric reads a curve
state as the area under one curve, ROC or interpolated precision-recall. A
head makes the `auc` and `auc_precision_recall` of the same scores (per class
too) as two views of one curve state (`AUC.reading`), fills that state once
per batch, and both read it. A multi-label head's pooled AUCs, when every
class has its own, read the union of the per-class states (`CurveUnion`,
`AUC.union`) instead of taking every score a second time.

Merging: `merge_state` on the AUC that holds a curve state merges the other
AUC's state into it. An AUC that reads a state held elsewhere in its dict
(the AUC-PR of a pair; a pooled AUC over per-class states) merged with
another such AUC merges nothing: merging the AUCs that hold the scores
(every key of the dicts, as `heads.metrics.merge_metric_dicts` does) brings
them. Each state counts those merges, so reading an AUC whose holders were
merged fewer times than it was raises `states.IncompatibleStateError`
instead of giving a value that misses data. For the same reason a metric
dict travels in one pickle: pickled one by one, the AUCs come back each with
a copy of the state it reads, which reads the same values but no longer
merges along with the others.
"""
import numpy as np
import numpy.typing as npt

from heads import buckets, formulas, metrics, states
from heads.curves import CurveState, CurveUnion, checked_config  # noqa: F401 (heads.auc.*)

ROC = "ROC"
PR = "PR"
CURVES = (ROC, PR)
HISTOGRAM = "histogram"
EXACT = "exact"
AUC_METHODS = (HISTOGRAM, EXACT)


class AUC(metrics.Metric):
    """ROC or interpolated-PR AUC over float32 probability scores: a view of
    a `CurveState` (module docstring).

    `AUC(info, curve, ...)` holds a curve state of its own; `AUC.reading`
    makes a second view of an AUC's state, `AUC.union` a view of the union
    of several AUCs' states. `get_state()` holds the configuration too
    (`curve`, `exact_limit`, -1 for None, `max_buckets`, `min_exponent`), so
    `AUC.from_state(state)` restores the same metric (holding its own state).
    """

    DEFAULT_EXACT_LIMIT = 1 << 13
    DEFAULT_MAX_BUCKETS = buckets.DEFAULT_MAX_BUCKETS
    _CONFIG = ("curve", "exact_limit", "max_buckets", "min_exponent")

    def __init__(self, info, curve=ROC, max_buckets=DEFAULT_MAX_BUCKETS,
                 min_exponent=buckets.DEFAULT_MIN_EXPONENT, exact_limit=DEFAULT_EXACT_LIMIT):
        if curve not in CURVES:
            raise ValueError("curve must be %s; got %r" % (" or ".join(map(repr, CURVES)),
                                                           curve))
        self.curve = curve
        self.exact_limit, self.max_buckets, self.min_exponent = checked_config(
            exact_limit, max_buckets, min_exponent)
        self._reads = None  # the AUC whose `_curve` this one reads; None: its own
        super().__init__(info)

    @classmethod
    def reading(cls, holder: "AUC", info: metrics.MetricInfo | str, curve: str) -> "AUC":
        """An AUC of `curve` reading `holder`'s curve state (configured as
        `holder`): the AUC-PR of a ROC AUC's scores, say."""
        view = cls(info, curve, holder.max_buckets, holder.min_exponent, holder.exact_limit)
        view._reads, view._curve = holder.holder, None
        return view

    @classmethod
    def union(cls, info: metrics.MetricInfo | str, curve: str, parts: list) -> "AUC":
        """An AUC of `curve` over the union of the scores of the AUCs
        `parts` (`CurveUnion`): the pooled AUC of scores that the parts
        partition."""
        view_state = CurveUnion([p.holder for p in parts])
        view = cls(info, curve, view_state.max_buckets, view_state.min_exponent,
                   view_state.exact_limit)
        view._curve = view_state
        return view

    def _config(self):
        return (self.curve, self.exact_limit, self.max_buckets, self.min_exponent)

    @property
    def holder(self) -> "AUC":
        """The AUC holding the curve state this one reads (itself, or the AUC
        it was made `reading`). A reference, not a cycle to itself: metric
        dicts are freed as soon as they are dropped."""
        return self if self._reads is None else self._reads

    @property
    def curve_state(self) -> CurveState | CurveUnion:
        """The `CurveState` (or `CurveUnion`) this AUC reads."""
        return self.holder._curve

    def _read_state(self):
        """The curve state, once it is clear that every merge this AUC relied
        on took place (module docstring)."""
        state = self.curve_state
        if state.merges_relied_on > state.merges:
            raise states.IncompatibleStateError(
                "AUC (%s): merged %d times with AUCs that read another's curve state, but "
                "the AUC holding this one's (%s) was merged %d times: merge every metric "
                "of the dicts (heads.metrics.merge_metric_dicts)"
                % (self.info.key, state.merges_relied_on, self.holder.info.key, state.merges))
        if isinstance(state, CurveUnion):
            for part in state.parts:
                if part.curve_state.merges < state.merges:
                    raise states.IncompatibleStateError(
                        "AUC (%s) is the union of %d AUCs' scores and was merged %d times, "
                        "but AUC (%s) holding a part only %d times: merge every metric of "
                        "the dicts (heads.metrics.merge_metric_dicts)"
                        % (self.info.key, len(state.parts), state.merges, part.info.key,
                           part.curve_state.merges))
        return state

    def _writable_state(self):
        """The held curve state, a union first detached (it takes no scores)."""
        holder = self.holder
        if isinstance(holder._curve, CurveUnion):
            holder._curve = holder._curve.detached()
        return holder._curve

    # -- state ------------------------------------------------------------------
    def reset_state(self) -> None:
        """Empties the curve state this AUC reads, for every AUC reading it
        (an AUC over a union then holds an empty state of its own)."""
        self.holder._curve = CurveState(self.exact_limit, self.max_buckets, self.min_exponent)

    def add_state(self, delta: states.State) -> None:
        raise TypeError("AUC (%s) takes scores (update_state), not state deltas"
                        % self.info.key)

    @property
    def exact(self) -> bool:
        """True while the state holds every distinct score."""
        return self._read_state().exact

    def get_state(self) -> dict:
        out = self._read_state().to_dict()
        out.update(curve=np.asarray(self.curve),
                   exact_limit=np.asarray(-1 if self.exact_limit is None else self.exact_limit),
                   max_buckets=np.asarray(self.max_buckets),
                   min_exponent=np.asarray(self.min_exponent))
        return out

    def set_state(self, state_dict: dict) -> "AUC":
        """Restores the state arrays of `get_state()` into the curve state
        this AUC reads (its configuration entries are `from_state`'s
        business)."""
        self.holder._curve = CurveState.from_dict(
            state_dict, self.exact_limit, self.max_buckets, self.min_exponent,
            owner="AUC (%s)" % self.info.key)
        return self

    @classmethod
    def from_state(cls, state_dict: dict, info: metrics.MetricInfo | str | None = None,
                   **kwargs) -> "AUC":
        """A new AUC holding `state_dict`, configured as the state says
        (keyword arguments override)."""
        config = {}
        if "curve" in state_dict:
            config["curve"] = str(np.asarray(state_dict["curve"]))
        if "exact_limit" in state_dict:
            limit = int(np.asarray(state_dict["exact_limit"]))
            config["exact_limit"] = None if limit < 0 else limit
        for name in ("max_buckets", "min_exponent"):
            if name in state_dict:
                config[name] = int(np.asarray(state_dict[name]))
        config.update(kwargs)
        return super().from_state(state_dict, info, **config)

    def merge_state(self, others: list) -> "AUC":
        """Adds other AUCs' scores (same configuration, curve included);
        see the module docstring for AUCs that read a state held elsewhere."""
        others = list(others)
        for other in others:
            if not isinstance(other, AUC):
                raise states.IncompatibleStateError(
                    "cannot merge AUC (%s) with %s" % (self.info.key, type(other).__name__))
            for name, mine, theirs in zip(self._CONFIG, self._config(), other._config()):
                if mine != theirs:
                    raise states.IncompatibleStateError(
                        "cannot merge AUC (%s): %s %r != %r" % (self.info.key, name, mine, theirs))
        for other in others:
            self._merge_one(other)
        return self

    def _merge_one(self, other):
        if self._reads is not None:
            if other._reads is not None:
                # Both read a state held elsewhere: their holders' merge brings it.
                self.curve_state.merges_relied_on += 1
            else:
                self._reads._merge_one(other)
            return
        state, source = self._curve, other._read_state()
        if isinstance(state, CurveUnion):
            if isinstance(source, CurveUnion) and len(source.parts) == len(state.parts):
                state.merges += 1  # the parts' own merges bring the scores
                return
            state = self._writable_state()
        state.merge(source)

    # -- updates ------------------------------------------------------------------
    def update_state(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike,
                     sample_weight: npt.ArrayLike = None) -> None:
        """Labels count as positive where non-zero (Keras casts them to bool)."""
        y_true, w = metrics.flat_weights(y_true, sample_weight)
        positive = (y_true != 0).astype(np.float64)
        self._writable_state().add_scores(np.asarray(y_pred, np.float32).ravel(),
                                          (w * positive).ravel(), (w * (1.0 - positive)).ravel())

    # -- values -------------------------------------------------------------------
    def result(self) -> float:
        f = formulas.roc_auc if self.curve == ROC else formulas.pr_auc
        return f(*self._read_state().entries())

    def defined(self) -> bool:
        """ROC AUC needs both classes, AUC-PR positives (`result()` is 0
        without)."""
        f = formulas.roc_auc_defined if self.curve == ROC else formulas.pr_auc_defined
        pos, neg, _, _ = self._read_state().entries()
        return f(pos, neg)

    def curve_points(self, max_points: int = 1000) -> dict:
        """Points of both curves (`formulas.curve_points`), at most about
        `max_points`."""
        return self._read_state().curve_points(max_points)
