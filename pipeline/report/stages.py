"""The Beam stages that turn merged metric states into the report's tables.

    ((model, slice string), merged metrics) ─> SliceRows ─> GatherSlices ─> WriteReport

`SliceRows` makes one slice's rows of one model (the candidate, or the
baseline) where its states were merged, so only small pyarrow tables travel
to the one element that writes the Parquet files. `GatherSlices` gathers
them into that element, and fails as soon as a slice spec has more than
`max_slices` slices (each worker counts only those it met:
`pipeline.evaluate.slicing`); a slice counts once, whatever the number of
models. `WriteReport` leaves out the slices of fewer than `min_slice_size`
examples, and counts them in SUPPRESSED_FILE for run.json. The stages get
what they need (head names, the empty overall slice's tables) from the
driver, not the config.
"""
import collections

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from heads import custom
from pipeline.config.slices import bucket_labels
from pipeline.config.spec import as_slice_spec
from pipeline.errors import CustomMetricError
from pipeline.evaluate.build import build_heads
from pipeline.evaluate.intervals import SliceIntervals
from pipeline.evaluate.slicing import check_slice_count
from pipeline.io.files import write_json, write_table
from pipeline.io.paths import join
from pipeline.report.fairness import with_fairness
from pipeline.report.rows import curve_columns, metric_rows
from pipeline.report.schema import (BASELINE, CANDIDATE, CURVES_FILE, CURVES_SCHEMA,
                                    METRICS_FILE, METRICS_SCHEMA, SUPPRESSED_FILE, check_curves,
                                    columns_to_table,
                                    rows_to_table, slice_pairs, slice_text)


def slice_tables(key: str, metrics: dict, head_names, model: str = CANDIDATE,
                 intervals: dict = None) -> tuple:
    """One slice's report rows of `model` as (key, metrics table, curves
    table): they travel between stages far more compactly than metric
    states or row dicts. `intervals`: {row key: (lower, upper, stderr)}. A
    custom metric's `result` that fails (user code) is a one-line
    CustomMetricError."""
    try:
        rows = metric_rows(key, metrics, head_names, model=model, intervals=intervals)
    except custom.CustomMetricError as e:
        raise CustomMetricError("metrics.custom: %s (slice %r)" % (e, key)) from e
    return (key, rows_to_table(rows, METRICS_SCHEMA),
            columns_to_table(curve_columns(key, metrics, head_names, model=model),
                             CURVES_SCHEMA))


def slice_order(slice_specs, slice_keys) -> list:
    """Report order of slice strings: overall first, then by slice spec in
    config order (`slice_specs`: the config's `slices`), then by value, a
    bucketed feature's buckets in their order."""
    specs = [as_slice_spec(s) for s in slice_specs]
    names = [tuple(slice_text(f) for f in s) for s in specs]
    ranks = {}  # (spec, position of a bucketed feature) -> {bucket label: its rank}
    for i, spec in enumerate(specs):
        for j, feature in enumerate(spec):
            if spec.boundaries_of(feature) is not None:
                labels = bucket_labels(spec.boundaries_of(feature))
                ranks[i, j] = dict(zip(labels, range(len(labels))))

    def order(key):
        if key == "":
            return 0, ()
        pairs = slice_pairs(key)
        spec = tuple(feature for feature, _ in pairs)
        i = names.index(spec) if spec in names else len(names)
        if not any((i, j) in ranks for j in range(len(pairs))):
            return i, ((0, key),)
        return i, tuple((ranks[i, j].get(v, -1), v) if (i, j) in ranks else (0, v)
                        for j, (_, v) in enumerate(pairs))
    return sorted(slice_keys, key=order)


class SliceRows(beam.DoFn):
    """((model, slice string), merged metrics) -> (slice string, metrics
    table, curves table), the tables' `model` column the model: the states
    become rows where they were merged, so only rows are gathered into the
    one report-writing element. With `config` (whose
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
        (model, key), metrics = element
        intervals = None if self._intervals is None else self._intervals.of_slice(metrics)
        yield slice_tables(key, metrics, self._names, model, intervals)


class GatherSlices(beam.CombineFn):
    """[(slice string, metrics table, curves table)] in one list, as
    `beam.combiners.ToList`, but a slice spec with more than `max_slices`
    slices fails (ConfigError, one line) once the list holds them, not after
    memory is full. A slice is counted once: the candidate's and the
    baseline's tables of a slice are one slice."""

    def __init__(self, slice_specs, max_slices):
        self._specs = {tuple(slice_text(f) for f in s): tuple(s) for s in slice_specs}
        self._max = max_slices

    def create_accumulator(self):
        return [], collections.defaultdict(set)  # the tables; spec -> its slice strings

    def _check(self, seen, names):
        check_slice_count(self._specs.get(names, names), len(seen[names]), self._max,
                          "gathered for the report")

    def add_input(self, accumulator, element):
        slices, seen = accumulator
        names = tuple(feature for feature, _ in slice_pairs(element[0]))
        slices.append(element)
        seen[names].add(element[0])
        self._check(seen, names)
        return accumulator

    def merge_accumulators(self, accumulators):
        slices, seen = self.create_accumulator()
        for more, more_seen in accumulators:
            slices.extend(more)
            for names, keys in more_seen.items():
                seen[names] |= keys
        for names in seen:
            self._check(seen, names)
        return slices, seen

    def extract_output(self, accumulator):
        return accumulator[0]


def gather_slices(slice_specs, max_slices) -> beam.PTransform:
    """The stage that gathers every slice's tables into one list."""
    return beam.CombineGlobally(GatherSlices(slice_specs, max_slices))


def _sorted(table, slice_rank, columns):
    """`table` in report order: the candidate's rows, then the baseline's;
    in each, slice (overall first), then `columns`, a null class or
    threshold before any other value."""
    names = sorted(slice_rank, key=slice_rank.get)  # position in `names` is the rank
    rank = pc.index_in(table.column("slice"), value_set=pa.array(names, pa.string()))
    if rank.null_count:  # every slice of the tables has a rank
        raise KeyError("slices without a rank: %s" % pc.unique(
            pc.filter(table.column("slice"), pc.is_null(rank))).to_pylist()[:5])
    keys = {"_model": pc.cast(pc.equal(table.column("model"), BASELINE), pa.int8()),
            "_rank": rank}
    for c in columns:
        column = table.column(c)
        if column.null_count:
            low = "" if pa.types.is_string(column.type) else -float("inf")
            column = pc.fill_null(column, low)
        keys["_" + c] = column
    order = pc.sort_indices(pa.table(keys), sort_keys=[(k, "ascending") for k in keys])
    return table.take(order)


def example_count(metrics: pa.Table) -> float:
    """The fewest examples a slice's metrics table counts (`example_count`,
    unweighted, over its heads)."""
    counts = metrics.filter(pc.equal(metrics.column("metric"), "example_count"))
    return pc.min(counts.column("value")).as_py() or 0


class WriteReport(beam.DoFn):
    """[(slice string, metrics table, curves table)] -> metrics.parquet and
    curves.parquet in `folder` (any Beam filesystem). The overall slice is
    always reported: `empty_overall` (slice_tables of the heads' empty
    metrics, one per model) stands in when nothing was evaluated (for every
    model at once: the models are evaluated on the same examples). With
    `min_slice_size`, the other slices of fewer examples are left out, and
    their number is written to SUPPRESSED_FILE. `fairness` (the config's
    `metrics.fairness`, or None) adds the fairness rows
    (`pipeline.report.fairness`), computed from the rows kept."""

    def __init__(self, folder, slice_specs, empty_overall, min_slice_size=None,
                 fairness=None):
        self._folder = folder
        self._specs = list(slice_specs)
        self._empty_overall = list(empty_overall)
        self._min_size = min_slice_size
        self._fairness = fairness

    def process(self, slices):
        slices = list(slices)
        if "" not in {key for key, _, _ in slices}:
            slices.extend(self._empty_overall)
        if self._min_size is not None:
            kept = [s for s in slices if s[0] == "" or example_count(s[1]) >= self._min_size]
            # a slice counts once, whatever the number of models
            write_json({"suppressed": len({s[0] for s in slices} - {s[0] for s in kept})},
                       join(self._folder, SUPPRESSED_FILE))
            slices = kept
        order = slice_order(self._specs, [key for key, _, _ in slices])
        rank = {key: i for i, key in enumerate(order)}
        metrics = with_fairness(pa.concat_tables([m for _, m, _ in slices])
                                .cast(METRICS_SCHEMA), self._fairness)
        curves = pa.concat_tables([c for _, _, c in slices]).cast(CURVES_SCHEMA)
        write_table(_sorted(metrics, rank, ["head", "key", "class", "threshold"])
                    .select(METRICS_SCHEMA.names), join(self._folder, METRICS_FILE))
        write_table(_sorted(check_curves(curves), rank, ["head", "curve", "class", "threshold"])
                    .select(CURVES_SCHEMA.names), join(self._folder, CURVES_FILE))
        yield metrics.num_rows
