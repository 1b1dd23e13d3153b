"""pipeline.io.parse: batches of tf.train.Example -> arrays; bad records explained."""
import pickle

import numpy as np
import pytest
import tensorflow as tf
from tests.support.example_records import example

from pipeline.config import DTYPES, Feature
from pipeline.errors import BadRecordError
from pipeline.io.parse import LIST_FIELDS, TF_DTYPES, Parser, parse_batch, tf_feature_spec
from pipeline.io.batches import RecordBatch

SPEC = {
    "logits": Feature("logits", "float32", (3,)),
    "label": Feature("label", "int64"),
    "weight": Feature("weight", "float32", default=1.0),
    "pair": Feature("pair", "int64", (2,), default=(7, 8)),
    "fill": Feature("fill", "float32", (2,), default=0.5),
    "country": Feature("country", "string", default="??"),
    "tags": Feature("tags", "string", varlen=True),
    "ids": Feature("ids", "int64", varlen=True),
}


def good(i):
    """Record i; odd records leave out every optional feature."""
    values = dict(logits=[i * 1.0, -i * 1.0, 0.5], label=[i % 2])
    if i % 2 == 0:
        values.update(weight=[i + 0.25], pair=[i, -i], fill=[1.0, 2.0], country=["c%d" % i])
        # An empty value list has no type: TF rejects it for an int64 feature.
        if i % 3:
            values["tags"] = ["t%d" % j for j in range(i % 3)]
        if i % 4:
            values["ids"] = list(range(i % 4))
    return example(**values)


def test_values_match_what_was_written():
    n = 10
    out = parse_batch([good(i) for i in range(n)], SPEC)
    even = np.arange(n) % 2 == 0
    assert out["logits"].dtype == np.float32 and out["logits"].shape == (n, 3)
    np.testing.assert_array_equal(out["logits"][:, 0], np.arange(n))
    np.testing.assert_array_equal(out["label"], np.arange(n) % 2)
    assert out["label"].shape == (n,) and out["label"].dtype == np.int64
    np.testing.assert_array_equal(out["weight"], np.where(even, np.arange(n) + 0.25, 1.0))
    np.testing.assert_array_equal(out["pair"][1], [7, 8])        # default
    np.testing.assert_array_equal(out["pair"][4], [4, -4])
    np.testing.assert_array_equal(out["fill"][1], [0.5, 0.5])    # scalar default broadcast
    np.testing.assert_array_equal(out["fill"][2], [1.0, 2.0])
    assert out["country"].tolist()[:3] == [b"c0", b"??", b"c2"]
    assert isinstance(out["tags"], tf.RaggedTensor) and isinstance(out["ids"], tf.RaggedTensor)
    assert out["tags"].to_list()[:3] == [[], [], [b"t0", b"t1"]]
    assert out["ids"].to_list()[:7] == [[], [], [0, 1], [], [], [], [0, 1]]


def test_batch_and_list_forms_agree():
    records = [good(i) for i in range(6)]
    a = Parser(SPEC)(RecordBatch("f", 0, records))
    b = parse_batch(records, SPEC)
    for name in SPEC:
        if isinstance(a[name], tf.RaggedTensor):
            assert a[name].to_list() == b[name].to_list()
        else:
            np.testing.assert_array_equal(a[name], b[name])


def test_empty_batch():
    out = parse_batch([], SPEC)
    assert out["logits"].shape == (0, 3) and out["tags"].shape[0] == 0


def test_tf_feature_spec():
    spec = tf_feature_spec(SPEC)
    assert isinstance(spec["tags"], tf.io.RaggedFeature)
    assert spec["logits"].shape == [3] and spec["logits"].default_value is None
    np.testing.assert_array_equal(spec["fill"].default_value, [0.5, 0.5])
    assert spec["country"].default_value == b"??"


BAD = [
    # (record, feature named, words of the reason)
    (example(label=[1]), "logits", ["missing", "required", "float32 [3]"]),
    (example(logits=[1.0, 2.0], label=[1]), "logits", ["3 value(s)", "got 2", "[1.0, 2.0]"]),
    (example(logits=[1, 2, 3], label=[1]), "logits", ["float32 [3]", "int64"]),
    (example(logits=[1.0, 2.0, 3.0], label=[1.5]), "label", ["int64 scalar", "float"]),
    (example(logits=[1.0, 2.0, 3.0], label=[1], ids=["a"]), "ids", ["int64 var-length",
                                                                    "string"]),
    (b"\xff" * 20, None, ["not a serialized tf.train.Example"]),
    (b"this is not a proto", None, ["not a serialized tf.train.Example"]),
]


@pytest.mark.parametrize("record,feature,words", BAD)
def test_bad_record_names_file_record_feature(record, feature, words):
    records = [good(i) for i in range(300)]
    records[137] = record
    with pytest.raises(BadRecordError) as info:
        Parser(SPEC)(RecordBatch("gs://b/part-3.tfrecord", 1000, records))
    error = info.value
    assert error.path == "gs://b/part-3.tfrecord" and error.index == 1137
    assert error.feature == feature
    message = str(error)
    assert message.startswith("bad record 1137 of gs://b/part-3.tfrecord: ")
    if feature is not None:
        assert repr(feature) in message
    for word in words:
        assert word in message, (word, message)


def test_parse_valid_keeps_the_good_records():
    records = [good(i) for i in range(50)]
    records[3] = example(label=[1])
    records[40] = b"\x00garbage\xff"
    features, rows, rejected = Parser(SPEC).parse_valid(RecordBatch("f", 100, records))
    assert rows.tolist() == [i for i in range(50) if i not in (3, 40)]
    np.testing.assert_array_equal(features["logits"][:, 0], rows)
    assert [(e.index, e.feature) for e in rejected] == [(103, "logits"), (140, None)]
    features, rows, rejected = Parser(SPEC).parse_valid(RecordBatch("f", 0, records[:3]))
    assert rows.tolist() == [0, 1, 2] and rejected == []


def test_verdict_does_not_depend_on_the_batch():
    """A record TensorFlow accepts alone is kept whatever batch it is in."""
    lenient = b"\x01\x02garbage"  # TF's fast parser reads this as an empty Example
    spec = {"w": Feature("w", "float32", default=1.0)}
    parser = Parser(spec)
    alone = parser.parse([lenient])
    _, rows, rejected = parser.parse_valid(RecordBatch("f", 0, [lenient, example(w=[1.0, 2.0])]))
    assert alone["w"].tolist() == [1.0]
    assert rows.tolist() == [0] and [e.index for e in rejected] == [1]


def test_parser_pickles():
    parser = Parser(SPEC)
    parser(RecordBatch("f", 0, [good(0)]))  # traced
    again = pickle.loads(pickle.dumps(parser))
    assert again(RecordBatch("f", 0, [good(2)]))["label"].tolist() == [0]


def test_bad_record_error_survives_beam_reraise():
    """Beam re-raises as type(e)(e.args[0] + note, *e.args[1:]): context must survive."""
    error = BadRecordError("bad record 3 of f: x", "f", 3, "logits", "x")
    again = type(error)(error.args[0] + " [while running 'Parse']", *error.args[1:])
    assert (again.path, again.index, again.feature) == ("f", 3, "logits")
    assert str(again) == "bad record 3 of f: x [while running 'Parse']"


def test_every_config_dtype_has_a_tensorflow_dtype_and_a_list_field():
    assert set(TF_DTYPES) == set(LIST_FIELDS) == set(DTYPES)
