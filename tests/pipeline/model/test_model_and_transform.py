"""Model inference and tf.Transform, end to end.

A fixture trains tiny real Keras 3 models in seconds, saves them as a
`model.export()` SavedModel and as a `.keras` file, and writes raw
TFRecords; `python -m pipeline run` evaluates them (`model.saved_model`,
`transform.tft_output`, `label_vocabulary: {tft: NAME}` / `{compute: true}`),
and the report is checked row by row against the scikit-learn / numpy
oracle of tests/e2e/test_e2e_sklearn.py, computed from the model's OWN outputs:
the test calls the Keras model object directly on the same arrays. The
tf.Transform test runs a real `tft_beam.AnalyzeAndTransformDataset` job and
checks its vocabularies and z-scores against numpy (collections.Counter and
mean / std of the test's own training arrays) before using them.

Vocabulary order (measured, tf.Transform 1.21): descending frequency, ties
by descending UTF-8 bytes ('b' before 'a').
"""
import json
import os
import shutil
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf
import yaml

from tests.e2e.test_e2e_sklearn import (compare, expected_binary, expected_multi_class,
                              expected_multi_label, read_metrics, required_keys, with_counts)

COUNTRIES = ("US", "FR", "JP")
ANIMALS = ("cat", "dog", "eel")


def _quiet_keras():
    import keras
    keras.utils.set_random_seed(7)
    return keras


def hand_vocabulary(values):
    """tf.Transform's order, by hand: count desc, then UTF-8 bytes desc."""
    counts = Counter(values)
    return sorted(counts, key=lambda w: (counts[w], w.encode("utf-8")), reverse=True)


def write_config(folder, config):
    path = os.path.join(folder, "eval.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    return path


def cli_error(proc):
    """The CLI's one-line error: the last line of stderr, and no traceback
    (the CLI drops Beam's log of a worker's HeadevalError)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("headeval run: error")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return errors


def run_json(output):
    with open(os.path.join(output, "run.json")) as f:
        return json.load(f)


# -- a tiny two-output model on numeric features -----------------------------------

@pytest.fixture(scope="module")
def model_data(tmp_path_factory):
    """Raw records (two files, one gzip) and a two-output Keras model trained
    on them: `bin` (1 logit) and `mc` (3 logits), inputs `x` [3] and `age` [1]."""
    from pipeline.io.writer import take, write_examples
    keras = _quiet_keras()

    folder = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(4)
    n = 2400
    x = rng.normal(size=(n, 3)).astype(np.float32)
    age = rng.normal(40, 12, n).astype(np.float32)
    country = rng.choice(np.array(COUNTRIES), n, p=[0.5, 0.3, 0.2])
    weight = rng.uniform(0.5, 2.0, n).astype(np.float32)
    weight_missing = rng.random(n) < 0.05
    score = x[:, 0] - 0.7 * x[:, 1] + 0.05 * (age - 40) + rng.normal(0, 0.8, n)
    y_bin = (score > 0.2).astype(np.int64)
    y_mc = np.digitize(x[:, 2] + 0.5 * x[:, 0] + rng.normal(0, 0.6, n), [-0.5, 0.6])

    xi = keras.Input((3,), name="x")
    ai = keras.Input((1,), name="age")
    h = keras.layers.Concatenate()([xi, keras.layers.Rescaling(1 / 12.0, -40 / 12.0)(ai)])
    h = keras.layers.Dense(8, activation="tanh")(h)
    model = keras.Model({"x": xi, "age": ai},
                        {"bin": keras.layers.Dense(1, name="bin")(h),
                         "mc": keras.layers.Dense(3, name="mc")(h)})
    model.compile(keras.optimizers.Adam(0.03),
                  {"bin": keras.losses.BinaryCrossentropy(from_logits=True),
                   "mc": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    model.fit({"x": x, "age": age[:, None]}, {"bin": y_bin, "mc": y_mc}, epochs=3,
              batch_size=128, verbose=0)
    saved_model = str(folder / "saved_model")
    model.export(saved_model, verbose=False)
    keras_file = str(folder / "model.keras")
    model.save(keras_file)

    out = model({"x": x, "age": age[:, None]}, training=False)  # the oracle's logits
    z_bin = out["bin"].numpy()[:, 0]
    z_mc = out["mc"].numpy()
    columns = {"x": x, "age": age, "country": country,
               "weight": [None if m else [float(w)] for m, w in zip(weight_missing, weight)],
               "y": y_bin, "animal": np.array(ANIMALS)[y_mc]}
    write_examples(folder / "data" / "part-0.tfrecord", take(columns, 0, 1000))
    write_examples(folder / "data" / "part-1.tfrecord.gz", take(columns, 1000))
    features = {"x": {"dtype": "float32", "shape": [3]}, "age": {"dtype": "float32"},
                "country": {"dtype": "string"}, "weight": {"dtype": "float32", "default": 1.0},
                "y": {"dtype": "int64"}, "animal": {"dtype": "string"}}
    return dict(folder=str(folder), n=n, saved_model=saved_model, keras_file=keras_file,
                model=model, z_bin=z_bin, z_mc=z_mc, y_bin=y_bin, y_mc=y_mc, country=country,
                weight=np.where(weight_missing, np.float32(1), weight).astype(np.float64),
                features=features, x=x, age=age)


def _slices(d):
    return [("", np.ones(d["n"], bool))] + [("country=%s" % c, d["country"] == c)
                                            for c in COUNTRIES]


def _check(rows, expected, required, slice_names):
    failures, unchecked = compare(rows, expected, required, slice_names)
    print("rows: %d; not checked (no oracle): %s" % (len(rows), sorted(unchecked)))
    assert not failures, "%d mismatches:\n%s" % (len(failures), "\n".join(failures[:40]))


@pytest.mark.e2e
def test_saved_model_two_heads_match_sklearn(model_data, headeval_cli, tmp_path):
    """A Keras 3 `model.export()` SavedModel with two outputs feeds a binary
    and a multi-class head (weights, thresholds, string labels, slices).
    The same model saved as a .keras file is the baseline (issue 18: a
    second ModelRunner on the same batches): its rows equal the oracle too."""
    d = model_data
    config = write_config(str(tmp_path), {
        "input": {"pattern": os.path.join(d["folder"], "data", "part-*"),
                  "features": d["features"]},
        "model": {"saved_model": d["saved_model"], "output": {"bin": "bin", "mc": "mc"}},
        "baseline": {"saved_model": d["keras_file"], "output": {"bin": "bin", "mc": "mc"},
                     "batch_size": 256},
        "heads": [
            {"name": "bin", "type": "binary", "label": "y", "weight_column": "weight",
             "thresholds": [0.3, 0.5]},
            {"name": "mc", "type": "multi_class", "n_classes": 3, "label": "animal",
             "label_vocabulary": list(ANIMALS), "weight_column": "weight"}],
        "slices": [[], ["country"]],
        "batch_size": 700,
    })
    out = tmp_path / "report"
    proc = headeval_cli.run("run", config, "--output", out, headeval_cli.runner_flag)
    assert "runs on /CPU:0" in proc.stderr  # the device is logged

    expected = {}
    for name, m in _slices(d):
        w = d["weight"][m]
        expected[("bin", name)] = with_counts(
            expected_binary(d["y_bin"][m], d["z_bin"][m], w, (0.3, 0.5)), w)
        expected[("mc", name)] = with_counts(
            expected_multi_class(d["y_mc"][m], d["z_mc"][m], w, ANIMALS), w)
    for model in ("candidate", "baseline"):
        _check(read_metrics(out, model), expected,
               {"bin": required_keys("binary", (0.3, 0.5)), "mc": required_keys("multi_class")},
               [s for s, _ in _slices(d)])
    counts = run_json(out)["counts"]
    assert counts["read"] == counts["evaluated"] == d["n"] and counts["rejected"] == 0


@pytest.mark.e2e
def test_keras_file_one_output_matches_sklearn(model_data, headeval_cli, tmp_path):
    """The same model as a `.keras` file, one head on its `mc` output, model
    calls of 333 examples (model.batch_size) inside record batches of 1000."""
    d = model_data
    config = write_config(str(tmp_path), {
        "input": {"pattern": os.path.join(d["folder"], "data", "part-*"),
                  "features": d["features"]},
        "model": {"saved_model": d["keras_file"], "output": "mc", "device": "cpu",
                  "batch_size": 333},
        "heads": [{"type": "multi_class", "n_classes": 3, "label": "animal",
                   "label_vocabulary": list(ANIMALS)}],
        "batch_size": 1000,
    })
    out = tmp_path / "report"
    headeval_cli.run("run", config, "--output", out, headeval_cli.runner_flag)
    w = np.ones(d["n"])
    expected = {("", ""): with_counts(expected_multi_class(d["y_mc"], d["z_mc"], w, ANIMALS), w)}
    _check(read_metrics(out), expected, {"": required_keys("multi_class")}, [""])


def test_model_runner_errors(model_data):
    """Bad model outputs and inputs are ModelErrors (HeadevalErrors: the CLI
    prints one line) naming the output or input."""
    from pipeline.errors import HeadevalError
    from pipeline.errors import ModelError
    from pipeline.model.runner import ModelRunner

    assert issubclass(ModelError, HeadevalError) and issubclass(ModelError, ValueError)
    d = model_data
    features = {"x": d["x"][:10], "age": d["age"][:10]}
    for path in (d["saved_model"], d["keras_file"]):
        runner = ModelRunner(path, outputs={"a": "bin", "b": "mc"}, device="cpu")
        logits = runner(features, 10)
        np.testing.assert_allclose(logits["a"][:, 0], d["z_bin"][:10], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(logits["b"], d["z_mc"][:10], rtol=1e-5, atol=1e-6)
        with pytest.raises(ModelError, match=r"output 'mc' .*has shape \[batch, 3\]; the "
                                             r"heads need \[batch, 1\]"):
            ModelRunner(path, outputs="mc", device="cpu", logits_dimensions=1)(features, 10)
        with pytest.raises(ModelError, match=r"has no output 'logits'.*'bin', 'mc'"):
            ModelRunner(path, outputs="logits", device="cpu")
        with pytest.raises(ModelError, match=r"has outputs \['bin', 'mc'\]: name the one"):
            ModelRunner(path, device="cpu")
        with pytest.raises(ModelError, match=r"needs input\(s\) \['age'\]"):
            runner({"x": d["x"][:10]}, 10)
    with pytest.raises(ModelError, match="cannot load SavedModel"):
        ModelRunner(d["folder"], device="cpu")
    with pytest.raises(ModelError, match="no signature 'predict'"):
        ModelRunner(d["saved_model"], outputs="bin", signature="predict", device="cpu")
    with pytest.raises(ModelError, match="model.device must be one of"):
        ModelRunner(d["saved_model"], outputs="bin", device="tpu")


@pytest.mark.e2e
def test_bad_output_shape_is_one_line_error(model_data, headeval_cli, tmp_path):
    """A model whose output is [batch, 1, 3] fails the run with one line
    naming the output and the shape it should have; no report is left."""
    d = model_data
    keras = _quiet_keras()
    xi = keras.Input((3,), name="x")
    model = keras.Model(xi, keras.layers.Reshape((1, 3))(keras.layers.Dense(3)(xi)))
    path = str(tmp_path / "rank3")
    model.export(path, verbose=False)
    config = write_config(str(tmp_path), {
        "input": {"pattern": os.path.join(d["folder"], "data", "part-0.tfrecord"),
                  "features": d["features"]},
        "model": {"saved_model": path},
        "heads": [{"type": "multi_class", "n_classes": 3, "label": "animal",
                   "label_vocabulary": list(ANIMALS)}]})
    out = tmp_path / "report"
    proc = headeval_cli.run("run", config, "--output", out, headeval_cli.runner_flag,
                            check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = cli_error(proc)
    assert "output 'output_0' has shape [batch, 1, 3]; logits must be [batch] or " \
           "[batch, logits_dimension]" in errors[0], errors[0]
    assert not out.exists()


@pytest.mark.e2e
@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")),
                    reason="a GPU is visible: device: gpu would run")
def test_device_gpu_without_gpu_fails_clearly(model_data, headeval_cli, tmp_path):
    d = model_data
    config = write_config(str(tmp_path), {
        "input": {"pattern": os.path.join(d["folder"], "data", "part-0.tfrecord"),
                  "features": d["features"]},
        "model": {"saved_model": d["saved_model"], "output": "bin", "device": "gpu"},
        "heads": [{"type": "binary", "label": "y"}]})
    out = tmp_path / "report"
    proc = headeval_cli.run("run", config, "--output", out, headeval_cli.runner_flag,
                            check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = cli_error(proc)
    assert "model.device is 'gpu' but TensorFlow sees no GPU" in errors[0]
    assert not out.exists()


# -- a real tf.Transform job, then a model on its outputs -----------------------------

COLORS = ("red", "green", "blue", "teal")


def _raw_animals(rng, n):
    color = rng.choice(np.array(COLORS), n, p=[0.4, 0.3, 0.2, 0.1])
    age = rng.normal(40, 12, n).astype(np.float32)
    logit = (np.stack([color == c for c in COLORS], 1)
             @ np.array([[1.5, 0, 0], [0, 1.2, 0], [0, 0, 1.0], [0.5, 0.5, 0]])
             + np.outer((age - 40) / 12, [0.8, -0.4, 0.2]) + rng.gumbel(size=(n, 3)))
    animal = np.array(["cat", "dog", "eel"])[logit.argmax(1)]
    return color, age, animal


@pytest.fixture(scope="module")
def tft_data(tmp_path_factory):
    """A tf.Transform job over raw training data (vocabulary of `color`,
    z-score of `age`, vocabulary `animal` of the labels), a Keras model
    trained on its outputs, and raw evaluation records."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    from pipeline.io.writer import write_examples
    keras = _quiet_keras()

    folder = tmp_path_factory.mktemp("tft")
    rng = np.random.default_rng(11)
    color, age, animal = _raw_animals(rng, 2000)
    raw_spec = {"color": tf.io.FixedLenFeature([], tf.string),
                "age": tf.io.FixedLenFeature([], tf.float32),
                "animal": tf.io.FixedLenFeature([], tf.string)}
    raw_metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_spec))

    def preprocessing_fn(inputs):
        tft.vocabulary(inputs["animal"], vocab_filename="animal")
        return {"color_id": tft.compute_and_apply_vocabulary(inputs["color"],
                                                             vocab_filename="color"),
                "age_z": tft.scale_to_z_score(inputs["age"])}

    tft_output = str(folder / "tft_output")
    instances = [{"color": c.encode(), "age": float(a), "animal": s.encode()}
                 for c, a, s in zip(color, age, animal)]
    with beam.Pipeline(runner="FnApiRunner") as p:
        with tft_beam.Context(temp_dir=str(folder / "tft_tmp")):
            _, transform_fn = ((p | beam.Create(instances), raw_metadata)
                               | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
            _ = transform_fn | tft_beam.WriteTransformFn(tft_output)
    # WriteTransformFn writes no raw metadata (docs/models.md): the pipeline needs it.
    metadata_io.write_metadata(raw_metadata, os.path.join(
        tft_output, tft.TFTransformOutput.RAW_METADATA_DIR))

    output = tft.TFTransformOutput(tft_output)
    train = {k: v.numpy() for k, v in output.transform_raw_features(
        {"color": tf.constant(color.astype(object)), "age": tf.constant(age)}).items()}
    animal_vocab = hand_vocabulary(animal.tolist())
    ci = keras.Input((), dtype="int64", name="color_id")
    ai = keras.Input((), name="age_z")
    h = keras.layers.Concatenate()([keras.layers.Embedding(len(COLORS), 3)(ci),
                                    keras.layers.Reshape((1,))(ai)])
    model = keras.Model({"color_id": ci, "age_z": ai}, keras.layers.Dense(3)(h))
    model.compile(keras.optimizers.Adam(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    y_train = np.array([animal_vocab.index(a) for a in animal])
    model.fit(train, y_train, epochs=3, batch_size=128, verbose=0)
    saved_model = str(folder / "saved_model")
    model.export(saved_model, verbose=False)

    e_color, e_age, e_animal = _raw_animals(rng, 1500)
    write_examples(folder / "data" / "eval.tfrecord.gz",
                   {"color": e_color, "age": e_age, "animal": e_animal})
    return dict(folder=str(folder), tft_output=tft_output, saved_model=saved_model,
                model=model, train=(color, age, animal), eval=(e_color, e_age, e_animal),
                output=output)


@pytest.mark.e2e
def test_tf_transform_and_tft_label_vocabulary(tft_data, headeval_cli, tmp_path):
    """Raw records -> the saved tf.Transform graph -> the SavedModel; labels
    through `label_vocabulary: {tft: animal}`; sliced on a raw feature."""
    d = tft_data
    color, age, animal = d["train"]
    # The tf.Transform output, checked against numpy on the training arrays.
    output = d["output"]
    animal_vocab = hand_vocabulary(animal.tolist())
    color_vocab = hand_vocabulary(color.tolist())
    assert [w.decode() for w in output.vocabulary_by_name("animal")] == animal_vocab
    assert [w.decode() for w in output.vocabulary_by_name("color")] == color_vocab
    e_color, e_age, e_animal = d["eval"]
    transformed = {k: v.numpy() for k, v in output.transform_raw_features(
        {"color": tf.constant(e_color.astype(object)), "age": tf.constant(e_age)}).items()}
    a64 = age.astype(np.float64)
    np.testing.assert_allclose(transformed["age_z"], (e_age - a64.mean()) / a64.std(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(transformed["color_id"],
                                  [color_vocab.index(c) for c in e_color])

    config = write_config(str(tmp_path), {
        "input": {"pattern": os.path.join(d["folder"], "data", "*.tfrecord.gz"),
                  "features": {"color": {"dtype": "string"}, "age": {"dtype": "float32"},
                               "animal": {"dtype": "string"}}},
        "model": {"saved_model": d["saved_model"]},
        "transform": {"tft_output": d["tft_output"]},
        "heads": [{"type": "multi_class", "n_classes": 3, "label": "animal",
                   "label_vocabulary": {"tft": "animal"}}],
        "slices": [[], ["color"]],
    })
    out = tmp_path / "report"
    headeval_cli.run("run", config, "--output", out, headeval_cli.runner_flag)

    z = d["model"](transformed, training=False).numpy()  # the model's own outputs
    y = np.array([animal_vocab.index(a) for a in e_animal])
    slices = [("", np.ones(len(y), bool))] + [("color=%s" % c, e_color == c) for c in COLORS]
    expected = {("", name): with_counts(expected_multi_class(y[m], z[m], np.ones(m.sum()),
                                                             animal_vocab), np.ones(m.sum()))
                for name, m in slices}
    _check(read_metrics(out), expected, {"": required_keys("multi_class")},
           [s for s, _ in slices])
    assert run_json(out)["config"]["heads"][0]["label_vocabulary"] == animal_vocab


def test_transform_without_raw_metadata_is_clear(tft_data, tmp_path):
    from pipeline.errors import HeadevalError
    from pipeline.model.transform import Transform

    copy = tmp_path / "no_metadata"
    shutil.copytree(tft_data["tft_output"], copy)
    shutil.rmtree(copy / "metadata")
    with pytest.raises(HeadevalError, match="has no raw metadata.*WriteTransformFn does not"):
        Transform(str(copy))


# -- label_vocabulary: {compute: true} -------------------------------------------------

MC_WORDS = ("ant", "bee", "cat", "dog", "eel")
ML_WORDS = ("red", "green", "blue", "pink")


@pytest.fixture(scope="module")
def compute_data(tmp_path_factory):
    """String labels with known frequencies (ties included) and logits
    correlated with the hand-computed class order."""
    from pipeline.io.writer import write_examples
    folder = tmp_path_factory.mktemp("compute")
    rng = np.random.default_rng(5)
    # Exact counts with two ties (bee = cat, ant = eel), in shuffled order.
    mc = rng.permutation(np.repeat(np.array(MC_WORDS), [200, 500, 500, 400, 200]))
    n = len(mc)
    ml = [rng.choice(np.array(ML_WORDS), rng.integers(0, 3), replace=False,
                     p=[0.4, 0.3, 0.2, 0.1]).tolist() for _ in range(n)]
    mc_vocab = hand_vocabulary(mc.tolist())
    ml_vocab = hand_vocabulary([w for row in ml for w in row])
    y_mc = np.array([mc_vocab.index(w) for w in mc])
    y_ml = np.zeros((n, len(ML_WORDS)), bool)
    for i, row in enumerate(ml):
        y_ml[i, [ml_vocab.index(w) for w in row]] = True
    z_mc = (rng.normal(0, 1.2, (n, len(MC_WORDS))) + 1.5 * np.eye(len(MC_WORDS))[y_mc]) \
        .astype(np.float32)
    z_ml = (rng.normal(-0.8, 1.2, y_ml.shape) + 1.7 * y_ml).astype(np.float32)
    write_examples(folder / "data" / "labels.tfrecord", {
        "mc": mc, "ml": ml, "mc_logits": z_mc, "ml_logits": z_ml})
    config = {
        "input": {"pattern": os.path.join(str(folder), "data", "*.tfrecord"),
                  "features": {"mc": {"dtype": "string"},
                               "ml": {"dtype": "string", "varlen": True},
                               "mc_logits": {"dtype": "float32", "shape": [len(MC_WORDS)]},
                               "ml_logits": {"dtype": "float32", "shape": [len(ML_WORDS)]}}},
        "model": {"logits": {"animals": "mc_logits", "colors": "ml_logits"}},
        "heads": [
            {"name": "animals", "type": "multi_class", "n_classes": len(MC_WORDS),
             "label": "mc", "label_vocabulary": {"compute": True}},
            {"name": "colors", "type": "multi_label", "n_classes": len(ML_WORDS),
             "label": "ml", "label_vocabulary": {"compute": True}, "thresholds": [0.5],
             "classes_for_class_based_metrics": ["pink", "red"]}],
    }
    return dict(folder=str(folder), config=config, mc=mc, ml=ml, mc_vocab=mc_vocab,
                ml_vocab=ml_vocab, y_mc=y_mc, y_ml=y_ml, z_mc=z_mc, z_ml=z_ml, n=n)


@pytest.mark.e2e
def test_compute_label_vocabulary(compute_data, headeval_cli, tmp_path):
    """Two heads' vocabularies computed by a tf.Transform analyzer pass:
    written to vocabularies/<head>.txt in frequency order, and used (the
    per-class rows are named by the hand-computed order)."""
    d = compute_data
    counts = Counter(d["mc"].tolist())
    assert len(set(counts.values())) < len(counts), "the data should hold a frequency tie"
    config = write_config(str(tmp_path), d["config"])
    out = tmp_path / "report"
    headeval_cli.run("run", config, "--output", out, headeval_cli.runner_flag)

    for head, vocab in (("animals", d["mc_vocab"]), ("colors", d["ml_vocab"])):
        with open(out / "vocabularies" / ("%s.txt" % head)) as f:
            assert f.read().splitlines() == vocab
    assert not any(name.startswith("_") for name in os.listdir(out)), os.listdir(out)
    heads = run_json(out)["config"]["heads"]
    assert [h["label_vocabulary"] for h in heads] == [d["mc_vocab"], d["ml_vocab"]]

    w = np.ones(d["n"])
    ml_classes = [d["ml_vocab"].index("pink"), d["ml_vocab"].index("red")]
    expected = {
        ("animals", ""): with_counts(expected_multi_class(d["y_mc"], d["z_mc"], w,
                                                          d["mc_vocab"]), w),
        ("colors", ""): with_counts(expected_multi_label(d["y_ml"], d["z_ml"], w, (0.5,),
                                                         ml_classes, d["ml_vocab"]), w),
    }
    required = {"animals": required_keys("multi_class"),
                "colors": required_keys("multi_label", (0.5,), ["pink", "red"])}
    rows = read_metrics(out)
    _check(rows, expected, required, [""])
    per_class = {r["class"] for r in rows if r["head"] == "animals" and r["metric"] == "auc"}
    assert per_class == set(MC_WORDS)


def test_computed_vocabulary_size_must_match_n_classes(compute_data, tmp_path):
    """n_classes 4 but five distinct labels: a ConfigError naming the key."""
    from pipeline.config import parse_config
    from pipeline.errors import ConfigError
    from pipeline.run import resolve_vocabularies

    data = json.loads(json.dumps(compute_data["config"]))
    data["heads"] = [dict(data["heads"][0], n_classes=4)]
    data["model"] = {"logits": "ml_logits"}
    config = parse_config(data, file="eval.yaml")
    with pytest.raises(ConfigError, match=r"heads\[0\]\.label_vocabulary\.compute.*has 5 "
                                          r"entries.*the head needs 4 \(heads\[0\]\.n_classes\)"):
        resolve_vocabularies(config, str(tmp_path / "report"), ["--runner=FnApiRunner"])
    assert not (tmp_path / "report" / "_tft_vocabulary").exists()


def test_compute_needs_a_string_label(compute_data, tmp_path):
    from pipeline.config import parse_config
    from pipeline.errors import ConfigError
    from pipeline.run import resolve_vocabularies

    data = json.loads(json.dumps(compute_data["config"]))
    data["input"]["features"]["id"] = {"dtype": "int64", "default": 0}
    data["heads"] = [dict(data["heads"][0], label="id")]
    data["model"] = {"logits": "mc_logits"}
    config = parse_config(data, file="eval.yaml")
    with pytest.raises(ConfigError, match=r"heads\[0\]\.label_vocabulary\.compute.*int64"):
        resolve_vocabularies(config, str(tmp_path), ["--runner=FnApiRunner"])
