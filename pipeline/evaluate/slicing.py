"""Slices: which examples of a batch go to which slice, and slices made from others.

A slice spec is a tuple of feature names (`()`: the overall slice); a slice
is one combination of their values, named in the report by its slice string
'f=v,g=w' (`slice_key`). `SliceSpecs` numbers the slices of a batch
(`segments`) and, once every batch is in, adds the slices of the specs it
derives from others instead of taking every example again (`add_derived`).
All whole-batch numpy: no Python per example.

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


def _float_text(value) -> str:
    """A float as short text that reads back as the same value: '%g' where
    that is exact (0.5, 3), else numpy's shortest round trip (1234567.0 and
    1234568.0 both print '1.23457e+06' with %g)."""
    text = "%g" % value
    if value != value or type(value)(text) == value:  # NaN prints 'nan'
        return text
    return str(value)


def slice_value_strings(values: np.ndarray) -> np.ndarray:
    """Slice values as report texts, one per value: strings and bytes
    escaped (`slice_text`: bytes that are not UTF-8 kept as `\\xHH`), floats
    printed so that they read back exactly. Called on a batch's distinct
    values, not per example."""
    values = np.asarray(values).ravel()
    if values.dtype.kind in "SOU":
        return np.array([slice_text(v) for v in values.tolist()], dtype=object)
    if values.dtype.kind == "f":
        # + 0 turns -0.0 into 0.0: one value, one slice, whichever sign a
        # batch happens to hold (np.unique keeps either).
        return np.array([_float_text(v) for v in values + values.dtype.type(0)], dtype=object)
    return values.astype(str).astype(object)


class SliceSpecs:
    """The slice specs of a run, and the slices met so far.

    A slice spec whose features are a strict subset of another's (the
    overall slice, always) is a union of that spec's slices, since every
    example has one value per slice feature: such a spec is `derived`, its
    metrics merged from those of the smallest `computed` spec that contains
    it, in `add_derived`. Only the `computed` specs take examples.
    """

    def __init__(self, slices: Iterable[Sequence[str]], max_slices: int = DEFAULT_MAX_SLICES):
        self.max_slices = max_slices
        self._per_spec = collections.Counter()  # distinct slices met, per spec
        self.specs = [tuple(s) for s in slices]
        if () not in self.specs:
            self.specs.insert(0, ())
        self.computed = [s for s in self.specs if not any(set(s) < set(t) for t in self.specs)]
        self.derived = {s: min((t for t in self.computed if set(s) < set(t)), key=len)
                        for s in self.specs if s not in self.computed}
        self._values = {}  # slice string -> (spec, {feature: value string})

    def segments(self, features: dict, spec: tuple, batch_size: int,
                 factorized: Optional[dict] = None) -> tuple:
        """(segment id per example, the slice string of each segment) of one
        spec over a parsed batch. `factorized`: {feature: (sorted distinct
        values, index per example)} for features whose factorization is
        known (`pipeline.io.batches.RecordBatch.factorized`)."""
        if not spec:
            return np.zeros(batch_size, np.int32), [""]
        codes, names = [], []
        for feature in spec:
            column = config_feature(features, feature, "slices")
            if to_sparse(column) is not None:
                raise ConfigError("slices: feature %s is var-length; slice on a feature with one "
                                  "value per example" % clip(repr(feature)))
            column = as_column(np.asarray(column))
            if column.ndim != 1:
                raise ConfigError("slices: feature %s has shape %s; slice on a feature with one "
                                  "value per example" % (clip(repr(feature)), column.shape))
            uniq, inverse = (factorized[feature] if factorized and feature in factorized
                             else distinct(column))
            codes.append(inverse)
            names.append(slice_value_strings(uniq))
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
        return segment_ids.astype(np.int32).ravel(), keys

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
            if not isinstance(column, np.ndarray) or column.dtype.kind not in "OSU":
                continue
            column = as_column(column)
            if column.ndim != 1:
                continue  # segments() explains it
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
            for row in np.flatnonzero(np.isin(inverse, too_long)).tolist():
                n = int(lengths[inverse[row]])
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


def check_slice_count(spec: Sequence[str], count: int, max_slices: int, where: str) -> None:
    """Fails (ConfigError, one line) when slice spec `spec` has `count` >
    `max_slices` distinct slices; `where`: who counted them."""
    if count > max_slices:
        raise ConfigError("slices: %s yields more than max_slices = %d distinct slices (%d %s); "
                          "slice on features with fewer values, or raise max_slices"
                          % (clip(list(spec)), max_slices, count, where), None, "max_slices")
