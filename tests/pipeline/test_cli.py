"""pipeline.cli: argument handling, Beam option passthrough, `show` formats and
pivots, `report` and `run --report`, progress lines (pipeline.runtime.progress)."""
import csv
import io
import json
import os
import sys
import types

import pytest

from pipeline import cli
from pipeline.runtime import progress
from pipeline.runtime.runner_args import with_default_runner

from tests.support import REPO  # noqa: E402
from pipeline.report.schema import RUN_FILE
from tests.support.report_files import write_complete

CONFIG = """
input:
  pattern: data/*.tfrecord
  features: {z: {dtype: float32}, y: {dtype: int64}}
model: {logits: z}
heads: [{type: binary, label: y}]
"""


def row(head, slice_, key, value, metric=None, class_=None, threshold=None):
    return {"head": head, "slice": slice_, "metric": metric or key.split("/")[0],
            "class": class_, "threshold": threshold, "value": value, "key": key}


ROWS = [
    row("a", "country=FR", "auc", 0.61),
    row("a", "", "auc", 0.75),
    row("a", "", "example_count", 1000.0),
    row("b", "country=FR", "average_loss", 0.25),
    row("b", "", "average_loss", 0.5),
    row("a", "country=US", "auc", 0.8),
]

# A multi-class head "m" (classes given out of vocabulary order: the vocabulary
# in run.json orders them) and its slices, FR smaller than US although first
# in the file.
VOCABULARY = ["zebra", "ant"]
M_ROWS = [
    row("m", "", "accuracy", 0.9),
    row("m", "", "example_count", 40.0),
    row("m", "", "weighted_example_count", 50.0),
    row("m", "", "auc/ant", 0.81, class_="ant"),
    row("m", "", "auc/zebra", 0.92, class_="zebra"),
    row("m", "", "recall/ant", 0.71, class_="ant"),
    row("m", "", "recall/zebra", 0.72, class_="zebra"),
    row("m", "", "precision/positive_threshold_0.7", 0.97, threshold=0.7),
    row("m", "", "precision/positive_threshold_0.3", 0.63, threshold=0.3),
    row("m", "", "recall/positive_threshold_0.3", 0.93, threshold=0.3),
    row("m", "", "f1/positive_threshold_0.3/ant", 0.55, class_="ant", threshold=0.3),
    row("m", "", "confusion_matrix/ant/ant", 17.0, class_="ant"),
    row("m", "", "confusion_matrix/ant/zebra", 3.0, class_="ant"),
    row("m", "", "confusion_matrix/zebra/ant", 2.0, class_="zebra"),
    row("m", "", "confusion_matrix/zebra/zebra", 18.0, class_="zebra"),
    row("m", "", "calibration/weight/bucket_0.5", 30.0, metric="calibration/weight",
        threshold=0.5),
    row("m", "", "calibration/label_mean/bucket_0.5", 0.6, metric="calibration/label_mean",
        threshold=0.5),
    row("m", "", "calibration/prediction_mean/bucket_0.5", 0.55,
        metric="calibration/prediction_mean", threshold=0.5),
    row("m", "", "calibration/weight/bucket_0", 20.0, metric="calibration/weight",
        threshold=0.0),
    row("m", "country=FR", "accuracy", 0.8),
    row("m", "country=FR", "example_count", 10.0),
    row("m", "country=US", "accuracy", 0.95),
    row("m", "country=US", "example_count", 30.0),
]


@pytest.fixture
def report(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    write_complete(folder, ROWS)
    return str(folder)


@pytest.fixture
def m_report(tmp_path):
    folder = tmp_path / "m_report"
    folder.mkdir()
    write_complete(folder, M_ROWS, config={"heads": [
        {"name": "m", "type": "multi_class", "n_classes": 2, "label_vocabulary": VOCABULARY},
        {"name": "other", "type": "binary"}]})
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
    assert with_default_runner([]) == ["--runner=FnApiRunner"]
    assert with_default_runner(["--direct_num_workers=2"]) == ["--runner=FnApiRunner",
                                                         "--direct_num_workers=2"]
    assert with_default_runner(["--runner=DataflowRunner", "--project=p"]) == [
        "--runner=DataflowRunner", "--project=p"]
    assert with_default_runner(["--runner", "DirectRunner"]) == ["--runner", "DirectRunner"]


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


def test_run_output_expands_the_home_folder(tmp_path, fake_run, monkeypatch):
    """`--output=~/x` is not expanded by the shell: the CLI does it (a folder
    named `~` was made before)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG)
    assert cli.main(["run", str(config), "--output=~/reports/r", "--quiet"]) == 0
    (_, output, _, _), = fake_run
    assert output == os.path.join(str(tmp_path), "home", "reports", "r")


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


@pytest.mark.parametrize("runner, words", [
    ("NoSuchRunner", "Unexpected pipeline runner: NoSuchRunner"),
    ("no_such_package.Runner", "No module named 'no_such_package'"),
    ("collections.OrderedDict", "is not a Beam PipelineRunner"),
])
def test_run_with_an_unknown_runner_is_a_usage_error(tmp_path, capsys, runner, words):
    """One line and exit 2, before any folder is made (a traceback and exit 1
    from inside Beam before)."""
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    assert cli.main(["run", str(config), "--output", str(out), "--runner=" + runner]) == 2
    err = capsys.readouterr().err
    assert err.startswith("headeval run: error: --runner=%s: " % runner) or \
        err.startswith("headeval run: error: --runner=%s is" % runner), err
    assert words in err and err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == ["eval.yaml"]


BEAM_OPTION_ERRORS = [
    (["--foo"], "unknown option --foo (not a headeval option nor a Beam pipeline option)"),
    (["-x"], "unknown option -x (not a headeval option nor a Beam pipeline option)"),
    (["--batch_size=5"], "unknown option --batch_size (not a headeval option nor a Beam "
                         "pipeline option)"),
    (["--qiet"], "unknown option --qiet (not a headeval option nor a Beam pipeline option; "
                 "did you mean --quiet?)"),
    (["--ouput", "x"], "unknown option --ouput (not a headeval option nor a Beam pipeline "
                       "option; did you mean --output?)"),
    (["--direct_num=2"], "unknown option --direct_num (not a headeval option nor a Beam "
                         "pipeline option; did you mean --direct_num_workers?)"),
    (["--save_main_session", "stray"], "unexpected argument 'stray' (Beam options are "
                                       "written --name=value)"),
    (["--runner="], "--runner is empty: name a runner, e.g. --runner=FnApiRunner"),
    (["--runner"], "--runner: expected one argument"),
    (["--direct_num_workers=abc"], "--direct_num_workers: invalid int value: 'abc'"),
    (["--pickle_library=nope"], "--pickle_library: invalid choice: 'nope'"),
    (["--direct_running_mode=nope"], "--direct_running_mode: invalid choice: 'nope'"),
    (["--direct_num_workers=-1"], "--direct_num_workers=-1: must be 0 or more (0: Beam's "
                                  "default)"),
]


@pytest.mark.parametrize("command", ["run", "demo"])
@pytest.mark.parametrize("options, message", BEAM_OPTION_ERRORS)
def test_an_option_beam_would_ignore_or_choke_on_is_a_usage_error(tmp_path, fake_run, capsys,
                                                                  monkeypatch, command,
                                                                  options, message):
    """Beam only logged a warning for an option it does not know (`--ouput
    DIR` wrote the report to the config's output, exit 0); its own parse
    errors printed its whole usage text; `--runner=` and a negative worker
    count were tracebacks. Now one line, exit 2, before anything runs."""
    demos = []
    module = types.ModuleType("pipeline.demo")
    module.run_demo = lambda *args, **kwargs: demos.append(args)
    monkeypatch.setitem(sys.modules, "pipeline.demo", module)
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG + "output: out\n")
    argv = ["run", str(config)] if command == "run" else ["demo"]
    if command == "demo":  # it has no --quiet
        message = message.replace("; did you mean --quiet?", "")
    assert cli.main(argv + options) == 2
    err = capsys.readouterr().err
    assert err.startswith("headeval %s: error: %s" % (command, message)), err
    assert err.count("\n") == 1 and not fake_run and not demos


def test_the_beam_options_that_exist_still_pass(tmp_path, fake_run, capsys):
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG + "output: out\n")
    options = ["--runner=DataflowRunner", "--project=P", "--region=R",
               "--temp_location=gs://b/t", "--setup_file=./setup.py", "--direct_num_workers=0",
               "--direct_running_mode=multi_processing", "--save_main_session",
               "--experiments=x", "--project", "P2", "--no_auth"]
    assert cli.main(["run", str(config)] + options) == 0, capsys.readouterr().err
    assert fake_run[0][3] == options


def test_a_misspelt_output_writes_nothing_anywhere(tmp_path):
    """The attack: `run cfg.yaml --ouput DIR` wrote the report to the
    config's `output:` and exited 0 (with --quiet, silently)."""
    import subprocess
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG.replace("data/*", str(tmp_path / "none-*")) + "output: %s\n"
                      % (tmp_path / "kept"))
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", str(config), "--quiet",
                           "--ouput", str(tmp_path / "wanted")], capture_output=True, text=True,
                          cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=REPO), timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "headeval run: error: unknown option --ouput (not a headeval option nor a Beam "
        "pipeline option; did you mean --output?)"], proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["eval.yaml"]
    assert "tensorflow" not in proc.stderr


def test_run_pipeline_checks_the_beam_options_too(tmp_path):
    """The Python API (headeval.evaluate) goes through run_pipeline."""
    from pipeline.config import load_config
    from pipeline.errors import UsageError
    from pipeline.run import run_pipeline
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG)
    with pytest.raises(UsageError,
                       match=r"^unknown option --ouput \(not a headeval option nor a Beam"):
        run_pipeline(load_config(str(config)), str(tmp_path / "out"),
                     beam_argv=["--runner=FnApiRunner", "--ouput=x"])
    assert sorted(os.listdir(tmp_path)) == ["eval.yaml"]


def test_other_commands_reject_unknown_options(report):
    with pytest.raises(SystemExit) as info:
        cli.main(["show", report, "--runner=X"])
    assert info.value.code == 2


def test_report_writes_html_beside_the_report(report, capsys):
    assert cli.main(["report", report]) == 0
    path = os.path.join(report, "report.html")
    assert path in capsys.readouterr().out
    with open(path, encoding="utf-8") as f:
        page = f.read()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<section class="head"') == 2  # heads a and b
    # (A folder without run.json is refused now: test_an_incomplete_report_is_refused.)


def test_report_out_and_not_a_report(report, tmp_path, capsys):
    out = tmp_path / "elsewhere" / "page.html"
    assert cli.main(["report", report, "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert cli.main(["report", str(tmp_path / "nothing")]) == 1
    assert "not a headeval report" in capsys.readouterr().err


def test_report_and_show_on_an_object_store(tmp_path, capsys):
    """Through Beam's FileSystems: a gs://-like store (fakegs://) works too."""
    from tests.support.fake_object_store import PREFIX, use_root
    use_root(tmp_path)
    folder = PREFIX + "bucket/runs/r1"
    write_complete(folder, M_ROWS, config={"heads": [{"name": "m", "type": "multi_class",
                                                      "label_vocabulary": VOCABULARY}]})
    assert cli.main(["report", folder]) == 0
    page = (tmp_path / "bucket" / "runs" / "r1" / "report.html").read_text(encoding="utf-8")
    assert 'data-head="m" data-type="multi_class"' in page
    assert cli.main(["show", folder, "--metric", "auc"]) == 0
    out = capsys.readouterr().out
    assert out.index("zebra") < out.index("ant")  # vocabulary order, from run.json


def test_run_report_writes_html_after_the_run(tmp_path, fake_run, monkeypatch, capsys):
    import pipeline.report.html.page
    written = []
    monkeypatch.setattr(pipeline.report.html.page, "write_report",
                        lambda folder: written.append(folder) or folder + "/report.html")
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG + "output: out\n")
    assert cli.main(["run", str(config), "--report"]) == 0
    assert len(fake_run) == 1 and written == [str(tmp_path / "out")]
    assert "report.html" in capsys.readouterr().out
    assert cli.main(["run", str(config)]) == 0
    assert written == [str(tmp_path / "out")]  # no --report: no page


def test_demo_calls_run_demo(monkeypatch, tmp_path):
    calls = []
    module = types.ModuleType("pipeline.demo")
    module.run_demo = lambda output, beam_argv=None: calls.append((output, beam_argv))
    monkeypatch.setitem(sys.modules, "pipeline.demo", module)
    assert cli.main(["demo", "--output", str(tmp_path / "d")]) == 0
    assert cli.main(["demo", "--direct_num_workers=2"]) == 0
    assert calls == [(str(tmp_path / "d"), ["--runner=FnApiRunner"]),
                     ("headeval-demo", ["--runner=FnApiRunner", "--direct_num_workers=2"])]


def _blocks(out):
    """`show` table output -> {(head, slice title): [split lines]}."""
    blocks, head, title = {}, None, None
    for line in out.splitlines():
        if line.startswith("head: "):
            head = line[len("head: "):]
        elif line and not line.startswith(("  ", "=")):
            title = line
            blocks[(head, title)] = []
        elif line.strip() and title is not None:
            blocks[(head, title)].append(line.split())
    return blocks


def test_show_table_overall_first(report, capsys):
    assert cli.main(["show", report]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert lines[0] == ["head:", "a"]
    assert lines[2] == ["(overall):", "1000", "examples"]
    assert lines[3:6] == [["metric", "value"], ["------", "-----"], ["auc", "0.75"]]
    assert out.index("head: b") > out.index("country=US")
    a = out[:out.index("head: b")]
    assert a.index("(overall)") < a.index("country=FR") < a.index("country=US")  # no counts
    b = out[out.index("head: b"):]
    assert b.index("(overall)") < b.index("country=FR")


def test_show_slices_by_example_count_and_pivots(m_report, capsys):
    assert cli.main(["show", m_report]) == 0
    out = capsys.readouterr().out
    assert out.index("country=US: 30 examples") < out.index("country=FR: 10 examples")
    blocks = _blocks(out)
    overall = blocks[("m", "(overall): 40 examples, weighted 50")]
    assert ["accuracy", "0.9"] in overall
    assert ["example_count", "40"] not in overall  # in the title instead
    # per threshold: threshold rows x metric columns, thresholds ascending
    i = overall.index(["threshold", "precision", "recall"])
    assert overall[i + 2:i + 4] == [["0.3", "0.63", "0.93"], ["0.7", "0.97"]]
    # per class: class rows (vocabulary order) x metric columns
    i = overall.index(["class", "auc", "recall"])
    assert overall[i + 2:i + 4] == [["zebra", "0.92", "0.72"], ["ant", "0.81", "0.71"]]
    i = overall.index(["class", "threshold", "f1"])
    assert overall[i + 2] == ["ant", "0.3", "0.55"]
    # confusion matrix: label rows x predicted columns
    i = overall.index(["label", "zebra", "ant"])
    assert overall[i + 2:i + 4] == [["zebra", "18", "2"], ["ant", "3", "17"]]
    # calibration buckets: weight, mean prediction, mean label
    i = overall.index(["bucket", "weight", "prediction_mean", "label_mean"])
    assert overall[i + 2:i + 4] == [["0-0.5", "20"], ["0.5-1", "30", "0.55", "0.6"]]


def test_show_filters_keep_the_slice_order_and_counts(m_report, capsys):
    assert cli.main(["show", m_report, "--metric", "accuracy", "--slice", "country=*"]) == 0
    out = capsys.readouterr().out
    assert "(overall)" not in out
    assert out.index("country=US: 30 examples") < out.index("country=FR: 10 examples")
    assert cli.main(["show", m_report, "--metric", "accuracy", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["slice"], r["value"]) for r in data] == [("", 0.9), ("country=US", 0.95),
                                                        ("country=FR", 0.8)]


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


def test_show_writes_control_characters_from_the_data_as_escapes(tmp_path, capsys):
    """Class names (from a label vocabulary) and head names holding a terminal
    escape sequence, a newline or a bidirectional override print as
    `\\xHH` / `\\uHHHH`: nothing the terminal would act on (printed raw before)."""
    evil = "ant\x1b[2J\x1b]0;pwned\x07\nforged row\u202e"
    rows = [row("h\x1b[31m", "", "example_count", 40.0),
            row("h\x1b[31m", "", "auc/" + evil, 0.81, class_=evil),
            row("h\x1b[31m", "", "recall/" + evil, 0.71, class_=evil)]
    folder = tmp_path / "r"
    folder.mkdir()
    write_complete(folder, rows, config={"heads": [{"name": "h\x1b[31m", "type": "multi_class",
                                                    "label_vocabulary": [evil, "zebra"]}]})
    for fmt in ("table", "csv", "markdown", "json"):
        assert cli.main(["show", str(folder), "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert not any(c in out for c in "\x1b\x07\u202e"), (fmt, out)
        assert "forged row" not in out.replace("\\x0aforged row", "").replace(
            "\\nforged row", ""), (fmt, out)
    assert cli.main(["show", str(folder)]) == 0
    assert "ant\\x1b[2J\\x1b]0;pwned\\x07\\x0aforged row\\u202e" in capsys.readouterr().out


def test_show_needs_a_report(tmp_path, capsys):
    assert cli.main(["show", str(tmp_path)]) == 1
    assert "not a headeval report" in capsys.readouterr().err


def test_python_m_pipeline_help():
    import subprocess
    result = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "run" in result.stdout and "show" in result.stdout
    assert "schema" in result.stdout


def test_the_cli_module_imports_no_heavy_library():
    """`headeval --help` answers at once: importing the CLI (and what it
    imports for its defaults) loads neither TensorFlow, Beam nor pyarrow."""
    import subprocess
    code = ("import sys, pipeline.cli\n"
            "print(sorted(m for m in ('tensorflow', 'apache_beam', 'pyarrow') "
            "if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_schema_prints_the_config_schema_and_writes_it_with_out(tmp_path, capsys):
    from pipeline.config.json_schema import config_schema
    assert cli.main(["schema"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == config_schema() and out.startswith('{\n  "$schema"')
    path = tmp_path / "headeval.schema.json"
    assert cli.main(["schema", "--out", str(path)]) == 0
    assert capsys.readouterr().out == "JSON Schema written to %s\n" % path
    assert path.read_text() == out


def test_schema_to_an_unwritable_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "no" / "schema.json"
    assert cli.main(["schema", "--out", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == "headeval schema: error: cannot write %s: No such file or directory\n" % path
    assert not path.parent.exists()


def test_schema_imports_no_heavy_library():
    """`headeval schema` is quick: neither TensorFlow, Beam nor pyarrow."""
    import subprocess
    code = ("import sys\nfrom pipeline import cli\nassert cli.main(['schema']) == 0\n"
            "print(sorted(m for m in ('tensorflow', 'apache_beam', 'pyarrow') "
            "if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _console(tmp_path, code):
    """Runs `code` (which calls console_main) in a fresh interpreter."""
    import subprocess
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))


def test_console_main_flushes_output_and_runs_atexit_before_its_quick_exit(report, tmp_path, capsys):
    # The process ends with os._exit: what main printed (piped, so buffered)
    # and what atexit handlers print must still come out, and the exit code
    # must be main's.
    assert cli.main(["show", report, "--format", "csv"]) == 0
    expected = capsys.readouterr().out
    code = ("import atexit, sys\n"
            "from pipeline import cli\n"
            "atexit.register(lambda: print('atexit handler ran'))\n"
            "sys.exit(cli.console_main(['show', %r, '--format', 'csv']))" % report)
    proc = _console(tmp_path, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected + "atexit handler ran\n"
    proc = _console(tmp_path, code.replace(repr(report), repr(str(tmp_path))))
    assert proc.returncode == 1 and "not a headeval report" in proc.stderr


def test_console_main_waits_for_a_running_thread(report, tmp_path):
    # The thread is still at work when main returns: os._exit would cut it off.
    code = ("import sys, threading, time\n"
            "from pipeline import cli\n"
            "returned = threading.Event()\n"
            "main = cli.main\n"
            "cli.main = lambda argv: (main(argv), returned.set())[0]\n"
            "t = threading.Thread(target=lambda: (returned.wait(), time.sleep(0.3),\n"
            "                                     print('thread finished')))\n"
            "t.start()\n"
            "sys.exit(cli.console_main(['show', %r, '--format', 'csv']))" % report)
    proc = _console(tmp_path, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("thread finished\n")


# -- progress (pipeline.runtime.progress) ----------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self):
        return True


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_prints_at_most_once_per_interval():
    clock, out = _Clock(), _Terminal()
    p = progress.Progress(stream=out, interval=5.0, clock=clock)
    for _ in range(4):  # 4 batches within the first 5 s: no line yet
        clock.now += 1.0
        p.add(1000)
    assert out.getvalue() == ""
    clock.now += 1.0  # 5 s after start
    p.add(1000)
    clock.now += 2.0  # 2 s later: not due
    p.add(500)
    clock.now += 3.0  # 5 s after the first line
    p.add(1500)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and p.lines == 2
    assert lines[0].startswith("headeval: 5,000 records read · 1,000 examples/s (last 5 s)")
    assert lines[0].endswith("0:05")
    # second line: 2,000 records in the last 5 s, 7,000 in 10 s
    assert "7,000 records read · 400 examples/s (last 5 s) · 700/s overall · 0:10" in lines[1]


def test_progress_on_only_on_a_terminal_and_off_when_quiet():
    assert progress.enabled(_Terminal(), environ={}) is True
    assert progress.enabled(io.StringIO(), environ={}) is False
    assert progress.enabled(_Terminal(), environ={progress.ENV: "0"}) is False
    assert progress.enabled(io.StringIO(), environ={progress.ENV: "1"}) is True


def test_progress_quiet_sets_the_environment_for_the_run_only(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    with progress.quiet():
        assert os.environ[progress.ENV] == "0" and progress.tracker() is None
    assert progress.ENV not in os.environ
    with progress.quiet(False):
        assert progress.ENV not in os.environ


def test_progress_tracker_is_one_per_process(monkeypatch):
    monkeypatch.setenv(progress.ENV, "1")
    monkeypatch.setenv("WORKER_ID", "worker_7")
    progress.reset()
    try:
        a, b = progress.tracker(), progress.tracker()
        assert a is b and a._label == "worker_7"
        progress.reset()
        assert progress.tracker() is not a
    finally:
        progress.reset()


def test_run_quiet_turns_progress_off_in_the_run(tmp_path, monkeypatch):
    seen = []
    module = types.ModuleType("pipeline.run")
    module.run_pipeline = lambda *args: seen.append(os.environ.get(progress.ENV))
    monkeypatch.setitem(sys.modules, "pipeline.run", module)
    monkeypatch.delenv(progress.ENV, raising=False)
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG + "output: out\n")
    assert cli.main(["run", str(config), "--quiet"]) == 0
    assert cli.main(["run", str(config)]) == 0
    assert seen == ["0", None] and progress.ENV not in os.environ


def test_the_cli_process_imports_the_pipeline_uncollected_then_frozen():
    # In its own process the CLI imports TensorFlow and Beam with the
    # collector paused (their ~400k objects set off collections that cost a
    # quarter of the import), turns it back on and freezes what was imported.
    import subprocess
    code = ("import gc, sys\n"
            "from pipeline.runtime.gc_tuning import import_uncollected\n"
            "assert 'pipeline.run' not in sys.modules\n"
            "import_uncollected('pipeline.run')\n"
            "assert 'pipeline.run' in sys.modules and 'tensorflow' in sys.modules\n"
            "assert gc.isenabled() and gc.get_freeze_count() > 100000\n"
            "gc.disable()\n"
            "import_uncollected('pipeline.run')\n"
            "assert not gc.isenabled()  # a collector the caller turned off stays off\n"
            "print('ok')\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# -- interrupts (issue 17; the subprocess tests are in tests/e2e/test_faults.py) -------

def _run_raising(monkeypatch, raiser):
    module = types.ModuleType("pipeline.run")
    module.run_pipeline = lambda *args: raiser()
    monkeypatch.setitem(sys.modules, "pipeline.run", module)


def test_a_keyboard_interrupt_that_beam_wrapped_is_an_interruption(tmp_path, monkeypatch,
                                                                     capsys):
    # Beam's DoFnRunner cannot rebuild a KeyboardInterrupt with its step name
    # (it has no message) and raises a RuntimeError during its handling.
    def beam_like():
        try:
            raise KeyboardInterrupt
        except BaseException:
            raise RuntimeError("KeyboardInterrupt [while running 'Read/ReadFiles']")

    _run_raising(monkeypatch, beam_like)
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG)
    assert cli.main(["run", str(config), "--output", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err == "headeval run: interrupted\n"


def test_sigterm_is_recorded_and_ends_the_run_with_143(tmp_path, monkeypatch, capsys):
    import signal
    import time
    previous = signal.getsignal(signal.SIGTERM)

    def terminated():
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises in this thread
        time.sleep(5)
        raise AssertionError("SIGTERM did not interrupt the run")

    _run_raising(monkeypatch, terminated)
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG)
    assert cli.main(["run", str(config), "--output", str(tmp_path / "out")]) == 143
    assert capsys.readouterr().err == "headeval run: terminated (SIGTERM)\n"
    assert signal.getsignal(signal.SIGTERM) is previous  # put back after the command


def test_a_failed_run_prints_exactly_one_line(tmp_path):
    """The whole stderr of a failing `headeval run` process is its one line:
    no TensorFlow start-up notes (absl's pre-init warning, "Could not find
    cuda drivers", printed on every run before) and no Beam step suffix."""
    import subprocess
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG.replace("data/*.tfrecord", str(tmp_path / "none-*.tfrecord")))
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", str(config), "--output",
                           str(tmp_path / "out")], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "headeval run: error: input.pattern %r matches no files"
        % str(tmp_path / "none-*.tfrecord")], proc.stderr


def test_import_quietly_drops_the_start_up_notes_and_keeps_the_rest(tmp_path):
    import subprocess
    code = (
        "import os\n"
        "from pipeline.runtime.quiet_start import import_quietly\n"
        "def noisy():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called "
        "are written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1796678990.110861   25998 cudart_stub.cc:31] Could not "
        "find cuda drivers on your machine, GPU will not be used.\\n')\n"
        "    os.write(2, b'E0000 00:00:1796680598.875030    8842 cuda_platform.cc:52] failed "
        "call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\\n')\n"
        "    os.write(2, b'E0000 something real went wrong\\n')\n"
        "    os.write(1, b'stdout untouched\\n')\n"
        "import_quietly(noisy)\n"
        "os.write(2, b'after\\n')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=REPO), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "E0000 something real went wrong\nafter\n"
    assert proc.stdout == "stdout untouched\n"


def test_the_demo_writes_nothing_to_stderr_and_quiet_nothing_at_all(tmp_path):
    """TensorFlow's native start-up notes (absl's pre-init warning, the CUDA
    stubs, 'failed call to cuInit' without a GPU) do not reach stderr;
    `--quiet` prints nothing; `--verbose` lets TensorFlow's log through."""
    import subprocess
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)

    def headeval(*argv):
        return subprocess.run([sys.executable, "-m", "pipeline", *argv], capture_output=True,
                              text=True, env=env, cwd=str(tmp_path), timeout=300)
    demo = headeval("demo", "--output", str(tmp_path / "demo"))
    assert demo.returncode == 0 and demo.stderr == "", demo.stderr
    quiet = headeval("run", os.path.join(REPO, "configs", "demo.yaml"), "--output",
                     str(tmp_path / "quiet"), "--quiet")
    assert quiet.returncode == 0 and (quiet.stdout, quiet.stderr) == ("", ""), quiet.stderr
    assert os.path.exists(tmp_path / "quiet" / RUN_FILE)
    verbose = headeval("run", os.path.join(REPO, "configs", "demo.yaml"), "--output",
                       str(tmp_path / "verbose"), "--verbose")
    assert verbose.returncode == 0 and "I0000" in verbose.stderr, verbose.stderr[-2000:]


# -- standard output that cannot be written -----------------------------------------------

def _headeval_shell(tmp_path, shell_tail, *argv):
    """`python -m pipeline ARGV` run by a shell with `shell_tail` (a
    redirection) after it: (exit code, stdout, stderr)."""
    import shlex
    import subprocess
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "pipeline", *argv])
    proc = subprocess.run(["sh", "-c", command + " " + shell_tail], capture_output=True,
                          text=True, cwd=str(tmp_path), timeout=300,
                          env=dict(os.environ, PYTHONPATH=REPO))
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["show", "report"])
def test_a_full_standard_output_is_one_line_and_exit_1(report, tmp_path, command):
    """`show DIR > /dev/full` was an OSError traceback; `report` exited 0
    with its line lost (console_main swallowed the failed flush)."""
    rc, _, err = _headeval_shell(tmp_path, "> /dev/full", command, report)
    assert (rc, err) == (1, "headeval %s: error: cannot write to standard output: No space "
                            "left on device\n" % command)


def test_a_closed_standard_output_is_one_line_and_exit_1(report, tmp_path):
    """`show DIR >&-` was AttributeError: 'NoneType' object has no attribute 'write'."""
    rc, _, err = _headeval_shell(tmp_path, ">&-", "show", report)
    assert (rc, err) == (1, "headeval show: error: cannot write to standard output: it is "
                            "closed\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_run_with_a_full_standard_output_fails_after_the_report_is_in_place(tmp_path):
    """The run's closing line is lost: exit 1, not 0, and the report is kept."""
    out = tmp_path / "out"
    rc, _, err = _headeval_shell(tmp_path, "> /dev/full", "run",
                                 os.path.join(REPO, "configs", "demo.yaml"), "--output", str(out))
    assert (rc, err) == (1, "headeval run: error: cannot write to standard output: No space "
                            "left on device\n")
    assert os.path.exists(out / RUN_FILE)


def test_a_reader_that_stops_early_ends_show_quietly(tmp_path):
    """`show DIR | head -1`: the closed pipe is no error (exit 0, nothing on
    stderr), even for an output far larger than the pipe's buffer."""
    import subprocess
    rows = [row("h", "", "auc_%d" % i, i / 20000, metric="auc") for i in range(20000)]
    folder = tmp_path / "big"
    folder.mkdir()
    write_complete(folder, rows)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "show", str(folder), "--format",
                             "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.stdout.readline().startswith(b"head,")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0 and err == b"", err


def test_show_with_no_matching_rows_says_so_as_an_error(report, capsys):
    assert cli.main(["show", report, "--head", "nope"]) == 1
    assert capsys.readouterr().err == "headeval show: error: no metrics in %s match the " \
                                      "filters\n" % report


@pytest.mark.parametrize("command", ["run", "demo"])
def test_an_empty_output_option_says_it_was_empty(tmp_path, fake_run, monkeypatch, capsys,
                                                   command):
    """`--output=` said "no output folder: pass --output DIR" (or, with an
    `output:` in the config, silently used that)."""
    monkeypatch.setitem(sys.modules, "pipeline.demo", types.ModuleType("pipeline.demo"))
    config = tmp_path / "eval.yaml"
    config.write_text(CONFIG + "output: out\n")
    argv = ["run", str(config)] if command == "run" else ["demo"]
    assert cli.main(argv + ["--output="]) == 2
    assert capsys.readouterr().err == ("headeval %s: error: --output is empty (''): name the "
                                       "report folder, e.g. --output out/report\n" % command)
    assert not fake_run and sorted(os.listdir(tmp_path)) == ["eval.yaml"]
