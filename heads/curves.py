"""The scores behind a ROC and a PR curve, bounded: `CurveState`, and
`CurveUnion`, the union of several (a multi-label head's pooled curve read
from its per-class states). `heads.auc.AUC` reads either as an area; the
module docstring there says how the states merge and why they count merges.
"""
import itertools

import numpy as np
import numpy.typing as npt

from heads import buckets, formulas, states

# Every change of the data a curve state holds takes the next number: a
# union caches its merge under its parts' numbers, unique even across states.
_versions = itertools.count(1)


def checked_config(exact_limit: int | None, max_buckets: int, min_exponent: int) -> tuple:
    """(exact_limit, max_buckets, min_exponent) of a curve state, checked."""
    if exact_limit is not None and (isinstance(exact_limit, bool) or
                                    not isinstance(exact_limit, (int, np.integer)) or
                                    exact_limit < 0):
        raise ValueError("exact_limit must be None or an integer >= 0; got %r" % (exact_limit,))
    if isinstance(min_exponent, bool) or not isinstance(min_exponent, (int, np.integer)) \
            or not 2 <= min_exponent <= 126:
        raise ValueError("min_exponent must be an integer in [2, 126] (q = min(p, 1 - p) "
                         "is bucketed down to 2**-min_exponent); got %r" % (min_exponent,))
    return (None if exact_limit is None else int(exact_limit),
            buckets.check_max_buckets(max_buckets, int(min_exponent)), int(min_exponent))


class CurveState:
    """The scores behind a ROC and a PR curve, in two parts of fixed size:

    * the `exact_limit` highest distinct scores, exactly (each with its
      weighted positives and negatives): while the data has no more distinct
      scores than that, the curves are exact;
    * every lower score in a `states.HistogramState`: at most `max_buckets`
      occupied buckets of the finest level of `heads.buckets` the data
      allows, with the positions of the scores in their buckets.

    The top of the ranking, where the PR curve is most sensitive (few
    predicted positives), stays exact; below it the histogram's estimate of
    how positives and negatives are ordered inside each bucket keeps ROC AUC
    and AUC-PR within 1e-6 of the exact values (tests/heads/test_auc_accuracy.py
    checks it; benchmarks/bench_auc.py measures the error at scale). With the
    defaults the state is under 0.5 MB: 8,192 x 20 bytes + 9,000 x 36. Which
    scores are exact, and the histogram's level, depend only on the set of
    scores, not on how the data was split, so merged states hold what one
    pass would. `exact_limit=None` keeps every score exact (the state grows
    with the distinct scores).

    Mutable: `add_scores` buffers scores, folded in (one sort) at least
    `FLUSH_AT_LEAST` at a time; `version` changes with the data held.
    """

    FLUSH_AT_LEAST = 1 << 14

    def __init__(self, exact_limit: int | None, max_buckets: int, min_exponent: int):
        self.exact_limit, self.max_buckets, self.min_exponent = checked_config(
            exact_limit, max_buckets, min_exponent)
        self._top = states.ScoresState.empty()
        self._rest = states.HistogramState.empty(self.max_buckets, self.min_exponent)
        self._pending = []
        self._pending_size = 0
        self.merges = 0            # merges of other states into this one
        self.merges_relied_on = 0  # merges of AUCs that read this state (module docstring)
        self.version = next(_versions)

    @property
    def config(self) -> tuple:
        return (self.exact_limit, self.max_buckets, self.min_exponent)

    # -- updates ------------------------------------------------------------------
    def add_scores(self, scores: npt.ArrayLike, pos: npt.ArrayLike, neg: npt.ArrayLike) -> None:
        """Adds float32 scores with their positive and negative weights."""
        self.version = next(_versions)
        self._pending.append((np.asarray(scores, np.float32), np.asarray(pos, np.float64),
                              np.asarray(neg, np.float64)))
        self._pending_size += len(scores)
        if self._pending_size > max(self.exact_limit or 1 << 20, self.FLUSH_AT_LEAST):
            self._flush()

    def merge(self, other: "CurveState | CurveUnion") -> None:
        """Adds the scores another curve state (or union) of the same
        configuration holds."""
        if other.config != self.config:
            raise states.IncompatibleStateError(
                "cannot merge curve states of (exact_limit, max_buckets, min_exponent) "
                "%r and %r" % (self.config, other.config))
        top, rest = other.snapshot()
        self.add_parts(top, rest)
        self.merges += 1

    def add_parts(self, top: states.ScoresState, rest: states.HistogramState) -> None:
        """Adds (top scores, histogram) of another state. The top scores of
        the union are among the two tops (a score with fewer than
        `exact_limit` higher distinct scores in the union has fewer in each
        part), so the split is the one of a single pass."""
        self._flush()
        self.version = next(_versions)
        self._top, self._rest = self._split(self._top.merge(top), self._rest.merge(rest))

    def _split(self, top, rest):
        """Keeps the `exact_limit` highest distinct scores of `top`; the lower
        ones join the histogram `rest`."""
        if self.exact_limit is None or len(top.scores) <= self.exact_limit:
            return top, rest
        cut = len(top.scores) - self.exact_limit
        rest = rest.add_scores(top.scores[:cut], top.pos[:cut], top.neg[:cut])
        top = states.ScoresState(scores=top.scores[cut:], pos=top.pos[cut:], neg=top.neg[cut:])
        return top, rest

    def _flush(self):
        """Folds the buffered scores into the state: one sort per
        `exact_limit` (at least `FLUSH_AT_LEAST`) scores, not one per batch."""
        if self._pending:
            pending = self._pending
            self._pending, self._pending_size = [], 0
            self._top, self._rest = self._folded(pending)

    def _folded(self, pending):
        """(top, histogram): this state with the buffered `pending` scores.
        Scores below a full exact part, and those the new scores push out of
        it, join the histogram in one update."""
        top, rest = self._top, self._rest
        scores, pos, neg = (np.concatenate(p) for p in zip(*pending))
        limit = self.exact_limit
        lower = []  # (scores, pos, neg) for the histogram
        if limit is not None and len(top.scores) >= limit:
            # The exact part is full: a score below its lowest has `exact_limit`
            # higher ones and goes straight to the histogram, unsorted.
            below = scores < top.scores[0] if limit else np.ones(len(scores), bool)
            if below.any():
                # Row numbers, then gathers: selecting through a boolean mask
                # that mixes True and False is several times slower.
                rows, kept = np.flatnonzero(below), np.flatnonzero(~below)
                lower.append((scores.take(rows), pos.take(rows), neg.take(rows)))
                scores, pos, neg = scores.take(kept), pos.take(kept), neg.take(kept)
        if len(scores):
            top = top.merge(states.ScoresState.from_values(scores, pos, neg))
            if limit is not None and len(top.scores) > limit:
                cut = len(top.scores) - limit
                lower.append((top.scores[:cut], top.pos[:cut], top.neg[:cut]))
                top = states.ScoresState(scores=top.scores[cut:], pos=top.pos[cut:],
                                         neg=top.neg[cut:])
        if lower:
            rest = rest.add_scores(*(np.concatenate(p) for p in zip(*lower)))
        return top, rest

    def __getstate__(self):
        self._flush()
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.version = next(_versions)  # numbers of this process only

    # -- reading ------------------------------------------------------------------
    def snapshot(self) -> tuple:
        """(exact top scores `states.ScoresState`, `states.HistogramState`),
        buffered scores folded in. Both are immutable."""
        self._flush()
        return self._top, self._rest

    @property
    def exact(self) -> bool:
        """True while the state holds every distinct score."""
        return not len(self.snapshot()[1].index)

    def entries(self) -> tuple:
        """pos, neg (and positions, or None) per ascending score bucket: the
        histogram's buckets, then the exact scores (each its own bucket, of
        ties: position 1/2)."""
        top, rest = self.snapshot()
        if not len(rest.index):
            return top.pos, top.neg, None, None
        return (np.concatenate([rest.pos, top.pos]), np.concatenate([rest.neg, top.neg]),
                np.concatenate([rest.pos_t, 0.5 * top.pos]),
                np.concatenate([rest.neg_t, 0.5 * top.neg]))

    def curve_points(self, max_points: int = 1000) -> dict:
        """ROC and PR points (`formulas.curve_points`) at each bucket's lower
        edge and each exact score."""
        pos, neg, _, _ = self.entries()
        top, rest = self.snapshot()
        edges = np.concatenate([
            buckets.lower_edges(rest.index, rest.mantissa_bits, rest.min_exponent),
            top.scores.astype(np.float64)])
        return formulas.curve_points(pos, neg, edges, max_points)

    # -- as a dict of arrays ------------------------------------------------------
    BUCKET_PREFIX = "bucket_"
    _BUCKET_ARRAYS = ("index", "pos", "neg", "pos_t", "neg_t")

    def to_dict(self) -> dict:
        """The exact scores (`scores`, `pos`, `neg`), the histogram
        (`bucket_index`, `bucket_pos`, ..., `mantissa_bits`) and its layout
        (`max_buckets`, `min_exponent`) as numpy arrays."""
        top, rest = self.snapshot()
        out = top.to_dict()
        out.update({self.BUCKET_PREFIX + k if k in self._BUCKET_ARRAYS else k: v
                    for k, v in rest.to_dict().items()})
        return out

    @classmethod
    def from_dict(cls, state_dict: dict, exact_limit: int | None, max_buckets: int,
                  min_exponent: int, owner: str = "curve state") -> "CurveState":
        """A state of this configuration holding the arrays of `to_dict()`
        (re-split for this `exact_limit`); `owner` names it in errors."""
        state = cls(exact_limit, max_buckets, min_exponent)
        top = states.ScoresState.from_dict(state_dict)
        rest = state._rest
        if cls.BUCKET_PREFIX + "index" in state_dict:
            prefix = cls.BUCKET_PREFIX
            rest = states.HistogramState.from_dict(
                {k[len(prefix):] if k.startswith(prefix) else k: v
                 for k, v in state_dict.items()})
            if (rest.max_buckets, rest.min_exponent) != (state.max_buckets, state.min_exponent):
                raise states.IncompatibleStateError(
                    "%s: a state of max_buckets %d, min_exponent %d for a metric of "
                    "max_buckets %d, min_exponent %d" % (owner, rest.max_buckets,
                                                         rest.min_exponent, state.max_buckets,
                                                         state.min_exponent))
        state._rest = rest
        state.add_parts(top, states.HistogramState.empty(state.max_buckets, state.min_exponent))
        return state


class CurveUnion:
    """The curve state of scores partitioned among other AUCs' curve states
    (a multi-label head's pooled scores, one part per class): their merge,
    taken when read. Any partition merges to the one-pass state, so it holds
    what adding every score again would. It takes no scores itself;
    `detached()` is a plain copy that does.

    `parts` are the AUCs holding the parts (a part's state may be replaced by
    a reset: the union reads their current states).
    """

    def __init__(self, parts):
        self.parts = tuple(parts)
        if not self.parts:
            raise ValueError("a curve union needs at least one part")
        configs = {p.curve_state.config for p in self.parts}
        if len(configs) != 1:
            raise ValueError("the parts of a curve union must be configured alike; got %s"
                             % sorted(configs, key=repr))
        self.exact_limit, self.max_buckets, self.min_exponent = configs.pop()
        self.merges = 0            # merges that the parts' own merges bring
        self.merges_relied_on = 0
        self._merged = None        # (the parts' versions, their merge)

    @property
    def config(self) -> tuple:
        return (self.exact_limit, self.max_buckets, self.min_exponent)

    def materialized(self) -> CurveState:
        """The parts' merge, computed once per version of the parts. Not to be
        changed: `detached()` gives a copy to change."""
        part_states = [p.curve_state for p in self.parts]
        versions = tuple(s.version for s in part_states)
        if self._merged is None or self._merged[0] != versions:
            merged = CurveState(*self.config)
            for state in part_states:
                merged.merge(state)
            merged.merges = 0
            self._merged = (versions, merged)
        return self._merged[1]

    def detached(self) -> CurveState:
        """A plain curve state holding what the union does now."""
        state = CurveState(*self.config)
        state.add_parts(*self.snapshot())
        state.merges, state.merges_relied_on = self.merges, self.merges_relied_on
        return state

    def snapshot(self) -> tuple:
        return self.materialized().snapshot()

    @property
    def exact(self) -> bool:
        return self.materialized().exact

    def entries(self) -> tuple:
        return self.materialized().entries()

    def curve_points(self, max_points: int = 1000) -> dict:
        return self.materialized().curve_points(max_points)

    def to_dict(self) -> dict:
        return self.materialized().to_dict()

    def __getstate__(self):
        return dict(self.__dict__, _merged=None)
