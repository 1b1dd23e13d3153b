"""The limits that keep a run's memory bounded whatever the config or the
data (docs/reliability.md, "Limits"), the per-slice memory estimate they
are checked against, and the clipping of every user value shown in an
error message (a huge name or value must not make a huge message).

Each limit is checked before the pipeline starts where the config alone
decides it (pipeline.config.parser), else where the data shows it.
"""
import re
import reprlib
import struct

from pipeline.config.spec import (BINARY, HISTOGRAM, MULTI_CLASS, MULTI_LABEL, REGRESSION,
                                  AucConfig, HeadConfig)

MAX_YAML_NODES = 1_000_000        # nodes of the config's YAML, aliases expanded
MAX_FEATURE_VALUES = 1_000_000    # values per example of one fixed-length feature
MAX_BATCH_BYTES = 1 << 30         # batch_size x the fixed-length features' bytes
MAX_SLICE_BYTES = 1 << 30         # estimated metric state and report rows per slice
MAX_SLICE_VALUE_BYTES = 1024      # one slice value (a string feature's value)
MAX_CONFUSION_MATRIX_CLASSES = 256  # heads.multi_class, repeated: a test keeps them equal
MAX_MESSAGE_VALUE = 200           # characters of a value shown in an error message
# heads' AUC layout, repeated (a test keeps them equal): the default cap on a
# histogram's buckets (heads.buckets.DEFAULT_MAX_BUCKETS) and the most points
# the report gives a curve; and, measured (the test of `slice_bytes`), the
# bytes of a full curve state per bucket and of a curve's report row.
DEFAULT_AUC_BUCKETS = 9_000
_CURVE_POINTS = 1000
_BUCKET_BYTES = 56
_CURVE_ROW_BYTES = 90


def format_bytes(n) -> str:
    """1536 -> '1.5 KiB' (for messages)."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" if unit == "bytes" else "%.1f %s") % (n, unit)
        n /= 1024


def slice_bytes(head: HeadConfig, auc: AucConfig) -> int:
    """An upper estimate of the bytes one slice costs for `head`: its
    metric states at their largest and the report rows made from them.

    Per AUC curve (one per binary head, one per class of the others, and a
    pooled one for multi-label): a histogram of at most `buckets` entries
    (method: exact grows with the distinct scores instead, which no config
    bounds) and up to two curves of `_CURVE_POINTS` report rows; per metric
    object and report row about 1 KiB; the multi-class confusion matrix (up
    to MAX_CONFUSION_MATRIX_CLASSES classes) n_classes^2 cells of about 720
    bytes (state and row, as Python builds the rows). Checked against real
    filled slices in tests/pipeline/test_config.py."""
    per_curve = 2 * _CURVE_POINTS * _CURVE_ROW_BYTES + 4 * 1024
    if auc.method == HISTOGRAM:
        per_curve += (auc.buckets or DEFAULT_AUC_BUCKETS) * _BUCKET_BYTES
    thresholds = len(head.thresholds or ()) + 1
    if head.type == BINARY:
        return per_curve + thresholds * 4 * 1024 + 16 * 1024
    if head.type == REGRESSION:
        return 16 * 1024 + head.label_dimension * 5 * 8
    n = head.n_classes
    per_class = per_curve + 4 * 1024
    size = n * per_class + thresholds * 4 * 1024 + 16 * 1024
    if head.type == MULTI_LABEL:
        size += n * thresholds * 4 * 1024 + per_curve
    if head.type == MULTI_CLASS and n <= MAX_CONFUSION_MATRIX_CLASSES:
        size += n * n * 720
    return size


def batch_too_big(features: dict, batch_size: int):
    """Why a batch of the fixed-length `features` (strings counted as 8
    bytes) is over MAX_BATCH_BYTES, or None: the parser could not hold it."""
    per_example = sum(f.size * (4 if f.dtype == "float32" else 8)
                      for f in features.values() if not f.varlen)
    if batch_size * per_example <= MAX_BATCH_BYTES:
        return None
    return "%d examples x %s each = %s; lower batch_size" % (
        batch_size, format_bytes(per_example), format_bytes(batch_size * per_example))


def slice_too_big(heads, auc: AucConfig):
    """(key, why) when the heads' metric state and report rows for one slice
    (`slice_bytes`, an upper estimate) add up to more than MAX_SLICE_BYTES,
    else None: every slice holds that much, on the workers and in the report."""
    sizes = [slice_bytes(h, auc) for h in heads]
    if sum(sizes) <= MAX_SLICE_BYTES:
        return None
    i = max(range(len(heads)), key=sizes.__getitem__)
    key = "heads[%d].%s" % (i, "n_classes" if heads[i].n_classes else "thresholds")
    return key, ("the heads need about %s of metric state and report rows per slice "
                 "(heads[%d]: %s); the limit is %s per slice: evaluate fewer classes or "
                 "thresholds%s" % (format_bytes(sum(sizes)), i, format_bytes(sizes[i]),
                                   format_bytes(MAX_SLICE_BYTES), ", or lower metrics.auc.buckets"
                                   if auc.method == HISTOGRAM else ""))


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxtuple = 3, 10, 6, 10
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = MAX_MESSAGE_VALUE


def show_value(value, limit=80):
    """A user value for an error message: repr'd without building the whole
    of a huge one (reprlib bounds each level), then cut to `limit` chars."""
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        text = "<an integer of more than %d digits>" % (value.bit_length() * 3 // 10)
    return clip(text, limit)


def clip(text: str, limit: int = MAX_MESSAGE_VALUE) -> str:
    """`text` cut to about `limit` characters, saying how long it was: every
    name or value from a config or a record goes through this (or `show_value`)
    on its way into an error message."""
    text = str(text)
    if len(text) <= limit:
        return text
    return "%s... (%d chars)" % (text[:limit], len(text))



def float32(value: float) -> float:
    """`value` rounded to float32, as the heads hold thresholds (without
    numpy: loading a config imports no array library)."""
    return struct.unpack("f", struct.pack("f", value))[0]


# A float YAML 1.1 (PyYAML) reads as a string: no '.' in the mantissa, or no
# sign in the exponent ('5e-1', '1.0e5').
_EXPONENT = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+))[eE]([-+]?)(\d+)$")


def exponent_hint(value) -> str:
    """For a string (or the first in a list) that is a float in exponent
    form that YAML 1.1 reads as text: how to write it as a number; else ''."""
    for v in value if isinstance(value, list) else [value]:
        match = _EXPONENT.match(v) if isinstance(v, str) else None
        if match and ("." not in match.group(1) or not match.group(2)):
            mantissa, sign, digits = match.groups()
            if "." not in mantissa:
                mantissa += ".0"
            return "YAML 1.1 reads %s as text: write %s" % (
                clip(v, 40), clip("%se%s%s" % (mantissa, sign or "+", digits), 60))
    return ""
