"""Validation gates checked against report tables (pipeline.report.validation),
`headeval check`, and one real `headeval run` with gates (exit code 3).

Oracles: the bounds and changes worked out by hand in the test (numpy for
the real run's accuracies, fnmatch for the slice globs).
"""
import fnmatch
import json
import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline import cli
from pipeline.config.validation import parse_validation
from pipeline.report.comparison import comparison_table
from pipeline.report.schema import (BASELINE, BLESSED_FILE, CANDIDATE, COMPARISON_FILE,
                                    METRICS_SCHEMA, NOT_BLESSED_FILE, RUN_FILE, VALIDATION_FILE,
                                    VALIDATION_SCHEMA, rows_to_table)
from pipeline.report.validation import (NO_GATES_NOTE, check_gates, finish_comparison,
                                        validation_summary)
from tests.support.report_files import full_metric_row, write_complete

# SPEC §6, written out.
SPEC_COLUMNS = ["gate", "gate_text", "head", "slice", "metric", "class", "threshold", "key",
                "value", "baseline", "bound", "kind", "passed", "reason"]


def _row(slice_, metric, value, model=CANDIDATE, cls=None, threshold=None, head=""):
    return full_metric_row({"head": head, "slice": slice_, "metric": metric, "class": cls,
                            "threshold": threshold, "value": value, "model": model,
                            "key": metric + ("/%s" % cls if cls else "")
                            + ("/t%g" % threshold if threshold else "")})


# (slice, candidate, baseline) of auc (higher is better) and average_loss (lower)
AUC = [("", 0.80, 0.805), ("country=FR", 0.70, 0.75), ("country=US", 0.90, 0.85),
       ("device=ios", 0.60, 0.0)]
LOSS = [("", 0.505, 0.50), ("country=FR", 0.40, 0.50), ("country=US", 0.62, 0.60),
        ("device=ios", math.nan, 0.3)]


def _metrics(with_baseline=True):
    rows = []
    for metric, values in (("auc", AUC), ("average_loss", LOSS)):
        for slice_, cand, base in values:
            rows.append(_row(slice_, metric, cand))
            if with_baseline:
                rows.append(_row(slice_, metric, base, BASELINE))
    rows += [_row("", "recall", 0.66, cls="fish", threshold=0.5),
             _row("", "recall", 0.60, BASELINE, cls="fish", threshold=0.5),
             _row("", "recall", 0.90, cls="cat", threshold=0.5)]
    return rows_to_table(rows if with_baseline else [r for r in rows
                                                     if r["model"] == CANDIDATE],
                         METRICS_SCHEMA)


def _check(gates, metrics=None):
    metrics = _metrics() if metrics is None else metrics
    gates = parse_validation(gates, has_baseline=True)
    comparison = comparison_table(metrics) if BASELINE in metrics.column("model").to_pylist() \
        else None
    table = check_gates(gates, metrics, comparison)
    assert table.schema == VALIDATION_SCHEMA and table.schema.names == SPEC_COLUMNS
    return gates, table


def _verdicts(table, gate=0):
    return {r["slice"]: r["passed"] for r in table.to_pylist() if r["gate"] == gate}


def test_bounds_pass_and_fail_by_hand():
    _, table = _check([{"metric": "auc", "slices": ["*"], "lower_bound": 0.7},
                       {"metric": "auc", "slices": ["*"], "upper_bound": 0.8}])
    expected_low = {s: c >= 0.7 for s, c, _ in AUC}
    expected_up = {s: c <= 0.8 for s, c, _ in AUC}
    assert _verdicts(table, 0) == expected_low == {"": True, "country=FR": True,
                                                   "country=US": True, "device=ios": False}
    assert _verdicts(table, 1) == expected_up
    failing = [r for r in table.to_pylist() if r["gate"] == 0 and not r["passed"]][0]
    assert failing["value"] == 0.60 and failing["bound"] == 0.7 and failing["kind"] == \
        "lower_bound" and failing["reason"] == "value 0.6 < lower_bound 0.7"


def test_absolute_change_on_a_higher_is_better_metric():
    # may drop by at most 0.01: candidate - baseline >= -0.01
    _, table = _check([{"metric": "auc", "slices": ["", "country=*"],
                        "change": {"absolute": -0.01}}])
    assert _verdicts(table) == {"": True, "country=FR": False, "country=US": True}
    by_slice = {r["slice"]: r for r in table.to_pylist()}
    assert by_slice[""]["bound"] == pytest.approx(0.805 - 0.01)
    assert by_slice["country=FR"]["baseline"] == 0.75
    # a positive amount: must gain at least that much
    _, table = _check([{"metric": "auc", "slices": ["country=*"], "change": {"absolute": 0.02}}])
    assert _verdicts(table) == {"country=FR": False, "country=US": True}


def test_relative_change_on_a_lower_is_better_metric():
    # may rise by at most 2 % of |baseline|: (candidate - baseline) / |baseline| <= 0.02
    _, table = _check([{"metric": "average_loss", "slices": ["", "country=*"],
                        "change": {"relative": 0.02}}])
    expected = {s: (c - b) / abs(b) <= 0.02 for s, c, b in LOSS if s != "device=ios"}
    assert expected == {"": True, "country=FR": True, "country=US": False}
    assert _verdicts(table) == expected
    us = [r for r in table.to_pylist() if r["slice"] == "country=US"][0]
    assert us["bound"] == pytest.approx(0.60 * 1.02)
    assert "lower is better" in us["reason"]
    # a negative amount: must fall by at least 10 %
    _, table = _check([{"metric": "average_loss", "slices": ["country=*"],
                        "change": {"relative": -0.1}}])
    assert _verdicts(table) == {"country=FR": True, "country=US": False}


def test_a_given_direction_turns_the_comparison():
    _, table = _check([{"metric": "auc", "slices": ["country=*"], "change": {"absolute": 0.0},
                        "direction": "lower"}])
    assert _verdicts(table) == {"country=FR": True, "country=US": False}


def test_relative_change_fails_where_the_baseline_is_0():
    _, table = _check([{"metric": "auc", "slices": ["device=*"], "change": {"relative": 1.0}}])
    row, = table.to_pylist()
    assert row["baseline"] == 0.0 and not row["passed"]
    assert "baseline is 0: a relative change is undefined" in row["reason"]
    _, table = _check([{"metric": "auc", "slices": ["device=*"], "change": {"absolute": 0.5}}])
    assert table.column("passed").to_pylist() == [True]  # 0.6 >= 0 + 0.5


def test_a_nan_value_fails_its_gate():
    _, table = _check([{"metric": "average_loss", "slices": ["device=*"], "upper_bound": 10},
                       {"metric": "average_loss", "slices": ["device=*"],
                        "change": {"absolute": 5}}])
    rows = table.to_pylist()
    assert [r["passed"] for r in rows] == [False, False]
    assert all("NaN (undefined on this slice)" in r["reason"] for r in rows)


def test_class_and_threshold_select_their_rows():
    _, table = _check([{"metric": "recall", "class": "fish", "threshold": 0.5,
                        "change": {"absolute": -0.01}},
                       {"metric": "recall", "class": "cat", "threshold": 0.5,
                        "change": {"absolute": -0.01}}])
    fish, cat = table.to_pylist()
    assert fish["passed"] and fish["value"] == 0.66 and fish["baseline"] == 0.60
    assert not cat["passed"] and cat["baseline"] is None
    assert "baseline has no value" in cat["reason"]


def test_slice_globs_select_the_slices_fnmatch_selects():
    slices = [s for s, _, _ in AUC]
    for globs in (["country=*"], ["", "device=*"], ["*=*"], ["country=[FU]*"]):
        _, table = _check([{"metric": "auc", "slices": globs, "lower_bound": 0}])
        expected = {s for s in slices if any(fnmatch.fnmatchcase(s, g) for g in globs)}
        assert set(_verdicts(table)) == expected, globs


def test_a_gate_selecting_nothing_fails_naming_what_it_looked_for():
    gates, table = _check([{"metric": "acuracy", "lower_bound": 0.5},
                           {"metric": "auc", "slices": ["", "country=DE"], "lower_bound": 0.5},
                           {"metric": "recall", "lower_bound": 0.5}])
    rows = table.to_pylist()
    typo = [r for r in rows if r["gate"] == 0]
    assert len(typo) == 1 and not typo[0]["passed"] and typo[0]["value"] is None
    assert typo[0]["reason"].startswith("selects no row: no candidate row of metric acuracy")
    assert "the report has no metric acuracy (it has auc, average_loss, recall)" \
        in typo[0]["reason"]
    # one glob of two matched nothing: the other's row passes, the gate fails
    de = [r for r in rows if r["gate"] == 1]
    assert [(r["slice"], r["passed"]) for r in de] == [("", True), ("country=DE", False)]
    assert "on a slice matching 'country=DE'" in de[1]["reason"]
    # recall exists, with classes and thresholds only
    assert "its rows have class cat, fish and threshold 0.5" in rows[-1]["reason"]
    summary = validation_summary(gates, table)
    assert summary["ok"] is False and summary["gates"] == 3
    assert [f["gate"] for f in summary["failed"]] == [0, 1, 2]
    assert summary["blessing"] == NOT_BLESSED_FILE


def test_passed_follows_from_value_bound_and_kind():
    _, table = _check([{"metric": "auc", "slices": ["*"], "change": {"absolute": -0.03}},
                       {"metric": "average_loss", "slices": ["*"], "change": {"relative": 0.1}},
                       {"metric": "auc", "slices": ["*"], "upper_bound": 0.85}])
    for r in table.to_pylist():
        if r["value"] is None or math.isnan(r["value"]) or r["bound"] is None or \
                (r["kind"] == "change_relative" and r["baseline"] == 0):
            assert not r["passed"]
            continue
        higher = r["metric"] == "auc"
        ok = r["value"] <= r["bound"] if r["kind"] == "upper_bound" or not higher \
            else r["value"] >= r["bound"]
        assert r["passed"] == ok, r


# -- the report folder: files, run.json, check -------------------------------------------

class _Config:
    def __init__(self, gates):
        self.validation = parse_validation(gates, has_baseline=True)


def test_finish_comparison_writes_the_files(tmp_path):
    folder = str(tmp_path)
    pq.write_table(_metrics(), os.path.join(folder, "metrics.parquet"))
    out = finish_comparison(folder, _Config([{"metric": "auc", "lower_bound": 0.5}]))
    assert out["validation"] == {"ok": True, "gates": 1, "failed": [], "blessing": BLESSED_FILE}
    assert sorted(os.listdir(folder)) == [BLESSED_FILE, COMPARISON_FILE, "metrics.parquet",
                                          VALIDATION_FILE]
    assert os.path.getsize(os.path.join(folder, BLESSED_FILE)) == 0
    out = finish_comparison(folder, _Config([{"metric": "auc", "lower_bound": 0.9}]))
    assert not out["validation"]["ok"]
    assert NOT_BLESSED_FILE in os.listdir(folder) and BLESSED_FILE not in os.listdir(folder)


def test_no_gates_write_no_blessing_and_say_so(tmp_path):
    folder = str(tmp_path)
    pq.write_table(_metrics(with_baseline=False), os.path.join(folder, "metrics.parquet"))
    out = finish_comparison(folder, _Config(None))
    assert out["validation"] == {"ok": True, "gates": 0, "failed": [], "blessing": None,
                                 "note": NO_GATES_NOTE}
    assert os.listdir(folder) == ["metrics.parquet"]  # no comparison without a baseline


GATES = [{"metric": "auc", "slices": ["", "country=*"], "change": {"absolute": -0.01}},
         {"metric": "auc", "lower_bound": 0.5}]


@pytest.fixture
def finished(tmp_path):
    folder = str(tmp_path / "report")
    write_complete(folder, _metrics().to_pylist(), config={"validation": GATES})
    return folder


def test_check_exit_codes_and_it_writes_only_when_asked(finished, tmp_path, capsys):
    before = sorted(os.listdir(finished))
    assert cli.main(["check", finished]) == 3  # country=FR dropped by 0.05
    out, err = capsys.readouterr()
    assert out.startswith("FAILED gate 0 ") and "country=FR" not in err
    assert err == ('headeval check: validation failed: 1 of 2 gates: gate 0 {"metric": "auc", '
                   '"slices": ["", "country=*"], "change": {"absolute": -0.01}}\n')
    assert sorted(os.listdir(finished)) == before
    config = tmp_path / "gates.yaml"
    config.write_text("validation:\n  - {metric: auc, slices: ['country=US'], "
                      "change: {absolute: 0.01}}\n")
    assert cli.main(["check", finished, "--config", str(config)]) == 0
    assert "validation: 1 gate passed (BLESSED)" in capsys.readouterr().out
    assert cli.main(["check", finished, "--write"]) == 3
    assert NOT_BLESSED_FILE in os.listdir(finished)
    assert len(pq.read_table(os.path.join(finished, VALIDATION_FILE))) == 4
    with open(os.path.join(finished, RUN_FILE)) as f:
        assert json.load(f)["validation"]["failed"][0]["gate"] == 0
    assert cli.main(["check", finished, "--config", str(config), "--write"]) == 0
    assert BLESSED_FILE in os.listdir(finished) and NOT_BLESSED_FILE not in os.listdir(finished)


def test_check_errors(finished, tmp_path, capsys):
    one_model = str(tmp_path / "one")
    write_complete(one_model, _metrics(with_baseline=False).to_pylist(),
                   config={"validation": GATES[:1]})
    assert cli.main(["check", one_model]) == 1  # a change gate with no baseline
    assert "`validation[0].change` must be used with a `baseline:` model" \
        in capsys.readouterr().err
    # ... which another report can be: its candidate is the baseline
    baseline = str(tmp_path / "baseline")
    write_complete(baseline, [dict(r, model=CANDIDATE) for r in _metrics().to_pylist()
                              if r["model"] == BASELINE])
    assert cli.main(["check", one_model, "--baseline", baseline]) == 3
    assert "value 0.7 < bound 0.74 = baseline 0.75 + -0.01 (higher is better; change -0.05 " \
        "= -6.667% of |baseline|)" in capsys.readouterr().out
    assert cli.main(["check", one_model, "--baseline", finished]) == 0  # the same candidate
    capsys.readouterr()
    assert cli.main(["check", str(tmp_path / "nowhere")]) == 1
    assert "is not a complete headeval report" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["check"])
    assert info.value.code == 2


# -- one real run ------------------------------------------------------------------------

def test_a_run_with_a_failing_gate_exits_3(tmp_path, capsys):
    from tests.support.example_records import example, write_tfrecords
    rng = np.random.default_rng(18)
    n = 400
    y = rng.integers(0, 2, n)
    z = rng.normal(0, 1, n) + 1.5 * (2 * y - 1)
    g = np.where(rng.random(n) < 0.5, "a", "b")
    z[g == "b"] = rng.normal(0, 1, (g == "b").sum())  # no signal on g=b
    write_tfrecords(str(tmp_path / "data.tfrecord"),
                    [example(z=[float(v)], y=[int(t)], g=[s.encode()]) for v, t, s in
                     zip(z, y, g)])
    accuracy = {"g=" + s: float(np.mean(((z > 0) == (y == 1))[g == s])) for s in "ab"}
    bound = (accuracy["g=a"] + accuracy["g=b"]) / 2
    assert accuracy["g=a"] > bound + 0.05 > bound - 0.05 > accuracy["g=b"]
    config = tmp_path / "eval.yaml"
    config.write_text(
        "input:\n  pattern: data.tfrecord\n  features: {z: {dtype: float32}, y: {dtype: int64}, "
        "g: {dtype: string}}\nmodel: {logits: z}\nheads: [{type: binary, label: y}]\n"
        "slices: [[], [g]]\nvalidation:\n"
        "  - {metric: accuracy, slices: ['g=*'], lower_bound: %r}\n"
        "  - {metric: example_count, slices: ['', 'g=c'], lower_bound: 1}\n" % bound)
    out = str(tmp_path / "report")
    assert cli.main(["run", str(config), "--output", out, "--runner=FnApiRunner"]) == 3
    stdout, stderr = capsys.readouterr()
    assert stderr.startswith("headeval run: validation failed: 2 of 2 gates: gate 0 ")
    assert NOT_BLESSED_FILE in os.listdir(out) and BLESSED_FILE not in os.listdir(out)
    rows = pq.read_table(os.path.join(out, VALIDATION_FILE)).to_pylist()
    got = {(r["gate"], r["slice"]): r for r in rows}
    for s, value in accuracy.items():
        assert got[(0, s)]["value"] == pytest.approx(value, rel=1e-6)
        assert got[(0, s)]["passed"] == (value >= bound)
    assert got[(1, "")]["passed"] and got[(1, "")]["value"] == n
    assert not got[(1, "g=c")]["passed"]  # a slice that does not exist fails
    with open(os.path.join(out, RUN_FILE)) as f:
        validation = json.load(f)["validation"]
    assert validation["ok"] is False and [f["gate"] for f in validation["failed"]] == [0, 1]


def test_significant_bound_gates_judge_the_interval():
    """A `significant` bound fails only when the whole interval misses it;
    without an interval (a count) the point decides. Hand-made rows."""
    from pipeline.config.validation import Gate
    from pipeline.report.schema import rows_to_table as to_table

    def row(metric, value, lower, upper, key):
        return full_metric_row({"head": "", "slice": "", "metric": metric, "class": None,
                                "threshold": None, "value": value, "key": key,
                                "lower": lower, "upper": upper, "stderr": None})
    metrics = to_table([row("auc", 0.78, 0.74, 0.82, "auc"),
                        row("average_loss", 0.52, 0.49, 0.55, "average_loss"),
                        row("example_count", 90.0, None, None, "example_count")],
                       METRICS_SCHEMA)
    gates = [Gate("auc", "lower_bound", 0.80, significant=True),     # 0.82 reaches 0.80
             Gate("auc", "lower_bound", 0.83, significant=True),     # 0.82 misses 0.83
             Gate("auc", "lower_bound", 0.80),                        # the point 0.78 misses
             Gate("average_loss", "upper_bound", 0.50, significant=True),  # 0.49 reaches
             Gate("average_loss", "upper_bound", 0.48, significant=True),  # 0.49 misses
             Gate("example_count", "lower_bound", 100, significant=True)]  # point: 90 < 100
    passed = [r["passed"] for r in check_gates(gates, metrics).to_pylist()]
    assert passed == [True, False, False, True, False, False]
