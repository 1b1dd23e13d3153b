"""Reading a finished report back: the one home of the readers that `show`,
`report`, `demo` and the HTML page share. Any Beam filesystem works."""
from dataclasses import dataclass

from pipeline.errors import HeadevalError
from pipeline.io.files import read_json, read_table
from pipeline.io.paths import join
from pipeline.report.schema import CURVES_FILE, METRICS_FILE, RUN_FILE


@dataclass
class Report:
    """A report folder read into memory: metrics rows, curve columns
    ({column: [values]} of curves.parquet, or None) and run.json (or None)."""
    folder: str
    rows: list
    curves: dict
    run: dict


def read_metrics_rows(folder: str) -> list:
    """metrics.parquet of a report folder as row dicts; HeadevalError when
    there is none to read."""
    try:
        return read_table(join(folder, METRICS_FILE)).to_pylist()
    except (OSError, IOError) as e:
        raise HeadevalError("%s is not a headeval report: cannot read %s (%s)"
                            % (folder, METRICS_FILE, e)) from e


def read_run(folder: str):
    """run.json of a report folder, or None when it is absent or unreadable
    (an incomplete report: show what is there)."""
    try:
        return read_json(join(folder, RUN_FILE))
    except (OSError, IOError, ValueError):
        return None


def read_curves(folder: str):
    """curves.parquet of a report folder as {column: [values]}, or None."""
    try:
        return read_table(join(folder, CURVES_FILE)).to_pydict()
    except (OSError, IOError):
        return None


def load_report(folder: str) -> Report:
    """Reads metrics.parquet (required), curves.parquet and run.json (both
    optional: a page is still written, saying what is missing)."""
    return Report(folder, read_metrics_rows(folder), read_curves(folder), read_run(folder))
