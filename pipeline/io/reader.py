"""The Beam reader: every file matching a pattern, as batches of records.

Each file is read by one DoFn call, in chunks of
`pipeline.io.framing.CHUNK_BYTES`, and leaves as `RecordBatch`es of up to
`batch_size` records: one Beam element per batch, never per record (Beam's
cost per element would dominate; `benchmarks/bench_read.py --baseline`
measures a reader of one element per record, and docs/performance.md has
the figures). Files plain or gzip, local or on a filesystem TensorFlow
opens itself (gs:// where its Cloud Storage support is built in), are read
and parsed by `pipeline.io.fast_path` where features are given; the rest
are framed by `pipeline.io.framing` (Beam's FileSystems), and a log line
says so once per scheme.

Files are matched on a worker and spread with a Reshuffle, so many files
read in parallel. With `parts` (two per worker process) and fewer files
than that, large uncompressed files are cut into record ranges
(`pipeline.io.parts`), so that two workers share one file.
"""
from typing import Mapping, Optional

import apache_beam as beam

from pipeline.config import DEFAULT_BATCH_SIZE, Feature
from pipeline.io.batches import ReadItem, RecordBatch
from pipeline.io.files import match_files
from pipeline.io.framing import iter_record_batches
from pipeline.io.parts import FilePart, split_files
from pipeline.runtime import signals


def _match_and_split(pattern, parts, batch_size):
    """The files matching `pattern`, large ones cut when there are fewer than `parts`."""
    return split_files(match_files(pattern), parts, batch_size)


class _ReadFiles(beam.DoFn):
    """File path -> RecordBatches of that file (and CorruptRecords with
    `skip_corrupt`); parsed too, where `features` are given and
    `pipeline.io.fast_path` applies."""

    def __init__(self, batch_size, skip_corrupt=False, features=None):
        self._batch_size = batch_size
        self._skip_corrupt = skip_corrupt
        self._features = features

    def setup(self):
        self._files = beam.metrics.Metrics.counter("headeval", "files_read")
        self._records = beam.metrics.Metrics.counter("headeval", "records_read_from_files")

    def process(self, work):
        """`work`: a file's path, or a `FilePart` of one (its records only)."""
        part = work if isinstance(work, FilePart) else None
        path = part.path if part is not None else work
        batches = None
        if self._features is not None:
            # The fast path imports TensorFlow (seconds): only where parsing is asked for.
            from pipeline.io import fast_path
            if fast_path.fast_path_applies(path):
                batches = fast_path.iter_parsed_batches(path, self._batch_size, self._features,
                                                        skip_corrupt=self._skip_corrupt,
                                                        part=part)
        if batches is None:
            within = {} if part is None else dict(start_record=part.start, offset=part.offset,
                                                  stop_record=part.start + part.count)
            batches = iter_record_batches(path, self._batch_size, skip_corrupt=self._skip_corrupt,
                                          **within)
        for batch in batches:
            signals.check()  # a Ctrl-C the interpreter dropped (in-process runs only)
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
    config.Feature}), batches of the files `pipeline.io.fast_path` reads
    come parsed. With `parts` > 1 (pieces of work wanted: two per worker
    process) and fewer files than that, large uncompressed files are read
    in record ranges (`pipeline.io.parts.split_files`).
    """

    def __init__(self, pattern: str, batch_size: int = DEFAULT_BATCH_SIZE,
                 skip_corrupt: bool = False, features: Optional[Mapping[str, Feature]] = None,
                 parts: int = 1):
        super().__init__()
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("pattern must be a non-empty string; got %r" % (pattern,))
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("batch_size must be an integer >= 1; got %r" % (batch_size,))
        self._pattern = pattern
        self._batch_size = batch_size
        self._skip_corrupt = skip_corrupt
        self._features = features
        self._parts = parts

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        return (pbegin
                | "Pattern" >> beam.Create([self._pattern])
                | "Match" >> beam.FlatMap(_match_and_split, self._parts, self._batch_size)
                | "Spread" >> beam.Reshuffle()
                | "ReadFiles" >> beam.ParDo(_ReadFiles(self._batch_size, self._skip_corrupt,
                                                       self._features))
                .with_output_types(ReadItem))
