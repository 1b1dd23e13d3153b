"""The `slices:` section of a config, and how a bucket of values is named.

A slice spec is a list of feature names (`[country, plan]`; `[]` is the
overall slice) or a mapping:

    {feature: age, boundaries: [18, 25, 35, 50]}          buckets of a numeric feature
    {features: [age, country], boundaries: {age: [18, 65]}}
    {features: [country, plan], where: {country: [US, DE]}}  only these values

A var-length feature gives one slice per distinct value of an example (the
example counts in each). A float feature needs `boundaries`: its distinct
values would each be a slice. Checked here, before anything runs (the
parser's helpers make the messages); `bucket_labels` names the buckets, for
the slicing (pipeline.evaluate.slicing) and the report's order alike.
"""
import math

from pipeline.config.spec import SLICE_SPEC_KEYS, SliceSpec

_EXPECTED = ("a list of feature names ([] is the overall slice) or a mapping {feature or "
             "features, boundaries, where}")


def _number_text(x: float) -> str:
    """A boundary as a bucket label writes it: 18, 2.5, 1e+20."""
    return "%d" % x if x == int(x) and abs(x) < 2 ** 53 else repr(float(x))


def bucket_labels(boundaries) -> list:
    """The names of the buckets `boundaries` (sorted, finite) make, in their
    order: `[-inf..b0)`, `[b0..b1)`, ..., `[bn..inf]`, then `nan` (the
    bucket of NaN values). Written with `..`, neither `,` nor `=`, so a
    slice string holds them unescaped."""
    texts = [_number_text(b) for b in boundaries]
    lows, highs = ["-inf"] + texts, texts + ["inf"]
    labels = ["[%s..%s)" % pair for pair in zip(lows, highs)]
    labels[-1] = labels[-1][:-1] + "]"  # +inf itself is in the last bucket
    return labels + ["nan"]


def parse_slices(p, data, features, transform) -> tuple:
    """The config's `slices` as SliceSpecs, the overall slice first. `p`:
    the parser (pipeline.config.parser), whose checks name the key."""
    if data is None:
        return (SliceSpec(),)
    p.list_of(data, "slices", "slice specs: " + _EXPECTED)
    specs = []
    for i, entry in enumerate(data):
        key = "slices[%d]" % i
        spec = _spec(p, entry, key, features, transform)
        if spec.features in [s.features for s in specs]:
            p.fail(key, "different from the slices before it (its features name its slices)",
                   entry)
        specs.append(spec)
    return (SliceSpec(),) + tuple(s for s in specs if s.features)


def _spec(p, entry, key, features, transform) -> SliceSpec:
    if isinstance(entry, list):
        names = [(name, "%s[%d]" % (key, j)) for j, name in enumerate(entry)]
        boundaries, where = {}, {}
    elif isinstance(entry, dict):
        p.mapping(entry, key, SLICE_SPEC_KEYS, what=_EXPECTED)
        if ("feature" in entry) == ("features" in entry):
            p.fail(key, "a mapping with exactly one of `feature` (a name) or `features` "
                   "(a list of names)", entry)
        if "feature" in entry:
            names = [(entry["feature"], key + ".feature")]
        else:
            listed = p.list_of(entry["features"], key + ".features", "feature names")
            if not listed:
                p.fail(key + ".features", "a non-empty list of feature names ([] is the "
                       "overall slice)", listed)
            names = [(name, "%s.features[%d]" % (key, j)) for j, name in enumerate(listed)]
        boundaries = _boundaries(p, entry.get("boundaries"), key + ".boundaries",
                                 [n for n, _ in names], "feature" in entry)
        where = _mapping_of_lists(p, entry.get("where"), key + ".where",
                                  [n for n, _ in names], "values")
    else:
        p.fail(key, _EXPECTED + " (e.g. [%s])" % (entry if isinstance(entry, str)
                                                  else "country"), entry)
    for name, name_key in names:
        p.feature_ref(name, name_key, features, transform, _shape_check)
    order = [n for n, _ in names]
    if len(set(order)) != len(order):
        p.fail(key, "a list of distinct feature names", entry)
    for name, name_key in names:
        f = features.get(name)
        if f is not None and f.dtype == "float32" and name not in boundaries:
            p.fail(name_key, "a feature that is not float32, or one with boundaries: "
                   "{feature: %s, boundaries: [b1, b2, ...]}" % name, name,
                   hint="each distinct float would be a slice")
        if f is not None and f.dtype == "string" and name in boundaries:
            p.fail("%s.boundaries" % key, "given for numeric features only", entry["boundaries"],
                   hint="input.features.%s is a string feature" % name)
    for name, values in where.items():
        _where_values(p, "%s.where.%s" % (key, name), values, features.get(name),
                      name in boundaries)
    return SliceSpec(features=tuple(order),
                     boundaries=tuple((f, boundaries[f]) for f in order if f in boundaries),
                     where=tuple((f, tuple(where[f])) for f in order if f in where))


def _shape_check(f):
    if not f.varlen and not f.holds(1):
        return "a feature of shape [] or [1] (one value per example), or a varlen one"
    return None


def _mapping_of_lists(p, data, key, names, what) -> dict:
    """{feature of the spec: non-empty list} (None: {})."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        p.fail(key, "a mapping {feature: [%s]}" % what, data)
    out = {}
    for name, values in data.items():
        if name not in names:
            p.fail("%s.%s" % (key, name), "a feature of the slice spec (%s)" % ", ".join(
                map(str, names)), name)
        if not isinstance(values, list) or not values:
            p.fail("%s.%s" % (key, name), "a non-empty list of %s" % what, values)
        out[name] = values
    return out


def _boundaries(p, data, key, names, one_feature) -> dict:
    """{feature: (sorted, distinct, finite floats)}; with `feature:` the
    boundaries are a list, with `features:` a mapping."""
    if data is None:
        return {}
    as_list = isinstance(data, list) and len(names) == 1
    if as_list:
        if not data:
            p.fail(key, "a non-empty list of numbers (the bucket boundaries)", data)
        data = {names[0]: data}
    elif one_feature:
        p.fail(key, "a list of numbers (the bucket boundaries)", data)
    out = {}
    for name, values in _mapping_of_lists(p, data, key, names, "numbers").items():
        where = key if as_list else "%s.%s" % (key, name)
        if not all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b)
                   for b in values):
            p.fail(where, "a list of finite numbers", values)
        if any(a >= b for a, b in zip(values, values[1:])):
            p.fail(where, "a list of increasing numbers (sorted, each once)", values)
        out[name] = tuple(float(b) for b in values)
    return out


def _where_values(p, key, values, feature, bucketed):
    """Values of `where` as the feature's dtype: strings, or integers for
    an int64 feature (either, for a transform's output)."""
    if bucketed:
        p.fail(key, "absent for a feature with boundaries (choose the boundaries instead)",
               values)
    if feature is not None and feature.dtype == "int64":
        ok, what = (lambda v: isinstance(v, int) and not isinstance(v, bool)), "integers"
    elif feature is not None:
        ok, what = (lambda v: isinstance(v, str)), "strings"
    else:
        ok, what = (lambda v: isinstance(v, (int, str)) and not isinstance(v, bool)), \
            "strings or integers"
    for v in values:
        if not ok(v):
            p.fail(key, "a list of %s (the feature's values)" % what, values,
                   hint="quote values YAML reads as numbers or booleans"
                   if what == "strings" else "")
