"""A user's package of custom metrics (heads/custom.py's interface), for the
tests: importable as `custom_metric_pkg` with tests/support on PYTHONPATH
(as a user's package on the workers), or as `tests.support.custom_metric_pkg`."""
import numpy as np


class WeightedBrier:
    """Weighted Brier score of a binary head: sum w (p - y)^2 / sum w."""

    name = "weighted_brier"
    direction = "lower"

    def batch_statistics(self, batch):
        w = batch.weights
        return {"squared": np.sum(w * (batch.predictions - batch.labels) ** 2),
                "weight": np.sum(w)}

    def result(self, state):
        w = state["weight"]
        return state["squared"] / w if w else float("nan")


def weighted_brier(head):
    """Only for binary heads: None leaves the others out."""
    return WeightedBrier() if head.type == "binary" else None


class HighScoreLift:
    """Lift of the examples scored above 0.8 (positive rate there over the
    positive rate of all), and their share of the weight."""

    direction = "higher"

    def __init__(self, cut=0.8):
        self.cut = cut

    def batch_statistics(self, batch):
        w, y = batch.weights, batch.labels
        high = batch.predictions > self.cut
        return {"sums": np.array([np.sum(w), np.sum(w * y), np.sum(w * high),
                                  np.sum(w * y * high)])}

    def result(self, state):
        w, wy, wh, wyh = state["sums"]
        if not (w and wh and wy):
            return {"lift": float("nan"), "coverage": float("nan") if not w else wh / w}
        return {"lift": (wyh / wh) / (wy / w), "coverage": wh / w}


def high_score_lift(head):
    return HighScoreLift() if head.type == "binary" else None


class FeatureMean:
    """Weighted mean of the feature `x`, per head (reads batch.features)."""

    name = "x_mean"

    def batch_statistics(self, batch):
        x = np.asarray(batch.features["x"], np.float64).ravel()
        w = batch.weights if batch.weights.ndim == 1 else batch.weights[:, 0]
        return {"wx": np.sum(w * x), "w": np.sum(w)}

    def result(self, state):
        return state["wx"] / state["w"] if state["w"] else float("nan")


def x_mean():
    return FeatureMean()


class _GrowingState:
    def batch_statistics(self, batch):
        return {"values": np.asarray(batch.labels, np.float64)}  # one per example: not a sum

    def result(self, state):
        return float(np.sum(state["values"]))


def growing_state():
    return _GrowingState()


def no_result():
    return object()


def raises_in_factory():
    raise RuntimeError("cannot build")


not_callable = 3


class _FailsOnBigBatches:
    def batch_statistics(self, batch):
        if len(batch.weights) > 2:  # past the config-time check on two made-up examples
            raise ZeroDivisionError("too many")
        return {"n": np.float64(len(batch.weights))}

    def result(self, state):
        return state["n"]


def fails_on_big_batches():
    return _FailsOnBigBatches()
