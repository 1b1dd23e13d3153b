"""Importing TensorFlow and Beam without the garbage collector's help.

The import makes hundreds of thousands of objects, and the collections they
set off take a good part of its time (docs/performance.md has the figures).
`import_uncollected` pauses the collector for the import and then freezes
everything imported: for the CLI's own process only, which ends with the run.
"""
import gc
import importlib


def import_uncollected(module: str) -> None:
    """Imports `module` (e.g. the pipeline: TensorFlow, Beam, pyarrow) with the garbage
    collector paused, then freezes everything imported: for the CLI's own
    process only.

    Paused, the import leaves a few thousand unreachable objects that a full
    collection would free; frozen, they stay, as the imported modules do,
    until the process ends. Frozen objects are out of the collector's sight,
    so the full collections during the run do not scan them again
    (docs/performance.md has the figures)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        importlib.import_module(module)
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
