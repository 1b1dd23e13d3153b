"""Per-segment batch statistics: binning, segmented sums, grouped AUC scores.

A head evaluates a batch for several metric dicts at once, one per segment
(slice): example i goes to segment `segment_ids[i]`. Its compiled TensorFlow
function turns per-row contributions into per-segment sums with weighted
bincounts (`segment_sums`); only those small sums, and the scores the AUC
curves need, cross to numpy (`to_numpy`), where `ScoreGroups` lines the
scores up per (segment, column) and `DeferredSums` may hold the dense sums
of many batches until they are absorbed in one pass.
"""
import collections

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from heads import auc, states


class Binned(collections.namedtuple("Binned", ["index", "values", "shape", "finish"])):
    """Per-row contributions to a small fixed-shape array: `values[...]` adds
    to cell `index[...]` (flat, in `shape`) of the row's segment. One
    weighted bincount then fills `[num_segments, *shape]` without
    materialising one-hot rows. `values` may be a tuple of arrays shaped like
    `index`, each summed on its own: their sums stack along the first axis of
    `shape` (one index for several sums instead of an index per sum).
    `finish`, if given, maps the summed `[num_segments, *shape]` array to
    the statistic (in the traced function)."""


Binned.__new__.__defaults__ = (None,)


def confusion_binned(label_pos: tf.Tensor, scores: tf.Tensor, w: tf.Tensor, thresholds: tuple,
                     per_class: bool = False) -> Binned:
    """Weighted (label, score > t) counts: shape `(T, 2, 2)` pooled over the
    C columns of `[n, C]` inputs, or `(C, T, 2, 2)` with `per_class`.

    Each (row, column) is binned once, by its label and by how many of the
    thresholds its score exceeds (k): the count predicted positive at the
    j-th smallest threshold is then the sum over k > j, negative over
    k <= j (cumulative sums of a `(2, T + 1)` histogram), instead of T
    comparisons binned apiece."""
    thresholds = tuple(float(t) for t in thresholds)
    n_t = len(thresholds)
    order = sorted(range(n_t), key=thresholds.__getitem__)
    k = None
    for j in order:
        above = tf.cast(scores > tf.constant(thresholds[j], scores.dtype), tf.int32)
        k = above if k is None else k + above
    cell = (n_t + 1) * tf.cast(label_pos != 0, tf.int32) + k
    n_c = int(scores.shape[1])
    if per_class:
        cell = cell + 2 * (n_t + 1) * tf.range(n_c, dtype=tf.int32)[None, :]
    values = tf.broadcast_to(tf.cast(w, tf.float64), tf.shape(cell))
    # Position of each threshold (in the given order) among the sorted ones.
    rank = [order.index(i) for i in range(n_t)]

    def finish(histogram):  # [S, (C,) 2, T + 1] -> [S, (C,) T, 2, 2]
        negative = tf.cumsum(histogram, axis=-1)[..., :n_t]                 # k <= j
        positive = tf.cumsum(histogram, axis=-1, reverse=True, exclusive=True)[..., :n_t]
        cm = tf.stack([negative, positive], axis=-1)                        # [..., 2, T, 2]
        rank_axis = cm.shape.rank - 2
        perm = list(range(rank_axis - 1)) + [rank_axis, rank_axis - 1, rank_axis + 1]
        cm = tf.transpose(cm, perm)                                         # [..., T, 2, 2]
        if rank != list(range(n_t)):
            cm = tf.gather(cm, rank, axis=cm.shape.rank - 3)
        return cm

    shape = (n_c, 2, n_t + 1) if per_class else (2, n_t + 1)
    return Binned(cell, values, shape, finish)


def _bin_sum(index, values, size):
    """Sums `values` into `size` bins by flat int32 `index` (a weighted
    bincount: several times faster than unsorted_segment_sum on CPU)."""
    return tf.math.bincount(tf.reshape(index, [-1]),
                            weights=tf.reshape(tf.cast(values, tf.float64), [-1]),
                            minlength=size, maxlength=size)


def segment_sums(dense: dict, segment_ids: tf.Tensor, num_segments: tf.Tensor) -> dict:
    """Per-segment float64 sums of per-row statistics (in a traced function):
    a tensor `[n, *shape]` sums to `[num_segments, *shape]`, a `Binned` to
    `[num_segments, *Binned.shape]` (then `finish`ed)."""
    # Bin indices are int32 (bincount's type): a statistic's dense
    # [num_segments, *shape] array must stay under 2**31 cells anyway.
    seg = tf.cast(segment_ids, tf.int32)
    cell_index = {}  # inner shape -> index of every cell of [n, *shape] rows

    def row_cells(shape):
        if shape not in cell_index:
            size = int(np.prod(shape))
            seg_b = tf.reshape(seg, [-1] + [1] * len(shape))
            cell_index[shape] = seg_b * size + tf.reshape(tf.range(size, dtype=tf.int32), shape)
        return cell_index[shape]

    out = {}
    for k, v in dense.items():
        if isinstance(v, Binned):
            shape = tuple(v.shape)
            values = v.values if isinstance(v.values, tuple) else (v.values,)
            size = int(np.prod(shape[1:] if len(values) > 1 else shape))
            seg_b = tf.reshape(seg, [-1] + [1] * (v.index.shape.rank - 1))
            index = seg_b * size + tf.cast(v.index, tf.int32)  # any integer index
            sums = [_bin_sum(index, x, num_segments * size) for x in values]
            if len(values) > 1:
                summed = tf.stack([tf.reshape(x, [num_segments] + list(shape[1:]))
                                   for x in sums], axis=1)
            else:
                summed = tf.reshape(sums[0], [num_segments] + list(shape))
            out[k] = summed if v.finish is None else v.finish(summed)
        else:
            shape = tuple(v.shape[1:].as_list())
            summed = _bin_sum(row_cells(shape), v, num_segments * int(np.prod(shape)))
            out[k] = tf.reshape(summed, [num_segments] + list(shape))
    return out


def score_inputs(scores: dict, segment_ids: tf.Tensor, num_segments: tf.Tensor) -> dict:
    """The AUC inputs of a batch, left per row (in a traced function):
    {name: (segment ids, float32 scores, float64 positive and negative
    weights, num_segments)}; `to_numpy` groups them (`ScoreGroups`)."""
    return {name: (segment_ids, tf.cast(score, tf.float32), tf.cast(pos, tf.float64),
                   tf.cast(neg, tf.float64), num_segments)
            for name, (score, pos, neg) in scores.items()}


def to_numpy(stats: dict) -> dict:
    """A traced function's statistics as numpy: sums as arrays, score inputs
    as `ScoreGroups`."""
    out = {}
    for name, value in stats.items():
        if isinstance(value, tuple):
            segments, scores, pos, neg, num_segments = (v.numpy() for v in value)
            out[name] = ScoreGroups(segments, int(num_segments), scores, pos, neg)
        else:
            out[name] = value.numpy()
    return out


def checked_segment_ids(segment_ids: npt.ArrayLike | None, n: int,
                        num_segments: int) -> np.ndarray:
    """`segment_ids` (None: every example in segment 0) as int32 `[n]`,
    checked against the batch size and the number of segments."""
    if segment_ids is None:
        segment_ids = np.zeros(n, np.int32)
    segment_ids = np.asarray(segment_ids, np.int32).reshape(-1)
    if segment_ids.shape[0] != n:
        raise ValueError("segment_ids must have one entry per example (%d); got %d"
                         % (n, segment_ids.shape[0]))
    if n and (segment_ids.min() < 0 or segment_ids.max() >= num_segments):
        raise ValueError("segment_ids must be in [0, %d)" % num_segments)
    return segment_ids


class ScoreGroups:
    """One batch's scores per (segment, column), for AUC curve states.

    `scores`, `pos`, `neg` are `[n, C]` (float32 scores, their positive and
    negative weights) and `segments` `[n]`. One stable sort by group
    (segment, column), on small ints, lines each group up contiguously; the
    curve states group equal scores themselves, so the scores are not sorted.
    """

    def __init__(self, segments, num_segments, scores, pos, neg):
        n, n_columns = scores.shape
        self.n_columns = n_columns
        groups = (np.asarray(segments, np.int64)[:, None] * n_columns
                  + np.arange(n_columns)).ravel()
        n_groups = num_segments * n_columns
        order = np.argsort(groups.astype(np.int16 if n_groups < 1 << 15 else np.int32),
                           kind="stable")
        self.scores = scores.ravel()[order]
        self.pos, self.neg = pos.ravel()[order], neg.ravel()[order]
        self.bounds = np.concatenate([[0], np.cumsum(np.bincount(groups, minlength=n_groups))])

    def add_to(self, curve_state: auc.CurveState, segment: int, column: int | None = None) -> None:
        """Adds the scores of one segment and column (every column with
        `column=None`: contiguous, since groups are numbered
        segment * C + column) to `curve_state`."""
        if column is None:
            lo = self.bounds[segment * self.n_columns]
            hi = self.bounds[(segment + 1) * self.n_columns]
        else:
            group = segment * self.n_columns + column
            lo, hi = self.bounds[group], self.bounds[group + 1]
        if hi > lo:
            # Copies: a curve state may buffer its scores for many batches,
            # and a view would keep this whole batch's arrays alive meanwhile.
            curve_state.add_scores(self.scores[lo:hi].copy(), self.pos[lo:hi].copy(),
                                   self.neg[lo:hi].copy())


class DeferredSums:
    """Per-segment sums of a head's dense batch statistics over many batches,
    absorbed into their metric dicts in one pass (`apply`).

    Every dense metric state is a sum, so absorbing the sum of several
    batches equals absorbing each: an update then costs one numpy addition
    per statistic and segment instead of one state merge per metric and
    segment. AUC scores are not deferred (they fold in as they come). Until
    `apply()`, the dicts' dense metrics lack the deferred batches.
    """

    def __init__(self):
        self._entries = {}  # (id(head), id(metrics dict)) -> [head, metrics dict, {name: sum}]

    def add(self, head: object, eval_metrics_list: list, stats: dict) -> None:
        """Adds the dense sums of `stats` (segment s for `eval_metrics_list[s]`),
        compensated as the states merge (`heads.states.two_sum`)."""
        dense = [(k, v) for k, v in stats.items() if isinstance(v, np.ndarray)]
        for s, eval_metrics in enumerate(eval_metrics_list):
            entry = self._entries.get((id(head), id(eval_metrics)))
            if entry is None:
                self._entries[(id(head), id(eval_metrics))] = [
                    head, eval_metrics, {k: np.array(v[s], np.float64) for k, v in dense},
                    {k: np.zeros(np.shape(v[s])) for k, v in dense}]
                continue
            sums, lows = entry[2], entry[3]
            for k, v in dense:
                sums[k], error = states.raw_two_sum(sums[k], v[s])
                lows[k] += error  # NaN where the sum is not finite: zeroed in apply

    def apply(self) -> None:
        """Absorbs the sums into their metric dicts (`head.absorb_dense`),
        then their rounding errors (every dense state is linear in the sums),
        and forgets them."""
        entries, self._entries = self._entries, {}
        for head, eval_metrics, sums, lows in entries.values():
            head.absorb_dense(eval_metrics, {k: v[None] for k, v in sums.items()}, 0)
            head.absorb_dense(eval_metrics, {k: np.where(np.isfinite(sums[k]), v, 0.0)[None]
                                             for k, v in lows.items()}, 0)


def add_regularization_loss(eval_metrics_list: list, key: str, regularization_losses: list,
                            segment_ids: npt.ArrayLike | None) -> None:
    """The batch's regularization loss (one value) into the `key` metric of
    every segment the batch has examples in (every segment without
    `segment_ids`)."""
    value = float(tf.math.add_n(regularization_losses))
    present = range(len(eval_metrics_list)) if segment_ids is None else np.unique(segment_ids)
    for s in present:
        if key in eval_metrics_list[s]:
            eval_metrics_list[s][key].update_state(value)
