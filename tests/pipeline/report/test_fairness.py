"""The fairness view (pipeline/report/fairness.py) on tables made here,
against pandas arithmetic on the same rows."""
import math

import numpy as np
import pandas as pd
import pytest

from tests.support.report_files import full_metric_row

from pipeline.config import ConfigError, parse_config
from pipeline.report.fairness import fairness_rows, with_fairness
from pipeline.report.schema import METRICS_SCHEMA, rows_to_table

SLICES = ["", "country=US", "country=FR", "country=JP"]
FPR = {"": 0.2, "country=US": 0.3, "country=FR": 0.1, "country=JP": float("nan")}
RECALL = {"": 0.8, "country=US": 0.6, "country=FR": 1.0, "country=JP": 0.5}
PRECISION_ZERO = {"": 0.0, "country=US": 0.4, "country=FR": 0.0, "country=JP": 0.2}


def _row(slice_, metric, value, threshold=0.5, head="", model="candidate", class_=None):
    key = metric if threshold is None else "%s/positive_threshold_%g" % (metric, threshold)
    return full_metric_row({"head": head, "slice": slice_, "metric": metric, "class": class_,
                            "threshold": threshold, "value": value, "key": key,
                            "model": model})


def _table(rows):
    return rows_to_table(rows, METRICS_SCHEMA)


def _rows():
    rows = []
    for s in SLICES:
        rows.append(_row(s, "false_positive_rate", FPR[s]))
        rows.append(_row(s, "false_positive_rate", FPR[s] / 2, threshold=0.7))
        rows.append(_row(s, "recall", RECALL[s]))
        rows.append(_row(s, "precision", PRECISION_ZERO[s]))
        rows.append(_row(s, "false_positive_rate", FPR[s] + 0.05, model="baseline"))
        rows.append(_row(s, "example_count", 10.0, threshold=None))
    return rows


def _oracle(rate_values, slice_, overall=""):
    frame = pd.Series(rate_values)
    diff = frame - frame[overall]
    ratio = frame / frame[overall] if frame[overall] != 0 else frame * np.nan
    return diff[slice_], ratio[slice_]


def _value(table, metric, slice_, key_tail="/positive_threshold_0.5", model="candidate"):
    got = [r for r in table.to_pylist() if r["metric"] == metric and r["slice"] == slice_
           and r["model"] == model and r["key"] == metric + key_tail]
    assert len(got) == 1, (metric, slice_, got)
    return got[0]


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-12


def test_difference_and_ratio_to_the_overall_slice_per_model_and_threshold():
    table = fairness_rows(_table(_rows()), ["fpr", "tpr"], thresholds=[0.5])
    assert table.schema == METRICS_SCHEMA
    for s in SLICES[1:]:
        diff, ratio = _oracle(FPR, s)
        row = _value(table, "fpr_difference", s)
        assert _same(row["value"], diff) and row["threshold"] == 0.5
        assert _same(_value(table, "fpr_ratio", s)["value"], ratio)
        base = {k: v + 0.05 for k, v in FPR.items()}
        assert _same(_value(table, "fpr_difference", s, model="baseline")["value"],
                     _oracle(base, s)[0])
        assert _same(_value(table, "tpr_difference", s)["value"], _oracle(RECALL, s)[0])
        assert row["slice_spec"] == "country" and row["lower"] is None
    # the overall slice gets no rows; the 0.7 threshold was not asked for
    assert "" not in set(table.column("slice").to_pylist())
    assert 0.7 not in set(table.column("threshold").to_pylist())
    # JP's NaN rate stays NaN in both
    assert math.isnan(_value(table, "fpr_difference", "country=JP")["value"])


def test_ratio_is_nan_where_the_overall_value_is_zero_and_all_thresholds_by_default():
    table = fairness_rows(_table(_rows()), ["ppv", "fpr"])
    for s in SLICES[1:]:
        assert math.isnan(_value(table, "ppv_ratio", s)["value"])
        assert _same(_value(table, "ppv_difference", s)["value"], PRECISION_ZERO[s])
        half = {k: v / 2 for k, v in FPR.items()}
        assert _same(_value(table, "fpr_difference", s, "/positive_threshold_0.7")["value"],
                     _oracle(half, s)[0])


def test_fnr_falls_back_to_one_minus_recall():
    table = fairness_rows(_table(_rows()), ["fnr"], thresholds=[0.5])
    fnr = {k: 1.0 - v for k, v in RECALL.items()}
    for s in SLICES[1:]:
        diff, ratio = _oracle(fnr, s)
        assert _same(_value(table, "fnr_difference", s)["value"], diff)
        assert _same(_value(table, "fnr_ratio", s)["value"], ratio)


def test_a_rate_without_rows_adds_none_and_no_config_is_the_table_itself():
    table = _table(_rows())
    assert fairness_rows(table, ["npv"]).num_rows == 0
    assert with_fairness(table, None) is table
    config = parse_config(_config({"fairness": {"rates": ["fpr"], "thresholds": [0.5]}}))
    out = with_fairness(table, config.metrics.fairness)
    assert out.num_rows == table.num_rows + 2 * 3 * 2  # two kinds, three slices, two models


def _config(metrics):
    return {"input": {"pattern": "x.tfrecord", "features": {
                "y": {"dtype": "int64"}, "z": {"dtype": "float32"}}},
            "model": {"logits": "z"}, "heads": [{"type": "binary", "label": "y"}],
            "metrics": metrics}


@pytest.mark.parametrize("metrics, key", [
    ({"fairness": {"rates": []}}, "metrics.fairness.rates"),
    ({"fairness": {"rates": ["fpr", "fpr"]}}, "metrics.fairness.rates"),
    ({"fairness": {"rates": ["f/pr"]}}, "metrics.fairness.rates[0]"),
    ({"fairness": {"thresholds": [0.5]}}, "metrics.fairness.rates"),
    ({"fairness": {"rates": ["fpr"], "thresholds": [1.5]}}, "metrics.fairness.thresholds"),
    ({"fairness": {"rates": ["fpr"], "tresholds": [0.5]}}, "metrics.fairness.tresholds"),
    ({"custom": ["no_colon"]}, "metrics.custom[0]"),
    ({"custom": "pkg:f"}, "metrics.custom"),
    ({"custom": ["pkg:f", "pkg:f"]}, "metrics.custom"),
])
def test_bad_metric_options_name_their_key(metrics, key):
    with pytest.raises(ConfigError) as e:
        parse_config(_config(metrics))
    assert "`%s`" % key in str(e.value) and "\n" not in str(e.value)


def test_metric_options_round_trip_through_to_dict():
    config = parse_config(_config({"custom": ["pkg.mod:f"],
                                   "fairness": {"rates": ["fpr", "accuracy"],
                                                "thresholds": [0.25, 0.5]}}))
    assert config.metrics.custom == ("pkg.mod:f",)
    assert config.metrics.fairness.rates == ("fpr", "accuracy")
    assert parse_config(config.to_dict()) == config


def test_the_html_slice_table_shows_each_slices_differences():
    from pipeline.report.html.fairness import fairness_table
    rows = fairness_rows(_table(_rows()), ["fpr"], thresholds=[0.5]).to_pylist()
    html = fairness_table(rows, SLICES)
    assert "<th>fpr @ 0.5</th>" in html
    us_diff, us_ratio = _oracle(FPR, "country=US")
    assert '<td title="ratio %.4g">%+.3g</td>' % (us_ratio, us_diff) in html
    assert 'data-slice=""' not in html and html.count("<tr data-slice=") == 3
    assert fairness_table([r for r in rows if r["model"] == "baseline"], SLICES) == ""
