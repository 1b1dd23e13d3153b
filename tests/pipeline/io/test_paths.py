"""pipeline.io.paths: what counts as a local path, everywhere it is asked."""
import pytest

from pipeline.io.paths import is_local


@pytest.mark.parametrize("path, local", [
    ("/data/x.tfrecord", True), ("data/*.gz", True), ("file:///data/x", True),
    ("gs://b/x", False), ("GS://b/x", False), ("s3://b/x", False), ("fakegs://b/x", False)])
def test_is_local_path(path, local):
    """Moved from tests/pipeline/runtime/test_dataflow.py: the Dataflow check
    refuses the paths this calls local."""
    assert is_local(path) is local
