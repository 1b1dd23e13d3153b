"""`metrics: {confidence_intervals: ...}`: parsing and the memory it costs.

    metrics:
      confidence_intervals:
        method: jackknife       # or poisson_bootstrap
        replicates: 20          # >= 2
        level: 0.95             # 0 < level < 1
        seed: 0                 # which records share a replicate group
        example_id: id          # optional: a feature naming each example

Off when absent (or null). The names and numbers the heads use
(`heads.intervals`, `heads.replicates`) are repeated here, so that loading
a config imports no array library; tests/heads/test_intervals.py keeps them
equal.
"""
from pipeline.config.limits import MAX_SLICE_BYTES, format_bytes, slice_bytes
from pipeline.config.spec import INTERVAL_KEYS, REGRESSION, IntervalsConfig

POISSON_BOOTSTRAP = "poisson_bootstrap"
JACKKNIFE = "jackknife"
INTERVAL_METHODS = (JACKKNIFE, POISSON_BOOTSTRAP)
DEFAULT_INTERVAL_METHOD = JACKKNIFE
DEFAULT_REPLICATES = 20
DEFAULT_LEVEL = 0.95
MAX_REPLICATES = 1000
BOOTSTRAP_GROUPS_PER_REPLICATE = 5   # heads.intervals
COMPACT_BUCKETS = 738                # heads.replicates.num_buckets()
_ENTRY_BYTES = 40                    # a compact histogram entry: key and 4 sums


def num_groups(intervals: IntervalsConfig) -> int:
    """The replicate groups the examples are split into."""
    if intervals.method == JACKKNIFE:
        return intervals.replicates
    return BOOTSTRAP_GROUPS_PER_REPLICATE * intervals.replicates


def interval_record(intervals: IntervalsConfig):
    """run.json's `confidence_intervals`: the settings and the number of
    replicate groups, or None when intervals are off."""
    if intervals is None:
        return None
    return dict(intervals.to_dict(), groups=num_groups(intervals),
                interval="value +- t(replicates - 1) x stderr")


def replicate_bytes(head, groups: int) -> int:
    """An upper estimate of one slice's replicate state for `head`: per
    group, its dense sums (at most 64 + 4 (T + 1) C + 8 C + C^2 floats for
    C columns and T thresholds, measured on every head type) and a compact
    histogram of at most COMPACT_BUCKETS entries per AUC column."""
    columns = head.logits_dimension
    thresholds = len(head.thresholds or ()) + 1
    floats = 64 + 4 * thresholds * columns + 8 * columns + columns * columns
    curves = 0 if head.type == REGRESSION else columns
    return groups * (8 * floats + curves * COMPACT_BUCKETS * _ENTRY_BYTES)


def parse_intervals(parser, data, heads, auc, features, transform):
    """The IntervalsConfig of `metrics.confidence_intervals` (None: off).
    `parser`: the config's `_Parser`, whose checks name the key."""
    if data is None:
        return None
    key = "metrics.confidence_intervals"
    parser.mapping(data, key, INTERVAL_KEYS, what="a mapping (method, replicates, level, "
                   "seed, example_id; {} for the defaults)")
    method = parser.string(data.get("method", DEFAULT_INTERVAL_METHOD), key + ".method",
                           INTERVAL_METHODS)
    replicates = parser.integer(data.get("replicates", DEFAULT_REPLICATES),
                                key + ".replicates", minimum=2)
    if replicates > MAX_REPLICATES:
        parser.fail(key + ".replicates", "an integer from 2 to %d" % MAX_REPLICATES, replicates)
    level = data.get("level", DEFAULT_LEVEL)
    if not isinstance(level, (int, float)) or isinstance(level, bool) or not 0 < level < 1:
        parser.fail(key + ".level", "a number between 0 and 1 (0.95 for 95 % intervals)",
                    level)
    seed = parser.integer(data.get("seed", 0), key + ".seed", minimum=0)
    if seed >= 1 << 64:
        parser.fail(key + ".seed", "an integer from 0 to 2**64 - 1", seed)
    example_id = data.get("example_id")
    if example_id is not None:
        parser.feature_ref(example_id, key + ".example_id", features, transform,
                           lambda f: None if f.holds(1) and f.dtype in ("int64", "string")
                           else "an int64 or string feature with one value per example")
    config = IntervalsConfig(method=method, replicates=replicates, level=float(level),
                             seed=seed, example_id=example_id)
    groups = num_groups(config)
    total = sum(slice_bytes(h, auc) + replicate_bytes(h, groups) for h in heads)
    if total > MAX_SLICE_BYTES:
        parser.fail(key + ".replicates", "small enough that a slice's metric state with its "
                    "replicates fits in %s" % format_bytes(MAX_SLICE_BYTES), replicates,
                    hint="%d replicate groups need about %s per slice; use fewer replicates, "
                    "jackknife (one group per replicate) or fewer classes"
                    % (groups, format_bytes(total)))
    return config
