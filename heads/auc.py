"""ROC AUC and AUC-PR: two views of one curve state.

A `CurveState` holds float32 probability scores with their weighted
positives and negatives, in a bounded form. An `AUC` metric reads a curve
state as the area under one curve, ROC or interpolated precision-recall. A
head makes the `auc` and `auc_precision_recall` of the same scores (per class
too) as two views of one curve state (`AUC.reading`), fills that state once
per batch, and both read it. A multi-label head's pooled AUCs, when every
class has its own, read the union of the per-class states (`CurveUnion`,
`AUC.union`) instead of taking every score a second time.

Merging: `merge_state` on the AUC that holds a curve state merges the other
AUC's state into it. An AUC that reads a state held elsewhere in its dict
(the AUC-PR of a pair; a pooled AUC over per-class states) merged with
another such AUC merges nothing: merging the AUCs that hold the scores
(every key of the dicts, as `heads.metrics.merge_metric_dicts` does) brings
them. Each state counts those merges, so reading an AUC whose holders were
merged fewer times than it was raises `states.IncompatibleStateError`
instead of giving a value that misses data. For the same reason a metric
dict travels in one pickle: pickled one by one, the AUCs come back each with
a copy of the state it reads, which reads the same values but no longer
merges along with the others.
"""
import itertools

import numpy as np
import numpy.typing as npt

from heads import buckets, formulas, metrics, states

ROC = "ROC"
PR = "PR"
CURVES = (ROC, PR)
HISTOGRAM = "histogram"
EXACT = "exact"
AUC_METHODS = (HISTOGRAM, EXACT)

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


class AUC(metrics.Metric):
    """ROC or interpolated-PR AUC over float32 probability scores: a view of
    a `CurveState` (module docstring).

    `AUC(info, curve, ...)` holds a curve state of its own; `AUC.reading`
    makes a second view of an AUC's state, `AUC.union` a view of the union
    of several AUCs' states. `get_state()` holds the configuration too
    (`curve`, `exact_limit`, -1 for None, `max_buckets`, `min_exponent`), so
    `AUC.from_state(state)` restores the same metric (holding its own state).
    """

    DEFAULT_EXACT_LIMIT = 1 << 13
    DEFAULT_MAX_BUCKETS = buckets.DEFAULT_MAX_BUCKETS
    _CONFIG = ("curve", "exact_limit", "max_buckets", "min_exponent")

    def __init__(self, info, curve=ROC, max_buckets=DEFAULT_MAX_BUCKETS,
                 min_exponent=buckets.DEFAULT_MIN_EXPONENT, exact_limit=DEFAULT_EXACT_LIMIT):
        if curve not in CURVES:
            raise ValueError("curve must be %s; got %r" % (" or ".join(map(repr, CURVES)),
                                                           curve))
        self.curve = curve
        self.exact_limit, self.max_buckets, self.min_exponent = checked_config(
            exact_limit, max_buckets, min_exponent)
        self._reads = None  # the AUC whose `_curve` this one reads; None: its own
        super().__init__(info)

    @classmethod
    def reading(cls, holder: "AUC", info: metrics.MetricInfo | str, curve: str) -> "AUC":
        """An AUC of `curve` reading `holder`'s curve state (configured as
        `holder`): the AUC-PR of a ROC AUC's scores, say."""
        view = cls(info, curve, holder.max_buckets, holder.min_exponent, holder.exact_limit)
        view._reads, view._curve = holder.holder, None
        return view

    @classmethod
    def union(cls, info: metrics.MetricInfo | str, curve: str, parts: list) -> "AUC":
        """An AUC of `curve` over the union of the scores of the AUCs
        `parts` (`CurveUnion`): the pooled AUC of scores that the parts
        partition."""
        view_state = CurveUnion([p.holder for p in parts])
        view = cls(info, curve, view_state.max_buckets, view_state.min_exponent,
                   view_state.exact_limit)
        view._curve = view_state
        return view

    def _config(self):
        return (self.curve, self.exact_limit, self.max_buckets, self.min_exponent)

    @property
    def holder(self) -> "AUC":
        """The AUC holding the curve state this one reads (itself, or the AUC
        it was made `reading`). A reference, not a cycle to itself: metric
        dicts are freed as soon as they are dropped."""
        return self if self._reads is None else self._reads

    @property
    def curve_state(self) -> CurveState | CurveUnion:
        """The `CurveState` (or `CurveUnion`) this AUC reads."""
        return self.holder._curve

    def _read_state(self):
        """The curve state, once it is clear that every merge this AUC relied
        on took place (module docstring)."""
        state = self.curve_state
        if state.merges_relied_on > state.merges:
            raise states.IncompatibleStateError(
                "AUC (%s): merged %d times with AUCs that read another's curve state, but "
                "the AUC holding this one's (%s) was merged %d times: merge every metric "
                "of the dicts (heads.metrics.merge_metric_dicts)"
                % (self.info.key, state.merges_relied_on, self.holder.info.key, state.merges))
        if isinstance(state, CurveUnion):
            for part in state.parts:
                if part.curve_state.merges < state.merges:
                    raise states.IncompatibleStateError(
                        "AUC (%s) is the union of %d AUCs' scores and was merged %d times, "
                        "but AUC (%s) holding a part only %d times: merge every metric of "
                        "the dicts (heads.metrics.merge_metric_dicts)"
                        % (self.info.key, len(state.parts), state.merges, part.info.key,
                           part.curve_state.merges))
        return state

    def _writable_state(self):
        """The held curve state, a union first detached (it takes no scores)."""
        holder = self.holder
        if isinstance(holder._curve, CurveUnion):
            holder._curve = holder._curve.detached()
        return holder._curve

    # -- state ------------------------------------------------------------------
    def reset_state(self) -> None:
        """Empties the curve state this AUC reads, for every AUC reading it
        (an AUC over a union then holds an empty state of its own)."""
        self.holder._curve = CurveState(self.exact_limit, self.max_buckets, self.min_exponent)

    def add_state(self, delta: states.State) -> None:
        raise TypeError("AUC (%s) takes scores (update_state), not state deltas"
                        % self.info.key)

    @property
    def exact(self) -> bool:
        """True while the state holds every distinct score."""
        return self._read_state().exact

    def get_state(self) -> dict:
        out = self._read_state().to_dict()
        out.update(curve=np.asarray(self.curve),
                   exact_limit=np.asarray(-1 if self.exact_limit is None else self.exact_limit),
                   max_buckets=np.asarray(self.max_buckets),
                   min_exponent=np.asarray(self.min_exponent))
        return out

    def set_state(self, state_dict: dict) -> "AUC":
        """Restores the state arrays of `get_state()` into the curve state
        this AUC reads (its configuration entries are `from_state`'s
        business)."""
        self.holder._curve = CurveState.from_dict(
            state_dict, self.exact_limit, self.max_buckets, self.min_exponent,
            owner="AUC (%s)" % self.info.key)
        return self

    @classmethod
    def from_state(cls, state_dict: dict, info: metrics.MetricInfo | str | None = None,
                   **kwargs) -> "AUC":
        """A new AUC holding `state_dict`, configured as the state says
        (keyword arguments override)."""
        config = {}
        if "curve" in state_dict:
            config["curve"] = str(np.asarray(state_dict["curve"]))
        if "exact_limit" in state_dict:
            limit = int(np.asarray(state_dict["exact_limit"]))
            config["exact_limit"] = None if limit < 0 else limit
        for name in ("max_buckets", "min_exponent"):
            if name in state_dict:
                config[name] = int(np.asarray(state_dict[name]))
        config.update(kwargs)
        return super().from_state(state_dict, info, **config)

    def merge_state(self, others: list) -> "AUC":
        """Adds other AUCs' scores (same configuration, curve included);
        see the module docstring for AUCs that read a state held elsewhere."""
        others = list(others)
        for other in others:
            if not isinstance(other, AUC):
                raise states.IncompatibleStateError(
                    "cannot merge AUC (%s) with %s" % (self.info.key, type(other).__name__))
            for name, mine, theirs in zip(self._CONFIG, self._config(), other._config()):
                if mine != theirs:
                    raise states.IncompatibleStateError(
                        "cannot merge AUC (%s): %s %r != %r" % (self.info.key, name, mine, theirs))
        for other in others:
            self._merge_one(other)
        return self

    def _merge_one(self, other):
        if self._reads is not None:
            if other._reads is not None:
                # Both read a state held elsewhere: their holders' merge brings it.
                self.curve_state.merges_relied_on += 1
            else:
                self._reads._merge_one(other)
            return
        state, source = self._curve, other._read_state()
        if isinstance(state, CurveUnion):
            if isinstance(source, CurveUnion) and len(source.parts) == len(state.parts):
                state.merges += 1  # the parts' own merges bring the scores
                return
            state = self._writable_state()
        state.merge(source)

    # -- updates ------------------------------------------------------------------
    def update_state(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike,
                     sample_weight: npt.ArrayLike = None) -> None:
        """Labels count as positive where non-zero (Keras casts them to bool)."""
        y_true, w = metrics.flat_weights(y_true, sample_weight)
        positive = (y_true != 0).astype(np.float64)
        self._writable_state().add_scores(np.asarray(y_pred, np.float32).ravel(),
                                          (w * positive).ravel(), (w * (1.0 - positive)).ravel())

    # -- values -------------------------------------------------------------------
    def result(self) -> float:
        f = formulas.roc_auc if self.curve == ROC else formulas.pr_auc
        return f(*self._read_state().entries())

    def defined(self) -> bool:
        """ROC AUC needs both classes, AUC-PR positives (`result()` is 0
        without)."""
        f = formulas.roc_auc_defined if self.curve == ROC else formulas.pr_auc_defined
        pos, neg, _, _ = self._read_state().entries()
        return f(pos, neg)

    def curve_points(self, max_points: int = 1000) -> dict:
        """Points of both curves (`formulas.curve_points`), at most about
        `max_points`."""
        return self._read_state().curve_points(max_points)
