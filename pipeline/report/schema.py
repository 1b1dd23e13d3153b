"""The report's files and the one definition of their columns.

A report folder holds `metrics.parquet` (one row per metric value),
`curves.parquet` (ROC and PR points), `run.json` (the config, versions and
counts; written last, it marks the report complete) and, under
`bad_examples: skip`, `rejected/*.parquet` (one row per rejected example).
docs/report.md documents every column, and the escaping rule of
the `slice` string (`slice_string`), which keeps it unambiguous for any
feature name and value.
"""
import re

import pyarrow as pa

from pipeline.report.names import (AVERAGES, BASELINE, BLESSED_FILE, CANDIDATE,  # noqa: F401
                                   COMPARISON_FILE, COUNTS_FILE, CURVES_FILE, HTML_FILE,
                                   METRICS_FILE, MODELS, NOT_BLESSED_FILE, REJECTED_DIR,
                                   REPORT_FORMAT, REPORT_MARKER, RUN_FILE, SUPPRESSED_FILE,
                                   VALIDATION_FILE, VOCABULARY_DIR)

SLICE_VALUES_TYPE = pa.list_(pa.struct([pa.field("feature", pa.string()),
                                        pa.field("value", pa.string())]))
# SPEC §4's columns, which every reader may rely on; a report of the first
# format has only these (`pipeline.report.load` fills in the rest).
METRICS_BASE_FIELDS = [
    pa.field("head", pa.string(), nullable=False),
    pa.field("slice", pa.string(), nullable=False),
    pa.field("metric", pa.string(), nullable=False),
    pa.field("class", pa.string(), nullable=True),
    pa.field("threshold", pa.float64(), nullable=True),
    pa.field("value", pa.float64(), nullable=False),
    pa.field("key", pa.string(), nullable=False),
]
# SPEC §6's columns, appended after `key` in this order.
METRICS_ADDED_FIELDS = [
    pa.field("model", pa.string(), nullable=False),
    pa.field("average", pa.string(), nullable=True),
    pa.field("k", pa.int64(), nullable=True),
    pa.field("lower", pa.float64(), nullable=True),
    pa.field("upper", pa.float64(), nullable=True),
    pa.field("stderr", pa.float64(), nullable=True),
    pa.field("slice_spec", pa.string(), nullable=False),
    pa.field("slice_values", SLICE_VALUES_TYPE, nullable=False),
]
METRICS_BASE_SCHEMA = pa.schema(METRICS_BASE_FIELDS)
METRICS_SCHEMA = pa.schema(METRICS_BASE_FIELDS + METRICS_ADDED_FIELDS)

# comparison.parquet (pipeline.report.comparison): a row per metric row of
# either model; delta = candidate - baseline, relative = delta / |baseline|.
COMPARISON_SCHEMA = pa.schema([
    pa.field("head", pa.string(), nullable=False),
    pa.field("slice", pa.string(), nullable=False),
    pa.field("slice_spec", pa.string(), nullable=False),
    pa.field("metric", pa.string(), nullable=False),
    pa.field("class", pa.string(), nullable=True),
    pa.field("threshold", pa.float64(), nullable=True),
    pa.field("average", pa.string(), nullable=True),
    pa.field("k", pa.int64(), nullable=True),
    pa.field("key", pa.string(), nullable=False),
    pa.field("candidate", pa.float64(), nullable=True),  # null: only the baseline has the row
    pa.field("baseline", pa.float64(), nullable=True),  # null: only the candidate has it
    pa.field("delta", pa.float64(), nullable=True),
    pa.field("relative", pa.float64(), nullable=True),  # null where the baseline is 0
    pa.field("delta_lower", pa.float64(), nullable=True),
    pa.field("delta_upper", pa.float64(), nullable=True),
])
# validation.parquet (pipeline.report.validation): a row per gate and row it
# checked; a gate (or one of its slice globs) that selects nothing is one
# failing row with null head/slice/key/value.
VALIDATION_SCHEMA = pa.schema([
    pa.field("gate", pa.int64(), nullable=False),
    pa.field("gate_text", pa.string(), nullable=False),
    pa.field("head", pa.string(), nullable=True),
    pa.field("slice", pa.string(), nullable=True),
    pa.field("metric", pa.string(), nullable=False),
    pa.field("class", pa.string(), nullable=True),
    pa.field("threshold", pa.float64(), nullable=True),
    pa.field("key", pa.string(), nullable=True),
    pa.field("value", pa.float64(), nullable=True),
    pa.field("baseline", pa.float64(), nullable=True),
    pa.field("bound", pa.float64(), nullable=True),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("passed", pa.bool_(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
])

CURVE_KINDS = ("roc", "pr")
CURVE_VALUES = ("tp", "fp", "tn", "fn", "precision", "recall", "fpr")
CURVES_SCHEMA = pa.schema(
    [pa.field("head", pa.string(), nullable=False),
     pa.field("slice", pa.string(), nullable=False),
     pa.field("class", pa.string(), nullable=True),
     pa.field("curve", pa.string(), nullable=False),
     pa.field("threshold", pa.float64(), nullable=False)]
    + [pa.field(name, pa.float64(), nullable=False) for name in CURVE_VALUES]
    + [pa.field("model", pa.string(), nullable=False)])
CURVES_BASE_SCHEMA = pa.schema([f for f in CURVES_SCHEMA if f.name != "model"])

REJECTED_SCHEMA = pa.schema([
    pa.field("file", pa.string()),
    pa.field("index", pa.int64()),
    pa.field("kind", pa.string()),
    pa.field("feature", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("record", pa.binary()),
])


def rows_to_table(rows: list, schema: pa.Schema) -> pa.Table:
    """Row dicts -> a pyarrow Table of exactly `schema`.

    Every row must have exactly the schema's columns; non-nullable columns
    must hold no None. Raises ValueError naming the row and column.
    """
    names = set(schema.names)
    for i, row in enumerate(rows):
        if set(row) != names:
            missing, extra = sorted(names - set(row)), sorted(set(row) - names)
            raise ValueError("row %d must have exactly the columns %s; missing %s, unexpected "
                             "%s" % (i, schema.names, missing, extra))
    try:
        table = pa.Table.from_pylist(list(rows), schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ValueError("rows do not fit the schema %s: %s" % (schema, e)) from e
    for field in schema:
        column = table.column(field.name)
        if not field.nullable and column.null_count:
            first = next(i for i, v in enumerate(column.to_pylist()) if v is None)
            raise ValueError("row %d: column %r must not be null; got None"
                             % (first, field.name))
    return table


def columns_to_table(columns: dict, schema: pa.Schema) -> pa.Table:
    """{column: list, numpy or pyarrow array} -> a pyarrow Table of exactly `schema`;
    raises ValueError naming a missing, unexpected or null column."""
    if set(columns) != set(schema.names):
        raise ValueError("columns must be exactly %s; missing %s, unexpected %s"
                         % (schema.names, sorted(set(schema.names) - set(columns)),
                            sorted(set(columns) - set(schema.names))))
    try:
        table = pa.table({f.name: columns[f.name].cast(f.type)
                          if isinstance(columns[f.name], pa.Array)
                          else pa.array(columns[f.name], f.type) for f in schema},
                         schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ValueError("columns do not fit the schema %s: %s" % (schema, e)) from e
    for field in schema:
        if not field.nullable and table.column(field.name).null_count:
            raise ValueError("column %r must not be null" % field.name)
    return table


def check_curves(table: pa.Table) -> pa.Table:
    """`table` (of CURVES_SCHEMA), after checking every `curve` is one of
    CURVE_KINDS; ValueError naming the first that is not."""
    for kind in table.column("curve").unique().to_pylist():
        if kind not in CURVE_KINDS:
            raise ValueError("curve must be one of %s; got %r" % (CURVE_KINDS, kind))
    return table


# -- The slice string ---------------------------------------------------------------
# 'f=v,g=w' in slice-spec order ('' overall). Each feature name and value is
# written with `\` as `\\`, `,` as `\,`, `=` as `\=`, control characters
# and bytes that are not UTF-8 as `\xHH`: two different slices never print
# alike, and the string splits back into its pairs (`slice_pairs`).
_SLICE_ESCAPES = {ord("\\"): "\\\\", ord(","): "\\,", ord("="): "\\="}
_SLICE_ESCAPES.update({c: "\\x%02x" % c for c in list(range(0x20)) + [0x7F]})
# Bytes that are not UTF-8 arrive as lone surrogates (`surrogateescape`).
_SLICE_ESCAPES.update({0xDC00 + b: "\\x%02x" % b for b in range(0x80, 0x100)})
_SLICE_TOKEN = re.compile(r"\\x[0-9a-f]{2}|\\.|[,=]|[^\\,=]+", re.S)


def slice_text(value) -> str:
    """One feature name or value as the slice string writes it: text (bytes
    decoded as UTF-8, bytes that are not kept as `\\xHH`) with the escapes
    above."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    return str(value).translate(_SLICE_ESCAPES)


def slice_string(pairs) -> str:
    """[(feature, value text)] -> 'f=v,g=w', the texts already `slice_text`."""
    return ",".join("%s=%s" % pair for pair in pairs)


_UNESCAPE = re.compile(r"\\(x[0-9a-f]{2}|.)", re.S)


def slice_unescape(text: str) -> str:
    """A feature name or value as `slice_pairs` gives it -> its text: the
    escapes undone, except `\\xHH` of a byte that is not UTF-8 (a string
    column cannot hold it), which stays as written."""
    def one(m):
        code = m.group(1)
        if len(code) == 3:
            byte = int(code[1:], 16)
            return chr(byte) if byte < 0x80 else m.group(0)
        return code
    return _UNESCAPE.sub(one, text)


def slice_columns(slice_: str) -> tuple:
    """(slice_spec, slice_values) of a slice string (SPEC §6): the feature
    names as escaped in the slice string joined by `,`, and the
    [{feature, value}] pairs as text (`slice_unescape`)."""
    pairs = slice_pairs(slice_)
    return (",".join(feature for feature, _ in pairs),
            [{"feature": slice_unescape(f), "value": slice_unescape(v)} for f, v in pairs])


def slice_pairs(slice_: str) -> list:
    """'f=v,g=w' -> [('f', 'v'), ('g', 'w')] as written (escapes kept):
    splits at the `,` and `=` that are not escaped."""
    if slice_ == "":
        return []
    pairs, feature, part = [], None, []
    for token in _SLICE_TOKEN.findall(slice_):
        if token == ",":
            pairs.append((feature, "".join(part)))
            feature, part = None, []
        elif token == "=" and feature is None:
            feature, part = "".join(part), []
        else:
            part.append(token)
    pairs.append((feature, "".join(part)))
    return pairs
