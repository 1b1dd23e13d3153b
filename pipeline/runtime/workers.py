"""DirectRunner's worker processes, only where they pay back their start.

`--direct_running_mode=multi_processing --direct_num_workers=N` starts N
Python processes that each import Beam and TensorFlow and trace the heads
before their first batch (about 7 s of CPU each on our 2-core machine), and
splits the work no finer than a file. One process already keeps about 1.4
cores busy (TensorFlow's reading and parsing threads, the statistics and
folding threads), so the workers only gain on a large input: measured here
(docs/performance.md), two workers beat one process only past about 1.3 GB
of records, and were 2x slower at 1M examples (190 MB).

So a local input smaller than `MIN_BYTES_PER_EXTRA_WORKER` per extra worker
runs in this process instead, with a warning that says so and run.json's
`workers` saying what was asked and what ran. HEADEVAL_MIN_WORKER_BYTES
sets the threshold (0: always start the workers asked for). Inputs that are
not local (gs://) are not sized: the workers start as asked.
"""
import glob
import logging
import os
import struct
from typing import Optional, Sequence

from pipeline.errors import UsageError
from pipeline.io.paths import is_gzip, is_local, local_path

log = logging.getLogger(__name__)

MIN_BYTES_PER_EXTRA_WORKER = 1_300_000_000
THRESHOLD_ENV = "HEADEVAL_MIN_WORKER_BYTES"
_LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner")


def min_bytes_per_extra_worker() -> int:
    """The threshold: HEADEVAL_MIN_WORKER_BYTES when set (an integer >= 0),
    else MIN_BYTES_PER_EXTRA_WORKER."""
    text = os.environ.get(THRESHOLD_ENV)
    if text is None or not text.strip():
        return MIN_BYTES_PER_EXTRA_WORKER
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError("%s=%r: must be a whole number of bytes, 0 or more (0: always start "
                         "the worker processes asked for)" % (THRESHOLD_ENV, text))
    return value


def record_bytes(pattern: str) -> Optional[int]:
    """The bytes of records in the local files matching `pattern` (a gzip
    file counts the size its trailer gives, or its own size if larger: the
    trailer holds the size mod 4 GiB); None for a pattern that is not local."""
    if not is_local(pattern):
        return None
    total = 0
    for path in glob.glob(local_path(pattern)):
        try:
            size = os.path.getsize(path)
            if is_gzip(path) and size >= 18:
                with open(path, "rb") as fh:
                    fh.seek(size - 4)
                    size = max(size, struct.unpack("<I", fh.read(4))[0])
        except OSError:
            continue  # the reader names it
        total += size
    return total


def _asked_workers(options) -> int:
    from apache_beam.options.pipeline_options import DirectOptions

    from pipeline.runtime.dataflow import runner_name
    runner = runner_name(options) or "DirectRunner"
    direct = options.view_as(DirectOptions)
    if runner.rsplit(".", 1)[-1] not in _LOCAL_RUNNERS or \
            direct.direct_running_mode != "multi_processing":
        return 1
    workers = direct.direct_num_workers
    return (os.cpu_count() or 1) if workers == 0 else (workers or 1)


def in_process_argv(beam_argv: Sequence[str]) -> list:
    """`beam_argv` without its running mode and worker count, so that the
    pipeline runs in this process."""
    names = ("--direct_running_mode", "--direct_num_workers")
    out, skip = [], False
    for arg in beam_argv:
        if skip:
            skip = False
            continue
        if arg in names:
            skip = True  # "--name value": drop the value too
            continue
        if arg.split("=", 1)[0] in names:
            continue
        out.append(arg)
    return out


def choose_workers(options, beam_argv: Sequence[str], pattern: str):
    """(Beam argv to run with, run.json's `workers` record or None).

    Unchanged unless the options ask DirectRunner for worker processes; then
    the record says how many were asked and ran, and the argv runs in this
    process when the input is too small for them (see the module's doc)."""
    asked = _asked_workers(options)
    if asked <= 1:
        return list(beam_argv), None
    size = record_bytes(pattern)
    need = min_bytes_per_extra_worker() * (asked - 1)
    if size is None or size >= need:
        return list(beam_argv), {"asked": asked, "ran": asked, "input_bytes": size}
    why = ("the input's %.0f MB of records are fewer than the %.0f MB that %d worker processes "
           "need to pay back their start (%s; docs/performance.md)"
           % (size / 1e6, need / 1e6, asked, "%s=0 starts them anyway" % THRESHOLD_ENV))
    log.warning("headeval: running in this process, not in %d worker processes: %s", asked, why)
    return in_process_argv(beam_argv), {"asked": asked, "ran": 1, "input_bytes": size,
                                        "why": why}


PARTS_PER_WORKER = 2  # pieces of work per worker: files of unequal size still balance


def work_parts(workers=None) -> int:
    """How many pieces of work the read should make (`ReadBatches(parts=)`):
    two per worker process of this run (`workers`: choose_workers' record),
    else 1 (files whole). Dataflow reads files whole: cutting one there
    would mean reading its headers from Cloud Storage on one worker first,
    and each part reading the records before it again (TensorFlow's reader
    cannot start at an offset); give a Dataflow job many files instead."""
    if workers is not None and workers["ran"] > 1:
        return PARTS_PER_WORKER * workers["ran"]
    return 1
