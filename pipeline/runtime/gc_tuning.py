"""Importing TensorFlow and Beam without the garbage collector's help.

The import makes ~420k objects, and the collections they set off took a
quarter of it (docs/performance.md). `import_uncollected` pauses the
collector for the import and then freezes everything imported: for the
CLI's own process only, which ends with the run.
"""
import gc
import importlib


def import_uncollected(module: str) -> None:
    """Imports `module` (e.g. the pipeline: TensorFlow, Beam, pyarrow) with the garbage
    collector paused, then freezes everything imported: for the CLI's own
    process only.

    The import makes ~420k objects, and the collections they set off took
    0.5-0.7 s of its 2.4-2.7 s here. Paused, it leaves ~3,700 unreachable
    objects (~7 MB) that a full collection would free in 0.23 s; frozen,
    they stay, as the imported modules do, until the process ends. Frozen
    objects are out of the collector's sight, so the full collections
    during the run do not scan them again (one took 0.2-0.3 s in a run over
    1M examples)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        importlib.import_module(module)
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
