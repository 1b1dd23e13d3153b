"""The config's JSON Schema (draft 2020-12), for `headeval schema`: editors
that read one (VS Code's YAML extension, JetBrains IDEs) complete keys and
underline mistakes while a config is written (docs/config-schema.md).

Built from the lists the parser checks against (pipeline.config.spec: the
keys of each mapping, the names values take, the defaults; the limits), so
the two cannot drift apart; tests/pipeline/test_config_schema.py checks the
schema against the parser on valid and invalid configs. What a schema
cannot say (a key naming a feature of `input.features`, sizes that depend
on another key, files) stays with the parser, which `headeval run` runs
first: `PARSER_ONLY` lists it, and the schema's description says so.

Null is accepted where the parser reads it as an absent key (a section
whose keys are all commented out is null in YAML). Only keywords draft-07
has too are used (`$defs` is reached by a JSON pointer), so editors that
read draft-07 alone, as VS Code's YAML extension does, give the same
verdicts (tested).
"""
from pipeline.config import head_options
from pipeline.config.limits import DEFAULT_AUC_BUCKETS, MAX_FEATURE_VALUES
from pipeline.config.intervals import (DEFAULT_INTERVAL_METHOD, DEFAULT_LEVEL,
                                       DEFAULT_REPLICATES, INTERVAL_METHODS, MAX_REPLICATES)
from pipeline.config.metric_options import CUSTOM_SPEC_PATTERN, FAIRNESS_RATE_PATTERN
from pipeline.config.spec import (AUC_KEYS, AUC_METHODS, BAD_EXAMPLES, BINARY, CHANGE_KEYS,
                                  COMMON_HEAD_KEYS, DEFAULT_AUC_METHOD, DIRECTIONS, FAIRNESS_KEYS,
                                  FAIRNESS_RATES, GATE_CRITERIA, GATE_KEYS, REQUIRED_GATE_KEYS,
                                  DEFAULT_BAD_EXAMPLES, DEFAULT_BATCH_SIZE,
                                  DEFAULT_LABEL_DIMENSION, DEFAULT_LOSS_REDUCTION,
                                  DEFAULT_MAX_SLICES, DEFAULT_SIGNATURE, DTYPES, EXACT,
                                  FEATURE_KEYS, HEAD_KEYS, HEAD_KEYS_BY_TYPE, HEAD_TYPES,
                                  INPUT_KEYS, INTERVAL_KEYS, LOSS_REDUCTIONS, METRICS_KEYS,
                                  MIN_AUC_BUCKETS,
                                  MIN_N_CLASSES, MODEL_KEYS, REQUIRED_FEATURE_KEYS,
                                  REQUIRED_HEAD_KEYS, REQUIRED_TOP_LEVEL_KEYS, SAVED_MODEL_KEYS,
                                  SLICE_SPEC_KEYS, TOP_LEVEL_KEYS, TRANSFORM_KEYS,
                                  VOCABULARY_REF_KEYS)
from pipeline.runtime.devices import DEFAULT_DEVICE, DEVICES

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Thresholds are float32 in the heads: the largest value that rounds to 0.0
# there (2**-150, a tie to even) and the smallest that rounds to 1.0
# (1 - 2**-25), both exact as JSON numbers; the parser checks the rounding.
FLOAT32_ROUNDS_TO_0 = 2.0 ** -150
FLOAT32_ROUNDS_TO_1 = 1.0 - 2.0 ** -25

# The checks of pipeline.config.parser that the schema leaves out.
PARSER_ONLY = (
    "labels, weight columns, logits and slices name a feature of input.features (or, with a "
    "transform, one of its outputs) of a fitting dtype and shape",
    "label_vocabulary has n_classes entries (2 for binary), distinct as strings; its file "
    "is readable",
    "classes_for_class_based_metrics are class ids below n_classes or label_vocabulary entries",
    "label_vocabulary {tft: NAME} needs a transform section",
    "head names are unique; model.logits and model.output (and baseline's) as mappings have "
    "one entry per head",
    "head_weights has one finite number per head",
    "a float32 feature is sliced with boundaries, which increase; a slice spec's where lists "
    "values of the feature's dtype (strings, or integers for int64), not of a bucketed one",
    "a feature's default has one value or the shape's number of values; the shape holds at "
    "most %d values" % MAX_FEATURE_VALUES,
    "relative paths stay inside the config's bucket",
    "a batch of the fixed-length features, and a slice's metric state, fit the memory limits "
    "(docs/reliability.md)",
    "integers are written without a fraction (3, not 3.0); keys are strings (quote names "
    "YAML reads as booleans or numbers)",
    "a validation gate's change needs a baseline, and a direction for a metric whose better "
    "direction is not known; significant: true needs confidence intervals",
)


def _nullable(schema):
    """`schema`, or null: the parser reads a null value as an absent key.
    The description goes on the outside, where editors look for it."""
    inner = {k: v for k, v in schema.items() if k != "description"}
    out = {"anyOf": [inner, {"type": "null"}]}
    if "description" in schema:
        out["description"] = schema["description"]
    return out


def _object(keys, properties, required=(), description=None):
    """A mapping that takes exactly `keys` (the parser's list, in its order):
    a key without a schema, or a schema for no key, fails here."""
    if set(properties) != set(keys):
        raise AssertionError("the schema's keys %s are not the parser's %s"
                             % (sorted(properties), sorted(keys)))
    out = {"type": "object", "properties": {k: properties[k] for k in keys},
           "additionalProperties": False}
    if required:
        out["required"] = list(required)
    if description:
        out["description"] = description
    return out


_STRINGS = {
    "path": {"type": "string", "minLength": 1,
             "description": "a path relative to the config's folder, absolute, or a URI "
                            "(gs://...)"},
    "feature_name": {"type": "string", "minLength": 1,
                     "description": "a feature of input.features"},
}


def _ref(name, description):
    """A copy of the definition with the key's own description, not a $ref
    beside one: draft-07 readers (VS Code's YAML extension) ignore keywords
    next to a $ref."""
    return dict(_STRINGS[name], description=description)


def _integer(minimum, description, default=None):
    out = {"type": "integer", "minimum": minimum, "description": description}
    if default is not None:
        out["default"] = default
    return out


def _enum(values, default, description):
    return {"enum": list(values), "default": default, "description": description}


def _feature():
    json_type = {"float32": "number", "int64": "integer", "string": "string"}
    scalar = {"type": ["number", "string"]}
    by_dtype = [{"if": {"properties": {"dtype": {"const": dtype}}, "required": ["dtype"]},
                 "then": {"properties": {"default": {"anyOf": [
                     {"type": json_type[dtype]},
                     {"type": "array", "items": {"type": json_type[dtype]}},
                     {"type": "null"}]}}}}
                for dtype in DTYPES]
    varlen = {"if": {"properties": {"varlen": {"const": True}}, "required": ["varlen"]},
              "then": {"properties": {"shape": {"maxItems": 0}, "default": {"type": "null"}}}}
    out = _object(FEATURE_KEYS, {
        "dtype": {"enum": list(DTYPES), "description": "the feature's type"},
        "shape": {"type": "array", "default": [],
                  "items": {"type": "integer", "minimum": 1, "maximum": MAX_FEATURE_VALUES},
                  "description": "fixed length: parsed to [batch, *shape]; [] (the default) "
                                 "is a scalar, one value per example parsed to [batch]"},
        "varlen": {"type": "boolean", "default": False,
                   "description": "any number of values; parsed to a tf.RaggedTensor (no "
                                  "shape, no default)"},
        "default": _nullable({"anyOf": [scalar, {"type": "array", "items": scalar}]})
        | {"description": "used when an example lacks the feature (one value, or a list of "
                          "the shape's size); without one the feature is required"},
    }, REQUIRED_FEATURE_KEYS, "one entry of the parse spec")
    out["allOf"] = by_dtype + [varlen]
    return out


def _vocabulary():
    word = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]}
    refs = {
        "file": _ref("path", "a text file with one entry per line"),
        "compute": {"const": True, "description": "computed from the data (frequency order) "
                                                  "by a tf.Transform analyzer pass"},
        "tft": {"type": "string", "minLength": 1,
                "description": "the vocabulary of this name in transform.tft_output"},
    }
    return _nullable({"anyOf": [{"type": "array", "items": word, "uniqueItems": True}]
                      + [_object((k,), {k: refs[k]}, (k,)) for k in VOCABULARY_REF_KEYS]}) | {
        "description": "string labels -> class ids: a list, {file: path}, {compute: true} "
                       "or {tft: NAME}"}


def _head():
    props = {
        "name": _nullable({"type": "string", "minLength": 1, "pattern": "^[^/]*$"}) | {
            "description": "the report's `head` column; required with several heads; no '/'"},
        "type": {"enum": list(HEAD_TYPES), "description": "the kind of head"},
        "label": _ref("feature_name", "the feature holding the labels"),
        "weight_column": _nullable({"$ref": "#/$defs/feature_name"}) | {
            "description": "a numeric feature, one value per example: the example weights"},
        "loss_reduction": _enum(LOSS_REDUCTIONS, DEFAULT_LOSS_REDUCTION,
                                "how the loss is reduced over a batch"),
        "loss_fn": _nullable({"type": "string", "pattern": "^[^: ]+:[^ ]+$"}) | {
            "description": "'package.module:function', called (labels, logits[, features]) "
                           "-> unreduced loss"},
        "n_classes": _nullable({"type": "integer", "minimum": min(MIN_N_CLASSES.values())}) | {
            "description": "required for %s; binary: 2 or absent" % ", ".join(
                "%s (>= %d)" % kv for kv in MIN_N_CLASSES.items())},
        "label_vocabulary": _vocabulary(),
        "classes_for_class_based_metrics": _nullable({"type": "array", "items": {"anyOf": [
            {"type": "integer", "minimum": 0}, {"type": "string", "minLength": 1}]}}) | {
            "description": "class ids or label_vocabulary entries"},
        "label_dimension": _integer(1, "values per label", DEFAULT_LABEL_DIMENSION),
        # thresholds and the other metric options
        **head_options.schema_properties(FLOAT32_ROUNDS_TO_0, FLOAT32_ROUNDS_TO_1),
    }
    out = _object(HEAD_KEYS, props, REQUIRED_HEAD_KEYS,
                  "one head: the kind of model output it evaluates")
    rules = []
    for kind in HEAD_TYPES:
        then = {k: False for k in HEAD_KEYS
                if k not in COMMON_HEAD_KEYS and k not in HEAD_KEYS_BY_TYPE[kind]}
        if kind == BINARY:
            then["n_classes"] = {"enum": [2, None]}
        rule = {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
                "then": {"properties": then}}
        if kind in MIN_N_CLASSES:
            then["n_classes"] = {"type": "integer", "minimum": MIN_N_CLASSES[kind]}
            rule["then"]["required"] = ["n_classes"]
        rules.append(rule)
    out["allOf"] = rules
    return out


def _model(description="where the logits come from"):
    logits = {"anyOf": [{"$ref": "#/$defs/feature_name"},
                        {"type": "object", "additionalProperties": {
                            "$ref": "#/$defs/feature_name"}}]}
    string, devices = {"type": "string", "minLength": 1}, {"enum": list(DEVICES)}
    output = {"anyOf": [string, {"type": "object", "additionalProperties": string}]}
    props = {
        "logits": _nullable(logits) | {"description": "logits read from the records: a "
                                                      "feature name or {head name: feature}"},
        "saved_model": _nullable({"$ref": "#/$defs/path"}) | {
            "description": "a SavedModel folder or .keras file run on the workers"},
        "output": _nullable(output) | {"description": "the model output holding the logits "
                                                      "(or {head name: output}); default: "
                                                      "the only output"},
        # null (absent) passes with `logits` only: the `else` below refuses it
        "signature": _nullable(string) | {"default": DEFAULT_SIGNATURE,
                                          "description": "the SavedModel signature"},
        "device": _nullable(devices) | {"default": DEFAULT_DEVICE,
                                        "description": "where the model runs"},
        "batch_size": _nullable({"type": "integer", "minimum": 1}) | {
            "description": "examples per model call (default: the record batch)"},
    }
    given = {"not": {"type": "null"}}
    out = _object(MODEL_KEYS, props, description=description + ": exactly one of `logits` (a "
                  "parsed feature) or `saved_model`")
    out["if"] = {"properties": {"logits": given}, "required": ["logits"]}
    out["then"] = {"properties": {k: {"type": "null"} for k in ("saved_model",)
                                  + SAVED_MODEL_KEYS}}
    out["else"] = {"properties": {"saved_model": given, "signature": string,
                                  "device": devices}, "required": ["saved_model"]}
    return out


def _slice_spec():
    names = {"type": "array", "uniqueItems": True, "items": {"$ref": "#/$defs/feature_name"}}
    numbers = {"type": "array", "minItems": 1, "items": {"type": "number"}}
    mapping = _object(SLICE_SPEC_KEYS, {
        "feature": _ref("feature_name", "the one feature whose values (or buckets) are the "
                                        "slices"),
        "features": names | {"minItems": 1, "description": "the features whose combinations "
                                                           "of values are the slices"},
        "boundaries": _nullable({"anyOf": [numbers, {"type": "object",
                                                     "additionalProperties": numbers}]}) | {
            "description": "bucket boundaries (increasing) of a numeric feature, or "
                           "{feature: boundaries} with `features`: slices [-inf..b0), "
                           "[b0..b1), ..., [bn..inf] and nan"},
        "where": _nullable({"type": "object", "additionalProperties": {
            "type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}}}) | {
            "description": "{feature: [values]}: only these values make slices"},
    }, description="a slice spec with options")
    mapping["oneOf"] = [{"required": ["feature"]}, {"required": ["features"]}]
    return {"anyOf": [names, mapping],
            "description": "a list of feature names ([] is the overall slice; a var-length "
                           "feature gives a slice per value), or a mapping with bucket "
                           "boundaries or a value filter"}


def _metrics():
    auc = _object(AUC_KEYS, {
        "method": _enum(AUC_METHODS, DEFAULT_AUC_METHOD, "histogram: a fixed-size state; "
                        "exact: every distinct score"),
        "buckets": _nullable({"type": "integer", "minimum": MIN_AUC_BUCKETS}) | {
            "default": DEFAULT_AUC_BUCKETS,
            "description": "histogram only: the most occupied buckets of the AUC histogram"},
    }, description="how AUC is computed")
    auc["if"] = {"properties": {"method": {"const": EXACT}}, "required": ["method"]}
    auc["then"] = {"properties": {"buckets": {"type": "null"}}}
    custom = {"type": "array", "uniqueItems": True, "items": {
        "type": "string", "pattern": CUSTOM_SPEC_PATTERN},
        "description": "custom metrics: 'package.module:factory' (heads/custom.py's interface)"}
    fairness = _object(FAIRNESS_KEYS, {
        "rates": {"type": "array", "minItems": 1, "uniqueItems": True,
                  "items": {"type": "string", "pattern": FAIRNESS_RATE_PATTERN},
                  "description": "rates (%s) or metric names whose per-slice difference "
                                 "and ratio to the overall slice are reported"
                                 % ", ".join(FAIRNESS_RATES)},
        "thresholds": _nullable({"type": "array", "items": {
            "type": "number", "exclusiveMinimum": FLOAT32_ROUNDS_TO_0,
            "exclusiveMaximum": FLOAT32_ROUNDS_TO_1}}) | {
            "description": "the thresholds to compare at (default: every one the rows have)"},
    }, required=("rates",), description="the fairness view")
    intervals = _object(INTERVAL_KEYS, {
        "method": _enum(INTERVAL_METHODS, DEFAULT_INTERVAL_METHOD,
                        "jackknife: one replicate group per replicate, each left out once; "
                        "poisson_bootstrap: 5 groups per replicate, weighed Poisson(1)"),
        "replicates": _integer(2, "replicates (jackknife: groups)", DEFAULT_REPLICATES) | {
            "maximum": MAX_REPLICATES},
        "level": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                  "default": DEFAULT_LEVEL, "description": "the intervals' confidence level"},
        "seed": _integer(0, "which records share a replicate group", 0) | {
            "maximum": (1 << 64) - 1},
        "example_id": _nullable(_ref("feature_name", "an int64 or string feature naming each "
                                     "example (default: file name and position)")),
    }, description="lower, upper and stderr for every metric but the counts (off when absent)")
    return _object(METRICS_KEYS, {"auc": _nullable(auc), "custom": _nullable(custom),
                                  "fairness": _nullable(fairness),
                                  "confidence_intervals": _nullable(intervals)})


def _gate():
    number = {"type": "number"}
    change = _object(CHANGE_KEYS, {
        "absolute": _nullable(number) | {"description": "the change candidate - baseline "
                                         "allowed: the least for a higher-is-better metric, "
                                         "the most for a lower-is-better one"},
        "relative": _nullable(number) | {"description": "the same, as a fraction of "
                                         "|baseline| (0.02: 2 %)"},
    }, description="compared with the baseline: exactly one of absolute, relative")
    # (in allOf: rules that only narrow keys described already)
    change["allOf"] = [{"oneOf": [{"properties": {k: number}, "required": [k]}
                                  for k in CHANGE_KEYS]}]
    out = _object(GATE_KEYS, {
        "metric": {"type": "string", "minLength": 1,
                   "description": "the base metric name (the report's metric column)"},
        "head": _nullable({"type": "string", "minLength": 1}) | {
            "description": "the head (default: every head)"},
        "class": _nullable({"anyOf": [{"type": "string", "minLength": 1},
                                      {"type": "integer"}]}) | {
            "description": "the class (default: the rows without a class)"},
        "threshold": _nullable({"type": "number", "minimum": 0, "maximum": 1}) | {
            "description": "the threshold (default: the rows without a threshold)"},
        "slices": _nullable({"type": "array", "minItems": 1, "items": {"type": "string"}}) | {
            "default": [""], "description": "slice globs; \"\" (or \"overall\") is the "
                                           "overall slice, \"country=*\" every country"},
        "lower_bound": _nullable(number) | {"description": "passes when value >= it"},
        "upper_bound": _nullable(number) | {"description": "passes when value <= it"},
        "change": _nullable(change) | {"description": "a bound on the change against the "
                                                      "baseline"},
        "direction": _nullable({"enum": list(DIRECTIONS)}) | {
            "description": "which way is better (known for the heads' metrics)"},
        "significant": _nullable({"type": "boolean"}) | {
            "description": "fail only when significant (needs confidence intervals)"},
    }, REQUIRED_GATE_KEYS, "one validation gate: every row it selects must pass")
    out["allOf"] = [{"oneOf": [{"properties": {k: {"not": {"type": "null"}}}, "required": [k]}
                               for k in GATE_CRITERIA]}]
    return out


def config_schema() -> dict:
    """The JSON Schema of a config file, as plain data."""
    top = {
        "input": _object(INPUT_KEYS, {
            "pattern": _ref("path", "TFRecord files of tf.train.Example (a glob; gzip when "
                                    "the name ends .gz/.gzip)"),
            "features": {"type": "object", "minProperties": 1,
                         "propertyNames": {"minLength": 1},
                         "additionalProperties": {"$ref": "#/$defs/feature"},
                         "description": "the parse spec: feature name -> {dtype, shape, "
                                        "varlen, default}"},
        }, INPUT_KEYS, "what to read"),
        "model": _model(),
        "baseline": _nullable(_model("the model the candidate (`model`) is compared with, "
                                     "evaluated on the same batches; same keys as `model`")),
        "transform": _nullable(_object(TRANSFORM_KEYS, {"tft_output": _ref(
            "path", "the tf.Transform output folder")}, TRANSFORM_KEYS))
        | {"description": "apply a tf.Transform graph to the raw features first"},
        "heads": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/head"},
                  "if": {"minItems": 2},
                  "then": {"items": {"required": ["name"],
                                     "properties": {"name": {"type": "string"}}}},
                  "description": "the heads to evaluate (a MultiHead when several)"},
        "head_weights": _nullable({"type": "array", "items": {"type": "number",
                                                             "minimum": 0}}) | {
            "description": "MultiHead weights, one per head"},
        "slices": _nullable({"type": "array", "uniqueItems": True,
                             "items": {"$ref": "#/$defs/slice_spec"}}) | {
            "default": [[]],
            "description": "slice specs: lists of feature names or {feature or features, "
                           "boundaries, where}; [] is the overall slice, always present"},
        "metrics": _nullable(_metrics()) | {"description": "metric options"},
        "bad_examples": _enum(BAD_EXAMPLES, DEFAULT_BAD_EXAMPLES, "fail: the first bad example "
                              "fails the run; skip: bad examples go to rejected/, counted"),
        "batch_size": _integer(1, "records per batch", DEFAULT_BATCH_SIZE),
        "max_slices": _integer(1, "the most distinct slices one slice spec may yield",
                               DEFAULT_MAX_SLICES),
        "min_slice_size": _nullable(_integer(1, "slices of fewer examples are left out of the "
                                                "report (counted in run.json); the overall "
                                                "slice always stays")),
        "output": _nullable({"$ref": "#/$defs/path"}) | {
            "description": "the report folder (else `headeval run --output` is required)"},
        "validation": _nullable({"type": "array", "items": {"$ref": "#/$defs/gate"}}) | {
            "description": "gates a release must pass: exit code 3 and NOT_BLESSED when "
                           "one fails"},
    }
    schema = {"$schema": DRAFT, "title": "headeval evaluation config",
              "description": "A headeval config (YAML): what to read, where the logits come "
                             "from, the heads, slices and report folder. Relative paths resolve "
                             "against the config's folder. `headeval run` checks more than "
                             "this schema can: " + "; ".join(PARSER_ONLY) + "."}
    schema.update(_object(TOP_LEVEL_KEYS, top, REQUIRED_TOP_LEVEL_KEYS))
    schema["$defs"] = dict(_STRINGS) | {
        "feature": _feature(),
        "head": _head(),
        "gate": _gate(),
        "slice_spec": _slice_spec(),
    }
    return schema
