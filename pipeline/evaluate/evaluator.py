"""Evaluate parsed batches: heads' loss, predictions and metric sums per slice.

No Beam here: `Evaluator` takes a dict of parsed feature arrays for one batch
and adds it to per-slice metric dicts, of the candidate and (with a
`baseline` in the config) of the baseline, both from the same parsed batch.
The Beam stage (`pipeline.evaluate.stage`) wraps it in a DoFn. All work is whole-batch TensorFlow/numpy. The heads'
inputs come from `pipeline.evaluate.features`, the slices from
`pipeline.evaluate.slicing`, the checks that reject examples from
`pipeline.evaluate.checks`.
"""
import collections
from typing import Optional

import numpy as np

from heads import replicates
from heads.segments import DeferredSums
from pipeline.config import Config
from pipeline.evaluate.build import build_heads, head_names
from pipeline.evaluate.checks import RowChecks
from pipeline.evaluate.custom import custom_metrics
from pipeline.evaluate.features import HeadInputs, Logits, made_up_record
from pipeline.evaluate.groups import Groups
from pipeline.evaluate.slicing import SliceSpecs
from pipeline.io.parse import Parser


class BatchPlan(collections.namedtuple(
        "BatchPlan", ["features", "logits", "labels", "segment_ids", "rows", "metric_dicts",
                      "batch_size", "baseline_logits", "baseline_metric_dicts", "pairs",
                      "slice_ids"],
        defaults=(None, None, None, None))):
    """One batch, ready for the heads: its parsed `features`, the heads'
    `logits` and `labels`, the segment of every (repeated) row, the rows of
    `features` to repeat (None: each once), one metrics dict per slice, and
    the number of examples. With a baseline, its logits and its own metrics
    dict per slice (the same segments: parsed, checked and sliced once).
    With confidence intervals, the segments are (slice, replicate group)
    pairs (`pairs`, a `heads.replicates.Pairs`) and `slice_ids` the slice of
    every row (else None: a segment per slice)."""

    __slots__ = ()

    @property
    def num_segments(self) -> int:
        return len(self.metric_dicts) if self.pairs is None else len(self.pairs.groups)


class Evaluator:
    """Turns parsed batches into per-slice metric dicts of one (Multi)Head,
    for the candidate model and, when the config has one, the baseline.

    `heads` in the config become one `heads.MultiHead` (several heads) or
    the head itself (one head). The report strips the head-name suffix from
    metric keys, since the head has its own column. The baseline's metrics
    go to accumulators of their own (`baseline_accumulators`): the same
    slices, the same labels and weights, its own logits.
    """

    def __init__(self, config: Config):
        self.config = config
        self.head_cfgs = list(config.heads)
        self.head, self.heads = build_heads(config)
        self.slice_specs = SliceSpecs.for_config(config)
        self.slices = self.slice_specs.specs
        self.head_inputs = HeadInputs(config)
        self.baseline_inputs = None
        if config.baseline is not None:
            self.baseline_inputs = HeadInputs(config, config.baseline, "baseline")
        self.row_checks = RowChecks(self.head_inputs, self.baseline_inputs)
        self._deferred = DeferredSums()  # dense sums until `finish`
        self.custom = custom_metrics(config, self.head, self.heads)  # metrics.custom, or None
        intervals = config.metrics.confidence_intervals
        self.groups = None if intervals is None else Groups(intervals)

    def new_metrics(self) -> dict:
        """A fresh metrics dict of one slice: the head's, the custom metrics,
        and with intervals its replicate state (under
        `heads.replicates.REPLICATES_KEY`)."""
        metrics = self.head.metrics()
        if self.custom:
            metrics = self.custom.add_to(metrics)
        if self.groups is not None:
            metrics[replicates.REPLICATES_KEY] = replicates.ReplicateState(self.groups.count)
        return metrics

    @property
    def has_baseline(self) -> bool:
        return self.baseline_inputs is not None

    def head_names(self) -> list:
        """Report names, in the order of the config ("" for one unnamed head)."""
        return head_names(self.config)

    def inputs(self, features: dict, logits: Optional[Logits] = None) -> tuple:
        """(logits, labels) in the form the head takes, from parsed features
        (and model outputs, when a model produced the logits)."""
        return self.head_inputs(features, logits)

    def baseline_logits(self, features: dict,
                        logits: Optional[Logits] = None) -> Optional[Logits]:
        """The baseline's logits in the form the head takes (from the parsed
        features, or its model's outputs `logits`); None without a baseline."""
        if self.baseline_inputs is None:
            return None
        return self.baseline_inputs.logits(features, logits)

    def segments(self, features: dict, spec: tuple, batch_size: int,
                 factorized: Optional[dict] = None) -> tuple:
        """Segment id per example and the slice string of each segment.
        `factorized`: {feature: (sorted distinct values, index per example)}
        for features whose factorization is known (`RecordBatch.factorized`)."""
        return self.slice_specs.segments(features, spec, batch_size, factorized)

    def find_bad_rows(self, features: dict, logits: Optional[Logits] = None,
                      inputs: Optional[tuple] = None,
                      baseline_logits: Optional[Logits] = None) -> dict:
        """Checks every example of a batch at once; returns {row: (kind,
        feature, message)} (`pipeline.evaluate.checks.RowChecks`): a row
        bad for the candidate or the baseline is bad for both.
        `inputs`: `self.inputs(features, logits)`, when the caller has it;
        `logits`, `baseline_logits`: the models' outputs (None: features).
        """
        return self.row_checks.find_bad_rows(
            features, inputs or self.inputs(features, logits), logits,
            self.baseline_logits(features, baseline_logits), baseline_logits)

    def add_batch(self, features: dict, accumulators: dict,
                  logits: Optional[Logits] = None,
                  baseline_accumulators: Optional[dict] = None,
                  baseline_logits: Optional[Logits] = None) -> int:
        """Adds one parsed batch to `accumulators` {slice string: metrics
        dict} (and, with a baseline, the baseline's metrics to
        `baseline_accumulators`) — to the slices of the specs computed from
        examples, and with the dense metrics' sums held back: `finish`
        completes them once the last batch is in. It is `plan_batch`,
        `batch_statistics` and `absorb_batch` in a row. Returns the number
        of examples."""
        plan = self.plan_batch(features, accumulators, logits,
                               baseline_accumulators=baseline_accumulators,
                               baseline_logits=baseline_logits)
        self.absorb_batch(plan, self.batch_statistics(plan))
        return plan.batch_size

    def plan_batch(self, features: dict, accumulators: dict, logits: Optional[Logits] = None,
                   inputs: Optional[tuple] = None, factorized: Optional[dict] = None,
                   slice_specs: Optional[SliceSpecs] = None,
                   baseline_accumulators: Optional[dict] = None,
                   baseline_logits: Optional[Logits] = None,
                   identity: Optional[tuple] = None) -> BatchPlan:
        """The heads' inputs and the slices of one batch, with a metrics dict
        in `accumulators` for every slice it touches (created here: the
        absorbing thread only reaches them through the plan), and one in
        `baseline_accumulators` too with a baseline (then required).
        `inputs`: `self.inputs(features, logits)`, when the caller has it;
        `factorized`: as `segments` takes it; `slice_specs`: another
        `SliceSpecs` to count the batch's slices in (the warm-up's);
        `baseline_logits`: the baseline model's outputs (None: features);
        `identity`: (file path, position in it of each example), which
        decides the examples' replicate groups when intervals are on
        (`pipeline.evaluate.groups`); the warm-up has none."""
        slice_specs = slice_specs or self.slice_specs
        logits_in, labels = inputs or self.inputs(features, logits)
        baseline_in = self.baseline_logits(features, baseline_logits)
        if baseline_in is not None and baseline_accumulators is None:
            raise ValueError("the config has a baseline: pass baseline_accumulators")
        first = next(iter(logits_in.values())) if isinstance(logits_in, dict) else logits_in
        batch_size = int(np.shape(first)[0])
        # Every example counts once per computed slice spec (or once per
        # value it holds of a var-length feature, or not at all where a
        # `where` leaves it out): rows repeat per spec, and segments are
        # numbered across specs, so the heads run once per batch (and
        # model). The baseline's segments are the candidate's.
        metric_dicts, baseline_dicts, all_segments, all_rows = [], [], [], []
        computed = slice_specs.computed
        for spec in computed:
            rows, segment_ids, keys = slice_specs.slice_rows(features, spec, batch_size,
                                                             factorized)
            all_rows.append(rows)
            all_segments.append(segment_ids + len(metric_dicts))
            for key in keys:
                if key not in accumulators:
                    accumulators[key] = self.new_metrics()
                metric_dicts.append(accumulators[key])
                if baseline_in is not None:
                    if key not in baseline_accumulators:
                        baseline_accumulators[key] = self.new_metrics()
                    baseline_dicts.append(baseline_accumulators[key])
        rows = None
        if len(all_rows) > 1 or all_rows[0] is not None:
            rows = np.concatenate([np.arange(batch_size) if r is None else r for r in all_rows])
        segment_ids, pairs, slice_ids = np.concatenate(all_segments), None, None
        if self.groups is not None and (identity is not None or self.groups.example_id):
            groups = self.groups(features, identity)
            slice_ids = segment_ids
            segment_ids, pairs = replicates.pairs(
                segment_ids, groups if rows is None else groups[rows], len(metric_dicts),
                self.groups.count)
        return BatchPlan(features, logits_in, labels, segment_ids, rows, metric_dicts,
                         batch_size, baseline_in,
                         baseline_dicts if baseline_in is not None else None, pairs, slice_ids)

    def warm_up(self, parser: Parser) -> None:
        """Runs the heads' TensorFlow work on two made-up examples
        (`pipeline.evaluate.features.made_up_record`), so that its functions
        are traced before the first batch arrives, which would otherwise wait
        for the tracing. Touches no accumulator, and counts its made-up slice
        in a SliceSpecs of its own, not towards `max_slices` (it may run on
        another thread while the first batches are planned). `parser`: a
        `pipeline.io.parse.Parser` of the input's features (logits among them)."""
        record = made_up_record(parser.features, self.head_cfgs)
        own = SliceSpecs.for_config(self.config)
        self.batch_statistics(self.plan_batch(parser.parse([record, record]), {},
                                              slice_specs=own, baseline_accumulators={}))

    def batch_statistics(self, plan: BatchPlan) -> list:
        """The heads' TensorFlow work for a planned batch: one entry per
        model (the candidate's, then the baseline's), each the head's
        `segmented_statistics` (a dict, or a MultiHead's list with one entry
        per head) — with custom metrics, a pair: that and their per-slice
        statistics. It touches no accumulator, so it may run on another
        thread while the thread that planned it absorbs the batch before."""
        out = []
        slice_ids = plan.segment_ids if plan.pairs is None else plan.slice_ids
        for logits in (plan.logits, plan.baseline_logits):
            if logits is None:
                continue
            statistics = self.head.segmented_statistics(
                plan.features, logits, plan.labels, plan.segment_ids, plan.num_segments,
                rows=plan.rows)
            if self.custom:
                statistics = statistics, self.custom.statistics(
                    plan.features, logits, plan.labels, slice_ids, plan.rows)
            out.append(statistics)
        return out

    def absorb_batch(self, plan: BatchPlan, statistics: list) -> None:
        """Adds a batch's statistics (`batch_statistics`) to the metrics
        dicts it was planned for, model by model: with replicate groups,
        each slice's groups added up (the point estimates), and each group's
        sums to the slice's replicate state (the same groups for both
        models: their intervals are paired)."""
        for metric_dicts, stats in zip((plan.metric_dicts, plan.baseline_metric_dicts),
                                       statistics):
            if self.custom:
                stats, custom = stats
                self.custom.absorb(metric_dicts, custom)
            if plan.pairs is None:
                self.head.absorb_statistics(metric_dicts, stats, deferred=self._deferred)
                continue
            self.head.absorb_statistics(metric_dicts, replicates.fold(stats, plan.pairs),
                                        deferred=self._deferred)
            prepared = replicates.prepare_scores(stats, plan.pairs)
            for s, metrics in enumerate(metric_dicts):
                metrics[replicates.REPLICATES_KEY].add(stats, plan.pairs, s, prepared)

    def finish(self, accumulators: dict) -> dict:
        """Completes `accumulators` after the last `add_batch` into them: the
        dense sums deferred since the first go into their metrics, then the
        slices of the derived specs (the overall slice among them) are added,
        each the merge of the slices of its computed spec that it contains
        (`pipeline.evaluate.slicing.SliceSpecs.add_derived`). Call it once per
        accumulators dict (the candidate's, the baseline's). Returns
        `accumulators`."""
        self._deferred.apply()
        return self.slice_specs.add_derived(accumulators, self.new_metrics)
