"""pipeline.io.fast_path: the tf.data fast path gives what the Python reader and
Parser give, and hands over to them, from the right record, at any problem."""
import zlib

import numpy as np
import pytest
import tensorflow as tf
from tests.support.example_records import example, tfrecord_header, write_tfrecords

from pipeline.config import Feature
from pipeline.errors import CorruptRecordError
from pipeline.io.parse import Parser
from pipeline.io.batches import CorruptRecord
from pipeline.io.framing import iter_record_batches, lengths_reach_the_end
from pipeline.io.fast_path import fast_path_applies, iter_parsed_batches

FEATURES = {"id": Feature("id", "int64"), "x": Feature("x", "float32", (2,)),
            "tags": Feature("tags", "string", varlen=True)}
N = 1000


def _records(n=N):
    return [example(id=[i], x=[float(i), -float(i)], tags=["t%d" % j for j in range(i % 4)])
            for i in range(n)]


@pytest.fixture()
def plain(tmp_path):
    records = _records()
    return write_tfrecords(tmp_path / "part.tfrecord", records), records


def _record_list(batches):
    return [r for b in batches if not isinstance(b, CorruptRecord) for r in b.record_list()]


def test_fast_batches_hold_the_records_and_the_parser_features(plain):
    path, records = plain
    assert fast_path_applies(path)
    batches = list(iter_parsed_batches(path, 300, FEATURES))
    assert [b.start for b in batches] == [0, 300, 600, 900]
    assert all(b.features is not None for b in batches)
    assert _record_list(batches) == records
    parser = Parser(FEATURES)
    for b in batches:
        want = parser.parse(records[b.start:b.start + len(b.records)])
        np.testing.assert_array_equal(b.features["id"], want["id"])
        np.testing.assert_array_equal(b.features["x"], want["x"])
        assert b.features["tags"].to_list() == want["tags"].to_list()
        assert b.record(0) == records[b.start]


def test_fast_batches_read_their_records_back_from_the_file_only_when_asked(plain, tmp_path):
    path, records = plain
    copy = tmp_path / "copy.tfrecord"
    copy.write_bytes(open(path, "rb").read())
    batches = list(iter_parsed_batches(str(copy), 300, FEATURES))
    # Each batch knows its place: together they tile the file exactly.
    places = [(b.records.offset, b.records.size) for b in batches]
    assert places[0][0] == 0 and sum(size for _, size in places) == copy.stat().st_size
    assert all(o + s == nxt for (o, s), (nxt, _) in zip(places, places[1:]))
    assert [len(b.records) for b in batches] == [300, 300, 300, 100]
    assert batches[3].record(99) == records[999]  # read now, from byte offset places[3][0]
    # A file rewritten under a batch not yet read back is an error, not wrong bytes.
    copy.write_bytes(open(path, "rb").read()[:places[1][0] + 100])
    with pytest.raises(CorruptRecordError, match="changed while it was read"):
        batches[1].record(0)
    assert batches[3].record(0) == records[900]  # already read: kept


def test_one_string_per_example_features_come_factorized_as_slicing_numbers_them(tmp_path):
    colors = ["red", "green", "blue", "green", "é"]
    records = [example(id=[i], color=[colors[i % 5] * (1 + i % 3)]) for i in range(700)]
    path = write_tfrecords(tmp_path / "part.tfrecord", records)
    spec = {"id": Feature("id", "int64"), "color": Feature("color", "string"),
            "tags": Feature("tags", "string", varlen=True)}
    parser = Parser(spec)
    batches = list(iter_parsed_batches(path, 300, spec))
    assert [sorted(b.factorized) for b in batches] == [["color"]] * 3  # not id, not varlen tags
    for b in batches:
        want = parser.parse(records[b.start:b.start + len(b.records)])["color"]
        values, index = b.factorized["color"]
        assert list(values) == sorted(set(want.tolist()))  # sorted, distinct, as bytes
        assert index.dtype == np.int32
        assert values[index].tolist() == want.tolist() == b.features["color"].tolist()


def test_a_remote_path_takes_the_fast_path_where_tensorflow_has_its_filesystem(
        caplog, monkeypatch):
    from pipeline.io import fast_path
    monkeypatch.setattr(fast_path, "_told", set())
    assert fast_path_applies("gs://bucket/part.tfrecord", registered=["", "file", "gs"])
    with caplog.at_level("INFO", logger="pipeline.io.fast_path"):
        assert not fast_path_applies("s3://bucket/a.tfrecord", registered=["", "file", "gs"])
        assert not fast_path_applies("s3://bucket/b.tfrecord", registered=["", "file", "gs"])
    assert [r.getMessage() for r in caplog.records] == [  # once per scheme and process
        "TensorFlow has no filesystem for s3:// here (it has file://, gs://): s3:// files are "
        "read by the Python reader, slower than TensorFlow's"]


@pytest.mark.parametrize("gzip", [False, True])
def test_a_file_on_tensorflows_own_filesystem_is_read_and_read_back(gzip):
    """ram:// (TensorFlow's in-memory filesystem) stands for gs:// here: the
    file is sized, walked and read back through tf.io.gfile."""
    records = _records(700)
    path = "ram://fast-path-test/part.tfrecord" + (".gz" if gzip else "")
    write_tfrecords(path, records, gzip=gzip)
    assert fast_path_applies(path)
    batches = list(iter_parsed_batches(path, 300, FEATURES))
    assert [b.features is not None for b in batches] == [True, True, True]
    assert batches[2].record(99) == records[699] and batches[0].record(1) == records[1]
    assert _record_list(batches) == records
    tf.io.gfile.remove(path)


def _gzip_bytes(data, level=6):
    """`data` as one gzip member, with zlib (not the code under test)."""
    co = zlib.compressobj(level, zlib.DEFLATED, 31)
    return co.compress(data) + co.flush()


@pytest.fixture()
def gz(tmp_path):
    records = _records()
    return write_tfrecords(tmp_path / "part.tfrecord.gz", records, gzip=True), records


def test_gzip_files_take_the_fast_path_and_read_their_records_back(gz):
    path, records = gz
    assert fast_path_applies(path)
    batches = list(iter_parsed_batches(path, 300, FEATURES))
    assert [b.start for b in batches] == [0, 300, 600, 900]
    assert all(b.features is not None for b in batches)
    parser = Parser(FEATURES)
    for b in batches:
        want = parser.parse(records[b.start:b.start + len(b.records)])
        np.testing.assert_array_equal(b.features["id"], want["id"])
        assert b.features["tags"].to_list() == want["tags"].to_list()
    # Read back in any order: a later batch, an earlier one, then all.
    assert batches[3].record(5) == records[905]
    assert batches[1].record(0) == records[300]
    assert _record_list(batches) == records


def _slow_and_fast(path, batch_size=200, skip=False):
    """(items, error message) of the Python reader and of the fast path."""
    out = []
    for read in (lambda: iter_record_batches(path, batch_size, skip_corrupt=skip),
                 lambda: iter_parsed_batches(path, batch_size, FEATURES, skip_corrupt=skip)):
        items, error = [], None
        try:
            for item in read():
                items.append(item)
        except CorruptRecordError as e:
            error = (str(e), e.path, e.index)
        out.append((items, error))
    return out


def _indices(items):
    """Every item's place in the file, in order: record indices, and
    ("corrupt", index, reason) for a CorruptRecord."""
    return [("corrupt", b.index, b.reason) if isinstance(b, CorruptRecord) else b.index(i)
            for b in items for i in range(1 if isinstance(b, CorruptRecord) else len(b.records))]


@pytest.mark.parametrize("case", ["inflate", "cut_trailer", "flushed", "trailing", "crc"])
@pytest.mark.parametrize("skip", [False, True])
def test_a_damaged_gzip_file_gives_the_python_readers_error_records_and_counts(
        tmp_path, case, skip):
    records = _records(3000)
    raw = open(write_tfrecords(tmp_path / "raw.tfrecord", records), "rb").read()
    if case == "crc":  # one record's data fails its checksum, the gzip stream is sound
        at = sum(16 + len(r) for r in records[:1700]) + 12
        raw = raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:]
    data = _gzip_bytes(raw)
    if case == "inflate":   # a flipped byte mid-stream
        data = data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + \
            data[len(data) // 2 + 1:]
    elif case == "cut_trailer":  # TensorFlow alone reads every record of this
        data = data[:-3]
    elif case == "flushed":  # a writer that flushed and died: TensorFlow reads a part
        co = zlib.compressobj(6, zlib.DEFLATED, 31)
        data = co.compress(raw[:len(raw) * 2 // 3]) + co.flush(zlib.Z_SYNC_FLUSH)
    elif case == "trailing":
        data += b"not gzip"
    path = tmp_path / ("bad-%s.tfrecord.gz" % case)
    path.write_bytes(data)
    (slow, slow_error), (fast, fast_error) = _slow_and_fast(str(path), skip=skip)
    assert fast_error == slow_error
    if slow_error is None:  # the same records and corrupt records (in another order)
        assert sorted(_indices(fast), key=str) == sorted(_indices(slow), key=str)
        assert _record_list(fast) == _record_list(slow)
    else:  # the run fails either way; the fast path may hand out whole batches before
        # Every record in file order up to where it failed, but for the
        # corrupt ones it reported (skip mode; the same as the Python reader's).
        n = len(_record_list(fast))
        corrupt = [i for i in _indices(fast) if not isinstance(i, int)]
        reported = {c[1] for c in corrupt}
        expected = [i for i in range(n + len(reported)) if i not in reported][:n]
        assert [i for i in _indices(fast) if isinstance(i, int)] == expected
        assert _record_list(fast) == [records[i] for i in expected]
        assert corrupt == [i for i in _indices(slow) if not isinstance(i, int)][:len(corrupt)]
    if case == "crc":
        assert (slow_error is None) == skip
        assert [b.index for b in fast if isinstance(b, CorruptRecord)] == ([1700] if skip else [])
    else:
        assert slow_error is not None and "gzip" in slow_error[0]


def test_gzip_members_one_after_another_read_whole_on_the_fast_path(tmp_path):
    records = _records(2000)
    raw = open(write_tfrecords(tmp_path / "raw.tfrecord", records), "rb").read()
    at = sum(16 + len(r) for r in records[:1234])
    path = tmp_path / "two.tfrecord.gz"
    path.write_bytes(_gzip_bytes(raw[:at]) + _gzip_bytes(raw[at:]))
    batches = list(iter_parsed_batches(str(path), 300, FEATURES))
    assert _record_list(batches) == records
    assert [b.index(i) for b in batches for i in range(len(b.records))] == list(range(2000))


def test_a_file_uri_is_a_local_file(plain):
    """file:// counts as local: the fast path reads it, as a plain path."""
    path, records = plain
    assert fast_path_applies("file://" + path)
    batches = list(iter_parsed_batches("file://" + path, 300, FEATURES))
    assert _record_list(batches) == records
    assert {b.path for b in batches} == {path}


def test_a_corrupt_record_hands_over_at_its_batch_and_is_skipped_as_without_fast_path(
        plain, tmp_path):
    path, records = plain
    data = bytearray(open(path, "rb").read())
    # Flip one data byte of record 450 (its length stays intact).
    offset = sum(16 + len(r) for r in records[:450]) + 12
    data[offset] ^= 0xFF
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(bytes(data))
    fast = list(iter_parsed_batches(str(bad), 200, FEATURES, skip_corrupt=True))
    slow = list(iter_record_batches(str(bad), 200, skip_corrupt=True))
    # Batches before the one holding the bad record came parsed; the rest as the slow path.
    assert [b.features is not None for b in fast if not isinstance(b, CorruptRecord)][:2] == \
        [True, True]
    assert [b.index for b in fast if isinstance(b, CorruptRecord)] == [450]
    assert _record_list(fast) == _record_list(slow) == records[:450] + records[451:]
    indices = [b.index(i) for b in fast if not isinstance(b, CorruptRecord)
               for i in range(len(b.records))]
    assert indices == [i for i in range(N) if i != 450]
    with pytest.raises(CorruptRecordError, match="record 450 .* data checksum"):
        list(iter_parsed_batches(str(bad), 200, FEATURES))


def test_trailing_bytes_that_tensorflow_ignores_still_fail(plain, tmp_path):
    path, _ = plain
    bad = tmp_path / "tail.tfrecord"
    bad.write_bytes(open(path, "rb").read() + b"\x01\x02")
    # TensorFlow's reader alone reads all N records and says nothing.
    assert sum(int(b.shape[0]) for b in tf.data.TFRecordDataset(str(bad)).batch(512)) == N
    with pytest.raises(CorruptRecordError, match="truncated .* record %d" % N):
        list(iter_parsed_batches(str(bad), 300, FEATURES))


@pytest.mark.parametrize("chunk_bytes", [8, 100, 4096, 1 << 24])
def test_the_walk_over_the_record_lengths(plain, tmp_path, chunk_bytes):
    """True exactly when the lengths end at the file's end, whatever the
    chunk size (a chunk smaller than a record: its data is skipped)."""
    path, records = plain
    data = open(path, "rb").read()
    at = sum(16 + len(r) for r in records[:10])  # where record 10 starts
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    assert lengths_reach_the_end(str(empty), chunk_bytes)
    assert lengths_reach_the_end(path, chunk_bytes)
    cases = {
        "cut": data[:-1],                                   # last record 1 byte short
        "tail2": data + b"\x01\x02",                        # less than a length after the end
        "tail12": data + tfrecord_header(0),                 # a header without its footer
        "far": data + tfrecord_header(2 ** 62) + b"x" * 100,
        "wrap": data + tfrecord_header(2 ** 64 - 1) + b"x" * 100,
        # record 10 claims the rest of the file, 4 bytes short of its footer
        "mid": data[:at] + tfrecord_header(len(data) - at) + data[at:],
    }
    for name, content in cases.items():
        bad = tmp_path / (name + ".tfrecord")
        bad.write_bytes(content)
        assert not lengths_reach_the_end(str(bad), chunk_bytes), name


@pytest.mark.parametrize("skip", [False, True])
def test_a_length_past_the_end_of_the_file_is_the_truncated_file_error(plain, tmp_path, skip):
    """A record whose length (with a valid checksum) runs past the end of
    the file: the Python reader's error for a truncated file, in both modes.
    (A length far past the end crashed TensorFlow's reader, SIGSEGV: that
    one is tested in a subprocess, tests/e2e/test_bad_input.py.)"""
    path, records = plain
    bad = tmp_path / "past.tfrecord"
    bad.write_bytes(open(path, "rb").read() + tfrecord_header(101) + b"x" * 100)
    offset = sum(16 + len(r) for r in records)
    with pytest.raises(CorruptRecordError) as info:
        list(iter_parsed_batches(str(bad), 300, FEATURES, skip_corrupt=skip))
    assert str(info.value) == ("truncated TFRecord file %s: record %d at byte offset %d needs "
                               "117 bytes but only 112 remain" % (bad, N, offset))
    assert (info.value.path, info.value.index) == (str(bad), N)


def test_a_batch_that_does_not_parse_goes_to_the_parser_from_its_first_record(tmp_path):
    records = _records()
    records[650] = example(id=["not an int"], x=[1.0, 2.0])
    path = write_tfrecords(tmp_path / "part.tfrecord", records)
    batches = list(iter_parsed_batches(path, 300, FEATURES))
    assert [(b.start, b.features is not None) for b in batches] == \
        [(0, True), (300, True), (600, False), (900, False)]
    assert _record_list(batches) == records


@pytest.mark.parametrize("start", [0, 1, 299, 300, 999, 1000, 5000])
def test_python_reader_starts_at_a_record(plain, start):
    path, records = plain
    batches = list(iter_record_batches(path, 300, chunk_bytes=4096, start_record=start))
    assert _record_list(batches) == records[start:]
    assert [b.start for b in batches] == list(range(start, N, 300))
