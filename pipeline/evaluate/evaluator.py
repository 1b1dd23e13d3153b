"""Evaluate parsed batches: heads' loss, predictions and metric sums per slice.

No Beam here: `Evaluator` takes a dict of parsed feature arrays for one batch
and adds it to per-slice metric dicts. The Beam stage (`pipeline.evaluate.stage`)
wraps it in a DoFn. All work is whole-batch TensorFlow/numpy. The heads'
inputs come from `pipeline.evaluate.features`, the slices from
`pipeline.evaluate.slicing`, the checks that reject examples from
`pipeline.evaluate.checks`.
"""
import collections
from typing import Optional, Union

import numpy as np

from heads import replicates
from heads.segments import DeferredSums
from pipeline.config import Config
from pipeline.evaluate.build import build_heads, head_names
from pipeline.evaluate.checks import RowChecks
from pipeline.evaluate.features import HeadInputs, Logits, made_up_record
from pipeline.evaluate.groups import Groups
from pipeline.evaluate.slicing import SliceSpecs
from pipeline.io.parse import Parser


class BatchPlan(collections.namedtuple(
        "BatchPlan", ["features", "logits", "labels", "segment_ids", "rows", "metric_dicts",
                      "batch_size", "pairs"])):
    """One batch, ready for the heads: its parsed `features`, the heads'
    `logits` and `labels`, the segment of every (repeated) row, the rows of
    `features` to repeat (None: each once), one metrics dict per slice, the
    number of examples, and with confidence intervals the (slice, replicate
    group) `heads.replicates.Pairs` that the segments are (else None: a
    segment per slice)."""

    __slots__ = ()

    @property
    def num_segments(self) -> int:
        return len(self.metric_dicts) if self.pairs is None else len(self.pairs.groups)


class Evaluator:
    """Turns parsed batches into per-slice metric dicts of one (Multi)Head.

    `heads` in the config become one `heads.MultiHead` (several heads) or
    the head itself (one head). The report strips the head-name suffix from
    metric keys, since the head has its own column.
    """

    def __init__(self, config: Config):
        self.config = config
        self.head_cfgs = list(config.heads)
        self.head, self.heads = build_heads(config)
        self.slice_specs = SliceSpecs(config.slices, config.max_slices)
        self.slices = self.slice_specs.specs
        self.head_inputs = HeadInputs(config)
        self.row_checks = RowChecks(self.head_inputs)
        self._deferred = DeferredSums()  # dense sums until `finish`
        intervals = config.metrics.confidence_intervals
        self.groups = None if intervals is None else Groups(intervals)

    def new_metrics(self) -> dict:
        """A slice's empty metrics dict (with its replicate state, under
        `heads.replicates.REPLICATES_KEY`, when intervals are on)."""
        metrics = self.head.metrics()
        if self.groups is not None:
            metrics[replicates.REPLICATES_KEY] = replicates.ReplicateState(self.groups.count)
        return metrics

    def head_names(self) -> list:
        """Report names, in the order of the config ("" for one unnamed head)."""
        return head_names(self.config)

    def inputs(self, features: dict, logits: Optional[Logits] = None) -> tuple:
        """(logits, labels) in the form the head takes, from parsed features
        (and model outputs, when a model produced the logits)."""
        return self.head_inputs(features, logits)

    def segments(self, features: dict, spec: tuple, batch_size: int,
                 factorized: Optional[dict] = None) -> tuple:
        """Segment id per example and the slice string of each segment.
        `factorized`: {feature: (sorted distinct values, index per example)}
        for features whose factorization is known (`RecordBatch.factorized`)."""
        return self.slice_specs.segments(features, spec, batch_size, factorized)

    def find_bad_rows(self, features: dict, logits: Optional[Logits] = None,
                      inputs: Optional[tuple] = None) -> dict:
        """Checks every example of a batch at once; returns {row: (kind,
        feature, message)} (`pipeline.evaluate.checks.RowChecks`).
        `inputs`: `self.inputs(features, logits)`, when the caller has it.
        """
        return self.row_checks.find_bad_rows(features, inputs or self.inputs(features, logits),
                                             logits)

    def add_batch(self, features: dict, accumulators: dict,
                  logits: Optional[Logits] = None) -> int:
        """Adds one parsed batch to `accumulators` {slice string: metrics
        dict} — to the slices of the specs computed from examples, and with
        the dense metrics' sums held back: `finish` completes them once the
        last batch is in. It is `plan_batch`, `batch_statistics` and
        `absorb_batch` in a row. Returns the number of examples."""
        plan = self.plan_batch(features, accumulators, logits)
        self.absorb_batch(plan, self.batch_statistics(plan))
        return plan.batch_size

    def plan_batch(self, features: dict, accumulators: dict, logits: Optional[Logits] = None,
                   inputs: Optional[tuple] = None, factorized: Optional[dict] = None,
                   slice_specs: Optional[SliceSpecs] = None,
                   identity: Optional[tuple] = None) -> BatchPlan:
        """The heads' inputs and the slices of one batch, with a metrics dict
        in `accumulators` for every slice it touches (created here: the
        absorbing thread only reaches them through the plan). `inputs`:
        `self.inputs(features, logits)`, when the caller has it;
        `factorized`: as `segments` takes it; `slice_specs`: another
        `SliceSpecs` to count the batch's slices in (the warm-up's);
        `identity`: (file path, position in it of each example), which
        decides the examples' replicate groups when intervals are on
        (`pipeline.evaluate.groups`); the warm-up has none."""
        slice_specs = slice_specs or self.slice_specs
        logits_in, labels = inputs or self.inputs(features, logits)
        first = next(iter(logits_in.values())) if isinstance(logits_in, dict) else logits_in
        batch_size = int(np.shape(first)[0])
        # Every example counts once per computed slice spec: rows repeat per
        # spec, and segments are numbered across specs, so the heads run once
        # per batch.
        metric_dicts, all_segments = [], []
        computed = slice_specs.computed
        for spec in computed:
            segment_ids, keys = slice_specs.segments(features, spec, batch_size, factorized)
            all_segments.append(segment_ids + len(metric_dicts))
            for key in keys:
                if key not in accumulators:
                    accumulators[key] = self.new_metrics()
                metric_dicts.append(accumulators[key])
        n_specs = len(computed)
        rows = np.tile(np.arange(batch_size), n_specs) if n_specs > 1 else None
        segment_ids, pairs = np.concatenate(all_segments), None
        if self.groups is not None and (identity is not None or self.groups.example_id):
            groups = np.tile(self.groups(features, identity), n_specs)
            segment_ids, pairs = replicates.pairs(segment_ids, groups, len(metric_dicts),
                                                  self.groups.count)
        return BatchPlan(features, logits_in, labels, segment_ids, rows, metric_dicts,
                         batch_size, pairs)

    def warm_up(self, parser: Parser) -> None:
        """Runs the heads' TensorFlow work on two made-up examples
        (`pipeline.evaluate.features.made_up_record`), so that its functions
        are traced before the first batch arrives, which would otherwise wait
        for the tracing. Touches no accumulator, and counts its made-up slice
        in a SliceSpecs of its own, not towards `max_slices` (it may run on
        another thread while the first batches are planned). `parser`: a
        `pipeline.io.parse.Parser` of the input's features (logits among them)."""
        record = made_up_record(parser.features, self.head_cfgs)
        own = SliceSpecs(self.config.slices, self.config.max_slices)
        self.batch_statistics(self.plan_batch(parser.parse([record, record]), {},
                                              slice_specs=own))

    def batch_statistics(self, plan: BatchPlan) -> Union[dict, list]:
        """The heads' TensorFlow work for a planned batch (the head's
        `segmented_statistics`: a dict, or a MultiHead's list with one entry
        per head); it touches no accumulator, so it may run on another thread
        while the thread that planned it absorbs the batch before."""
        return self.head.segmented_statistics(plan.features, plan.logits, plan.labels,
                                              plan.segment_ids, plan.num_segments,
                                              rows=plan.rows)

    def absorb_batch(self, plan: BatchPlan, statistics: Union[dict, list]) -> None:
        """Adds a batch's statistics to the metrics dicts it was planned for:
        with replicate groups, each slice's groups added up (the point
        estimates), and each group's sums to the slice's replicate state."""
        if plan.pairs is None:
            self.head.absorb_statistics(plan.metric_dicts, statistics, deferred=self._deferred)
            return
        self.head.absorb_statistics(plan.metric_dicts, replicates.fold(statistics, plan.pairs),
                                    deferred=self._deferred)
        prepared = replicates.prepare_scores(statistics, plan.pairs)
        for s, metrics in enumerate(plan.metric_dicts):
            metrics[replicates.REPLICATES_KEY].add(statistics, plan.pairs, s, prepared)

    def finish(self, accumulators: dict) -> dict:
        """Completes `accumulators` after the last `add_batch` into them: the
        dense sums deferred since the first go into their metrics, then the
        slices of the derived specs (the overall slice among them) are added,
        each the merge of the slices of its computed spec that it contains
        (`pipeline.evaluate.slicing.SliceSpecs.add_derived`). Call it once per
        accumulators dict. Returns `accumulators`."""
        self._deferred.apply()
        return self.slice_specs.add_derived(accumulators, self.new_metrics)
