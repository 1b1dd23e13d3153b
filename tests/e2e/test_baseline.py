"""Candidate and baseline in one pass (issue 18): two logits features of
the same records, evaluated on the same parsed batches, against
scikit-learn / numpy on each model's arrays and against a one-model run of
the candidate.

The data make the candidate better overall but worse on one slice
(country=FR, where its logits carry little signal). A third file holds two
rows with bad logits, one bad for the baseline only and one for the
candidate only: both are rejected for both models, so the baseline's rows
equal the oracle on the good rows alone, and the candidate's rows equal a
one-model run that never saw the bad file.

Two in-process Beam runs (FnApiRunner), shared by the module.
"""
import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline import cli
from pipeline.config import load_config
from pipeline.run import run_pipeline
from tests.e2e.test_e2e_sklearn import (AUC_METRICS, compare, expected_binary,
                                        expected_regression, oracle_key, required_keys,
                                        with_counts)
from tests.support.example_records import example, write_tfrecords

RUNNER = ["--runner=FnApiRunner"]
N = 1200
COUNTRIES = np.array(["US", "FR", "BR"])
THRESHOLDS = (0.3, 0.5)
SLICES = ["", "country=BR", "country=FR", "country=US"]
FEATURES = {
    "country": {"dtype": "string"},
    "w": {"dtype": "float32", "default": 1.0},
    "y_bin": {"dtype": "int64"},
    "y_reg": {"dtype": "float32"},
    "cand_bin": {"dtype": "float32", "shape": [1]},
    "cand_reg": {"dtype": "float32"},
    "base_bin": {"dtype": "float32", "shape": [1]},
    "base_reg": {"dtype": "float32"},
}
HEADS = [{"name": "bin", "type": "binary", "label": "y_bin", "weight_column": "w",
          "thresholds": list(THRESHOLDS)},
         {"name": "reg", "type": "regression", "label": "y_reg", "weight_column": "w"}]
CANDIDATE_LOGITS = {"bin": "cand_bin", "reg": "cand_reg"}
BASELINE_LOGITS = {"bin": "base_bin", "reg": "base_reg"}


def _arrays(seed=18):
    """Labels, weights and both models' logits: the candidate is sharp
    except on FR, the baseline uniformly fair."""
    rng = np.random.default_rng(seed)
    country = rng.choice(COUNTRIES, N, p=[0.5, 0.25, 0.25])
    fr = country == "FR"
    y_bin = (rng.random(N) < 0.4).astype(np.int64)
    y_reg = rng.normal(3.0, 1.5, N).astype(np.float32)
    cand_bin = np.where(fr, rng.normal(-0.3, 1.0, N) + 0.3 * y_bin,
                        rng.normal(-1.0, 1.0, N) + 2.4 * y_bin).astype(np.float32)
    base_bin = (rng.normal(-0.8, 1.0, N) + 1.3 * y_bin).astype(np.float32)
    cand_reg = (y_reg + np.where(fr, rng.normal(0, 2.0, N), rng.normal(0, 0.3, N))) \
        .astype(np.float32)
    base_reg = (y_reg + rng.normal(0, 0.8, N)).astype(np.float32)
    w = rng.uniform(0.5, 2.0, N).astype(np.float32)
    return dict(country=country, y_bin=y_bin, y_reg=y_reg, cand_bin=cand_bin,
                cand_reg=cand_reg, base_bin=base_bin, base_reg=base_reg, w=w)


def _record(a, i, **override):
    values = dict(country=[str(a["country"][i])], w=[float(a["w"][i])],
                  y_bin=[int(a["y_bin"][i])], y_reg=[float(a["y_reg"][i])],
                  **{k: [float(a[k][i])] for k in ("cand_bin", "cand_reg", "base_bin",
                                                   "base_reg")})
    values.update(override)
    return example(**values)


GATES = [  # what the data make of them: pass, fail on FR, fail (no such slice)
    {"metric": "auc", "head": "bin", "lower_bound": 0.6},
    {"metric": "auc", "head": "bin", "slices": ["country=*"], "change": {"absolute": -0.02}},
    {"metric": "auc", "head": "bin", "slices": ["country=XX"], "lower_bound": 0.5},
]


def _config(folder, name, pattern, baseline, logits=None):
    data = {"input": {"pattern": pattern, "features": FEATURES},
            "model": {"logits": logits or CANDIDATE_LOGITS}, "heads": HEADS,
            "slices": [[], ["country"]], "bad_examples": "skip"}
    if baseline:
        data["baseline"] = {"logits": BASELINE_LOGITS}
        data["validation"] = GATES
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(str(path))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(arrays, two-model report folder, one-model report folder)."""
    folder = tmp_path_factory.mktemp("baseline")
    a = _arrays()
    half = N // 2
    write_tfrecords(folder / "good-0.tfrecord", [_record(a, i) for i in range(half)])
    write_tfrecords(folder / "good-1.tfrecord", [_record(a, i) for i in range(half, N)])
    write_tfrecords(folder / "bad.tfrecord", [
        _record(a, 0, base_bin=[math.nan]),      # bad for the baseline only
        _record(a, 1, cand_reg=[math.inf])])     # bad for the candidate only
    both = _config(folder, "both.yaml", "*.tfrecord", baseline=True)
    one = _config(folder, "one.yaml", "good-*.tfrecord", baseline=False)
    base = _config(folder, "base.yaml", "good-*.tfrecord", baseline=False,
                   logits=BASELINE_LOGITS)
    run_pipeline(both, str(folder / "both"), beam_argv=RUNNER)
    run_pipeline(one, str(folder / "one"), beam_argv=RUNNER)
    run_pipeline(base, str(folder / "base"), beam_argv=RUNNER)
    return a, folder / "both", folder / "one"


def _metrics(folder):
    return pq.read_table(str(folder / "metrics.parquet")).to_pylist()


def _expected(a, prefix):
    """The oracle of `prefix` ("cand" or "base") logits on every slice."""
    expected = {}
    for name in SLICES:
        m = np.ones(N, bool) if name == "" else a["country"] == name.split("=")[1]
        w = a["w"][m].astype(np.float64)
        expected[("bin", name)] = with_counts(expected_binary(
            a["y_bin"][m], a[prefix + "_bin"][m], w, THRESHOLDS), w)
        expected[("reg", name)] = with_counts(expected_regression(
            a["y_reg"][m], a[prefix + "_reg"][m], w), w)
    return expected


REQUIRED = {"bin": required_keys("binary", THRESHOLDS), "reg": required_keys("regression")}


@pytest.mark.e2e
@pytest.mark.parametrize("model, prefix", [("baseline", "base"), ("candidate", "cand")])
def test_each_models_rows_match_sklearn_on_its_logits(runs, model, prefix):
    a, both, _ = runs
    rows = [r for r in _metrics(both) if r["model"] == model]
    failures, _ = compare(rows, _expected(a, prefix), REQUIRED, SLICES)
    assert not failures, "%d mismatches:\n%s" % (len(failures), "\n".join(failures[:40]))
    assert {r["slice"] for r in rows} == set(SLICES)


@pytest.mark.e2e
def test_candidate_rows_equal_a_one_model_run(runs):
    _, both, one = runs
    key = lambda r: (r["head"], r["slice"], r["key"])  # noqa: E731
    candidate = {key(r): r for r in _metrics(both) if r["model"] == "candidate"}
    alone = {key(r): r for r in _metrics(one)}
    assert {r["model"] for r in alone.values()} == {"candidate"}
    assert sorted(candidate) == sorted(alone)
    diffs = []
    for k, r in alone.items():
        x, y = r["value"], candidate[k]["value"]
        tol = 1e-9 if r["metric"] in AUC_METRICS else 1e-9 * abs(x) + 1e-12
        if not (abs(x - y) <= tol or (math.isnan(x) and math.isnan(y))):
            diffs.append("%s: one-model %r, two-model %r" % (k, x, y))
    assert not diffs, "\n".join(diffs[:40])


@pytest.mark.e2e
def test_the_report_holds_both_models_candidate_first(runs):
    _, both, _ = runs
    rows = _metrics(both)
    models = [r["model"] for r in rows]
    n = models.count("candidate")
    assert n == len(rows) // 2 and models == ["candidate"] * n + ["baseline"] * n
    cells = lambda m: [(r["head"], r["slice"], r["metric"], r["class"], r["threshold"],  # noqa
                        r["key"]) for r in rows if r["model"] == m]
    assert cells("candidate") == cells("baseline")  # same order, model for model
    curves = pq.read_table(str(both / "curves.parquet")).to_pylist()
    curve_models = [r["model"] for r in curves]
    k = curve_models.count("candidate")
    assert k > 0 and curve_models == ["candidate"] * k + ["baseline"] * k
    # The data's story: better overall, worse on FR (ROC AUC of the binary head).
    auc = {(r["model"], r["slice"]): r["value"] for r in rows
           if r["head"] == "bin" and r["key"] == "auc"}
    assert auc[("candidate", "")] > auc[("baseline", "")] + 0.05
    assert auc[("candidate", "country=FR")] < auc[("baseline", "country=FR")] - 0.05


@pytest.mark.e2e
def test_a_row_bad_for_one_model_is_rejected_for_both(runs):
    _, both, _ = runs
    with open(both / "run.json") as f:
        run = json.load(f)
    assert run["counts"]["read"] == N + 2 and run["counts"]["evaluated"] == N
    assert run["counts"]["rejected_by_kind"] == {"logits_not_finite": 2}
    assert run["config"]["baseline"] == {"logits": BASELINE_LOGITS}
    rejected = pq.read_table(str(both / "rejected")).to_pylist()
    reasons = sorted((r["feature"], r["reason"]) for r in rejected)
    assert [f for f, _ in reasons] == ["base_bin", "cand_reg"]
    assert reasons[0][1] == "heads[bin] baseline logits (feature 'base_bin') must be finite; " \
                            "got [nan]", reasons
    assert reasons[1][1].startswith("heads[reg] logits (feature 'cand_reg') must be finite")
    # Both models' example counts leave both rows out.
    counts = {(r["model"], r["head"]): r["value"] for r in _metrics(both)
              if r["slice"] == "" and r["key"] == "example_count"}
    assert set(counts.values()) == {float(N)}, counts


@pytest.mark.e2e
def test_comparison_is_the_difference_of_sklearns_numbers(runs):
    """Every paired row of comparison.parquet: delta = sklearn(candidate) -
    sklearn(baseline) on the same arrays, relative = delta / |baseline|."""
    a, both, _ = runs
    cand, base = _expected(a, "cand"), _expected(a, "base")
    rows = pq.read_table(str(both / "comparison.parquet")).to_pylist()
    checked, failures = 0, []
    for r in rows:
        want_c = cand.get((r["head"], r["slice"]), {}).get(oracle_key(r["key"], r["head"]))
        want_b = base.get((r["head"], r["slice"]), {}).get(oracle_key(r["key"], r["head"]))
        if want_c is None or want_b is None or math.isnan(want_c) or math.isnan(want_b):
            continue
        checked += 1
        tol = 2e-5 if r["metric"] in AUC_METRICS else 1e-6 * max(abs(want_c), abs(want_b))
        if not abs(r["delta"] - (want_c - want_b)) <= tol + 1e-12:
            failures.append("%s %r %s: delta %r, sklearn %r" % (
                r["head"], r["slice"], r["key"], r["delta"], want_c - want_b))
        if want_b != 0 and not math.isclose(r["relative"], r["delta"] / abs(r["baseline"]),
                                             rel_tol=1e-12):
            failures.append("%s %r %s: relative %r" % (r["head"], r["slice"], r["key"],
                                                        r["relative"]))
    assert checked > 100 and not failures, "\n".join(failures[:20])


@pytest.mark.e2e
def test_gates_pass_and_fail_with_their_reasons(runs):
    _, both, _ = runs
    rows = pq.read_table(str(both / "validation.parquet")).to_pylist()
    by_gate = {}
    for r in rows:
        by_gate.setdefault(r["gate"], []).append(r)
    assert all(r["passed"] for r in by_gate[0])
    fr = [r for r in by_gate[1] if r["slice"] == "country=FR"]
    assert len(by_gate[1]) == 3 and len(fr) == 1 and not fr[0]["passed"]
    assert all(r["passed"] for r in by_gate[1] if r["slice"] != "country=FR")
    assert fr[0]["value"] < fr[0]["bound"] == pytest.approx(fr[0]["baseline"] - 0.02)
    [missing] = by_gate[2]
    assert not missing["passed"] and "selects no row" in missing["reason"]
    with open(both / "run.json") as f:
        validation = json.load(f)["validation"]
    assert validation["ok"] is False and validation["gates"] == 3
    assert [g["gate"] for g in validation["failed"]] == [1, 2]
    assert (both / "NOT_BLESSED").exists() and not (both / "BLESSED").exists()


@pytest.mark.e2e
def test_diff_of_two_one_model_runs_equals_the_one_pass_comparison(runs, tmp_path):
    """`headeval diff` of the candidate alone and the baseline alone (the same
    good records) against the one-pass comparison (which saw two more
    records, rejected for both models: the same examples)."""
    _, both, one = runs
    out = tmp_path / "diff.parquet"
    assert cli.main(["diff", str(one), str(one.parent / "base"), "--output", str(out)]) == 0
    key = lambda r: (r["head"], r["slice"], r["key"])  # noqa: E731
    diffed = {key(r): r for r in pq.read_table(str(out)).to_pylist()}
    one_pass = {key(r): r for r in pq.read_table(str(both / "comparison.parquet")).to_pylist()}
    assert sorted(diffed) == sorted(one_pass)
    for k, r in one_pass.items():
        for column in ("candidate", "baseline", "delta"):
            x, y = r[column], diffed[k][column]
            assert (x is None and y is None) or (math.isnan(x) and math.isnan(y)) or \
                abs(x - y) <= 1e-9 * max(1.0, abs(x)), (k, column, x, y)
