"""Evaluation config: one YAML file -> frozen, validated dataclasses.

A config says what to read (`input`), where the logits come from
(`model`), which heads to evaluate on which slices, and where the report
goes; docs/config.md documents every key for users:

    input:      {pattern, features: {name: {dtype, shape, varlen, default}}}
    model:      {logits} | {saved_model, output, signature, device, batch_size}
    baseline:   the same keys as model: the model the candidate is compared with
    transform:  {tft_output}
    heads:      [{name, type, n_classes, label, label_vocabulary, weight_column,
                  thresholds, classes_for_class_based_metrics, label_dimension,
                  loss_reduction, loss_fn, average, top_k, calibration, derived_rates,
                  precision_at_recall, recall_at_precision, threshold_at_recall}]
    head_weights, slices: [[names] | {feature(s), boundaries, where}],
    metrics: {auc: {method, buckets}, custom, fairness}, bad_examples,
    batch_size, max_slices, min_slice_size, output
    validation: [{metric, head, class, threshold, slices, lower_bound | upper_bound |
                  change: {absolute | relative}, direction, significant}]

Every check that can run before a pipeline starts runs while loading, and
loading a local config imports neither TensorFlow, Beam nor pyarrow. The
modules: `spec` (the dataclasses and the names their values take),
`limits` (memory limits, the per-slice estimate, clipping values shown in
messages), `files` (reading a file the config names, resolving its paths),
`parser` (YAML data -> Config; a head's metric options in `head_options`),
`models` (its `model` and `baseline` sections), `slices` (its `slices:`
section), `metric_options` (the `metrics:` section), `validation` (the
gates), `loading` (a file -> strict YAML -> Config),
`json_schema` (the JSON Schema of `headeval schema`, from spec's lists).
"""
from pipeline.config.files import resolve_path
from pipeline.config.limits import (DEFAULT_AUC_BUCKETS, MAX_BATCH_BYTES,
                                    MAX_CONFUSION_MATRIX_CLASSES, MAX_FEATURE_VALUES,
                                    MAX_MESSAGE_VALUE, MAX_SLICE_BYTES, MAX_SLICE_VALUE_BYTES,
                                    MAX_YAML_NODES, clip, slice_bytes)
from pipeline.config.loading import load_config, load_config_text
from pipeline.config.parser import parse_config
from pipeline.config.spec import (AUC_METHODS, BAD_EXAMPLES, BINARY, COMMON_HEAD_KEYS,
                                  DEFAULT_AUC_METHOD, DEFAULT_BAD_EXAMPLES, DEFAULT_BATCH_SIZE,
                                  DEFAULT_LOSS_REDUCTION, DEFAULT_MAX_SLICES, DEFAULT_SIGNATURE,
                                  DTYPES, EXACT, FAIL, HEAD_KEYS_BY_TYPE, HEAD_TYPES, HISTOGRAM,
                                  LOSS_REDUCTIONS, MIN_AUC_BUCKETS, MULTI_CLASS, MULTI_LABEL,
                                  REGRESSION, SKIP, AucConfig, Config, Feature, HeadConfig,
                                  InputConfig, MetricsConfig, ModelConfig, SliceSpec,
                                  TransformConfig, VocabularyRef)
from pipeline.errors import ConfigError

__all__ = [
    # the config's objects, and reading one
    "Config", "InputConfig", "Feature", "ModelConfig", "TransformConfig", "HeadConfig",
    "VocabularyRef", "MetricsConfig", "AucConfig", "SliceSpec", "ConfigError",
    "load_config", "load_config_text", "parse_config", "resolve_path",
    # the names a config's values take, and the defaults of its keys
    "DTYPES", "BINARY", "MULTI_CLASS", "MULTI_LABEL", "REGRESSION", "HEAD_TYPES",
    "COMMON_HEAD_KEYS", "HEAD_KEYS_BY_TYPE", "LOSS_REDUCTIONS", "DEFAULT_LOSS_REDUCTION",
    "HISTOGRAM", "EXACT", "AUC_METHODS", "DEFAULT_AUC_METHOD", "FAIL", "SKIP", "BAD_EXAMPLES",
    "DEFAULT_BAD_EXAMPLES", "DEFAULT_BATCH_SIZE", "DEFAULT_SIGNATURE", "MIN_AUC_BUCKETS",
    "DEFAULT_MAX_SLICES",
    # limits
    "MAX_YAML_NODES", "MAX_FEATURE_VALUES", "MAX_BATCH_BYTES", "MAX_SLICE_BYTES",
    "MAX_SLICE_VALUE_BYTES", "MAX_CONFUSION_MATRIX_CLASSES", "MAX_MESSAGE_VALUE",
    "DEFAULT_AUC_BUCKETS", "slice_bytes", "clip",
]
