"""TFRecord framing in Python: records split from a byte stream, checksums
checked for a whole chunk at once.

The framing is `uint64 length | uint32 masked crc32c(length) | data |
uint32 masked crc32c(data)`. It is split here in Python (one `unpack_from`
and one slice per record) and the data checksums are computed with
`google_crc32c` and compared for the whole chunk at once with numpy; this is
faster than `tf.data.TFRecordDataset(...).batch(n)` plus
`.numpy().tolist()` (docs/performance.md), and reading through Beam's
`FileSystems` works for gs:// as for local paths. A truncated file or a
checksum mismatch raises `CorruptRecordError` naming the file, the record
index and its byte offset.

`lengths_reach_the_end` walks the record lengths of a local file without
its data: TensorFlow's reader allocates what a length claims before it
reads, and a length far past the end of the file crashes the process
(SIGSEGV), so `pipeline.io.fast_path` asks it first.
"""
import functools
import gzip
import os
import struct
import zlib
from typing import Iterator, Sequence, Tuple, Union

import google_crc32c
import numpy as np

from pipeline.errors import CorruptRecordError
from pipeline.io.batches import CorruptRecord, RecordBatch
from pipeline.io.files import open_records

CHUNK_BYTES = 16 << 20
HEADER_BYTES = 12  # uint64 length + uint32 crc of the length
FOOTER_BYTES = 4   # uint32 crc of the data
_MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")


def masked_crc(data: bytes) -> int:
    """TFRecord's checksum: crc32c, rotated right by 15 bits, plus a constant."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crcs(records: Sequence[bytes]) -> np.ndarray:
    """masked_crc of every record, as one uint64 array (the mask in numpy)."""
    crc = np.fromiter(map(google_crc32c.value, records), dtype=np.uint64, count=len(records))
    return (((crc >> np.uint64(15)) | (crc << np.uint64(17))) + np.uint64(_MASK_DELTA)) \
        & np.uint64(0xFFFFFFFF)


def split_records(buf: bytes, pos: int) -> Tuple[list, list, int]:
    """Complete records of `buf` from `pos` on: (records, stored data crcs,
    position after the last complete record)."""
    records, crcs = [], []
    n = len(buf)
    unpack = struct.unpack_from
    while pos + HEADER_BYTES <= n:
        length, = unpack("<Q", buf, pos)
        end = pos + HEADER_BYTES + length
        if end + FOOTER_BYTES > n:
            break
        records.append(buf[pos + HEADER_BYTES:end])
        crcs.append(unpack("<I", buf, end)[0])
        pos = end + FOOTER_BYTES
    return records, crcs, pos


def lengths_reach_the_end(path: str, chunk_bytes: int = CHUNK_BYTES, size: int = None,
                          opener=None) -> bool:
    """Whether the record lengths of the uncompressed file `path`,
    followed from its first record, end exactly at its last byte (checksums
    not checked). Reads the file in chunks of `chunk_bytes` and skips the
    data of records longer than a chunk; about 0.2 s per million records
    (docs/reliability.md). A local file by default; another with `size`
    (its bytes) and `opener` (path -> a binary file object that seeks)."""
    return record_offsets(path, None, chunk_bytes, size, opener) is not None


def record_offsets(path: str, every: int = None, chunk_bytes: int = CHUNK_BYTES,
                   size: int = None, opener=None):
    """(the byte offsets of records 0, `every`, 2 * `every`, ... of the
    uncompressed file `path` followed by its size, its number of records),
    or None when its record lengths (followed from its first record,
    checksums not checked) do not end exactly at its last byte. With
    `every` None, no offsets are kept and the count is None
    (`lengths_reach_the_end`). `size` and `opener` as there."""
    if opener is None:
        size = os.path.getsize(path)
        opener = functools.partial(open, mode="rb", buffering=0)
    unpack = _LENGTH.unpack_from
    framing = HEADER_BYTES + FOOTER_BYTES
    offsets = []
    count = 0  # records framed before pos
    pos = 0
    with opener(path) as f:
        while pos < size:
            f.seek(pos)
            buf = f.read(min(chunk_bytes, size - pos))
            last = len(buf) - 8  # the last place a length can start in buf
            if last < 0:
                return None  # less than a length left (or the file shrank)
            at = 0
            if every is None:
                while at <= last:
                    at += unpack(buf, at)[0] + framing
            else:
                while at <= last:
                    if count % every == 0:
                        offsets.append(pos + at)
                    count += 1
                    at += unpack(buf, at)[0] + framing
            pos += at
    if pos != size:
        return None
    return offsets + [size], (count if every is not None else None)


def _stream_size(stream):
    """Bytes of a local uncompressed file not yet read, or None for other
    streams: a length past them is a truncated file at once, without reading
    (and buffering) the rest of the file to find out."""
    try:
        return os.fstat(stream.fileno()).st_size - stream.tell()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        return None


def _truncated(path, index, offset, buf, pos, remain):
    left = len(buf) - pos
    need = ("a %d-byte header" % HEADER_BYTES if left < HEADER_BYTES else
            "%d bytes" % (HEADER_BYTES + _LENGTH.unpack_from(buf, pos)[0] + FOOTER_BYTES))
    return CorruptRecordError(
        "truncated TFRecord file %s: record %d at byte offset %d needs %s but only %d remain"
        % (path, index, offset, need, remain), path, index)


def _gzip_error(path, error, index, offset, left):
    """The CorruptRecordError for a gzip stream that failed after `index`
    records (`offset` bytes uncompressed, `left` of them not a whole record)."""
    if isinstance(error, gzip.BadGzipFile) and str(error).startswith("Not a gzipped file") \
            and offset + left > 0:
        # Python's gzip reads on after a member's end as if another member
        # followed; what follows is not one.
        return CorruptRecordError(
            "corrupt gzip file %s: trailing data after the gzip stream (not a gzip member: %s); "
            "the stream held %d records%s (%d bytes uncompressed); remove the trailing bytes"
            % (path, error, index, " and %d bytes of an incomplete one" % left if left else "",
               offset + left), path, index)
    return CorruptRecordError(
        "truncated or corrupt gzip file %s: %s; records from index %d on (byte offset %d of "
        "the uncompressed data) could not be read" % (path, error, index, offset), path, index)


def _length_ok(buf, pos):
    length_bytes = bytes(buf[pos:pos + 8])
    stored, = struct.unpack_from("<I", buf, pos + 8)
    return masked_crc(length_bytes) == stored


def _offset_of(buf, pos, k):
    """Byte position in `buf` of the k-th record after the one at `pos`."""
    for _ in range(k):
        length, = struct.unpack_from("<Q", buf, pos)
        pos += HEADER_BYTES + length + FOOTER_BYTES
    return pos


def _batch(path, records, indices, start, cut, size):
    if indices is None:
        return RecordBatch(path, start + cut, records[cut:cut + size])
    part = tuple(indices[cut:cut + size])
    return RecordBatch(path, part[0], records[cut:cut + size], part)


def iter_record_batches(path: str, batch_size: int, chunk_bytes: int = CHUNK_BYTES,
                        skip_corrupt: bool = False, start_record: int = 0, offset: int = 0,
                        stop_record: int = None) -> Iterator[Union[RecordBatch, CorruptRecord]]:
    """Yields the records of one TFRecord file as `RecordBatch`es of
    `batch_size` records (the last one may be shorter), from record number
    `start_record` on (the records before it are framed and checked, not
    yielded), up to record `stop_record` (not included; None: to the end).
    `offset` > 0 (uncompressed files only) is the byte offset of record
    `start_record`: reading starts there, and nothing before it is framed.

    Raises CorruptRecordError for a truncated file, a checksum mismatch or
    data after the end of a gzip stream.
    With `skip_corrupt`, a record whose data fails its checksum while its
    length is intact is yielded as a `CorruptRecord` instead (in the order
    found) and reading goes on; a broken length or a truncated file still
    raises, since nothing after it can be framed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1; got %r" % (batch_size,))
    stream, raw = open_records(path)
    buf = b""
    pos = 0            # next unread byte of buf
    buf_offset = 0     # file offset of buf[0] (uncompressed)
    index = 0          # file index of the next record to parse
    if offset:
        if raw is not None:
            stream.close()
            raw.close()
            raise ValueError("a gzip file is read from its start; got offset %d" % offset)
        stream.seek(offset)
        buf_offset, index = offset, start_record
    unread = _stream_size(stream) if raw is None else None
    pending, pending_start = [], index
    pending_indices = None  # file index of each pending record, once there is a gap
    try:
        while stop_record is None or index < stop_record:
            try:
                chunk = stream.read(chunk_bytes)
            except (EOFError, zlib.error, gzip.BadGzipFile) as e:  # only gzip raises these
                raise _gzip_error(path, e, index, buf_offset + pos, len(buf) - pos) from e
            if unread is not None:
                unread -= len(chunk)
            if chunk:
                buf_offset += pos
                buf = buf[pos:] + chunk if pos < len(buf) else chunk
                pos = 0
            start_pos = pos
            records, crcs, pos = split_records(buf, pos)
            if stop_record is not None and index + len(crcs) >= stop_record:
                # The range ends in this chunk: what follows is another range's.
                records, crcs = records[:stop_record - index], crcs[:stop_record - index]
                pos, chunk = _offset_of(buf, start_pos, len(crcs)), None
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
            if chunk is None:
                break
            left = len(buf) - pos
            if left >= HEADER_BYTES:
                if not _length_ok(buf, pos):
                    raise CorruptRecordError(
                        "corrupt TFRecord file %s: record %d (byte offset %d) fails its length "
                        "checksum" % (path, index, buf_offset + pos), path, index)
                if unread is not None and HEADER_BYTES + _LENGTH.unpack_from(buf, pos)[0] \
                        + FOOTER_BYTES > left + unread:
                    raise _truncated(path, index, buf_offset + pos, buf, pos, left + unread)
            if not chunk:
                if left:
                    raise _truncated(path, index, buf_offset + pos, buf, pos, left)
                break
        if pending:
            yield _batch(path, pending, pending_indices, pending_start, 0, len(pending))
    finally:
        stream.close()
        if raw is not None:
            raw.close()
