"""Which slices are significantly worse than the rest of the data: the test
behind the highlighted rows of the page's slice table, kept apart from the
markup so it can be checked on made-up numbers.

A one-sided two-proportion z-test on the head's accuracy (`accuracy`; for
multi-label heads `accuracy/positive_threshold_X` at 0.5, else at the
threshold nearest 0.5), comparing each slice with the rest of the data
(overall minus the slice, so the two groups are disjoint):

    p_rest = (acc * W - acc_s * W_s) / (W - W_s)        (W: weighted example counts)
    z = (acc_s - p_rest) / sqrt(acc * (1 - acc) * (1/n_s + 1/(n - n_s)))
    p = Phi(z)                                          (normal approximation)

with `n` the example counts and the overall accuracy as the pooled
proportion. A slice is flagged when p < 0.05 / m (Bonferroni over the m
slices of the head that could be tested). The normal approximation needs
about five successes and five failures in each group: slices with fewer are
marked "too few" and not tested. Caveats, also printed under the table:
weighted accuracies are compared with unweighted counts (no effective sample
size is in the report), and a multi-label head's accuracy averages over
classes while n counts examples (conservative: it under-counts the
decisions). Regression heads get no test (the report has no variance of the
loss).

With confidence intervals (metrics.parquet's lower/upper), the intervals
decide instead (`interval_flags`): a slice is flagged when its interval lies
entirely on the worse side of the overall value (upper < overall for a
higher-is-better metric, lower > overall for a lower-is-better one). The
metric is the accuracy above when it has an interval, else the first of
INTERVAL_KEYS that has one, so regression heads are tested too. The overall
value includes the slice, which pulls it towards the slice: conservative.
"""
import math

from pipeline.report.html.markup import missing
from pipeline.report.html.summary import aggregate_row, at_middle_threshold
from pipeline.report.html.versus_view import has_interval
from pipeline.report.versus import direction

ALPHA = 0.05
MIN_EXPECTED = 5.0
INTERVAL_KEYS = ("auc", "average_loss", "root_mean_squared_error", "mean_absolute_error")


def normal_cdf(z: float) -> float:
    """Phi(z), the standard normal distribution function."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def test_row(rows: list[dict]) -> dict | None:
    """The accuracy row the slice test uses (see the module docstring), or None."""
    return aggregate_row(rows, "accuracy") or at_middle_threshold(rows, "accuracy")


def worse_than_rest(p_slice: float | None, n_slice: float | None, w_slice: float | None,
                    p_all: float | None, n_all: float | None, w_all: float | None,
                    min_expected: float = MIN_EXPECTED) -> dict | None:
    """One-sided two-proportion z-test: is the slice's proportion lower than
    that of the rest of the data? p_*: proportions (weighted accuracies),
    n_*: example counts, w_*: weighted example counts; the slice is part of
    the whole. Returns {'rest', 'diff', 'z', 'p'} or None when the test does
    not apply (no rest, a degenerate proportion, fewer than `min_expected`
    expected successes or failures in a group)."""
    values = (p_slice, n_slice, w_slice, p_all, n_all, w_all)
    if any(missing(v) for v in values):
        return None
    n_rest, w_rest = n_all - n_slice, w_all - w_slice
    if n_slice <= 0 or n_rest <= 0 or w_slice <= 0 or w_rest <= 0:
        return None
    p_rest = (p_all * w_all - p_slice * w_slice) / w_rest
    pooled = p_all
    for n in (n_slice, n_rest):
        if n * pooled < min_expected or n * (1.0 - pooled) < min_expected:
            return None
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_slice + 1.0 / n_rest))
    if se == 0:
        return None
    z = (p_slice - p_rest) / se
    return {"rest": p_rest, "diff": p_slice - p_rest, "z": z, "p": normal_cdf(z)}


def slice_tests(head_rows: list[dict], slice_order: list[str], counts: dict,
                head: str) -> tuple[dict, float | None, str | None]:
    """{slice: test result or None} for every slice but the overall one, plus
    the Bonferroni level: (results, alpha / m, test key or None)."""
    overall = [r for r in head_rows if r["slice"] == ""]
    base = test_row(overall)
    results = {}
    if base is None:
        return results, None, None
    all_counts = counts.get((head, ""), {})
    tested = {r["slice"]: r for r in head_rows
              if r["key"] == base["key"] and r["class"] is None}
    for s in slice_order:
        if s == "":
            continue
        row = tested.get(s)
        c = counts.get((head, s), {})
        results[s] = None if row is None else worse_than_rest(
            row["value"], c.get("example_count"), c.get("weighted_example_count"),
            base["value"], all_counts.get("example_count"),
            all_counts.get("weighted_example_count"))
    m = sum(1 for r in results.values() if r is not None)
    return results, (ALPHA / m if m else None), base["key"]


def interval_row(rows: list[dict]) -> dict | None:
    """The overall row the interval flag uses (module docstring), or None
    when no candidate has an interval and a known direction."""
    row = test_row(rows)
    if has_interval(row):
        return row
    found = (aggregate_row(rows, key) for key in INTERVAL_KEYS)
    return next((r for r in found if has_interval(r) and direction(r["metric"])), None)


def interval_worse(row: dict | None, overall_value, metric: str) -> bool | None:
    """True when `row`'s interval lies entirely on the worse side of
    `overall_value`; None when it has no interval (or the metric no
    direction)."""
    d = direction(metric)
    if not has_interval(row) or missing(overall_value) or d == 0:
        return None
    return row["upper"] < overall_value if d > 0 else row["lower"] > overall_value


def interval_flags(head_rows: list[dict], slice_order: list[str]) -> tuple[dict, dict | None]:
    """({slice: (its row or None, worse: bool or None)}, the overall row)
    for every slice but the overall one; ({}, None) without intervals."""
    base = interval_row([r for r in head_rows if r["slice"] == ""])
    if base is None:
        return {}, None
    rows = {r["slice"]: r for r in head_rows if r["key"] == base["key"] and r["class"] is None}
    return ({s: (rows.get(s), interval_worse(rows.get(s), base["value"], base["metric"]))
             for s in slice_order if s != ""}, base)
