"""Standard output while a command runs: a failed write is one error line.

A write or flush that fails (a full disk, a closed descriptor) is an
`OutputLost` (one line, exit 1) instead of a traceback; a reader that went
away (`| head -1`) is a `PipeClosed`, which ends the command quietly.
"""
import contextlib
import os
import sys

from pipeline.errors import HeadevalError


class OutputLost(HeadevalError):
    """Standard output could not be written (a full disk, a closed
    descriptor): the command's output is lost, so it fails."""


class PipeClosed(Exception):
    """The reader of standard output went away (`| head -1`): it wanted no
    more, so the command ends quietly."""


class _Stdout:
    """sys.stdout while a command runs: a write or flush that fails is an
    `OutputLost` (one line, exit 1) instead of a traceback, and a closed
    standard output (`>&-`: sys.stdout is None) fails on the first write."""

    def __init__(self, stream):
        self.stream = stream

    def _guard(self, operation):
        if self.stream is None:
            raise OutputLost("cannot write to standard output: it is closed")
        try:
            return operation(self.stream)
        except BrokenPipeError as e:
            raise PipeClosed() from e
        except (OSError, ValueError) as e:  # ValueError: a closed file object
            raise OutputLost("cannot write to standard output: %s"
                             % (getattr(e, "strerror", None) or e)) from e

    def write(self, text):
        return self._guard(lambda stream: stream.write(text))

    def writelines(self, lines):
        return self._guard(lambda stream: stream.writelines(lines))

    def flush(self):
        return self._guard(lambda stream: stream.flush())

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def guarded_stdout():
    """`_Stdout` in place of sys.stdout for the block, flushed at its end
    (what a command printed is written, or fails, before it returns)."""
    guarded = _Stdout(sys.stdout)
    sys.stdout = guarded
    try:
        yield
        guarded.flush()
    finally:
        if sys.stdout is guarded:
            sys.stdout = guarded.stream


def quiet_after_broken_pipe():
    """After the reader closed the pipe, what is still buffered for it
    goes nowhere, not into an error at exit (Python's documented recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
