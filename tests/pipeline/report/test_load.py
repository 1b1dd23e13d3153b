"""Damaged report files in `show` and `report` (pipeline.report.load): one
line naming the file and exit 1, never a traceback and never numbers read
from a broken file (issue 17). Before, each case below printed a 20-40
line traceback, and a flipped byte inside a data page showed other numbers
with exit 0."""
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import cli
from pipeline.io.files import write_json
from pipeline.report.load import load_report, read_metrics_rows
from pipeline.report.schema import CURVES_FILE, METRICS_FILE, RUN_FILE
from tests.support.report_files import write_curves, write_metrics

ROWS = [{"head": "", "slice": "", "metric": "auc", "class": None, "threshold": None,
         "value": 0.25 + i / 1000, "key": "auc_%d" % i} for i in range(400)]
CURVES = [{"head": "", "slice": "", "class": None, "curve": "roc", "threshold": t / 50,
           "tp": 1.0, "fp": 2.0, "tn": 3.0, "fn": 4.0, "precision": 1 / 3, "recall": 0.2,
           "fpr": 0.4} for t in range(50)]
RUN = {"headeval_report": 1, "counts": {"read": 10, "evaluated": 10, "rejected": 0},
       "config": {"heads": [{"type": "binary"}]}, "wall_seconds": 1.5}


@pytest.fixture
def report(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    write_metrics(ROWS, str(folder / METRICS_FILE))
    write_curves(CURVES, str(folder / CURVES_FILE))
    write_json(RUN, str(folder / RUN_FILE))
    return folder


def _rewrite(path, change):
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(change(data)))


def _flip_in_data_page(path, column):
    """Flips bytes in the middle of `column`'s data in the first row group,
    leaving the file's footer and page headers readable."""
    meta = pq.ParquetFile(str(path)).metadata.row_group(0)
    chunk = next(meta.column(i) for i in range(meta.num_columns)
                 if meta.column(i).path_in_schema == column)
    middle = chunk.data_page_offset + chunk.total_compressed_size * 3 // 4

    def flip(data):
        for i in range(middle, middle + 4):
            data[i] ^= 0x55
        return data
    _rewrite(path, flip)


def _table_without(path, column):
    table = pq.read_table(str(path))
    pq.write_table(table.drop_columns([column]), str(path))


def _value_as_text(path):
    table = pq.read_table(str(path))
    i = table.schema.get_field_index("value")
    pq.write_table(table.set_column(i, "value", table.column("value").cast(pa.string())),
                   str(path))


def _null_heads(path):
    table = pq.read_table(str(path))
    i = table.schema.get_field_index("head")
    pq.write_table(table.set_column(i, pa.field("head", pa.string()),
                                    pa.nulls(len(table), pa.string())), str(path))


DAMAGE = {
    "metrics truncated": (METRICS_FILE, lambda p: _rewrite(p, lambda d: d[:-100]), "damaged"),
    "metrics empty": (METRICS_FILE, lambda p: p.write_bytes(b""), "damaged"),
    "metrics not parquet": (METRICS_FILE, lambda p: p.write_bytes(b"PAR1" + b"x" * 900 + b"PAR1"),
                            "damaged"),
    "metrics byte flipped": (METRICS_FILE, lambda p: _flip_in_data_page(p, "value"),
                             "checksum"),
    "metrics missing a column": (METRICS_FILE, lambda p: _table_without(p, "head"),
                                 "no column 'head'"),
    "metrics value as text": (METRICS_FILE, _value_as_text, "column 'value' is string"),
    "metrics null heads": (METRICS_FILE, _null_heads, "column 'head' holds nulls"),
    "curves byte flipped": (CURVES_FILE, lambda p: _flip_in_data_page(p, "tp"), "damaged"),
    "curves missing a column": (CURVES_FILE, lambda p: _table_without(p, "curve"),
                                "no column 'curve'"),
    "run.json not json": (RUN_FILE, lambda p: p.write_text("{not json"), "damaged"),
    "run.json a list": (RUN_FILE, lambda p: p.write_text("[1, 2]"), "JSON list, not an object"),
    "run.json counts text": (RUN_FILE, lambda p: p.write_text(json.dumps(dict(RUN, counts="x"))),
                             "field 'counts' is str"),
    "run.json heads not objects": (
        RUN_FILE, lambda p: p.write_text(json.dumps(dict(RUN, config={"heads": [1]}))),
        "config.heads"),
    "run.json a folder": (RUN_FILE, lambda p: (os.remove(p), os.mkdir(p)), "damaged"),
}


def test_an_undamaged_report_reads_back(report):
    loaded = load_report(str(report))
    assert [r["value"] for r in loaded.rows] == [r["value"] for r in ROWS]
    assert loaded.curves["threshold"] == [c["threshold"] for c in CURVES]
    assert loaded.run == RUN


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_report_file_is_one_line_naming_it(report, capsys, case):
    name, damage, words = DAMAGE[case]
    damage(report / name)
    commands = [["report", str(report), "--out", str(report / "page.html")]]
    if name != CURVES_FILE:  # show does not read the curves
        commands.append(["show", str(report)])
    for command in commands:
        assert cli.main(command) == 1, command
        err = capsys.readouterr().err
        assert err.startswith("headeval %s: error: %s" % (command[0], report / name)), err
        assert words in err and err.count("\n") == 1, err
    assert not (report / "page.html").exists()


def test_no_metrics_file_says_so(tmp_path, capsys):
    assert cli.main(["show", str(tmp_path)]) == 1
    assert "has no metrics.parquet" in capsys.readouterr().err
    with pytest.raises(Exception, match="has no metrics.parquet"):
        read_metrics_rows(str(tmp_path))


INCOMPLETE = {
    "a future format": (
        lambda f: (f / RUN_FILE).write_text(json.dumps(dict(RUN, headeval_report=99))),
        "{f} was written by a newer headeval (report format 99; this one reads 1)"),
    "no marker": (lambda f: (f / RUN_FILE).write_text(json.dumps(
        {k: v for k, v in RUN.items() if k != "headeval_report"})),
                  "{f} is not a headeval report (its run.json has no headeval_report marker)"),
    "counts that do not add up": (
        lambda f: (f / RUN_FILE).write_text(json.dumps(dict(
            RUN, counts={"read": 1000000, "evaluated": 200, "rejected": 0}))),
        "{f}/run.json is damaged: its counts do not add up: 1000000 records read, 200 "
        "evaluated + 0 rejected = 200"),
    "no run.json (a run still writing, or failed)": (
        lambda f: (f / RUN_FILE).unlink(),
        "{f} is not a complete headeval report: it has no run.json (a run that is still "
        "writing it, or failed)"),
}


@pytest.mark.parametrize("case", sorted(INCOMPLETE))
def test_a_folder_that_is_no_complete_current_report_is_refused(report, capsys, case):
    """show and report printed these (and report wrote report.html into a
    folder without run.json), exit 0."""
    change, message = INCOMPLETE[case]
    change(report)
    files = sorted(os.listdir(report))
    for command in (["show", str(report)], ["report", str(report)]):
        assert cli.main(command) == 1, command
        assert capsys.readouterr().err == "headeval %s: error: %s\n" % (
            command[0], message.format(f=report))
    assert sorted(os.listdir(report)) == files  # no report.html written into it


def test_report_needs_the_curves_that_every_run_writes(report, capsys):
    (report / CURVES_FILE).unlink()
    assert cli.main(["report", str(report)]) == 1
    assert capsys.readouterr().err == (
        "headeval report: error: %s is not a complete headeval report: it has no "
        "curves.parquet (every run writes it)\n" % report)
    assert not (report / "report.html").exists()
    assert cli.main(["show", str(report)]) == 0  # show does not need them
