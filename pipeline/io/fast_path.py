"""TFRecord files read and parsed in TensorFlow's threads.

`pipeline.io.reader` frames records in Python, on the thread that evaluates
them. For a local file, plain or gzip, `tf.data` can do the decompressing,
the framing, the checksums and `tf.io.parse_example` in its own C++
threads, a batch or two ahead, while Python evaluates the batch before: on
two cores, reading and parsing then cost the evaluating thread almost
nothing.

A batch of the fast path does not carry its records: handing TensorFlow's
string tensor of them to Python costs a good part of what reading and
parsing them does (docs/performance.md). It carries `FileRecords` instead,
the batch's place in the file (in the uncompressed bytes for gzip), which
reads the records back (with Python's framing) only when one is asked for:
when an example is rejected.

TensorFlow's reader allocates the bytes a record's length claims before
reading them: a length far past the end of an uncompressed file (with a
valid length checksum) kills the process with SIGSEGV, no message. So
before such a file goes to `tf.data`, `pipeline.io.framing.lengths_reach_the_end`
walks its record headers (reading it once more, from the page cache); a
file whose lengths do not end exactly at its end is read by
`pipeline.io.framing.iter_record_batches` alone, which names the file, the
record and its byte offset as for any truncated file. (The same bytes
gzipped fail cleanly: a record's length is checked against what inflates.)

It is only a fast path. TensorFlow's reader and ours agree on every
checksum, but its messages do not name the record, it ignores a few
trailing bytes that do not make a record header, and it takes a gzip
stream that ends early (cut in its trailer, or flushed and never finished:
it just reads fewer records) for a whole one. So as soon as anything fails
— a checksum, a batch that does not parse, bytes left over at the end, a
gzip stream whose trailer does not give the size read — the file is read
on from the first batch not yet handed out by
`pipeline.io.framing.iter_record_batches` and parsed by
`pipeline.io.parse.Parser`, which name the file, the record and the field
(and skip what `bad_examples: skip` skips) exactly as when there is no fast
path. (A gzip file of several members also ends there: its last trailer
sizes only the last member.)
"""
import functools
import gzip
import logging
import os
import struct
import threading
import zlib
from typing import Iterator, Mapping

import numpy as np
import tensorflow as tf

from pipeline.config import Feature
from pipeline.errors import CorruptRecordError
from pipeline.io import parse
from pipeline.io.batches import ReadItem, RecordBatch
from pipeline.io.framing import (FOOTER_BYTES, HEADER_BYTES, iter_record_batches,
                                 lengths_reach_the_end, masked_crcs, split_records)
from pipeline.io.parts import FilePart
from pipeline.io.paths import is_gzip, is_local, local_path, scheme

log = logging.getLogger(__name__)

_PREFETCH = 2


def fast_path_applies(path: str, registered=None) -> bool:
    """Files plain or gzip, local (no scheme, or file://) or on a
    filesystem TensorFlow itself opens (gs:// where TensorFlow's Cloud
    Storage support is built in; `tensorflow_opens`)."""
    if is_local(path):
        return os.path.isfile(local_path(path))
    return tensorflow_opens(path, registered)


_told = set()  # schemes whose fallback was logged in this process


def tensorflow_opens(path: str, registered=None) -> bool:
    """Whether `path`'s scheme is one of TensorFlow's filesystems
    (`registered`: those schemes; by default TensorFlow's list). Where it is
    not, the file goes to Beam's FileSystems and the Python reader, and the
    process logs that once per scheme."""
    if registered is None:
        try:
            registered = tf.io.gfile.get_registered_schemes()
        except (AttributeError, tf.errors.OpError):
            registered = ()
    name = scheme(path)
    if name in registered:
        return True
    if name not in _told:
        _told.add(name)
        log.info("TensorFlow has no filesystem for %s:// here (it has %s): %s:// files are "
                    "read by the Python reader, slower than TensorFlow's", name,
                    ", ".join("%s://" % s for s in sorted(registered) if s) or "none", name)
    return False


def _size(path):
    return os.path.getsize(path) if is_local(path) else tf.io.gfile.stat(path).length


def _open(path):
    return open(path, "rb") if is_local(path) else tf.io.gfile.GFile(path, "rb")


class FileRecords:
    """The serialized records of one fast-path batch: `count` records taking
    `size` bytes of the file at byte `offset`, framing included (offsets in
    the uncompressed bytes of a gzip file). Behaves as a read-only sequence
    of bytes; the file is read on the first access (once), so a batch whose
    records are never looked at costs nothing."""

    __slots__ = ("path", "offset", "size", "count", "_records")

    def __init__(self, path: str, offset: int, size: int, count: int):
        self.path, self.offset, self.size, self.count = path, offset, size, count
        self._records = None

    def __getstate__(self):
        return (self.path, self.offset, self.size, self.count)

    def __setstate__(self, state):
        self.path, self.offset, self.size, self.count = state
        self._records = None

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        return self._read()[i]

    def __iter__(self):
        return iter(self._read())

    def _read(self):
        if self._records is None:
            buf = _read_range(self.path, self.offset, self.size)
            records, crcs, end = split_records(buf, 0)
            if len(records) != self.count or end != self.size or \
                    (masked_crcs(records) != np.asarray(crcs, np.uint64)).any():
                raise CorruptRecordError(
                    "TFRecord file %s changed while it was read: the %d records at byte offset "
                    "%d no longer frame as they did" % (self.path, self.count, self.offset),
                    self.path, None)
            self._records = [bytes(r) for r in records]
        return self._records


_gzip_lock = threading.Lock()
_gzip_open = {}  # path -> (GzipFile, its raw file) that read back its last batch's records


def _close(pair):
    for f in pair:
        f.close()


def _read_range(path, offset, size):
    """`size` bytes at `offset` of the file's (uncompressed) records. A
    gzip file stays open between calls, so reading back batch after batch
    inflates it once, not once per batch."""
    if not is_gzip(path):
        with _open(path) as fh:
            fh.seek(offset)
            return fh.read(size)
    with _gzip_lock:
        pair = _gzip_open.pop(path, None)
        if pair is None or pair[0].tell() > offset:
            if pair is not None:
                _close(pair)
            raw = _open(path)
            pair = gzip.GzipFile(fileobj=raw, mode="rb"), raw
            while len(_gzip_open) >= 4:
                _close(_gzip_open.pop(next(iter(_gzip_open))))
        try:
            pair[0].seek(offset)
            buf = pair[0].read(size)
        except (OSError, EOFError, zlib.error):  # gzip.BadGzipFile is an OSError
            _close(pair)
            return b""  # "changed while it was read"
        _gzip_open[path] = pair
        return buf


def _factorized_names(features):
    """The features parsed as one string per example: their values leave
    TensorFlow factorized (distinct values, index per example)."""
    return tuple(name for name, f in features.items()
                 if f.dtype == "string" and not f.varlen and tuple(f.shape) == ())


@functools.lru_cache(maxsize=16)
def _parse_fn(feature_items):
    """records -> ([their total length, their number], parsed features,
    {name: (distinct values, index of each example's)} for the
    `_factorized_names`, which the parsed features then lack): traced once
    per feature spec, not once per file."""
    features = dict(feature_items)
    spec = parse.tf_feature_spec(features)
    factorized = _factorized_names(features)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def parse_batch(records):
        parsed = tf.io.parse_example(records, spec)
        distinct = {name: tuple(tf.unique(parsed.pop(name), out_idx=tf.int32))
                    for name in factorized}
        # The total length places the next batch in the file and checks that
        # the file was read to its end.
        return tf.stack([tf.reduce_sum(tf.cast(tf.strings.length(records), tf.int64)),
                         tf.size(records, tf.int64)]), parsed, distinct
    return parse_batch


def _sorted_factorization(values, index):
    """(distinct values, index) with the values sorted, as
    `pipeline.evaluate.evaluator` numbers slice values."""
    order = np.argsort(values, kind="stable")
    rank = np.empty(len(order), np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return values[order], rank[index]


def _dataset(path, batch_size, features, part=None):
    # Autotuning off: its per-element bookkeeping nearly doubled the CPU
    # time of framing the records (docs/performance.md), and the fixed
    # prefetch depth is all the parallelism this pipeline needs.
    options = tf.data.Options()
    options.autotune.enabled = False
    records = tf.data.TFRecordDataset(path, compression_type="GZIP" if is_gzip(path) else "",
                                      buffer_size=4 << 20)
    if part is not None:  # TensorFlow's reader frames the records before, unparsed
        records = records.skip(part.start).take(part.count)
    return (records
            .batch(batch_size)
            .map(_parse_fn(tuple(features.items())))
            .prefetch(_PREFETCH)
            .with_options(options))


def _read_whole(path, consumed):
    """Whether TensorFlow's reader, having framed `consumed` bytes of
    records, read the whole file. A plain file: they are its size. A gzip
    file: the size in its trailer (its last 4 bytes: the uncompressed size
    mod 2^32) is theirs; TensorFlow's zlib checked that trailer and the
    data's crc32 where it reached the end of the stream, and a stream cut
    before its trailer ends in bytes that give the size only by chance
    (1 in 2^32)."""
    size = _size(path)
    if not is_gzip(path):
        return consumed == size
    if size < 18:  # gzip's smallest member: a 10-byte header and the 8-byte trailer
        return False
    with _open(path) as fh:
        fh.seek(size - 4)
        isize, = struct.unpack("<I", fh.read(4))
    return isize == consumed & 0xFFFFFFFF


def iter_parsed_batches(path: str, batch_size: int, features: Mapping[str, Feature],
                        skip_corrupt: bool = False, part: FilePart = None) -> Iterator[ReadItem]:
    """Like `pipeline.io.framing.iter_record_batches`, but each `RecordBatch` of
    the fast path also carries its parsed `features` ({name: numpy array or
    tf.RaggedTensor}, as `Parser` returns them) and its `factorized` string
    features, and its `records` are `FileRecords`. From the first problem
    on, batches come from `iter_record_batches` (records as bytes, no
    features), so errors and skipped records are exactly its own. A
    `file://` path is read, and named in the batches, as a plain path.
    With `part` (a `pipeline.io.parts.FilePart` of an uncompressed file,
    whose record lengths `pipeline.io.parts.split_files` followed to the
    file's end), only its records."""
    path = local_path(path)
    if part is None and not is_gzip(path) and not (  # TensorFlow's reader could crash on it
            lengths_reach_the_end(path) if is_local(path) else
            lengths_reach_the_end(path, size=_size(path), opener=_open)):
        yield from iter_record_batches(path, batch_size, skip_corrupt=skip_corrupt)
        return
    first, offset = (part.start, part.offset) if part is not None else (0, 0)
    handed_out = 0       # records yielded so far
    consumed = 0         # bytes of the file (uncompressed) they take up
    failed = False
    iterator = iter(_dataset(path, batch_size, features, part))
    while True:
        try:
            sizes, parsed, distinct = next(iterator)
        except StopIteration:
            break
        except (tf.errors.OpError, UnicodeDecodeError):
            # TensorFlow formats some errors with the record's bytes and then
            # fails to decode them: both mean the slow path must look.
            failed = True
            break
        length, n = (int(v) for v in sizes.numpy())
        size = length + (HEADER_BYTES + FOOTER_BYTES) * n
        features = parse.to_numpy(parsed)
        factorized = {}
        for name, (values, index) in distinct.items():
            values, index = _sorted_factorization(values.numpy(), index.numpy())
            factorized[name] = values, index
            # Gathered from the distinct values: Python makes len(values)
            # string objects, not one per example.
            features[name] = values[index]
        yield RecordBatch(path, first + handed_out, FileRecords(path, offset + consumed, size, n),
                          features=features, factorized=factorized)
        handed_out += n
        consumed += size
    if not failed and (_read_whole(path, consumed) if part is None else
                       handed_out == part.count and consumed == part.size):
        return
    # A whole file is framed again from its start; a part from where TensorFlow stopped.
    within = {} if part is None else dict(offset=offset + consumed, stop_record=first + part.count)
    yield from iter_record_batches(path, batch_size, skip_corrupt=skip_corrupt,
                                   start_record=first + handed_out, **within)
