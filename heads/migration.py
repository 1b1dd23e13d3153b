"""The head factory functions of TensorFlow 1.x, mapped onto our heads.

Code written for `tf.contrib.estimator` (TF 1.3-1.15; `classes_for_class_based_metrics`
since 1.9; later
`tensorflow_estimator/contrib/estimator/python/estimator/head.py` and
`multi_head.py`) or for `tf.contrib.learn`
(`tensorflow/contrib/learn/python/learn/estimators/head.py`) builds its heads
with these functions; here each returns the head of this package with the same
meaning, so that code evaluates unchanged:

    tf.contrib.estimator                       tf.contrib.learn
    binary_classification_head(weight_column,  multi_class_head(2, ...)
      thresholds, label_vocabulary,
      loss_reduction, loss_fn, name)
    multi_class_head(n_classes, weight_column, multi_class_head(n_classes, label_name,
      label_vocabulary, loss_reduction,          weight_column_name, enable_centered_bias,
      loss_fn, name)                             head_name, thresholds, metric_class_ids,
                                                 loss_fn, label_keys)
    multi_label_head(n_classes, weight_column, multi_label_head(n_classes, label_name,
      thresholds, label_vocabulary,              weight_column_name, enable_centered_bias,
      loss_reduction, loss_fn,                   head_name, thresholds, metric_class_ids,
      classes_for_class_based_metrics, name)     loss_fn)
    regression_head(weight_column,             regression_head(label_name,
      label_dimension, loss_reduction,           weight_column_name, label_dimension,
      loss_fn, inverse_link_fn, name)            enable_centered_bias, head_name, link_fn)
    multi_head(heads, head_weights)            multi_head(heads, loss_weights)

One function takes both keyword sets: a call that names any argument only
`tf.contrib.learn` has (`label_name`, `weight_column_name`, `head_name`,
`enable_centered_bias`, `metric_class_ids`, `label_keys`, `link_fn`; in
`multi_class_head`, `thresholds`) is read the `tf.contrib.learn` way, where
`thresholds=None` meant `[0.5]`; any other call the `tf.contrib.estimator` way
(so `multi_label_head(3)` has no thresholds). The two
forms order their arguments differently (the second one is `weight_column` in
one and `label_name` in the other), so every argument after `n_classes` (all
of `regression_head`'s) is taken by keyword only. Nothing is dropped: an
argument our heads cannot honour is refused with a one-line `ValueError`.
"""
import inspect

from heads import losses
from heads.binary import BinaryClassHead
from heads.multi_class import MultiClassHead
from heads.multi_head import MultiHead
from heads.multi_label import MultiLabelHead
from heads.regression import RegressionHead

# tf.compat.v1.losses.Reduction values and the Keras / tf.estimator ones.
_REDUCTIONS = {
    "weighted_sum": losses.SUM,
    "weighted_sum_over_batch_size": losses.SUM_OVER_BATCH_SIZE,
    losses.SUM: losses.SUM,
    losses.SUM_OVER_BATCH_SIZE: losses.SUM_OVER_BATCH_SIZE,
}
_UNMAPPED_REDUCTIONS = {
    "none": "a head's training loss is one number (the estimator refused NONE too)",
    "auto": "it leaves the choice to a distribution strategy (the estimator refused AUTO too)",
    "weighted_mean": "it divides by the sum of the weights (MEAN)",
    "weighted_sum_by_nonzero_weights":
        "it divides by the count of non-zero weights (SUM_BY_NONZERO_WEIGHTS)",
}


def _loss_reduction(value):
    """Our loss_reduction for a tf.losses.Reduction / ReductionV2 value."""
    if isinstance(value, str) and value in _REDUCTIONS:
        return _REDUCTIONS[value]
    if isinstance(value, str) and value in _UNMAPPED_REDUCTIONS:
        raise ValueError("loss_reduction %r has no counterpart in our heads (%s or %s): %s"
                         % (value, losses.SUM_OVER_BATCH_SIZE, losses.SUM,
                            _UNMAPPED_REDUCTIONS[value]))
    raise ValueError("loss_reduction must be a tf.losses.Reduction value (SUM or "
                     "SUM_OVER_BATCH_SIZE) or %r / %r; got %r"
                     % (losses.SUM_OVER_BATCH_SIZE, losses.SUM, value))


def _weight_column(value):
    """A feature name, from a name or a `tf.feature_column.numeric_column`."""
    if value is None or isinstance(value, str):
        return value
    key = getattr(value, "key", None)
    if isinstance(key, str) and hasattr(value, "normalizer_fn"):
        if value.normalizer_fn is not None:
            raise ValueError("weight_column %r has a normalizer_fn, which our heads do not apply: "
                             "give the feature name and normalize the weights upstream" % (key,))
        if tuple(getattr(value, "shape", (1,))) != (1,):
            raise ValueError("weight_column %r must hold one weight per example; got shape %s"
                             % (key, tuple(value.shape)))
        return key
    raise ValueError("weight_column must be a feature name or a tf.feature_column.numeric_column; "
                     "got %r" % (value,))


def _no_positional(fn, args):
    if args:
        raise ValueError("%s: pass the arguments after the first by keyword (the two TF 1.x forms "
                         "order them differently: tf.contrib.estimator's second is weight_column, "
                         "tf.contrib.learn's label_name); got %d more positional" % (fn, len(args)))


def _learn_form(fn, learn, learn_only, shared, estimator_set):
    """Our head's arguments for a tf.contrib.learn call, or None for a
    tf.contrib.estimator one. `learn`: the keywords no tf.contrib.estimator
    signature has (naming one selects tf.contrib.learn; `learn_only` lists
    those this function knows); `shared`: the arguments both forms have;
    `estimator_set`: the tf.contrib.estimator-only arguments given a value."""
    unknown = sorted(set(learn) - set(learn_only))
    if unknown:
        raise ValueError("%s got unexpected argument(s) %s: neither tf.contrib.estimator's nor "
                         "tf.contrib.learn's %s takes them" % (fn, unknown, fn))
    if not learn:
        return None
    if estimator_set:
        raise ValueError("%s mixes tf.contrib.estimator argument(s) %s with tf.contrib.learn "
                         "argument(s) %s: use one form"
                         % (fn, sorted(estimator_set), sorted(learn)))
    if learn.get("label_name") is not None:
        raise ValueError("%s: label_name %r picks a label out of a dict of labels; our heads take "
                         "the label itself: pass labels[%r] (in a headeval config, "
                         "heads[i].label)" % (fn, learn["label_name"], learn["label_name"]))
    if learn.get("enable_centered_bias"):
        raise ValueError("%s: enable_centered_bias=True trains a bias variable, and evaluation "
                         "trains nothing: add the trained bias to the logits instead" % fn)
    loss_fn = shared.get("loss_fn")
    if callable(loss_fn) and "weights" in inspect.signature(loss_fn).parameters:
        raise ValueError("%s: a tf.contrib.learn loss_fn(labels, logits, weights) returns the "
                         "reduced loss; our heads need loss_fn(labels, logits[, features]) "
                         "returning the unreduced loss [D0, ..., DN, 1]" % fn)
    out = dict(shared, **learn)
    out["weight_column"] = _weight_column(out.pop("weight_column_name", None))
    out["name"] = out.pop("head_name", None)
    out.pop("label_name", None)             # None: checked above
    out.pop("enable_centered_bias", None)   # False: checked above
    return out


def _set(**arguments):
    """The names of the arguments given a value other than their default."""
    return {k for k, (value, default) in arguments.items()
            if not (value is default or (isinstance(value, str) and value == default))}


_LEARN_COMMON = ("label_name", "weight_column_name", "enable_centered_bias", "head_name")


def binary_classification_head(weight_column=None, thresholds=None, label_vocabulary=None,
                               loss_reduction=losses.SUM_OVER_BATCH_SIZE, loss_fn=None,
                               name=None) -> BinaryClassHead:
    """`tf.contrib.estimator.binary_classification_head` as a BinaryClassHead."""
    return BinaryClassHead(weight_column=_weight_column(weight_column), thresholds=thresholds,
                           label_vocabulary=label_vocabulary,
                           loss_reduction=_loss_reduction(loss_reduction), loss_fn=loss_fn,
                           name=name)


def multi_class_head(n_classes, *args, weight_column=None, label_vocabulary=None,
                     loss_reduction=losses.SUM_OVER_BATCH_SIZE, loss_fn=None, name=None,
                     **contrib_learn) -> MultiClassHead | BinaryClassHead:
    """`tf.contrib.estimator.multi_class_head` as a MultiClassHead, or
    `tf.contrib.learn.multi_class_head`: a BinaryClassHead for 2 classes
    (thresholds default [0.5]), else a MultiClassHead whose vocabulary is
    `label_keys`. Its `metric_class_ids` and (over 2 classes) `thresholds`
    have no counterpart in a MultiClassHead and are refused."""
    _no_positional("multi_class_head", args)
    learn = _learn_form(
        "multi_class_head", contrib_learn,
        _LEARN_COMMON + ("thresholds", "metric_class_ids", "label_keys"), {"loss_fn": loss_fn},
        _set(weight_column=(weight_column, None), label_vocabulary=(label_vocabulary, None),
             loss_reduction=(loss_reduction, losses.SUM_OVER_BATCH_SIZE), name=(name, None)))
    if learn is None:
        return MultiClassHead(n_classes, weight_column=_weight_column(weight_column),
                              label_vocabulary=label_vocabulary,
                              loss_reduction=_loss_reduction(loss_reduction), loss_fn=loss_fn,
                              name=name)
    label_keys, thresholds = learn.pop("label_keys", None), learn.pop("thresholds", None)
    if learn.pop("metric_class_ids", None):
        raise ValueError("multi_class_head: metric_class_ids has no counterpart in our "
                         "multi-class heads; MultiClassHead(..., extended_metrics=True) reports "
                         "per-class metrics for every class")
    if n_classes == 2:
        if label_keys:
            raise ValueError("multi_class_head: label_keys is not supported for n_classes=2 "
                             "(as in tf.contrib.learn); use binary_classification_head("
                             "label_vocabulary=...)")
        return BinaryClassHead(thresholds=thresholds or (0.5,), **learn)
    if thresholds:
        raise ValueError("multi_class_head: thresholds %r have no meaning for n_classes=%r: the "
                         "predicted class is the argmax (tf.contrib.learn ignored them)"
                         % (list(thresholds), n_classes))
    return MultiClassHead(n_classes, label_vocabulary=label_keys, **learn)


def multi_label_head(n_classes, *args, weight_column=None, thresholds=None,
                     label_vocabulary=None, loss_reduction=losses.SUM_OVER_BATCH_SIZE,
                     loss_fn=None, classes_for_class_based_metrics=None, name=None,
                     **contrib_learn) -> MultiLabelHead:
    """`tf.contrib.estimator.multi_label_head` or `tf.contrib.learn.multi_label_head`
    as a MultiLabelHead. The tf.contrib.learn form maps `metric_class_ids` to
    `classes_for_class_based_metrics`, `weight_column_name` to `weight_column`,
    `head_name` to `name` and `thresholds=None` to `[0.5]` (its default)."""
    _no_positional("multi_label_head", args)
    learn = _learn_form(
        "multi_label_head", contrib_learn, _LEARN_COMMON + ("metric_class_ids",),
        {"loss_fn": loss_fn, "thresholds": thresholds},
        _set(weight_column=(weight_column, None), label_vocabulary=(label_vocabulary, None),
             loss_reduction=(loss_reduction, losses.SUM_OVER_BATCH_SIZE),
             classes_for_class_based_metrics=(classes_for_class_based_metrics, None),
             name=(name, None)))
    if learn is None:
        return MultiLabelHead(n_classes, weight_column=_weight_column(weight_column),
                              thresholds=thresholds, label_vocabulary=label_vocabulary,
                              loss_reduction=_loss_reduction(loss_reduction), loss_fn=loss_fn,
                              classes_for_class_based_metrics=classes_for_class_based_metrics,
                              name=name)
    return MultiLabelHead(n_classes, thresholds=learn.pop("thresholds") or (0.5,),
                          classes_for_class_based_metrics=learn.pop("metric_class_ids", None),
                          **learn)


def regression_head(*args, weight_column=None, label_dimension=1,
                    loss_reduction=losses.SUM_OVER_BATCH_SIZE, loss_fn=None,
                    inverse_link_fn=None, name=None, **contrib_learn) -> RegressionHead:
    """`tf.contrib.estimator.regression_head` or `tf.contrib.learn.regression_head`
    (whose `link_fn`, like `inverse_link_fn`, maps logits to predictions) as a
    RegressionHead."""
    _no_positional("regression_head", args)
    learn = _learn_form(
        "regression_head", contrib_learn, _LEARN_COMMON + ("link_fn",),
        {"loss_fn": loss_fn, "label_dimension": label_dimension},
        _set(weight_column=(weight_column, None),
             loss_reduction=(loss_reduction, losses.SUM_OVER_BATCH_SIZE),
             inverse_link_fn=(inverse_link_fn, None), name=(name, None)))
    if learn is None:
        return RegressionHead(label_dimension, weight_column=_weight_column(weight_column),
                              loss_reduction=_loss_reduction(loss_reduction), loss_fn=loss_fn,
                              inverse_link_fn=inverse_link_fn, name=name)
    return RegressionHead(learn.pop("label_dimension"), inverse_link_fn=learn.pop("link_fn", None),
                          **learn)


def multi_head(heads, head_weights=None, *, loss_weights=None) -> MultiHead:
    """`tf.contrib.estimator.multi_head(heads, head_weights)` or
    `tf.contrib.learn.multi_head(heads, loss_weights)` as a MultiHead.

    This function shadows the module `heads.multi_head` as an attribute of
    `heads`; `from heads.multi_head import MultiHead` still finds the module."""
    if head_weights is not None and loss_weights is not None:
        raise ValueError("multi_head: give head_weights (tf.contrib.estimator) or loss_weights "
                         "(tf.contrib.learn), not both")
    return MultiHead(heads, head_weights=head_weights if loss_weights is None else loss_weights)
