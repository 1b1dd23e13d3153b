"""Beam combiners over mergeable metric objects and counters."""
import apache_beam as beam

from heads.metrics import merge_metric_dicts


class MergeMetrics(beam.CombineFn):
    """Merges {metric key: metric object} dicts by adding their states.

    States are sums and counts, so the result does not depend on how the
    data was split across bundles, workers or batches.
    """

    def create_accumulator(self):
        return {}

    def add_input(self, accumulator, metrics):
        return merge_metric_dicts(accumulator, metrics)

    def get_accumulator_coder(self):
        # One pickle per dict, not one per metric (Beam's default for a dict
        # of objects): the ROC and PR AUC of the same scores are two views of
        # one curve state (heads/auc.py). One pickle writes that state once
        # and brings the views back sharing it; pickled one by one, each view
        # would come back with a copy of its own, which reads right but no
        # longer merges along with the others. Needed for correctness.
        return beam.coders.PickleCoder()

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for other in accumulators:
            self.add_input(merged, other)
        return merged

    def extract_output(self, accumulator):
        return accumulator


class SumCounts(beam.CombineFn):
    """Adds {name: int} dicts."""

    def create_accumulator(self):
        return {}

    def add_input(self, accumulator, counts):
        for key, value in counts.items():
            accumulator[key] = accumulator.get(key, 0) + value
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = {}
        for acc in accumulators:
            self.add_input(merged, acc)
        return merged

    def extract_output(self, accumulator):
        return dict(accumulator)
