"""The checks that reject examples the heads cannot take.

`RowChecks.find_bad_rows` checks every example of a parsed batch at once, in
numpy: labels out of range or outside the vocabulary, NaN or infinite labels
(regression), logits (the candidate's or the baseline's) or weights,
negative weights. Each bad row gets the kind of its rejection (the constants
of `pipeline.errors`, which run.json counts), the feature at fault and a
message; Python runs per bad row only.
"""
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from pipeline.config import BINARY, MULTI_LABEL, REGRESSION, HeadConfig, clip
from pipeline.errors import (LABEL_NOT_FINITE, LABEL_NOT_IN_VOCABULARY, LABEL_OUT_OF_RANGE,
                             LOGITS_NOT_FINITE, WEIGHT_NEGATIVE, WEIGHT_NOT_FINITE)
from pipeline.evaluate.features import HeadInputs, Labels, Logits


def _show(values, limit=10):
    """At most `limit` values of a row, each clipped, for a message."""
    values = np.asarray(values).ravel()
    shown = [clip(v.decode("utf-8", "replace")) if isinstance(v, bytes)
             else clip(v) if isinstance(v, str) else v for v in values[:limit].tolist()]
    return clip(str(shown) + (" ... (%d values)" % len(values) if len(values) > limit else ""),
                400)


def _describe_source(feature, what=""):
    if feature is None:
        return "the %smodel's output" % what
    return "feature %r" % feature


class RowChecks:
    """The row checks of a config's heads, which find their logits and
    labels through `head_inputs` (a `pipeline.evaluate.features.HeadInputs`),
    and the baseline's logits through `baseline_inputs` (None: no baseline).
    A row is bad when either model's logits are: it is left out of both, so
    the two are compared on the same examples."""

    def __init__(self, head_inputs: HeadInputs, baseline_inputs: Optional[HeadInputs] = None):
        self.head_inputs = head_inputs
        self.baseline_inputs = baseline_inputs
        self.head_cfgs = head_inputs.head_cfgs
        self._vocab_bytes = {}  # head name -> label_vocabulary as UTF-8 bytes

    def find_bad_rows(self, features: dict, inputs: tuple,
                      model_logits: Optional[Logits] = None,
                      baseline_logits: Optional[Logits] = None,
                      baseline_model_logits: Optional[Logits] = None) -> dict:
        """Checks every example of a batch at once; returns {row: (kind,
        feature, message)}.

        Bad: labels out of range or outside the vocabulary, NaN or infinite
        labels (regression), logits (the candidate's or the baseline's) or
        weights, negative weights. Each bad row maps to (reason kind,
        feature or None, message); run.json counts rejections by kind
        (`label_out_of_range`, `weight_negative`, ...); a row bad in several
        ways gets the first found, the baseline's logits last.
        `inputs`: `head_inputs(features, model_logits)`; `model_logits`: the
        model's outputs, None when the logits are parsed features;
        `baseline_logits`: `baseline_inputs.logits(features,
        baseline_model_logits)`, with a baseline.
        """
        logits_in, labels = inputs
        bad = {}

        def mark(mask, kind, feature, reason_fn):
            for row in np.flatnonzero(mask):
                bad.setdefault(int(row), (kind, feature, reason_fn(int(row))))

        for cfg in self.head_cfgs:
            self._check_logits(self.head_inputs, logits_in, model_logits, mark, cfg)
            head_labels = labels[cfg.name] if len(self.head_cfgs) > 1 else labels
            self.check_labels(cfg, head_labels, mark)
            weight = cfg.weight_column
            if weight is not None and weight in features:
                w = np.asarray(features[weight], np.float64).reshape(
                    len(np.asarray(features[weight])), -1)
                mark(~np.isfinite(w).all(axis=1), WEIGHT_NOT_FINITE, weight,
                     lambda r, w=w, n=weight: "weight %r must be finite; got %s"
                     % (n, _show(w[r])))
                mark((w < 0).any(axis=1), WEIGHT_NEGATIVE, weight, lambda r, w=w, n=weight:
                     "weight %r must be >= 0; got %s" % (n, _show(w[r])))
        self._check_logits(self.head_inputs, logits_in, model_logits, mark)
        if self.baseline_inputs is not None:
            for cfg in self.head_cfgs:
                self._check_logits(self.baseline_inputs, baseline_logits,
                                   baseline_model_logits, mark, cfg, "baseline ")
            self._check_logits(self.baseline_inputs, baseline_logits, baseline_model_logits,
                               mark, what="baseline ")
        return bad

    def _check_logits(self, head_inputs, logits_in, model_logits, mark, cfg=None, what=""):
        """Marks the rows with a NaN or infinite logit: of head `cfg` when
        the logits are one array per head, or of the one array of all heads
        (`cfg` None). `what`: "baseline " for the baseline's."""
        if cfg is None:
            if isinstance(logits_in, dict):
                return  # checked per head
            values = np.asarray(logits_in, np.float64).reshape(len(logits_in), -1)
            source = head_inputs.logits_source(None, model_logits)
            mark(~np.isfinite(values).all(axis=1), LOGITS_NOT_FINITE, source,
                 lambda r: "%slogits (%s) must be finite; got %s"
                 % (what, _describe_source(source, what), _show(values[r])))
            return
        head_logits = logits_in[cfg.name] if isinstance(logits_in, dict) else logits_in
        if len(self.head_cfgs) > 1 and not isinstance(logits_in, dict):
            return  # one tensor split by MultiHead: checked as a whole
        values = np.asarray(head_logits, np.float64).reshape(len(head_logits), -1)
        source = head_inputs.logits_source(cfg.name, model_logits)
        mark(~np.isfinite(values).all(axis=1), LOGITS_NOT_FINITE, source,
             lambda r: "%s %slogits (%s) must be finite; got %s"
             % (cfg.ref, what, _describe_source(source, what), _show(values[r])))

    def _vocabulary_bytes(self, cfg):
        """cfg's label_vocabulary as an object array of UTF-8 bytes, built once."""
        if cfg.name not in self._vocab_bytes:
            self._vocab_bytes[cfg.name] = np.array(
                [str(v).encode() for v in cfg.label_vocabulary], dtype=object)
        return self._vocab_bytes[cfg.name]

    def check_labels(self, cfg: HeadConfig, labels: Labels, mark: Callable) -> None:
        """Marks the rows whose labels head `cfg` cannot take: `labels` as
        `HeadInputs.labels` gives them; `mark(mask per row, kind, feature,
        message of a row)`."""
        name, feature = cfg.ref, cfg.label
        vocab = cfg.label_vocabulary
        if isinstance(labels, tf.SparseTensor):
            values, rows = labels.values.numpy(), labels.indices.numpy()[:, 0]
        else:
            values = np.asarray(labels)
            rows = None
        if values.dtype.kind in "SOU":
            if vocab is None:
                bad_values = np.ones(values.shape, bool)
                why = "is a string but %s has no label_vocabulary" % name
                kind = LABEL_NOT_IN_VOCABULARY
            else:
                bad_values = ~np.isin(values, np.asarray(vocab, dtype=str)) \
                    if values.dtype.kind == "U" else \
                    ~np.isin(values.astype(object), self._vocabulary_bytes(cfg))
                why = "is not in label_vocabulary %s" % _show(list(vocab))
                kind = LABEL_NOT_IN_VOCABULARY
        else:
            v = values.astype(np.float64)
            if cfg.type == REGRESSION:
                bad_values, why = ~np.isfinite(v), "must be finite"
                kind = LABEL_NOT_FINITE
            else:
                upper = 1 if cfg.type == BINARY or (cfg.type == MULTI_LABEL and rows is None) \
                    else cfg.n_classes - 1
                integral = cfg.type != BINARY
                bad_values = ~np.isfinite(v) | (v < 0) | (v > upper)
                if integral:
                    bad_values |= (v != np.round(v))
                why = "must be %s in [0, %d]" % ("an integer" if integral else "a number", upper)
                kind = LABEL_OUT_OF_RANGE
        if rows is None:
            per_row = bad_values.reshape(len(bad_values), -1).any(axis=1) if bad_values.ndim \
                else bad_values
            shown = values.reshape(len(values), -1) if values.ndim else values
            mark(per_row, kind, feature, lambda r: "%s.label %r %s; got %s"
                 % (name, feature, why, _show(shown[r])))
        else:
            bad_rows = np.zeros(labels.dense_shape.numpy()[0], bool)
            bad_rows[rows[bad_values]] = True
            mark(bad_rows, kind, feature, lambda r: "%s.label %r %s; got %s"
                 % (name, feature, why, _show(values[rows == r])))
