"""pipeline.config: YAML -> validated Config; every error names file and key path."""
import json
import os

import pytest
import yaml
from tests.support.fake_object_store import use_root

from pipeline.config import (Config, ConfigError, Feature, SliceSpec, VocabularyRef, load_config,
                             parse_config)

BASE = """
input:
  pattern: data/eval-*.tfrecord.gz
  features:
    logits:  {dtype: float32, shape: [3]}
    score:   {dtype: float32}
    tags:    {dtype: string, varlen: true}
    weight:  {dtype: float32, default: 1.0}
    country: {dtype: string}
    y:       {dtype: int64}
    y_str:   {dtype: string}
model:
  logits: {tags: logits, clicked: score}
heads:
  - name: tags
    type: multi_label
    n_classes: 3
    label: tags
    label_vocabulary: [a, b, c]
    weight_column: weight
    thresholds: [0.3, 0.5, 0.7]
    classes_for_class_based_metrics: [a, 2]
  - name: clicked
    type: binary
    label: y
    thresholds: [0.5]
head_weights: [1.0, 0.5]
slices: [[], [country]]
metrics: {auc: {method: histogram, buckets: 1000}}
bad_examples: skip
output: out/report
"""


def write(tmp_path, text, name="eval.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def edit(text_or_data, change):
    """The BASE config with `change(data)` applied, as YAML."""
    data = yaml.safe_load(BASE) if text_or_data is None else text_or_data
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def test_full_config(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert isinstance(config, Config)
    assert config.input.pattern == str(tmp_path / "data" / "eval-*.tfrecord.gz")
    assert config.output == str(tmp_path / "out" / "report")
    assert config.input.features["logits"] == Feature("logits", "float32", (3,))
    assert config.input.features["weight"].default == 1.0
    assert config.input.features["tags"].varlen
    tags, clicked = config.heads
    assert tags.label_vocabulary == ("a", "b", "c")
    assert tags.thresholds == (0.3, 0.5, 0.7)
    assert tags.classes_for_class_based_metrics == ("a", 2)
    assert clicked.type == "binary" and clicked.loss_reduction == "sum_over_batch_size"
    assert config.model.logits == {"tags": "logits", "clicked": "score"}
    assert config.head_weights == (1.0, 0.5)
    assert config.slices == (SliceSpec(), SliceSpec(("country",)))
    assert config.metrics.auc.method == "histogram" and config.metrics.auc.buckets == 1000
    assert config.bad_examples == "skip" and config.batch_size == 8192
    assert config.source == str(tmp_path / "eval.yaml")


def test_to_dict_round_trips_and_is_json(tmp_path):
    config = load_config(write(tmp_path, BASE))
    data = config.to_dict()
    json.dumps(data)
    again = parse_config(data)
    assert again == Config(**{**config.__dict__, "source": None})


def test_defaults_and_overall_slice_added(tmp_path):
    text = """
input: {pattern: /abs/x.tfrecord, features: {z: {dtype: float32}, y: {dtype: int64}}}
model: {logits: z}
heads: [{type: binary, label: y}]
slices: [[y]]
"""
    config = load_config(write(tmp_path, text))
    assert config.input.pattern == "/abs/x.tfrecord"
    assert config.slices == (SliceSpec(), SliceSpec(("y",)))
    assert config.heads[0].name is None
    assert config.bad_examples == "fail" and config.output is None
    assert config.metrics.auc.method == "histogram"


def test_uris_are_left_alone(tmp_path):
    data = yaml.safe_load(BASE)
    data["input"]["pattern"] = "gs://bucket/eval-*.tfrecord"
    data["output"] = "gs://bucket/report"
    config = load_config(write(tmp_path, yaml.safe_dump(data)))
    assert config.input.pattern == "gs://bucket/eval-*.tfrecord"
    assert config.output == "gs://bucket/report"


def test_vocabulary_file_relative_to_config(tmp_path):
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "tags.txt").write_text("a\nb\nc\n")
    text = edit(None, lambda d: d["heads"][0].update(label_vocabulary={"file": "vocab/tags.txt"}))
    config = load_config(write(tmp_path, text))
    assert config.heads[0].label_vocabulary == ("a", "b", "c")


def test_a_vocabulary_file_with_a_byte_order_mark(tmp_path):
    """An editor's UTF-8 BOM is not part of the first word (it once made a
    third of the examples 'not in label_vocabulary' under skip)."""
    (tmp_path / "tags.txt").write_bytes(b"\xef\xbb\xbfa\nb\nc\n")
    text = edit(None, lambda d: d["heads"][0].update(label_vocabulary={"file": "tags.txt"}))
    config = load_config(write(tmp_path, text))
    assert config.heads[0].label_vocabulary == ("a", "b", "c")


def test_vocabulary_refs(tmp_path):
    def change(d):
        d["transform"] = {"tft_output": "tft"}
        d["heads"][0]["label_vocabulary"] = {"tft": "tags_vocab"}
        d["heads"][0]["classes_for_class_based_metrics"] = ["a"]
        d["heads"][1]["label_vocabulary"] = {"compute": True}
        d["heads"][1]["label"] = "y_str"
    config = load_config(write(tmp_path, edit(None, change)))
    assert config.transform.tft_output == str(tmp_path / "tft")
    assert config.heads[0].label_vocabulary == VocabularyRef(tft="tags_vocab")
    assert config.heads[1].label_vocabulary == VocabularyRef(compute=True)
    assert config.to_dict()["heads"][1]["label_vocabulary"] == {"compute": True}


def test_transform_outputs_may_be_named(tmp_path):
    """With a transform, a label the raw spec lacks may be one of its outputs."""
    def change(d):
        d["transform"] = {"tft_output": "tft"}
        d["heads"][1]["label"] = "y_id"
    config = load_config(write(tmp_path, edit(None, change)))
    assert ("heads[1].label", "y_id") in config.feature_references()


def test_saved_model(tmp_path):
    def change(d):
        d["model"] = {"saved_model": "model", "output": {"tags": "out_tags", "clicked": "out_c"},
                      "device": "cpu", "batch_size": 256}
    config = load_config(write(tmp_path, edit(None, change)))
    assert config.model.saved_model == str(tmp_path / "model")
    assert config.model.device == "cpu" and config.model.signature == "serving_default"


def _set(path, value):
    """change(data): sets data[path...] = value (a missing value deletes it)."""
    def change(data):
        *parents, last = path
        for key in parents:
            data = data[key]
        if value is _DELETE:
            del data[last]
        else:
            data[last] = value
    return change


_DELETE = object()

ERRORS = [
    # (change, key path in the message, words the message must contain)
    (_set(["heads_weights"], [1.0]), "heads_weights",
     ["unknown key", "did you mean `head_weights`"]),
    (_set(["heads", 0, "treshold"], [0.5]), "heads[0].treshold", ["unknown key"]),
    (_set(["heads", 1, "thresholds"], "0.5"), "heads[1].thresholds", ["list of numbers", "'0.5'"]),
    (_set(["heads", 1, "thresholds"], [0.5, 1.5]), "heads[1].thresholds", ["(0, 1)", "1.5"]),
    (_set(["input", "pattern"], _DELETE), "input.pattern", ["missing"]),
    (_set(["heads"], _DELETE), "heads", ["missing"]),
    (_set(["heads"], []), "heads", ["non-empty list"]),
    (_set(["input", "features", "score", "dtype"], "float64"), "input.features.score.dtype",
     ["float32, int64, string", "'float64'"]),
    (_set(["input", "features", "score", "shape"], 3), "input.features.score.shape",
     ["list of positive integers"]),
    (_set(["input", "features", "tags", "shape"], [2]), "input.features.tags.shape", ["varlen"]),
    (_set(["input", "features", "weight", "default"], "one"), "input.features.weight.default",
     ["a number", "'one'"]),
    (_set(["input", "features", "country", "default"], False), "input.features.country.default",
     ["a string", "quote"]),
    (_set(["heads", 1, "label"], "clicks"), "heads[1].label", ["a feature of input.features",
                                                               "'clicks'"]),
    (_set(["heads", 0, "weight_column"], "w"), "heads[0].weight_column", ["'w'"]),
    (_set(["heads", 0, "weight_column"], "country"), "heads[0].weight_column",
     ["numeric", "string scalar"]),
    (_set(["slices"], [[], ["city"]]), "slices[1][0]", ["'city'"]),
    (_set(["slices"], [[], "country"]), "slices[1]", ["list of feature names"]),
    (_set(["slices"], [[], ["weight"]]), "slices[1][0]", ["boundaries", "float32"]),
    (_set(["model", "saved_model"], "m"), "model", ["exactly one of"]),
    (_set(["model", "logits"], {"tags": "logits", "clicked": "nope"}), "model.logits.clicked",
     ["'nope'"]),
    (_set(["model", "logits"], {"tags": "logits"}), "model.logits", ["one entry per head"]),
    (_set(["model", "logits"], {"tags": "score", "clicked": "score"}), "model.logits.tags",
     ["shape [3]", "float32 scalar"]),
    (_set(["model", "device"], "gpu"), "model.device", ["saved_model"]),
    (_set(["heads", 0, "n_classes"], _DELETE), "heads[0].n_classes", ["integer >= 2", "missing"]),
    (_set(["heads", 0, "n_classes"], "3"), "heads[0].n_classes", ["integer >= 2", "'3'"]),
    (_set(["heads", 0, "label_vocabulary"], ["a", "b"]), "heads[0].label_vocabulary",
     ["3 entries", "it has 2", "['a', 'b']"]),
    (_set(["heads", 0, "label_vocabulary"], ["a", "b", "a"]), "heads[0].label_vocabulary[2]",
     ["distinct"]),
    (_set(["heads", 0, "label_vocabulary"], {"file": "missing.txt"}),
     "heads[0].label_vocabulary.file", ["readable", "missing.txt"]),
    (_set(["heads", 0, "label_vocabulary"], {"tft": "v"}), "heads[0].label_vocabulary.tft",
     ["transform"]),
    (_set(["heads", 0, "classes_for_class_based_metrics"], ["z"]),
     "heads[0].classes_for_class_based_metrics", ["label_vocabulary", "'z'"]),
    (_set(["heads", 0, "classes_for_class_based_metrics"], [5]),
     "heads[0].classes_for_class_based_metrics", ["[0, 2]"]),
    (_set(["heads", 1, "classes_for_class_based_metrics"], [0]),
     "heads[1].classes_for_class_based_metrics", ["binary head", "multi_label"]),
    (_set(["heads", 1, "label"], "y_str"), "heads[1].label", ["label_vocabulary"]),
    (_set(["heads", 1, "name"], "tags"), "heads[1].name", ["unique"]),
    (_set(["heads", 1, "name"], _DELETE), "heads[1].name", ["several heads"]),
    (_set(["heads", 1, "type"], "binary_class"), "heads[1].type", ["binary, multi_class"]),
    (_set(["heads", 1, "loss_fn"], "mymodule.loss"), "heads[1].loss_fn", ["module:function"]),
    (_set(["heads", 1, "loss_reduction"], "mean"), "heads[1].loss_reduction",
     ["sum_over_batch_size"]),
    (_set(["head_weights"], [1.0]), "head_weights", ["2 non-negative numbers"]),
    (_set(["head_weights"], [1.0, float("inf")]), "head_weights", ["each finite", "inf"]),
    (_set(["head_weights"], [float("nan"), 1.0]), "head_weights", ["each finite", "nan"]),
    (_set(["metrics", "auc", "method"], "roc"), "metrics.auc.method", ["histogram, exact"]),
    (_set(["metrics", "auc"], {"method": "exact", "buckets": 10}), "metrics.auc.buckets",
     ["method: histogram"]),
    (_set(["bad_examples"], "ignore"), "bad_examples", ["fail, skip", "'ignore'"]),
    (_set(["batch_size"], 0), "batch_size", ["integer >= 1", "0"]),
    # Issue 17: ranks the heads cannot take ([1, 1] parses to [batch, 1, 1]),
    # refused here rather than deep in the heads' TensorFlow.
    (_set(["input", "features", "score", "shape"], [1, 1]), "model.logits.clicked",
     ["a numeric feature of shape [1] or []", "float32 [1, 1]"]),
    (_set(["input", "features", "logits", "shape"], [1, 3]), "model.logits.tags",
     ["shape [3]", "float32 [1, 3]"]),
    (_set(["input", "features", "y", "shape"], [1, 1]), "heads[1].label",
     ["shape [] or [1]", "int64 [1, 1]"]),
    (_set(["input", "features", "weight", "shape"], [1, 1]), "heads[0].weight_column",
     ["shape [] or [1]", "float32 [1, 1]"]),
    (_set(["input", "features", "weight", "shape"], [2]), "heads[0].weight_column",
     ["shape [] or [1]", "float32 [2]"]),
    (_set(["input", "features", "country", "shape"], [1, 1]), "slices[1][0]",
     ["shape [] or [1]", "string [1, 1]"]),
    # A vocabulary maps strings to class ids: a binary head's int64 label
    # with one failed on the first batch with a 200-line traceback.
    (_set(["heads", 1, "label_vocabulary"], ["0", "1"]), "heads[1].label",
     ["a string feature when label_vocabulary is given", "int64 scalar"]),
    # Thresholds are float32 in the heads: 0.9999999999 is 1.0 there.
    (_set(["heads", 1, "thresholds"], [0.5, 0.9999999999]), "heads[1].thresholds",
     ["also as float32", "0.9999999999 rounds to 1.0 in float32"]),
    (_set(["heads", 0, "thresholds"], [1e-50]), "heads[0].thresholds",
     ["also as float32", "1e-50 rounds to 0.0 in float32"]),
]


@pytest.mark.parametrize("change,key,words", ERRORS, ids=[e[1] + "-%d" % i
                                                          for i, e in enumerate(ERRORS)])
def test_error_names_file_and_key(tmp_path, change, key, words):
    path = write(tmp_path, edit(None, change))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(path + ": "), message
    assert "`%s`" % key in message, message
    assert info.value.key == key and info.value.file == path
    assert "got" in message or "unknown key" in message, message
    for word in words:
        assert word in message, (word, message)


def test_duplicate_key_is_an_error(tmp_path):
    path = write(tmp_path, BASE + "bad_examples: fail\n")
    with pytest.raises(ConfigError, match="appears twice"):
        load_config(path)


# BASE with a third head that takes the second's keys by a YAML merge key.
MERGED = (BASE.replace("  - name: clicked\n    type: binary\n    label: y\n"
                       "    thresholds: [0.5]\n",
                       "  - &clicked\n    name: clicked\n    type: binary\n    label: y\n"
                       "    thresholds: [0.5]\n"
                       "  - <<: *clicked\n    name: clicked_str\n    label: y_str\n"
                       "    label_vocabulary: [neg, pos]\n")
          .replace("head_weights: [1.0, 0.5]", "head_weights: [1.0, 0.5, 0.5]")
          .replace("clicked: score}", "clicked: score, clicked_str: score}"))


def test_merge_keys_are_yaml_not_duplicates(tmp_path):
    """`<<: *anchor` brings keys in; the mapping's own keys override them
    (they were refused as written twice). A key written twice by hand still is."""
    text = MERGED
    assert text.count("<<: *clicked") == 1
    config = load_config(write(tmp_path, text))
    by_name = {h.name: h for h in config.heads}
    assert by_name["clicked_str"].label == "y_str"
    assert by_name["clicked_str"].thresholds == by_name["clicked"].thresholds == (0.5,)
    assert by_name["clicked_str"].type == "binary"
    with pytest.raises(ConfigError, match="'label' appears twice"):
        load_config(write(tmp_path, text.replace("    label: y_str\n",
                                                 "    label: y_str\n    label: y\n")))


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "input: [unclosed\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="empty"):
        load_config(write(tmp_path, ""))


def test_feature_names_must_be_strings(tmp_path):
    text = BASE.replace("    country: {dtype: string}", "    on: {dtype: string}")
    with pytest.raises(ConfigError, match="quote"):
        load_config(write(tmp_path, text))


def test_config_needs_no_beam():
    """No module of the pipeline.config package imports Beam, TensorFlow or
    pyarrow at its top level (importing it must stay quick)."""
    import ast

    import pipeline.config as package
    folder = os.path.dirname(package.__file__)
    modules = sorted(name for name in os.listdir(folder) if name.endswith(".py"))
    assert {"__init__.py", "spec.py", "limits.py", "files.py", "parser.py", "loading.py"} \
        <= set(modules)
    for name in modules:
        tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
        imported = [a.name for node in tree.body if isinstance(node, ast.Import)
                    for a in node.names]
        imported += [node.module for node in tree.body
                     if isinstance(node, ast.ImportFrom) and node.module]
        heavy = [m for m in imported
                 if m.split(".")[0] in ("apache_beam", "tensorflow", "pyarrow")]
        assert heavy == [], name


def test_loading_a_local_config_imports_no_heavy_library(tmp_path):
    """`headeval run` checks the config before it imports the pipeline: in a
    fresh interpreter, loading a local config (with a vocabulary file)
    leaves TensorFlow, Beam and pyarrow unimported."""
    import subprocess
    import sys
    from tests.support import REPO
    (tmp_path / "tags.txt").write_text("a\nb\nc\n")
    path = write(tmp_path, edit(None, lambda d: d["heads"][0].update(
        label_vocabulary={"file": "tags.txt"})))
    code = ("import sys\nfrom pipeline.config import load_config\nload_config(sys.argv[1])\n"
            "print(sorted(m for m in ('tensorflow', 'apache_beam', 'pyarrow') "
            "if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code, path], capture_output=True,
                            text=True, timeout=120, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_file_uri_config_is_a_local_one(tmp_path):
    """file:// counts as local: the config is read from disk and its
    relative paths resolve to plain local paths (Beam has no file://
    filesystem)."""
    (tmp_path / "tags.txt").write_text("a\nb\nc\n")
    path = write(tmp_path, edit(None, lambda d: (
        d["heads"][0].update(label_vocabulary={"file": "tags.txt"}),
        d["input"].update(pattern="file://%s/data/eval-*.tfrecord.gz" % tmp_path))))
    config = load_config("file://" + path)
    assert config.source == path
    assert config.heads[0].label_vocabulary == ("a", "b", "c")
    assert config.input.pattern == str(tmp_path / "data" / "eval-*.tfrecord.gz")
    assert config.output == str(tmp_path / "out" / "report")


def test_config_and_vocabulary_on_an_object_store(tmp_path):
    """A config at a URI resolves relative paths against its URI folder and
    reads vocabulary files through Beam's FileSystems."""
    use_root(tmp_path)
    folder = tmp_path / "bucket" / "cfg"
    folder.mkdir(parents=True)
    (folder / "tags.txt").write_text("a\nb\nc\n")
    text = edit(None, lambda d: d["heads"][0].update(label_vocabulary={"file": "tags.txt"}))
    (folder / "eval.yaml").write_text(text)
    config = load_config("fakegs://bucket/cfg/eval.yaml")
    assert config.heads[0].label_vocabulary == ("a", "b", "c")
    assert config.input.pattern == "fakegs://bucket/cfg/data/eval-*.tfrecord.gz"
    assert config.output == "fakegs://bucket/cfg/out/report"


def test_a_vocabulary_file_with_a_byte_order_mark_on_an_object_store(tmp_path):
    """The BOM rule holds for files read through Beam's FileSystems too."""
    use_root(tmp_path)
    folder = tmp_path / "bucket" / "cfg"
    folder.mkdir(parents=True)
    (folder / "tags.txt").write_bytes(b"\xef\xbb\xbfa\nb\nc\n")
    text = edit(None, lambda d: d["heads"][0].update(label_vocabulary={"file": "tags.txt"}))
    (folder / "eval.yaml").write_text(text)
    config = load_config("fakegs://bucket/cfg/eval.yaml")
    assert config.heads[0].label_vocabulary == ("a", "b", "c")


def test_min_auc_buckets_is_the_heads_coarsest_layout(tmp_path):
    from heads import buckets
    from pipeline.config import MIN_AUC_BUCKETS
    assert MIN_AUC_BUCKETS == buckets.num_buckets(0)
    buckets.check_max_buckets(MIN_AUC_BUCKETS)
    with pytest.raises(ValueError):
        buckets.check_max_buckets(MIN_AUC_BUCKETS - 1)


def test_lists_repeated_from_heads_are_equal():
    """pipeline.config repeats these so that loading a config needs no TensorFlow."""
    from heads import auc, losses
    from pipeline.config import AUC_METHODS, LOSS_REDUCTIONS
    assert AUC_METHODS == auc.AUC_METHODS
    assert LOSS_REDUCTIONS == losses.REDUCTIONS


def test_model_device_is_one_of_the_devices(tmp_path):
    from pipeline.runtime.devices import DEVICES
    text = edit(None, lambda d: d.update(model={"saved_model": "m", "device": "tpu"}))
    with pytest.raises(ConfigError, match="model.device") as e:
        load_config(write(tmp_path, text))
    assert all(d in str(e.value) for d in DEVICES)


def test_relative_paths_under_a_uri_config_resolve_dot_dot_within_the_bucket():
    from pipeline.config import parse_config, resolve_path
    assert resolve_path("../data/x-*.tfrecord", "gs://b/cfg/v1") == "gs://b/cfg/data/x-*.tfrecord"
    assert resolve_path("./out/../report", "gs://b/cfg") == "gs://b/cfg/report"
    assert resolve_path("../../data", "gs://b/cfg/v1") == "gs://b/data"
    assert resolve_path("gs://other/x", "gs://b/cfg") == "gs://other/x"
    with pytest.raises(ValueError, match="climbs above the bucket"):
        resolve_path("../../x", "gs://b/cfg")
    data = yaml.safe_load(edit(None, lambda d: d.update(output="../../../report")))
    with pytest.raises(ConfigError, match="output") as e:
        parse_config(data, file="gs://b/cfg/eval.yaml", base_dir="gs://b/cfg")
    assert "climbs above the bucket" in str(e.value)


# -- Memory limits (issue 17, finding 10) -----------------------------------------

def _bomb(levels=9, width=9):
    """A 'billion laughs' thresholds list: 9 levels of 9 aliases each expand
    to 9^9 (387 million) numbers from about 600 bytes of YAML."""
    anchors = ["&l0 [%s]" % ", ".join(["0.5"] * width)]
    for i in range(1, levels):
        anchors.append("&l%d [%s]" % (i, ", ".join(["*l%d" % (i - 1)] * width)))
    return "[%s]" % ", ".join(anchors)


def test_a_yaml_alias_bomb_fails_fast_in_one_line(tmp_path):
    """A few hundred bytes that expand to 9^9 values: refused while loading,
    in a subprocess held to 1.5 GB of address space (the old code built a
    2.5 GB repr of the value for its error message, then a MemoryError)."""
    import subprocess
    import sys
    import time
    text = BASE.replace("    thresholds: [0.5]\n", "    thresholds: %s\n" % _bomb())
    assert len(text.encode()) - len(BASE.encode()) < 700
    path = write(tmp_path, text)
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))\n"
            "from pipeline.config import load_config, ConfigError\n"
            "try:\n    load_config(sys.argv[1])\n"
            "except ConfigError as e:\n    print(e); sys.exit(1)\n")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                          timeout=60)
    assert time.monotonic() - start < 20
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and "more than 1000000 YAML nodes" in lines[0], done.stdout


def test_yaml_aliases_within_the_budget_and_merge_keys_still_load(tmp_path):
    text = BASE.replace("    thresholds: [0.5]\n", "    thresholds: &t [0.5]\n") + \
        "metrics: {auc: {method: histogram, buckets: 1000}}\n"
    text = text.replace("metrics: {auc: {method: histogram, buckets: 1000}}\n", "", 1)
    assert load_config(write(tmp_path, text)).heads[1].thresholds == (0.5,)
    merged = BASE.replace("metrics: {auc: {method: histogram, buckets: 1000}}",
                          "metrics: {auc: {<<: {method: histogram}, buckets: 1000}}")
    assert load_config(write(tmp_path, merged)).metrics.auc.buckets == 1000
    with pytest.raises(ConfigError, match="alias inside its own anchor"):
        load_config(write(tmp_path, BASE.replace("    thresholds: [0.5]\n",
                                                 "    thresholds: &r [0.5, *r]\n")))


def test_an_integer_past_pythons_digit_limit_is_a_config_error(tmp_path):
    """Python 3.11 refuses str<->int of more than 4300 digits: PyYAML's
    ValueError escaped load_config as a traceback."""
    with pytest.raises(ConfigError, match="not a config YAML can load") as info:
        load_config(write(tmp_path, BASE + "batch_size: 1%s\n" % ("0" * 5000)))
    assert len(str(info.value)) < 600


def test_error_messages_are_bounded(tmp_path):
    """A key or value of megabytes is shown clipped, saying how long it was."""
    long_key = "k" * 1_000_000
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE + "? %s\n: 1\n" % long_key))  # an explicit key
    message = str(info.value)
    assert len(message) < 1000 and "(1000000 chars)" in message and "\n" not in message
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE.replace("bad_examples: skip",
                                                 "bad_examples: [%s]" % ("x" * 1_000_000))))
    assert len(str(info.value)) < 1000
    nested = "[" * 5000 + "]" * 5000
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, BASE.replace("bad_examples: skip", "bad_examples: " + nested)))
    assert len(str(info.value)) < 1000


def test_a_huge_feature_shape_is_refused():
    """shape [100000000]: the parser would hold batch_size x 10^8 values."""
    data = yaml.safe_load(BASE)
    data["input"]["features"]["unused"] = {"dtype": "float32", "shape": [10000, 10000]}
    with pytest.raises(ConfigError, match=r"input.features.unused.shape.*at most 1000000 values"):
        parse_config(data)


def test_a_batch_the_parser_cannot_hold_is_refused():
    data = yaml.safe_load(BASE)
    data["input"]["features"]["emb"] = {"dtype": "float32", "shape": [200_000]}
    with pytest.raises(ConfigError, match=r"`batch_size` .*6.1 GiB; lower batch_size"):
        parse_config(data)  # 8192 x 800 kB
    data["batch_size"] = 1000
    assert parse_config(data).batch_size == 1000


def _classes_config(n_classes, method="histogram", kind="multi_class"):
    return {"input": {"pattern": "x", "features": {
                "y": {"dtype": "int64", **({"varlen": True} if kind == "multi_label" else {})},
                "z": {"dtype": "float32", "shape": [n_classes]}}},
            "model": {"logits": "z"},
            "heads": [{"type": kind, "n_classes": n_classes, "label": "y"}],
            "metrics": {"auc": {"method": method}}}


@pytest.mark.parametrize("method", ["histogram", "exact"])
def test_ten_thousand_classes_are_refused_with_the_estimate(method):
    """10,000 classes went past 9 GB with 3 examples (a dense confusion
    matrix per slice, 10^8 report rows): refused, naming the key."""
    with pytest.raises(ConfigError, match=r"`heads\[0\].n_classes`: the heads need about "
                                          r"[0-9.]+ GiB .* per slice .*limit is 1.0 GiB"):
        parse_config(_classes_config(10_000, method))
    assert parse_config(_classes_config(1000, method)).heads[0].n_classes == 1000


def test_the_limits_repeat_the_heads_constants():
    from heads import buckets, multi_class
    from pipeline.config import limits as c
    assert c.DEFAULT_AUC_BUCKETS == buckets.DEFAULT_MAX_BUCKETS
    assert c.MAX_CONFUSION_MATRIX_CLASSES == multi_class.MAX_CONFUSION_MATRIX_CLASSES
    from pipeline.report.rows import MAX_CURVE_POINTS
    assert c._CURVE_POINTS == MAX_CURVE_POINTS


def test_max_slices_key():
    data = yaml.safe_load(BASE)
    assert parse_config(data).max_slices == 10_000
    data["max_slices"] = 50
    config = parse_config(data)
    assert config.max_slices == 50 and parse_config(config.to_dict()) == config
    data["max_slices"] = 0
    with pytest.raises(ConfigError, match=r"`max_slices` must be an integer >= 1"):
        parse_config(data)


@pytest.mark.parametrize("kind,n_classes,thresholds", [
    ("binary", None, [0.2, 0.5, 0.8]), ("multi_class", 40, None), ("multi_class", 300, None),
    ("multi_label", 12, [0.3, 0.6])])
def test_slice_bytes_bounds_a_filled_slice(kind, n_classes, thresholds):
    """`slice_bytes` is an upper bound of what one slice really holds: the
    pickled states of a slice filled with 20,000 examples of distinct scores
    (histograms at their fullest) plus the report tables made from them."""
    import pickle

    import numpy as np

    from pipeline.config import slice_bytes
    from pipeline.evaluate.evaluator import Evaluator
    from pipeline.report.stages import slice_tables
    n = 20_000
    rng = np.random.default_rng(0)
    d = 1 if kind == "binary" else n_classes
    head = {"type": kind, "label": "y"}
    if n_classes:
        head["n_classes"] = n_classes
    if thresholds:
        head["thresholds"] = thresholds
    y = {"dtype": "int64", "shape": [n_classes]} if kind == "multi_label" else {"dtype": "int64"}
    config = parse_config({"input": {"pattern": "x", "features": {
        "y": y, "z": {"dtype": "float32", "shape": [d]}}}, "model": {"logits": "z"},
        "heads": [head]})
    labels = (rng.integers(0, 2, (n, n_classes)) if kind == "multi_label"
              else rng.integers(0, n_classes or 2, n))
    features = {"y": labels, "z": rng.normal(0, 3, (n, d)).astype(np.float32)}
    evaluator, accumulators = Evaluator(config), {}
    evaluator.add_batch(features, accumulators)
    evaluator.finish(accumulators)
    metrics = accumulators[""]
    _, table, curves = slice_tables("", metrics, [""])
    actual = len(pickle.dumps(metrics)) + table.nbytes + curves.nbytes
    estimate = slice_bytes(config.heads[0], config.metrics.auc)
    assert actual <= estimate < 3 * actual, (actual, estimate)


def test_a_vocabulary_file_with_an_int64_label_is_refused(tmp_path):
    (tmp_path / "vocab.txt").write_text("0\n1\n")
    path = write(tmp_path, edit(None, _set(["heads", 1, "label_vocabulary"],
                                           {"file": "vocab.txt"})))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "heads[1].label", str(info.value)
    assert "a string feature when label_vocabulary is given" in str(info.value)


@pytest.mark.parametrize("head,shape,ok", [
    ({"type": "multi_class", "n_classes": 3, "label_vocabulary": ["a", "b", "c"]}, [], False),
    ({"type": "multi_class", "n_classes": 3}, [1], True),
    ({"type": "multi_class", "n_classes": 3}, [1, 1], False),
    ({"type": "multi_label", "n_classes": 3}, [3], True),
    ({"type": "multi_label", "n_classes": 3}, [1, 3], False),
    # multi_label takes numeric labels with a vocabulary (its class names)
    ({"type": "multi_label", "n_classes": 3, "label_vocabulary": ["a", "b", "c"]}, [3], True),
    ({"type": "regression", "label_dimension": 2}, [2], True),
    ({"type": "regression", "label_dimension": 2}, [1, 2], False),
    ({"type": "regression"}, [], True),
    ({"type": "regression"}, [1, 1], False),
])
def test_label_shapes_each_head_takes(tmp_path, head, shape, ok):
    dim = head.get("n_classes") or head.get("label_dimension") or 1
    data = {"input": {"pattern": "x", "features": {
                "z": {"dtype": "float32", "shape": [dim]},
                "y": {"dtype": "int64" if head["type"] != "regression" else "float32",
                      "shape": shape}}},
            "model": {"logits": "z"}, "heads": [dict(head, label="y")]}
    if ok:
        assert parse_config(data).heads[0].label == "y"
        return
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert info.value.key == "heads[0].label", str(info.value)


@pytest.mark.parametrize("text,value,fix", [
    ("heads[1].thresholds: [0.5, 5e-1]", "5e-1", "5.0e-1"),
    ("head_weights: [1.0, 1e-300]", "1e-300", "1.0e-300"),
    ("input.features.weight.default: 1E0", "1E0", "1.0e+0"),
])
def test_a_number_yaml_reads_as_text_gets_a_hint(tmp_path, text, value, fix):
    """PyYAML (YAML 1.1) reads 5e-1 and 1.0e5 as strings: the message says so
    and how to write them."""
    key, _, raw = text.partition(": ")
    lines = {"heads[1].thresholds": ("    thresholds: [0.5]", "    thresholds: " + raw),
             "head_weights": ("head_weights: [1.0, 0.5]", "head_weights: " + raw),
             "input.features.weight.default": ("weight:  {dtype: float32, default: 1.0}",
                                               "weight:  {dtype: float32, default: %s}" % raw)}
    old, new = lines[key]
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert info.value.key == key and "\n" not in message, message
    assert message.endswith("(YAML 1.1 reads %s as text: write %s)" % (value, fix)), message
    path = write(tmp_path, BASE.replace(old, new.replace(value, fix)))
    load_config(path)


def test_quoted_numbers_get_no_yaml_hint(tmp_path):
    path = write(tmp_path, BASE.replace("    thresholds: [0.5]", "    thresholds: ['0.5']"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "YAML 1.1" not in str(info.value)


def test_a_tilde_in_a_config_path_is_the_home_folder(tmp_path, monkeypatch):
    """`output: ~/x` made a folder named `~` under the config's folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write(tmp_path, BASE.replace("output: out/report", "output: ~/report").replace(
        "pattern: data/eval-*.tfrecord.gz", "pattern: ~/data/*.tfrecord"))
    config = load_config(path)
    assert config.output == str(tmp_path / "home" / "report")
    assert config.input.pattern == str(tmp_path / "home" / "data" / "*.tfrecord")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "v.txt").write_text("a\nb\nc\n")
    data = yaml.safe_load(BASE)
    data["heads"][0]["label_vocabulary"] = {"file": "~/v.txt"}
    assert parse_config(data, base_dir=str(tmp_path)).heads[0].label_vocabulary == \
        ("a", "b", "c")
