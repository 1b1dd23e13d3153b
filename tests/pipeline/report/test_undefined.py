"""Undefined metrics in the report: NaN in metrics.parquet (not the
estimator's 0), counted by `undefined_counts`, shown as 'undefined' by
`show` and '–' by the page, left out of the slice test.

The rows come from a real head's merged metrics on slices built to be
degenerate (one class present, nothing predicted positive, zero weight),
checked row by row against the e2e scikit-learn oracle (NaN where sklearn
says undefined or divides by zero).
"""
import math
from collections import Counter

import numpy as np
import pytest

from heads import BinaryClassHead
from pipeline.report import tables, text
from pipeline.report.html import markup, stats
from pipeline.report.html import page as html_page
from pipeline.report.rows import metric_rows
from pipeline.report.schema import METRICS_SCHEMA, rows_to_table
from tests.e2e.test_e2e_sklearn import (compare, expected_binary, oracle_key, required_keys,
                                        with_counts)
from tests.support.report_files import write_complete

# (slice, labels, logits, weights)
SLICES = [
    ("g=mixed", [0, 1, 1, 0, 1], [-1.0, 2.0, -0.5, 0.5, 1.5], [1, 2, 1, 1, 0.5]),
    ("g=positive", [1, 1, 1], [-2.0, -1.0, -3.0], [1, 1, 2]),   # one class, none predicted
    ("g=negative", [0, 0], [0.5, -0.5], [1, 1]),                # one class
    ("g=weightless", [0, 1, 1], [-1.0, 1.0, 0.3], [0, 0, 0]),  # zero total weight
]


@pytest.fixture(scope="module")
def report_rows():
    head = BinaryClassHead(weight_column="w", thresholds=[0.5], extended_metrics=True)
    rows, expected = [], {}
    for name, y, z, w in SLICES:
        y, z, w = np.array(y), np.array(z, np.float32), np.array(w, np.float64)
        metrics = head.metrics()
        head.update_metrics(metrics, {"w": w[:, None]}, z[:, None], y[:, None])
        rows += metric_rows(name, metrics, [""])
        expected[("", name)] = with_counts(expected_binary(y, z, w, (0.5,)), w)
    return rows, expected


def _oracle(expected, row):
    return expected.get((row["head"], row["slice"]), {}).get(oracle_key(row["key"], row["head"]))


def test_rows_are_nan_where_sklearn_is_undefined(report_rows):
    rows, expected = report_rows
    failures, unchecked = compare(rows, expected, {"": required_keys("binary", (0.5,))},
                                  [s for s, _, _, _ in SLICES])
    assert not failures, "\n".join(failures)
    assert not unchecked, unchecked
    by_key = {(r["slice"], r["key"]): r["value"] for r in rows}
    for key in ("auc", "precision", "precision/positive_threshold_0.5"):
        assert math.isnan(by_key[("g=positive", key)]), key
    assert by_key[("g=positive", "recall")] == 0.0           # defined: no positive found
    assert by_key[("g=positive", "auc_precision_recall")] > 0  # defined: positives present
    assert math.isnan(by_key[("g=negative", "auc_precision_recall")])
    assert math.isnan(by_key[("g=weightless", "average_loss")])
    assert by_key[("g=weightless", "example_count")] == 3.0   # a count is never undefined


def test_undefined_counts_equal_the_oracle(report_rows):
    from pipeline.report.rows import undefined_counts
    rows, expected = report_rows
    nan_rows = [r for r in rows if _oracle(expected, r) is not None
                and math.isnan(_oracle(expected, r))]
    counts = undefined_counts(rows_to_table(rows, METRICS_SCHEMA))
    assert counts["rows"] == len(nan_rows) > 0
    assert counts["by_metric"] == dict(Counter(r["metric"] for r in nan_rows))


def _row(value, metric="auc", slice_=""):
    return {"head": "", "slice": slice_, "metric": metric, "class": None, "threshold": None,
            "value": value, "key": metric}


def test_show_says_undefined():
    rows = [_row(math.nan), _row(0.0, "recall"), _row(math.inf, "average_loss")]
    table = text.format_rows(rows, "table")
    assert [line.split() for line in table.splitlines()[3:]] == [
        ["auc", "undefined"], ["recall", "0"], ["average_loss", "inf"]]
    assert "| auc | undefined |" in text.format_rows(rows, "markdown")
    assert '"value": null' in text.format_rows(rows, "json")


def test_page_and_show_share_one_missing_test():
    for value in (None, math.nan, math.inf, -math.inf):
        assert markup.missing(value) and tables.is_missing(value)
        assert markup.fmt(value) == "–"
    for value in (0.0, 1.5, 3):
        assert not markup.missing(value) and not tables.is_missing(value)


def test_slice_test_skips_undefined_accuracy(tmp_path):
    assert stats.worse_than_rest(math.nan, 100, 0, 0.8, 300, 300) is None
    rows = []
    for s, n, w, acc in (("", 2000, 1000, 0.75), ("g=a", 1000, 1000, 0.75),
                         ("g=b", 1000, 0, math.nan)):
        rows += [_row(acc, "accuracy", s), _row(n, "example_count", s),
                 _row(w, "weighted_example_count", s)]
    folder = tmp_path / "r"
    folder.mkdir()
    write_complete(folder, rows)
    page = html_page.render_report(str(folder))
    row_b = page.split('data-slice="g=b"')[1].split("</tr>")[0]
    assert '<td class="verdict">undefined</td>' in row_b and "<td>–</td>" in row_b
    assert "significantly worse" not in row_b
