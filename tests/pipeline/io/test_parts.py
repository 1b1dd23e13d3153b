"""pipeline.io.parts: large uncompressed files cut into record ranges whose
batches are the whole file's batches, record for record, on both readers."""
import gzip

import numpy as np
import pytest
from tests.support.example_records import example, write_tfrecords

from pipeline.config import Feature
from pipeline.errors import CorruptRecordError
from pipeline.io import parts
from pipeline.io.batches import CorruptRecord
from pipeline.io.fast_path import iter_parsed_batches
from pipeline.io.framing import iter_record_batches, record_offsets
from pipeline.io.parts import FilePart, cut, split_files
from pipeline.io.reader import _ReadFiles

FEATURES = {"id": Feature("id", "int64"), "pad": Feature("pad", "string")}


def _records(n, seed=0):
    """Examples of uneven sizes (a padding string of 0-200 bytes)."""
    rng = np.random.default_rng(seed)
    return [example(id=[i], pad=["x" * int(k)]) for i, k in enumerate(rng.integers(0, 200, n))]


def _oracle_offsets(records):
    """Byte offset of every record, from the framing's definition: 8-byte
    length, 4-byte length crc, the data, 4-byte data crc."""
    sizes = np.array([len(r) + 16 for r in records])
    return np.concatenate([[0], np.cumsum(sizes)])


@pytest.fixture()
def big(tmp_path, monkeypatch):
    monkeypatch.setenv(parts.MIN_PART_ENV, "10000")  # small files count as large here
    records = _records(3001)
    return write_tfrecords(tmp_path / "big.tfrecord", records), records


def test_record_offsets_follow_the_lengths(big):
    path, records = big
    want = _oracle_offsets(records)
    offsets, n = record_offsets(path, 100)
    assert n == len(records)
    assert offsets == [int(v) for v in want[:-1:100]] + [int(want[-1])]
    assert record_offsets(path)[1] is None  # no counting when no offsets are asked for


def test_record_offsets_refuse_lengths_that_miss_the_end(tmp_path):
    records = _records(50)
    path = write_tfrecords(tmp_path / "cut.tfrecord", records)
    data = open(path, "rb").read()
    (tmp_path / "cut.tfrecord").write_bytes(data[:-3])
    assert record_offsets(path, 10) is None


def test_cut_balances_bytes_in_whole_groups():
    # 10 groups of 5 records; the first group is huge
    offsets = [0, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900]
    runs = cut(offsets, 48, 5, 2)  # the last group holds 3 records
    assert runs == [(0, 5, 0, 1000), (5, 43, 1000, 900)]
    runs = cut(offsets, 48, 5, 3)
    # shares of 1900 bytes end near 633 and 1267: the boundaries at 1000 and 1300
    assert [r[0] for r in runs] == [0, 5, 20] and sum(r[1] for r in runs) == 48
    assert sum(r[3] for r in runs) == 1900
    assert cut([0, 100], 4, 5, 4) == [(0, 4, 0, 100)]  # 4 records, one group: one run


def test_split_files_tiles_each_file_exactly(big, tmp_path):
    path, records = big
    got = list(split_files([path], 4, 100))
    assert all(isinstance(p, FilePart) for p in got) and len(got) == 4
    want = _oracle_offsets(records)
    start = 0
    for p in got:
        assert p.start == start and p.start % 100 == 0
        assert p.offset == want[p.start] and p.size == want[p.start + p.count] - p.offset
        start += p.count
    assert start == len(records)
    sizes = [p.size for p in got]
    assert max(sizes) < 1.2 * min(sizes)  # balanced by bytes


def test_split_files_leaves_enough_files_gzip_and_broken_files_whole(big, tmp_path):
    path, records = big
    assert list(split_files([path], 1, 100)) == [path]
    assert list(split_files([path, path + "x"], 2, 100)) == [path, path + "x"]
    gz = str(tmp_path / "big.tfrecord.gz")
    with gzip.open(gz, "wb") as f:
        f.write(open(path, "rb").read())
    (tmp_path / "broken.tfrecord").write_bytes(open(path, "rb").read()[:-1])
    broken = str(tmp_path / "broken.tfrecord")
    assert list(split_files([gz, broken], 8, 100)) == [gz, broken]


def _read(work, features=None, skip_corrupt=False):
    """What the read's DoFn emits for `work` (a path or a FilePart)."""
    fn = _ReadFiles(100, skip_corrupt=skip_corrupt, features=features)
    fn.setup()
    return list(fn.process(work))


def _batches(work, features=None):
    return _read(work, features)


@pytest.mark.parametrize("features", [None, FEATURES], ids=["python-reader", "fast-path"])
def test_the_parts_batches_are_the_whole_files_batches(big, features):
    path, records = big
    whole = _batches(path, features)
    pieces = [b for p in split_files([path], 3, 100) for b in _batches(p, features)]
    assert [b.start for b in pieces] == [b.start for b in whole]
    assert [b.record_list() for b in pieces] == [b.record_list() for b in whole]
    if features is not None:
        for a, b in zip(pieces, whole):
            np.testing.assert_array_equal(a.features["id"], b.features["id"])
            assert (a.records.offset, a.records.size) == (b.records.offset, b.records.size)


def test_a_corrupt_record_in_a_part_is_named_as_in_the_whole_file(big, tmp_path):
    path, records = big
    offsets = _oracle_offsets(records)
    data = bytearray(open(path, "rb").read())
    data[int(offsets[2500]) + 20] ^= 0xFF  # record 2500's data: its data checksum fails
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(bytes(data))
    got = list(split_files([str(bad)], 3, 100))
    last = got[-1]
    assert last.start <= 2500 < last.start + last.count
    for features in (None, FEATURES):
        with pytest.raises(CorruptRecordError, match=r"record 2500 \(byte offset %d\)"
                           % offsets[2500]):
            _batches(last, features)
        assert _batches(got[0], features)  # the other parts read as before
    skipped = _read(last, FEATURES, skip_corrupt=True)
    corrupt = [b for b in skipped if isinstance(b, CorruptRecord)]
    assert [c.index for c in corrupt] == [2500]
    kept = [i for b in skipped if not isinstance(b, CorruptRecord)
            for i in range(len(b.records)) for i in [b.index(i)]]
    assert kept == [i for i in range(last.start, last.start + last.count) if i != 2500]


def test_iter_record_batches_from_an_offset_to_a_stop(big, tmp_path):
    path, records = big
    offsets = _oracle_offsets(records)
    got = list(iter_record_batches(path, 64, start_record=1234, offset=int(offsets[1234]),
                                   stop_record=2000, chunk_bytes=4096))
    assert [r for b in got for r in b.record_list()] == records[1234:2000]
    assert got[0].start == 1234 and all(len(b.records) == 64 for b in got[:-1])
    gz = str(tmp_path / "big.tfrecord.gz")
    with gzip.open(gz, "wb") as f:
        f.write(open(path, "rb").read())
    with pytest.raises(ValueError, match="gzip"):
        list(iter_record_batches(gz, 64, offset=10))


def test_work_parts():
    from pipeline.runtime.workers import work_parts
    assert work_parts(None) == 1
    assert work_parts({"asked": 2, "ran": 1}) == 1
    assert work_parts({"asked": 2, "ran": 2}) == 4
    assert work_parts({"asked": 3, "ran": 3}) == 6


def test_remote_files_are_read_whole(big):
    path, _ = big
    assert list(split_files(["gs://b/x.tfrecord", path], 8, 100))[0] == "gs://b/x.tfrecord"
