"""Reading a parsed batch: its features as the heads take them.

A parsed batch is a dict {feature name: numpy array, `tf.RaggedTensor` or
`tf.SparseTensor`} (`pipeline.io.parse.Parser`). This module picks from it
the columns the config names, in the form the heads take: logits, labels
(`HeadInputs`), a subset of its rows (`take_rows`); and makes up a record
every head accepts (`made_up_record`), for tracing the heads' functions.
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from pipeline.config import Config, HeadConfig, ModelConfig, clip
from pipeline.errors import ConfigError

# One parsed feature of a batch: a numpy array (fixed length), a
# tf.RaggedTensor (var-length) or a tf.SparseTensor (made by a transform).
FeatureValue = Union[np.ndarray, tf.RaggedTensor, tf.SparseTensor]
# The logits of a batch: one array for all heads, or {head name: array}.
Logits = Union[np.ndarray, Dict[str, np.ndarray]]
# One head's labels as the heads take them.
Labels = Union[np.ndarray, tf.SparseTensor]


def as_column(values: np.ndarray) -> np.ndarray:
    """[B] or [B, 1] -> [B]; anything else is left as is."""
    if isinstance(values, np.ndarray) and values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    return values


def to_sparse(values: FeatureValue) -> Optional[tf.SparseTensor]:
    """A parsed var-length feature (RaggedTensor) as a SparseTensor; a
    SparseTensor as it is; None for anything else (a fixed-length feature)."""
    if isinstance(values, tf.RaggedTensor):
        return values.to_sparse()
    if isinstance(values, tf.SparseTensor):
        return values
    return None


def multi_hot(values: FeatureValue, n_classes: int) -> Optional[np.ndarray]:
    """Var-length integer class ids (RaggedTensor) as an int64 `[n,
    n_classes]` indicator array, built in numpy (the head's sparse path is a
    dozen eager TensorFlow ops per batch); None when some id is outside
    [0, n_classes) or the labels are not integer ids, for the head to check
    and explain."""
    if not isinstance(values, tf.RaggedTensor) or not values.dtype.is_integer or \
            values.ragged_rank != 1:
        return None
    ids = values.flat_values.numpy()
    splits = values.row_splits.numpy()
    if ids.size and (ids.min() < 0 or ids.max() >= n_classes):
        return None
    out = np.zeros((len(splits) - 1, n_classes), np.int64)
    out[np.repeat(np.arange(len(splits) - 1), np.diff(splits)), ids] = 1
    return out


def config_feature(features: dict, name: str, key: str) -> FeatureValue:
    """features[name], or a ConfigError naming the config key that asked for it
    (a feature a transform was expected to produce, say)."""
    try:
        return features[name]
    except KeyError:
        raise ConfigError("`%s` names feature %s, which the parsed (and transformed) features "
                          "lack; they are: %s" % (key, clip(repr(name)),
                                                  clip(", ".join(sorted(features)), 400)),
                          None, key) from None


def take_rows(features: dict, rows: np.ndarray) -> dict:
    """The given rows of every parsed feature (dense arrays or ragged)."""
    out = {}
    for name, value in features.items():
        if isinstance(value, tf.RaggedTensor):
            out[name] = tf.gather(value, rows)
        elif isinstance(value, tf.SparseTensor):
            # Through ragged rows: from_dense would drop values equal to 0 or "".
            out[name] = tf.gather(tf.RaggedTensor.from_sparse(value), rows).to_sparse()
        else:
            out[name] = np.asarray(value)[rows]
    return out


def take_logits(logits: Optional[Logits], rows: np.ndarray) -> Optional[Logits]:
    """The given rows of a model's logits (an array or {head name: array});
    None stays None."""
    if logits is None:
        return None
    if isinstance(logits, dict):
        return {k: v[rows] for k, v in logits.items()}
    return logits[rows]


def made_up_record(features: dict, head_cfgs: Sequence[HeadConfig]) -> bytes:
    """A serialized tf.train.Example that fits `features` ({name:
    `pipeline.config.Feature`}) and that every head of `head_cfgs`
    (`pipeline.config.HeadConfig`s) takes: its label the first vocabulary
    word (string labels) or 0, var-length features empty, the others their
    default or zeros. For tracing the heads' functions."""
    vocabularies = {h.label: h.label_vocabulary for h in head_cfgs}
    example = tf.train.Example()
    for name, f in features.items():
        size = 0 if f.varlen else f.size
        if f.dtype == "string":
            vocabulary = vocabularies.get(name)
            word = str(vocabulary[0]) if vocabulary else ""
            default = f.default if f.default is not None and name not in vocabularies else word
            values = [v.encode() for v in default] if isinstance(default, tuple) \
                else [default.encode()] * size
            example.features.feature[name].bytes_list.value.extend(values[:size])
            continue
        default = 0 if f.default is None or name in vocabularies else f.default
        values = list(default) if isinstance(default, tuple) else [default] * size
        values = values[:size]
        if f.dtype == "int64":
            example.features.feature[name].int64_list.value.extend(int(v) for v in values)
        else:
            example.features.feature[name].float_list.value.extend(float(v) for v in values)
    return example.SerializeToString()


class HeadInputs:
    """Where a config's heads find their logits and labels in a parsed batch.

    Logits come from the features that `model.logits` names (one feature for
    all heads, or {head name: feature}), unless a model produced them; labels
    from each head's `label` feature. `model` (default `config.model`) and
    `key` ("model") pick another model of the config: the baseline's logits
    come from `HeadInputs(config, config.baseline, "baseline")`, and its
    messages name `baseline.logits`.
    """

    def __init__(self, config: Config, model: Optional[ModelConfig] = None, key: str = "model"):
        self.head_cfgs = list(config.heads)
        self.key = key
        logits_cfg = (model or config.model).logits
        self.logits_features = logits_cfg if isinstance(logits_cfg, dict) else None
        self.logits_feature = None if isinstance(logits_cfg, dict) else logits_cfg

    def __call__(self, features: dict, logits: Optional[Logits] = None) -> tuple:
        """(logits, labels) in the form the head takes, from parsed features
        (and model outputs, when a model produced the logits)."""
        logits = self.logits(features, logits)
        if len(self.head_cfgs) > 1:
            labels = {h.name: self.labels(h, features) for h in self.head_cfgs}
        else:
            labels = self.labels(self.head_cfgs[0], features)
        return logits, labels

    def logits(self, features: dict, logits: Optional[Logits] = None) -> Logits:
        """The logits in the form the head takes: `logits` (a model's
        outputs), or read from the parsed features when it is None."""
        if logits is None:
            if self.logits_feature is not None:
                logits = np.asarray(config_feature(features, self.logits_feature,
                                                   self.key + ".logits"), np.float32)
                if logits.ndim == 1:
                    logits = logits[:, None]
            else:
                logits = {}
                for h in self.head_cfgs:
                    value = np.asarray(config_feature(
                        features, self.logits_features[h.name],
                        "%s.logits.%s" % (self.key, h.name)), np.float32)
                    logits[h.name] = value[:, None] if value.ndim == 1 else value
        if isinstance(logits, dict) and len(self.head_cfgs) == 1:
            logits = logits[self.head_cfgs[0].name]
        return logits

    @staticmethod
    def labels(head_cfg: HeadConfig, features: dict) -> Labels:
        """One head's labels from the parsed features: a multi-hot array or
        a SparseTensor of class ids (multi_label), else a `[B, n]` array."""
        values = config_feature(features, head_cfg.label, head_cfg.ref + ".label")
        if head_cfg.type == "multi_label":
            indicator = multi_hot(values, head_cfg.n_classes)
            if indicator is not None:
                return indicator
        sparse = to_sparse(values)
        if head_cfg.type == "multi_label":
            if sparse is not None:
                return sparse
            return np.asarray(values)
        if sparse is not None:
            raise ConfigError("%s.label %r is var-length; a %s head needs one value per "
                              "example" % (head_cfg.ref, head_cfg.label, head_cfg.type))
        values = np.asarray(values)
        if values.ndim == 1:
            values = values[:, None]
        return values

    def logits_source(self, head: Optional[str], model_logits: Optional[Logits]) -> Optional[str]:
        """The feature holding head `head`'s logits (`head` None: the one
        logits feature of all heads), or None when a model made them
        (`model_logits` given) or no single feature holds them."""
        if model_logits is not None:
            return None
        if self.logits_feature is not None:
            return self.logits_feature
        return self.logits_features[head] if head is not None else None
