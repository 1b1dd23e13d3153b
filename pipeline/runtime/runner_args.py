"""Beam options as the CLI and the demo pass them: the in-process runner by
default.

DirectRunner in Beam 2.77 first tries to download the Prism binary, which
fails or hangs without network; the FnApiRunner runs the same pipeline in
this process (docs/performance.md measures it).
"""
from typing import Optional, Sequence

from pipeline.errors import UsageError

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


def check_runner(name: str) -> None:
    """Refuses a `--runner` Beam does not know, in one line (Beam raised it
    with a traceback from deep inside `Pipeline()`, after the report's
    folder was made). Creating a runner object only imports its class."""
    from apache_beam.runners.runner import PipelineRunner, create_runner
    try:
        runner = create_runner(name)
    except (ValueError, ImportError, AttributeError) as e:
        raise UsageError("--runner=%s: %s" % (name, str(e).splitlines()[0] if str(e) else
                                              type(e).__name__)) from e
    if not isinstance(runner, PipelineRunner):
        raise UsageError("--runner=%s is not a Beam PipelineRunner" % name)
