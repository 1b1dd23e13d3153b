"""Bad input under `bad_examples: fail` and `skip` (issue 6): every kind of
bad record named in the message or in rejected/, counts that add up, and
metrics of a skip run equal to those of the valid records alone.

Pipelines run in-process on the FnApiRunner (`run_pipeline`), 1-3 s each.
The bad records are built here by hand as `tf.train.Example` protos or raw
bytes, independent of the code under test; the expected metrics come from
scikit-learn / numpy on the valid arrays.
"""
import gzip
import json
import math
import os
import struct

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, roc_auc_score

from pipeline.runtime import progress
from pipeline.config import load_config
from pipeline.errors import (BadRecordError, ConfigError, CorruptRecordError, HeadevalError,
                             NoMatchError)
from pipeline.run import run_pipeline
from pipeline.io.writer import serialize_examples
from tests.support.example_records import tfrecord_header

RUNNER = ["--runner=FnApiRunner"]
VOCAB = ["neg", "pos"]
GROUPS = np.array(["a", "b", "c"])

CONFIG = {
    "input": {"pattern": "data/*.tfrecord*", "features": {
        "y_bin": {"dtype": "string"},
        "z_bin": {"dtype": "float32", "shape": [1]},
        "y_mc": {"dtype": "int64"},
        "z_mc": {"dtype": "float32", "shape": [3]},
        "w": {"dtype": "float32", "default": 1.0},
        "group": {"dtype": "string"},
    }},
    "model": {"logits": {"bin": "z_bin", "mc": "z_mc"}},
    "heads": [
        {"name": "bin", "type": "binary", "label": "y_bin", "label_vocabulary": VOCAB,
         "weight_column": "w", "thresholds": [0.5]},
        {"name": "mc", "type": "multi_class", "n_classes": 3, "label": "y_mc",
         "weight_column": "w"},
    ],
    "slices": [[], ["group"]],
}


def good_arrays(n, seed):
    rng = np.random.default_rng(seed)
    y_bin = rng.integers(0, 2, n)
    y_mc = rng.integers(0, 3, n)
    return {
        "y_bin": np.array(VOCAB)[y_bin], "y_bin_id": y_bin,
        "z_bin": (rng.normal(size=n) + 1.1 * y_bin).astype(np.float32),
        "y_mc": y_mc,
        "z_mc": (rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[y_mc]).astype(np.float32),
        "w": rng.uniform(0.5, 2.0, n).astype(np.float32),
        "group": GROUPS[rng.integers(0, 3, n)],
    }


def good_records(a):
    return serialize_examples({"y_bin": a["y_bin"], "z_bin": a["z_bin"][:, None],
                               "y_mc": a["y_mc"], "z_mc": a["z_mc"], "w": a["w"],
                               "group": a["group"]})


def example(**values):
    """A tf.train.Example built by hand: floats, ints or strings per feature."""
    feature = {}
    for name, v in values.items():
        v = list(v) if isinstance(v, (list, tuple)) else [v]
        if all(isinstance(x, str) for x in v):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[x.encode() for x in v]))
        elif all(isinstance(x, int) for x in v):
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=v))
        else:
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=v))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def valid(**changes):
    base = dict(y_bin="pos", z_bin=[0.5], y_mc=1, z_mc=[0.1, 0.9, -0.3], w=1.5, group="a")
    base.update(changes)
    return example(**{k: v for k, v in base.items() if v is not None})


# kind -> (a bad record, the field the message names, words the message holds)
BAD = {
    "not_an_example": (b"\x00garbage\xff", None, "not a serialized tf.train.Example"),
    "missing_feature": (valid(z_mc=None), "z_mc", "missing"),
    "wrong_type_or_length": (valid(z_mc=[0.1, 0.2]), "z_mc", "must have 3 value"),
    "label_out_of_range": (valid(y_mc=3), "y_mc", "[0, 2]"),
    "label_not_in_vocabulary": (valid(y_bin="maybe"), "y_bin", "label_vocabulary"),
    "logits_not_finite": (valid(z_bin=[math.nan]), "z_bin", "finite"),
    "weight_not_finite": (valid(w=math.inf), "w", "finite"),
    "weight_negative": (valid(w=-1.0), "w", ">= 0"),
}


def write_records(path, records):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for r in records:
            writer.write(r)


def corrupt_data_of(path, k):
    """Flips one byte inside the data of record k (its length stays intact)."""
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    pos = 0
    for _ in range(k):
        pos += 12 + struct.unpack_from("<Q", buf, pos)[0] + 4
    length = struct.unpack_from("<Q", buf, pos)[0]
    buf[pos + 12 + length // 2] ^= 0xFF
    with open(path, "wb") as f:
        f.write(bytes(buf))


def make_config(folder, **changes):
    data = dict(CONFIG, **changes)
    path = os.path.join(folder, "eval.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(data, f)
    return load_config(path)


def read_report(out):
    rows = pq.read_table(os.path.join(out, "metrics.parquet")).to_pylist()
    with open(os.path.join(out, "run.json")) as f:
        run = json.load(f)
    return {(r["head"], r["slice"], r["key"]): r["value"] for r in rows}, run


def rejected_rows(out):
    folder = os.path.join(out, "rejected")
    rows = []
    for name in sorted(os.listdir(folder)):
        rows += pq.read_table(os.path.join(folder, name)).to_pylist()
    return rows


# -- an error in the heads' own thread ------------------------------------------

_LOSS_MODULE = """
import tensorflow as tf
calls = []

def loss(labels, logits):
    calls.append(int(logits.shape[0]))
    if len(calls) == 3:  # the third batch: its work runs while the second is absorbed
        raise ValueError("loss_fn refuses batch %d" % len(calls))
    return tf.square(tf.cast(labels, tf.float32) - tf.sigmoid(logits))
"""


@pytest.mark.parametrize("n_records", [100, 70])  # the failing batch: in the middle / the last
def test_an_error_in_the_heads_thread_fails_the_run(tmp_path, monkeypatch, n_records):
    # The heads' TensorFlow work runs on a thread of its own (pipeline.evaluate.stage);
    # what fails there must fail the run with its own message, not be lost.
    (tmp_path / "refusing_loss.py").write_text(_LOSS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "refusing_loss", raising=False)
    write_records(tmp_path / "data" / "part-0.tfrecord", good_records(good_arrays(n_records, 3)))
    heads = [dict(CONFIG["heads"][0], loss_fn="refusing_loss:loss"), CONFIG["heads"][1]]
    config = make_config(str(tmp_path), heads=heads, batch_size=25)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="loss_fn refuses batch 3"):
        run_pipeline(config, str(out), beam_argv=RUNNER)
    assert not out.exists(), "a failed run must leave no report"


@pytest.mark.e2e
def test_a_loss_fn_that_raises_is_one_error_line(tmp_path, headeval_cli, monkeypatch):
    """A RuntimeError in the user's loss_fn printed ~200 lines of Beam log
    and traceback; now one line naming the head's entry, the function and
    the exception, exit 1, and nothing left in the output folder's place."""
    (tmp_path / "boom_loss.py").write_text("def f(labels, logits):\n"
                                           "    raise RuntimeError('boom')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # cli_env puts the checkout first
    write_records(tmp_path / "data" / "part-0.tfrecord", good_records(good_arrays(30, 9)))
    heads = [CONFIG["heads"][0], dict(CONFIG["heads"][1], loss_fn="boom_loss:f")]
    make_config(str(tmp_path), heads=heads)
    proc = headeval_cli.run("run", tmp_path / "eval.yaml", "--output", tmp_path / "out",
                            "--quiet", headeval_cli.runner_flag, check=False, timeout=180)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert proc.stderr.strip().splitlines() == [
        "headeval run: error: heads[1].loss_fn 'boom_loss:f' raised RuntimeError: boom"], \
        proc.stderr[-3000:]
    assert sorted(set(os.listdir(tmp_path)) - {"__pycache__"}) == ["boom_loss.py", "data",
                                                                  "eval.yaml"]


# -- fail ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(BAD))
def test_fail_names_file_record_and_field(tmp_path, kind):
    record, field, words = BAD[kind]
    records = good_records(good_arrays(40, 1))
    records.insert(17, record)
    write_records(tmp_path / "data" / "part-0.tfrecord", records)
    config = make_config(str(tmp_path))
    out = tmp_path / "out"
    with pytest.raises(BadRecordError) as info:
        run_pipeline(config, str(out), beam_argv=RUNNER)
    message = str(info.value)
    assert "part-0.tfrecord" in message and "record 17 " in message, message
    assert words in message, message
    if field is not None:
        assert repr(field) in message, message
    assert not out.exists(), "a failed run must leave no report"


def test_fail_on_a_corrupt_record(tmp_path):
    path = tmp_path / "data" / "part-0.tfrecord"
    write_records(path, good_records(good_arrays(30, 2)))
    corrupt_data_of(path, 12)
    with pytest.raises(CorruptRecordError, match=r"part-0.tfrecord: record 12 .*data checksum"):
        run_pipeline(make_config(str(tmp_path)), str(tmp_path / "out"), beam_argv=RUNNER)
    assert not (tmp_path / "out").exists()


def test_truncated_file_fails_in_both_modes(tmp_path):
    path = tmp_path / "data" / "part-0.tfrecord"
    write_records(path, good_records(good_arrays(30, 3)))
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 7)
    for mode in ("fail", "skip"):
        with pytest.raises(CorruptRecordError, match=r"truncated TFRecord file .*record 29"):
            run_pipeline(make_config(str(tmp_path), bad_examples=mode), str(tmp_path / mode),
                         beam_argv=RUNNER)


def _cli_error_line(proc):
    """The CLI's one error line, checked to be the only one, no traceback."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("headeval run: error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return lines[0]


# A length of 2**62 with a valid length checksum made TensorFlow's reader
# (the local fast path) kill the process with SIGSEGV and no message; one just
# past the end got TensorFlow's own error, then the Python reader's.
@pytest.mark.e2e
@pytest.mark.parametrize("length,mode", [(2 ** 62, "fail"), (2 ** 62, "skip"), (101, "fail")])
def test_a_record_length_past_the_end_of_the_file_is_one_error_line(tmp_path, headeval_cli,
                                                                    length, mode):
    records = good_records(good_arrays(20, 6))
    path = tmp_path / "data" / "part-0.tfrecord"
    write_records(path, records)
    with open(path, "ab") as f:
        f.write(tfrecord_header(length) + b"x" * 100)
    offset = sum(12 + len(r) + 4 for r in records)
    make_config(str(tmp_path), bad_examples=mode)
    proc = headeval_cli.run("run", tmp_path / "eval.yaml", "--output", tmp_path / "out",
                            "--quiet", headeval_cli.runner_flag, check=False, timeout=180)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    line = _cli_error_line(proc)
    assert ("truncated TFRecord file %s: record 20 at byte offset %d needs %d bytes but only "
            "112 remain" % (path, offset, length + 16)) in line, line
    assert sorted(os.listdir(tmp_path)) == ["data", "eval.yaml"], "a report or temporary left"


@pytest.mark.e2e
def test_an_input_file_without_read_permission_is_one_error_line(tmp_path, headeval_cli):
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading")
    write_records(tmp_path / "data" / "part-0.tfrecord", good_records(good_arrays(20, 7)))
    locked = tmp_path / "data" / "part-1.tfrecord"
    write_records(locked, good_records(good_arrays(20, 8)))
    os.chmod(locked, 0)
    make_config(str(tmp_path))
    proc = headeval_cli.run("run", tmp_path / "eval.yaml", "--output", tmp_path / "out",
                            "--quiet", headeval_cli.runner_flag, check=False, timeout=180)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    line = _cli_error_line(proc)
    assert "%s, which this process may not read (permission denied)" % locked in line, line
    assert sorted(os.listdir(tmp_path)) == ["data", "eval.yaml"]


@pytest.mark.e2e
def test_a_gs_pattern_without_cloud_storage_is_one_error_line_at_once(tmp_path, headeval_cli,
                                                                     monkeypatch):
    """No network: the run waited about 150 s, then said the pattern 'matches
    no files'. Cloud Storage made unreachable offline, honestly: the storage
    client's own emulator setting names a closed port."""
    import time

    make_config(str(tmp_path))
    config = tmp_path / "eval.yaml"
    config.write_text(config.read_text().replace("data/*.tfrecord*", "gs://bucket/data/*"))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1")
    start = time.monotonic()
    proc = headeval_cli.run("run", config, "--output", tmp_path / "out", "--quiet",
                            headeval_cli.runner_flag, check=False, timeout=100)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert time.monotonic() - start < 60  # start-up included; the probe fails in milliseconds
    line = _cli_error_line(proc)
    assert "input.pattern 'gs://bucket/data/*' cannot be matched: Cloud Storage could not be " \
           "reached (the storage emulator (STORAGE_EMULATOR_HOST) at 127.0.0.1:1" in line, line
    assert sorted(os.listdir(tmp_path)) == ["eval.yaml"]


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_gzip_with_trailing_data_fails_the_run_saying_so(tmp_path, mode):
    """Bytes after a gzip stream that are not a gzip member fail the run in
    both modes, as a truncated file does: they may be records lost in a
    botched copy or concatenation, so no report could be trusted to be
    whole. The error said record 0, byte 0."""
    plain = tmp_path / "plain.tfrecord"
    write_records(plain, good_records(good_arrays(30, 9)))
    os.makedirs(tmp_path / "data")
    framed = plain.read_bytes()
    plain.unlink()
    path = tmp_path / "data" / "part-0.tfrecord.gz"
    path.write_bytes(gzip.compress(framed) + b"PK\x03\x04 not gzip")
    with pytest.raises(CorruptRecordError) as info:
        run_pipeline(make_config(str(tmp_path), bad_examples=mode), str(tmp_path / "out"),
                     beam_argv=RUNNER)
    message = str(info.value)
    assert message.startswith("corrupt gzip file %s: trailing data after the gzip stream (not a "
                              "gzip member" % path), message
    assert "the stream held 30 records (%d bytes uncompressed)" % len(framed) in message, message
    assert sorted(os.listdir(tmp_path)) == ["data", "eval.yaml"]


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_no_matching_files_and_empty_input(tmp_path, mode):
    config = make_config(str(tmp_path), bad_examples=mode)
    with pytest.raises(NoMatchError, match="matches no files"):
        run_pipeline(config, str(tmp_path / "out"), beam_argv=RUNNER)
    write_records(tmp_path / "data" / "empty.tfrecord", [])
    with pytest.raises(HeadevalError, match="hold no records"):
        run_pipeline(config, str(tmp_path / "out"), beam_argv=RUNNER)
    assert not (tmp_path / "out").exists()


def test_config_naming_an_unknown_feature(tmp_path):
    heads = [dict(CONFIG["heads"][0], weight_column="weights"), CONFIG["heads"][1]]
    with pytest.raises(ConfigError, match=r"heads\[0\].weight_column.*a feature of "
                                          r"input.features"):
        make_config(str(tmp_path), heads=heads)
    with pytest.raises(ConfigError, match=r"slices\[1\]\[0\]"):
        make_config(str(tmp_path), slices=[[], ["country"]])


def test_failed_overwrite_keeps_the_old_report(tmp_path):
    write_records(tmp_path / "data" / "part-0.tfrecord", good_records(good_arrays(30, 4)))
    config = make_config(str(tmp_path))
    out = str(tmp_path / "out")
    run_pipeline(config, out, beam_argv=RUNNER)
    before = read_report(out)[0]
    with pytest.raises(HeadevalError, match="--overwrite"):
        run_pipeline(config, out, beam_argv=RUNNER)
    write_records(tmp_path / "data" / "part-1.tfrecord", [BAD["weight_negative"][0]])
    with pytest.raises(BadRecordError):
        run_pipeline(config, out, overwrite=True, beam_argv=RUNNER)
    after = read_report(out)[0]  # NaN (undefined on a slice) equals NaN here
    assert sorted(after) == sorted(before)
    assert all(after[k] == v or (math.isnan(after[k]) and math.isnan(v)) for k, v in before.items())
    assert sorted(os.listdir(tmp_path)) == ["data", "eval.yaml", "out"], "temporary folders left"


# -- skip ------------------------------------------------------------------------

def oracle(a, mask):
    """A few metrics of the valid arrays, from scikit-learn and numpy."""
    w = a["w"][mask].astype(np.float64)
    y, z = a["y_bin_id"][mask], a["z_bin"][mask]
    p = tf.math.sigmoid(z).numpy().astype(np.float64)
    zm = a["z_mc"][mask].astype(np.float64)
    logp = zm - np.log(np.exp(zm).sum(axis=1, keepdims=True))
    return {
        ("bin", "auc"): roc_auc_score(y, p, sample_weight=w),
        ("bin", "accuracy"): accuracy_score(y, z > 0, sample_weight=w),
        ("mc", "accuracy"): accuracy_score(a["y_mc"][mask], zm.argmax(1), sample_weight=w),
        ("mc", "average_loss"): np.average(-logp[np.arange(len(w)), a["y_mc"][mask]],
                                           weights=w),
        ("bin", "example_count"): float(mask.sum()),
        ("bin", "weighted_example_count"): float(w.sum()),
    }


def test_skip_rejects_each_kind_and_keeps_the_rest(tmp_path, monkeypatch):
    # Progress forced on: its records-read count must include the corrupt
    # record too (it is read, then rejected).
    monkeypatch.setenv("HEADEVAL_PROGRESS", "1")
    progress.reset()
    a = good_arrays(300, 5)
    records = good_records(a)
    kinds = sorted(BAD)
    # Two files: the bad records of one kind each spread over both, and a
    # corrupt record (data checksum) in the second.
    first = records[:150] + [BAD[k][0] for k in kinds[:4]]
    second = [BAD[k][0] for k in kinds[4:]] + records[150:]
    write_records(tmp_path / "data" / "part-0.tfrecord", first)
    write_records(tmp_path / "data" / "part-1.tfrecord", second)
    corrupt_data_of(tmp_path / "data" / "part-1.tfrecord", len(kinds) - 4 + 10)
    mask = np.ones(300, bool)
    mask[150 + 10] = False  # the corrupt one
    config = make_config(str(tmp_path), bad_examples="skip", batch_size=64)
    out = str(tmp_path / "out")
    run = run_pipeline(config, out, beam_argv=RUNNER)

    counts = run["counts"]
    assert counts["read"] == 300 + len(kinds)
    assert progress.tracker().records == counts["read"]
    progress.reset()
    assert counts["evaluated"] == 299
    assert counts["rejected"] == len(kinds) + 1
    assert counts["rejected_by_kind"] == dict({k: 1 for k in kinds}, corrupt_record=1)
    assert counts["heads"] == {h: {"read": 300 + len(kinds), "evaluated": 299,
                                   "rejected": len(kinds) + 1} for h in ("bin", "mc")}

    rejected = rejected_rows(out)
    by_kind = {r["kind"]: r for r in rejected}
    assert sorted(by_kind) == sorted(kinds + ["corrupt_record"])
    for k in kinds:
        r = by_kind[k]
        assert r["record"] == BAD[k][0], k
        assert r["reason"] and BAD[k][2] in r["reason"], (k, r["reason"])
        i = kinds.index(k)
        where = ("part-0.tfrecord", 150 + i) if i < 4 else ("part-1.tfrecord", i - 4)
        assert (os.path.basename(r["file"]), r["index"]) == where, (k, r)
    assert by_kind["corrupt_record"]["index"] == len(kinds) - 4 + 10

    values, _ = read_report(out)
    for (head, key), want in oracle(a, mask).items():
        got = values[(head, "", key)]
        tol = 1e-5 if key == "auc" else 1e-6 * abs(want)
        assert abs(got - want) <= tol, (head, key, got, want)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), n=st.integers(1, 120),
       bad=st.lists(st.tuples(st.sampled_from(sorted(BAD)), st.floats(0, 1)), max_size=12),
       batch_size=st.sampled_from([7, 50, 8192]))
def test_skip_equals_the_valid_records_alone(tmp_path_factory, seed, n, bad, batch_size):
    """Property: random valid data with random bad records mixed in gives,
    under skip, the report of the valid records alone, and counts that add up."""
    folder = tmp_path_factory.mktemp("prop")
    records = good_records(good_arrays(n, seed))
    mixed = list(records)
    for kind, where in bad:
        mixed.insert(int(where * len(mixed)), BAD[kind][0])
    write_records(folder / "mixed" / "data" / "part-0.tfrecord", mixed)
    write_records(folder / "clean" / "data" / "part-0.tfrecord", records)
    runs = {}
    for name in ("mixed", "clean"):
        config = make_config(str(folder / name), bad_examples="skip", batch_size=batch_size)
        runs[name] = run_pipeline(config, str(folder / name / "out"), beam_argv=RUNNER)
    counts = runs["mixed"]["counts"]
    assert counts["read"] == len(mixed) == counts["evaluated"] + counts["rejected"]
    assert counts["rejected"] == len(bad) and counts["evaluated"] == n
    mixed_values, _ = read_report(str(folder / "mixed" / "out"))
    clean_values, _ = read_report(str(folder / "clean" / "out"))
    assert sorted(mixed_values) == sorted(clean_values)
    for key, want in clean_values.items():
        got = mixed_values[key]
        assert (math.isnan(got) and math.isnan(want)) or abs(got - want) <= 1e-9 * abs(want) \
            + 1e-12, (key, got, want)


def test_messages_name_an_unnamed_head_by_its_entry(tmp_path):
    """One unnamed head: a bad label names `heads[0]` (it said `heads[None]`)."""
    records = good_records(good_arrays(20, 4))
    records.insert(5, valid(y_bin="maybe"))
    write_records(tmp_path / "data" / "part-0.tfrecord", records)
    config = make_config(str(tmp_path), model={"logits": "z_bin"}, slices=[[]],
                         heads=[dict(CONFIG["heads"][0], name=None)])
    with pytest.raises(BadRecordError) as info:
        run_pipeline(config, str(tmp_path / "out"), beam_argv=RUNNER)
    message = str(info.value)
    assert "heads[0].label 'y_bin'" in message and "None" not in message, message
