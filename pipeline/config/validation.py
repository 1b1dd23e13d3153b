"""The config's `validation:` list: gates a release must pass (README,
"Validation gates").

    validation:
      - {metric: auc, head: tags, slices: ["", "country=*"], lower_bound: 0.80}
      - {metric: average_loss, change: {relative: 0.02}}   # may get worse by <= 2 %
      - {metric: recall, class: fish, threshold: 0.5, change: {absolute: -0.01}}

A gate selects the candidate's rows of one `metric` (its base name), of
`head` (any head when absent), of `class` and `threshold` (when absent: the
rows without one, the aggregates), on the slices matching any glob of
`slices` (default `[""]`, the overall slice). It has exactly one criterion:
`lower_bound` (value >= it), `upper_bound` (value <= it) or `change`,
compared with the baseline's value of the same row.

`change` is a bound on the signed change delta = candidate - baseline
(`absolute`) or on delta / |baseline| (`relative`), read in the metric's
better direction: for a higher-is-better metric it is the least change
allowed (`absolute: -0.01`: may drop by at most 0.01; `+0.01`: must gain
0.01), for a lower-is-better one the most (`relative: 0.02`: may rise by at
most 2 % of |baseline|; `-0.05`: must fall by 5 %). The direction of every
metric the heads report is known (`METRIC_DIRECTIONS`); a change gate on any
other metric (or one with no better direction, e.g. `prediction/mean`) needs
`direction: higher|lower`, and one without a baseline is refused.
`significant: true` (H19) needs `metrics.confidence_intervals`.

Only the standard library, like the rest of the config.
"""
import difflib
import json
import math
from dataclasses import dataclass

from pipeline.config.limits import clip, show_value
from pipeline.config.spec import (CHANGE_KEYS, DIRECTIONS, GATE_CRITERIA, GATE_KEYS, HIGHER,
                                  LOWER, REQUIRED_GATE_KEYS)
from pipeline.errors import ConfigError

OVERALL = ""  # the overall slice's string; `overall` is accepted for it too
# Which way is better for each base metric name the heads report; None: no
# better way (a mean, a count, a calibration bucket), so a change gate on it
# needs `direction:`. tests/pipeline/test_validation.py checks that every
# name a head reports is here.
METRIC_DIRECTIONS = {
    "auc": HIGHER, "auc_precision_recall": HIGHER, "accuracy": HIGHER, "precision": HIGHER,
    "recall": HIGHER, "f1": HIGHER, "r_squared": HIGHER,
    "loss": LOWER, "average_loss": LOWER, "regularization_loss": LOWER,
    "mean_absolute_error": LOWER, "root_mean_squared_error": LOWER,
    "mean_squared_error": LOWER, "mse": LOWER,
    # issue 20's derived rates and curve read-outs, and calibration error
    "specificity": HIGHER, "negative_predictive_value": HIGHER,
    "false_positive_rate": LOWER, "false_negative_rate": LOWER,
    "precision_at_recall": HIGHER, "recall_at_precision": HIGHER,
    "expected_calibration_error": LOWER,
    "accuracy_baseline": None, "label/mean": None, "prediction/mean": None,
    "probability_mean": None, "label_mean": None, "example_count": None,
    "weighted_example_count": None, "confusion_matrix": None, "calibration/weight": None,
    "calibration/prediction_mean": None, "calibration/label_mean": None,
}
LOWER_BOUND, UPPER_BOUND = "lower_bound", "upper_bound"
CHANGE_ABSOLUTE, CHANGE_RELATIVE = "change_absolute", "change_relative"
KINDS = (LOWER_BOUND, UPPER_BOUND, CHANGE_ABSOLUTE, CHANGE_RELATIVE)


def metric_direction(metric: str):
    """`higher`, `lower` or None (unknown, or no better way) for a base name."""
    return METRIC_DIRECTIONS.get(metric)


@dataclass(frozen=True)
class Gate:
    """One parsed gate. `kind` is one of KINDS and `amount` its number (the
    bound, or the change allowed); `direction` is as given (None: from
    METRIC_DIRECTIONS, see `better`)."""
    metric: str
    kind: str
    amount: float
    head: str = None
    class_name: str = None
    threshold: float = None
    slices: tuple = (OVERALL,)
    direction: str = None
    significant: bool = False

    @property
    def better(self):
        """The direction the gate compares in: given, else the metric's."""
        return self.direction or metric_direction(self.metric)

    @property
    def is_change(self) -> bool:
        return self.kind in (CHANGE_ABSOLUTE, CHANGE_RELATIVE)

    def to_dict(self) -> dict:
        """The gate in the config's form (`parse_validation` reads it back equal)."""
        out = {"metric": self.metric}
        for key, value in (("head", self.head), ("class", self.class_name),
                           ("threshold", self.threshold)):
            if value is not None:
                out[key] = value
        out["slices"] = list(self.slices)
        if self.is_change:
            out["change"] = {self.kind.split("_", 1)[1]: self.amount}
        else:
            out[self.kind] = self.amount
        if self.direction is not None:
            out["direction"] = self.direction
        if self.significant:
            out["significant"] = True
        return out

    def text(self) -> str:
        """One line for messages and validation.parquet's `gate_text`."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(", ", ": "))


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Gates:
    def __init__(self, file):
        self.file = file

    def fail(self, key, expected, got, hint=""):
        found = "nothing (the key is missing)" if got is _MISSING else show_value(got)
        raise ConfigError("%s: `%s` must be %s; got %s%s" % (
            self.file, clip(key), expected, found, " (%s)" % hint if hint else ""),
            self.file, key)

    def mapping(self, value, key, allowed, what):
        if not isinstance(value, dict):
            self.fail(key, what, value)
        for k in value:
            if k not in allowed:
                self.fail(key, "a mapping of %s (no other key)" % ", ".join(allowed), value,
                          "unknown key %s" % show_value(k))
        return {k: v for k, v in value.items() if v is not None}

    def gate(self, data, key, has_baseline, has_intervals):
        data = self.mapping(data, key, GATE_KEYS, "a mapping of %s" % ", ".join(GATE_KEYS))
        for k in REQUIRED_GATE_KEYS:
            if k not in data:
                self.fail("%s.%s" % (key, k), "given (a base metric name, e.g. auc)", _MISSING)
        metric = data["metric"]
        if not isinstance(metric, str) or not metric:
            self.fail(key + ".metric", "a base metric name (e.g. auc, average_loss)", metric)
        head = data.get("head")
        if head is not None and (not isinstance(head, str) or not head):
            self.fail(key + ".head", "a head name", head)
        cls = data.get("class")
        if cls is not None:
            if isinstance(cls, bool) or not isinstance(cls, (str, int)) or cls == "":
                self.fail(key + ".class", "a class name or id (as the report's class column)",
                          cls)
            cls = str(cls)
        threshold = data.get("threshold")
        if threshold is not None:
            if not _number(threshold) or not 0 <= threshold <= 1:
                self.fail(key + ".threshold", "a number in [0, 1]", threshold)
            threshold = float(threshold)
        slices = data.get("slices", [OVERALL])
        if not isinstance(slices, list) or not slices or \
                not all(isinstance(s, str) for s in slices):
            self.fail(key + ".slices", 'a non-empty list of slice globs ("" or "overall" is '
                      'the overall slice, "country=*" every country)', slices)
        slices = tuple(dict.fromkeys(OVERALL if s == "overall" else s for s in slices))
        given = [k for k in GATE_CRITERIA if k in data]
        if len(given) != 1:
            self.fail(key, "a gate with exactly one of %s" % ", ".join(GATE_CRITERIA),
                      {k: data[k] for k in given} if given else data,
                      "write two gates for two criteria" if given else "")
        criterion = given[0]
        if criterion == "change":
            change = self.mapping(data["change"], key + ".change", CHANGE_KEYS,
                                  "{absolute: number} or {relative: number}")
            if len(change) != 1:
                self.fail(key + ".change", "exactly one of absolute, relative", data["change"])
            (which, amount), = change.items()
            kind = "change_" + which
            if not _number(amount):
                self.fail("%s.change.%s" % (key, which), "a finite number", amount)
        else:
            kind, amount = criterion, data[criterion]
            if not _number(amount):
                self.fail("%s.%s" % (key, criterion), "a finite number", amount)
        direction = data.get("direction")
        if direction is not None and direction not in DIRECTIONS:
            self.fail(key + ".direction", "one of %s" % ", ".join(DIRECTIONS), direction)
        significant = data.get("significant", False)
        if not isinstance(significant, bool):
            self.fail(key + ".significant", "true or false", significant)
        gate = Gate(metric=metric, kind=kind, amount=float(amount), head=head, class_name=cls,
                    threshold=threshold, slices=slices, direction=direction,
                    significant=significant)
        if gate.is_change and not has_baseline:
            self.fail(key + ".change", "used with a `baseline:` model (a change is measured "
                      "against the baseline)", data["change"],
                      "or check two reports: headeval check REPORT --baseline REPORT_B")
        if gate.is_change and gate.better is None:
            known = metric in METRIC_DIRECTIONS
            close = difflib.get_close_matches(metric, list(METRIC_DIRECTIONS), n=1)
            self.fail(key + ".direction", "given for a change gate on %s (%s): higher or lower"
                      % (metric, "it has no better direction" if known else
                         "a metric the heads do not report%s, so its better direction is not "
                         "known" % (" (did you mean %s?)" % close[0] if close else "")),
                      _MISSING)
        if significant and not has_intervals:
            self.fail(key + ".significant", "false without confidence intervals (it needs "
                      "metrics.confidence_intervals)", True)
        return gate


_MISSING = object()


def parse_validation(data, file: str = "<config>", has_baseline: bool = False,
                     has_intervals: bool = False) -> tuple:
    """The `validation:` list (YAML data; None: no gates) -> a tuple of Gate.
    `has_baseline`: a baseline is there to compare with (change gates need
    one); `has_intervals`: confidence intervals are on (`significant` needs
    them). Raises ConfigError naming `validation[i].key`."""
    if data is None:
        return ()
    if not isinstance(data, list):
        _Gates(file).fail("validation", "a list of gates ({metric, ..., lower_bound | "
                          "upper_bound | change})", data)
    parser = _Gates(file)
    return tuple(parser.gate(g, "validation[%d]" % i, has_baseline, has_intervals)
                 for i, g in enumerate(data))


def config_validation(data: dict, file: str, has_baseline: bool = None) -> tuple:
    """The gates of a whole config's YAML data (what the parser calls; `headeval
    check` too, with `has_baseline` from the reports). `has_baseline` None:
    the config names a `baseline`."""
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if has_baseline is None:
        has_baseline = data.get("baseline") is not None
    return parse_validation(
        data.get("validation"), file, has_baseline=has_baseline,
        has_intervals=isinstance(metrics, dict) and metrics.get("confidence_intervals")
        not in (None, False))
