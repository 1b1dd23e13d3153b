"""Beam options as the CLI and the demo pass them: the in-process runner by
default.

DirectRunner in Beam 2.77 first tries to download the Prism binary, which
fails or hangs without network; the FnApiRunner runs the same pipeline in
this process (docs/performance.md measures it).
"""
from typing import Optional, Sequence

DEFAULT_RUNNER = "FnApiRunner"


def names_runner(argv: Sequence[str]) -> bool:
    """True when Beam options `argv` choose a runner."""
    return any(a == "--runner" or a.startswith("--runner=") for a in argv)


def with_default_runner(argv: Optional[Sequence[str]]) -> list:
    """`argv` with --runner=FnApiRunner first when it names no runner."""
    argv = list(argv or [])
    if not names_runner(argv):
        argv.insert(0, "--runner=%s" % DEFAULT_RUNNER)
    return argv
