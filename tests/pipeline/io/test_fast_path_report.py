"""The same report through the fast path as through the Python reader, on
gzip input with bad examples and a corrupt record (bad_examples: skip):
equal tables, the same counts and rejections."""
import json
import os
import zlib

import numpy as np
import pyarrow.parquet as pq
import pytest
from tests.support.example_records import example, write_tfrecords

N = 3000
BAD_LABEL = (17, 1800)  # labels outside [0, 1]: rejected under skip
CORRUPT = 2500           # its data checksum fails: a corrupt record


def _write_input(folder):
    rng = np.random.default_rng(7)
    labels = (rng.random(N) < 0.3).astype(int)
    logits = rng.normal(0, 1, N) + 2 * labels
    regions = np.array(["a", "b", "c"])[rng.integers(0, 3, N)]
    records = [example(label=[5 if i in BAD_LABEL else int(labels[i])], logit=[float(logits[i])],
                       region=[str(regions[i])]) for i in range(N)]
    raw = open(write_tfrecords(folder / "raw.tfrecord", records), "rb").read()
    os.remove(folder / "raw.tfrecord")
    at = sum(16 + len(r) for r in records[:CORRUPT]) + 12
    raw = raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:]
    half = sum(16 + len(r) for r in records[:N // 2])
    for k, part in enumerate((raw[:half], raw[half:])):
        co = zlib.compressobj(6, zlib.DEFLATED, 31)
        (folder / ("part-%d.tfrecord.gz" % k)).write_bytes(co.compress(part) + co.flush())
    config = folder / "eval.yaml"
    config.write_text(json.dumps({
        "input": {"pattern": str(folder / "part-*.tfrecord.gz"),
                  "features": {"label": {"dtype": "int64"}, "logit": {"dtype": "float32"},
                               "region": {"dtype": "string"}}},
        "model": {"logits": "logit"},
        "heads": [{"type": "binary", "label": "label", "thresholds": [0.5]}],
        "slices": [[], ["region"]],
        "bad_examples": "skip",
        "batch_size": 400,
    }))
    return str(config)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from pipeline.config import load_config
    from pipeline.io import fast_path
    from pipeline.run import run_pipeline
    folder = tmp_path_factory.mktemp("gz")
    config = load_config(_write_input(folder))
    out = {}
    for name in ("fast", "python"):
        mp = pytest.MonkeyPatch()
        if name == "python":
            mp.setattr(fast_path, "fast_path_applies", lambda path: False)
        else:  # the fast path does read them (and hands over at the corrupt record)
            calls = []
            real = fast_path.iter_parsed_batches
            mp.setattr(fast_path, "iter_parsed_batches",
                       lambda *a, **k: calls.append(a[0]) or real(*a, **k))
        try:
            run = run_pipeline(config, str(folder / name), beam_argv=["--runner=FnApiRunner"])
        finally:
            mp.undo()
        if name == "fast":
            assert len(calls) == 2
        out[name] = str(folder / name), run
    return out


@pytest.mark.parametrize("table", ["metrics.parquet", "curves.parquet"])
def test_the_report_tables_are_equal(reports, table):
    fast, python = (pq.read_table(os.path.join(reports[k][0], table)) for k in ("fast", "python"))
    assert fast.num_rows > 0
    assert fast.equals(python)


def test_counts_and_rejections_are_the_same(reports):
    (fast_dir, fast), (python_dir, python) = reports["fast"], reports["python"]
    assert fast["counts"] == python["counts"]
    assert fast["counts"]["read"] == N and fast["counts"]["rejected"] == 3
    rejected = [sorted(pq.read_table(os.path.join(d, "rejected")).to_pylist(),
                       key=lambda r: (r["file"], r["index"])) for d in (fast_dir, python_dir)]
    assert rejected[0] == rejected[1]
    # Indices within each file (part-1 starts at example N // 2).
    assert [(os.path.basename(r["file"]), r["index"]) for r in rejected[0]] == [
        ("part-0.tfrecord.gz", BAD_LABEL[0]), ("part-1.tfrecord.gz", BAD_LABEL[1] - N // 2),
        ("part-1.tfrecord.gz", CORRUPT - N // 2)]
