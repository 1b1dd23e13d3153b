"""pipeline.report.output: exact Parquet schemas, run.json, and output-folder safety."""
import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.support.fake_object_store import use_root

from pipeline.errors import OutputExistsError
from pipeline.report.schema import (CURVES_FILE, CURVES_SCHEMA, METRICS_FILE, METRICS_SCHEMA,
                                    REPORT_MARKER, RUN_FILE)
from pipeline.report.output import ReportOutput
from tests.support.report_files import write_curves, write_metrics
from pipeline.io.files import read_json, write_json

METRIC_ROWS = [
    {"head": "", "slice": "", "metric": "auc", "class": None, "threshold": None, "value": 0.75,
     "key": "auc"},
    {"head": "", "slice": "country=FR", "metric": "precision", "class": None, "threshold": 0.5,
     "value": float("nan"), "key": "precision/positive_threshold_0.5"},
    {"head": "", "slice": "", "metric": "auc", "class": "a", "threshold": None, "value": 1,
     "key": "auc/a"},
]
CURVE_ROW = {"head": "h", "slice": "", "class": None, "curve": "roc", "threshold": 0.5,
             "tp": 3.0, "fp": 1.0, "tn": 5.0, "fn": 2.0, "precision": 0.75, "recall": 0.6,
             "fpr": 1 / 6}


def test_metrics_round_trip_exact_schema(tmp_path):
    path = str(tmp_path / METRICS_FILE)
    write_metrics(METRIC_ROWS, path)
    table = pq.read_table(path, use_threads=False)
    assert table.schema.equals(METRICS_SCHEMA)
    # SPEC §4's columns, then §6's appended after `key` in its order.
    assert table.schema.names == ["head", "slice", "metric", "class", "threshold", "value", "key",
                                  "model", "average", "k", "lower", "upper", "stderr",
                                  "slice_spec", "slice_values"]
    assert [f.type for f in table.schema] == (
        [pa.string()] * 4 + [pa.float64()] * 2 + [pa.string()] * 3 + [pa.int64()]
        + [pa.float64()] * 3 + [pa.string()]
        + [pa.list_(pa.struct([("feature", pa.string()), ("value", pa.string())]))])
    assert [f.nullable for f in table.schema][:7] == [False, False, False, True, True, False, False]
    rows = table.to_pylist()
    assert math.isnan(rows[1]["value"])
    added = {"model": "candidate", "average": None, "k": None, "lower": None, "upper": None,
             "stderr": None}
    assert rows[0] == dict(METRIC_ROWS[0], **added, slice_spec="", slice_values=[])
    assert rows[2] == dict(METRIC_ROWS[2], value=1.0, **added, slice_spec="", slice_values=[])
    assert dict(rows[1], value=0) == dict(METRIC_ROWS[1], value=0, **added, slice_spec="country",
                                          slice_values=[{"feature": "country", "value": "FR"}])


def test_curves_round_trip_exact_schema(tmp_path):
    path = str(tmp_path / CURVES_FILE)
    write_curves([CURVE_ROW, dict(CURVE_ROW, curve="pr", **{"class": "b"})], path)
    table = pq.read_table(path, use_threads=False)
    assert table.schema.equals(CURVES_SCHEMA)
    assert table.schema.names == ["head", "slice", "class", "curve", "threshold", "tp", "fp",
                                  "tn", "fn", "precision", "recall", "fpr", "model"]
    assert table.to_pylist()[0] == dict(CURVE_ROW, model="candidate")


def test_empty_tables_keep_the_schema(tmp_path):
    write_metrics([], str(tmp_path / "m.parquet"))
    table = pq.read_table(str(tmp_path / "m.parquet"), use_threads=False)
    assert table.schema.equals(METRICS_SCHEMA)


@pytest.mark.parametrize("row,match", [
    ({k: v for k, v in METRIC_ROWS[0].items() if k != "key"}, "missing \\['key'\\]"),
    (dict(METRIC_ROWS[0], extra=1), "unexpected \\['extra'\\]"),
    (dict(METRIC_ROWS[0], value=None), "column 'value' must not be null"),
    (dict(METRIC_ROWS[0], value="high"), "do not fit the schema"),
])
def test_bad_metric_rows(tmp_path, row, match):
    with pytest.raises(ValueError, match=match):
        write_metrics([METRIC_ROWS[0], row], str(tmp_path / "m.parquet"))


def test_bad_curve_kind(tmp_path):
    with pytest.raises(ValueError, match="curve must be one of"):
        write_curves([dict(CURVE_ROW, curve="det")], str(tmp_path / "c.parquet"))


def test_run_json(tmp_path):
    path = str(tmp_path / RUN_FILE)
    write_json({"counts": {"read": np.int64(3)}, "auc": np.float32(0.5), "bad": float("inf"),
                "shape": (1, 2), "array": np.arange(2)}, path)
    assert read_json(path) == {"counts": {"read": 3}, "auc": 0.5, "bad": None, "shape": [1, 2],
                               "array": [0, 1]}
    json.loads(open(path).read())  # strict JSON: no NaN/Infinity tokens


def _write_report(out, marker="new"):
    write_metrics(METRIC_ROWS[:1], out.file(METRICS_FILE))
    write_json({REPORT_MARKER: 1, "run": marker}, out.file(RUN_FILE))


def _run(path):
    """Which `_write_report` wrote the report at `path` ("old", "new", ...)."""
    return read_json(path)["run"]


def test_new_report_appears_only_on_commit(tmp_path):
    dest = str(tmp_path / "reports" / "r1")
    with ReportOutput(dest) as out:
        _write_report(out)
        assert not os.path.exists(dest)
        assert os.path.dirname(out.path) == os.path.dirname(dest)
    assert sorted(os.listdir(dest)) == [METRICS_FILE, RUN_FILE]
    assert os.listdir(tmp_path / "reports") == ["r1"]  # no temporary folder left


def test_existing_report_is_refused_without_overwrite(tmp_path):
    dest = str(tmp_path / "r")
    with ReportOutput(dest) as out:
        _write_report(out, "old")
    with pytest.raises(OutputExistsError, match="already holds a report.*--overwrite"):
        ReportOutput(dest)
    assert _run(os.path.join(dest, RUN_FILE)) == "old"


def test_overwrite_replaces_the_whole_report(tmp_path):
    dest = str(tmp_path / "r")
    with ReportOutput(dest) as out:
        _write_report(out, "old")
        write_json({}, out.file("rejected", "part-0.parquet"))
    with ReportOutput(dest, overwrite=True) as out:
        _write_report(out, "new")
    assert _run(os.path.join(dest, RUN_FILE)) == "new"
    assert not os.path.exists(os.path.join(dest, "rejected"))
    assert os.listdir(tmp_path) == ["r"]


def test_failed_run_leaves_nothing(tmp_path):
    dest = str(tmp_path / "r")
    with pytest.raises(RuntimeError):
        with ReportOutput(dest) as out:
            write_metrics(METRIC_ROWS, out.file(METRICS_FILE))
            raise RuntimeError("pipeline failed")
    assert os.listdir(tmp_path) == []


def test_failed_overwrite_keeps_the_old_report(tmp_path):
    dest = str(tmp_path / "r")
    with ReportOutput(dest) as out:
        _write_report(out, "old")
    with pytest.raises(RuntimeError):
        with ReportOutput(dest, overwrite=True) as out:
            write_metrics(METRIC_ROWS, out.file(METRICS_FILE))
            raise RuntimeError("pipeline failed")
    assert _run(os.path.join(dest, RUN_FILE)) == "old"
    assert os.listdir(tmp_path) == ["r"]


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path):
    dest = tmp_path / "important"
    dest.mkdir()
    (dest / "thesis.tex").write_text("...")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="not a headeval report"):
            ReportOutput(str(dest), overwrite=overwrite)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputExistsError, match="is a file"):
        ReportOutput(str(tmp_path / "file"))


@pytest.mark.parametrize("plant", [
    "src/main.py",                # a project folder that happens to hold report file names
    "notes.txt",
    "rejected/keep.csv",          # a report's subfolder with a file no report writes
    "vocabularies/sub/x.txt",
])
def test_overwrite_replaces_only_a_folder_that_is_all_report(tmp_path, plant):
    """--overwrite replaces a folder only when our run.json marks it a report
    and every file in it is a report's: a project folder with a file named
    run.json or metrics.parquet was once replaced whole (src/ lost)."""
    dest = tmp_path / "project"
    with ReportOutput(str(dest)) as out:
        _write_report(out, "old")
    (dest / plant).parent.mkdir(parents=True, exist_ok=True)
    (dest / plant).write_text("keep me")
    with pytest.raises(OutputExistsError, match=r"not a headeval report \(it holds .*%s"
                       % os.path.basename(plant.split("/")[0])):
        ReportOutput(str(dest), overwrite=True)
    assert (dest / plant).read_text() == "keep me"
    assert _run(str(dest / RUN_FILE)) == "old"


@pytest.mark.parametrize("run_json", [None, "{}", '{"run": "theirs"}', "not json"])
def test_overwrite_needs_our_run_json(tmp_path, run_json):
    """Report file names alone do not make a report: run.json must carry
    headeval's marker."""
    dest = tmp_path / "r"
    dest.mkdir()
    (dest / METRICS_FILE).write_bytes(b"PAR1")
    if run_json is not None:
        (dest / RUN_FILE).write_text(run_json)
    with pytest.raises(OutputExistsError, match="no run.json written by headeval"):
        ReportOutput(str(dest), overwrite=True)
    assert sorted(os.listdir(dest)) == sorted([METRICS_FILE] + ([RUN_FILE] if run_json else []))


def test_the_root_folder_is_refused_without_a_walk(tmp_path):
    """`--output /` is refused at once (it used to walk the whole disk)."""
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="not a headeval report"):
            ReportOutput("/", overwrite=overwrite)


def test_overwrite_through_a_link_replaces_the_linked_report(tmp_path):
    """An output that is a link to a report: the report it points to is
    replaced, the link stays a link and shows the new report, and nothing
    is left beside them."""
    target = tmp_path / "real"
    with ReportOutput(str(target)) as out:
        _write_report(out, "old")
    link = tmp_path / "link"
    link.symlink_to(target)
    with ReportOutput(str(link), overwrite=True) as out:
        _write_report(out, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert _run(str(link / RUN_FILE)) == "new" and _run(str(target / RUN_FILE)) == "new"
    assert sorted(os.listdir(tmp_path)) == ["link", "real"]


def test_an_empty_folder_is_fine(tmp_path):
    dest = tmp_path / "empty"
    dest.mkdir()
    with ReportOutput(str(dest)) as out:
        _write_report(out)
    assert sorted(os.listdir(dest)) == [METRICS_FILE, RUN_FILE]


def test_report_on_an_object_store(tmp_path):
    """The gs:// path: no folders, the report moved object by object."""
    use_root(tmp_path)
    dest = "fakegs://bucket/reports/r"
    with ReportOutput(dest) as out:
        assert out.path.startswith("fakegs://bucket/reports/.r.tmp-")
        _write_report(out, "old")
        write_json({}, out.file("rejected", "part-0.parquet"))
    files = sorted(os.listdir(tmp_path / "bucket" / "reports" / "r"))
    assert files == sorted([METRICS_FILE, RUN_FILE, "rejected"])
    assert _run(dest + "/" + RUN_FILE) == "old"
    with pytest.raises(OutputExistsError, match="already holds a report"):
        ReportOutput(dest)
    with pytest.raises(RuntimeError):
        with ReportOutput(dest, overwrite=True) as out:
            _write_report(out, "failed")
            raise RuntimeError("pipeline failed")
    assert _run(dest + "/" + RUN_FILE) == "old"
    with ReportOutput(dest, overwrite=True) as out:
        _write_report(out, "new")
    assert _run(dest + "/" + RUN_FILE) == "new"
    left = sorted(os.path.relpath(os.path.join(d, n), tmp_path)
                  for d, _, names in os.walk(tmp_path) for n in names)
    assert left == ["bucket/reports/r/" + METRICS_FILE, "bucket/reports/r/" + RUN_FILE]


# -- what killed runs leave (issue 17) ---------------------------------------------------

def _dead_pid():
    """The pid of a process that has ended (and been reaped)."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _sibling(dest, kind, pid, host=None):
    from pipeline.report import output
    return os.path.join(os.path.dirname(dest), ".%s.%s-%s-%d-0123abcd"
                        % (os.path.basename(dest), kind, host or output._HOST, pid))


def test_temporary_and_set_aside_folders_name_their_owner(tmp_path):
    from pipeline.report import output
    dest = str(tmp_path / "r")
    out = ReportOutput(dest)
    assert os.path.basename(out.path).startswith(".r.tmp-%s-%d-" % (output._HOST, os.getpid()))
    assert "-" not in output._HOST
    out.abort()


def test_a_dead_runs_temporary_folder_is_removed_a_live_ones_kept(tmp_path):
    dest = str(tmp_path / "r")
    dead = _sibling(dest, "tmp", _dead_pid())
    live = _sibling(dest, "tmp", os.getppid())             # a running process
    remote = _sibling(dest, "tmp", _dead_pid(), "otherhost")  # cannot tell: kept
    unowned = str(tmp_path / ".r.tmp-0123abcd")            # an older version's name: kept
    for folder in (dead, live, remote, unowned):
        os.makedirs(os.path.join(folder, "x"))
    with ReportOutput(dest) as out:
        _write_report(out)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["r", os.path.basename(live), os.path.basename(remote), os.path.basename(unowned)])


def test_a_dead_runs_set_aside_report_is_moved_back_when_the_destination_is_empty(tmp_path):
    dest = str(tmp_path / "r")
    with ReportOutput(dest) as out:
        _write_report(out, "old")
    os.rename(dest, _sibling(dest, "old", _dead_pid()))  # killed between the two renames
    os.makedirs(_sibling(dest, "tmp", _dead_pid()))
    with pytest.raises(OutputExistsError, match="already holds a report"):
        ReportOutput(dest)  # the old report is back, and protected
    assert _run(os.path.join(dest, RUN_FILE)) == "old" and os.listdir(tmp_path) == ["r"]


def test_a_dead_runs_set_aside_report_is_dropped_when_its_new_one_is_in(tmp_path):
    dest = str(tmp_path / "r")
    with ReportOutput(dest) as out:
        _write_report(out, "old")
    aside = _sibling(dest, "old", _dead_pid())
    os.rename(dest, aside)
    with ReportOutput(str(tmp_path / "n")) as out:
        _write_report(out, "new")
    os.rename(tmp_path / "n", dest)  # the killed run's second rename: its report is in
    with ReportOutput(dest, overwrite=True) as out:
        _write_report(out, "newer")
    assert _run(os.path.join(dest, RUN_FILE)) == "newer" and os.listdir(tmp_path) == ["r"]


def test_an_interrupt_between_the_renames_puts_the_old_report_back(tmp_path, monkeypatch):
    from pipeline.report import output
    dest = str(tmp_path / "r")
    with ReportOutput(dest) as out:
        _write_report(out, "old")
    rename = os.rename

    def rename_then_interrupt(a, b):
        rename(a, b)
        if ".old-" in b:
            raise KeyboardInterrupt

    monkeypatch.setattr(output.os, "rename", rename_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        with ReportOutput(dest, overwrite=True) as out:
            _write_report(out, "new")
    monkeypatch.setattr(output.os, "rename", rename)
    assert _run(os.path.join(dest, RUN_FILE)) == "old" and os.listdir(tmp_path) == ["r"]


def test_write_error_finds_the_os_error_behind_beams_wrapping(tmp_path):
    import errno
    from pipeline.errors import OutputWriteError
    out = ReportOutput(str(tmp_path / "r"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:  # as Beam's DoFnRunner re-raises a worker's error
            raise RuntimeError("OSError: ... [while running 'WriteReport']")
    except RuntimeError as wrapped:
        error = out.write_error(wrapped)
    assert isinstance(error, OutputWriteError)
    assert str(error) == "cannot write the report to %s: No space left on device" % out.output
    elsewhere = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "input.tfr"))
    assert out.write_error(elsewhere) is None  # an input's error stays what it is
    mine = PermissionError(errno.EACCES, "Permission denied", out.file(METRICS_FILE))
    assert str(out.write_error(mine)).endswith("Permission denied (%s)" % out.file(METRICS_FILE))
    out.abort()


def test_the_working_folder_and_its_ancestors_are_refused(tmp_path, monkeypatch):
    """`--output .` in an empty working folder replaced the working folder
    itself (the shell was left in a deleted folder)."""
    here = tmp_path / "work" / "here"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    for output, words in ((".", "is the current working folder;"),
                          (str(here), "is the current working folder;"),
                          ("..", "choose another output")):  # (not a report, either)
        with pytest.raises(OutputExistsError, match=words):
            ReportOutput(output)
    assert os.listdir(here) == [] and os.listdir(tmp_path / "work") == ["here"]


def test_an_empty_output_is_refused(tmp_path, monkeypatch):
    """"" became "/" (`rstrip("/") or "/"`)."""
    from pipeline.errors import OutputWriteError
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputWriteError, match="the output folder is empty"):
        ReportOutput("")


def test_a_symlink_loop_is_refused_and_a_dead_runs_link_is_removed(tmp_path):
    """An output that is a link loop was moved aside at the commit and left
    as a `.loop.old-...` link that the next run's clean-up (rmtree refuses
    links) never removed."""
    from pipeline.errors import OutputWriteError
    loop = tmp_path / "loop"
    os.symlink("loop", loop)
    with pytest.raises(OutputWriteError, match="is a symbolic link loop"):
        ReportOutput(str(loop))
    assert sorted(os.listdir(tmp_path)) == ["loop"] and os.path.islink(loop)
    dest = str(tmp_path / "r")
    for kind in ("old", "tmp"):
        os.symlink("nowhere", _sibling(dest, kind, _dead_pid()))
    with ReportOutput(dest) as out:
        _write_report(out)
    assert sorted(os.listdir(tmp_path)) == ["loop", "r"]


def test_a_report_that_is_the_working_folder_is_not_overwritten(tmp_path, monkeypatch):
    dest = str(tmp_path / "r")
    with ReportOutput(dest) as out:
        _write_report(out, "old")
    monkeypatch.chdir(dest)
    with pytest.raises(OutputExistsError, match="is the current working folder;"):
        ReportOutput(".", overwrite=True)
    assert _run(os.path.join(dest, RUN_FILE)) == "old"
