"""Candidate against baseline, and the validation verdict, arranged for
people: what `headeval show` and the HTML page put beside the candidate's
numbers. One model of the comparison, shared by both views.

* The candidate's rows are the main numbers; each is paired with the
  baseline's row of the same (head, slice, key). The change comes from
  comparison.parquet when the report has one (its delta interval too), else
  it is computed from the two rows (delta = candidate - baseline, relative
  = delta / |baseline|, null when the baseline is 0).
* A change is `better` or `worse` by the metric's direction (DIRECTIONS);
  a metric of unknown direction (counts, means, calibration buckets) gets
  no verdict.
* A slice is *behind* the baseline when its headline metric (HEADLINE: the
  first of auc, accuracy, ... the head reports) got worse; the views list
  those slices right after the overall slice.
* The verdict: BLESSED / NOT_BLESSED from run.json's `validation`, else the
  BLESSED / NOT_BLESSED file, else validation.parquet; `no gates` when the
  run checked none.
"""
import math
from dataclasses import dataclass, field

from pipeline.config.spec import HIGHER, LOWER
from pipeline.config.validation import metric_direction
from pipeline.report.names import (BASELINE, BLESSED_FILE, CANDIDATE, COMPARISON_FILE,
                                   NOT_BLESSED_FILE, VALIDATION_FILE)


def _schemas():
    """comparison.parquet's and validation.parquet's columns (SPEC §6),
    checked when the files are read (pyarrow only then)."""
    from pipeline.report.schema import COMPARISON_SCHEMA, VALIDATION_SCHEMA
    return COMPARISON_SCHEMA, VALIDATION_SCHEMA


BLESSED, NOT_BLESSED, NO_GATES = BLESSED_FILE, NOT_BLESSED_FILE, "no gates"
COMPARED = ("baseline", "delta", "relative", "delta_lower", "delta_upper", "change")

# The metric that decides whether a slice is behind the baseline: the first
# of these the head reports (no class, no threshold).
HEADLINE = ("auc", "accuracy", "auc_precision_recall", "f1", "r_squared", "average_loss",
            "root_mean_squared_error", "mean_absolute_error", "loss")


def direction(metric: str) -> int:
    """+1 when a higher `metric` is better, -1 when lower is, 0 unknown (the
    gates' table, `pipeline.config.validation.METRIC_DIRECTIONS`)."""
    way = metric_direction(metric)
    return 1 if way == HIGHER else -1 if way == LOWER else 0


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def change(metric: str, delta) -> str | None:
    """'better', 'worse', or None (no change, unknown direction, no delta)."""
    d = direction(metric)
    if d == 0 or _missing(delta) or delta == 0:
        return None
    return "better" if d * delta > 0 else "worse"


@dataclass
class Extras:
    """A report's files beside metrics.parquet that these views show:
    comparison and validation rows (None: no such file) and the blessing
    file found (BLESSED, NOT_BLESSED or None)."""
    comparison: list | None = None
    validation: list | None = None
    blessing: str | None = None


def load_extras(folder: str) -> Extras:
    """Reads comparison.parquet, validation.parquet and the blessing file of
    a report folder (any Beam filesystem); absent files are None."""
    from apache_beam.io.filesystems import FileSystems

    from pipeline.io.paths import join
    from pipeline.report.load import read_report_table

    comparison, validation = _schemas()
    tables = [read_report_table(folder, name, schema) for name, schema in
              ((COMPARISON_FILE, comparison), (VALIDATION_FILE, validation))]
    blessing = next((name for name in (NOT_BLESSED, BLESSED)
                     if FileSystems.exists(join(folder, name))), None)
    return Extras(*[None if t is None else t.to_pylist() for t in tables], blessing)


def is_baseline(row: dict) -> bool:
    return row.get("model") == BASELINE


def has_baseline(rows: list, extras: Extras | None = None) -> bool:
    """True when the report compares two models."""
    return any(is_baseline(r) for r in rows) or bool(extras and extras.comparison)


def paired(rows: list, extras: Extras | None = None) -> list:
    """The candidate's rows (file order), each with COMPARED added: the
    baseline's value, delta, relative, the delta's interval (null without
    one) and `change`. Rows of a model other than the two are dropped; a
    baseline row with no candidate row is kept, marked as the baseline's."""
    baseline = {(r["head"], r["slice"], r["key"]): r for r in rows if is_baseline(r)}
    compared = {(c["head"], c["slice"], c["key"]): c for c in (extras and extras.comparison
                                                              or ())}
    out, seen = [], set()
    for r in rows:
        if r.get("model", CANDIDATE) != CANDIDATE:
            continue
        key = (r["head"], r["slice"], r["key"])
        seen.add(key)
        c, b = compared.get(key), baseline.get(key)
        if c is not None:
            extra = {k: c[k] for k in COMPARED[:-1]}
        elif b is not None:
            delta = None if _missing(r["value"]) or _missing(b["value"]) else r["value"] - b["value"]
            relative = None if delta is None or b["value"] == 0 else delta / abs(b["value"])
            extra = {"baseline": b["value"], "delta": delta, "relative": relative,
                     "delta_lower": None, "delta_upper": None}
        else:
            extra = dict.fromkeys(COMPARED[:-1])
        extra["change"] = change(r["metric"], extra["delta"])
        out.append(dict(r, **extra))
    out += [dict(r, **dict.fromkeys(COMPARED)) for key, r in baseline.items() if key not in seen]
    return out


def headline_row(rows: list) -> dict | None:
    """The row of a head and slice (paired rows) that says whether it is
    behind: HEADLINE's first aggregate metric with a baseline value."""
    by_key = {r["key"]: r for r in rows if r["class"] is None and r["threshold"] is None
              and r.get("model", CANDIDATE) == CANDIDATE and not _missing(r.get("baseline"))}
    return next((by_key[k] for k in HEADLINE if k in by_key), None)


def behind(rows: list) -> dict:
    """{(head, slice): headline row} of the slices (overall included) whose
    headline metric is worse than the baseline's; `rows` paired."""
    groups = {}
    for r in rows:
        groups.setdefault((r["head"], r["slice"]), []).append(r)
    out = {}
    for key, group in groups.items():
        row = headline_row(group)
        if row is not None and row["change"] == "worse":
            out[key] = row
    return out


@dataclass
class Verdict:
    """The validation outcome: `status` BLESSED, NOT_BLESSED, NO_GATES or
    None (the report says nothing about gates); gate counts when known;
    `rows`: validation.parquet's rows, the failed first (gate order)."""
    status: str | None
    gates: int | None = None
    failed: int | None = None
    rows: list = field(default_factory=list)

    @property
    def failed_rows(self) -> list:
        return [r for r in self.rows if not r["passed"]]


def _count(value):
    """run.json's gate count: a number, or a list of gates."""
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def verdict(run: dict | None, extras: Extras | None = None,
            compares: bool = False) -> Verdict:
    """The validation verdict of a report (module docstring). Without gate
    information it is NO_GATES when the report `compares` two models (no
    blessing is implied by silence), else None."""
    rows = list((extras and extras.validation) or ())
    rows.sort(key=lambda r: (bool(r["passed"]), r["gate"]))  # stable: file order within
    gates = len({r["gate"] for r in rows}) if rows else None
    failed = len({r["gate"] for r in rows if not r["passed"]}) if rows else None
    recorded = (run or {}).get("validation")
    ok = None
    if isinstance(recorded, dict):
        gates = _count(recorded.get("gates")) if gates is None else gates
        failed = _count(recorded.get("failed")) if failed is None else failed
        ok = recorded.get("ok") if isinstance(recorded.get("ok"), bool) else None
    if ok is None and extras is not None and extras.blessing is not None:
        ok = extras.blessing == BLESSED
    if ok is None and rows:
        ok = failed == 0
    if gates == 0 or (ok is None and (compares or isinstance(recorded, dict))):
        return Verdict(NO_GATES, gates, failed, rows)
    if ok is None:
        return Verdict(None, gates, failed, rows)
    return Verdict(BLESSED if ok else NOT_BLESSED, gates, failed, rows)


def verdict_text(v: Verdict) -> str:
    """One line: 'NOT_BLESSED: 1 of 3 gates failed', 'BLESSED: all 3 gates
    passed', 'no gates: nothing was checked, no blessing'."""
    if v.status == NO_GATES:
        return "no gates: nothing was checked, so no blessing"
    if v.status == BLESSED:
        return "BLESSED: %s passed" % ("all %d gate%s" % (v.gates, "" if v.gates == 1 else "s")
                                       if v.gates else "the gates")
    if v.gates is not None and v.failed is not None:
        return "NOT_BLESSED: %d of %d gate%s failed" % (v.failed, v.gates,
                                                        "" if v.gates == 1 else "s")
    return "NOT_BLESSED: a gate failed"
