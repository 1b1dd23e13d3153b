"""Replicate states: a slice's metric sums split by replicate group.

With confidence intervals on, a head evaluates each batch once with one
segment per (slice, replicate group) that occurs in it (`pairs`): its
`segmented_statistics` then holds every group's sums. `fold` adds the
groups of each slice up, for the slice's ordinary metric dict (the point
estimates are those of a run without intervals, to float rounding), and a
`ReplicateState` per slice keeps the sums per group: every dense statistic
as a `[G, ...]` array, and the AUC scores as a compact sparse histogram per
(group, column) (`GroupHistogram`: buckets of `COMPACT_BITS` mantissa bits,
at most `num_buckets` per group and column, whatever the data).

A replicate is a weighted sum of the groups (`heads.intervals`):
`ReplicateState.weighted` gives it as one segment of statistics, which the
head absorbs into a fresh metric dict like any batch (AUCs read the
histogram through `HistogramScores`). `replicate_values` does that per
replicate and reads every row's value. All numpy; no Beam.
"""
import collections

import numpy as np

from heads import buckets, keys, metrics as metrics_lib, segments, states

# The replicate state travels in the slice's metric dict under this key
# (a name no head metric has), so it merges and moves with the dict.
REPLICATES_KEY = "__replicates__"
# The compact AUC histogram of a replicate group: 16 buckets per octave of
# q = min(p, 1 - p) from q = 2**-24 (|logit| < 16.6; further scores share the
# end buckets), positions kept: at most 738 buckets per group and column.
# Its AUCs are within ~1e-4 of the exact ones and move with them, so the
# replicates' spread, the stderr, is within a few percent of the exact
# replicates' (tests/heads/test_replicates.py).
COMPACT_BITS = 4
COMPACT_MIN_EXPONENT = 24
_FOLD_AT = 1 << 16  # buffered histogram entries folded in at once


def num_buckets() -> int:
    """Buckets of the compact layout: the most a group's histogram of one
    column can occupy."""
    return buckets.num_buckets(COMPACT_BITS, COMPACT_MIN_EXPONENT)


def _to_layout(index: np.ndarray, min_exponent: int) -> np.ndarray:
    """Compact bucket indices in the layout of the same level from
    `min_exponent` (>= COMPACT_MIN_EXPONENT) down: a bucket's key (its place
    on its side of 0.5) moves up by the octaves the wider layout adds below."""
    m, e = COMPACT_BITS, COMPACT_MIN_EXPONENT
    if min_exponent < e:
        raise states.IncompatibleStateError(
            "replicate histograms need a curve state of min_exponent >= %d; got %d"
            % (e, min_exponent))
    k_from, k_to = buckets.keys_per_side(m, e), buckets.keys_per_side(m, min_exponent)
    low = index < k_from
    key = np.where(low, index, 2 * k_from - 1 - index) + ((min_exponent - e) << m)
    return np.where(low, key, 2 * k_to - 1 - key)


class Pairs(collections.namedtuple("Pairs", ["groups", "starts", "num_groups"])):
    """The (slice, group) segments of a batch, ascending: `groups[p]` is the
    group of pair p, and the pairs of slice s are `starts[s]:starts[s + 1]`."""


def pairs(slice_ids: np.ndarray, groups: np.ndarray, num_slices: int,
          num_groups: int) -> tuple:
    """(segment id per row, `Pairs`) for rows of slice `slice_ids[i]` and
    group `groups[i]`: one segment per pair that occurs, numbered in
    (slice, group) order so that a slice's pairs are consecutive."""
    key = np.asarray(slice_ids, np.int64) * num_groups + np.asarray(groups, np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)
    starts = np.searchsorted(uniq // num_groups, np.arange(num_slices + 1))
    return inverse.ravel().astype(np.int32), Pairs(uniq % num_groups, starts, num_groups)


def _map(tree, leaf):
    """`tree` (dicts, lists and tuples of arrays and ScoreGroups: what a
    head's `segmented_statistics` returns) with `leaf` applied to each leaf."""
    if isinstance(tree, dict):
        return {k: _map(v, leaf) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map(v, leaf) for v in tree)
    return leaf(tree)


def _leaves(tree):
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [x for v in tree for x in _leaves(v)]
    return [tree]


def fold(statistics, pairs_: Pairs):
    """Per-pair statistics as per-slice statistics (each slice's pairs added
    up): what `absorb_statistics` takes for the slices' metric dicts."""
    starts = pairs_.starts[:-1]

    def leaf(x):
        if isinstance(x, segments.ScoreGroups):
            return SliceScores(x, pairs_.starts)
        return np.add.reduceat(x, starts, axis=0) if len(x) else x
    return _map(statistics, leaf)


class SliceScores:
    """A `segments.ScoreGroups` of (slice, group) segments read per slice."""

    def __init__(self, groups: segments.ScoreGroups, starts: np.ndarray):
        self.groups, self.starts = groups, starts

    def add_to(self, curve_state, segment: int, column: int = None) -> None:
        g, c = self.groups, self.groups.n_columns
        lo, hi = self.starts[segment], self.starts[segment + 1]
        if column is None:
            a, b = g.bounds[lo * c], g.bounds[hi * c]
            rows = np.arange(a, b)
        else:
            cells = np.arange(lo, hi) * c + column
            rows = np.concatenate([np.arange(g.bounds[i], g.bounds[i + 1]) for i in cells])
        if len(rows):
            curve_state.add_scores(g.scores[rows], g.pos[rows], g.neg[rows])


class GroupHistogram:
    """Sparse histogram of scores per (group, column, compact bucket): the
    weighted positives and negatives and their summed positions in the
    bucket. Keys ascend; entries of new batches are buffered and folded in
    `_FOLD_AT` at a time. Merges by adding."""

    def __init__(self, n_columns: int):
        self.n_columns = n_columns
        self.keys = np.zeros(0, np.int64)
        self.values = [np.zeros(0) for _ in range(4)]  # pos, neg, pos_t, neg_t
        self._pending, self._size = [], 0

    def add(self, keys_, pos, neg, t):
        self._pending.append((keys_, pos, neg, pos * t, neg * t))
        self._size += len(keys_)
        if self._size >= _FOLD_AT:
            self._fold()

    def _fold(self):
        if not self._pending:
            return
        parts = [np.concatenate(p) for p in zip(*self._pending)]
        self._pending, self._size = [], 0
        uniq, inverse = np.unique(parts[0], return_inverse=True)
        sums = [np.bincount(inverse.ravel(), v, len(uniq)) for v in parts[1:]]
        self.keys, self.values = states.merge_sorted(self.keys, self.values, uniq, sums)

    def merge(self, other: "GroupHistogram") -> None:
        self._fold()
        other._fold()
        self.keys, self.values = states.merge_sorted(self.keys, self.values, other.keys,
                                                     other.values)

    def weighted(self, weights: np.ndarray) -> "HistogramScores":
        """Per replicate r, the histogram of every group weighted by
        `weights[r, group]` ([R, G]), summed over the groups."""
        self._fold()
        nb = num_buckets()
        cells = self.n_columns * nb
        group, cell = np.divmod(self.keys, cells)
        r = len(weights)
        # One bincount for all replicates: cell r * cells + cell.
        flat = (np.arange(r)[:, None] * cells + cell[None, :]).ravel()
        w = weights[:, group].ravel()
        dense = [np.bincount(flat, np.tile(v, r) * w, r * cells).reshape(r, self.n_columns, nb)
                 for v in self.values]
        return HistogramScores(dense)

    def nbytes(self) -> int:
        self._fold()
        return self.keys.nbytes + sum(v.nbytes for v in self.values)

    def __getstate__(self):
        self._fold()
        return self.__dict__


class HistogramScores:
    """Compact histograms per segment and column ([S, C, buckets] each of
    pos, neg, pos_t, neg_t), standing in for a `segments.ScoreGroups`:
    `add_to` fills a curve state."""

    def __init__(self, dense: list):
        self.dense = dense

    def one(self, segment: int) -> "HistogramScores":
        """Segment `segment` alone, as segment 0."""
        return HistogramScores([d[segment:segment + 1] for d in self.dense])

    def add_to(self, curve_state, segment: int, column: int = None) -> None:
        pos, neg, pos_t, neg_t = (d[segment].sum(axis=0) if column is None
                                  else d[segment, column] for d in self.dense)
        occupied = np.flatnonzero((pos != 0) | (neg != 0))
        if not len(occupied):
            return
        index = _to_layout(occupied, curve_state.min_exponent)
        rest = states.HistogramState(
            max_buckets=curve_state.max_buckets, min_exponent=curve_state.min_exponent,
            mantissa_bits=COMPACT_BITS, index=index.astype(np.int32), pos=pos[occupied],
            neg=neg[occupied], pos_t=pos_t[occupied], neg_t=neg_t[occupied])
        curve_state.add_parts(states.ScoresState.empty(), rest)


class ReplicateState:
    """One slice's statistics per replicate group (module docstring). Empty
    until the first `add`; merges with `merge_state` like a metric."""

    def __init__(self, num_groups: int):
        self.num_groups = int(num_groups)
        self.tree = None

    def _new_leaf(self, x):
        if isinstance(x, segments.ScoreGroups):
            return GroupHistogram(x.n_columns)
        return np.zeros((self.num_groups,) + x.shape[1:], np.float64)

    def add(self, statistics, pairs_: Pairs, segment: int, prepared: list) -> None:
        """Adds slice `segment` of a batch's per-pair `statistics`;
        `prepared`: `prepare_scores(statistics, pairs_)`."""
        if self.tree is None:
            self.tree = _map(statistics, self._new_leaf)
        lo, hi = pairs_.starts[segment], pairs_.starts[segment + 1]
        groups = pairs_.groups[lo:hi]
        it = iter(prepared)
        for mine, x in zip(_leaves(self.tree), _leaves(statistics)):
            if isinstance(mine, GroupHistogram):
                bounds, key, pos, neg, t = next(it)
                c = x.n_columns
                a, b = bounds[lo * c], bounds[hi * c]
                mine.add(key[a:b], pos[a:b], neg[a:b], t[a:b])
            else:
                mine[groups] += x[lo:hi]

    def merge_state(self, others: list) -> "ReplicateState":
        for other in others:
            if other.tree is None:
                continue
            if self.tree is None:
                self.tree = _map(other.tree, lambda x: x.copy() if isinstance(x, np.ndarray)
                                 else _copy_histogram(x))
                continue
            for mine, theirs in zip(_leaves(self.tree), _leaves(other.tree)):
                if isinstance(mine, GroupHistogram):
                    mine.merge(theirs)
                else:
                    mine += theirs
        return self

    def weighted(self, weights: np.ndarray):
        """Statistics with one segment per replicate r: each group's weighted
        by `weights[r, g]` ([R, G]). Its `HistogramScores` give replicate r
        as `one(r)`."""
        weights = np.asarray(weights, np.float64)
        return _map(self.tree, lambda x: x.weighted(weights) if isinstance(x, GroupHistogram)
                    else np.tensordot(weights, x, 1))

    def nbytes(self) -> int:
        if self.tree is None:
            return 0
        return sum(x.nbytes() if isinstance(x, GroupHistogram) else x.nbytes
                   for x in _leaves(self.tree))


def _copy_histogram(h):
    out = GroupHistogram(h.n_columns)
    out.merge(h)
    return out


def prepare_scores(statistics, pairs_: Pairs) -> list:
    """Per ScoreGroups leaf of a batch's per-pair statistics, in leaf order:
    (bounds, histogram key, pos, neg, position) of every score, the key
    being (group x columns + column) x buckets + compact bucket. One pass
    over the batch for all its slices."""
    out = []
    nb = num_buckets()
    for x in _leaves(statistics):
        if not isinstance(x, segments.ScoreGroups):
            continue
        c = x.n_columns
        cell = np.repeat(np.arange(len(x.bounds) - 1), np.diff(x.bounds))  # pair * C + column
        pair, column = np.divmod(cell, c)
        index, t = buckets.index_and_position(x.scores, COMPACT_BITS, COMPACT_MIN_EXPONENT)
        key = (pairs_.groups[pair] * c + column) * nb + index
        out.append((x.bounds, key, x.pos, x.neg, t))
    return out


def is_count(metric, row) -> bool:
    """Rows that count examples (weighted or not) get no interval: the
    example counts, confusion-matrix cells and calibration bucket weights."""
    if isinstance(metric, (metrics_lib.Sum, metrics_lib.ConfusionMatrix)):
        return True
    return isinstance(metric, metrics_lib.Calibration) and \
        row.metric == keys.sub_name(metric.info.name, "weight")


def _values(metric) -> list:
    """The values of `metric`'s rows that are not counts, in row order (NaN
    where undefined), without building the rows where it can: a replicate
    reads every metric of a slice R times."""
    if isinstance(metric, (metrics_lib.Sum, metrics_lib.ConfusionMatrix)):
        return []
    if type(metric).rows is metrics_lib.Metric.rows:
        return [float(metric.result()) if metric.defined() else np.nan]
    if isinstance(metric, metrics_lib.Calibration):
        weight, mean_p, mean_y = metric.result()
        both = np.stack([mean_p, mean_y], axis=1)
        return np.where((weight != 0)[:, None], both, np.nan).ravel().tolist()
    return [float(r.value) if r.defined else np.nan for r in metric.rows()
            if not is_count(metric, r)]


def interval_rows(eval_metrics: dict) -> list:
    """The keys of the rows of `eval_metrics` that may have an interval
    (every row but `is_count`'s), in the order of `row_values`."""
    out = []
    for key in sorted(eval_metrics):
        if key != REPLICATES_KEY:
            metric = eval_metrics[key]
            out += [row.key for row in metric.rows() if not is_count(metric, row)]
    return out


def row_values(eval_metrics: dict) -> np.ndarray:
    """The values of the `interval_rows` rows, NaN where undefined."""
    return np.array([v for key in sorted(eval_metrics) if key != REPLICATES_KEY
                     for v in _values(eval_metrics[key])], np.float64)


def replicate_values(head, state: ReplicateState, weights: np.ndarray) -> np.ndarray:
    """[R, rows] values of the `interval_rows` rows in each replicate
    (`weights` [R, G]); NaN where undefined, or all NaN for a state that
    took no example (None then)."""
    if state.tree is None:
        return None
    replicates = state.weighted(weights)
    out = []
    for r in range(len(weights)):
        replicate = head.metrics()
        head.absorb_statistics([replicate], _map(replicates, lambda x: x.one(r) if isinstance(
            x, HistogramScores) else x[r:r + 1]))
        out.append(row_values(replicate))
    return np.stack(out)
