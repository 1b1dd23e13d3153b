"""Parse batches of serialized tf.train.Example records with the config's
feature spec.

One `tf.io.parse_example` call per batch, inside a `tf.function` traced once
per spec: several times faster than a Python loop over `Example.FromString`
(docs/performance.md has the timings). Fixed-length features come
back as numpy arrays (`[batch]` for scalars, `[batch, *shape]` otherwise,
strings as object arrays of bytes); var-length ones as `tf.RaggedTensor`.

Only when a batch fails does the parser look at single records: a record
is bad when TensorFlow rejects it on its own (so the verdict does not depend
on batching), and each bad one is explained from its decoded proto: which
feature, what was expected, what was found. TensorFlow's fast parser accepts some
bytes that are not a valid proto as an empty Example: with all features
optional (defaults or varlen) such a record parses to defaults.
"""
import functools
from typing import TYPE_CHECKING, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from pipeline.config import Feature
from pipeline.errors import (MISSING_FEATURE, NOT_AN_EXAMPLE, WRONG_TYPE_OR_LENGTH,
                             BadRecordError)

if TYPE_CHECKING:  # for the annotations only: importing it at run time would import Beam
    from pipeline.io.batches import RecordBatch

# For each dtype of the config (`config.DTYPES`, a test keeps them equal): the
# TensorFlow dtype it parses to, and the `tf.train.Feature` field of its values.
TF_DTYPES = {"float32": tf.float32, "int64": tf.int64, "string": tf.string}
LIST_FIELDS = {"float32": "float_list", "int64": "int64_list", "string": "bytes_list"}
_KIND_NAMES = {"float_list": "float", "int64_list": "int64", "bytes_list": "string"}


def tf_feature_spec(features: Mapping[str, Feature]) -> dict:
    """{name: config.Feature} -> the spec `tf.io.parse_example` takes."""
    spec = {}
    for name, f in features.items():
        dtype = TF_DTYPES[f.dtype]
        if f.varlen:
            spec[name] = tf.io.RaggedFeature(dtype)
            continue
        default = f.default
        if default is not None:
            if f.dtype == "string":
                default = [v.encode() for v in default] if isinstance(default, tuple) \
                    else default.encode()
            array = np.asarray(default, dtype=object if f.dtype == "string" else f.dtype)
            default = np.broadcast_to(array, f.shape).copy() if array.ndim == 0 and f.shape \
                else array.reshape(f.shape)
        spec[name] = tf.io.FixedLenFeature(list(f.shape), dtype, default_value=default)
    return spec


def to_numpy(parsed: Mapping[str, object]) -> dict:
    """Parsed tensors as `Parser` returns them: dense ones as numpy arrays,
    var-length ones left as `tf.RaggedTensor`."""
    return {name: value if isinstance(value, tf.RaggedTensor) else value.numpy()
            for name, value in parsed.items()}


def _preview(values, limit=5):
    values = list(values)
    # Each value clipped: one string value may be megabytes.
    shown = [v.decode("utf-8", "replace")[:100] if isinstance(v, bytes) else v
             for v in values[:limit]]
    return "%s%s" % (shown, "..." if len(values) > limit else "")


class Parser:
    """Callable `RecordBatch -> {feature name: array | tf.RaggedTensor}`.

    Pickles without its traced function (it is rebuilt on first use, i.e.
    once per worker), so it can be handed to a DoFn as is.

    Args:
      features: {name: config.Feature}, e.g. `config.input.features`.
    """

    def __init__(self, features: Mapping[str, Feature]):
        self.features = dict(features)
        self._fn = None

    def __getstate__(self):
        return {"features": self.features}

    def __setstate__(self, state):
        self.features = state["features"]
        self._fn = None

    def _parse_fn(self):
        if self._fn is None:
            spec = tf_feature_spec(self.features)
            self._fn = tf.function(lambda records: tf.io.parse_example(records, spec),
                                   input_signature=[tf.TensorSpec([None], tf.string)],
                                   autograph=False)
        return self._fn

    def _try(self, records):
        """Parsed tensors, or None when TensorFlow rejects the batch."""
        try:
            return self._parse_fn()(tf.constant(records, tf.string))
        except (tf.errors.InvalidArgumentError, UnicodeDecodeError):
            # TF formats some errors with the record's bytes and then fails to
            # decode them: both mean a record it could not parse.
            return None

    def __call__(self, batch: "RecordBatch") -> dict:
        try:
            return self.parse(batch.records, batch.path, batch.start)
        except BadRecordError as e:
            if getattr(batch, "indices", None) is None or e.index is None:
                raise
            i = e.index - batch.start  # parse() numbers records from start
            raise self.error(batch.records[i], batch.path, _index(batch, i)) from None

    def parse(self, records: Sequence[bytes], path: str = "<records>", start: int = 0) -> dict:
        """Parses a list of serialized records; raises BadRecordError naming
        the file, the record's index in it and the feature at fault."""
        parsed = self._try(records)
        if parsed is not None:
            return to_numpy(parsed)
        bad, _, _ = self._parse_around_bad(records, path, start)
        raise self.error(records[bad[0]], path, start + bad[0])

    def parse_valid(self, batch: "RecordBatch") -> Tuple[dict, np.ndarray, List[BadRecordError]]:
        """(features of the good records, their row numbers in the batch,
        BadRecordError for each bad one): for `bad_examples: skip`."""
        parsed = self._try(batch.records)
        if parsed is not None:
            return to_numpy(parsed), np.arange(len(batch.records)), []
        bad, keep, parsed = self._parse_around_bad(batch.records, batch.path, batch.start)
        rejected = [self.error(batch.records[i], batch.path, _index(batch, i)) for i in bad]
        return to_numpy(parsed), keep, rejected

    def _parse_around_bad(self, records, path, start):
        """(positions of the bad records, positions of the others, the others
        parsed) for a batch that failed.

        A record is bad when TensorFlow rejects it on its own, so the verdict
        does not depend on which batch it came in. Python decodes every
        record to find suspects (~3 µs each, on this failure path only),
        TensorFlow confirms them one by one, and bisection finds any it
        rejects that Python did not suspect.
        """
        suspects = [i for i, record in enumerate(records) if self._problem(record) is not None]
        bad = [i for i in suspects if self._try(records[i:i + 1]) is None]
        for _ in range(2):
            keep = np.setdiff1d(np.arange(len(records)), bad)
            rest = [records[i] for i in keep]
            parsed = self._try(rest)
            if parsed is not None:
                return bad, keep, parsed
            bad = sorted(bad + [int(keep[j]) for j in self._bisect(rest)])
        raise BadRecordError("records %d to %d of %s do not parse together, yet each part "
                             "does" % (start, start + len(records) - 1, path), path, start)

    def _bisect(self, records):
        """Positions of the records TensorFlow rejects, by bisection (about
        2·log2(n) parses per bad record)."""
        def search(lo, hi):
            if self._try(records[lo:hi]) is not None:
                return []
            if hi - lo == 1:
                return [lo]
            mid = (lo + hi) // 2
            return search(lo, mid) + search(mid, hi)
        return search(0, len(records)) if records else []

    def _problem(self, record):
        """(rejection kind, feature or None, reason) when the decoded record
        does not fit the spec, else None."""
        try:
            example = tf.train.Example.FromString(record)
        except DecodeError:
            return NOT_AN_EXAMPLE, None, "not a serialized tf.train.Example (%d bytes: %r)" % (
                len(record), record[:40])
        found = example.features.feature
        for name, f in self.features.items():
            if name not in found:
                if not f.varlen and f.default is None:
                    return MISSING_FEATURE, name, (
                        "feature %r is missing; it is required (%s, no default)"
                        % (name, f.describe()))
                continue
            kind = found[name].WhichOneof("kind")
            values = getattr(found[name], kind).value if kind else []
            if kind is not None and kind != LIST_FIELDS[f.dtype]:
                return WRONG_TYPE_OR_LENGTH, name, (
                    "feature %r must be %s; got %d %s value(s): %s"
                    % (name, f.describe(), len(values), _KIND_NAMES[kind], _preview(values)))
            if not f.varlen and len(values) != f.size:
                return WRONG_TYPE_OR_LENGTH, name, (
                    "feature %r must have %d value(s) (%s); got %d: %s"
                    % (name, f.size, f.describe(), len(values), _preview(values)))
        return None

    def explain(self, record: bytes) -> Tuple[str, Optional[str], str]:
        """(rejection kind, feature or None, reason) for a record TensorFlow
        rejects."""
        return self._problem(record) or (
            NOT_AN_EXAMPLE, None,
            "TensorFlow cannot parse it with the feature spec (its proto decodes)")

    def error(self, record: bytes, path: str, index: int) -> BadRecordError:
        kind, feature, reason = self.explain(record)
        return BadRecordError("bad record %d of %s: %s" % (index, path, reason),
                              path, index, feature, reason, kind)


def _index(batch, i):
    """The file position of record i of a RecordBatch (or start + i)."""
    return batch.index(i) if hasattr(batch, "index") and callable(batch.index) \
        else batch.start + int(i)


@functools.lru_cache(maxsize=16)
def _cached_parser(items):
    return Parser(dict(items))


def parse_batch(records: Union[Sequence[bytes], "RecordBatch"],
                feature_spec: Mapping[str, Feature],
                path: Optional[str] = None, start: int = 0) -> dict:
    """Parses serialized records (a list, or a RecordBatch) with
    `feature_spec` ({name: config.Feature}); one parser per spec is cached.

    Returns {name: np.ndarray | tf.RaggedTensor}. Raises BadRecordError.
    """
    parser = _cached_parser(tuple(feature_spec.items()))
    if hasattr(records, "records"):
        return parser(records)
    return parser.parse(records, "<records>" if path is None else path, start)
