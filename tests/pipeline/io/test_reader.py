"""pipeline.io.reader: TFRecord files -> RecordBatches, every record exactly once."""
import gzip
import os
import zlib

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to
from tests.support.example_records import example, tfrecord_header, write_tfrecords
from tests.support.fake_object_store import use_root

from pipeline.errors import CorruptRecordError, NoMatchError
from pipeline.io.reader import ReadBatches
from pipeline.io.batches import RecordBatch
from pipeline.io.framing import iter_record_batches
from pipeline.io.files import match_files
from pipeline.errors import UnreadableInputError


def records(prefix, n):
    """n distinct records of different lengths."""
    return [example(id=["%s-%d" % (prefix, i)], pad=[1.0] * (i % 7)) for i in range(n)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """{path: records}: plain, .gz and .gzip files, one empty, one single-record."""
    folder = tmp_path_factory.mktemp("tfrecords")
    spec = {"part-0.tfrecord": (2500, False), "part-1.tfrecord.gz": (1001, True),
            "part-2.tfrecord.gzip": (1, True), "part-3.tfrecord": (0, False)}
    out = {}
    for name, (n, gz) in spec.items():
        rs = records(name, n)
        out[write_tfrecords(folder / name, rs, gzip=gz)] = rs
    return out


def _flatten(batch):
    return [(batch.path, batch.start + i, r) for i, r in enumerate(batch.records)]


def test_pipeline_reads_every_record_once(files):
    folder = os.path.dirname(next(iter(files)))
    expected = [(p, i, r) for p, rs in files.items() for i, r in enumerate(rs)]
    with beam.Pipeline(runner=FnApiRunner()) as p:
        batches = p | ReadBatches(os.path.join(folder, "part-*"), batch_size=300)
        assert_that(batches | beam.FlatMap(_flatten), equal_to(expected), label="records")
        sizes = batches | beam.Map(lambda b: (isinstance(b, RecordBatch), len(b.records) <= 300,
                                              len(b.records) > 0))
        assert_that(sizes | beam.Distinct(), equal_to([(True, True, True)]), label="sizes")


@pytest.mark.parametrize("batch_size,chunk_bytes", [(1, 7), (300, 1 << 20), (5000, 64)])
def test_batches_and_chunks(files, batch_size, chunk_bytes):
    for path, expected in files.items():
        batches = list(iter_record_batches(path, batch_size, chunk_bytes=chunk_bytes))
        assert [r for b in batches for r in b.records] == expected
        assert [b.start for b in batches] == list(range(0, len(expected), batch_size))
        assert all(b.path == path and len(b.records) <= batch_size for b in batches)


def test_truncated_file_names_file_and_record(files, tmp_path):
    source = next(p for p in files if p.endswith("part-0.tfrecord"))
    data = open(source, "rb").read()
    bad = tmp_path / "truncated.tfrecord"
    bad.write_bytes(data[:-10])
    with pytest.raises(CorruptRecordError) as info:
        list(iter_record_batches(str(bad), 100))
    assert str(bad) in str(info.value) and "truncated" in str(info.value)
    assert info.value.index == 2499 and "record 2499" in str(info.value)
    assert info.value.path == str(bad)


def test_truncated_header(files, tmp_path):
    data = open(next(iter(files)), "rb").read()
    bad = tmp_path / "header.tfrecord"
    bad.write_bytes(data + b"\x05\x00")  # 2 bytes of a 12-byte header after 2500 records
    with pytest.raises(CorruptRecordError, match="record 2500 .*12-byte header"):
        list(iter_record_batches(str(bad), 100))


def _whole_records(records, n_bytes):
    """How many of `records`, framed, fit whole in the first n_bytes."""
    ends = np.cumsum([16 + len(r) for r in records])
    return int(np.searchsorted(ends, n_bytes, side="right"))


def test_truncated_gzip(files, tmp_path):
    source = next(p for p in files if p.endswith(".gz"))
    data = open(source, "rb").read()[:-20]
    bad = tmp_path / "truncated.tfrecord.gz"
    bad.write_bytes(data)
    with pytest.raises(CorruptRecordError, match="truncated or corrupt gzip file .*truncated"):
        list(iter_record_batches(str(bad), 100))
    # The error names the first record the stream did not hold whole (it
    # once named the record where the failing 16 MB read began: record 0).
    with pytest.raises(CorruptRecordError) as info:
        list(iter_record_batches(str(bad), 100, chunk_bytes=1 << 20))
    readable = zlib.decompressobj(31).decompress(data)  # zlib alone: all it can inflate
    assert info.value.index == _whole_records(files[source], len(readable)) > 900


def test_gzip_with_trailing_data_says_so(files, tmp_path):
    """Bytes after the end of the gzip stream that are not a gzip member:
    the file is refused in both modes, with an error that says so and how
    many records the stream held (it once blamed record 0, byte 0)."""
    source = next(p for p in files if p.endswith(".gz"))
    bad = tmp_path / "tail.tfrecord.gz"
    bad.write_bytes(open(source, "rb").read() + b"garbage after the stream")
    for skip in (False, True):
        with pytest.raises(CorruptRecordError) as info:
            list(iter_record_batches(str(bad), 100, skip_corrupt=skip))
        message = str(info.value)
        assert message.startswith("corrupt gzip file %s: trailing data after the gzip stream "
                                  "(not a gzip member" % bad), message
        assert "held 1001 records (" in message and info.value.index == 1001, message
        assert "record 0" not in message and "byte offset 0" not in message


def test_gzip_members_one_after_another_are_one_stream(files, tmp_path):
    """Concatenated gzip members are a valid gzip file (`cat a.gz b.gz`);
    zero padding after the stream is ignored, as gzip(1) does."""
    source = next(p for p in files if p.endswith(".gz"))
    one = open(source, "rb").read()
    both = tmp_path / "both.tfrecord.gz"
    both.write_bytes(one + gzip.compress(b"") + one + b"\x00" * 10)
    records = [r for b in iter_record_batches(str(both), 300) for r in b.records]
    assert records == files[source] * 2


def test_a_length_past_the_end_of_a_local_file_fails_without_reading_the_rest(tmp_path,
                                                                             monkeypatch):
    """Record 3 claims 2**62 bytes (its length checksum valid) in a 4 MB file:
    truncated, said at once; the reader once read and buffered the rest of
    the file, a chunk at a time, to find out."""
    from pipeline.io import framing

    rs = records("t", 3)
    path = write_tfrecords(tmp_path / "long.tfrecord", rs)
    with open(path, "ab") as f:
        f.write(tfrecord_header(2 ** 62) + b"\x07" * (4 << 20))
    offset = sum(16 + len(r) for r in rs)
    read = []
    real_open = framing.open_records

    def counting_open(p):
        stream, raw = real_open(p)
        return _Counting(stream, read), raw
    monkeypatch.setattr(framing, "open_records", counting_open)
    with pytest.raises(CorruptRecordError) as info:
        list(iter_record_batches(path, 100, chunk_bytes=4096))
    assert str(info.value) == (
        "truncated TFRecord file %s: record 3 at byte offset %d needs %d bytes but only %d "
        "remain" % (path, offset, 2 ** 62 + 16, os.path.getsize(path) - offset))
    assert sum(read) <= 4096


class _Counting:
    """A file's stream that counts the bytes read through it."""

    def __init__(self, stream, counts):
        self._stream, self._counts = stream, counts

    def read(self, n):
        data = self._stream.read(n)
        self._counts.append(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self._stream, name)


# Record 0 is bytes [0, 8) length, [8, 12) its crc, then data: flip a byte of each.
@pytest.mark.parametrize("offset,what", [(12 + 5, "data"), (3, "length")])
def test_checksum_mismatch(files, tmp_path, offset, what):
    source = next(p for p in files if p.endswith("part-0.tfrecord"))
    data = bytearray(open(source, "rb").read())
    assert 12 + len(files[source][0]) > offset
    data[offset] ^= 0xFF
    bad = tmp_path / "flipped.tfrecord"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptRecordError, match="record 0 .*fails its %s checksum" % what):
        list(iter_record_batches(str(bad), 100))


def test_corrupt_file_fails_the_pipeline(tmp_path):
    rs = records("x", 50)
    path = write_tfrecords(tmp_path / "x.tfrecord", rs)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-3])
    with pytest.raises(CorruptRecordError) as info:
        with beam.Pipeline(runner=FnApiRunner()) as p:
            p | ReadBatches(path, batch_size=10)
    assert path in str(info.value) and "record 49" in str(info.value)


def test_no_match_names_the_pattern(tmp_path):
    pattern = str(tmp_path / "nothing-*.tfrecord")
    with pytest.raises(NoMatchError, match="nothing-\\*.tfrecord.*matches no files"):
        match_files(pattern)
    with pytest.raises(NoMatchError, match="matches no files"):
        with beam.Pipeline(runner=FnApiRunner()) as p:
            p | ReadBatches(pattern)
    with pytest.raises(NoMatchError, match="matches no files"):
        match_files(str(tmp_path / "no-such-folder" / "*.tfrecord"))


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="batch_size"):
        ReadBatches("x", batch_size=0)
    with pytest.raises(ValueError, match="pattern"):
        ReadBatches("")


def test_a_broken_link_among_the_shards_is_an_error_naming_it(tmp_path):
    """A shard that is a link to nothing was once left out silently (exit 0,
    half the records): now the read fails, naming it."""
    write_tfrecords(tmp_path / "part-0.tfrecord", records("a", 3))
    os.symlink(tmp_path / "gone.tfrecord", tmp_path / "part-1.tfrecord")
    with pytest.raises(UnreadableInputError, match="part-1.tfrecord, a link to .*gone.tfrecord"):
        match_files(str(tmp_path / "part-*.tfrecord"))
    with pytest.raises(UnreadableInputError, match="part-1.tfrecord"):
        with beam.Pipeline(runner=FnApiRunner()) as p:
            p | ReadBatches(str(tmp_path / "part-*.tfrecord"))


def test_a_fifo_among_the_shards_is_refused_without_waiting(tmp_path):
    """Reading a FIFO blocks until a writer comes: it is refused instead."""
    write_tfrecords(tmp_path / "part-0.tfrecord", records("a", 3))
    os.mkfifo(tmp_path / "part-1.tfrecord")
    with pytest.raises(UnreadableInputError, match="part-1.tfrecord, which is not a regular file"):
        match_files(str(tmp_path / "part-*.tfrecord"))


def test_a_gs_pattern_without_cloud_storage_fails_at_once_saying_so(monkeypatch):
    """Without a connection to Cloud Storage, Beam's client looked for
    credentials, retried the listing for 120 s, and the pattern 'matched no
    files'. Here the client's own emulator setting points it at a closed
    port: the match fails at once, saying what could not be reached."""
    import time

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1")
    start = time.monotonic()
    with pytest.raises(UnreadableInputError) as info:
        match_files("gs://bucket/data/*.tfrecord")
    assert time.monotonic() - start < 5
    assert str(info.value) == (
        "input.pattern 'gs://bucket/data/*.tfrecord' cannot be matched: Cloud Storage could not "
        "be reached (the storage emulator (STORAGE_EMULATOR_HOST) at 127.0.0.1:1: Connection "
        "refused); check the network connection")


def test_the_cloud_storage_probe_goes_where_the_client_goes(monkeypatch):
    from pipeline.io.files import _gcs_endpoint

    for name in ("STORAGE_EMULATOR_HOST", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert _gcs_endpoint() == ("storage.googleapis.com", 443, "")
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    assert _gcs_endpoint() == ("proxy.internal", 3128, "the https proxy at")
    monkeypatch.setenv("no_proxy", ".googleapis.com")
    assert _gcs_endpoint() == ("storage.googleapis.com", 443, "")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "localhost:9023")
    assert _gcs_endpoint()[:2] == ("localhost", 9023)


def test_folder_pattern_is_explained(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(NoMatchError, match="matches the folder .*match its files"):
        match_files(str(tmp_path / "data"))


def test_object_store_paths(tmp_path):
    """gs://-like paths: matched by prefix, read through FileSystems."""
    use_root(tmp_path)
    rs = records("o", 120)
    (tmp_path / "bucket" / "data").mkdir(parents=True)
    write_tfrecords(tmp_path / "bucket" / "data" / "a.tfrecord", rs[:70])
    write_tfrecords(tmp_path / "bucket" / "data" / "b.tfrecord.gz", rs[70:], gzip=True)
    pattern = "fakegs://bucket/data/*.tfrecord*"
    assert match_files(pattern) == ["fakegs://bucket/data/a.tfrecord",
                                    "fakegs://bucket/data/b.tfrecord.gz"]
    expected = [("fakegs://bucket/data/a.tfrecord", i, r) for i, r in enumerate(rs[:70])] + \
        [("fakegs://bucket/data/b.tfrecord.gz", i, r) for i, r in enumerate(rs[70:])]
    with beam.Pipeline(runner=FnApiRunner()) as p:
        batches = p | ReadBatches(pattern, batch_size=32)
        assert_that(batches | beam.FlatMap(_flatten), equal_to(expected))


def test_read_output_coder_round_trips_and_estimates_without_pickling(files):
    # Beam samples element sizes through the PCollection's coder; the read's
    # coder must still round-trip both kinds of element, and its estimate
    # must be near the real size (here: within 2x of the pickled bytes).
    import pickle

    from pipeline.config import Feature
    from pipeline.io.batches import CorruptRecord, ReadItem, ReadItemCoder
    from pipeline.io import fast_path

    plain = next(p for p in files if p.endswith("part-0.tfrecord"))
    features = {"id": Feature("id", "string")}
    parsed = next(fast_path.iter_parsed_batches(plain, 1000, features))
    listed = next(iter_record_batches(plain, 1000))
    corrupt = CorruptRecord(plain, 7, "data checksum mismatch", b"\x00" * 40)
    coder = ReadItemCoder()
    for item in (parsed, listed, corrupt):
        assert isinstance(item, ReadItem)
        back = coder.decode(coder.encode(item))
        assert type(back) is type(item) and back.path == item.path
        pickled = len(pickle.dumps(item, pickle.HIGHEST_PROTOCOL))
        assert pickled / 2 <= coder.estimate_size(item) <= pickled * 2, (item, pickled)
    assert coder.decode(coder.encode(parsed)).record_list() == parsed.record_list() == \
        listed.records
    assert coder.decode(coder.encode(listed)).records == listed.records
    with beam.Pipeline(runner=FnApiRunner()) as p:
        read = p | ReadBatches(plain, 1000)
        assert read.element_type is ReadItem
        assert isinstance(beam.coders.registry.get_coder(read.element_type), ReadItemCoder)
