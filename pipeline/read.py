"""Read TFRecord files as batches of serialized records.

The reader sets the pipeline's ceiling (NOTES.md: ~185k records/s for
per-element `ReadFromTFRecord`, ~525k/s for a DoFn that reads whole files
and yields lists). So each file is read by one DoFn call, in 16 MiB chunks,
and leaves as `RecordBatch`es of up to `batch_size` records: one Beam element
per batch, never per record.

TFRecord framing is `uint64 length | uint32 masked crc32c(length) | data |
uint32 masked crc32c(data)`. It is split here in Python (one `unpack_from`
and one slice per record) and the data checksums are computed with
`google_crc32c` and compared for the whole chunk at once with numpy: about
1.6M records/s on one core (77-byte records, plain or gzip), against ~1M/s
for `tf.data.TFRecordDataset(...).batch(n)` plus `.numpy().tolist()`; and
reading through Beam's `FileSystems` works for gs:// as for local paths.
On the FnApiRunner, `benchmarks/bench_read.py` measures ~1.1M records/s for
ReadBatches alone and ~0.9M/s with parsing (1M records, 4 files). A truncated file or a
checksum mismatch raises `CorruptRecordError` naming the file, the record
index and its byte offset.

Files are matched on a worker and spread with a Reshuffle, so many files
read in parallel. One large file is read by one worker from start to end
(TFRecord has no sync markers to split it at); that is fine for now, and
the place to add a splittable DoFn if single huge files become common.
"""
import gzip
import os
import pickle
import struct
import zlib
from typing import NamedTuple

import apache_beam as beam
import google_crc32c
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.errors import CorruptRecordError, NoMatchError

GZIP_SUFFIXES = (".gz", ".gzip")
CHUNK_BYTES = 16 << 20
_HEADER = 12  # uint64 length + uint32 crc of the length
_FOOTER = 4   # uint32 crc of the data
_MASK_DELTA = 0xA282EAD8


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
    fast path (`pipeline.tfread`) holds its parsed `features`, its
    records as `tfread.FileRecords`, read from the file when asked for, and
    `factorized`: {feature: (sorted distinct values, index per record)} for
    its one-string-per-example features (TensorFlow factorizes them while it
    parses, so slicing on them needs no Python pass over the values)."""
    __slots__ = ()

    def record(self, i):
        """Record i as bytes."""
        return self.records[int(i)]

    def record_list(self):
        """The records as a list of bytes."""
        return self.records if isinstance(self.records, list) else list(self.records)

    def index(self, i):
        """The position in its file of `records[i]`."""
        return self.start + int(i) if self.indices is None else int(self.indices[i])

    def estimated_bytes(self):
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

    def estimated_bytes(self):
        return len(self.path) + len(self.reason) + len(self.data)


class ReadItemCoder(beam.coders.Coder):
    """Pickles `ReadItem`s as Beam's default coder does, but estimates their
    size without pickling them. Beam samples the size of the elements that
    pass between transforms by encoding them (the first 10, then about 7
    per doubling: 37 of the 125 batches of a 1M-example run), and pickling a
    parsed batch took 2-7 ms: ~0.2 s of the evaluating thread per 1M
    examples, for a size estimate."""

    def encode(self, value):
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded):
        return pickle.loads(encoded)

    def is_deterministic(self):
        return False

    def estimate_size(self, value):
        return value.estimated_bytes()

    def to_type_hint(self):
        return ReadItem


beam.coders.registry.register_coder(ReadItem, ReadItemCoder)


def masked_crc(data):
    """TFRecord's checksum: crc32c, rotated right by 15 bits, plus a constant."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crcs(records):
    """masked_crc of every record, as one uint64 array (the mask in numpy)."""
    crc = np.fromiter(map(google_crc32c.value, records), dtype=np.uint64, count=len(records))
    return (((crc >> np.uint64(15)) | (crc << np.uint64(17))) + np.uint64(_MASK_DELTA)) \
        & np.uint64(0xFFFFFFFF)


def is_gzip(path):
    return path.lower().endswith(GZIP_SUFFIXES)


def match_files(pattern):
    """Paths matching a file pattern (local or gs://...), sorted.

    Raises NoMatchError naming the pattern when nothing matches.
    """
    try:
        results = FileSystems.match([pattern])
    except Exception as e:  # Beam raises BeamIOError for a folder that does not exist
        raise NoMatchError("input.pattern %r matches no files (%s)" % (pattern, e),
                           pattern) from e
    paths = sorted(m.path for m in results[0].metadata_list)
    if not paths:
        raise NoMatchError("input.pattern %r matches no files" % pattern, pattern)
    folders = [p for p in paths if "://" not in p and os.path.isdir(p)]
    if folders:
        raise NoMatchError("input.pattern %r matches the folder %s; match its files instead, "
                           "e.g. %r" % (pattern, folders[0], os.path.join(folders[0], "*")),
                           pattern)
    return paths


def _open(path):
    """A binary stream of the file's TFRecord bytes (gunzipped when the name
    ends in .gz or .gzip). Python's gzip, not Beam's CompressedFile: it is
    faster and raises EOFError on a truncated stream, which Beam's does not."""
    raw = FileSystems.open(path, mime_type="application/octet-stream",
                           compression_type=CompressionTypes.UNCOMPRESSED)
    if is_gzip(path):
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    return raw, None


def split_records(buf, pos):
    """Complete records of `buf` from `pos` on: (records, stored data crcs,
    position after the last complete record)."""
    records, crcs = [], []
    n = len(buf)
    unpack = struct.unpack_from
    while pos + _HEADER <= n:
        length, = unpack("<Q", buf, pos)
        end = pos + _HEADER + length
        if end + _FOOTER > n:
            break
        records.append(buf[pos + _HEADER:end])
        crcs.append(unpack("<I", buf, end)[0])
        pos = end + _FOOTER
    return records, crcs, pos


def _length_ok(buf, pos):
    length_bytes = bytes(buf[pos:pos + 8])
    stored, = struct.unpack_from("<I", buf, pos + 8)
    return masked_crc(length_bytes) == stored


def _offset_of(buf, pos, k):
    """Byte position in `buf` of the k-th record after the one at `pos`."""
    for _ in range(k):
        length, = struct.unpack_from("<Q", buf, pos)
        pos += _HEADER + length + _FOOTER
    return pos


def _batch(path, records, indices, start, cut, size):
    if indices is None:
        return RecordBatch(path, start + cut, records[cut:cut + size])
    part = tuple(indices[cut:cut + size])
    return RecordBatch(path, part[0], records[cut:cut + size], part)


def iter_record_batches(path, batch_size, chunk_bytes=CHUNK_BYTES, skip_corrupt=False,
                        start_record=0):
    """Yields the records of one TFRecord file as `RecordBatch`es of
    `batch_size` records (the last one may be shorter), from record number
    `start_record` on (the records before it are framed and checked, not
    yielded).

    Raises CorruptRecordError for a truncated file or a checksum mismatch.
    With `skip_corrupt`, a record whose data fails its checksum while its
    length is intact is yielded as a `CorruptRecord` instead (in the order
    found) and reading goes on; a broken length or a truncated file still
    raises, since nothing after it can be framed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1; got %r" % (batch_size,))
    stream, raw = _open(path)
    buf = b""
    pos = 0            # next unread byte of buf
    buf_offset = 0     # file offset of buf[0] (uncompressed)
    index = 0          # file index of the next record to parse
    pending, pending_start = [], 0
    pending_indices = None  # file index of each pending record, once there is a gap
    try:
        while True:
            try:
                chunk = stream.read(chunk_bytes)
            except (EOFError, zlib.error, gzip.BadGzipFile) as e:  # only gzip raises these
                raise CorruptRecordError(
                    "truncated or corrupt gzip file %s: %s; records from index %d on (byte "
                    "offset %d of the uncompressed data) could not be read"
                    % (path, e, index, buf_offset + pos), path, index) from e
            if chunk:
                buf_offset += pos
                buf = buf[pos:] + chunk if pos < len(buf) else chunk
                pos = 0
            start_pos = pos
            records, crcs, pos = split_records(buf, pos)
            if records:
                bad = np.flatnonzero(masked_crcs(records) != np.asarray(crcs, np.uint64))
                kept = None
                for k in map(int, bad):
                    at = _offset_of(buf, start_pos, k)
                    what = "data" if _length_ok(buf, at) else "length"
                    message = ("corrupt TFRecord file %s: record %d (byte offset %d) fails its "
                               "%s checksum" % (path, index + k, buf_offset + at, what))
                    if not skip_corrupt or what == "length":
                        if skip_corrupt:
                            message += ("; the records after it cannot be framed, so the file "
                                        "cannot be read past it even under bad_examples: skip")
                        raise CorruptRecordError(message, path, index + k)
                    yield CorruptRecord(path, index + k, message, bytes(records[k]))
                if bad.size:
                    keep = np.ones(len(records), bool)
                    keep[bad] = False
                    kept = (index + np.flatnonzero(keep)).tolist()
                    records = [r for r, ok in zip(records, keep) if ok]
                    if pending_indices is None:
                        pending_indices = list(range(pending_start, pending_start + len(pending)))
                if index < start_record and not pending:
                    # Not yet at start_record: nothing was left out before it
                    # (a corrupt record there would have been raised or
                    # yielded above), so records[j] is record index + j.
                    drop = min(start_record - index, len(records))
                    records = records[drop:]
                    kept = kept[drop:] if kept is not None else None
                    pending_start = index + drop
                if pending_indices is not None:
                    pending_indices.extend(kept if kept is not None
                                           else range(index + len(crcs) - len(records),
                                                      index + len(crcs)))
                index += len(crcs)
                pending.extend(records)
                cut = 0
                while len(pending) - cut >= batch_size:
                    yield _batch(path, pending, pending_indices, pending_start, cut, batch_size)
                    cut += batch_size
                if cut:
                    pending = pending[cut:]
                    if pending_indices is not None:
                        pending_indices = pending_indices[cut:]
                    pending_start += cut
            left = len(buf) - pos
            if left >= _HEADER and not _length_ok(buf, pos):
                raise CorruptRecordError(
                    "corrupt TFRecord file %s: record %d (byte offset %d) fails its length "
                    "checksum" % (path, index, buf_offset + pos), path, index)
            if not chunk:
                if left:
                    if left < _HEADER:
                        need = "a %d-byte header" % _HEADER
                    else:
                        need = "%d bytes" % (_HEADER + struct.unpack_from("<Q", buf, pos)[0]
                                             + _FOOTER)
                    raise CorruptRecordError(
                        "truncated TFRecord file %s: record %d at byte offset %d needs %s but "
                        "only %d remain" % (path, index, buf_offset + pos, need, left),
                        path, index)
                break
        if pending:
            yield _batch(path, pending, pending_indices, pending_start, 0, len(pending))
    finally:
        stream.close()
        if raw is not None:
            raw.close()


class _ReadFiles(beam.DoFn):
    """File path -> RecordBatches of that file (and CorruptRecords with
    `skip_corrupt`); parsed too, where `features` are given and
    `pipeline.tfread` applies."""

    def __init__(self, batch_size, skip_corrupt=False, features=None):
        self._batch_size = batch_size
        self._skip_corrupt = skip_corrupt
        self._features = features

    def setup(self):
        self._files = beam.metrics.Metrics.counter("headeval", "files_read")
        self._records = beam.metrics.Metrics.counter("headeval", "records_read_from_files")

    def process(self, path):
        batches = None
        if self._features is not None:
            from pipeline import tfread  # TensorFlow: only where parsing is asked for
            if tfread.fast_path_applies(path):
                batches = tfread.iter_parsed_batches(path, self._batch_size, self._features,
                                                     skip_corrupt=self._skip_corrupt)
        if batches is None:
            batches = iter_record_batches(path, self._batch_size, skip_corrupt=self._skip_corrupt)
        for batch in batches:
            self._records.inc(len(batch.records) if isinstance(batch, RecordBatch) else 1)
            yield batch
        self._files.inc()


class ReadBatches(beam.PTransform):
    """PBegin -> PCollection of `RecordBatch` for every file matching `pattern`.

    Files are matched when the pipeline runs (on a worker, so gs:// patterns
    need no local credentials at construction) and redistributed with a
    Reshuffle so that workers read different files. A pattern that matches
    nothing fails the run with NoMatchError naming the pattern. With
    `skip_corrupt`, records whose data fail their checksum come out as
    `CorruptRecord`s among the batches. With `features` ({name:
    config.Feature}), batches of local uncompressed files come parsed
    (`pipeline.tfread`).
    """

    def __init__(self, pattern, batch_size=8192, skip_corrupt=False, features=None):
        super().__init__()
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("pattern must be a non-empty string; got %r" % (pattern,))
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("batch_size must be an integer >= 1; got %r" % (batch_size,))
        self._pattern = pattern
        self._batch_size = batch_size
        self._skip_corrupt = skip_corrupt
        self._features = features

    def expand(self, pbegin):
        return (pbegin
                | "Pattern" >> beam.Create([self._pattern])
                | "Match" >> beam.FlatMap(match_files)
                | "Spread" >> beam.Reshuffle()
                | "ReadFiles" >> beam.ParDo(_ReadFiles(self._batch_size, self._skip_corrupt,
                                                       self._features))
                .with_output_types(ReadItem))
