"""A head's metric options in the config: thresholds, average, top_k,
calibration, derived_rates and the curve targets (heads.options).

The parser (pipeline.config.parser) calls `parse` for each head after
checking that every key applies to the head's type (spec.HEAD_KEYS_BY_TYPE);
`schema_properties` gives `headeval schema` the same rules. Only the
standard library: loading a config needs no TensorFlow.
"""
from pipeline.config.limits import float32

AVERAGES = ("micro", "macro", "weighted")  # heads.options.AVERAGES (a test keeps them equal)
TARGET_KEYS = ("precision_at_recall", "recall_at_precision", "threshold_at_recall")
OPTION_KEYS = ("average", "top_k", "calibration", "derived_rates") + TARGET_KEYS


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _distinct(parser, values, key, what):
    if len(set(values)) != len(values):
        parser.fail(key, "a list of distinct %s" % what, values)


def parse(parser, data: dict, key: str, n_classes: int | None) -> dict:
    """The HeadConfig fields of the options `data` (a head's mapping) gives,
    checked; `key` is the head's key path (`heads[0]`), `parser` the
    config parser (its `fail` raises the ConfigError)."""
    out = {}
    if data.get("thresholds") is not None:
        tkey = key + ".thresholds"
        raw = parser.list_of(data["thresholds"], tkey, "numbers in (0, 1)")
        for t in raw:
            if not _is_number(t) or not 0.0 < t < 1.0:
                parser.fail(tkey, "a list of numbers in (0, 1)", raw)
            if not 0.0 < float32(t) < 1.0:  # the heads hold thresholds as float32
                parser.fail(tkey, "a list of numbers in (0, 1), also as float32", raw,
                            hint="%r rounds to %r in float32" % (t, float32(t)))
        out["thresholds"] = tuple(float(t) for t in raw)
    if data.get("average") is not None:
        akey = key + ".average"
        raw = parser.list_of(data["average"], akey, "of %s" % ", ".join(AVERAGES))
        if not raw or any(a not in AVERAGES for a in raw):
            parser.fail(akey, "a non-empty list of %s" % ", ".join(AVERAGES), raw)
        _distinct(parser, raw, akey, "averages")
        out["average"] = tuple(raw)
    if data.get("top_k") is not None:
        kkey = key + ".top_k"
        raw = parser.list_of(data["top_k"], kkey, "integers")
        if not raw or any(isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n_classes
                          for k in raw):
            parser.fail(kkey, "a non-empty list of integers in [1, %d] (below n_classes)"
                        % (n_classes - 1), raw)
        _distinct(parser, raw, kkey, "integers")
        out["top_k"] = tuple(raw)
    for name in ("calibration", "derived_rates"):
        if data.get(name) is not None:
            out[name] = parser.boolean(data[name], "%s.%s" % (key, name))
    for name in TARGET_KEYS:
        if data.get(name) is not None:
            nkey = "%s.%s" % (key, name)
            raw = parser.list_of(data[name], nkey, "numbers in (0, 1]")
            if not raw or any(not _is_number(v) or not 0.0 < v <= 1.0 for v in raw):
                parser.fail(nkey, "a non-empty list of numbers in (0, 1]", raw)
            _distinct(parser, [float(v) for v in raw], nkey, "numbers")
            out[name] = tuple(float(v) for v in raw)
    return out


def schema_properties(float32_above_0: float, float32_below_1: float) -> dict:
    """JSON Schema of each option key (pipeline.config.json_schema)."""
    targets = lambda what: {  # noqa: E731
        "anyOf": [{"type": "array", "minItems": 1, "uniqueItems": True, "items": {
            "type": "number", "exclusiveMinimum": 0, "maximum": 1}}, {"type": "null"}],
        "description": what}
    flag = lambda what: {"anyOf": [{"type": "boolean"}, {"type": "null"}],  # noqa: E731
                         "description": what}
    return {
        "thresholds": {"anyOf": [{"type": "array", "items": {
            "type": "number", "exclusiveMinimum": float32_above_0,
            "exclusiveMaximum": float32_below_1}}, {"type": "null"}],
            "description": "numbers in (0, 1); positive means probability > threshold "
                           "(multi_class: the top class's probability)"},
        "average": {"anyOf": [{"type": "array", "minItems": 1, "uniqueItems": True,
                               "items": {"enum": list(AVERAGES)}}, {"type": "null"}],
                    "description": "averages over classes of precision, recall, F1, AUC, "
                                   "AUC-PR"},
        "top_k": {"anyOf": [{"type": "array", "minItems": 1, "uniqueItems": True,
                             "items": {"type": "integer", "minimum": 1}}, {"type": "null"}],
                  "description": "the k of accuracy, precision and recall at k (below "
                                 "n_classes); replaces the default 2 and 5"},
        "calibration": flag("top-class calibration and expected calibration error"),
        "derived_rates": flag("false positive/negative rates, specificity, negative "
                              "predictive value and F1 at every threshold"),
        "precision_at_recall": targets("recall targets in (0, 1]: the best precision at "
                                       "recall >= target"),
        "recall_at_precision": targets("precision targets in (0, 1]: the best recall at "
                                       "precision >= target"),
        "threshold_at_recall": targets("recall targets in (0, 1]: the highest threshold "
                                       "at recall >= target"),
    }
