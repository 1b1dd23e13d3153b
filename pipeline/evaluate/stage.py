"""The Beam stage that evaluates record batches, and the report writer.

`EvaluateBatches` does everything per batch in one DoFn — parse, apply the
tf.Transform graph, run the model, check the examples, add them to the
per-slice metrics — so an example's logits never leave its labels, weights
and slice values (no join), and only a few fixed-size metric states per
bundle go downstream. Its outputs:

* main: ((model, slice string), {metric key: metric object}), once per model
  and slice per bundle; model is "candidate", or "baseline" for the config's
  `baseline`, evaluated on the same parsed, checked and sliced batches (an
  example whose logits are bad for either model is rejected for both, so
  the two are compared on the same examples);
* `counts`: {read, evaluated, rejected, rejected/<kind>: n} once per bundle;
* `rejected`: one dict per rejected example (file, index, kind, feature,
  reason, record) — only under `bad_examples: skip`; a slice value longer
  than `pipeline.config.MAX_SLICE_VALUE_BYTES` is one (`slice_value_too_long`).

Under `bad_examples: fail` the first bad example raises `BadRecordError`
naming its file, its position in it, the field and what was expected.

The heads' work on a batch runs on two threads of the bundle's own, one
after the other: one computes the batch's statistics in TensorFlow
(`Evaluator.batch_statistics`), the next adds them to the metrics
(`absorb_batch`: AUC scores folded in numpy), while the DoFn's thread reads,
parses and checks the batches after it. TensorFlow and numpy release the GIL
while they compute, so the three overlap on several cores. The absorbing
thread takes batches in the order they came, so the metrics are those of
doing one batch after the other; at most `_IN_FLIGHT` batches are between
the DoFn's thread and the metrics, which bounds the memory they hold.
"""
import collections
import concurrent.futures
import logging
import threading

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.transforms import window
from apache_beam.utils import windowed_value

from pipeline.config import SKIP
from pipeline.errors import CORRUPT_RECORD, BadRecordError
from pipeline.evaluate.evaluator import Evaluator
from pipeline.evaluate.features import take_logits, take_rows
from pipeline.io.batches import CorruptRecord
from pipeline.io.parse import Parser
from pipeline.model.runner import ModelRunner
from pipeline.model.transform import Transform
from pipeline.report.schema import BASELINE, CANDIDATE
from pipeline.runtime import progress
from pipeline.runtime.devices import AUTO, choose_device
from pipeline.runtime.tf_threads import use_one_thread_per_op

log = logging.getLogger(__name__)

COUNTS_TAG = "counts"
REJECTED_TAG = "rejected"
METRICS_TAG = "metrics"
_IN_FLIGHT = 3  # batches planned but not yet absorbed, at most


def _global(value):
    """`value` in the global window, for emitting from finish_bundle."""
    return windowed_value.WindowedValue(value, window.GlobalWindow().max_timestamp(),
                                        [window.GlobalWindow()])


def _model_runner(config, model):
    """A ModelRunner for `model` (the config's `model` or `baseline`) when it
    is a SavedModel or .keras file; None for logits read from the features."""
    if model is None or model.saved_model is None:
        return None
    dims = ({h.name: h.logits_dimension for h in config.heads} if isinstance(model.output, dict)
            else sum(h.logits_dimension for h in config.heads))
    return ModelRunner(model.saved_model, outputs=model.output, signature=model.signature,
                       device=model.device, batch_size=model.batch_size,
                       logits_dimensions=dims)


def _rejection(path, index, kind, feature, reason, record):
    return {"file": path, "index": int(index), "kind": kind, "feature": feature,
            "reason": reason, "record": bytes(record)}


class EvaluateBatches(beam.DoFn):
    """RecordBatch -> per-slice metric dicts (emitted at the end of each bundle),
    counts, and rejected examples. See the module docstring."""

    def __init__(self, config):
        self._config = config

    def setup(self):
        config = self._config
        models = [m for m in (config.model, config.baseline) if m is not None]
        runs_a_model = any(m.saved_model is not None for m in models)
        if not runs_a_model:
            if use_one_thread_per_op():  # before anything starts TensorFlow here
                log.info("headeval: one TensorFlow thread per op (the heads are all it runs)")
        self._parser = Parser(config.input.features)
        self._evaluator = Evaluator(config)
        self._models = (CANDIDATE, BASELINE) if config.baseline is not None else (CANDIDATE,)
        self._skip = config.bad_examples == SKIP
        self._transform = None
        if config.transform is not None:
            self._transform = Transform(config.transform.tft_output)
        self._model = _model_runner(config, config.model)
        self._baseline_model = _model_runner(config, config.baseline)
        runner = self._model or self._baseline_model
        if runner is not None:
            self._device = runner.device
        else:
            self._device = choose_device(AUTO)  # the heads' per-batch TF work
            log.info("headeval: heads run on %s", self._device)
        self._read = beam.metrics.Metrics.counter("headeval", "records_read")
        self._evaluated = beam.metrics.Metrics.counter("headeval", "examples_evaluated")
        self._rejected = beam.metrics.Metrics.counter("headeval", "examples_rejected")
        self._progress = progress.tracker()  # None unless stderr is a terminal: see progress.py
        self._pools = None      # the bundle's (statistics, absorbing) threads
        self._in_flight = collections.deque()  # absorbing futures, oldest first
        self._warm_up = None
        if not runs_a_model and config.transform is None:
            # Traces the heads' functions while Beam starts the bundle and the
            # reader its first file (only for logits from the features: a
            # model or transform changes what the heads are given).
            self._warm_up = threading.Thread(target=self._trace_heads, daemon=True,
                                             name="headeval-warm-up")
            self._warm_up.start()

    def _trace_heads(self):
        try:
            with tf.device(self._device):
                self._evaluator.warm_up(self._parser)
        except Exception as e:  # the first real batch meets (and reports) the same
            log.debug("headeval: tracing the heads before the first batch failed: %s", e)

    def teardown(self):
        self._wait_for_warm_up()
        self._stop_pool()

    def start_bundle(self):
        self._stop_pool()  # a bundle that failed may have left its thread
        self._accumulators = {model: {} for model in self._models}
        self._counts = {"read": 0, "evaluated": 0, "rejected": 0}

    def _reject(self, kind, n=1):
        self._counts["rejected"] += n
        key = "rejected/" + kind
        self._counts[key] = self._counts.get(key, 0) + n
        self._rejected.inc(n)

    def process(self, batch):
        if isinstance(batch, CorruptRecord):  # only under skip: see ReadBatches
            self._counts["read"] += 1
            self._read.inc()
            if self._progress is not None:
                self._progress.add(1)
            self._reject(CORRUPT_RECORD)
            yield beam.pvalue.TaggedOutput(REJECTED_TAG, _rejection(
                batch.path, batch.index, CORRUPT_RECORD, None, batch.reason, batch.data))
            return
        n = len(batch.records)
        self._counts["read"] += n
        self._read.inc(n)
        if self._progress is not None:
            self._progress.add(n)
        factorized = None
        if batch.features is not None:  # parsed while read: every record parsed
            features, rows = batch.features, np.arange(n)
            factorized = batch.factorized
        elif self._skip:
            features, rows, bad_records = self._parser.parse_valid(batch)
            # The rejected records' positions: those not kept, in order (as bad_records).
            rejected_at = np.setdiff1d(np.arange(n), rows) if bad_records else ()
            for position, e in zip(rejected_at, bad_records):
                kind = e.kind
                self._reject(kind)
                yield beam.pvalue.TaggedOutput(REJECTED_TAG, _rejection(
                    e.path, e.index, kind, e.feature, e.reason, batch.record(position)))
        else:
            features, rows = self._parser(batch), np.arange(n)
        if len(rows) == 0:
            return
        if self._transform is not None:
            features, factorized = self._transform(features), None
        logits = self._model(features, len(rows)) if self._model is not None else None
        baseline = (self._baseline_model(features, len(rows))
                    if self._baseline_model is not None else None)
        inputs = self._evaluator.inputs(features, logits)  # (logits, labels) for the heads
        # Bad for either model is bad for both: the comparison stays paired.
        bad = self._evaluator.find_bad_rows(features, logits, inputs=inputs,
                                            baseline_logits=baseline)
        # Slice values too long to copy into every row of their slice's report.
        long_values, factorized = self._evaluator.slice_specs.long_slice_values(
            features, factorized)
        for row, problem in long_values.items():
            bad.setdefault(row, problem)
        if bad:
            local = sorted(bad)
            if not self._skip:
                row = local[0]
                kind, feature, reason = bad[row]
                index = batch.index(rows[row])
                raise BadRecordError("bad record %d of %s: %s" % (index, batch.path, reason),
                                     batch.path, index, feature, reason, kind)
            for row in local:
                kind, feature, reason = bad[row]
                index = batch.index(rows[row])
                self._reject(kind)
                yield beam.pvalue.TaggedOutput(REJECTED_TAG, _rejection(
                    batch.path, index, kind, feature, reason, batch.record(rows[row])))
            keep = np.setdiff1d(np.arange(len(rows)), local)
            if len(keep) == 0:
                return
            features = take_rows(features, keep)
            if factorized:
                factorized = {k: (values, index[keep]) for k, (values, index) in
                              factorized.items()}
            logits, baseline = take_logits(logits, keep), take_logits(baseline, keep)
            inputs = None
            rows = rows[keep]
        identity = None
        if self._evaluator.groups is not None:  # replicate groups: file and positions in it
            at = np.asarray(rows, np.int64)
            identity = (batch.path, batch.start + at if batch.indices is None
                        else np.asarray(batch.indices, np.int64)[at])
        evaluated = self._evaluate(features, logits, inputs, factorized, baseline, identity)
        self._counts["evaluated"] += evaluated
        self._evaluated.inc(evaluated)

    def _evaluate(self, features, logits, inputs, factorized=None, baseline=None,
                  identity=None):
        """Hands the batch to the heads' threads; waits for the oldest batch
        in flight to be absorbed first when `_IN_FLIGHT` are. `identity`:
        (file, position of each example in it), for the replicate groups."""
        plan = self._evaluator.plan_batch(
            features, self._accumulators[CANDIDATE], logits, inputs, factorized,
            baseline_accumulators=self._accumulators.get(BASELINE), baseline_logits=baseline,
            identity=identity)
        if self._pools is None:
            self._pools = tuple(concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="headeval-" + role) for role in ("stats", "absorb"))
        stats_pool, absorb_pool = self._pools
        statistics = stats_pool.submit(self._statistics, plan)
        while len(self._in_flight) >= _IN_FLIGHT:
            self._in_flight.popleft().result()  # re-raises the heads' error, if any
        self._in_flight.append(absorb_pool.submit(self._absorb, plan, statistics))
        return plan.batch_size

    def _wait_for_warm_up(self):
        if self._warm_up is not None:
            self._warm_up.join()
            self._warm_up = None

    def _statistics(self, plan):
        self._wait_for_warm_up()  # one thread traces at a time
        with tf.device(self._device):  # device scopes belong to their thread
            return self._evaluator.batch_statistics(plan)

    def _absorb(self, plan, statistics):
        self._evaluator.absorb_batch(plan, statistics.result())

    def _absorb_in_flight(self):
        """Waits until every batch handed out is absorbed (in order: the
        first error is the one raised)."""
        while self._in_flight:
            self._in_flight.popleft().result()

    def _stop_pool(self):
        if self._pools is not None:
            for pool in self._pools:
                pool.shutdown(wait=True, cancel_futures=True)
            self._pools = None
        self._in_flight.clear()

    def finish_bundle(self):
        try:
            self._absorb_in_flight()
        finally:
            self._stop_pool()
        for model in self._models:
            accumulators = self._evaluator.finish(self._accumulators[model])
            for key, metrics in accumulators.items():
                yield _global(((model, key), metrics))
        yield beam.pvalue.TaggedOutput(COUNTS_TAG, _global(dict(self._counts)))
        self._accumulators = {model: {} for model in self._models}
