"""A Ctrl-C that the interpreter dropped (raised inside a `__del__`) still
stops the run before it replaces the old report (pipeline.runtime.signals.check)."""
import json
import os
import signal

import pytest

from pipeline.config import load_config
from pipeline.demo import demo_config_path
from pipeline.run import run_pipeline
from pipeline.runtime import signals


def test_check_raises_only_after_a_signal():
    signals.received.clear()
    signals.check()
    signals.received.append(signal.SIGINT)
    try:
        with pytest.raises(KeyboardInterrupt):
            signals.check()
    finally:
        signals.received.clear()


def test_a_dropped_interrupt_keeps_the_old_report(tmp_path):
    out = str(tmp_path / "report")
    config = load_config(demo_config_path())
    first = run_pipeline(config, out, beam_argv=["--runner=FnApiRunner"])
    signals.received.append(signal.SIGINT)  # as if the handler's KeyboardInterrupt was lost
    try:
        with pytest.raises(BaseException) as caught:
            run_pipeline(config, out, overwrite=True, beam_argv=["--runner=FnApiRunner"])
        assert signals.interruption(caught.value) == (130, "interrupted")
    finally:
        signals.received.clear()
    with open(os.path.join(out, "run.json")) as f:
        assert json.load(f)["started"] == first["started"]  # the old report, untouched
    assert sorted(os.listdir(tmp_path)) == ["report"]  # no temporary folder left
