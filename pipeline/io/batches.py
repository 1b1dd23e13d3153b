"""What the reader emits: batches of serialized records, and corrupt records.

A `RecordBatch` is one Beam element holding up to `batch_size` records of
one file (never one element per record). `ReadItemCoder` is the coder of
the read's output: it estimates an item's size without pickling it.
"""
import pickle
from typing import NamedTuple

import apache_beam as beam
import numpy as np


class ReadItem:
    """What `ReadBatches` emits: a `RecordBatch` or a `CorruptRecord`. As
    the read's output type it picks `ReadItemCoder`."""
    __slots__ = ()


class _RecordBatchFields(NamedTuple):
    path: str
    start: int
    records: list
    indices: tuple = None
    features: dict = None
    factorized: dict = None


class RecordBatch(_RecordBatchFields, ReadItem):
    """Serialized records of one file: `records[i]` is record number
    `start + i` (0-based) of `path`, or `indices[i]` when the batch has
    gaps (corrupt records left out under `skip_corrupt`). A batch of the
    fast path (`pipeline.io.fast_path`) holds its parsed `features`, its
    records as `pipeline.io.fast_path.FileRecords`, read from the file when
    asked for, and `factorized`: {feature: (sorted distinct values, index per
    record)} for its one-string-per-example features (TensorFlow factorizes
    them while it parses, so slicing on them needs no Python pass over the
    values)."""
    __slots__ = ()

    def record(self, i: int) -> bytes:
        """Record i as bytes."""
        return self.records[int(i)]

    def record_list(self) -> list:
        """The records as a list of bytes."""
        return self.records if isinstance(self.records, list) else list(self.records)

    def index(self, i: int) -> int:
        """The position in its file of `records[i]`."""
        return self.start + int(i) if self.indices is None else int(self.indices[i])

    def estimated_bytes(self) -> int:
        """About the size of the batch's records and features, without
        serializing them."""
        size = len(self.path)
        if isinstance(self.records, list):
            size += sum(map(len, self.records))
        else:  # the fast path's FileRecords travel as their place in the file
            size += len(self.records.path) + 24
        for value in (self.features or {}).values():
            if isinstance(value, np.ndarray):
                size += value.nbytes
                if value.dtype == object:  # parsed strings: bytes objects
                    size += sum(map(len, value.ravel().tolist()))
            else:  # tf.RaggedTensor or tf.SparseTensor
                flat = getattr(value, "flat_values", getattr(value, "values", None))
                size += int(np.prod(flat.shape)) * flat.dtype.size if flat is not None else 0
        return size


class _CorruptRecordFields(NamedTuple):
    path: str
    index: int
    reason: str
    data: bytes


class CorruptRecord(_CorruptRecordFields, ReadItem):
    """A record whose data fails its checksum while its length is intact:
    the framing is sound, so the file's other records can still be read."""
    __slots__ = ()

    def estimated_bytes(self) -> int:
        """About the size of the record and its reason."""
        return len(self.path) + len(self.reason) + len(self.data)


class ReadItemCoder(beam.coders.Coder):
    """Pickles `ReadItem`s as Beam's default coder does, but estimates their
    size without pickling them. Beam samples the size of the elements that
    pass between transforms by encoding them (the first 10, then about 7
    per doubling), and pickling a parsed batch is slow: time on the
    evaluating thread spent on a size estimate (docs/performance.md)."""

    def encode(self, value: ReadItem) -> bytes:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes) -> ReadItem:
        return pickle.loads(encoded)

    def is_deterministic(self) -> bool:
        return False

    def estimate_size(self, value: ReadItem) -> int:
        return value.estimated_bytes()

    def to_type_hint(self) -> type:
        return ReadItem


beam.coders.registry.register_coder(ReadItem, ReadItemCoder)
