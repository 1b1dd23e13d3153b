"""Report files written from row dicts, as the pipeline's report stage writes
them (its tables through the one schema definition)."""
from pipeline.io.files import write_table
from pipeline.report.schema import CURVES_SCHEMA, METRICS_SCHEMA, check_curves, rows_to_table


def write_metrics(rows, path):
    """metrics.parquet from row dicts: head, slice, metric, class, threshold, value, key."""
    write_table(rows_to_table(rows, METRICS_SCHEMA), path)


def write_curves(rows, path):
    """curves.parquet from row dicts (curve kinds checked)."""
    write_table(check_curves(rows_to_table(rows, CURVES_SCHEMA)), path)
