"""Reading a finished report back: the one home of the readers that `show`,
`report`, `demo` and the HTML page share. Any Beam filesystem works.

A folder is a report once its run.json (written last, with the
`headeval_report` marker of a format this version reads, and counts that
add up) is there: without it the folder is a run still writing or one that
failed, and is refused, as is a missing metrics.parquet (and, for the HTML
page, a missing curves.parquet, which every run writes). A file that is
there but damaged (not Parquet or JSON, a failing page checksum, a column
missing or of another type, run.json fields of the wrong kind) is a `DamagedReportError` naming it, in
one line: never a traceback, and never numbers read from a broken file.
"""
from dataclasses import dataclass
from numbers import Number

import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from pipeline.errors import DamagedReportError, HeadevalError
from pipeline.io.files import read_json, read_table
from pipeline.io.paths import join
from pipeline.report.schema import (CANDIDATE, CURVES_BASE_SCHEMA, CURVES_FILE, CURVES_SCHEMA,
                                    METRICS_BASE_SCHEMA, METRICS_FILE, METRICS_SCHEMA,
                                    REJECTED_DIR, REJECTED_SCHEMA, REPORT_FORMAT,
                                    REPORT_MARKER, RUN_FILE, slice_columns)

# run.json's fields that the readers use, and what each must be.
_RUN_FIELDS = {"counts": dict, "config": dict, "wall_seconds": Number, "runner": str,
               "config_file": str, "output": str, "started": str, "finished": str,
               "beam_options": list, "versions": dict, "undefined_metrics": dict,
               "validation": dict}
_COUNT_FIELDS = ("read", "evaluated", "rejected")


@dataclass
class Report:
    """A report folder read into memory: metrics rows, curve columns
    ({column: [values]} of curves.parquet, or None) and run.json (or None)."""
    folder: str
    rows: list
    curves: dict
    run: dict


def _first_line(error) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _column_problem(table: pa.Table, schema: pa.Schema):
    """Why `table` does not hold `schema`'s columns, or None. More columns
    are fine (a later format adds some); the dictionary-encoded string
    columns the writer makes read back as dictionaries."""
    for field in schema:
        if field.name not in table.schema.names:
            return "it has no column %r" % field.name
        kind = table.schema.field(field.name).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_large_string(kind):
            kind = pa.string()
        if kind != field.type:
            return "column %r is %s, not %s" % (field.name, kind, field.type)
        if not field.nullable and table.column(field.name).null_count:
            return "column %r holds nulls" % field.name
    return None


def read_report_table(folder: str, name: str, schema: pa.Schema | None = None):
    """The table of report file `name` (a path under `folder`), None when
    the file is not there; DamagedReportError when it is not Parquet or
    lacks a column of `schema` (None: any columns)."""
    path = join(folder, name)
    if not FileSystems.exists(path):
        return None
    try:
        table = read_table(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DamagedReportError("%s is damaged: %s" % (path, _first_line(e)), path) from e
    why = None if schema is None else _column_problem(table, schema)
    if why is not None:
        raise DamagedReportError("%s is not a headeval %s: %s" % (path, name, why), path)
    return table


def read_metrics_rows(folder: str) -> list:
    """metrics.parquet of a report folder as row dicts; HeadevalError when
    there is none to read, DamagedReportError when it is damaged."""
    return read_metrics_table(folder).to_pylist()


def read_metrics_table(folder: str) -> pa.Table:
    """metrics.parquet of a report folder as a pyarrow Table; errors as
    read_metrics_rows."""
    table = read_report_table(folder, METRICS_FILE, METRICS_BASE_SCHEMA)
    if table is None:
        raise HeadevalError("%s is not a headeval report: it has no %s" % (folder, METRICS_FILE))
    return with_added_columns(table, METRICS_SCHEMA, join(folder, METRICS_FILE))


def with_added_columns(table: pa.Table, schema: pa.Schema, path: str) -> pa.Table:
    """`table` with `schema`'s columns in its order. A report written before
    SPEC §6 lacks the added ones: its rows are the candidate's, without
    interval, average or k, and the slice columns follow from `slice`. A
    column that is there but of another type is a DamagedReportError."""
    columns = {}
    for field in schema:
        if field.name in table.schema.names:
            column = table.column(field.name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            try:
                columns[field.name] = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
                raise DamagedReportError("%s: column %r is %s, not %s"
                                         % (path, field.name, column.type, field.type),
                                         path) from e
        elif field.name == "model":
            columns[field.name] = pa.array([CANDIDATE] * table.num_rows, pa.string())
        elif field.name in ("slice_spec", "slice_values"):
            distinct = table.column("slice").unique()
            parts = [slice_columns(s) for s in distinct.to_pylist()]
            index = pc.index_in(table.column("slice"), value_set=distinct)
            chosen = [p[0] if field.name == "slice_spec" else p[1] for p in parts]
            columns[field.name] = pa.array(chosen, field.type).take(index)
        else:
            columns[field.name] = pa.nulls(table.num_rows, field.type)
    return pa.table(columns, schema=schema)


def _run_problem(run):
    """Why `run` (run.json read as JSON) is not what a run writes, or None."""
    if not isinstance(run, dict):
        return "it holds a JSON %s, not an object" % type(run).__name__
    for field, kind in _RUN_FIELDS.items():
        value = run.get(field)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return "field %r is %s, not %s" % (field, type(value).__name__,
                                               "a number" if kind is Number else kind.__name__)
    for field in _COUNT_FIELDS:
        value = (run.get("counts") or {}).get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return "field 'counts.%s' is %s, not an integer" % (field, type(value).__name__)
    heads = (run.get("config") or {}).get("heads")
    if heads is not None and not (isinstance(heads, list)
                                  and all(isinstance(h, dict) for h in heads)):
        return "field 'config.heads' is not a list of objects"
    if any(not isinstance(a, str) for a in run.get("beam_options") or []):
        return "field 'beam_options' is not a list of strings"
    return None


def _counts_problem(run):
    """Why run.json's counts cannot be a run's (read != evaluated +
    rejected: a run never writes that), or None."""
    counts = run.get("counts") or {}
    read, evaluated, rejected = (counts.get(k) for k in _COUNT_FIELDS)
    if None in (read, evaluated, rejected) or read == evaluated + rejected:
        return None
    return ("its counts do not add up: %d records read, %d evaluated + %d rejected = %d"
            % (read, evaluated, rejected, evaluated + rejected))


def read_run(folder: str) -> dict:
    """run.json of a report folder. HeadevalError when it is absent (a run
    still writing the folder, or one that failed: run.json is written
    last) or from a newer headeval; DamagedReportError when it is not JSON,
    lacks our marker, or is not what a run writes."""
    path = join(folder, RUN_FILE)
    if not FileSystems.exists(path):
        raise HeadevalError("%s is not a complete headeval report: it has no %s (a run that is "
                            "still writing it, or failed)" % (folder, RUN_FILE), path)
    try:
        run = read_json(path)
    except (OSError, ValueError) as e:  # ValueError: not JSON, or not UTF-8
        raise DamagedReportError("%s is damaged: %s" % (path, _first_line(e)), path) from e
    if isinstance(run, dict) and REPORT_MARKER not in run:
        raise DamagedReportError("%s is not a headeval report (its %s has no %s marker)"
                                 % (folder, RUN_FILE, REPORT_MARKER), path)
    why = _run_problem(run)
    if why is None:
        marker = run[REPORT_MARKER]
        if not isinstance(marker, int) or isinstance(marker, bool) or marker < 1:
            why = "field %r is %r, not a report format number" % (REPORT_MARKER, marker)
        elif marker > REPORT_FORMAT:
            raise HeadevalError("%s was written by a newer headeval (report format %d; this "
                                "one reads %d)" % (folder, marker, REPORT_FORMAT), path)
    if why is not None:
        raise DamagedReportError("%s is not a headeval %s: %s" % (path, RUN_FILE, why), path)
    why = _counts_problem(run)
    if why is not None:
        raise DamagedReportError("%s is damaged: %s" % (path, why), path)
    return run


def read_curves(folder: str):
    """curves.parquet of a report folder as {column: [values]}, or None
    when there is none; DamagedReportError when it is damaged."""
    table = read_report_table(folder, CURVES_FILE, CURVES_BASE_SCHEMA)
    if table is None:
        return None
    return with_added_columns(table, CURVES_SCHEMA, join(folder, CURVES_FILE)).to_pydict()


def read_rejected_table(folder: str) -> pa.Table:
    """The examples a `bad_examples: skip` run rejected (rejected/*.parquet,
    its shards in name order) as one table of REJECTED_SCHEMA; no rows when
    there are none, or no rejected/ folder. DamagedReportError as above."""
    pattern = join(folder, REJECTED_DIR, "*.parquet")
    try:
        matches = FileSystems.match([pattern])[0].metadata_list
    except (OSError, ValueError):  # no such folder (BeamIOError is an OSError)
        matches = []
    base = join(folder, REJECTED_DIR)
    names = sorted(m.path[len(base):].lstrip("/\\") for m in matches)
    parts = [read_report_table(base, name, REJECTED_SCHEMA) for name in names]
    parts = [t.select(REJECTED_SCHEMA.names).cast(REJECTED_SCHEMA) for t in parts if t is not None]
    return pa.concat_tables(parts) if parts else REJECTED_SCHEMA.empty_table()


def load_report(folder: str) -> Report:
    """Reads metrics.parquet, run.json and curves.parquet, all required (a
    run writes curves.parquet even when it holds no curve)."""
    rows, run = read_metrics_rows(folder), read_run(folder)
    curves = read_curves(folder)
    if curves is None:
        raise HeadevalError("%s is not a complete headeval report: it has no %s (every run "
                            "writes it)" % (folder, CURVES_FILE), join(folder, CURVES_FILE))
    return Report(folder, rows, curves, run)
