"""Work finer than a file: record ranges of large uncompressed files.

Beam hands each element of the read to one worker, and a TFRecord file is
one element: two worker processes given one large file leave one idle
(docs/performance.md). When a run has fewer files than pieces of work it
wants (`parts`: two per worker process), `split_files` cuts the largest
uncompressed files into `FilePart`s of whole batches, balanced by bytes.

The cut points are found by following the record lengths from the file's
first record (`pipeline.io.framing.record_offsets`), not by searching for a
header in the middle: a record's data may hold bytes that look like a
header with a valid length checksum (a serialized TFRecord in a bytes
feature), and a part must start exactly where a record does. That walk
reads the file's headers once, which `pipeline.io.fast_path` does before
TensorFlow reads any uncompressed file anyway (its lengths must end at the
file's end); a part's reader skips it. The parts are cut at multiples of
the batch size, so their batches are the whole file's batches, record for
record. A file whose lengths do not reach its end is not cut: read whole,
its reader names the bad record. gzip files are never cut (a gzip stream
cannot be entered in the middle), nor files that are not local: a part's
tf.data reader frames (without parsing) the records before it, cheap from
the page cache, not over a network (`pipeline.runtime.workers.work_parts`).
"""
import logging
import math
import os
from typing import Iterator, NamedTuple, Sequence, Union

from pipeline.io.framing import record_offsets
from pipeline.io.paths import is_gzip, is_local, local_path

log = logging.getLogger(__name__)

# A part smaller than this is not worth a reader of its own (each part pays
# a tf.data pipeline and reads, unparsed, the records before it);
# HEADEVAL_MIN_PART_BYTES sets another (the tests cut small files).
MIN_PART_BYTES = 16 << 20
MIN_PART_ENV = "HEADEVAL_MIN_PART_BYTES"


def min_part_bytes() -> int:
    """MIN_PART_BYTES, or HEADEVAL_MIN_PART_BYTES where set (a whole number >= 1)."""
    text = os.environ.get(MIN_PART_ENV, "").strip()
    if not text:
        return MIN_PART_BYTES
    if not text.isdigit() or int(text) < 1:
        raise ValueError("%s=%r: must be a whole number of bytes, 1 or more"
                         % (MIN_PART_ENV, text))
    return int(text)


class FilePart(NamedTuple):
    """Records `start` to `start + count` (not included) of the uncompressed
    file `path`: `size` bytes, framing included, from byte `offset`."""
    path: str
    start: int
    count: int
    offset: int
    size: int


def cut(offsets: Sequence[int], n_records: int, every: int, pieces: int) -> list:
    """The records of a file, `n_records` of them, whose records 0, `every`,
    2 * `every`, ... start at `offsets` (then the file's size), cut into at
    most `pieces` runs of whole groups of `every` records of about equal
    bytes: [(first record, records, byte offset, bytes)]."""
    groups = len(offsets) - 1
    size = offsets[-1]
    bounds = [0]
    for k in range(1, pieces):
        target = size * k / pieces  # the group boundary nearest the k-th share of the bytes
        candidates = range(bounds[-1] + 1, groups)
        if not candidates:
            break
        bounds.append(min(candidates, key=lambda g: abs(offsets[g] - target)))
    bounds.append(groups)
    return [(a * every, min(b * every, n_records) - a * every, offsets[a],
             offsets[b] - offsets[a]) for a, b in zip(bounds, bounds[1:]) if b > a]


def split_files(paths: Sequence[str], parts: int, batch_size: int
                ) -> Iterator[Union[str, FilePart]]:
    """`paths` as they are when there are at least `parts` of them (or
    `parts` <= 1); else the local uncompressed ones among them cut into
    FileParts (each into as many as its share of the bytes of `parts`,
    none smaller than `min_part_bytes()`), the others whole."""
    paths = list(paths)
    if parts <= 1 or len(paths) >= parts:
        yield from paths
        return
    sizes = {}
    for path in paths:
        try:
            sizes[path] = os.path.getsize(local_path(path)) if is_local(path) else 0
        except OSError:  # the reader names what is wrong with it
            sizes[path] = 0
    total = sum(sizes.values()) or 1
    smallest = min_part_bytes()
    for path in paths:
        size = sizes[path]
        pieces = min(math.ceil(parts * size / total), size // smallest)
        walked = None if is_gzip(path) or not is_local(path) or pieces < 2 else \
            record_offsets(local_path(path), batch_size)
        if walked is None:  # not cut; a file whose lengths do not reach its end is read
            yield path      # whole, and its reader names the bad record
            continue
        offsets, n_records = walked
        runs = cut(offsets, n_records, batch_size, pieces)
        for start, count, offset, nbytes in runs:
            yield FilePart(path, start, count, offset, nbytes)
        log.info("headeval: %s read in %d parts of about %.0f MB", path, len(runs),
                 size / len(runs) / 1e6)
