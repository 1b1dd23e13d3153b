"""Confidence intervals end to end (issue 19), on the e2e data (4 heads, 2
slice specs, 3 files): the values are those of a run without intervals; the
intervals are the same with record batches of 8192 in-process and of 97 in
two SDK worker processes (a record's replicate weights depend only on the
seed, its file name and position); counts and undefined values get none.
The runs are the shared ones of tests/e2e/conftest.py."""
import json
import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

COUNTS = ("example_count", "weighted_example_count", "confusion_matrix", "calibration/weight")


def _rows(out):
    rows = pq.read_table(os.path.join(out, "metrics.parquet")).to_pylist()
    return {(r["head"], r["slice"], r["key"]): r for r in rows}


@pytest.fixture(scope="module")
def runs(e2e_runs):
    """The shared e2e runs (tests/e2e/conftest.py) as {name: (rows, run)}."""
    return {name: (_rows(folder), run) for name, (folder, run) in e2e_runs.items()}


@pytest.mark.e2e
def test_values_are_those_without_intervals(runs):
    plain, with_ci = runs["b8192"][0], runs["ci-b8192"][0]
    assert sorted(plain) == sorted(with_ci)
    for k, row in plain.items():
        a, b = row["value"], with_ci[k]["value"]
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * abs(a) + 1e-12, k
        assert row["lower"] is None and row["stderr"] is None


@pytest.mark.e2e
def test_intervals_do_not_depend_on_batch_size_or_workers(runs):
    a, b = runs["ci-b8192"][0], runs["ci-b97-2proc"][0]
    assert sorted(a) == sorted(b)
    for column in ("lower", "upper", "stderr"):
        x = np.array([a[k][column] for k in a], dtype=float)
        y = np.array([b[k][column] for k in a], dtype=float)
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.e2e
def test_which_rows_have_an_interval(runs):
    rows, run = runs["ci-b8192"]
    assert run["confidence_intervals"]["method"] == "poisson_bootstrap"
    assert run["confidence_intervals"]["groups"] == 100
    with_interval = 0
    for k, r in rows.items():
        if r["metric"] in COUNTS or math.isnan(r["value"]):
            assert r["lower"] is None and r["upper"] is None and r["stderr"] is None, k
        elif r["stderr"] is not None:
            with_interval += 1
            assert r["lower"] <= r["value"] <= r["upper"], k
            assert r["upper"] - r["value"] == pytest.approx(r["value"] - r["lower"])
    others = [k for k, r in rows.items() if r["metric"] not in COUNTS]
    assert with_interval > 0.9 * len(others)
    # The overall AUC of the binary head: about sqrt(AUC (1 - AUC) / n)-sized.
    auc = rows[("bin", "", "auc")]
    assert 0.003 < auc["stderr"] < 0.02
    with open(os.path.join(run["output"], "run.json")) as f:
        stored = json.load(f)
    assert stored["config"]["metrics"]["confidence_intervals"]["replicates"] == 20
