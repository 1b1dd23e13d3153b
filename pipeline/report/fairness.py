"""The fairness view: each slice's rates against the overall slice's.

`metrics: {fairness: {rates: [fpr, fnr], thresholds: [0.5]}}` adds, for
every slice but the overall one, two rows per rate row of that slice:

    <rate>_difference = slice value - overall value
    <rate>_ratio      = slice value / overall value   (NaN when overall is 0)

where the overall value is the same metric (same model, head and key: same
class, threshold, average) on the overall slice. The rows are computed from
the metrics table once every slice is in (no per-example work), and keep the
rate row's columns (class, threshold, average, k, model, slice columns);
their key is the rate row's with its metric name replaced (`fnr_difference/
positive_threshold_0.5`). A rate is a short name (`spec.FAIRNESS_RATES`:
fpr, fnr, tpr, tnr, ppv, npv) or any metric name (`accuracy`, a custom
metric...). `fnr` falls back to 1 - recall where the table has no
false_negative_rate rows.
"""
import logging
from typing import Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config.spec import FAIRNESS_RATES
from pipeline.report.schema import METRICS_SCHEMA

log = logging.getLogger(__name__)

DIFFERENCE = "difference"
RATIO = "ratio"


def _join_key(table):
    """model, head and key of each row as one string (NUL-separated)."""
    return pc.binary_join_element_wise(*(table.column(c) for c in ("model", "head", "key")),
                                       "\x00")


def _rate_rows(metrics: pa.Table, rate: str, thresholds: Optional[Sequence[float]]):
    """(metric name read, its rows, transformed values) of one rate."""
    name = FAIRNESS_RATES.get(rate, rate)
    rows = _select(metrics, name, thresholds)
    if rows.num_rows == 0 and rate == "fnr":  # FN / (TP + FN) = 1 - recall
        name = FAIRNESS_RATES["tpr"]
        rows = _select(metrics, name, thresholds)
        rows = rows.set_column(rows.schema.get_field_index("value"), "value",
                               pc.subtract(1.0, rows.column("value")))
    return name, rows


def _select(metrics, name, thresholds):
    mask = pc.equal(metrics.column("metric"), name)
    if thresholds is not None:
        wanted = pa.array(np.asarray(thresholds, np.float64))
        mask = pc.and_(mask, pc.fill_null(pc.is_in(metrics.column("threshold"), wanted), False))
    return metrics.filter(mask)


def fairness_rows(metrics: pa.Table, rates: Sequence[str],
                  thresholds: Optional[Sequence[float]] = None) -> pa.Table:
    """The fairness rows (METRICS_SCHEMA) of a metrics table: see the module
    docstring. A rate with no rows in `metrics` adds none (logged)."""
    metrics = metrics.cast(METRICS_SCHEMA)
    parts = []
    for rate in rates:
        name, rows = _rate_rows(metrics, rate, thresholds)
        if rows.num_rows == 0:
            log.warning("headeval: fairness rate %r: the report has no %r rows%s", rate, name,
                        "" if thresholds is None else " at thresholds %s" % list(thresholds))
            continue
        is_overall = pc.equal(rows.column("slice"), "")
        overall, joined = rows.filter(is_overall), rows.filter(pc.invert(is_overall))
        if joined.num_rows == 0:
            continue
        # The overall row of each row: same model, head and key.
        at = pc.index_in(_join_key(joined), value_set=_join_key(overall))
        base = pc.fill_null(pc.take(overall.column("value"), at), np.nan)
        value = joined.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
        base = base.to_numpy(zero_copy_only=False).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(base != 0, value / base, np.nan)
        key = joined.column("key")
        tail = pc.if_else(pc.starts_with(key, name),
                          pc.utf8_slice_codeunits(key, len(name)),
                          pc.binary_join_element_wise("/", key, ""))
        for kind, values in ((DIFFERENCE, value - base), (RATIO, ratio)):
            new_name = "%s_%s" % (rate, kind)
            part = joined
            for column, array in (("metric", pa.array([new_name] * part.num_rows, pa.string())),
                                  ("value", pa.array(values, pa.float64())),
                                  ("key", pc.binary_join_element_wise(new_name, tail, ""))):
                part = part.set_column(part.schema.get_field_index(column), column, array)
            for column in ("lower", "upper", "stderr"):
                part = part.set_column(part.schema.get_field_index(column), column,
                                       pa.nulls(part.num_rows, pa.float64()))
            parts.append(part.select(METRICS_SCHEMA.names).cast(METRICS_SCHEMA))
    if not parts:
        return METRICS_SCHEMA.empty_table()
    return pa.concat_tables(parts)


def with_fairness(metrics: pa.Table, fairness) -> pa.Table:
    """`metrics` with the fairness rows of `fairness` (a
    `pipeline.config.FairnessConfig`, or None: `metrics` as it is)."""
    if fairness is None:
        return metrics
    extra = fairness_rows(metrics, fairness.rates, fairness.thresholds)
    return pa.concat_tables([metrics.cast(METRICS_SCHEMA), extra]) if extra.num_rows else metrics
