"""The validating parser: YAML data (a dict) -> a frozen `Config`.

Every check that can run before a pipeline starts runs here, so a typo costs
a second, not a Dataflow job: unknown keys, wrong types, missing fields, and
heads, slices, weights or labels naming a feature the parse spec lacks. An
error names the file, the key path (`heads[1].thresholds`), what was expected
and what was found.
"""
import difflib
import math
from typing import Optional

from pipeline.config import head_options
from pipeline.config.files import read_text, resolve_path
from pipeline.config.validation import config_validation
from pipeline.config.limits import (MAX_BATCH_BYTES, MAX_FEATURE_VALUES, MAX_MESSAGE_VALUE,
                                    batch_too_big, clip, exponent_hint, format_bytes,
                                    show_value, slice_too_big)
from pipeline.config.metric_options import parse_metrics
from pipeline.config.models import parse_model
from pipeline.config.slices import parse_slices
from pipeline.config.spec import (BAD_EXAMPLES, BINARY, COMMON_HEAD_KEYS, DEFAULT_BAD_EXAMPLES,
                                  DEFAULT_BATCH_SIZE, DEFAULT_LABEL_DIMENSION,
                                  DEFAULT_LOSS_REDUCTION, DEFAULT_MAX_SLICES, DTYPES,
                                  FEATURE_KEYS, HEAD_KEYS, HEAD_KEYS_BY_TYPE, HEAD_TYPES,
                                  INPUT_KEYS, LOSS_REDUCTIONS, MIN_N_CLASSES, MULTI_CLASS,
                                  MULTI_LABEL, REGRESSION, REQUIRED_FEATURE_KEYS,
                                  REQUIRED_HEAD_KEYS, REQUIRED_TOP_LEVEL_KEYS, TOP_LEVEL_KEYS,
                                  TRANSFORM_KEYS, VOCABULARY_REF_KEYS, Config, Feature,
                                  HeadConfig, InputConfig, TransformConfig, VocabularyRef)
from pipeline.errors import ConfigError

_MISSING = object()


def parse_config(data: dict, file: str = "<config>", base_dir: Optional[str] = None) -> Config:
    """Validates already-loaded YAML data (a dict). Relative paths resolve
    against `base_dir` (left as given when it is None). Raises ConfigError."""
    return _Parser(file, base_dir).config(data)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Parser:
    """Builds a Config from YAML data; every method takes the key path of
    the value it checks, for the error message."""

    def __init__(self, file, base_dir):
        self.file = file
        self.base_dir = base_dir

    # - generic checks -

    def fail(self, key, expected, got=_MISSING, hint=""):
        if got is _MISSING:
            found = "nothing (the key is missing)"
        else:
            found = show_value(got)
            if isinstance(got, bool):
                hint = hint or "YAML reads yes/no/on/off/true/false as booleans: quote the value"
            elif "number" in expected:
                hint = hint or exponent_hint(got)
        message = "%s: `%s` must be %s; got %s" % (self.file, clip(key), clip(expected, 400),
                                                   found)
        if hint:
            message += " (%s)" % hint
        raise ConfigError(message, self.file, key)

    def mapping(self, value, key, allowed, required=(), what="a mapping"):
        if not isinstance(value, dict):
            self.fail(key, what, value)
        for k in value:
            if not isinstance(k, str):
                self.fail("%s.%s" % (key, show_value(k)) if key else show_value(k),
                          "a key that is a string", k)
            if k not in allowed:
                path = clip("%s.%s" % (key, k) if key else k)
                close = difflib.get_close_matches(k, allowed, n=1)
                message = "%s: unknown key `%s`; expected one of: %s" % (
                    self.file, path, ", ".join(allowed))
                if close:
                    message += " (did you mean `%s`?)" % close[0]
                raise ConfigError(message, self.file, path)
        for k in required:
            if value.get(k) is None:
                self.fail("%s.%s" % (key, k) if key else k, "given", value.get(k, _MISSING))
        return value

    def string(self, value, key, choices=None, what="a string"):
        if choices is not None:
            if value not in choices:
                self.fail(key, "one of %s" % ", ".join(choices), value)
            return value
        if not isinstance(value, str) or not value:
            self.fail(key, what, value)
        return value

    def integer(self, value, key, minimum=1):
        if not _is_int(value) or value < minimum:
            self.fail(key, "an integer >= %d" % minimum, value)
        return value

    def boolean(self, value, key):
        if not isinstance(value, bool):
            self.fail(key, "true or false", value)
        return value

    def path(self, value, key):
        value = self.string(value, key, what="a path")
        try:
            return resolve_path(value, self.base_dir)
        except ValueError as e:
            self.fail(key, "a path inside the config's bucket", value, hint=str(e))

    def list_of(self, value, key, what):
        if not isinstance(value, list):
            self.fail(key, "a list of %s" % what, value)
        return value

    # - sections -

    def config(self, data):
        if data is None:
            raise ConfigError("%s: the config file is empty" % self.file, self.file, "")
        self.mapping(data, "", TOP_LEVEL_KEYS, required=REQUIRED_TOP_LEVEL_KEYS,
                     what="a mapping of sections")
        inp = self.input(data["input"])
        features = inp.features
        transform = None
        if data.get("transform") is not None:
            t = self.mapping(data["transform"], "transform", TRANSFORM_KEYS, TRANSFORM_KEYS)
            transform = TransformConfig(self.path(t["tft_output"], "transform.tft_output"))
        heads = self.heads(data["heads"], features, transform)
        model = parse_model(self, data["model"], "model", heads, features, transform)
        baseline = None
        if data.get("baseline") is not None:
            baseline = parse_model(self, data["baseline"], "baseline", heads, features,
                                   transform)
        head_weights = None
        if data.get("head_weights") is not None:
            head_weights = self.head_weights(data["head_weights"], len(heads))
        slices = parse_slices(self, data.get("slices"), features, transform)
        metrics = self.metrics(data.get("metrics"), heads, features, transform)
        bad = data.get("bad_examples", DEFAULT_BAD_EXAMPLES)
        bad = self.string(bad, "bad_examples", BAD_EXAMPLES)
        batch_size = data.get("batch_size", DEFAULT_BATCH_SIZE)
        batch_size = self.integer(batch_size, "batch_size")
        too_big = batch_too_big(inp.features, batch_size)
        if too_big:
            self.fail("batch_size", "small enough that a batch of the fixed-length features "
                      "fits in %s" % format_bytes(MAX_BATCH_BYTES), batch_size, hint=too_big)
        max_slices = self.integer(data.get("max_slices", DEFAULT_MAX_SLICES), "max_slices")
        min_slice_size = data.get("min_slice_size")
        if min_slice_size is not None:
            min_slice_size = self.integer(min_slice_size, "min_slice_size")
        too_big = slice_too_big(heads, metrics.auc)
        if too_big:
            key, why = too_big
            raise ConfigError("%s: `%s`: %s" % (self.file, key, why), self.file, key)
        output = None
        if data.get("output") is not None:
            output = self.path(data["output"], "output")
        return Config(input=inp, model=model, baseline=baseline, heads=heads,
                      transform=transform, head_weights=head_weights, slices=slices,
                      metrics=metrics, bad_examples=bad, batch_size=batch_size,
                      max_slices=max_slices, min_slice_size=min_slice_size, output=output,
                      validation=config_validation(data, self.file),
                      source=None if self.file == "<config>" else self.file)

    def input(self, data):
        self.mapping(data, "input", INPUT_KEYS, INPUT_KEYS)
        pattern = self.path(data["pattern"], "input.pattern")
        raw = data["features"]
        if not isinstance(raw, dict) or not raw:
            self.fail("input.features", "a mapping of feature name -> {dtype, shape, varlen, "
                      "default} with at least one feature", raw)
        features = {}
        for name, spec in raw.items():
            if not isinstance(name, str) or not name:
                self.fail("input.features", "keyed by feature names (strings)", name,
                          hint="quote names YAML reads as booleans or numbers")
            features[name] = self.feature(name, spec, "input.features.%s" % name)
        return InputConfig(pattern=pattern, features=features)

    def feature(self, name, spec, key):
        self.mapping(spec, key, FEATURE_KEYS, REQUIRED_FEATURE_KEYS,
                     what="a mapping {%s}" % ", ".join(FEATURE_KEYS))
        dtype = self.string(spec["dtype"], key + ".dtype", DTYPES)
        varlen = self.boolean(spec.get("varlen", False), key + ".varlen")
        shape = spec.get("shape", [])
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 1 for d in shape):
            self.fail(key + ".shape", "a list of positive integers ([] for a scalar)", shape)
        shape = tuple(shape)
        if math.prod(shape) > MAX_FEATURE_VALUES:
            self.fail(key + ".shape", "a shape of at most %d values per example (the parser "
                      "holds batch_size x that many)" % MAX_FEATURE_VALUES, list(shape),
                      hint="it has %d" % math.prod(shape))
        if varlen and shape:
            self.fail(key + ".shape", "absent for a varlen feature (it has any number of "
                      "values)", list(shape))
        default = spec.get("default")
        if default is not None:
            if varlen:
                self.fail(key + ".default", "absent for a varlen feature (a missing one is "
                          "empty)", default)
            default = self.default(default, dtype, shape, key + ".default")
        return Feature(name=name, dtype=dtype, shape=shape, varlen=varlen, default=default)

    def default(self, value, dtype, shape, key):
        size = math.prod(shape)
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(values) != size:
            self.fail(key, "one value or a list of %d values (shape %s)" % (size, list(shape)),
                      value)
        ok = {"float32": _is_number, "int64": _is_int,
              "string": lambda v: isinstance(v, str)}[dtype]
        expected = {"float32": "a number", "int64": "an integer", "string": "a string"}[dtype]
        for v in values:
            if not ok(v):
                self.fail(key, "%s (the feature's dtype is %s)" % (expected, dtype), value)
        if dtype == "float32":
            values = [float(v) for v in values]
        return tuple(values) if isinstance(value, list) else values[0]

    def feature_ref(self, name, key, features, transform, check=None):
        """A feature name that must be in the parse spec (or, with a
        transform, may be one of its outputs: those are checked at run time)."""
        self.string(name, key, what="a feature name")
        if name not in features:
            if transform is not None:
                return name
            self.fail(key, "a feature of input.features (%s)" % ", ".join(features), name)
        if check is not None:
            problem = check(features[name])
            if problem:
                self.fail(key, problem, name, hint="input.features.%s is %s"
                          % (name, features[name].describe()))
        return name

    def heads(self, data, features, transform):
        if not isinstance(data, list) or not data:
            self.fail("heads", "a non-empty list of heads", data)
        heads = [self.head(h, "heads[%d]" % i, features, transform, several=len(data) > 1)
                 for i, h in enumerate(data)]
        names = [h.name for h in heads]
        for i, name in enumerate(names):
            if name is not None and name in names[:i]:
                self.fail("heads[%d].name" % i, "unique among heads", name)
        return tuple(heads)

    def head(self, data, key, features, transform, several):
        self.mapping(data, key, HEAD_KEYS, REQUIRED_HEAD_KEYS, what="a mapping describing a head")
        kind = self.string(data["type"], key + ".type", HEAD_TYPES)
        for k in data:
            if k not in COMMON_HEAD_KEYS and k not in HEAD_KEYS_BY_TYPE[kind]:
                self.fail("%s.%s" % (key, k), "absent for a %s head (it applies to %s)"
                          % (kind, ", ".join(t for t in HEAD_TYPES if k in HEAD_KEYS_BY_TYPE[t])),
                          data[k])
        name = data.get("name")
        if name is None:
            if several:
                self.fail(key + ".name", "given when there are several heads")
        else:
            self.string(name, key + ".name", what="a head name")
            if "/" in name:
                self.fail(key + ".name", "a name without '/' (metric keys end in /<head name>)",
                          name)

        n_classes = data.get("n_classes")
        if kind == BINARY:
            if n_classes is not None and n_classes != 2:
                self.fail(key + ".n_classes", "2 or absent for a binary head", n_classes)
            n_classes = None
        elif kind in (MULTI_CLASS, MULTI_LABEL):
            minimum = MIN_N_CLASSES[kind]
            if n_classes is None:
                self.fail(key + ".n_classes", "an integer >= %d" % minimum)
            if not _is_int(n_classes) or n_classes < minimum:
                self.fail(key + ".n_classes", "an integer >= %d%s" % (
                    minimum, " (use type: binary for 2 classes)" if kind == MULTI_CLASS else ""),
                    n_classes)
        label_dimension = None
        if kind == REGRESSION:
            label_dimension = self.integer(data.get("label_dimension", DEFAULT_LABEL_DIMENSION),
                                           key + ".label_dimension")

        vocabulary = None
        if data.get("label_vocabulary") is not None:
            vocabulary = self.vocabulary(data["label_vocabulary"], key + ".label_vocabulary",
                                         2 if kind == BINARY else n_classes, transform)

        def check_label(f):
            if not f.numeric and vocabulary is None:
                return ("a numeric feature, or a string one with label_vocabulary"
                        if kind != REGRESSION else "a numeric feature")
            if kind in (BINARY, MULTI_CLASS) and f.numeric and vocabulary not in (
                    None, VocabularyRef(compute=True)):  # compute: run.resolve_vocabularies
                return ("a string feature when label_vocabulary is given (it maps strings to "
                        "class ids); drop label_vocabulary to use the values as class ids")
            if kind in (BINARY, MULTI_CLASS) and not f.holds(1):
                return "a feature of shape [] or [1] (one value per example) for a %s head" % kind
            if kind == MULTI_LABEL and not f.varlen and not f.holds(n_classes):
                return ("a varlen feature of class ids or strings, or a multi-hot feature "
                        "of shape [%d]" % n_classes)
            if kind == REGRESSION and not f.holds(label_dimension):
                return "a feature of shape [%d]%s (label_dimension)" % (
                    label_dimension, " or []" if label_dimension == 1 else "")
            return None

        label = self.feature_ref(data["label"], key + ".label", features, transform, check_label)
        weight = data.get("weight_column")
        if weight is not None:
            weight = self.feature_ref(
                weight, key + ".weight_column", features, transform,
                lambda f: "a numeric feature of shape [] or [1] (one value per example)"
                if not f.numeric or not f.holds(1) else None)

        options = head_options.parse(self, data, key, n_classes)  # thresholds too

        classes = None
        if data.get("classes_for_class_based_metrics") is not None:
            ckey = key + ".classes_for_class_based_metrics"
            raw = self.list_of(data["classes_for_class_based_metrics"], ckey,
                               "class ids or label_vocabulary strings")
            for c in raw:
                if _is_int(c):
                    if not 0 <= c < n_classes:
                        self.fail(ckey, "class ids in [0, %d]" % (n_classes - 1), raw)
                elif isinstance(c, str):
                    if vocabulary is None:
                        self.fail(ckey, "class ids (strings need label_vocabulary)", raw)
                    if isinstance(vocabulary, tuple) and c not in vocabulary:
                        self.fail(ckey, "class ids or entries of label_vocabulary", raw)
                else:
                    self.fail(ckey, "a list of class ids or label_vocabulary strings", raw)
            classes = tuple(raw)

        loss_reduction = self.string(data.get("loss_reduction", DEFAULT_LOSS_REDUCTION),
                                     key + ".loss_reduction", LOSS_REDUCTIONS)
        loss_fn = data.get("loss_fn")
        if loss_fn is not None:
            module, _, function = str(loss_fn).partition(":")
            if not isinstance(loss_fn, str) or not module or not function or " " in loss_fn:
                self.fail(key + ".loss_fn", "a 'package.module:function' string", loss_fn)
        return HeadConfig(name=name, type=kind, label=label, n_classes=n_classes,
                          label_vocabulary=vocabulary, weight_column=weight,
                          classes_for_class_based_metrics=classes,
                          label_dimension=label_dimension, loss_reduction=loss_reduction,
                          loss_fn=loss_fn, **options)

    def vocabulary(self, data, key, size, transform):
        expected = "a list of strings, {file: path}, {compute: true} or {tft: NAME}"
        if isinstance(data, dict):
            if len(data) != 1 or next(iter(data)) not in VOCABULARY_REF_KEYS:
                self.fail(key, expected, data)
            if "compute" in data:
                if data["compute"] is not True:
                    self.fail(key + ".compute", "true", data["compute"])
                return VocabularyRef(compute=True)
            if "tft" in data:
                name = self.string(data["tft"], key + ".tft", what="a tf.Transform vocabulary name")
                if transform is None:
                    self.fail(key + ".tft", "used with a `transform: {tft_output: ...}` section "
                              "(the vocabulary is read from it)", name)
                return VocabularyRef(tft=name)
            path = self.path(data["file"], key + ".file")
            try:
                text = read_text(path)
            except (OSError, IOError, UnicodeDecodeError) as e:
                raise ConfigError("%s: `%s.file` must be a readable UTF-8 text file; got %s (%s)"
                                  % (self.file, key, show_value(path, MAX_MESSAGE_VALUE),
                                     clip(e)), self.file, key + ".file") from e
            words = text.splitlines()
            if words and words[-1] == "":
                words.pop()
            where = "%s (from %s)" % (key, path)
            return self._words(words, where, size)
        if not isinstance(data, list):
            self.fail(key, expected, data)
        for i, word in enumerate(data):
            if _is_int(word):
                continue
            if not isinstance(word, str):
                self.fail("%s[%d]" % (key, i), "a string", word)
        return self._words([str(w) for w in data], key, size)

    def _words(self, words, key, size):
        if size is not None and len(words) != size:
            self.fail(key, "a list of %d entries (one per class); it has %d"
                      % (size, len(words)), words)
        for i, word in enumerate(words):
            if word == "":
                self.fail("%s[%d]" % (key, i), "a non-empty string", word)
            if word in words[:i]:
                self.fail("%s[%d]" % (key, i), "distinct from the entries before it", word)
        return tuple(words)

    def head_weights(self, data, n_heads):
        if not isinstance(data, list) or len(data) != n_heads or \
                not all(_is_number(w) and 0 <= w < math.inf for w in data):
            self.fail("head_weights", "a list of %d non-negative numbers (one per head), each finite"
                      % n_heads, data)
        return tuple(float(w) for w in data)

    def metrics(self, data, heads, features, transform):
        return parse_metrics(self, data, heads, features, transform)  # metric_options.py
