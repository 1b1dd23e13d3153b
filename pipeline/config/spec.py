"""The config's data model: the names a config's values take, the defaults
of its keys, and the frozen dataclasses a parsed config is made of.

Only the standard library: every stage of the pipeline imports these
classes, and loading a config must stay quick. Lists that `heads` also
defines (AUC methods, loss reductions, the smallest AUC histogram) are
repeated here so that loading a config needs no TensorFlow;
tests/pipeline/test_config.py keeps them equal.
"""
import math
from dataclasses import dataclass, field
from typing import List, Tuple

from pipeline.runtime.devices import DEFAULT_DEVICE

DTYPES = ("float32", "int64", "string")

# The keys of each mapping of a config, and those it requires: the parser
# (pipeline.config.parser) refuses any other key, and `headeval schema`
# (pipeline.config.json_schema) builds its JSON Schema from the same lists.
TOP_LEVEL_KEYS = ("input", "model", "baseline", "transform", "heads", "head_weights", "slices",
                  "metrics", "bad_examples", "batch_size", "max_slices", "min_slice_size",
                  "output", "validation")
REQUIRED_TOP_LEVEL_KEYS = ("input", "model", "heads")
INPUT_KEYS = ("pattern", "features")  # both required
FEATURE_KEYS = ("dtype", "shape", "varlen", "default")
REQUIRED_FEATURE_KEYS = ("dtype",)
TRANSFORM_KEYS = ("tft_output",)  # required
# `model` and `baseline` (the model the candidate is compared with) take the same keys.
MODEL_KEYS = ("logits", "saved_model", "output", "signature", "device", "batch_size")
SAVED_MODEL_KEYS = ("output", "signature", "device", "batch_size")  # only with saved_model
VOCABULARY_REF_KEYS = ("file", "compute", "tft")  # label_vocabulary as a mapping: one of them
SLICE_SPEC_KEYS = ("feature", "features", "boundaries", "where")  # a slice spec as a mapping
METRICS_KEYS = ("auc", "custom", "fairness", "confidence_intervals")
AUC_KEYS = ("method", "buckets")
INTERVAL_KEYS = ("method", "replicates", "level", "seed", "example_id")
FAIRNESS_KEYS = ("rates", "thresholds")  # rates required
# The fairness view's short rate names -> the metric rows they read
# (pipeline.report.fairness); any other metric name is taken as it is.
FAIRNESS_RATES = {"fpr": "false_positive_rate", "fnr": "false_negative_rate",
                  "tpr": "recall", "tnr": "specificity", "ppv": "precision",
                  "npv": "negative_predictive_value"}
# One validation gate (pipeline.config.validation): what it selects, then
# exactly one criterion (GATE_CRITERIA), `change` taking one of CHANGE_KEYS.
GATE_KEYS = ("metric", "head", "class", "threshold", "slices", "lower_bound", "upper_bound",
             "change", "direction", "significant")
REQUIRED_GATE_KEYS = ("metric",)
GATE_CRITERIA = ("lower_bound", "upper_bound", "change")
CHANGE_KEYS = ("absolute", "relative")
HIGHER, LOWER = "higher", "lower"  # a gate's `direction`: which way is better
DIRECTIONS = (HIGHER, LOWER)

BINARY = "binary"
MULTI_CLASS = "multi_class"
MULTI_LABEL = "multi_label"
REGRESSION = "regression"
# The keys every head takes, and those each type of head takes besides them.
# Its keys are the head types (pipeline.evaluate.build maps each to a class).
COMMON_HEAD_KEYS = ("name", "type", "label", "weight_column", "loss_reduction", "loss_fn")
# The metric options (pipeline.config.head_options, heads.options).
CURVE_TARGET_KEYS = ("precision_at_recall", "recall_at_precision", "threshold_at_recall")
HEAD_KEYS_BY_TYPE = {
    BINARY: ("n_classes", "label_vocabulary", "thresholds", "derived_rates") + CURVE_TARGET_KEYS,
    MULTI_CLASS: ("n_classes", "label_vocabulary", "thresholds", "average", "top_k",
                  "calibration"),
    MULTI_LABEL: ("n_classes", "label_vocabulary", "thresholds",
                  "classes_for_class_based_metrics", "average", "derived_rates")
    + CURVE_TARGET_KEYS,
    REGRESSION: ("label_dimension",),
}
HEAD_TYPES = tuple(HEAD_KEYS_BY_TYPE)
HEAD_KEYS = tuple(dict.fromkeys(COMMON_HEAD_KEYS + sum(HEAD_KEYS_BY_TYPE.values(), ())))
REQUIRED_HEAD_KEYS = ("type", "label")
# The fewest classes of a head whose type needs `n_classes` (a 2-class
# multi_class head is a binary one).
MIN_N_CLASSES = {MULTI_CLASS: 3, MULTI_LABEL: 2}
DEFAULT_LABEL_DIMENSION = 1

# heads.losses.REDUCTIONS and heads.auc.AUC_METHODS, repeated so that loading
# a config needs no TensorFlow (a test keeps them equal).
LOSS_REDUCTIONS = ("sum_over_batch_size", "sum")
DEFAULT_LOSS_REDUCTION = LOSS_REDUCTIONS[0]
HISTOGRAM = "histogram"
EXACT = "exact"
AUC_METHODS = (HISTOGRAM, EXACT)
DEFAULT_AUC_METHOD = HISTOGRAM

FAIL = "fail"  # bad_examples: the first bad example fails the run
SKIP = "skip"  # bad_examples: bad examples are left out and listed
BAD_EXAMPLES = (FAIL, SKIP)
DEFAULT_BAD_EXAMPLES = FAIL
DEFAULT_BATCH_SIZE = 8192
DEFAULT_SIGNATURE = "serving_default"
# The coarsest AUC histogram layout has this many buckets
# (heads.buckets.num_buckets(0)); a smaller cap cannot hold it. A constant
# here so that loading a config needs no TensorFlow; a test keeps them equal.
MIN_AUC_BUCKETS = 252
# The default of `max_slices`, the most distinct slices of one slice spec: a
# limit (docs/reliability.md, "Limits"), kept with the other keys' defaults
# because `Config` needs it and the limits module builds on this one.
DEFAULT_MAX_SLICES = 10_000


@dataclass(frozen=True)
class Feature:
    """One entry of the parse spec.

    `shape` () is a scalar: one value per example, parsed to a `[batch]`
    array; `(n,)` parses to `[batch, n]`. A `varlen` feature has any number
    of values and parses to a `tf.RaggedTensor`. `default` (a scalar, or a
    tuple of `size` values) fills in for examples that lack the feature;
    without one, a fixed-length feature is required.
    """
    name: str
    dtype: str
    shape: tuple = ()
    varlen: bool = False
    default: object = None

    @property
    def size(self) -> int:
        """Values per example of a fixed-length feature."""
        return math.prod(self.shape)

    @property
    def numeric(self) -> bool:
        return self.dtype != "string"

    def holds(self, n: int) -> bool:
        """Whether it has `n` values per example in a form the heads take:
        shape [n], or a scalar when n is 1. A wider rank ([1, n]) parses to
        `[batch, 1, n]`, which no head takes beside its other inputs."""
        return not self.varlen and (self.shape == (n,) or (n == 1 and self.shape == ()))

    def describe(self) -> str:
        """'float32 [3]', 'string scalar', 'int64 var-length' (for messages)."""
        if self.varlen:
            return "%s var-length" % self.dtype
        return "%s %s" % (self.dtype, list(self.shape) if self.shape else "scalar")


def logits_check(dimension: int):
    """A check of a `model.logits` feature for heads of logits dimension
    `dimension`: f -> what it must be, or None when it fits."""
    def check(f: Feature):
        if not f.numeric or not f.holds(dimension):
            return "a numeric feature of shape [%d]%s (the heads' logits dimension)" % (
                dimension, " or []" if dimension == 1 else "")
        return None
    return check


@dataclass(frozen=True)
class SliceSpec:
    """One entry of `slices`: a slice is one combination of values of
    `features`, in their order (none: the overall slice). `boundaries`
    ((feature, (b0, b1, ...)), ...) puts a numeric feature's values in
    buckets; `where` ((feature, (value, ...)), ...) keeps only the values
    listed (an example without one is in no slice of the spec). Both in
    the order of `features`. It iterates as its features, so code that
    needs only those takes it as the tuple of names a spec used to be."""
    features: tuple = ()
    boundaries: tuple = ()
    where: tuple = ()

    def __iter__(self):
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    def boundaries_of(self, feature: str):
        """The feature's bucket boundaries, or None when it is not bucketed."""
        return dict(self.boundaries).get(feature)

    def where_of(self, feature: str):
        """The values of the feature the spec keeps, or None (all of them)."""
        return dict(self.where).get(feature)

    def to_config(self):
        """As a config writes it: a list of names, or a mapping with options."""
        if not self.boundaries and not self.where:
            return list(self.features)
        out = {"features": list(self.features)}
        if self.boundaries:
            out["boundaries"] = {f: list(b) for f, b in self.boundaries}
        if self.where:
            out["where"] = {f: list(v) for f, v in self.where}
        return out


def as_slice_spec(spec) -> SliceSpec:
    """A `SliceSpec`, from one or from a sequence of feature names."""
    return spec if isinstance(spec, SliceSpec) else SliceSpec(tuple(spec))


@dataclass(frozen=True)
class InputConfig:
    pattern: str
    features: dict  # name -> Feature, in the file's order


@dataclass(frozen=True)
class ModelConfig:
    """Where logits come from: parsed features (`logits`: a feature name,
    or {head name: feature}) or a model run on the workers (`saved_model`).
    The config's `model` (the candidate) and `baseline` are both one."""
    logits: object = None
    saved_model: str = None
    output: object = None
    signature: str = DEFAULT_SIGNATURE
    device: str = DEFAULT_DEVICE
    batch_size: int = None


@dataclass(frozen=True)
class TransformConfig:
    tft_output: str


@dataclass(frozen=True)
class VocabularyRef:
    """A label vocabulary known only at run time: computed by a tf.Transform
    analyzer pass over the input (`compute`), or the vocabulary named `tft`
    in the `transform.tft_output`."""
    compute: bool = False
    tft: str = None

    def to_dict(self) -> dict:
        return {"compute": True} if self.compute else {"tft": self.tft}


@dataclass(frozen=True)
class HeadConfig:
    """One head. `label_vocabulary` is a tuple of strings (given inline or
    read from a file) or a `VocabularyRef`."""
    name: str
    type: str
    label: str
    n_classes: int = None
    label_vocabulary: object = None
    weight_column: str = None
    thresholds: tuple = None
    classes_for_class_based_metrics: tuple = None
    label_dimension: int = None
    loss_reduction: str = DEFAULT_LOSS_REDUCTION
    loss_fn: str = None
    # Metric options (None: off): see pipeline.config.head_options.
    average: tuple = None
    top_k: tuple = None
    calibration: bool = None
    derived_rates: bool = None
    precision_at_recall: tuple = None
    recall_at_precision: tuple = None
    threshold_at_recall: tuple = None

    @property
    def ref(self) -> str:
        """How messages name the head: `heads[NAME]`, or `heads[0]` for the
        one head of a config that leaves it unnamed."""
        return "heads[%s]" % (0 if self.name is None else self.name)

    @property
    def logits_dimension(self) -> int:
        if self.type == BINARY:
            return 1
        if self.type == REGRESSION:
            return self.label_dimension
        return self.n_classes


@dataclass(frozen=True)
class AucConfig:
    method: str = DEFAULT_AUC_METHOD
    buckets: int = None


@dataclass(frozen=True)
class FairnessConfig:
    """`metrics.fairness`: the rates whose per-slice difference and ratio to
    the overall slice are reported, at `thresholds` (None: every threshold
    the rate's rows have)."""
    rates: tuple
    thresholds: tuple = None


@dataclass(frozen=True)
class IntervalsConfig:
    """metrics.confidence_intervals (pipeline/config/intervals.py)."""
    method: str
    replicates: int
    level: float
    seed: int
    example_id: str = None

    def to_dict(self) -> dict:
        return _drop_none({"method": self.method, "replicates": self.replicates,
                           "level": self.level, "seed": self.seed,
                           "example_id": self.example_id})


@dataclass(frozen=True)
class MetricsConfig:
    """`custom`: 'package.module:factory' strings (heads/custom.py);
    `confidence_intervals`: None when off."""
    auc: AucConfig = field(default_factory=AucConfig)
    custom: tuple = ()
    fairness: FairnessConfig = None
    confidence_intervals: IntervalsConfig = None  # None: off


@dataclass(frozen=True)
class Config:
    """A whole evaluation. `slices` (`SliceSpec`s) always starts with the
    overall slice; `min_slice_size`: slices with fewer examples are left
    out of the report (None: none is); `source` is the config file it came
    from (None when built from a dict)."""
    input: InputConfig
    model: ModelConfig
    heads: tuple
    baseline: ModelConfig = None  # the model `model` is compared with, if any
    transform: TransformConfig = None
    head_weights: tuple = None
    slices: tuple = (SliceSpec(),)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    bad_examples: str = DEFAULT_BAD_EXAMPLES
    batch_size: int = DEFAULT_BATCH_SIZE
    max_slices: int = DEFAULT_MAX_SLICES
    min_slice_size: int = None
    output: str = None
    source: str = None
    validation: tuple = ()  # pipeline.config.validation.Gate, in config order

    def to_dict(self) -> dict:
        """Plain data in the YAML schema (paths resolved, vocabulary files
        read), for run.json: `parse_config(config.to_dict())` gives an equal
        Config back."""
        features = {}
        for f in self.input.features.values():
            entry = {"dtype": f.dtype}
            if f.shape:
                entry["shape"] = list(f.shape)
            if f.varlen:
                entry["varlen"] = True
            if f.default is not None:
                entry["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
            features[f.name] = entry
        out = {"input": {"pattern": self.input.pattern, "features": features},
               "model": _model_dict(self.model)}
        if self.baseline is not None:
            out["baseline"] = _model_dict(self.baseline)
        if self.transform is not None:
            out["transform"] = {"tft_output": self.transform.tft_output}
        heads = []
        for h in self.heads:
            vocab = h.label_vocabulary
            heads.append(_drop_none({
                "name": h.name, "type": h.type, "label": h.label, "n_classes": h.n_classes,
                "label_vocabulary": vocab.to_dict() if isinstance(vocab, VocabularyRef)
                else _plain(vocab),
                "weight_column": h.weight_column, "thresholds": _plain(h.thresholds),
                "classes_for_class_based_metrics": _plain(h.classes_for_class_based_metrics),
                "label_dimension": h.label_dimension, "loss_reduction": h.loss_reduction,
                "loss_fn": h.loss_fn, "average": _plain(h.average), "top_k": _plain(h.top_k),
                "calibration": h.calibration, "derived_rates": h.derived_rates,
                **{k: _plain(getattr(h, k)) for k in CURVE_TARGET_KEYS}}))
        out["heads"] = heads
        if self.head_weights is not None:
            out["head_weights"] = list(self.head_weights)
        out["slices"] = [as_slice_spec(s).to_config() for s in self.slices]
        out["metrics"] = {"auc": _drop_none({"method": self.metrics.auc.method,
                                             "buckets": self.metrics.auc.buckets})}
        if self.metrics.custom:
            out["metrics"]["custom"] = list(self.metrics.custom)
        fairness = self.metrics.fairness
        if fairness is not None:
            out["metrics"]["fairness"] = _drop_none({"rates": list(fairness.rates),
                                                     "thresholds": _plain(fairness.thresholds)})
        if self.metrics.confidence_intervals is not None:
            out["metrics"]["confidence_intervals"] = self.metrics.confidence_intervals.to_dict()
        out["bad_examples"] = self.bad_examples
        out["batch_size"] = self.batch_size
        out["max_slices"] = self.max_slices
        if self.min_slice_size is not None:
            out["min_slice_size"] = self.min_slice_size
        if self.output is not None:
            out["output"] = self.output
        if self.validation:
            out["validation"] = [gate.to_dict() for gate in self.validation]
        return out

    def feature_references(self) -> List[Tuple[str, str]]:
        """[(key path, feature name)] for every feature the config names
        (the model's and the baseline's logits, labels, weights, slices):
        what must exist after parsing (and after the transform, when there
        is one)."""
        refs = []
        for key, model in (("model", self.model), ("baseline", self.baseline)):
            logits = model.logits if model is not None else None
            if isinstance(logits, str):
                refs.append((key + ".logits", logits))
            elif isinstance(logits, dict):
                refs += [("%s.logits.%s" % (key, k), v) for k, v in logits.items()]
        for i, h in enumerate(self.heads):
            refs.append(("heads[%d].label" % i, h.label))
            if h.weight_column is not None:
                refs.append(("heads[%d].weight_column" % i, h.weight_column))
        for i, spec in enumerate(self.slices):
            form = "slices[%d][%d]" if isinstance(as_slice_spec(spec).to_config(), list) \
                else "slices[%d].features[%d]"
            refs += [(form % (i, j), name) for j, name in enumerate(spec)]
        intervals = self.metrics.confidence_intervals
        if intervals is not None and intervals.example_id is not None:
            refs.append(("metrics.confidence_intervals.example_id", intervals.example_id))
        return refs


def _model_dict(model: ModelConfig) -> dict:
    """A `model` or `baseline` section as plain data (SavedModel keys only
    with a saved_model)."""
    return _drop_none({
        "logits": _plain(model.logits),
        "saved_model": model.saved_model,
        "output": _plain(model.output),
        "signature": model.signature if model.saved_model else None,
        "device": model.device if model.saved_model else None,
        "batch_size": model.batch_size})


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _drop_none(d):
    return {k: v for k, v in d.items() if v is not None}

