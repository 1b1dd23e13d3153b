"""The same report whatever the batch size, bundle size and runner mode
(issue 6): the e2e config (4 heads, 5 slices, 3 files) run with record
batches of 8192 and 97 in-process and with two SDK worker processes (the
shared runs of tests/e2e/conftest.py; the two-process one has confidence
intervals on, which leave the values as they are), compared value by value
to 1e-9."""
import math
import os

import pyarrow.parquet as pq
import pytest

from pipeline.io.parts import MIN_PART_ENV, FilePart, split_files
from pipeline.runtime.workers import work_parts


def values(out):
    rows = pq.read_table(os.path.join(out, "metrics.parquet")).to_pylist()
    return {(r["head"], r["slice"], r["key"]): r["value"] for r in rows}


def curves(out):
    return pq.read_table(os.path.join(out, "curves.parquet")).to_pylist()


@pytest.mark.e2e
def test_batch_size_and_runner_mode_do_not_change_the_report(e2e_dataset, e2e_runs):
    runs = {name: folder for name, (folder, run) in e2e_runs.items()}
    for _, run in e2e_runs.values():
        counts = run["counts"]
        assert counts["evaluated"] == counts["read"] == e2e_dataset.n_records
        assert counts["rejected"] == 0
    # The two-process run read its uncompressed files in record ranges (its
    # read made 2 pieces of work per worker; see tests/e2e/conftest.py).
    workers = e2e_runs["ci-b97-2proc"][1]["workers"]
    assert workers["asked"] == workers["ran"] == 2
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(MIN_PART_ENV, "1")
        work = list(split_files([str(f) for f in e2e_dataset.files],
                                work_parts(workers), 97))
    assert sum(isinstance(w, FilePart) for w in work) >= 4, work
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
    # The same batches (size 97) in one process and, cut into record ranges,
    # in two: bit-identical values (compensated state sums, heads.states).
    one, two = values(runs["ci-b97"]), values(runs["ci-b97-2proc"])
    differ = [k for k in one if not (one[k] == two[k] or (math.isnan(one[k])
                                                          and math.isnan(two[k])))]
    assert not differ, "%d values differ, e.g. %s" % (len(differ), [
        (k, one[k], two[k]) for k in differ[:3]])
