"""Loss reductions and the `loss_fn` calling convention."""
import inspect
from typing import Callable

import tensorflow as tf

SUM_OVER_BATCH_SIZE = "sum_over_batch_size"
SUM = "sum"
REDUCTIONS = (SUM_OVER_BATCH_SIZE, SUM)


def validate_loss_reduction(loss_reduction: str) -> str:
    if loss_reduction not in REDUCTIONS:
        raise ValueError("Invalid loss_reduction: %r; loss_reduction must be one of %s"
                         % (loss_reduction, REDUCTIONS))
    return loss_reduction


def _fn_args(fn):
    return tuple(inspect.signature(fn).parameters)


def validate_loss_fn_args(loss_fn: Callable) -> None:
    """loss_fn(labels, logits[, features][, loss_reduction])."""
    if not callable(loss_fn):
        raise ValueError("loss_fn must be callable; got %r" % (loss_fn,))
    args = _fn_args(loss_fn)
    for required in ("labels", "logits"):
        if required not in args:
            raise ValueError("loss_fn must contain argument: %s. Given arguments: %s"
                             % (required, args))
    invalid = sorted(set(args) - {"labels", "logits", "features", "loss_reduction"})
    if invalid:
        raise ValueError("loss_fn has unexpected args: %s" % invalid)


def call_loss_fn(loss_fn: Callable, labels: tf.Tensor, logits: tf.Tensor, features: dict | None,
                 expected_loss_dim: int = 1) -> tf.Tensor:
    """Calls a user loss_fn and checks it returned `[D0, ..., DN, expected_loss_dim]`."""
    kwargs = {"features": features} if "features" in _fn_args(loss_fn) else {}
    loss = tf.convert_to_tensor(loss_fn(labels=labels, logits=logits, **kwargs))
    expected = tuple(logits.shape.as_list())[:-1] + (expected_loss_dim,)
    if tuple(loss.shape.as_list()) != expected:
        raise ValueError("loss_fn must return Tensor of shape [D0, D1, ... DN, %d]; "
                         "logits_shape: %s, loss_shape: %s"
                         % (expected_loss_dim, tuple(logits.shape.as_list()),
                            tuple(loss.shape.as_list())))
    return loss


def reduce_weighted_loss(unweighted_loss: tf.Tensor, weights: tf.Tensor,
                         reduction: str) -> tf.Tensor:
    """Keras' compute_weighted_loss: sum(loss * weights), divided by the
    number of loss elements for 'sum_over_batch_size'."""
    weighted = tf.cast(unweighted_loss, tf.float64) * tf.cast(weights, tf.float64)
    weighted = tf.broadcast_to(weighted, tf.broadcast_dynamic_shape(
        tf.shape(weighted), tf.shape(unweighted_loss)))
    total = tf.reduce_sum(weighted)
    if reduction != SUM:
        total = tf.math.divide_no_nan(total, tf.cast(tf.size(weighted), tf.float64))
    return tf.cast(total, tf.float32)


def add_regularization(loss: tf.Tensor, regularization_losses: list | None) -> tf.Tensor:
    if regularization_losses is None:
        return loss
    return loss + tf.math.add_n([tf.cast(r, tf.float32) for r in regularization_losses])
