"""`headeval show` of a report with a baseline, gates and intervals: the
numbers printed are the files' (read back from the text), failed gates and
the verdict come first, the slices where the candidate is worse follow the
overall slice, intervals print as value ± half-width.

The reports are made up (tests/support/versus_files.py: hand-chosen
numbers); the oracle is those numbers and plain subtraction.
"""
import csv
import io
import json
import re

import pytest

from pipeline import cli
from pipeline.report import text, versus
from tests.support import versus_files as vf


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("versus")
    plain, ci = str(root / "plain"), str(root / "ci")
    vf.write_versus(plain)
    vf.write_versus(ci, intervals=True, gates=False, comparison=False)
    return plain, ci


def _blocks(output):
    """{slice: [lines of its block]} of a `show` table, in print order."""
    blocks, current = {}, None
    for line in output.splitlines():
        m = re.match(r"^(\(overall\)|g=\w+): ", line)
        if m:
            current = "" if m.group(1) == "(overall)" else m.group(1)
            blocks[current] = [line]
        elif current is not None:
            blocks[current].append(line)
    return blocks


def _scalar_lines(block):
    """{metric: [cells]} of a block's metric table (split on 2+ spaces)."""
    out = {}
    for line in block[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] in ("auc", "accuracy", "average_loss"):
            out[cells[0]] = cells
    return out


def test_table_has_baseline_and_delta_of_the_files(folders, capsys):
    assert cli.main(["show", folders[0]]) == 0
    out = capsys.readouterr().out
    blocks = _blocks(out)
    for s, (_, metrics) in vf.NUMBERS.items():
        lines = _scalar_lines(blocks[s])
        assert blocks[s][1].split() == ["metric", "candidate", "baseline", "delta"]
        for metric, (c, b) in metrics.items():
            cells = lines[metric]
            assert float(cells[1]) == pytest.approx(c, abs=1e-9)
            assert float(cells[2]) == pytest.approx(b, abs=1e-9)
            delta = cells[3].split()
            assert float(delta[0]) == pytest.approx(c - b, abs=1e-9)
            sign = {"auc": 1, "accuracy": 1, "average_loss": -1}[metric] * (c - b)
            expected = "better" if sign > 1e-12 else "worse" if sign < -1e-12 else None
            assert (delta[1] if len(delta) > 1 else None) == expected, (s, metric, cells)


def test_failed_gates_and_verdict_first_and_slices_behind_next(folders, capsys):
    assert cli.main(["show", folders[0]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "validation: NOT_BLESSED: 1 of 2 gates failed"
    failed = [r for r in vf.validation_rows() if not r["passed"]]
    assert len(failed) == 1 and lines[1].startswith("  FAILED gate 1 ")
    assert "slice g=a" in lines[1] and failed[0]["reason"] in lines[1]
    assert not any("FAILED" in line for line in lines[2:])
    # auc is worse on g=a (0.80 < 0.86) and g=c (0.88 < 0.885): right after the
    # overall slice, by example count; then g=b
    order = list(_blocks("\n".join(lines)))
    assert order == ["", "g=a", "g=c", "g=b"]
    titles = {s: b[0] for s, b in _blocks("\n".join(lines)).items()}
    assert "candidate worse than baseline: auc -0.06" in titles["g=a"]
    assert "worse" not in titles["g=b"] and "worse" not in titles[""]


def test_csv_json_markdown_keep_one_line_per_row_with_the_new_columns(folders, capsys):
    rows = [r for r in vf.metric_rows() if r["model"] == "candidate"]
    expected = {(r["slice"], r["key"]): r["value"] for r in rows}
    base = {(r["slice"], r["key"]): r["value"] for r in vf.metric_rows()
            if r["model"] == "baseline"}
    assert cli.main(["show", folders[0], "--format", "csv"]) == 0
    got = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(got) == len(rows)
    for line in got:
        key = (line["slice"], line["key"])
        assert line["model"] == "candidate"
        assert float(line["value"]) == expected[key]
        assert float(line["baseline"]) == base[key]
        assert float(line["delta"]) == pytest.approx(expected[key] - base[key], abs=1e-12)
        for column in versus.COMPARED:
            assert column in line
    assert cli.main(["show", folders[0], "--format", "json", "--metric", "auc"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [(r["slice"], r["change"]) for r in got] == [
        ("", "better"), ("g=a", "worse"), ("g=c", "worse"), ("g=b", "better")]
    assert cli.main(["show", folders[0], "--format", "markdown", "--metric", "auc"]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0] == "| head | slice | metric | candidate | baseline | delta |"
    assert md[2] == "|  | (overall) | auc | 0.91 | 0.89 | +0.02 better |"


def test_intervals_print_as_plus_minus_and_no_gates_is_said(folders, capsys):
    assert cli.main(["show", folders[1]]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "validation: no gates: nothing was checked, so no blessing"
    blocks = _blocks(out)
    for s, (_, metrics) in vf.NUMBERS.items():
        width = vf.HALF_WIDTH * (1 if s == "" else 2)
        lines = _scalar_lines(blocks[s])
        for metric, (c, b) in metrics.items():
            value, pm, half = lines[metric][1].split()
            assert (float(value), pm, float(half)) == (pytest.approx(c), "±",
                                                       pytest.approx(width))
    # the delta is computed from the two models' rows (no comparison.parquet)
    assert float(_scalar_lines(blocks["g=a"])["auc"][3].split()[0]) == pytest.approx(-0.06)


def test_an_asymmetric_interval_prints_as_a_range_and_colour_only_when_asked():
    row = {"head": "", "slice": "", "metric": "auc", "class": None, "threshold": None,
           "value": 0.9, "key": "auc", "model": "candidate", "lower": 0.85, "upper": 0.91}
    base = dict(row, model="baseline", value=0.8, lower=None, upper=None)
    plain = text.format_report([row, base], None)
    assert "0.9 [0.85, 0.91]" in plain and "\033[" not in plain
    coloured = text.format_report([row, base], None, colour=True)
    assert "\033[32m+0.1 better\033[0m" in coloured
    # one model, no interval: exactly the old table
    alone = dict(row, lower=None, upper=None)
    assert text.format_report([alone], None) == "(overall)\n  metric  value\n  ------  -----\n" \
        "  auc       0.9\n"
