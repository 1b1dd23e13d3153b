"""A slice's confidence intervals, from its merged metrics and replicate state.

Beam-free: `pipeline.report.stages.SliceRows` calls `SliceIntervals` where a
slice's states were merged, and `pipeline.report.rows.metric_rows` puts the
numbers in the `lower`, `upper` and `stderr` columns. The math is in
`heads.intervals`, the replicate states in `heads.replicates`.
"""
import numpy as np

from heads import intervals, replicates


class SliceIntervals:
    """Intervals of one (Multi)Head's slices (`metrics.confidence_intervals`)."""

    def __init__(self, config, head):
        self.method, self.level = config.method, config.level
        self.head = head
        self.weights = intervals.replicate_weights(config.method, config.replicates, config.seed)

    def replicates(self, metrics: dict) -> tuple:
        """(row keys, point values [M], replicate values [R, M] or None when
        the slice has no replicate state) of a slice's metrics dict."""
        keys = replicates.interval_rows(metrics)
        values = replicates.row_values(metrics)
        state = metrics.get(replicates.REPLICATES_KEY)
        reps = None if state is None else replicates.replicate_values(self.head, state,
                                                                       self.weights)
        return keys, values, reps

    def of_slice(self, metrics: dict) -> dict:
        """{row key: (lower, upper, stderr)} for the rows of `metrics` whose
        interval is defined (counts and undefined values have none)."""
        keys, values, reps = self.replicates(metrics)
        if reps is None or not keys:
            return {}
        lower, upper, se = intervals.interval(self.method, self.level, values, reps)
        return {k: (lo, hi, s) for k, lo, hi, s in zip(keys, lower.tolist(), upper.tolist(),
                                                        se.tolist()) if np.isfinite(s)}

    def paired(self, metrics_a: dict, metrics_b: dict) -> dict:
        """{row key: (delta, lower, upper, stderr)} of a - b for two models'
        dicts of the same slice, whose replicate states saw the same records
        (same groups, so same replicate weights): the comparison's interval."""
        keys_a, values_a, reps_a = self.replicates(metrics_a)
        keys_b, values_b, reps_b = self.replicates(metrics_b)
        if reps_a is None or reps_b is None:
            return {}
        where = {k: i for i, k in enumerate(keys_b)}
        common = [(i, where[k]) for i, k in enumerate(keys_a) if k in where]
        if not common:
            return {}
        ia, ib = (np.array(c) for c in zip(*common))
        delta, lower, upper, se = intervals.paired_difference(
            self.method, self.level, values_a[ia], reps_a[:, ia], values_b[ib], reps_b[:, ib])
        return {keys_a[i]: (d, lo, hi, s) for i, d, lo, hi, s in
                zip(ia.tolist(), delta.tolist(), lower.tolist(), upper.tolist(), se.tolist())
                if np.isfinite(s)}
