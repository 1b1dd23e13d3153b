"""Mergeable metric states (headeval's extension of the estimator heads).

Every metric object from `head.metrics()` has `get_state()` (a dict of numpy
arrays), `from_state()`, `merge_state(others)` and `reset_state()`. The
property test is torchmetrics' MetricTester: random data, a random partition,
each part into fresh metrics, merged in shuffled order == one pass.
"""
import gc
import pickle
import weakref

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import heads
from tests.heads.heads_oracle import result_value

REGULARIZATION = [0.25, 0.5]


def _binary(extended):
    return heads.BinaryClassHead(weight_column="w", thresholds=[0.3, 0.5, 0.7],
                                 **_ext(extended))


def _multi_class(extended):
    return heads.MultiClassHead(4, weight_column="w", **_ext(extended))


def _multi_label(extended):
    return heads.MultiLabelHead(3, weight_column="w", thresholds=[0.5],
                                classes_for_class_based_metrics=[0, 2], **_ext(extended))


def _regression(extended):
    return heads.RegressionHead(label_dimension=2, weight_column="w", **_ext(extended))


def _ext(extended):
    return {"extended_metrics": True} if extended else {}


MAKERS = {"binary": _binary, "multi_class": _multi_class, "multi_label": _multi_label,
          "regression": _regression}
CASES = [(kind, ext) for kind in MAKERS for ext in (False, True)]
CASE_IDS = ["%s%s" % (kind, "-extended" if ext else "") for kind, ext in CASES]
_HEADS = {}


def make_head(kind, extended):
    """One head per case, reused across tests (its compiled TF function too)."""
    if (kind, extended) not in _HEADS:
        _HEADS[kind, extended] = MAKERS[kind](extended)
    return _HEADS[kind, extended]


def make_batch(kind, n, rng, ties=False):
    """features, logits, labels for n examples; `ties` rounds logits to 0.5 steps."""
    width = {"binary": 1, "multi_class": 4, "multi_label": 3, "regression": 2}[kind]
    logits = rng.normal(scale=2.0, size=(n, width))
    if ties:
        logits = np.round(logits * 2) / 2
    if kind == "binary":
        labels = (rng.random((n, 1)) < 0.4).astype(np.int64)
    elif kind == "multi_class":
        labels = rng.integers(0, 4, size=(n, 1))
    elif kind == "multi_label":
        labels = (rng.random((n, 3)) < 0.4).astype(np.int64)
    else:
        labels = rng.normal(size=(n, 2)).astype(np.float32)
    weights = rng.uniform(0.0, 2.0, size=(n, 1))
    weights[rng.random(n) < 0.1] = 0.0
    return {"w": weights}, logits.astype(np.float32), labels


def update(head, metrics, batch, sl=slice(None)):
    features, logits, labels = batch
    return head.update_metrics(metrics, {"w": features["w"][sl]}, logits[sl], labels[sl],
                               regularization_losses=REGULARIZATION)


def evaluated(kind, extended, n=40, seed=0, ties=True):
    head = make_head(kind, extended)
    batch = make_batch(kind, n, np.random.default_rng(seed), ties=ties)
    return head, update(head, head.metrics(regularization_losses=REGULARIZATION), batch)


def assert_same_results(got, expected, rtol=1e-9, atol=1e-12):
    assert sorted(got) == sorted(expected)
    bad = {}
    for key in expected:
        a, b = result_value(got[key]), result_value(expected[key])
        if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            bad[key] = (a, b)
    assert not bad, "key: (got, expected) %s" % bad


# -- the state API ----------------------------------------------------------------

@pytest.mark.parametrize("kind, extended", CASES, ids=CASE_IDS)
def test_get_state_is_a_dict_of_numpy_arrays(kind, extended):
    _, metrics = evaluated(kind, extended)
    for key, metric in metrics.items():
        state = metric.get_state()
        assert isinstance(state, dict) and state, key
        for name, value in state.items():
            assert isinstance(value, np.ndarray), (key, name, type(value))


@pytest.mark.parametrize("kind, extended", CASES, ids=CASE_IDS)
def test_from_state_round_trip(kind, extended):
    _, metrics = evaluated(kind, extended)
    failures = {}
    for key, metric in metrics.items():
        try:
            copy = type(metric).from_state(metric.get_state())
            a, b = result_value(copy), result_value(metric)
            if not np.allclose(a, b, rtol=0, atol=0, equal_nan=True):
                failures[key] = (a, b)
        except Exception as e:  # report every metric that does not round-trip
            failures[key] = repr(e)
    assert not failures, failures


@pytest.mark.parametrize("kind, extended", CASES, ids=CASE_IDS)
def test_reset_state(kind, extended):
    head, metrics = evaluated(kind, extended)
    fresh = head.metrics(regularization_losses=REGULARIZATION)
    for key, metric in metrics.items():
        metric.reset_state()
        state, empty = metric.get_state(), fresh[key].get_state()
        assert sorted(state) == sorted(empty), key
        for name in state:
            np.testing.assert_array_equal(state[name], empty[name], err_msg="%s %s" % (key, name))
    assert_same_results(metrics, fresh, rtol=0, atol=0)


@pytest.mark.parametrize("kind, extended", CASES, ids=CASE_IDS)
def test_merge_with_empty_is_identity_and_merge_commutes(kind, extended):
    head = make_head(kind, extended)
    rng = np.random.default_rng(1)
    a = update(head, head.metrics(regularization_losses=REGULARIZATION),
               make_batch(kind, 30, rng, ties=True))
    b = update(head, head.metrics(regularization_losses=REGULARIZATION),
               make_batch(kind, 17, rng, ties=True))
    ab = head.metrics(regularization_losses=REGULARIZATION)
    ba = head.metrics(regularization_losses=REGULARIZATION)
    a_empty = head.metrics(regularization_losses=REGULARIZATION)
    empty = head.metrics(regularization_losses=REGULARIZATION)
    for key in a:
        ab[key].merge_state([a[key], b[key]])
        ba[key].merge_state([b[key]])
        ba[key].merge_state([a[key]])
        a_empty[key].merge_state([a[key], empty[key]])
    assert_same_results(ab, ba)
    assert_same_results(a_empty, a, rtol=0, atol=0)


@pytest.mark.parametrize("kind, extended", CASES, ids=CASE_IDS)
def test_metrics_pickle(kind, extended):
    _, metrics = evaluated(kind, extended)
    assert_same_results(pickle.loads(pickle.dumps(metrics)), metrics, rtol=0, atol=0)


@pytest.mark.parametrize("kind, extended", CASES, ids=CASE_IDS)
def test_dropped_metrics_are_freed_without_the_cycle_collector(kind, extended):
    """No metric (nor the curve state AUCs share) is in a reference cycle: a
    dropped dict is freed at once, also where the collector is paused."""
    _, metrics = evaluated(kind, extended)
    refs = [weakref.ref(m) for m in metrics.values()]
    refs += [weakref.ref(m.curve_state) for m in metrics.values() if hasattr(m, "curve_state")]
    gc.disable()
    try:
        del metrics
        assert not [r() for r in refs if r() is not None]
    finally:
        gc.enable()


def test_merge_refuses_different_configurations():
    head = heads.BinaryClassHead(thresholds=[0.3, 0.5])
    metrics = head.metrics()
    with pytest.raises(ValueError, match="threshold"):
        metrics["precision/positive_threshold_0.3"].merge_state(
            [metrics["precision/positive_threshold_0.5"]])
    with pytest.raises(ValueError):
        metrics["auc"].merge_state([metrics["average_loss"]])


@pytest.mark.parametrize("kind, extended", CASES, ids=CASE_IDS)
def test_state_size_does_not_grow_with_examples(kind, extended):
    """Every state but AUC's has a fixed size; AUC's stays far below 1 MB here
    (test_auc_accuracy.py checks it past 200k examples)."""
    head = make_head(kind, extended)
    rng = np.random.default_rng(2)
    small = update(head, head.metrics(regularization_losses=REGULARIZATION),
                   make_batch(kind, 5, rng))
    large = head.metrics(regularization_losses=REGULARIZATION)
    for _ in range(4):
        update(head, large, make_batch(kind, 2000, rng))
    for key in small:
        small_bytes = sum(v.nbytes for v in small[key].get_state().values())
        large_bytes = sum(v.nbytes for v in large[key].get_state().values())
        if key.split("/")[0] in ("auc", "auc_precision_recall"):
            assert large_bytes < 1 << 20, (key, large_bytes)
        else:
            assert large_bytes == small_bytes, (key, small_bytes, large_bytes)


# -- the property: any partition, merged in any order == one pass -------------------

@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.parametrize("kind, extended", CASES, ids=CASE_IDS)
def test_merged_partitions_equal_one_pass(kind, extended, data):
    n = data.draw(st.integers(1, 60), label="n")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    ties = data.draw(st.booleans(), label="ties")
    n_parts = data.draw(st.integers(1, min(4, n)), label="parts")
    rng = np.random.default_rng(seed)
    head = make_head(kind, extended)
    batch = make_batch(kind, n, rng, ties=ties)

    one_pass = update(head, head.metrics(regularization_losses=REGULARIZATION), batch)

    cuts = np.sort(rng.choice(np.arange(1, n), size=n_parts - 1, replace=False)) \
        if n_parts > 1 else np.array([], np.int64)
    bounds = np.concatenate([[0], cuts, [n]])
    parts = [update(head, head.metrics(regularization_losses=REGULARIZATION), batch,
                    slice(int(lo), int(hi))) for lo, hi in zip(bounds[:-1], bounds[1:])]
    order = rng.permutation(len(parts))
    merged = head.metrics(regularization_losses=REGULARIZATION)
    for key in merged:
        merged[key].merge_state([parts[i][key] for i in order])
    assert_same_results(merged, one_pass, rtol=1e-9, atol=1e-9)
