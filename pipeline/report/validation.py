"""Validation gates checked against a report's tables: validation.parquet,
run.json's `validation` and the BLESSED / NOT_BLESSED file (README,
"Validation gates"; the gates' config is pipeline.config.validation).

Every row a gate selects must pass. A bound gate checks the candidate's
value: `lower_bound` passes when value >= bound, `upper_bound` when value <=
bound. A change gate checks it against the baseline's value of the same row:
bound = baseline + allowed (absolute) or baseline + allowed x |baseline|
(relative), and it passes when value >= bound for a higher-is-better metric,
value <= bound for a lower-is-better one; so `passed` always follows from
validation.parquet's value, bound and kind. A row fails, with its reason,
when its value (or baseline) is NaN (undefined on the slice) or missing, and
a relative change fails where the baseline is 0 (no relative change is
defined). A gate that selects no row fails as one row naming what it looked
for, and so does each of its slice globs that matches no slice: a typo never
passes.

A run with gates writes validation.parquet and BLESSED (every gate passed)
or NOT_BLESSED (one failed); a run without gates writes neither, and its
run.json says so (`validation.note`): silence is not a blessing.
"""
import fnmatch

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from pipeline.config.spec import HIGHER
from pipeline.config.validation import CHANGE_RELATIVE, LOWER_BOUND
from pipeline.io.files import read_table, write_json, write_table
from pipeline.io.paths import join
from pipeline.report.comparison import (candidate_rows, comparison_table, diff_reports,
                                        has_baseline)
from pipeline.report.load import read_metrics_table, read_report_table, read_run
from pipeline.report.paired import PAIRED_FILE, with_paired_intervals
from pipeline.report.schema import (BLESSED_FILE, COMPARISON_FILE, COMPARISON_SCHEMA,
                                    NOT_BLESSED_FILE, RUN_FILE, VALIDATION_FILE,
                                    VALIDATION_SCHEMA)

NO_GATES_NOTE = ("no gates configured: neither blessed nor refused (no BLESSED or NOT_BLESSED "
                 "file is written)")
THRESHOLD_TOLERANCE = 1e-6  # a gate's threshold matches a row's to float32 precision
_MAX_LISTED = 12


def _checked_table(metrics: pa.Table, comparison) -> pa.Table:
    """The rows gates select from: head, slice, metric, class, threshold,
    key, value (the candidate's) and baseline (null without one); for
    `significant` gates the candidate's interval (lower, upper) and the
    paired interval of the change (delta_lower, delta_upper; null without
    intervals)."""
    candidates = candidate_rows(metrics)
    if comparison is not None:
        rows = comparison.select(["head", "slice", "metric", "class", "threshold", "key",
                                  "candidate", "baseline", "delta_lower", "delta_upper"]) \
            .rename_columns(["head", "slice", "metric", "class", "threshold", "key", "value",
                             "baseline", "delta_lower", "delta_upper"])
        where = pc.index_in(_ids(rows), value_set=_ids(candidates))
        for name in ("lower", "upper"):
            rows = rows.append_column(name, candidates.column(name).combine_chunks()
                                      .take(where))
        return rows
    rows = candidates.select(["head", "slice", "metric", "class", "threshold", "key", "value",
                              "lower", "upper"])
    for name in ("baseline", "delta_lower", "delta_upper"):
        rows = rows.append_column(name, pa.nulls(rows.num_rows, pa.float64()))
    return rows


def _ids(table: pa.Table):
    """(head, slice, key) of each row as one string: a row's identity within a model."""
    return pc.binary_join_element_wise(table.column("head"), table.column("slice"),
                                       table.column("key"), "\x00")


def _fmt(x) -> str:
    return "NaN" if x is None or x != x else "%.6g" % x


def _listed(values) -> str:
    values = sorted({"''" if v == "" else str(v) for v in values if v is not None})
    more = len(values) - _MAX_LISTED
    return ", ".join(values[:_MAX_LISTED]) + (", ... (%d more)" % more if more > 0 else "")


class _Checker:
    def __init__(self, table: pa.Table):
        self.table = table
        self.slices = table.column("slice").unique()

    def _mask(self, gate):
        """Rows of the gate's metric, head, class and threshold (any slice)."""
        t = self.table
        mask = pc.equal(t.column("metric"), gate.metric)
        if gate.head is not None:
            mask = pc.and_(mask, pc.equal(t.column("head"), gate.head))
        cls = t.column("class")
        mask = pc.and_(mask, pc.is_null(cls) if gate.class_name is None
                       else pc.equal(cls, gate.class_name))
        threshold = t.column("threshold")
        if gate.threshold is None:
            mask = pc.and_(mask, pc.is_null(threshold))
        else:
            off = pc.abs(pc.subtract(threshold, gate.threshold))
            mask = pc.and_(mask, pc.less_equal(
                off, THRESHOLD_TOLERANCE * max(1.0, abs(gate.threshold))))
        if not gate.is_change:  # a bound checks the candidate's rows only
            mask = pc.and_(mask, pc.is_valid(t.column("value")))
        return pc.fill_null(mask, False)

    def _glob_mask(self, glob):
        names = [s for s in self.slices.to_pylist() if fnmatch.fnmatchcase(s, glob)]
        return pc.is_in(self.table.column("slice"), value_set=pa.array(names, pa.string()))

    def _why_nothing(self, gate, globs) -> str:
        """What a gate looked for and did not find, with what is there."""
        t = self.table
        what = "metric %s" % gate.metric
        what += ", head %s" % gate.head if gate.head is not None else ""
        what += ", class %s" % gate.class_name if gate.class_name is not None else \
            ", no class"
        what += ", threshold %s" % _fmt(gate.threshold) if gate.threshold is not None else \
            ", no threshold"
        what += " on a slice matching %s" % " or ".join(repr(g) for g in globs)
        rows = t.filter(pc.equal(t.column("metric"), gate.metric))
        if rows.num_rows == 0:
            hint = "the report has no metric %s (it has %s)" % (
                gate.metric, _listed(t.column("metric").unique().to_pylist()))
        elif gate.head is not None and gate.head not in rows.column("head").to_pylist():
            hint = "head %s has no %s (heads with it: %s)" % (
                gate.head, gate.metric, _listed(rows.column("head").unique().to_pylist()))
        elif not pc.any(self._mask(gate)).as_py():
            hint = "its rows have class %s and threshold %s" % (
                _listed(rows.column("class").unique().to_pylist()) or "none",
                _listed(rows.column("threshold").unique().to_pylist()) or "none")
        else:
            hint = "the report's slices: %s" % _listed(self.slices.to_pylist())
        return "selects no row: no candidate row of %s (%s)" % (what, hint)

    def check(self, index, gate) -> list:
        """validation.parquet's rows (as dicts) of one gate."""
        base = self._mask(gate)
        selected, empty = base, []
        for i, glob in enumerate(gate.slices):
            mask = pc.and_(base, self._glob_mask(glob))
            if not pc.any(mask).as_py():
                empty.append(glob)
            selected = mask if i == 0 else pc.or_(selected, mask)
        rows = self.table.filter(selected)
        text = gate.text()
        missing = {"gate": index, "gate_text": text, "head": gate.head, "slice": None,
                   "metric": gate.metric, "class": gate.class_name,
                   "threshold": gate.threshold, "key": None, "value": None, "baseline": None,
                   "bound": None if gate.is_change else gate.amount, "kind": gate.kind,
                   "passed": False}
        if rows.num_rows == 0:
            return [dict(missing, reason=self._why_nothing(gate, gate.slices))]
        out = [dict(missing, slice=glob, reason=self._why_nothing(gate, [glob]))
               for glob in empty]
        return _judged(index, text, gate, rows) + out


def _judged(index, text, gate, rows) -> list:
    """The rows a gate selected, each with its bound, verdict and reason."""
    value = rows.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    base = rows.column("baseline").to_numpy(zero_copy_only=False).astype(np.float64)
    v_null = rows.column("value").is_null().to_numpy(zero_copy_only=False)
    b_null = rows.column("baseline").is_null().to_numpy(zero_copy_only=False)
    higher = gate.better == HIGHER
    with np.errstate(invalid="ignore"):
        if not gate.is_change:
            bound = np.full(len(value), gate.amount)
            passed = value >= bound if gate.kind == LOWER_BOUND else value <= bound
        else:
            allowed = gate.amount * (np.abs(base) if gate.kind == CHANGE_RELATIVE else 1.0)
            bound = base + allowed
            passed = value >= bound if higher else value <= bound
        point = passed.copy()  # the verdict on the point value, which the reason states
        interval = _interval_columns(gate, rows)
        if gate.significant:  # fails only where the whole interval misses the bound
            lower, upper = interval
            limit = bound if not gate.is_change else allowed
            better = (gate.kind == LOWER_BOUND) if not gate.is_change else higher
            judged = ~np.isnan(lower) & ~np.isnan(upper)
            clears = upper >= limit if better else lower <= limit
            passed = np.where(judged, clears, passed)
        if gate.is_change and gate.kind == CHANGE_RELATIVE:
            passed &= base != 0
    passed &= ~v_null & ~np.isnan(value)
    out = []
    for i, row in enumerate(rows.to_pylist()):
        reason = _reason(gate, row, bound[i], higher, bool(point[i]), v_null[i], b_null[i])
        if gate.significant and not v_null[i]:
            reason += _significance(gate, interval[0][i], interval[1][i], bool(passed[i]))
        out.append({"gate": index, "gate_text": text, "head": row["head"],
                    "slice": row["slice"], "metric": row["metric"], "class": row["class"],
                    "threshold": row["threshold"], "key": row["key"],
                    "value": None if v_null[i] else float(value[i]),
                    "baseline": None if b_null[i] else float(base[i]),
                    "bound": None if bound[i] != bound[i] else float(bound[i]),
                    "kind": gate.kind, "passed": bool(passed[i]), "reason": reason})
    return out


def _interval_columns(gate, rows) -> tuple:
    """(lower, upper) a `significant` gate judges: the candidate's interval
    for a bound, the paired interval of the change for a change gate (NaN
    where there is none)."""
    names = ("lower", "upper") if not gate.is_change else ("delta_lower", "delta_upper")
    return tuple(rows.column(n).to_numpy(zero_copy_only=False).astype(np.float64)
                 for n in names)


def _significance(gate, lower, upper, passed) -> str:
    """What a `significant` gate adds to the reason: the interval it judged."""
    what = "value" if not gate.is_change else "change"
    if lower != lower or upper != upper:
        return "; significant: no interval for this row, judged on the point"
    return ("; significant: the %s's interval [%s, %s] %s (a gate fails only when the whole "
            "interval misses the bound)" % (what, _fmt(lower), _fmt(upper),
                                             "reaches the bound: passes" if passed
                                             else "misses the bound: fails"))


def _reason(gate, row, bound, higher, passed, v_null, b_null) -> str:
    value, base = row["value"], row["baseline"]
    if v_null:
        return "the candidate has no value for this row (only the baseline has it)"
    if value != value:
        return "value is NaN (undefined on this slice): it cannot pass"
    if not gate.is_change:
        sign = (">=" if passed else "<") if gate.kind == LOWER_BOUND else \
            ("<=" if passed else ">")
        return "value %s %s %s %s" % (_fmt(value), sign, gate.kind, _fmt(gate.amount))
    if b_null:
        return "the baseline has no value for this row: no change to check"
    if base != base:
        return "the baseline's value is NaN (undefined on this slice): no change to check"
    if gate.kind == CHANGE_RELATIVE and base == 0:
        return "the baseline is 0: a relative change is undefined (use change.absolute)"
    allowed = ("%s" % _fmt(gate.amount) if gate.kind != CHANGE_RELATIVE
               else "%s x |baseline|" % _fmt(gate.amount))
    sign = (">=" if passed else "<") if higher else ("<=" if passed else ">")
    change = "%+.6g" % (value - base)
    if base != 0:
        change += " = %+.4g%% of |baseline|" % (100 * (value - base) / abs(base))
    return "value %s %s bound %s = baseline %s + %s (%s is better; change %s)" % (
        _fmt(value), sign, _fmt(bound), _fmt(base), allowed, "higher" if higher else "lower",
        change)


def check_gates(gates, metrics: pa.Table, comparison: pa.Table = None) -> pa.Table:
    """validation.parquet's table: `gates` (pipeline.config.validation.Gate)
    checked against a metrics table (METRICS_SCHEMA) and, for change gates,
    its comparison (COMPARISON_SCHEMA; None without a baseline)."""
    checker = _Checker(_checked_table(metrics, comparison))
    rows = [row for i, gate in enumerate(gates) for row in checker.check(i, gate)]
    return pa.Table.from_pylist(rows, schema=VALIDATION_SCHEMA)


def validation_summary(gates, table: pa.Table) -> dict:
    """run.json's `validation`: ok, gates (how many), failed ([{gate,
    gate_text, failed_rows, reason (the first)}]) and the blessing file."""
    if not gates:
        return {"ok": True, "gates": 0, "failed": [], "blessing": None, "note": NO_GATES_NOTE}
    failed = []
    rows = table.filter(pc.invert(table.column("passed"))).to_pylist()
    for i, gate in enumerate(gates):
        mine = [r for r in rows if r["gate"] == i]
        if mine:
            failed.append({"gate": i, "gate_text": gate.text(), "failed_rows": len(mine),
                           "reason": mine[0]["reason"]})
    return {"ok": not failed, "gates": len(gates), "failed": failed,
            "blessing": NOT_BLESSED_FILE if failed else BLESSED_FILE}


def write_validation(folder: str, table: pa.Table, summary: dict) -> None:
    """validation.parquet and the empty blessing file in `folder`, a stale
    one of the other kind removed; nothing when there are no gates."""
    if not summary["gates"]:
        return
    write_table(table, join(folder, VALIDATION_FILE))
    stale = join(folder, NOT_BLESSED_FILE if summary["ok"] else BLESSED_FILE)
    if FileSystems.exists(stale):
        FileSystems.delete([stale])
    with FileSystems.create(join(folder, summary["blessing"])):
        pass


def failed_text(summary: dict) -> str:
    """'validation failed: 1 of 2 gates: gate 0 {...}' (the CLI's stderr line)."""
    return "validation failed: %d of %d gate%s: %s" % (
        len(summary["failed"]), summary["gates"], "" if summary["gates"] == 1 else "s",
        "; ".join("gate %d %s" % (f["gate"], f["gate_text"]) for f in summary["failed"]))


def failure_lines(summary: dict) -> list:
    """One line per failed gate, with its first failing row's reason."""
    return ["FAILED gate %d %s: %d row%s failed, first: %s"
            % (f["gate"], f["gate_text"], f["failed_rows"], "" if f["failed_rows"] == 1 else "s",
               f["reason"]) for f in summary["failed"]]


def finish_comparison(folder: str, config, metrics: pa.Table = None) -> dict:
    """After metrics.parquet is in `folder`, before run.json: writes
    comparison.parquet when the metrics hold baseline rows (with the paired
    intervals of the change, `pipeline.report.paired`, when the run has
    confidence intervals), checks the
    config's gates (`config.validation`) and writes validation.parquet and
    BLESSED / NOT_BLESSED. Returns the run.json fields to add:
    {"validation": validation_summary(...)}."""
    metrics = read_metrics_table(folder) if metrics is None else metrics
    comparison = comparison_table(metrics) if has_baseline(metrics) else None
    paired_path = join(folder, PAIRED_FILE)
    if FileSystems.exists(paired_path):  # the paired intervals of the change
        if comparison is not None:
            comparison = with_paired_intervals(comparison, read_table(paired_path))
        FileSystems.delete([paired_path])
    if comparison is not None:
        write_table(comparison, join(folder, COMPARISON_FILE))
    gates = tuple(config.validation or ())
    table = check_gates(gates, metrics, comparison)
    summary = validation_summary(gates, table)
    write_validation(folder, table, summary)
    return {"validation": summary}


def check_report(folder: str, gates, baseline_folder: str = None, write: bool = False) -> dict:
    """`headeval check`: the gates checked against a finished report (its
    own baseline rows, or the candidate of `baseline_folder` as the
    baseline); returns run.json's `validation` for it. Writes into `folder`
    only with `write`: validation.parquet, the blessing file,
    comparison.parquet (with `baseline_folder`), and run.json's
    `validation` (run.json last)."""
    run = read_run(folder)
    metrics = read_metrics_table(folder)
    if baseline_folder is not None:
        comparison = diff_reports(folder, baseline_folder)
    else:
        # the run's own comparison (it holds the paired intervals), else made anew
        comparison = read_report_table(folder, COMPARISON_FILE, COMPARISON_SCHEMA)
        if comparison is not None:
            comparison = comparison.select(COMPARISON_SCHEMA.names).cast(COMPARISON_SCHEMA)
        elif has_baseline(metrics):
            comparison = comparison_table(metrics)
    table = check_gates(gates, metrics, comparison)
    summary = validation_summary(gates, table)
    if write:
        if baseline_folder is not None:
            write_table(comparison, join(folder, COMPARISON_FILE))
        write_validation(folder, table, summary)
        write_json(dict(run, validation=summary), join(folder, RUN_FILE))
    return summary
