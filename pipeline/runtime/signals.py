"""Ctrl-C and SIGTERM while a command runs: one line, exit 130 or 143.

The CLI's own handler records the signal and interrupts the main thread as
Ctrl-C does, so the run unwinds (removing its temporary folder). Beam
re-raises a KeyboardInterrupt in a bundle as a RuntimeError
("KeyboardInterrupt [while running ...]": it cannot rebuild one with its step
name) and logs its traceback, so whatever exception then ends the command,
`interruption` reports the signal, and log records after it are dropped.
"""
import contextlib
import logging
import signal
import threading

SIGNALS = {"SIGINT": (130, "interrupted"), "SIGTERM": (143, "terminated (SIGTERM)")}
received = []  # the signals received while `signals_interrupt` ran, first first


def _on_signal(signum, frame):
    """Records the signal, then interrupts the main thread as Ctrl-C does:
    the run unwinds, removing its temporary folder."""
    received.append(signum)
    raise KeyboardInterrupt


class _DropAfterInterrupt(logging.Filter):
    """After a signal, what Beam logs (the traceback of the interrupted
    bundle) is noise: the one line says what happened."""

    def filter(self, record):
        return not received


@contextlib.contextmanager
def signals_interrupt():
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (and
    are recorded) while the block runs; the old handlers come back after."""
    received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in SIGNALS:
        number = getattr(signal, name)
        if signal.getsignal(number) is not signal.SIG_IGN:  # nohup, `cmd &` keep theirs
            previous[number] = signal.signal(number, _on_signal)
    drop, handlers = _DropAfterInterrupt(), list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(drop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for handler in handlers:
            handler.removeFilter(drop)


def check() -> None:
    """Raises KeyboardInterrupt if a signal was received. The handler raised
    one already, but where it lands inside a `__del__` or a C callback
    (TensorFlow has many), Python prints it as "Exception ignored" and drops
    it, and the run would go on to replace the old report; the read checks
    between batches and the run before it commits."""
    if received:
        raise KeyboardInterrupt


def interruption(exc):
    """(exit code, words) when `exc` ends the command because of a signal
    or Ctrl-C (recorded, or a KeyboardInterrupt that Beam wrapped); else None."""
    if received:
        return SIGNALS[signal.Signals(received[0]).name]
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt):
            return SIGNALS["SIGINT"]
        exc = exc.__cause__ or exc.__context__
    return None
