"""Beam options as the CLI and the demo pass them: the in-process runner by
default.

DirectRunner in Beam 2.77 first tries to download the Prism binary, which
fails or hangs without network; the FnApiRunner runs the same pipeline in
this process (docs/performance.md measures it).
"""
import contextlib
import difflib
import io
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


class _GotParser(Exception):
    """Carries Beam's option parser out of `get_all_options`."""


def _beam_parser():
    """The argparse parser Beam builds from every PipelineOptions subclass
    imported now (Dataflow's, a user's own), through the public
    `add_extra_args_fn` hook: Beam's own rules, none copied here."""
    from apache_beam.options.pipeline_options import PipelineOptions

    def grab(parser):
        raise _GotParser(parser)
    try:
        PipelineOptions([]).get_all_options(add_extra_args_fn=grab)
    except _GotParser as e:
        return e.args[0]
    raise RuntimeError("Beam's get_all_options did not call add_extra_args_fn")


def _parse(parser, argv):
    """(namespace, unknown arguments) of Beam's `parser`; its own errors
    (a value of the wrong type, a choice it lacks) as one UsageError line,
    instead of Beam's usage text."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return parser.parse_known_args(list(argv))
    except SystemExit as e:
        lines = [line for line in captured.getvalue().splitlines() if "error: " in line]
        why = lines[-1].split("error: ", 1)[1] if lines else "invalid Beam options"
        raise UsageError(why[len("argument "):] if why.startswith("argument ") else why) from e


def check_beam_argv(argv: Optional[Sequence[str]], own_options: Sequence[str] = ()) -> None:
    """Refuses, in one line (UsageError: exit 2), Beam options that Beam
    would ignore or fail on with a traceback: an option that is neither one
    of `own_options` (the command's, named in the suggestion) nor a Beam
    pipeline option (Beam only logs a warning, so `--ouput DIR` used to be
    a silent no-op), a stray argument, a value Beam's parser refuses, an
    empty `--runner=` and a negative `--direct_num_workers`."""
    argv = list(argv or [])
    if not argv:
        return
    parser = _beam_parser()
    namespace, unknown = _parse(parser, argv)
    if unknown:
        first = unknown[0]
        if not first.startswith("-") or first in ("-", "--"):
            raise UsageError("unexpected argument %r (Beam options are written --name=value)"
                             % first)
        name = first.split("=", 1)[0]
        beam_names = [s for action in parser._actions for s in action.option_strings]
        close = difflib.get_close_matches(name, list(own_options) + beam_names, n=1)
        raise UsageError("unknown option %s (not a headeval option nor a Beam pipeline option%s)"
                         % (name, "; did you mean %s?" % close[0] if close else ""))
    if getattr(namespace, "runner", None) == "":
        raise UsageError("--runner is empty: name a runner, e.g. --runner=%s" % DEFAULT_RUNNER)
    workers = getattr(namespace, "direct_num_workers", None)
    if isinstance(workers, int) and workers < 0:
        raise UsageError("--direct_num_workers=%d: must be 0 or more (0: Beam's default)"
                         % workers)
