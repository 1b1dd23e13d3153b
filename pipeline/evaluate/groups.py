"""Which replicate group each example belongs to: a hash of the seed and
the record's identity, never of the batch, bundle or worker.

The identity is the record's file name without its directory and its
position in the file, or, with `metrics.confidence_intervals.example_id`,
that feature's value. The same data then gets the same groups, so the same
intervals, on any runner, batch size and worker count (and after a move to
another folder or bucket). Whole-batch numpy (strings through TensorFlow's
FarmHash fingerprint); no Python per example.
"""
import hashlib
import posixpath

import numpy as np
import tensorflow as tf

from heads.intervals import num_groups, splitmix64
from pipeline.config import clip
from pipeline.errors import ConfigError
from pipeline.evaluate.features import as_column, config_feature, to_sparse


class Groups:
    """Group ids of a run's examples (`metrics.confidence_intervals`)."""

    def __init__(self, intervals):
        self.example_id = intervals.example_id
        self.count = num_groups(intervals.method, intervals.replicates)
        self._seed = np.uint64(intervals.seed)

    def _name_key(self, text: bytes) -> np.uint64:
        digest = hashlib.blake2b(text, digest_size=8, person=b"headeval-groups").digest()
        return np.uint64(int.from_bytes(digest, "little")) ^ splitmix64(self._seed)

    def of_records(self, path: str, positions: np.ndarray) -> np.ndarray:
        """Groups of the records at `positions` of the file `path`."""
        name = posixpath.basename(str(path).replace("\\", "/")).encode()
        key = self._name_key(name)
        return self._reduce(splitmix64(key ^ splitmix64(np.asarray(positions, np.uint64))))

    def of_ids(self, features: dict) -> np.ndarray:
        """Groups of a batch's examples from their example id feature."""
        key = "metrics.confidence_intervals.example_id"
        column = config_feature(features, self.example_id, key)
        if to_sparse(column) is not None:
            raise ConfigError("%s: feature %s is var-length; name a feature with one value per "
                              "example" % (key, clip(repr(self.example_id))), None, key)
        column = as_column(np.asarray(column))
        if column.dtype.kind in "OSU":
            hashed = tf.strings.to_hash_bucket_fast(column.astype(object), (1 << 63) - 1)
            values = hashed.numpy().astype(np.uint64)
        else:
            values = column.astype(np.int64).view(np.uint64)
        return self._reduce(splitmix64(values ^ self._name_key(b"example_id")))

    def __call__(self, features: dict, identity) -> np.ndarray:
        """Groups of a batch: from the example ids when configured, else from
        `identity` = (file path, positions of the batch's examples in it)."""
        if self.example_id is not None:
            return self.of_ids(features)
        if identity is None:
            raise ValueError("confidence intervals need each example's record identity "
                             "(file, position) or an example_id feature")
        return self.of_records(*identity)

    def _reduce(self, hashed):
        # The top 32 bits, scaled: an unbiased-enough map onto [0, count).
        return ((hashed >> np.uint64(32)) * np.uint64(self.count) >> np.uint64(32)).astype(
            np.int64)
