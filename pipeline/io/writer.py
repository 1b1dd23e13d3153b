"""Write columns of numpy arrays as TFRecord files of `tf.train.Example`s.

Used by the tests, the demo data script and the benchmarks to make input
files, so it must be quick at a million examples. Building one
`tf.train.Example` proto per example in Python is slow; here the protos of
a whole batch are built by TensorFlow's `tf.io.encode_proto` kernel, one
nested message level at a time (FloatList -> Feature -> Features.FeatureEntry
-> Features -> Example), so the only per-example Python left is the
`TFRecordWriter.write` call (docs/performance.md has the timings).

Columns (every column has one entry per example):

* a 1-D array (or a list of scalars): one value per example;
* a 2-D array `[n, k]`: a fixed-length vector of `k` values per example;
* a list of lists / tuples / 1-D arrays: a var-length feature; an entry
  `None` leaves the feature out of that example (an empty list writes the
  feature with no values);
* a `tf.RaggedTensor` `[n, None]`: a var-length feature, without a Python
  loop over the examples (the fast way for millions of rows).

The value type picks the list: floats -> `float_list` (float32), integers
and bools -> `int64_list`, `str` / `bytes` -> `bytes_list` (str as UTF-8).
`dtypes={name: "float32" | "int64" | "string"}` forces one (needed only for a
var-length column whose entries are all empty).

    write_examples("eval.tfrecord.gz", {
        "logits": np.zeros((3, 4), np.float32),   # float_list of 4 values
        "tags": [[0, 2], [], [1]],                # int64_list, var-length
        "country": np.array(["US", "FR", "US"]),  # bytes_list of 1 value
        "weight": np.ones(3),                     # float_list of 1 value
    })
"""
import itertools
import os
from typing import Dict, Mapping, Optional, Union

import numpy as np
import tensorflow as tf

from pipeline.config import DTYPES
from pipeline.io.parse import LIST_FIELDS, TF_DTYPES
from pipeline.io.paths import is_gzip, is_local, local_path

BATCH_SIZE = 1 << 16

# The proto message of each dtype's value list (LIST_FIELDS names its field).
_LIST_TYPE = {"float32": "tensorflow.FloatList", "int64": "tensorflow.Int64List",
              "string": "tensorflow.BytesList"}


def _kind(dtype, name):
    """numpy dtype -> 'float32' | 'int64' | 'string'."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return "float32"
    if dtype.kind in "iub":
        return "int64"
    if dtype.kind in "USO":
        return "string"
    raise ValueError("column %r must hold floats, integers or strings; got dtype %s"
                     % (name, dtype))


def _to_strings(values, name):
    """A 1-D array of bytes objects (str encoded as UTF-8)."""
    values = np.asarray(values)
    if values.dtype.kind == "S":
        return values.astype(object)
    if values.dtype.kind == "U":
        return np.char.encode(values, "utf-8").astype(object)
    out = np.empty(values.shape, object)
    for i, v in enumerate(values.ravel()):
        if isinstance(v, str):
            out.flat[i] = v.encode("utf-8")
        elif isinstance(v, bytes):
            out.flat[i] = v
        else:
            raise ValueError("column %r must hold only str or bytes values; got %r (%s)"
                             % (name, v, type(v).__name__))
    return out


def _cast(values, kind, name):
    if kind == "float32":
        return np.asarray(values, np.float32)
    if kind == "int64":
        values = np.asarray(values)
        if values.dtype.kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
            raise ValueError("column %r has integers above the int64 range" % name)
        return values.astype(np.int64)
    return _to_strings(values, name)


class _Column:
    """One column, normalised: `values` is [n, width] (padded for var-length
    columns), `sizes` [n] the number of values of each example, `present` [n]
    whether the example has the feature at all."""

    def __init__(self, name, data, dtype=None):
        self.name = name
        if isinstance(data, np.ndarray) and data.dtype != object:
            if data.ndim not in (1, 2):
                raise ValueError("column %r must be 1-D (one value per example) or 2-D "
                                 "(a vector per example); got shape %s" % (name, data.shape))
            self.kind = dtype or _kind(data.dtype, name)
            values = _cast(data, self.kind, name)
            self.values = values if values.ndim == 2 else values[:, None]
            self.n = len(values)
            self.sizes = None  # all rows full
            self.present = None  # all present
            return
        if isinstance(data, tf.RaggedTensor):
            if data.ragged_rank != 1 or data.flat_values.shape.rank != 1:
                raise ValueError("column %r: a RaggedTensor column must have shape [n, None]; "
                                 "got %s" % (name, data.shape))
            flat = data.flat_values.numpy()
            sizes = data.row_lengths().numpy().astype(np.int64)
            if flat.dtype == object:
                flat = _to_strings(flat, name)
            self.kind = dtype or _kind(flat.dtype, name)
            self._set_ragged(_cast(flat, self.kind, name), sizes, None)
            return
        data = list(data)
        self.n = len(data)
        ragged = any(isinstance(v, (list, tuple, np.ndarray)) or v is None for v in data)
        if not ragged:
            flat = np.asarray(data) if data else np.zeros(0, np.float32)
            if flat.dtype == object:
                flat = _to_strings(flat, name)
            self.kind = dtype or _kind(flat.dtype, name)
            self.values = _cast(flat, self.kind, name).reshape(self.n, 1)
            self.sizes = None
            self.present = None
            return
        present = np.array([v is not None for v in data], bool)
        for i, v in enumerate(data):
            if v is not None and not isinstance(v, (list, tuple, np.ndarray)):
                raise ValueError("column %r mixes lists and scalars (entry %d is %r): give "
                                 "every example a list for a var-length column"
                                 % (name, i, v))
        rows = [() if v is None else v for v in data]
        sizes = np.fromiter(map(len, rows), np.int64, count=self.n)
        if all(isinstance(row, np.ndarray) for row in rows):
            flat = np.concatenate([row.ravel() for row in rows]) if rows else []
        else:
            flat = list(itertools.chain.from_iterable(rows))
        if dtype is None:
            if len(flat) == 0:
                raise ValueError("column %r: every entry is empty, so its type is unknown; "
                                 "pass dtypes={%r: 'float32' | 'int64' | 'string'}"
                                 % (name, name))
            probe = np.asarray(flat)
            if probe.dtype == object:
                probe = _to_strings(probe, name)
            dtype = _kind(probe.dtype, name)
        self.kind = dtype
        if len(flat) == 0:
            flat = np.zeros(0, object if dtype == "string" else np.float32)
        flat = _cast(flat, dtype, name)
        self._set_ragged(flat, sizes, present)

    def _set_ragged(self, flat, sizes, present):
        self.n = len(sizes)
        width = int(sizes.max()) if self.n else 0
        padded = np.zeros((self.n, width), flat.dtype) if self.kind != "string" \
            else np.full((self.n, width), b"", object)
        mask = np.arange(width)[None, :] < sizes[:, None]
        padded[mask] = flat
        self.values = padded
        self.sizes = sizes
        self.present = None if present is None or present.all() else present

    def take(self, start, stop):
        """(values, sizes, present) of rows [start, stop)."""
        n = min(stop, self.n) - start
        sizes = (np.full(n, self.values.shape[1], np.int64) if self.sizes is None
                 else self.sizes[start:stop])
        present = np.ones(n, bool) if self.present is None else self.present[start:stop]
        values = self.values[start:stop]
        if self.sizes is not None and n:
            values = values[:, : max(int(sizes.max()), 1)]
        if values.shape[1] == 0:  # encode_proto needs a values tensor of width >= 1
            values = np.zeros((n, 1), values.dtype) if self.kind != "string" \
                else np.full((n, 1), b"", object)
        return values, sizes, present


def _encode(message_type, fields, n):
    """One `tf.io.encode_proto` call: `fields` is [(name, values [n, k], sizes [n])]."""
    sizes = np.stack([np.asarray(s, np.int32) for _, _, s in fields], axis=1).reshape(n, -1)
    return tf.io.encode_proto(sizes=sizes, values=[v for _, v, _ in fields],
                              field_names=[f for f, _, _ in fields],
                              message_type=message_type)


def _serialize_batch(columns, start, stop):
    """Serialized tf.train.Examples for rows [start, stop) as a [n] tf.string tensor."""
    n = min(stop, columns[0].n) - start
    ones = np.ones(n, np.int32)
    entries, present = [], []
    for col in columns:
        values, sizes, has = col.take(start, stop)
        values = tf.constant(values, dtype=TF_DTYPES[col.kind])
        value_list = _encode(_LIST_TYPE[col.kind], [("value", values, sizes)], n)
        feature = _encode("tensorflow.Feature",
                          [(LIST_FIELDS[col.kind], tf.reshape(value_list, [n, 1]), ones)], n)
        entry = _encode("tensorflow.Features.FeatureEntry",
                        [("key", tf.fill([n, 1], col.name), ones),
                         ("value", tf.reshape(feature, [n, 1]), ones)], n)
        entries.append(entry)
        present.append(has)
    entries = tf.stack(entries, axis=1)  # [n, n_columns]
    present = np.stack(present, axis=1)
    counts = present.sum(axis=1)
    if not present.all():
        # Move each example's present entries to the front of its row
        # (stable, so the column order is kept): encode_proto takes the
        # first `counts[i]` values of row i.
        order = np.argsort(~present, axis=1, kind="stable")
        entries = tf.gather(entries, order, batch_dims=1)
    features = _encode("tensorflow.Features", [("feature", entries, counts)], n)
    return _encode("tensorflow.Example", [("features", tf.reshape(features, [n, 1]), ones)], n)


def _columns(columns, dtypes):
    if not columns:
        raise ValueError("columns must name at least one feature; got none")
    dtypes = dtypes or {}
    for name, kind in dtypes.items():
        if kind not in DTYPES:
            raise ValueError("dtypes[%r] must be one of %s; got %r"
                             % (name, ", ".join(DTYPES), kind))
    cols = [_Column(str(name), data, dtypes.get(name)) for name, data in columns.items()]
    counts = {c.name: c.n for c in cols}
    if len(set(counts.values())) != 1:
        raise ValueError("columns must all have one entry per example; got lengths %s"
                         % counts)
    return cols


def serialize_examples(columns: Mapping[str, object], dtypes: Optional[Dict[str, str]] = None,
                       batch_size: int = BATCH_SIZE) -> list:
    """The serialized `tf.train.Example`s of `columns`, as a list of bytes."""
    cols = _columns(columns, dtypes)
    out = []
    for start in range(0, cols[0].n, batch_size):
        out.extend(_serialize_batch(cols, start, start + batch_size).numpy().tolist())
    return out


def compression_for(path: Union[str, os.PathLike], compression: Optional[str] = None) -> str:
    """'GZIP' or '' for `path`: `compression` when given ('' or 'NONE' for
    none), else from the suffix (.gz / .gzip -> GZIP), as the pipeline reads."""
    if compression is None:
        return "GZIP" if is_gzip(str(path)) else ""
    compression = compression.upper()
    if compression in ("", "NONE"):
        return ""
    if compression != "GZIP":
        raise ValueError("compression must be None (from the suffix), 'GZIP' or 'NONE'; "
                         "got %r" % compression)
    return "GZIP"


def write_examples(path: Union[str, os.PathLike], columns: Mapping[str, object],
                   compression: Optional[str] = None, dtypes: Optional[Dict[str, str]] = None,
                   batch_size: int = BATCH_SIZE) -> int:
    """Writes `columns` (name -> per-example values) as one TFRecord file.

    Args:
      path: the file to write (its folder is created when local; file://
        counts as local); gs:// works too.
      columns: dict name -> 1-D array (a value per example), 2-D array
        `[n, k]` (k values per example) or list of lists (var-length; `None`
        leaves the feature out of that example) or `tf.RaggedTensor` [n, None].
        All of the same length n.
      compression: 'GZIP', 'NONE', or None to choose from the suffix
        (`.gz` / `.gzip` -> GZIP).
      dtypes: optional {name: 'float32' | 'int64' | 'string'} overriding the
        type inferred from the values.
      batch_size: examples encoded per `tf.io.encode_proto` call.

    Returns:
      The number of records written.

    Raises:
      ValueError: columns of different lengths, unsupported values or shapes.
    """
    path = os.fspath(path)
    cols = _columns(columns, dtypes)
    if is_local(path):
        path = local_path(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    options = tf.io.TFRecordOptions(compression_type=compression_for(path, compression))
    n = cols[0].n
    with tf.io.TFRecordWriter(path, options) as writer:
        for start in range(0, n, batch_size):
            for record in _serialize_batch(cols, start, start + batch_size).numpy().tolist():
                writer.write(record)
    return n


def take(columns: Mapping[str, object], start: int, stop: Optional[int] = None) -> dict:
    """Rows [start, stop) of every column (to split columns over several files)."""
    out = {}
    for name, data in columns.items():
        out[name] = data[start:stop]  # works for arrays, lists and RaggedTensors
    return out
