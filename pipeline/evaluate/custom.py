"""A config's custom metrics (`metrics.custom`) in the per-slice metric dicts.

Each 'package.module:factory' is imported where the heads are built — on
the driver before the pipeline starts (so a factory that cannot be imported,
is not callable or returns a wrong object is a ConfigError naming
`metrics.custom[i]`), and again on every worker, as `loss_fn` is: the
config ships the string, the workers import it (it must be installed there
or on PYTHONPATH). Its object is made once per head (`heads.custom`), and
checked on two made-up examples (and on none: the zero state that fixes the
statistics' names and shapes). Per batch, the statistics of every slice are
computed on the heads' statistics thread and added to the slice's
`heads.custom.CustomMetric` on the absorbing one.
"""
import collections
import logging
from typing import Optional

import numpy as np

from heads import keys
from heads import custom as custom_lib
from pipeline.config import Config
from pipeline.errors import ConfigError, CustomMetricError
from pipeline.evaluate.features import HeadInputs, made_up_record

log = logging.getLogger(__name__)

_Entry = collections.namedtuple("_Entry", ["key", "head", "info", "spec", "obj", "name",
                                           "where"])


def _config_error(config, where, e):
    source = "%s: " % config.source if config.source else ""
    return ConfigError("%s`%s`: %s" % (source, where, e), config.source, where)


def head_info(head_cfg, head) -> custom_lib.HeadInfo:
    """What a factory learns about a head (`heads.custom.HeadInfo`)."""
    vocab = head_cfg.label_vocabulary
    return custom_lib.HeadInfo(head_cfg.type, head.name, head_cfg.logits_dimension,
                               tuple(vocab) if isinstance(vocab, (list, tuple)) else None,
                               head_cfg.thresholds)


def head_batches(head, heads: list, features: dict, logits, labels, wanted) -> dict:
    """{head index: `heads.custom.Batch` of the whole batch} for the heads
    in `wanted`; `head` is the MultiHead of `heads` (or the one head)."""
    if len(heads) == 1:
        return {0: custom_lib.head_batch(head, features, logits, labels)}
    logits_dict = head.split_logits(logits, labels)
    return {i: custom_lib.head_batch(h, features, logits_dict[h.name], labels[h.name])
            for i, h in enumerate(heads) if i in wanted}


class CustomMetrics:
    """The custom metrics of a config, for the heads `heads` (built from its
    `heads`; `head` their MultiHead, or the one head). Raises ConfigError
    for a factory or object that does not fit the interface."""

    def __init__(self, config: Config, head, heads: list):
        self.head, self.heads, self.entries = head, list(heads), []
        self.zeros = {}  # entry key -> zero state (None: unknown until a batch)
        taken = set(head.metrics()) if config.metrics.custom else set()
        for i, spec in enumerate(config.metrics.custom):
            where = "metrics.custom[%d]" % i
            try:
                factory = custom_lib.load_factory(spec)
                for index, (h_cfg, h) in enumerate(zip(config.heads, self.heads)):
                    info = head_info(h_cfg, h)
                    obj = custom_lib.make(factory, info, spec)
                    if obj is None:
                        continue
                    name = custom_lib.metric_name(obj, spec)
                    key = keys.summary_key(name, h.name)
                    if key in taken:
                        raise custom_lib.CustomMetricError(
                            "%r: metric name %r is taken by another metric of %s; give the "
                            "object a `name`" % (spec, name, h_cfg.ref))
                    taken.add(key)
                    self.entries.append(_Entry(key, index, info, spec, obj, name, where))
            except custom_lib.CustomMetricError as e:
                raise _config_error(config, where, e) from e
        if self.entries:
            self._check_on_made_up_examples(config)

    def __bool__(self):
        return bool(self.entries)

    def directions(self) -> dict:
        """{metric name: 'higher' | 'lower'} of the metrics that say."""
        return {e.name: e.obj.direction for e in self.entries
                if getattr(e.obj, "direction", None)}

    def _check_on_made_up_examples(self, config):
        """The zero state of each metric (its statistics of no example) and
        a check of its statistics' shapes on two made-up examples. Skipped
        with a transform (its outputs are not known here): then the first
        batch fixes the shapes."""
        if config.transform is not None:
            return
        try:
            from pipeline.io.parse import Parser
            features = Parser(config.input.features).parse(
                [made_up_record(config.input.features, config.heads)] * 2)
            logits = None
            if config.model.saved_model is not None:
                output = config.model.output
                logits = ({h.name: np.zeros((2, h.logits_dimension), np.float32)
                           for h in config.heads} if isinstance(output, dict) else
                          np.zeros((2, sum(h.logits_dimension for h in config.heads)),
                                   np.float32))
            logits, labels = HeadInputs(config)(features, logits)
            batches = head_batches(self.head, self.heads, features, logits, labels,
                                   {e.head for e in self.entries})
        except Exception as e:  # the heads' business: the first real batch meets it
            log.debug("headeval: custom metrics not checked on made-up examples: %s", e)
            return
        for e in self.entries:
            try:
                batch = batches[e.head]
                zeros = custom_lib.checked_state(e.obj, custom_lib.take(batch, np.zeros(0, int)),
                                                 e.spec)
                two = custom_lib.checked_state(e.obj, batch, e.spec, zeros)
                custom_lib.checked_result(e.obj, zeros, e.spec)
                custom_lib.checked_result(e.obj, two, e.spec)
            except custom_lib.CustomMetricError as error:
                raise _config_error(config, e.where, error) from error
            self.zeros[e.key] = zeros

    def add_to(self, metrics: dict) -> dict:
        """Adds a fresh metric of every custom metric to `metrics` (a
        head's metric dict); returns it."""
        for e in self.entries:
            metrics[e.key] = custom_lib.CustomMetric(
                keys_info(e), e.obj, self.zeros.get(e.key), e.spec, e.info)
        return metrics

    def statistics(self, features: dict, logits, labels, segment_ids, rows) -> list:
        """Per entry, [(segment, state)] of one planned batch: the
        statistics of each slice's rows (computed, not yet added)."""
        if not self.entries:
            return []
        try:
            batches = head_batches(self.head, self.heads, features, logits, labels,
                                   {e.head for e in self.entries})
            return [custom_lib.segment_states(e.obj, e.spec, batches[e.head], segment_ids,
                                              rows, self.zeros.get(e.key))
                    for e in self.entries]
        except custom_lib.CustomMetricError as error:
            raise CustomMetricError("%s %s" % (self._where(error), error)) from error

    def absorb(self, metric_dicts: list, statistics: list) -> None:
        """Adds `statistics` (from `statistics`) to the slices' metrics."""
        for e, per_segment in zip(self.entries, statistics):
            for segment, state in per_segment:
                try:
                    metric_dicts[segment][e.key].add_state(state)
                except custom_lib.CustomMetricError as error:
                    raise CustomMetricError("%s: %s" % (e.where, error)) from error

    def _where(self, error) -> str:
        for e in self.entries:
            if repr(e.spec) in str(error):
                return e.where + ":"
        return "metrics.custom:"


def keys_info(entry):
    """The MetricInfo of an entry: its key (with the head's suffix) and name."""
    from heads.metrics import MetricInfo
    return MetricInfo(entry.key, entry.name)


def custom_metrics(config: Config, head, heads: list) -> Optional[CustomMetrics]:
    """CustomMetrics of the config, or None when it names none."""
    return CustomMetrics(config, head, heads) if config.metrics.custom else None
