"""DirectRunner's worker processes only where the input pays back their start
(pipeline/runtime/workers.py)."""
import gzip
import json
import logging
import os

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import load_config
from pipeline.demo import demo_config_path
from pipeline.errors import UsageError
from pipeline.run import run_pipeline
from pipeline.runtime import workers
from pipeline.runtime.workers import THRESHOLD_ENV, choose_workers, in_process_argv, record_bytes

TWO = ["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
       "--direct_num_workers=2"]


@pytest.fixture
def files(tmp_path):
    """Two plain files of 1000 and 3000 bytes and a gzip file of 50,000
    (compressible) bytes."""
    (tmp_path / "a.tfrecord").write_bytes(os.urandom(1000))
    (tmp_path / "b.tfrecord").write_bytes(os.urandom(3000))
    with gzip.open(tmp_path / "c.tfrecord.gz", "wb") as f:
        f.write(b"x" * 50_000)
    return tmp_path


def _choose(argv, pattern):
    return choose_workers(PipelineOptions(argv), argv, pattern)


def test_record_bytes_sums_local_files_and_gzip_trailers(files):
    assert record_bytes(str(files / "*.tfrecord")) == 4000
    assert record_bytes("file://" + str(files / "*.tfrecord")) == 4000
    # the gzip file counts what it inflates to, not its ~100 bytes on disk
    assert os.path.getsize(files / "c.tfrecord.gz") < 1000
    assert record_bytes(str(files / "*")) == 4000 + 50_000
    assert record_bytes(str(files / "none-*")) == 0
    assert record_bytes("gs://bucket/x-*") is None


def test_a_small_input_runs_in_process_and_says_why(files, monkeypatch, caplog):
    monkeypatch.delenv(THRESHOLD_ENV, raising=False)
    with caplog.at_level(logging.WARNING, logger=workers.__name__):
        argv, record = _choose(TWO + ["--experiments=x"], str(files / "*"))
    assert argv == ["--runner=FnApiRunner", "--experiments=x"]
    assert record["asked"] == 2 and record["ran"] == 1 and record["input_bytes"] == 54_000
    assert "%s=0" % THRESHOLD_ENV in record["why"]
    warning, = [r.getMessage() for r in caplog.records]
    assert "not in 2 worker processes" in warning and "0 MB of records" in warning


def test_the_threshold_scales_with_the_extra_workers(files, monkeypatch):
    # 54,000 bytes: enough for 2 workers at 50,000 per extra one, not for 3
    monkeypatch.setenv(THRESHOLD_ENV, "50000")
    argv, record = _choose(TWO, str(files / "*"))
    assert argv == TWO and record == {"asked": 2, "ran": 2, "input_bytes": 54_000}
    three = TWO[:2] + ["--direct_num_workers", "3"]
    argv, record = _choose(three, str(files / "*"))
    assert argv == ["--runner=FnApiRunner"] and record["asked"] == 3 and record["ran"] == 1


def test_zero_always_starts_the_workers_and_a_bad_value_is_refused(files, monkeypatch):
    monkeypatch.setenv(THRESHOLD_ENV, "0")
    assert _choose(TWO, str(files / "*"))[0] == TWO
    for bad in ("-1", "1e9", "lots"):
        monkeypatch.setenv(THRESHOLD_ENV, bad)
        with pytest.raises(UsageError, match=THRESHOLD_ENV):
            _choose(TWO, str(files / "*"))


def test_other_modes_runners_and_remote_inputs_are_left_alone(files, monkeypatch):
    monkeypatch.delenv(THRESHOLD_ENV, raising=False)
    for argv in (["--runner=FnApiRunner"],
                 ["--runner=FnApiRunner", "--direct_running_mode=multi_threading",
                  "--direct_num_workers=2"],
                 ["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                  "--direct_num_workers=1"],
                 ["--runner=DataflowRunner", "--direct_running_mode=multi_processing",
                  "--direct_num_workers=2"]):
        assert _choose(argv, str(files / "*")) == (argv, None), argv
    # gs:// is not sized: the workers start as asked
    assert _choose(TWO, "gs://bucket/x-*") == (TWO, {"asked": 2, "ran": 2, "input_bytes": None})
    # 0 workers: one per core
    argv = TWO[:2] + ["--direct_num_workers=0"]
    record = _choose(argv, str(files / "*"))[1]
    assert record["asked"] == (os.cpu_count() or 1)


def test_in_process_argv_drops_both_spellings():
    assert in_process_argv(["--direct_running_mode", "multi_processing", "--x=1",
                            "--direct_num_workers", "4", "--y"]) == ["--x=1", "--y"]


def test_a_demo_run_asking_for_workers_runs_in_process(tmp_path, monkeypatch):
    """A real run: the report is written, run.json says what was asked and
    what ran, and keeps the Beam options as given."""
    monkeypatch.delenv(THRESHOLD_ENV, raising=False)
    config = load_config(demo_config_path())
    run = run_pipeline(config, str(tmp_path / "out"), beam_argv=TWO)
    with open(tmp_path / "out" / "run.json") as f:
        written = json.load(f)
    assert written["workers"]["asked"] == 2 and written["workers"]["ran"] == 1
    assert written["beam_options"] == TWO
    assert run["counts"]["evaluated"] > 0
