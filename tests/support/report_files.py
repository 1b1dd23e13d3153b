"""Report files written from row dicts, as the pipeline's report stage writes
them (its tables through the one schema definition)."""
from pipeline.io.files import write_json, write_table
from pipeline.io.paths import join
from pipeline.report.schema import (CANDIDATE, CURVES_FILE, CURVES_SCHEMA, METRICS_FILE,
                                    METRICS_SCHEMA, REPORT_FORMAT, REPORT_MARKER, RUN_FILE,
                                    check_curves, rows_to_table, slice_columns)


def full_metric_row(row):
    """A metrics row dict with SPEC §6's columns a row of §4's lacks: the
    candidate's, no average, k or interval, the slice columns from `slice`."""
    spec, values = slice_columns(row["slice"])
    full = {"model": CANDIDATE, "average": None, "k": None, "lower": None, "upper": None,
            "stderr": None, "slice_spec": spec, "slice_values": values}
    full.update(row)
    return full


def write_metrics(rows, path):
    """metrics.parquet from row dicts: head, slice, metric, class, threshold,
    value, key (and any of SPEC §6's columns; `full_metric_row` fills the rest)."""
    write_table(rows_to_table([full_metric_row(r) for r in rows], METRICS_SCHEMA), path)


def write_curves(rows, path):
    """curves.parquet from row dicts (curve kinds checked; `model` candidate
    unless given)."""
    rows = [{"model": CANDIDATE, **r} for r in rows]
    write_table(check_curves(rows_to_table(rows, CURVES_SCHEMA)), path)


def write_run(folder, **fields):
    """A minimal valid run.json in `folder` (any Beam filesystem): our marker
    and format, counts that add up, then `fields` (e.g. config={...})."""
    run = {REPORT_MARKER: REPORT_FORMAT,
           "counts": {"read": 0, "evaluated": 0, "rejected": 0}}
    run.update(fields)
    write_json(run, join(str(folder), RUN_FILE))
    return run


def write_complete(folder, metrics_rows, curve_rows=(), **run_fields):
    """A complete report folder: metrics.parquet, curves.parquet (no curve
    by default: a run writes it even then) and run.json."""
    folder = str(folder)
    write_metrics(metrics_rows, join(folder, METRICS_FILE))
    write_curves(list(curve_rows), join(folder, CURVES_FILE))
    return write_run(folder, **run_fields)
