"""The interval of the change candidate − baseline, per slice and row.

With a baseline and confidence intervals, both models' slice states hold
replicate states of the same records (the same replicate groups, so the
same replicate weights): replicate r of the change is replicate r of the
candidate minus replicate r of the baseline, and its spread gives an
interval of the *paired* difference, far narrower than one made from the
two models' own intervals (`heads.intervals.paired_difference`).

    ((model, slice), merged metrics) ─> by slice ─> PairedIntervals ─> one list
        ─> WritePairedIntervals: PAIRED_FILE in the report folder

`pipeline.report.validation.finish_comparison` then fills comparison.parquet's
`delta_lower` / `delta_upper` from PAIRED_FILE and deletes it.
"""
import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.evaluate.build import build_heads
from pipeline.evaluate.intervals import SliceIntervals
from pipeline.io.files import write_table
from pipeline.io.paths import join
from pipeline.report.rows import split_head
from pipeline.report.schema import BASELINE, CANDIDATE

PAIRED_FILE = "_paired_intervals.parquet"  # folded into comparison.parquet, then deleted
PAIRED_SCHEMA = pa.schema([("head", pa.string()), ("slice", pa.string()), ("key", pa.string()),
                           ("delta_lower", pa.float64()), ("delta_upper", pa.float64()),
                           ("delta_stderr", pa.float64())])


def by_slice(element):
    """((model, slice), metrics) -> (slice, (model, metrics))."""
    (model, key), metrics = element
    return key, (model, metrics)


class PairedIntervals(beam.DoFn):
    """(slice, [(model, merged metrics)]) -> one small table of the slice's
    paired intervals (PAIRED_SCHEMA), for the rows both models have."""

    def __init__(self, head_names, config):
        self._names = list(head_names)
        self._config = config
        self._intervals = None

    def setup(self):
        head, _ = build_heads(self._config)
        self._intervals = SliceIntervals(self._config.metrics.confidence_intervals, head)

    def process(self, element):
        key, models = element
        by_model = dict(models)
        if CANDIDATE not in by_model or BASELINE not in by_model:
            return
        paired = self._intervals.paired(by_model[CANDIDATE], by_model[BASELINE])
        rows = {"head": [], "slice": [], "key": [], "delta_lower": [], "delta_upper": [],
                "delta_stderr": []}
        for row_key, (_, lower, upper, stderr) in sorted(paired.items()):
            head, short_key = split_head(row_key, self._names)
            for column, value in (("head", head), ("slice", key), ("key", short_key),
                                  ("delta_lower", lower), ("delta_upper", upper),
                                  ("delta_stderr", stderr)):
                rows[column].append(value)
        yield pa.table(rows, schema=PAIRED_SCHEMA)


class WritePairedIntervals(beam.DoFn):
    """[tables] -> PAIRED_FILE in `folder`."""

    def __init__(self, folder):
        self._folder = folder

    def process(self, tables):
        tables = list(tables) or [PAIRED_SCHEMA.empty_table()]
        write_table(pa.concat_tables(tables), join(self._folder, PAIRED_FILE))
        yield len(tables)


def paired_stage(merged, head_names, config, folder):
    """Adds the paired intervals' branch to the merged per-(model, slice)
    metrics `merged` (only with a baseline and confidence intervals)."""
    return (merged
            | "BySlice" >> beam.Map(by_slice)
            | "BothModels" >> beam.GroupByKey()
            | "PairedIntervals" >> beam.ParDo(PairedIntervals(head_names, config))
            | "GatherPaired" >> beam.combiners.ToList()
            | "WritePaired" >> beam.ParDo(WritePairedIntervals(folder)))


def with_paired_intervals(comparison: pa.Table, paired: pa.Table) -> pa.Table:
    """`comparison` (COMPARISON_SCHEMA) with `delta_lower` / `delta_upper`
    from the paired intervals of the same (head, slice, key); null where
    there is none (a count, an undefined value or replicate)."""
    def ids(t):
        return pc.binary_join_element_wise(t.column("head"), t.column("slice"), t.column("key"),
                                           "\x00")
    where = pc.index_in(ids(comparison), value_set=ids(paired))
    out = comparison
    for name in ("delta_lower", "delta_upper"):
        values = paired.column(name).combine_chunks().take(where) if paired.num_rows \
            else pa.nulls(comparison.num_rows, pa.float64())
        out = out.set_column(out.schema.get_field_index(name), out.schema.field(name), values)
    return out
