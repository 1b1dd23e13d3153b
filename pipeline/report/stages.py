"""The Beam stages that turn merged metric states into the report's tables.

    (slice string, merged metrics) ─> SliceRows ─> GatherSlices ─> WriteReport

`SliceRows` makes one slice's rows where its states were merged, so only
small pyarrow tables travel to the one element that writes the Parquet
files. `GatherSlices` gathers them into that element, and fails as soon as
a slice spec has more than `max_slices` slices (each worker counts only
those it met: `pipeline.evaluate.slicing`). The stages get what they need
(head names, the empty overall slice's tables) from the driver, not the
config.
"""
import collections

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.evaluate.build import build_heads
from pipeline.evaluate.intervals import SliceIntervals
from pipeline.evaluate.slicing import check_slice_count
from pipeline.io.files import write_table
from pipeline.io.paths import join
from pipeline.report.rows import curve_columns, metric_rows
from pipeline.report.schema import (CURVES_FILE, CURVES_SCHEMA, METRICS_FILE, METRICS_SCHEMA,
                                    check_curves, columns_to_table, rows_to_table, slice_pairs,
                                    slice_text)


def slice_tables(key: str, metrics: dict, head_names, intervals: dict = None) -> tuple:
    """One slice's report rows as (key, metrics table, curves table): they
    travel between stages far more compactly than metric states or row dicts.
    `intervals`: {row key: (lower, upper, stderr)}."""
    return (key, rows_to_table(metric_rows(key, metrics, head_names, intervals=intervals),
                               METRICS_SCHEMA),
            columns_to_table(curve_columns(key, metrics, head_names), CURVES_SCHEMA))


def slice_order(slice_specs, slice_keys) -> list:
    """Report order of slice strings: overall first, then by slice spec in
    config order (`slice_specs`: the config's `slices`), then by value."""
    specs = [tuple(slice_text(f) for f in s) for s in slice_specs]

    def spec_of(key):
        if key == "":
            return 0
        names = tuple(feature for feature, _ in slice_pairs(key))
        return specs.index(names) if names in specs else len(specs)
    return sorted(slice_keys, key=lambda k: (spec_of(k), k))


class SliceRows(beam.DoFn):
    """(slice string, merged metrics) -> (slice string, metrics table, curves
    table): the states become rows where they were merged, so only rows
    are gathered into the one report-writing element. With `config` (whose
    metrics.confidence_intervals is on), the rows get their intervals from
    the slice's replicate state."""

    def __init__(self, head_names, config=None):
        self._names = list(head_names)
        self._config = config
        self._intervals = None

    def setup(self):
        if self._config is not None:
            head, _ = build_heads(self._config)
            self._intervals = SliceIntervals(self._config.metrics.confidence_intervals, head)

    def process(self, element):
        key, metrics = element
        intervals = None if self._intervals is None else self._intervals.of_slice(metrics)
        yield slice_tables(key, metrics, self._names, intervals)


class GatherSlices(beam.CombineFn):
    """[(slice string, metrics table, curves table)] in one list, as
    `beam.combiners.ToList`, but a slice spec with more than `max_slices`
    slices fails (ConfigError, one line) once the list holds them, not after
    memory is full."""

    def __init__(self, slice_specs, max_slices):
        self._specs = {tuple(slice_text(f) for f in s): tuple(s) for s in slice_specs}
        self._max = max_slices

    def create_accumulator(self):
        return [], collections.Counter()

    def _check(self, counts, names):
        check_slice_count(self._specs.get(names, names), counts[names], self._max,
                          "gathered for the report")

    def add_input(self, accumulator, element):
        slices, counts = accumulator
        names = tuple(feature for feature, _ in slice_pairs(element[0]))
        slices.append(element)
        counts[names] += 1
        self._check(counts, names)
        return accumulator

    def merge_accumulators(self, accumulators):
        slices, counts = self.create_accumulator()
        for more, more_counts in accumulators:
            slices.extend(more)
            counts.update(more_counts)
        for names in counts:
            self._check(counts, names)
        return slices, counts

    def extract_output(self, accumulator):
        return accumulator[0]


def gather_slices(slice_specs, max_slices) -> beam.PTransform:
    """The stage that gathers every slice's tables into one list."""
    return beam.CombineGlobally(GatherSlices(slice_specs, max_slices))


def _sorted(table, slice_rank, columns):
    """`table` in report order: slice (overall first), then `columns`, a
    null class or threshold before any other value."""
    keys = {"_rank": pa.array([slice_rank[s] for s in table.column("slice").to_pylist()],
                              pa.int64())}
    for c in columns:
        column = table.column(c)
        if column.null_count:
            low = "" if pa.types.is_string(column.type) else -float("inf")
            column = pc.fill_null(column, low)
        keys["_" + c] = column
    order = pc.sort_indices(pa.table(keys), sort_keys=[(k, "ascending") for k in keys])
    return table.take(order)


class WriteReport(beam.DoFn):
    """[(slice string, metrics table, curves table)] -> metrics.parquet and
    curves.parquet in `folder` (any Beam filesystem). The overall slice is
    always reported: `empty_overall` (slice_tables of the heads' empty
    metrics) stands in when nothing was evaluated."""

    def __init__(self, folder, slice_specs, empty_overall):
        self._folder = folder
        self._specs = [tuple(s) for s in slice_specs]
        self._empty_overall = empty_overall

    def process(self, slices):
        slices = list(slices)
        if "" not in {key for key, _, _ in slices}:
            slices.append(self._empty_overall)
        order = slice_order(self._specs, [key for key, _, _ in slices])
        rank = {key: i for i, key in enumerate(order)}
        metrics = pa.concat_tables([m for _, m, _ in slices]).cast(METRICS_SCHEMA)
        curves = pa.concat_tables([c for _, _, c in slices]).cast(CURVES_SCHEMA)
        write_table(_sorted(metrics, rank, ["head", "key", "class", "threshold"])
                    .select(METRICS_SCHEMA.names), join(self._folder, METRICS_FILE))
        write_table(_sorted(check_curves(curves), rank, ["head", "curve", "class", "threshold"])
                    .select(CURVES_SCHEMA.names), join(self._folder, CURVES_FILE))
        yield metrics.num_rows
