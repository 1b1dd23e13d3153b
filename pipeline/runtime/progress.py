"""Progress of a long local run: records read and examples/s on stderr.

    headeval: 1,245,184 records read · 41,380 examples/s (last 5 s) · 38,950/s overall · 0:32

`EvaluateBatches` (pipeline.evaluate.stage) calls `tracker()` in `setup` and
`Progress.add(n)` once per record batch: a lock and a clock read per batch of
thousands of records, nothing per record. A line goes to stderr at most
every `INTERVAL` seconds.

Where it prints: the evaluation DoFn runs in whichever process executes the
bundle. With the in-process FnApiRunner (headeval's default) that is the
driver, so the lines go to the terminal `headeval run` was started from.
With `--direct_running_mode=multi_processing` each SDK worker is a
subprocess that inherits the driver's stderr and environment: each prints
its own counts, tagged with its worker id (Beam sets WORKER_ID). On
Dataflow stderr is not a terminal and nothing is printed.

When: on when stderr is a terminal; off under `headeval run --quiet`, which
sets HEADEVAL_PROGRESS=0 for the run (workers inherit it); HEADEVAL_PROGRESS=1
prints even when stderr is not a terminal (a log file), and
HEADEVAL_PROGRESS_INTERVAL sets the seconds between lines. Counters are
per process; `reset()` (the CLI calls it before a run) starts them again.
"""
import contextlib
import os
import sys
import threading
import time
from typing import Callable, Iterator, Mapping, Optional, TextIO

ENV = "HEADEVAL_PROGRESS"
INTERVAL_ENV = "HEADEVAL_PROGRESS_INTERVAL"
INTERVAL = 5.0

_lock = threading.Lock()
_tracker = None


def enabled(stream: Optional[TextIO] = None, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether this process should print progress to `stream` (stderr)."""
    environ = os.environ if environ is None else environ
    setting = environ.get(ENV, "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _clock_text(seconds):
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return ("%d:%02d:%02d" % (hours, minutes, seconds) if hours
            else "%d:%02d" % (minutes, seconds))


class Progress:
    """Counts records and prints a line when `interval` seconds have passed
    since the last one (the first `interval` seconds after it is made: the
    DoFn's setup, just before the first batch).
    Thread-safe: DoFn instances on several threads of one process share one."""

    def __init__(self, stream: Optional[TextIO] = None, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic, label: Optional[str] = None):
        self._stream = stream
        self._interval = float(interval)
        self._clock = clock
        self._label = label
        self._lock = threading.Lock()
        self.records = 0
        self.lines = 0
        self._start = self._last_time = clock()
        self._next = self._start + self._interval
        self._last_records = 0

    def add(self, n: int) -> None:
        """Counts `n` records read; prints when a line is due. Per batch."""
        now = self._clock()
        with self._lock:
            self.records += int(n)
            if now < self._next:
                return
            line = self._line(now)
            self._last_time, self._last_records = now, self.records
            self._next = now + self._interval
            self.lines += 1
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr: progress is optional
            pass

    def _line(self, now):
        elapsed = max(now - self._start, 1e-3)
        recent = max(now - self._last_time, 1e-3)
        rate_recent = (self.records - self._last_records) / recent
        rate_all = self.records / elapsed
        prefix = "headeval" + (" [%s]" % self._label if self._label else "")
        return "%s: %s records read · %s examples/s (last %.0f s) · %s/s overall · %s" % (
            prefix, "{:,}".format(self.records), "{:,.0f}".format(rate_recent), recent,
            "{:,.0f}".format(rate_all), _clock_text(elapsed))


def tracker() -> Optional[Progress]:
    """The process's Progress, or None when progress is off (see the module
    docstring). Call once per DoFn setup, not per batch."""
    global _tracker
    if not enabled():
        return None
    with _lock:
        if _tracker is None:
            worker = os.environ.get("WORKER_ID")
            _tracker = Progress(interval=_interval(), label=worker or None)
        return _tracker


def _interval():
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, INTERVAL)))
    except ValueError:
        return INTERVAL


def reset() -> None:
    """Forgets this process's counts (a new run starts from zero)."""
    global _tracker
    with _lock:
        _tracker = None


@contextlib.contextmanager
def quiet(on: bool = True) -> Iterator[None]:
    """Within the block, progress is off in this process and in the worker
    processes it starts (HEADEVAL_PROGRESS=0); the setting is restored after."""
    if not on:
        yield
        return
    old = os.environ.get(ENV)
    os.environ[ENV] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old
