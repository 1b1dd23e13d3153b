"""The same report whatever the batch size, bundle size and runner mode
(issue 6): the e2e config (4 heads, 5 slices, 3 files) run with record
batches of 8192, 97 and 1000 in-process and with two SDK worker processes,
compared value by value to 1e-9."""
import dataclasses
import math
import os

import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.run import run_pipeline

IN_PROCESS = ["--runner=FnApiRunner"]
TWO_PROCESSES = IN_PROCESS + ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def values(out):
    rows = pq.read_table(os.path.join(out, "metrics.parquet")).to_pylist()
    return {(r["head"], r["slice"], r["key"]): r["value"] for r in rows}


def curves(out):
    return pq.read_table(os.path.join(out, "curves.parquet")).to_pylist()


@pytest.mark.e2e
def test_batch_size_and_runner_mode_do_not_change_the_report(e2e_dataset, tmp_path):
    base = load_config(e2e_dataset.config)
    runs = {}
    for name, batch_size, argv in (("b8192", 8192, IN_PROCESS), ("b97", 97, IN_PROCESS),
                                   ("b1000-2proc", 1000, TWO_PROCESSES)):
        config = dataclasses.replace(base, batch_size=batch_size)
        out = str(tmp_path / name)
        run = run_pipeline(config, out, beam_argv=argv)
        assert run["counts"]["evaluated"] == e2e_dataset.n_records
        runs[name] = out
    reference = values(runs["b8192"])
    assert len(reference) > 1000
    for name, out in runs.items():
        other = values(out)
        assert sorted(other) == sorted(reference), name
        diffs = [(k, v, other[k]) for k, v in reference.items()
                 if not ((math.isnan(v) and math.isnan(other[k]))
                         or abs(v - other[k]) <= 1e-9 * abs(v) + 1e-12)]
        assert not diffs, "%s differs from b8192 in %d values, e.g. %s" % (name, len(diffs),
                                                                           diffs[:5])
        assert curves(out) == curves(runs["b8192"]), name
