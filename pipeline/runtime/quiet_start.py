"""TensorFlow's start-up notes kept off the CLI's stderr.

Importing TensorFlow writes C++ log lines straight to file descriptor 2,
before its logging reads TF_CPP_MIN_LOG_LEVEL: absl's "All log messages
before absl::InitializeLog() ..." warning and "Could not find cuda drivers"
(twice), on every run, successful or not; and, where there is no GPU,
"failed call to cuInit" when the devices are first listed. A CLI that promises one line per
failure cannot have them. `import_quietly` runs an import with descriptor 2
pointed at a temporary file and then writes back every line of it that is
not one of those notes, so anything else TensorFlow says still shows.
"""
import contextlib
import os
import re
import sys
import tempfile

# The notes, as TensorFlow 2.21 writes them (anything else is written back).
START_UP_NOTES = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} [\d:. ]+\d+ \S+\.cc:\d+\] "  # absl INFO lines (cuda stubs, oneDNN, CPU features)
    r"|E\d{4} [\d:. ]+\d+ cuda_platform\.cc:\d+\] failed call to cuInit: .*"  # no GPU here
    r"|.*cpu_feature_guard\.cc.*|To enable the following instructions: .*"
    r"|.*oneDNN custom operations are on.*|.*TF_ENABLE_ONEDNN_OPTS.*")


@contextlib.contextmanager
def _stderr_to(file):
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(file.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_quietly(importer) -> None:
    """Calls `importer()` (an import) with TensorFlow's start-up notes left
    out of stderr; every other line it writes there is written back."""
    with tempfile.TemporaryFile() as captured:
        try:
            with _stderr_to(captured):
                importer()
        finally:
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(True)
                    if not START_UP_NOTES.match(line.rstrip("\n"))]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
