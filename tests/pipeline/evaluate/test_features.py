"""Reading parsed batches (pipeline.evaluate.features): rows, multi-hot labels."""
import numpy as np
import tensorflow as tf

from pipeline.evaluate.features import multi_hot, take_rows


def test_take_rows_keeps_values_equal_to_zero():
    """Rows of sparse, ragged and dense features, zeros and empty strings kept
    (a SparseTensor made back from a dense one would drop them)."""
    sparse = tf.SparseTensor(indices=[[0, 0], [1, 0], [1, 1], [2, 0]],
                             values=tf.constant([0, 2, 0, 1], tf.int64), dense_shape=[3, 2])
    words = tf.SparseTensor(indices=[[0, 0], [2, 0], [2, 1]],
                            values=tf.constant([b"a", b"", b"c"]), dense_shape=[3, 2])
    out = take_rows({"s": sparse, "w": words, "r": tf.ragged.constant([[0], [2, 0], []]),
                     "d": np.array([5, 6, 7])}, np.array([1, 2]))
    assert tf.sparse.to_dense(out["s"]).numpy().tolist() == [[2, 0], [1, 0]]
    assert out["s"].indices.numpy().tolist() == [[0, 0], [0, 1], [1, 0]]
    assert out["w"].values.numpy().tolist() == [b"", b"c"]
    assert out["w"].indices.numpy().tolist() == [[1, 0], [1, 1]]
    assert out["r"].to_list() == [[2, 0], []]
    assert out["d"].tolist() == [6, 7]


def test_multi_hot_of_var_length_ids():
    ids = tf.RaggedTensor.from_row_lengths(np.array([2, 0, 2, 1], np.int64), [2, 0, 2])
    np.testing.assert_array_equal(multi_hot(ids, 3), [[1, 0, 1], [0, 0, 0], [0, 1, 1]])
    # A duplicated id counts once, as tf.sparse.to_indicator does.
    dup = tf.RaggedTensor.from_row_lengths(np.array([1, 1], np.int64), [2])
    np.testing.assert_array_equal(multi_hot(dup, 2), [[0, 1]])
    # Out of range: left to the head, which names the bad value.
    assert multi_hot(tf.RaggedTensor.from_row_lengths(np.array([3], np.int64), [1]), 3) is None
    assert multi_hot(np.array([[0, 1]]), 2) is None
