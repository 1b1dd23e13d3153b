"""comparison.parquet (pipeline.report.comparison) and `headeval diff`.

Oracle: pandas' outer merge of the two models' rows, with delta and
relative computed here in numpy; the refusal messages written out by hand.
"""
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import cli
from pipeline.report.comparison import comparison_table, diff_reports
from pipeline.report.schema import (BASELINE, CANDIDATE, COMPARISON_SCHEMA, METRICS_SCHEMA,
                                    rows_to_table)
from tests.support.report_files import full_metric_row, write_complete

# SPEC §6, written out.
SPEC_COLUMNS = ["head", "slice", "slice_spec", "metric", "class", "threshold", "average", "k",
                "key", "candidate", "baseline", "delta", "relative", "delta_lower",
                "delta_upper"]


def _row(model, slice_, metric, value, cls=None, threshold=None, head="h", average=None,
         k=None):
    key = metric + ("/%s" % cls if cls else "") + ("/t%g" % threshold if threshold else "") \
        + ("/%s" % average if average else "") + ("/top%d" % k if k else "")
    return full_metric_row({"head": head, "slice": slice_, "metric": metric, "class": cls,
                            "threshold": threshold, "value": value, "key": key,
                            "model": model, "average": average, "k": k})


def _rows(seed=0):
    """Both models on three slices: classes, thresholds, an average, a top-k;
    baselines of 0 and a NaN; one row each model alone has."""
    rng = np.random.default_rng(seed)
    rows = {CANDIDATE: [], BASELINE: []}
    for slice_ in ("", "c=a", "c=b"):
        specs = [("auc", None, None, None, None), ("auc", "0", None, None, None),
                 ("precision", None, 0.5, None, None), ("precision", None, 0.7, None, None),
                 ("recall", None, None, "macro", None), ("accuracy", None, None, None, 2),
                 ("average_loss", None, None, None, None)]
        for metric, cls, threshold, average, k in specs:
            for model in (CANDIDATE, BASELINE):
                value = float(rng.uniform(0.1, 0.9))
                rows[model].append(_row(model, slice_, metric, value, cls, threshold,
                                        average=average, k=k))
    rows[BASELINE][1]["value"] = 0.0            # relative undefined
    rows[BASELINE][2]["value"] = -0.25          # |baseline| in relative
    rows[CANDIDATE][3]["value"] = math.nan     # undefined on its slice
    rows[CANDIDATE].append(_row(CANDIDATE, "c=b", "f1", 0.4))   # the candidate alone
    rows[BASELINE].append(_row(BASELINE, "c=c", "auc", 0.6))    # the baseline alone
    return rows


def _oracle(rows):
    keys = ["head", "slice", "slice_spec", "metric", "class", "threshold", "average", "k",
            "key"]
    c = pd.DataFrame(rows[CANDIDATE])[keys + ["value"]].rename(columns={"value": "candidate"})
    b = pd.DataFrame(rows[BASELINE])[keys + ["value"]].rename(columns={"value": "baseline"})
    # pandas merges None with None: the same pairing rule, independently.
    m = c.merge(b, on=keys, how="outer", sort=False, indicator=True)
    out = []
    for r in m.to_dict("records"):
        cand = None if r["_merge"] == "right_only" else r["candidate"]
        base = None if r["_merge"] == "left_only" else r["baseline"]
        delta = None if cand is None or base is None else cand - base
        rel = None if delta is None or base == 0 else delta / abs(base)
        out.append({**{k: r[k] for k in keys}, "candidate": cand, "baseline": base,
                    "delta": delta, "relative": rel})
    return out


def _same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, float):
        return b == pytest.approx(a, rel=1e-12, abs=1e-15)
    return a == b


def _key(r):
    return (r["slice"], r["key"])


def test_comparison_values_equal_the_merge_oracle():
    rows = _rows()
    metrics = rows_to_table(rows[CANDIDATE] + rows[BASELINE], METRICS_SCHEMA)
    table = comparison_table(metrics)
    assert table.schema == COMPARISON_SCHEMA and table.schema.names == SPEC_COLUMNS
    got = {_key(r): r for r in table.to_pylist()}
    expected = {_key(r): r for r in _oracle(rows)}
    assert set(got) == set(expected) and len(got) == table.num_rows == 7 * 3 + 2
    for key, want in expected.items():
        for column in ("candidate", "baseline", "delta", "relative", "class", "average", "k",
                       "threshold", "slice_spec"):
            w = want[column]
            w = None if (not isinstance(w, str) and w is not None and pd.isna(w)
                         and column not in ("candidate", "delta", "relative")) else w
            if column == "k" and w is not None:
                w = int(w)
            assert _same(w, got[key][column]), (key, column, w, got[key][column])
        assert got[key]["delta_lower"] is None and got[key]["delta_upper"] is None
    # relative is null (not NaN, not inf) where the baseline is 0, and uses |baseline|
    zero = got[("", "auc/0")]
    assert zero["baseline"] == 0.0 and zero["relative"] is None and zero["delta"] is not None
    neg = got[("", "precision/t0.5")]
    assert neg["relative"] == pytest.approx((neg["candidate"] + 0.25) / 0.25)
    # rows one model alone has are kept, the other side null; candidate rows first
    assert got[("c=b", "f1")]["baseline"] is None and got[("c=b", "f1")]["delta"] is None
    assert got[("c=c", "auc")]["candidate"] is None and got[("c=c", "auc")]["baseline"] == 0.6
    assert table.to_pylist()[-1]["slice"] == "c=c"
    assert math.isnan(got[("", "precision/t0.7")]["delta"])  # NaN stays NaN (undefined)


def test_a_row_twice_in_one_model_is_refused():
    rows = _rows()
    metrics = rows_to_table(rows[CANDIDATE] + rows[CANDIDATE][:1] + rows[BASELINE],
                            METRICS_SCHEMA)
    with pytest.raises(Exception, match="candidate's metrics hold the row .* more than once"):
        comparison_table(metrics)


def _equal(a, b):
    """Tables equal, NaN equal to NaN (Table.equals says NaN != NaN)."""
    assert a.schema.names == b.schema.names
    pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas())


# -- headeval diff ---------------------------------------------------------------------

def _one_model(rows):
    return [dict(r, model=CANDIDATE) for r in rows]


@pytest.fixture
def two_reports(tmp_path):
    rows = _rows(1)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    write_complete(a, rows[CANDIDATE])
    write_complete(b, _one_model(rows[BASELINE]))
    return a, b, rows


def test_diff_of_two_reports_equals_the_one_pass_comparison(two_reports):
    a, b, rows = two_reports
    one_pass = comparison_table(rows_to_table(rows[CANDIDATE] + rows[BASELINE], METRICS_SCHEMA))
    _equal(diff_reports(a, b), one_pass)


def test_diff_command_prints_and_writes(two_reports, tmp_path, capsys):
    a, b, rows = two_reports
    out = str(tmp_path / "cmp.parquet")
    assert cli.main(["diff", a, b, "--output", out]) == 0
    printed = capsys.readouterr().out
    _equal(pq.read_table(out), diff_reports(a, b))
    overall_auc = [r for r in _oracle(rows) if r["slice"] == "" and r["key"] == "auc"][0]
    line = next(x for x in printed.splitlines() if x.split()[1:2] == ["auc"])
    assert line.split()[2:5] == ["%.6g" % overall_auc["candidate"],
                                 "%.6g" % overall_auc["baseline"],
                                 "%.6g" % overall_auc["delta"]]
    assert "23 rows over 4 slices in all, 1 only in the candidate, 1 only in the baseline" \
        in printed
    assert cli.main(["diff", a, b, "--output", out]) == 2  # exists: --overwrite replaces it
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main(["diff", a, b, "--output", out, "--overwrite"]) == 0


@pytest.mark.parametrize("change, words", [
    (lambda r: dict(r, head="tags") if r["head"] == "h" else r,
     "heads differ: A has h, B has tags"),
    (lambda r: full_metric_row({k: v for k, v in dict(r, slice="d=x" if r["slice"] else "")
                                .items() if k not in ("slice_spec", "slice_values")}),
     "slices differ: A has c, B has d"),
])
def test_diff_refuses_reports_that_do_not_line_up(tmp_path, capsys, change, words):
    rows = _rows(2)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    write_complete(a, rows[CANDIDATE])
    write_complete(b, [change(r) for r in _one_model(rows[BASELINE])])
    assert cli.main(["diff", a, b]) == 1
    err = capsys.readouterr().err
    assert err == "headeval diff: error: %s and %s cannot be compared: %s\n" % (a, b, words)


def test_diff_refuses_heads_of_another_type(tmp_path, capsys):
    rows = _rows(3)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    write_complete(a, rows[CANDIDATE], config={"heads": [{"name": "h", "type": "binary"}]})
    write_complete(b, _one_model(rows[BASELINE]),
                   config={"heads": [{"name": "h", "type": "multi_class"}]})
    assert cli.main(["diff", a, b]) == 1
    assert capsys.readouterr().err.endswith("head h is binary in A, multi_class in B\n")
