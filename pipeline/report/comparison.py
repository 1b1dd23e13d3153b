"""comparison.parquet: the candidate's and the baseline's value of every
metric row side by side (SPEC §6), from one report's metrics (a run with a
baseline) or from two one-model reports (`headeval diff`).

Rows pair on (head, slice, metric, class, threshold, average, k, key), nulls
equal to nulls. delta = candidate - baseline; relative = delta / |baseline|,
null where the baseline is 0. A row only one model has is kept, the other
model's value null (and delta and relative null), never dropped: candidate
rows come first in their order, then the baseline's own. A NaN value (a
metric undefined on its slice) gives a NaN delta. delta_lower and
delta_upper stay null until intervals of the change are computed.
"""
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import HeadevalError
from pipeline.report.load import read_metrics_table, read_run
from pipeline.report.schema import BASELINE, CANDIDATE, COMPARISON_SCHEMA

PAIR_COLUMNS = ("head", "slice", "metric", "class", "threshold", "average", "k", "key")
_NULL = "\x00"  # stands for a null in the pairing key (no column's text holds it)


class ReportsDiffer(HeadevalError):
    """Two reports that `headeval diff` cannot compare (heads or slices differ)."""


def _pair_key(table: pa.Table) -> pa.Array:
    """One string per row joining PAIR_COLUMNS (nulls as _NULL), for pairing."""
    parts = []
    for name in PAIR_COLUMNS:
        column = table.column(name)
        if not pa.types.is_string(column.type):
            column = column.cast(pa.string())  # threshold: repr-exact text; k: digits
        parts.append(pc.fill_null(column, _NULL))
    return pc.binary_join_element_wise(*parts, "\x01")


def _check_unique(key: pa.Array, model: str):
    if len(pc.unique(key)) != len(key):
        counts = pc.value_counts(key)
        first = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
        raise HeadevalError("the %s's metrics hold the row %s more than once; cannot pair rows"
                            % (model, dict(zip(PAIR_COLUMNS, first.split("\x01")))))


def pair_tables(candidate: pa.Table, baseline: pa.Table) -> pa.Table:
    """The comparison of two metrics tables (METRICS_SCHEMA, one model each)."""
    c_key, b_key = _pair_key(candidate), _pair_key(baseline)
    _check_unique(c_key, CANDIDATE)
    _check_unique(b_key, BASELINE)
    match = pc.index_in(c_key, value_set=b_key)  # baseline row of each candidate row, or null
    only_baseline = pc.invert(pc.is_in(b_key, value_set=c_key))
    extra = baseline.filter(only_baseline)
    n_c, n_x = candidate.num_rows, extra.num_rows

    def labels(name):
        return pa.concat_arrays([candidate.column(name).combine_chunks(),
                                 extra.column(name).combine_chunks()])

    c_value = candidate.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    b_rows = match.fill_null(0).to_numpy(zero_copy_only=False)
    b_all = baseline.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    b_value = b_all[b_rows] if len(b_all) else np.zeros(n_c)
    b_missing = match.is_null().to_numpy(zero_copy_only=False)
    cand = np.concatenate([c_value, np.full(n_x, np.nan)])
    base = np.concatenate([b_value, extra.column("value").to_numpy(zero_copy_only=False)])
    cand_null = np.concatenate([np.zeros(n_c, bool), np.ones(n_x, bool)])
    base_null = np.concatenate([b_missing, np.zeros(n_x, bool)])
    either = cand_null | base_null
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = cand - base
        relative = delta / np.abs(base)
    columns = {name: labels(name) for name in COMPARISON_SCHEMA.names
               if name in candidate.schema.names and name != "value"}
    columns.update({
        "candidate": pa.array(cand, mask=cand_null),
        "baseline": pa.array(base, mask=base_null),
        "delta": pa.array(delta, mask=either),
        "relative": pa.array(relative, mask=either | (base == 0)),
        "delta_lower": pa.nulls(n_c + n_x, pa.float64()),
        "delta_upper": pa.nulls(n_c + n_x, pa.float64()),
    })
    return pa.table({f.name: columns[f.name].cast(f.type) for f in COMPARISON_SCHEMA},
                    schema=COMPARISON_SCHEMA)


def comparison_table(metrics: pa.Table) -> pa.Table:
    """comparison.parquet's table from a metrics table (METRICS_SCHEMA) that
    holds the candidate's rows and the baseline's (`model` column)."""
    model = metrics.column("model")
    return pair_tables(metrics.filter(pc.equal(model, CANDIDATE)),
                       metrics.filter(pc.equal(model, BASELINE)))


def has_baseline(metrics: pa.Table) -> bool:
    return pc.any(pc.equal(metrics.column("model"), BASELINE)).as_py() or False


def _names(values) -> str:
    return ", ".join(repr(v) if v == "" else str(v) for v in sorted(values)) or "none"


def _differences(a: pa.Table, b: pa.Table, run_a: dict, run_b: dict) -> list:
    """What keeps two candidates' metrics from lining up, as phrases."""
    out = []
    heads_a, heads_b = set(a.column("head").to_pylist()), set(b.column("head").to_pylist())
    if heads_a != heads_b:
        out.append("heads differ: A has %s, B has %s" % (_names(heads_a - heads_b),
                                                         _names(heads_b - heads_a)))
    types_a = {h.get("name") or "": h.get("type") for h in (run_a.get("config") or {})
               .get("heads") or []}
    types_b = {h.get("name") or "": h.get("type") for h in (run_b.get("config") or {})
               .get("heads") or []}
    for name in sorted(heads_a & heads_b):
        if types_a.get(name) and types_b.get(name) and types_a[name] != types_b[name]:
            out.append("head %s is %s in A, %s in B" % (repr(name) if name == "" else name,
                                                         types_a[name], types_b[name]))
    specs_a = set(a.column("slice_spec").to_pylist())
    specs_b = set(b.column("slice_spec").to_pylist())
    if specs_a != specs_b:
        out.append("slices differ: A has %s, B has %s" % (
            _names(specs_a - specs_b), _names(specs_b - specs_a)))
    return out


def candidate_rows(metrics: pa.Table) -> pa.Table:
    return metrics.filter(pc.equal(metrics.column("model"), CANDIDATE))


def diff_reports(folder_a: str, folder_b: str) -> pa.Table:
    """The comparison of two finished reports' candidates, A's as the
    candidate and B's as the baseline (no Beam). Refuses (ReportsDiffer, one
    line) reports whose heads, head types or slice specs differ; slices of a
    spec that only one report met are kept with the other side null."""
    run_a, run_b = read_run(folder_a), read_run(folder_b)
    a = candidate_rows(read_metrics_table(folder_a))
    b = candidate_rows(read_metrics_table(folder_b))
    differences = _differences(a, b, run_a, run_b)
    if differences:
        raise ReportsDiffer("%s and %s cannot be compared: %s"
                            % (folder_a, folder_b, "; ".join(differences)))
    return pair_tables(a, b)


def _cell(x) -> str:
    return "-" if x is None else "NaN" if x != x else "%.6g" % x


def format_comparison(table: pa.Table, max_rows: int = 40) -> str:
    """A short text table of a comparison: the overall slice's rows of every
    head (at most `max_rows`), then a line counting all rows."""
    overall = table.filter(pc.equal(table.column("slice"), "")).slice(0, max_rows)
    lines = [("head", "key", "candidate", "baseline", "delta", "relative")]
    for r in overall.to_pylist():
        lines.append((r["head"] or "-", r["key"], _cell(r["candidate"]), _cell(r["baseline"]),
                      _cell(r["delta"]), "-" if r["relative"] is None
                      else "%+.2f%%" % (100 * r["relative"]) if r["relative"] == r["relative"]
                      else "NaN"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                      enumerate(zip(line, widths))).rstrip() for line in lines]
    only_c = pc.sum(pc.is_null(table.column("baseline"))).as_py() or 0
    only_b = pc.sum(pc.is_null(table.column("candidate"))).as_py() or 0
    text.append("(overall slice; %d rows over %d slices in all, %d only in the candidate, %d "
                "only in the baseline)" % (table.num_rows, len(table.column("slice").unique()),
                                           only_c, only_b))
    return "\n".join(text) + "\n"
