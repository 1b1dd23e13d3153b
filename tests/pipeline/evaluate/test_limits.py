"""Limits on what the data may make the pipeline hold (issue 17, finding 10):
`max_slices` distinct slices per slice spec, counted on each worker and where
the report gathers them, and slice values of at most MAX_SLICE_VALUE_BYTES.
Real TFRecords, real Beam runs (FnApiRunner, in-process)."""
import json
import os

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.config import MAX_SLICE_VALUE_BYTES, load_config, parse_config
from pipeline.errors import BadRecordError, ConfigError
from pipeline.evaluate.evaluator import Evaluator
from pipeline.io.writer import serialize_examples
from pipeline.report.stages import GatherSlices, gather_slices
from pipeline.run import run_pipeline
from tests.support.example_records import write_tfrecords

RUNNER = ["--runner=FnApiRunner"]


def _config(tmp_path, ids, **changes):
    n = len(ids)
    rng = np.random.default_rng(0)
    records = serialize_examples({"y": rng.integers(0, 2, n),
                                  "z": rng.normal(size=(n, 1)).astype(np.float32),
                                  "id": np.array(ids, object)})
    os.makedirs(tmp_path / "data", exist_ok=True)
    write_tfrecords(str(tmp_path / "data" / "part-0.tfrecord"), records)
    data = {"input": {"pattern": "data/*.tfrecord", "features": {
                "y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [1]},
                "id": {"dtype": "string"}}},
            "model": {"logits": "z"}, "heads": [{"type": "binary", "label": "y"}],
            "slices": [[], ["id"]], **changes}
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(str(path))


def test_a_slice_spec_past_max_slices_fails_on_the_worker(tmp_path):
    config = _config(tmp_path, [b"id-%d" % i for i in range(30)], max_slices=10)
    with pytest.raises(ConfigError) as info:
        run_pipeline(config, str(tmp_path / "out"), beam_argv=RUNNER)
    message = str(info.value)
    assert "slices: ['id'] yields more than max_slices = 10 distinct slices" in message, message
    assert "\n" not in message.split(" [while running")[0]
    assert not (tmp_path / "out").exists()


def test_max_slices_is_exact_at_the_boundary_on_the_worker(tmp_path):
    """3 distinct ids: max_slices 3 passes with the 3 slices in the report;
    2 fails naming the spec and the count 3. (The heads' warm-up on a
    made-up example once counted its slice `id=` as a 4th.)"""
    ids = [b"a", b"b", b"c"] * 7
    config = _config(tmp_path, ids, max_slices=3)
    run_pipeline(config, str(tmp_path / "ok"), beam_argv=RUNNER)
    keys = set(pq.read_table(str(tmp_path / "ok" / "metrics.parquet")).column("slice")
               .to_pylist())
    assert keys == {"", "id=a", "id=b", "id=c"}, keys
    config = _config(tmp_path, ids, max_slices=2)
    with pytest.raises(ConfigError) as info:
        run_pipeline(config, str(tmp_path / "out"), beam_argv=RUNNER)
    message = str(info.value).split(" [while running")[0]
    assert message == ("slices: ['id'] yields more than max_slices = 2 distinct slices "
                       "(3 met by one worker); slice on features with fewer values, or raise "
                       "max_slices"), message
    assert not (tmp_path / "out").exists()


def test_max_slices_is_exact_at_the_boundary_where_the_report_gathers():
    elements = [("id=%d" % i, None, None) for i in range(3)] + [("", None, None)]
    for limit, fails in ((3, False), (2, True)):
        fn = GatherSlices([(), ("id",)], limit)
        a, b = fn.create_accumulator(), fn.create_accumulator()
        fn.add_input(a, elements[0])
        fn.add_input(a, elements[3])
        for e in elements[1:3]:
            fn.add_input(b, e)
        if not fails:
            assert sorted(fn.extract_output(fn.merge_accumulators([a, b]))) == sorted(elements)
            continue
        with pytest.raises(ConfigError, match=r"^slices: \['id'\] yields more than "
                                              r"max_slices = 2 distinct slices \(3 gathered"):
            fn.merge_accumulators([a, b])


def test_max_slices_counts_across_workers_where_the_report_gathers_them():
    """Each worker may stay under the limit while the slices they met
    together exceed it: the report's gathering counts them all."""
    elements = [("id=%d" % i, None, None) for i in range(12)] + [("", None, None)]
    fn = GatherSlices([(), ("id",)], 10)
    a = fn.create_accumulator()
    for e in elements[:6]:
        fn.add_input(a, e)
    b = fn.create_accumulator()
    for e in elements[6:]:
        fn.add_input(b, e)
    with pytest.raises(ConfigError, match=r"\['id'\] yields more than max_slices = 10 "
                                          r"distinct slices \(12 gathered for the report\)"):
        fn.merge_accumulators([a, b])
    with pytest.raises(Exception, match="yields more than max_slices = 10"):
        with beam.Pipeline(runner="FnApiRunner") as p:
            _ = p | beam.Create(elements) | gather_slices([(), ("id",)], 10)
    fn = GatherSlices([(), ("id",)], 12)
    a = fn.create_accumulator()
    for e in elements:
        fn.add_input(a, e)
    assert fn.extract_output(fn.merge_accumulators([a])) == elements


def _long_value_ids():
    ids = [b"short-%d" % (i % 3) for i in range(20)]
    ids[7] = b"x" * (MAX_SLICE_VALUE_BYTES + 1)
    ids[12] = "\u00e9".encode() * 600  # 1200 bytes, 600 characters
    return ids


def test_a_too_long_slice_value_fails_naming_feature_record_and_length(tmp_path):
    config = _config(tmp_path, _long_value_ids())
    with pytest.raises(BadRecordError) as info:
        run_pipeline(config, str(tmp_path / "out"), beam_argv=RUNNER)
    message = str(info.value)
    assert "bad record 7 of" in message and "part-0.tfrecord" in message, message
    assert "slice feature 'id' has a value of 1025 bytes; slice values are at most 1024 " \
           "bytes" in message, message
    assert len(message) < 1000 and info.value.kind == "slice_value_too_long"
    assert not (tmp_path / "out").exists()


def test_too_long_slice_values_are_rejected_under_skip(tmp_path):
    config = _config(tmp_path, _long_value_ids(), bad_examples="skip")
    out = str(tmp_path / "out")
    run = run_pipeline(config, out, beam_argv=RUNNER)
    counts = run["counts"]
    assert counts["read"] == 20 and counts["evaluated"] == 18
    assert counts["rejected_by_kind"] == {"slice_value_too_long": 2}
    slices = set(pq.read_table(os.path.join(out, "metrics.parquet")).column("slice").to_pylist())
    assert slices == {"", "id=short-0", "id=short-1", "id=short-2"}
    with open(os.path.join(out, "run.json")) as f:
        assert json.load(f)["counts"]["rejected"] == 2


def test_a_row_check_message_shows_a_few_values_of_a_wide_row():
    """A NaN among 1,000 logits: the message shows ten of them, not all."""
    n = 1000
    config = parse_config({"input": {"pattern": "x", "features": {
        "y": {"dtype": "int64"}, "z": {"dtype": "float32", "shape": [n]}}},
        "model": {"logits": "z"}, "heads": [{"type": "multi_class", "n_classes": n,
                                             "label": "y"}]})
    z = np.zeros((2, n), np.float32)
    z[1, 5] = np.nan
    bad = Evaluator(config).find_bad_rows({"y": np.array([0, 1]), "z": z})
    assert list(bad) == [1]
    kind, _, message = bad[1]
    assert kind == "logits_not_finite" and "nan" in message and "(1000 values)" in message
    assert len(message) < 500, len(message)
