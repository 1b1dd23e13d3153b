"""Heads from a config: the `heads.*Head` objects a run evaluates with.

The config's `heads` become one `heads.MultiHead` (several heads) or the
head itself (one head), with the extended metrics on; the report names a
head's rows by its config name ("" for one head).
"""
import functools
import importlib
from typing import Callable, Optional, Union

import heads
import heads.base
from pipeline.config import (BINARY, HEAD_TYPES, MULTI_CLASS, MULTI_LABEL, REGRESSION, Config,
                             HeadConfig)
from pipeline.config.limits import clip
from pipeline.errors import ConfigError, LossFnError
from pipeline.evaluate.custom import custom_metrics

HEAD_CLASSES = {
    BINARY: heads.BinaryClassHead,
    MULTI_CLASS: heads.MultiClassHead,
    MULTI_LABEL: heads.MultiLabelHead,
    REGRESSION: heads.RegressionHead,
}
if tuple(HEAD_CLASSES) != HEAD_TYPES:  # the config's list of types is the one definition
    raise ImportError("pipeline.evaluate.build names head types %s; the config knows %s"
                      % (tuple(HEAD_CLASSES), HEAD_TYPES))


def import_loss_fn(spec: Union[str, Callable, None]) -> Optional[Callable]:
    """'package.module:function' -> the function (runs user code: documented).
    One that cannot be imported, or is not callable, is a ValueError saying
    why (the driver checks every head's before the workers start)."""
    if spec is None or callable(spec):
        return spec
    module, _, attr = str(spec).partition(":")
    if not module or not attr:
        raise ValueError("loss_fn must be 'module:function'; got %r" % (spec,))
    try:
        loaded = importlib.import_module(module)
    except Exception as e:  # user code: any error on import is the config's
        raise ValueError("loss_fn %r: cannot import module %r: %s: %s"
                         % (spec, module, type(e).__name__, e)) from e
    function = getattr(loaded, attr, None)
    if not callable(function):
        raise ValueError("loss_fn %r: module %r has no function %r" % (spec, module, attr))
    return function


class LossFn:
    """A user's loss_fn that fails as one line: whatever it raises becomes a
    LossFnError naming `key` (`heads[0].loss_fn`), the function and the
    exception. Its signature is the function's (`functools.update_wrapper`
    sets `__wrapped__`, which `inspect.signature` follows): the heads read it
    to decide whether to pass `features`. What it returns is the heads' to
    check (shape). Picklable when the function is."""

    def __init__(self, function: Callable, spec: str, key: str):
        self.function, self.spec, self.key = function, spec, key
        functools.update_wrapper(self, function)

    def __call__(self, *args, **kwargs):
        try:
            return self.function(*args, **kwargs)
        except Exception as e:  # user code: any error is the loss_fn's
            raise LossFnError("%s %s raised %s: %s" % (
                self.key, clip(repr(self.spec)), type(e).__name__,
                clip(" ".join(str(e).split()), 500))) from e

    def __getstate__(self):  # update_wrapper's __dict__ copy is the function's business
        return {"function": self.function, "spec": self.spec, "key": self.key}

    def __setstate__(self, state):
        self.__init__(state["function"], state["spec"], state["key"])


def metric_options(head_cfg: HeadConfig) -> heads.MetricOptions:
    """The head's metric options (heads.options) from its config entry:
    `thresholds` is the multi-class head's option (the others take it as an
    argument of their own)."""
    return heads.MetricOptions(
        average=head_cfg.average or (), top_k=head_cfg.top_k,
        thresholds=head_cfg.thresholds if head_cfg.type == MULTI_CLASS else (),
        calibration=bool(head_cfg.calibration), derived_rates=bool(head_cfg.derived_rates),
        precision_at_recall=head_cfg.precision_at_recall or (),
        recall_at_precision=head_cfg.recall_at_precision or (),
        threshold_at_recall=head_cfg.threshold_at_recall or ())


def build_head(head_cfg: HeadConfig, auc_method: str = "histogram",
               auc_buckets: Optional[int] = None, named: bool = True,
               key: Optional[str] = None) -> heads.base.Head:
    """One head from its config entry (label vocabularies resolved), with the
    extended metrics on. `key`: how messages name the entry (`heads[1]`;
    default `head_cfg.ref`)."""
    kind = head_cfg.type
    cls = HEAD_CLASSES[kind]
    loss_fn = import_loss_fn(head_cfg.loss_fn)
    if loss_fn is not None:
        spec = head_cfg.loss_fn if isinstance(head_cfg.loss_fn, str) else \
            getattr(loss_fn, "__qualname__", repr(loss_fn))
        loss_fn = LossFn(loss_fn, spec, "%s.loss_fn" % (key or head_cfg.ref))
    kwargs = dict(weight_column=head_cfg.weight_column,
                  loss_reduction=head_cfg.loss_reduction,
                  loss_fn=loss_fn,
                  name=head_cfg.name if named else None, extended_metrics=True)
    if kind != REGRESSION:
        kwargs.update(auc_method=auc_method, auc_buckets=auc_buckets,
                      metric_options=metric_options(head_cfg))
    vocabulary = head_cfg.label_vocabulary
    if vocabulary is not None and not isinstance(vocabulary, (list, tuple)):
        raise ValueError("%s.label_vocabulary was not resolved to a list: %r"
                         % (head_cfg.ref, vocabulary))
    if kind == BINARY:
        return cls(thresholds=head_cfg.thresholds, label_vocabulary=vocabulary, **kwargs)
    if kind == MULTI_CLASS:
        return cls(head_cfg.n_classes, label_vocabulary=vocabulary, **kwargs)
    if kind == MULTI_LABEL:
        return cls(head_cfg.n_classes, thresholds=head_cfg.thresholds,
                   label_vocabulary=vocabulary,
                   classes_for_class_based_metrics=head_cfg.classes_for_class_based_metrics,
                   **kwargs)
    return cls(label_dimension=head_cfg.label_dimension or 1, **kwargs)


def build_heads(config: Config) -> tuple:
    """(the head to evaluate with, [one head per config entry]). A head that
    refuses its arguments (ValueError) is a ConfigError naming its entry."""
    auc = config.metrics.auc
    multi = len(config.heads) > 1
    built = []
    for i, h in enumerate(config.heads):
        try:
            import_loss_fn(h.loss_fn)
        except ValueError as e:
            key = "heads[%d].loss_fn" % i
            raise ConfigError("%s: `%s`: %s" % (config.source, key, e), config.source,
                              key) from e
        try:
            built.append(build_head(h, auc.method, auc.buckets, named=multi,
                                    key="heads[%d]" % i))
        except ValueError as e:
            raise ConfigError("%s: `heads[%d]`: %s" % (config.source, i, e), config.source,
                              "heads[%d]" % i) from e
    if not multi:
        return built[0], built
    return heads.MultiHead(built, head_weights=config.head_weights), built


def head_names(config: Config) -> list:
    """Report names, in the order of the config ("" for one unnamed head)."""
    return [h.name for h in config.heads] if len(config.heads) > 1 else [""]


def build_report_head(config: Config) -> tuple:
    """(head names, the empty metric dict): what the report stages need to
    name rows and report an overall slice that nothing reached. On the
    driver it is where the custom metrics' factories are first imported and
    checked (ConfigError naming `metrics.custom[i]`)."""
    head, heads = build_heads(config)
    metrics = head.metrics()
    custom = custom_metrics(config, head, heads)  # imports and checks the factories
    return head_names(config), custom.add_to(metrics) if custom else metrics
