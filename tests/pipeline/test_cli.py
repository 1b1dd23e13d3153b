"""pipeline.cli: argument handling, Beam option passthrough, `show` formats."""
import csv
import io
import json
import sys
import types

import pytest

from pipeline import cli
from pipeline.write import METRICS_FILE, write_metrics

CONFIG = """
input:
  pattern: data/*.tfrecord
  features: {z: {dtype: float32}, y: {dtype: int64}}
model: {logits: z}
heads: [{type: binary, label: y}]
"""


def row(head, slice_, key, value, metric=None):
    return {"head": head, "slice": slice_, "metric": metric or key.split("/")[0], "class": None,
            "threshold": None, "value": value, "key": key}


ROWS = [
    row("a", "country=FR", "auc", 0.61),
    row("a", "", "auc", 0.75),
    row("a", "", "example_count", 1000.0),
    row("b", "country=FR", "average_loss", 0.25),
    row("b", "", "average_loss", 0.5),
    row("a", "country=US", "auc", 0.8),
]


@pytest.fixture
def report(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    write_metrics(ROWS, str(folder / METRICS_FILE))
    return str(folder)


@pytest.fixture
def fake_run(monkeypatch):
    """Replaces pipeline.run (written elsewhere) with a recorder."""
    calls = []
    module = types.ModuleType("pipeline.run")
    module.run_pipeline = lambda *args: calls.append(args)
    monkeypatch.setitem(sys.modules, "pipeline.run", module)
    return calls


def test_beam_args_default_runner():
    assert cli.beam_args([]) == ["--runner=FnApiRunner"]
    assert cli.beam_args(["--direct_num_workers=2"]) == ["--runner=FnApiRunner",
                                                         "--direct_num_workers=2"]
    assert cli.beam_args(["--runner=DataflowRunner", "--project=p"]) == [
        "--runner=DataflowRunner", "--project=p"]
    assert cli.beam_args(["--runner", "DirectRunner"]) == ["--runner", "DirectRunner"]


def test_run_passes_config_output_and_beam_options(tmp_path, fake_run, capsys):
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG + "output: out\n")
    rc = cli.main(["run", str(config), "--direct_num_workers=2", "--overwrite",
                   "--direct_running_mode=multi_processing"])
    assert rc == 0
    (loaded, output, overwrite, argv), = fake_run
    assert loaded.heads[0].type == "binary"
    assert output == str(tmp_path / "out") and overwrite is True
    assert argv == ["--runner=FnApiRunner", "--direct_num_workers=2",
                    "--direct_running_mode=multi_processing"]
    assert "report written to" in capsys.readouterr().out


def test_run_output_flag_wins_and_quiet(tmp_path, fake_run, capsys):
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG + "output: out\n")
    assert cli.main(["run", str(config), "--output", "elsewhere", "--quiet",
                     "--runner=DataflowRunner"]) == 0
    (_, output, overwrite, argv), = fake_run
    assert output == "elsewhere" and overwrite is False and argv == ["--runner=DataflowRunner"]
    assert capsys.readouterr().out == ""


def test_run_needs_an_output(tmp_path, fake_run, capsys):
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG)
    assert cli.main(["run", str(config)]) == 1
    assert "--output" in capsys.readouterr().err and not fake_run


def test_run_config_error_is_one_line(tmp_path, fake_run, capsys):
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG.replace("binary", "binery"))
    assert cli.main(["run", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("headeval run: error: %s: `heads[0].type`" % config)
    assert "Traceback" not in err and not fake_run


def test_other_commands_reject_unknown_options(report):
    with pytest.raises(SystemExit) as info:
        cli.main(["show", report, "--runner=X"])
    assert info.value.code == 2


def test_report_is_not_there_yet(report, capsys):
    assert cli.main(["report", report]) == 2
    assert "coming in issue 7" in capsys.readouterr().err


def test_demo_calls_run_demo(monkeypatch, tmp_path):
    calls = []
    module = types.ModuleType("pipeline.demo")
    module.run_demo = lambda output, beam_argv=None: calls.append((output, beam_argv))
    monkeypatch.setitem(sys.modules, "pipeline.demo", module)
    assert cli.main(["demo", "--output", str(tmp_path / "d")]) == 0
    assert cli.main(["demo", "--direct_num_workers=2"]) == 0
    assert calls == [(str(tmp_path / "d"), None),
                     ("headeval-demo", ["--runner=FnApiRunner", "--direct_num_workers=2"])]


def test_show_table_overall_first(report, capsys):
    assert cli.main(["show", report]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert lines[0] == ["head:", "a"]
    assert lines[3:6] == [["(overall)", "auc", "0.75"], ["example_count", "1000"],
                          ["country=FR", "auc", "0.61"]]
    assert out.index("head: b") > out.index("country=US")
    b = out[out.index("head: b"):]
    assert b.index("(overall)") < b.index("country=FR")


def test_show_filters_and_formats(report, capsys):
    assert cli.main(["show", report, "--head", "a", "--slice", "overall", "--slice",
                     "country=U*", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["slice"], r["key"]) for r in rows] == [("", "auc"), ("", "example_count"),
                                                      ("country=US", "auc")]
    assert cli.main(["show", report, "--metric", "average_*", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["head"], r["slice"], r["value"]) for r in data] == [
        ("b", "", 0.5), ("b", "country=FR", 0.25)]
    assert cli.main(["show", report, "--metric", "auc", "--format", "markdown"]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0] == "| head | slice | metric | value |"
    assert md[2] == "| a | (overall) | auc | 0.75 |"
    assert cli.main(["show", report, "--head", "nope"]) == 1
    assert "match" in capsys.readouterr().err


def test_show_needs_a_report(tmp_path, capsys):
    assert cli.main(["show", str(tmp_path)]) == 1
    assert "not a headeval report" in capsys.readouterr().err


def test_python_m_pipeline_help():
    import subprocess
    result = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "run" in result.stdout and "show" in result.stdout
