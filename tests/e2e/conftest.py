"""Runs of the e2e config shared by the determinism and interval tests: a
two-process Beam run costs 15-25 s of start-up on 2 cores, so the suite
makes one.

    b8192         batch 8192, in-process, no intervals (the reference)
    b97           batch 97, in-process
    ci-b8192      batch 8192, in-process, Poisson bootstrap intervals
    ci-b97        batch 97, in-process, the same intervals
    ci-b97-2proc  batch 97, two SDK worker processes, the same intervals; the
                  two uncompressed files cut into record ranges (pipeline.io.parts)
"""
import dataclasses
import os

import pytest

from pipeline.config import load_config
from pipeline.config.spec import IntervalsConfig
from pipeline.io.parts import MIN_PART_ENV
from pipeline.run import run_pipeline

IN_PROCESS = ["--runner=FnApiRunner"]
TWO_PROCESSES = IN_PROCESS + ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
INTERVALS = IntervalsConfig(method="poisson_bootstrap", replicates=20, level=0.95, seed=0)


@pytest.fixture(scope="session")
def e2e_runs(e2e_dataset, tmp_path_factory):
    """{name: (report folder, run.json as returned)} for the runs above."""
    base = load_config(e2e_dataset.config)
    with_ci = dataclasses.replace(base, metrics=dataclasses.replace(
        base.metrics, confidence_intervals=INTERVALS))
    out = {}
    for name, config, batch_size, argv in (("b8192", base, 8192, IN_PROCESS),
                                           ("b97", base, 97, IN_PROCESS),
                                           ("ci-b8192", with_ci, 8192, IN_PROCESS),
                                           ("ci-b97", with_ci, 97, IN_PROCESS),
                                           ("ci-b97-2proc", with_ci, 97, TWO_PROCESSES)):
        folder = str(tmp_path_factory.mktemp("e2e_runs") / name)
        saved = os.environ.get(MIN_PART_ENV)
        if argv is TWO_PROCESSES:  # the workers inherit it: small files are cut too
            os.environ[MIN_PART_ENV] = "1"
        try:
            run = run_pipeline(dataclasses.replace(config, batch_size=batch_size), folder,
                               beam_argv=argv)
        finally:
            if saved is None:
                os.environ.pop(MIN_PART_ENV, None)
            else:
                os.environ[MIN_PART_ENV] = saved
        out[name] = (folder, run)
    return out
