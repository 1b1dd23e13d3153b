"""pipeline.io.writer: where it writes, and how it compresses."""
import numpy as np
import pytest

from pipeline.io.framing import iter_record_batches
from pipeline.io.writer import compression_for, write_examples


@pytest.mark.parametrize("path, compression, expected", [
    ("x.tfrecord", None, ""), ("x.tfrecord.gz", None, "GZIP"), ("x.TFRECORD.GZIP", None, "GZIP"),
    ("x.tfrecord.gz", "NONE", ""), ("x.tfrecord", "gzip", "GZIP")])
def test_compression_follows_the_suffix_unless_given(path, compression, expected):
    assert compression_for(path, compression) == expected


def test_a_file_uri_is_written_as_a_local_path(tmp_path):
    """file:// counts as local: its folder is made and the file lands there."""
    target = tmp_path / "new" / "folder" / "part.tfrecord.gz"
    n = write_examples("file://%s" % target, {"x": np.arange(5, dtype=np.float32)})
    assert n == 5 and target.is_file()
    assert sum(len(b.records) for b in iter_record_batches(str(target), 2)) == 5
