"""Evaluate parsed batches: heads' loss, predictions and metric sums per slice.

No Beam here: `Evaluator` takes a dict of parsed feature arrays for one batch
and adds it to per-slice metric dicts. The Beam stage (`pipeline.evaluate.stage`)
wraps it in a DoFn. All work is whole-batch TensorFlow/numpy.
"""
import collections

import numpy as np
import tensorflow as tf

import heads
import heads.base
import heads.metrics
from pipeline.errors import (LABEL_NOT_FINITE, LABEL_NOT_IN_VOCABULARY, LABEL_OUT_OF_RANGE,
                             LOGITS_NOT_FINITE, WEIGHT_NEGATIVE, WEIGHT_NOT_FINITE,
                             ConfigError)
from pipeline.evaluate.build import build_heads, head_names

def _as_column(values):
    """[B] or [B, 1] -> [B]; anything else is left as is."""
    if isinstance(values, np.ndarray) and values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    return values


def _to_sparse(values):
    """A parsed var-length feature (RaggedTensor) as a SparseTensor."""
    if isinstance(values, tf.RaggedTensor):
        return values.to_sparse()
    if isinstance(values, tf.SparseTensor):
        return values
    return None


def _multi_hot(values, n_classes):
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


def _show(values):
    values = np.asarray(values).ravel().tolist()
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]


def _feature(features, name, key):
    """features[name], or a ConfigError naming the config key that asked for it
    (a feature a transform was expected to produce, say)."""
    try:
        return features[name]
    except KeyError:
        raise ConfigError("`%s` names feature %r, which the parsed (and transformed) features "
                          "lack; they are: %s" % (key, name, ", ".join(sorted(features))),
                          None, key) from None


def take_rows(features, rows):
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


def _distinct(column):
    """(sorted distinct values, index of each value in them) of a 1-D array;
    strings (object arrays) through a dict, 3x faster than np.unique's
    sort of Python objects."""
    if column.dtype.kind != "O":
        uniq, inverse = np.unique(column, return_inverse=True)
        return uniq, inverse.ravel()
    items = column.tolist()
    distinct = sorted(set(items))
    code = {v: i for i, v in enumerate(distinct)}
    values = np.empty(len(distinct), object)
    values[:] = distinct
    return values, np.fromiter(map(code.__getitem__, items), np.int64, len(items))


def slice_key(spec, values):
    """The report string of one slice: 'f=v,g=w' in spec order ('' overall)."""
    return ",".join("%s=%s" % (f, values[f]) for f in spec)


def slice_value_strings(values):
    """Slice values as report strings: bytes decoded, floats with %g."""
    values = np.asarray(values).ravel()
    if values.dtype.kind in "SO":
        return np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                         for v in values], dtype=object)
    if values.dtype.kind == "f":
        return np.array(["%g" % v for v in values], dtype=object)
    return values.astype(str).astype(object)


def made_up_record(features, head_cfgs):
    """A serialized tf.train.Example that fits `features` ({name:
    config.Feature}) and that every head takes: its label the first
    vocabulary word (string labels) or 0, var-length features empty, the
    others their default or zeros. For tracing the heads' functions."""
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


BatchPlan = collections.namedtuple(
    "BatchPlan", ["features", "logits", "labels", "segment_ids", "rows", "metric_dicts",
                  "batch_size"])


class Evaluator:
    """Turns parsed batches into per-slice metric dicts of one (Multi)Head.

    `heads` in the config become one `heads.MultiHead` (several heads) or
    the head itself (one head). The report strips the head-name suffix from
    metric keys, since the head has its own column.
    """

    def __init__(self, config):
        self.config = config
        self.head_cfgs = list(config.heads)
        self._vocab_bytes = {}  # head name -> label_vocabulary as UTF-8 bytes
        self.head, self.heads = build_heads(config)
        self.slices = [tuple(s) for s in config.slices]
        if () not in self.slices:
            self.slices.insert(0, ())
        # A slice spec whose features are a strict subset of another's (the
        # overall slice, always) is a union of that spec's slices, since every
        # example has one value per slice feature: its metrics are merged from
        # theirs in `finish` instead of taking every example again.
        self._computed = [s for s in self.slices if not any(set(s) < set(t) for t in self.slices)]
        self._derived = {s: min((t for t in self._computed if set(s) < set(t)), key=len)
                         for s in self.slices if s not in self._computed}
        self._slice_values = {}  # slice string -> (spec, {feature: value string})
        self._deferred = heads.base.DeferredSums()  # dense sums until `finish`
        logits_cfg = config.model.logits
        self.logits_features = logits_cfg if isinstance(logits_cfg, dict) else None
        self.logits_feature = None if isinstance(logits_cfg, dict) else logits_cfg

    def head_names(self):
        """Report names, in the order of the config ("" for one unnamed head)."""
        return head_names(self.config)

    def _labels(self, head_cfg, features):
        values = _feature(features, head_cfg.label, "heads[%s].label" % head_cfg.name)
        if head_cfg.type == "multi_label":
            multi_hot = _multi_hot(values, head_cfg.n_classes)
            if multi_hot is not None:
                return multi_hot
        sparse = _to_sparse(values)
        if head_cfg.type == "multi_label":
            if sparse is not None:
                return sparse
            return np.asarray(values)
        if sparse is not None:
            raise ConfigError("heads[%s].label %r is var-length; a %s head needs one value per "
                             "example" % (head_cfg.name, head_cfg.label, head_cfg.type))
        values = np.asarray(values)
        if values.ndim == 1:
            values = values[:, None]
        return values

    def inputs(self, features, logits=None):
        """(logits, labels) in the form the head takes, from parsed features
        (and model outputs, when a model produced the logits)."""
        if logits is None:
            if self.logits_feature is not None:
                logits = np.asarray(_feature(features, self.logits_feature, "model.logits"),
                                    np.float32)
                if logits.ndim == 1:
                    logits = logits[:, None]
            else:
                logits = {}
                for h in self.head_cfgs:
                    value = np.asarray(_feature(features, self.logits_features[h.name],
                                                "model.logits.%s" % h.name), np.float32)
                    logits[h.name] = value[:, None] if value.ndim == 1 else value
        if isinstance(logits, dict) and len(self.head_cfgs) == 1:
            logits = logits[self.head_cfgs[0].name]
        if len(self.head_cfgs) > 1:
            labels = {h.name: self._labels(h, features) for h in self.head_cfgs}
        else:
            labels = self._labels(self.head_cfgs[0], features)
        return logits, labels

    def segments(self, features, spec, batch_size, factorized=None):
        """Segment id per example and the slice string of each segment.
        `factorized`: {feature: (sorted distinct values, index per example)}
        for features whose factorization is known (`RecordBatch.factorized`)."""
        if not spec:
            return np.zeros(batch_size, np.int32), [""]
        codes, names = [], []
        for feature in spec:
            column = _feature(features, feature, "slices")
            if _to_sparse(column) is not None:
                raise ConfigError("slices: feature %r is var-length; slice on a feature with one "
                                 "value per example" % feature)
            column = _as_column(np.asarray(column))
            if column.ndim != 1:
                raise ConfigError("slices: feature %r has shape %s; slice on a feature with one "
                                 "value per example" % (feature, column.shape))
            uniq, inverse = (factorized[feature] if factorized and feature in factorized
                             else _distinct(column))
            codes.append(inverse)
            names.append(slice_value_strings(uniq))
        dims = [len(n) for n in names]
        combined = np.ravel_multi_index(codes, dims)
        uniq, segment_ids = np.unique(combined, return_inverse=True)
        parts = np.unravel_index(uniq, dims)
        keys = []
        for j in range(len(uniq)):
            values = {f: names[i][parts[i][j]] for i, f in enumerate(spec)}
            key = slice_key(spec, values)
            self._slice_values.setdefault(key, (spec, values))
            keys.append(key)
        return segment_ids.astype(np.int32).ravel(), keys

    def find_bad_rows(self, features, logits=None, inputs=None):
        """Checks every example of a batch at once; returns {row: (kind,
        feature, message)}.

        Bad: labels out of range or outside the vocabulary, NaN or infinite
        labels (regression), logits or weights, negative weights. Each bad
        row maps to (reason kind, feature or None, message); run.json counts
        rejections by kind (`label_out_of_range`, `weight_negative`, ...).
        `inputs`: `self.inputs(features, logits)`, when the caller has it.
        """
        logits_in, labels = inputs or self.inputs(features, logits)
        bad = {}

        def mark(mask, kind, feature, reason_fn):
            for row in np.flatnonzero(mask):
                bad.setdefault(int(row), (kind, feature, reason_fn(int(row))))

        for cfg in self.head_cfgs:
            head_logits = logits_in[cfg.name] if isinstance(logits_in, dict) else logits_in
            if len(self.head_cfgs) > 1 and not isinstance(logits_in, dict):
                head_logits = None  # one tensor split by MultiHead: checked as a whole below
            head_labels = labels[cfg.name] if len(self.head_cfgs) > 1 else labels
            if head_logits is not None:
                values = np.asarray(head_logits, np.float64).reshape(len(head_logits), -1)
                source = self._logits_source(cfg.name, logits)
                mark(~np.isfinite(values).all(axis=1), LOGITS_NOT_FINITE, source,
                     lambda r, v=values, c=cfg, s=source: "heads[%s] logits (%s) must be "
                     "finite; got %s" % (c.name, self._describe_source(s), v[r].tolist()))
            self._check_labels(cfg, head_labels, mark)
            weight = cfg.weight_column
            if weight is not None and weight in features:
                w = np.asarray(features[weight], np.float64).reshape(len(np.asarray(features[weight])), -1)
                mark(~np.isfinite(w).all(axis=1), WEIGHT_NOT_FINITE, weight, lambda r, w=w, n=weight:
                     "weight %r must be finite; got %s" % (n, w[r].tolist()))
                mark((w < 0).any(axis=1), WEIGHT_NEGATIVE, weight, lambda r, w=w, n=weight:
                     "weight %r must be >= 0; got %s" % (n, w[r].tolist()))
        if not isinstance(logits_in, dict):
            values = np.asarray(logits_in, np.float64).reshape(len(logits_in), -1)
            source = self._logits_source(None, logits)
            mark(~np.isfinite(values).all(axis=1), LOGITS_NOT_FINITE, source,
                 lambda r: "logits (%s) must be finite; got %s"
                 % (self._describe_source(source), values[r].tolist()))
        return bad

    def _logits_source(self, head, model_logits):
        """The feature holding a head's logits, or None when a model made them."""
        if model_logits is not None:
            return None
        if self.logits_feature is not None:
            return self.logits_feature
        return self.logits_features[head] if head is not None else None

    @staticmethod
    def _describe_source(feature):
        return "the model's output" if feature is None else "feature %r" % feature

    def _vocabulary_bytes(self, cfg):
        """cfg's label_vocabulary as an object array of UTF-8 bytes, built once."""
        if cfg.name not in self._vocab_bytes:
            self._vocab_bytes[cfg.name] = np.array(
                [str(v).encode() for v in cfg.label_vocabulary], dtype=object)
        return self._vocab_bytes[cfg.name]

    def _check_labels(self, cfg, labels, mark):
        name, feature = cfg.name, cfg.label
        vocab = cfg.label_vocabulary
        if isinstance(labels, tf.SparseTensor):
            values, rows = labels.values.numpy(), labels.indices.numpy()[:, 0]
        else:
            values = np.asarray(labels)
            rows = None
        if values.dtype.kind in "SOU":
            if vocab is None:
                bad_values = np.ones(values.shape, bool)
                why = "is a string but heads[%s] has no label_vocabulary" % name
                kind = LABEL_NOT_IN_VOCABULARY
            else:
                bad_values = ~np.isin(values, np.asarray(vocab, dtype=str)) \
                    if values.dtype.kind == "U" else \
                    ~np.isin(values.astype(object), self._vocabulary_bytes(cfg))
                why = "is not in label_vocabulary %s" % list(vocab)
                kind = LABEL_NOT_IN_VOCABULARY
        else:
            v = values.astype(np.float64)
            if cfg.type == "regression":
                bad_values, why = ~np.isfinite(v), "must be finite"
                kind = LABEL_NOT_FINITE
            else:
                upper = 1 if cfg.type in ("binary",) or (cfg.type == "multi_label" and rows is None) \
                    else cfg.n_classes - 1
                integral = cfg.type != "binary"
                bad_values = ~np.isfinite(v) | (v < 0) | (v > upper)
                if integral:
                    bad_values |= (v != np.round(v))
                why = "must be %s in [0, %d]" % ("an integer" if integral else "a number", upper)
                kind = LABEL_OUT_OF_RANGE
        if rows is None:
            per_row = bad_values.reshape(len(bad_values), -1).any(axis=1) if bad_values.ndim else bad_values
            shown = values.reshape(len(values), -1) if values.ndim else values
            mark(per_row, kind, feature, lambda r: "heads[%s].label %r %s; got %s"
                 % (name, feature, why, _show(shown[r])))
        else:
            bad_rows = np.zeros(labels.dense_shape.numpy()[0], bool)
            bad_rows[rows[bad_values]] = True
            mark(bad_rows, kind, feature, lambda r: "heads[%s].label %r %s; got %s"
                 % (name, feature, why, _show(values[rows == r])))

    def add_batch(self, features, accumulators, logits=None):
        """Adds one parsed batch to `accumulators` {slice string: metrics
        dict} — to the slices of the specs computed from examples, and with
        the dense metrics' sums held back: `finish` completes them once the
        last batch is in. It is `plan_batch`, `batch_statistics` and
        `absorb_batch` in a row. Returns the number of examples."""
        plan = self.plan_batch(features, accumulators, logits)
        self.absorb_batch(plan, self.batch_statistics(plan))
        return plan.batch_size

    def plan_batch(self, features, accumulators, logits=None, inputs=None, factorized=None):
        """The heads' inputs and the slices of one batch, with a metrics dict
        in `accumulators` for every slice it touches (created here: the
        absorbing thread only reaches them through the plan). `inputs`:
        `self.inputs(features, logits)`, when the caller has it;
        `factorized`: as `segments` takes it."""
        logits_in, labels = inputs or self.inputs(features, logits)
        first = next(iter(logits_in.values())) if isinstance(logits_in, dict) else logits_in
        batch_size = int(np.shape(first)[0])
        # Every example counts once per computed slice spec: rows repeat per
        # spec, and segments are numbered across specs, so the heads run once
        # per batch.
        metric_dicts, all_segments = [], []
        for spec in self._computed:
            segment_ids, keys = self.segments(features, spec, batch_size, factorized)
            all_segments.append(segment_ids + len(metric_dicts))
            for key in keys:
                if key not in accumulators:
                    accumulators[key] = self.head.metrics()
                metric_dicts.append(accumulators[key])
        n_specs = len(self._computed)
        rows = np.tile(np.arange(batch_size), n_specs) if n_specs > 1 else None
        return BatchPlan(features, logits_in, labels, np.concatenate(all_segments), rows,
                         metric_dicts, batch_size)

    def warm_up(self, parser):
        """Runs the heads' TensorFlow work on two made-up examples
        (`made_up_record`), so that its functions are traced before the first
        batch arrives: tracing takes ~0.2-0.3 s here, which the first batch
        would otherwise wait for. Touches no accumulator. `parser`: a
        `pipeline.io.parse.Parser` of the input's features (logits among them)."""
        record = made_up_record(parser.features, self.head_cfgs)
        self.batch_statistics(self.plan_batch(parser.parse([record, record]), {}))

    def batch_statistics(self, plan):
        """The heads' TensorFlow work for a planned batch; it touches no
        accumulator, so it may run on another thread while the thread that
        planned it absorbs the batch before."""
        return self.head.segmented_statistics(plan.features, plan.logits, plan.labels,
                                              plan.segment_ids, len(plan.metric_dicts),
                                              rows=plan.rows)

    def absorb_batch(self, plan, statistics):
        """Adds a batch's statistics to the metrics dicts it was planned for."""
        self.head.absorb_statistics(plan.metric_dicts, statistics, deferred=self._deferred)

    def finish(self, accumulators):
        """Completes `accumulators` after the last `add_batch` into them: the
        dense sums deferred since the first go into their metrics, then the
        slices of the derived specs (the overall slice among them) are added,
        each the merge of the slices of its computed spec that it contains.
        Call it once per accumulators dict. Returns `accumulators`."""
        self._deferred.apply()
        derived = {}
        for key in list(accumulators):
            spec, values = self._slice_values.get(key, (None, None))
            for target, source in self._derived.items():
                if spec != source:
                    continue
                target_key = slice_key(target, values)
                if target_key not in derived:
                    derived[target_key] = self.head.metrics()
                heads.metrics.merge_metric_dicts(derived[target_key], accumulators[key])
        for key, metrics in derived.items():
            if key in accumulators:
                raise ValueError("finish() called twice on the same accumulators (slice %r)" % key)
            accumulators[key] = metrics
        return accumulators
