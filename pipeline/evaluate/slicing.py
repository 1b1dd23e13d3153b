"""Slices: which examples of a batch go to which slice, and slices made from others.

A slice spec (`pipeline.config.SliceSpec`) names features (none: the
overall slice); a slice is one combination of their values, named in the
report by its slice string 'f=v,g=w' (`slice_key`). A bucketed feature's
value is its bucket's label (`pipeline.config.slices.bucket_labels`, NaN
in a bucket of its own); a var-length feature gives an example one entry
per distinct value it holds, so the example counts in each of their slices
(TFMA's multivalent slicing) and in none when it holds no value; `where`
keeps only the listed values. `SliceSpecs` gives each batch's (example,
slice) entries (`slice_rows`) and, once every batch is in, adds the slices
of the specs it derives from others instead of taking every example again
(`add_derived`). All whole-batch numpy: no Python per example.

Two limits keep the slices' memory bounded (docs/reliability.md, "Limits"):
a slice spec may yield at most `max_slices` distinct slices (each holds
the heads' metric state), counted here on every worker and again where the
report gathers them (`pipeline.report.stages.GatherSlices`); and a slice
value (a string) may be at most MAX_SLICE_VALUE_BYTES long (it is copied
into every report row of its slice): `long_slice_values` finds the longer.
"""
import collections
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from heads.metrics import merge_metric_dicts
from pipeline.config import DEFAULT_MAX_SLICES, MAX_SLICE_VALUE_BYTES, clip
from pipeline.config.slices import bucket_labels
from pipeline.config.spec import SliceSpec, as_slice_spec
from pipeline.errors import SLICE_VALUE_TOO_LONG, ConfigError
from pipeline.evaluate.features import as_column, config_feature, to_sparse
from pipeline.report.schema import slice_string, slice_text


def distinct(column: np.ndarray) -> tuple:
    """(sorted distinct values, index of each value in them) of a 1-D array;
    strings (object arrays) through a dict, faster than np.unique's sort of
    Python objects."""
    if column.dtype.kind != "O":
        uniq, inverse = np.unique(column, return_inverse=True)
        return uniq, inverse.ravel()
    items = column.tolist()
    values_sorted = sorted(set(items))
    code = {v: i for i, v in enumerate(values_sorted)}
    values = np.empty(len(values_sorted), object)
    values[:] = values_sorted
    return values, np.fromiter(map(code.__getitem__, items), np.int64, len(items))


def slice_key(spec: Sequence[str], values: dict) -> str:
    """The report string of one slice: 'f=v,g=w' in spec order ('' overall),
    `values` the value texts (`slice_value_strings`); escaped so that no two
    slices print alike (pipeline.report.schema.slice_string)."""
    return slice_string((slice_text(f), values[f]) for f in spec)


def slice_value_strings(values: np.ndarray) -> np.ndarray:
    """Slice values as report texts, one per value: strings and bytes
    escaped (`slice_text`: bytes that are not UTF-8 kept as `\\xHH`),
    integers in decimal. Called on a batch's distinct values, not per
    example. (Floats are bucketed: `bucket_codes`.)"""
    values = np.asarray(values).ravel()
    if values.dtype.kind in "SOU":
        return np.array([slice_text(v) for v in values.tolist()], dtype=object)
    return values.astype(str).astype(object)


def bucket_codes(values: np.ndarray, boundaries: Sequence[float]) -> np.ndarray:
    """The bucket of each value (as `bucket_labels(boundaries)` numbers
    them), comparing values and boundaries as float64: b[i-1] <= v < b[i]
    is bucket i; NaN the last."""
    x = np.asarray(values, np.float64)
    codes = np.searchsorted(np.asarray(boundaries, np.float64), x, side="right")
    codes[np.isnan(x)] = len(boundaries) + 1
    return codes


def _feature_entries(column, spec: SliceSpec, feature: str, labels, factorized) -> tuple:
    """(example of each entry, or None for every example once in order;
    the code of each entry's value; the value texts the codes index) of one
    feature of a spec over a batch: one entry per example, or per distinct
    value of an example for a var-length feature, in example order; only
    values `where` keeps."""
    sparse = to_sparse(column)
    if sparse is not None:
        rows, values = sparse.indices.numpy()[:, 0], sparse.values.numpy()
    else:
        rows, values = None, as_column(np.asarray(column))
        if values.ndim != 1:
            raise ConfigError("slices: feature %s has shape %s; slice on a feature with one "
                              "value per example, or a var-length one"
                              % (clip(repr(feature)), values.shape))
    if labels is not None:
        if values.dtype.kind not in "iuf":
            raise ConfigError("slices: feature %s has boundaries, but holds %s values; "
                              "boundaries bucket numbers" % (clip(repr(feature)), values.dtype))
        codes, texts, keep = bucket_codes(values, spec.boundaries_of(feature)), labels, None
    else:
        if values.dtype.kind == "f":
            raise ConfigError("slices: feature %s holds floats; give it boundaries "
                              "({feature: %s, boundaries: [b1, b2, ...]}): each distinct "
                              "float would be a slice" % (clip(repr(feature)), clip(feature)))
        uniq, codes = (factorized[feature] if rows is None and factorized
                       and feature in factorized else distinct(values))
        texts = slice_value_strings(uniq)
        where = spec.where_of(feature)
        keep = None if where is None else _kept(feature, uniq, where)[codes]
    if keep is not None:
        if rows is None:
            rows = np.flatnonzero(keep)
            codes = codes[rows]
        else:
            rows, codes = rows[keep], codes[keep]
    if sparse is not None:  # each distinct value of an example once
        entries = np.unique(rows.astype(np.int64) * len(texts) + codes)
        rows, codes = entries // len(texts), entries % len(texts)
    return rows, codes, texts


def _kept(feature: str, uniq: np.ndarray, where: tuple) -> np.ndarray:
    """Which of a feature's distinct values `where` lists, compared as the
    feature's dtype (strings as UTF-8 bytes, integers as integers)."""
    strings = uniq.dtype.kind in "SOU"
    if any(isinstance(v, str) != strings for v in where):
        raise ConfigError("slices: `where` on feature %s lists %s, but the feature holds %s"
                          % (clip(repr(feature)), clip(list(where)),
                             "strings" if strings else "integers"))
    listed = set(where)
    if strings:
        listed |= {v.encode() for v in where}
    return np.fromiter((v in listed for v in uniq.tolist()), bool, len(uniq))


def _cross(rows, codes: list, more_rows, more_codes, batch_size: int) -> tuple:
    """Joins a feature's entries (`more_rows`, sorted, or None: each example
    once) to those of the features before it, example by example: an
    example with k entries so far and m of this feature has k x m."""
    if more_rows is None:
        return rows, codes + [more_codes if rows is None else more_codes[rows]]
    if rows is None:
        return more_rows, [c[more_rows] for c in codes] + [more_codes]
    counts = np.bincount(more_rows, minlength=batch_size)
    starts = np.cumsum(counts) - counts
    n = counts[rows]
    pick = np.repeat(np.arange(len(rows)), n)
    within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return rows[pick], [c[pick] for c in codes] + [more_codes[starts[rows][pick] + within]]


class SliceSpecs:
    """The slice specs of a run, and the slices met so far.

    A slice spec whose features are a strict subset of another's (the
    overall slice, always) is a union of that spec's slices when every
    example is in exactly one slice of the other (no `where`, no feature
    that may hold several values: `single_valued` lists those known to
    hold one) and their common features are bucketed alike: such a spec is
    `derived`, its metrics merged from those of the smallest `computed`
    spec that contains it, in `add_derived`. Only the `computed` specs take
    examples.
    """

    def __init__(self, slices: Iterable, max_slices: int = DEFAULT_MAX_SLICES,
                 single_valued: Iterable[str] = ()):
        self.max_slices = max_slices
        self._per_spec = collections.Counter()  # distinct slices met, per spec
        self.specs = [as_slice_spec(s) for s in slices]
        if SliceSpec() not in self.specs:
            self.specs.insert(0, SliceSpec())
        single = set(single_valued)

        def source(s, t):  # t's slices partition those of s
            return (set(s) < set(t) and not s.where and not t.where and set(t) <= single
                    and all(s.boundaries_of(f) == t.boundaries_of(f) for f in s))
        self.computed = [s for s in self.specs if not any(source(s, t) for t in self.specs)]
        self.derived = {s: min((t for t in self.computed if source(s, t)), key=len)
                        for s in self.specs if s not in self.computed}
        self._by_features = {s.features: s for s in self.specs}
        self._labels = {(s, f): np.array(bucket_labels(b), object)
                        for s in self.specs for f, b in s.boundaries}
        self._values = {}  # slice string -> (spec, {feature: value string})

    @classmethod
    def for_config(cls, config) -> "SliceSpecs":
        """The slice specs of a `Config`. After a transform no feature is
        known to hold one value per example: no spec is derived."""
        single = () if config.transform is not None else [
            name for name, f in config.input.features.items() if not f.varlen]
        return cls(config.slices, config.max_slices, single)

    def slice_rows(self, features: dict, spec, batch_size: int,
                   factorized: Optional[dict] = None) -> tuple:
        """(example of each entry, or None: every example once in order;
        the segment of each entry; the slice string of each segment) of one
        spec over a parsed batch. `factorized`: {feature: (sorted distinct
        values, index per example)} for features whose factorization is
        known (`pipeline.io.batches.RecordBatch.factorized`)."""
        spec = self._by_features.get(tuple(spec)) or as_slice_spec(spec)
        if not spec:
            return None, np.zeros(batch_size, np.int32), [""]
        rows, codes, names = None, [], []
        for feature in spec:
            column = config_feature(features, feature, "slices")
            more_rows, more_codes, texts = _feature_entries(
                column, spec, feature, self._labels.get((spec, feature)), factorized)
            rows, codes = _cross(rows, codes, more_rows, more_codes, batch_size)
            names.append(texts)
        dims = [len(n) for n in names]
        combined = np.ravel_multi_index(codes, dims)
        uniq, segment_ids = np.unique(combined, return_inverse=True)
        parts = np.unravel_index(uniq, dims)
        keys = []
        for j in range(len(uniq)):
            values = {f: names[i][parts[i][j]] for i, f in enumerate(spec)}
            key = slice_key(spec, values)
            if key not in self._values:
                self._values[key] = (spec, values)
                self._per_spec[spec] += 1
            keys.append(key)
        check_slice_count(spec, self._per_spec[spec], self.max_slices, "met by one worker")
        return rows, segment_ids.astype(np.int32).ravel(), keys

    def segments(self, features: dict, spec, batch_size: int,
                 factorized: Optional[dict] = None) -> tuple:
        """(segment id per example, the slice string of each segment) of a
        spec that puts every example in exactly one slice (`slice_rows`)."""
        rows, segment_ids, keys = self.slice_rows(features, spec, batch_size, factorized)
        if rows is not None:
            raise ValueError("slice spec %r does not put every example in one slice: "
                             "use slice_rows" % (list(spec),))
        return segment_ids, keys

    def slice_features(self) -> list:
        """The features the computed specs slice on, each once."""
        return list(dict.fromkeys(f for spec in self.computed for f in spec))

    def long_slice_values(self, features: dict, factorized: Optional[dict] = None) -> tuple:
        """({row: (SLICE_VALUE_TOO_LONG, feature, reason)} for the rows of a
        parsed batch with a slice value longer than MAX_SLICE_VALUE_BYTES,
        `factorized` with the string slice features it factorized added).
        Lengths are taken of each distinct value, not per example."""
        factorized = dict(factorized or {})
        bad = {}
        for feature in self.slice_features():
            column = features.get(feature)
            sparse = to_sparse(column) if column is not None else None
            if sparse is not None:
                rows, column = sparse.indices.numpy()[:, 0], sparse.values.numpy()
            elif isinstance(column, np.ndarray):
                rows, column = None, as_column(column)
            else:
                continue
            if column.dtype.kind not in "OSU" or column.ndim != 1:
                continue  # slice_rows explains a wrong shape
            if rows is not None:
                uniq, inverse = distinct(column)
            else:
                if feature not in factorized:
                    factorized[feature] = distinct(column)
                uniq, inverse = factorized[feature]
            values = uniq.tolist()
            if column.dtype.kind == "U":  # utf-8 bytes, as a record holds them
                values = [v.encode() for v in values]
            lengths = np.fromiter(map(len, values), np.int64, len(values))
            too_long = np.flatnonzero(lengths > MAX_SLICE_VALUE_BYTES)
            if not len(too_long):
                continue
            entries = np.flatnonzero(np.isin(inverse, too_long))
            examples = entries if rows is None else rows[entries]
            for entry, row in zip(entries.tolist(), examples.tolist()):
                n = int(lengths[inverse[entry]])
                bad.setdefault(row, (SLICE_VALUE_TOO_LONG, feature,
                                     "slice feature %s has a value of %d bytes; slice values "
                                     "are at most %d bytes" % (clip(repr(feature)), n,
                                                               MAX_SLICE_VALUE_BYTES)))
        return bad, factorized

    def add_derived(self, accumulators: dict, new_metrics: Callable[[], dict]) -> dict:
        """Adds to `accumulators` ({slice string: metrics dict}, complete for
        the computed specs) the slices of the derived specs, each the merge
        (into a fresh `new_metrics()`) of the slices of its computed spec
        that it contains. Returns `accumulators`."""
        derived = {}
        for key in list(accumulators):
            spec, values = self._values.get(key, (None, None))
            for target, source in self.derived.items():
                if spec != source:
                    continue
                target_key = slice_key(target, values)
                if target_key not in derived:
                    derived[target_key] = new_metrics()
                merge_metric_dicts(derived[target_key], accumulators[key])
        for key, metrics in derived.items():
            if key in accumulators:
                raise ValueError("finish() called twice on the same accumulators (slice %r)" % key)
            accumulators[key] = metrics
        return accumulators


def check_slice_count(spec: Iterable[str], count: int, max_slices: int, where: str) -> None:
    """Fails (ConfigError, one line) when slice spec `spec` has `count` >
    `max_slices` distinct slices; `where`: who counted them."""
    if count > max_slices:
        raise ConfigError("slices: %s yields more than max_slices = %d distinct slices (%d %s); "
                          "slice on features with fewer values, or raise max_slices"
                          % (clip(list(spec)), max_slices, count, where), None, "max_slices")
