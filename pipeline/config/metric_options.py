"""The config's `metrics:` section: AUC options, custom metrics, fairness,
confidence intervals (pipeline.config.intervals).

    metrics:
      auc: {method: histogram, buckets: N}
      custom: ["package.module:factory", ...]    # heads/custom.py's interface
      fairness: {rates: [fpr, fnr], thresholds: [0.5]}
      confidence_intervals: {method: jackknife, replicates: 20, level: 0.95, seed: 0}

Only the form is checked here (no import of user code: loading a config
stays quick and imports nothing); `pipeline.evaluate.custom` imports and
checks each factory before the pipeline starts.
"""
import re

from pipeline.config.intervals import parse_intervals
from pipeline.config.limits import float32
from pipeline.config.spec import (AUC_KEYS, AUC_METHODS, DEFAULT_AUC_METHOD, FAIRNESS_KEYS,
                                  HISTOGRAM, METRICS_KEYS, MIN_AUC_BUCKETS, AucConfig,
                                  FairnessConfig, MetricsConfig)

# 'package.module:factory' (the factory may be a dotted attribute path).
CUSTOM_SPEC_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$"
FAIRNESS_RATE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_SPEC, _RATE = re.compile(CUSTOM_SPEC_PATTERN), re.compile(FAIRNESS_RATE_PATTERN)


def parse_metrics(p, data, heads, features, transform) -> MetricsConfig:
    """`metrics` of YAML data -> MetricsConfig; `p` is the parser (its
    checks name the file and the key); `heads`, `features`, `transform` as
    parsed before (confidence intervals check their memory and example id
    against them)."""
    if data is None:
        return MetricsConfig()
    p.mapping(data, "metrics", METRICS_KEYS)
    auc = _auc(p, data.get("auc"))
    return MetricsConfig(auc=auc, custom=_custom(p, data.get("custom")),
                         fairness=_fairness(p, data.get("fairness")),
                         confidence_intervals=parse_intervals(
                             p, data.get("confidence_intervals"), heads, auc, features,
                             transform))


def _auc(p, auc):
    if auc is None:
        return AucConfig()
    p.mapping(auc, "metrics.auc", AUC_KEYS)
    method = p.string(auc.get("method", DEFAULT_AUC_METHOD), "metrics.auc.method", AUC_METHODS)
    buckets = auc.get("buckets")
    if buckets is not None:
        if method != HISTOGRAM:
            p.fail("metrics.auc.buckets", "absent with method: exact (it applies to "
                   "method: histogram)", buckets)
        buckets = p.integer(buckets, "metrics.auc.buckets", minimum=MIN_AUC_BUCKETS)
    return AucConfig(method=method, buckets=buckets)


def _custom(p, custom):
    if custom is None:
        return ()
    p.list_of(custom, "metrics.custom", "'package.module:factory' strings")
    for i, spec in enumerate(custom):
        if not isinstance(spec, str) or not _SPEC.match(spec):
            p.fail("metrics.custom[%d]" % i, "a 'package.module:factory' string", spec)
    if len(set(custom)) != len(custom):
        p.fail("metrics.custom", "a list without repeats", custom)
    return tuple(custom)


def _fairness(p, fairness):
    if fairness is None:
        return None
    p.mapping(fairness, "metrics.fairness", FAIRNESS_KEYS, required=("rates",))
    rates = p.list_of(fairness["rates"], "metrics.fairness.rates", "rate or metric names")
    if not rates:
        p.fail("metrics.fairness.rates", "a non-empty list of rate or metric names", rates)
    for i, rate in enumerate(rates):
        if not isinstance(rate, str) or not _RATE.match(rate):
            p.fail("metrics.fairness.rates[%d]" % i, "a rate (fpr, fnr, tpr, tnr, ppv, npv) "
                   "or a metric name (letters, digits, '_')", rate)
    if len(set(rates)) != len(rates):
        p.fail("metrics.fairness.rates", "a list without repeats", rates)
    thresholds = fairness.get("thresholds")
    if thresholds is not None:
        key = "metrics.fairness.thresholds"
        p.list_of(thresholds, key, "numbers in (0, 1)")
        for t in thresholds:
            if isinstance(t, bool) or not isinstance(t, (int, float)) or \
                    not 0.0 < float32(t) < 1.0:
                p.fail(key, "a list of numbers in (0, 1)", thresholds)
        thresholds = tuple(float(t) for t in thresholds)
    return FairnessConfig(rates=tuple(rates), thresholds=thresholds)
