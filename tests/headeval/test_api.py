"""headeval.evaluate and headeval.read_config: the demo evaluated from
Python equals the report of the `headeval run` command; the config forms
(path, YAML text, dict) read alike; importing headeval stays cheap."""
import dataclasses
import json
import math
import os
import pathlib
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import yaml

import headeval
from pipeline.config import load_config
from pipeline.demo import demo_config_path
from pipeline.errors import ConfigError
from pipeline.report.schema import CURVES_FILE, METRICS_FILE, RUN_FILE


def _rows(folder, name):
    """A report file's rows, NaN written as None (NaN != NaN)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in pq.read_table(os.path.join(folder, name)).to_pylist()]


@pytest.mark.parametrize("name", [METRICS_FILE, CURVES_FILE])
def test_evaluate_writes_the_report_the_command_writes(cli_report, api_report, name):
    got, expected = _rows(api_report[0], name), _rows(cli_report, name)
    assert len(got) > 100
    assert got == expected


def test_evaluate_run_json_matches_the_commands(cli_report, api_report):
    with open(os.path.join(cli_report, RUN_FILE)) as f:
        cli = json.load(f)
    with open(os.path.join(api_report[0], RUN_FILE)) as f:
        api = json.load(f)
    assert api["counts"] == cli["counts"] and api["counts"]["read"] == 599
    assert api["config"] == cli["config"]  # paths resolved alike: from the file, from the cwd
    assert api["runner"] == cli["runner"] == "FnApiRunner"
    assert api["config_file"] is None and cli["config_file"] == demo_config_path()


def test_evaluate_returns_the_report_load_reads(api_report):
    folder, report = api_report
    again = headeval.load(folder)
    assert report.folder == folder and report.run == again.run
    assert report.metrics.equals(again.metrics) and report.curves.equals(again.curves)


def test_config_forms_read_alike(tmp_path, monkeypatch):
    """A path (str or Path), YAML text and a dict give the same Config; in
    text and dicts, relative paths resolve against the current directory."""
    path = demo_config_path()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    expected = dataclasses.replace(load_config(path), source=None)
    monkeypatch.chdir(os.path.dirname(path))
    forms = [path, pathlib.Path(path), text, yaml.safe_load(text)]
    configs = [dataclasses.replace(headeval.read_config(c), source=None) for c in forms]
    assert all(c == expected for c in configs)
    assert expected.input.pattern == os.path.join(os.path.dirname(path), "demo.tfrecord.gz")
    monkeypatch.chdir(tmp_path)
    moved = headeval.read_config(yaml.safe_load(text))
    assert moved.input.pattern == os.path.join(str(tmp_path), "demo.tfrecord.gz")


def test_a_bad_config_is_a_one_line_config_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        headeval.read_config("input: {pattern: x}\ninput: {pattern: y}\n")
    assert "appears twice" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(TypeError):
        headeval.read_config(42)


def test_evaluate_without_an_output_folder_says_so():
    """Refused before anything runs (the input does not even exist)."""
    config = yaml.safe_load(open(demo_config_path(), encoding="utf-8"))
    config.pop("output", None)
    with pytest.raises(ConfigError, match=r"no output folder: pass output=\.\.\. or set "
                                          r"`output:` in the config"):
        headeval.evaluate(config)


def test_beam_options_forms():
    from headeval.api import beam_argv
    assert beam_argv(None) == []
    assert beam_argv(["--direct_num_workers=2"]) == ["--direct_num_workers=2"]
    assert beam_argv("--runner=DataflowRunner --project='my p'") == [
        "--runner=DataflowRunner", "--project=my p"]
    assert beam_argv({"runner": "DataflowRunner", "--region": "r", "save_main_session": True,
                      "dry_run": False, "labels": None}) == [
        "--runner=DataflowRunner", "--region=r", "--save_main_session"]


def test_importing_headeval_is_cheap():
    """No TensorFlow, Beam, pyarrow or pandas until a function needs them."""
    code = ("import sys, headeval; print(sorted(m for m in ('tensorflow', 'apache_beam', "
            "'pyarrow', 'pandas') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
