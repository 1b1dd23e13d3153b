"""Bundles run in this process end without waiting out Beam's sampler sleep.

Beam starts a `StateSampler` thread for every bundle it processes (it
times each step for Beam's metrics). The thread sleeps between samples,
the sleep growing from 1 ms to 200 ms, and ending the bundle joins it: Beam
notes that this "may have to wait up to sampling_period_ms". A long bundle
therefore ends with a wait of up to 200 ms, and each stage of a run is at
least one bundle (docs/performance.md has what the joins cost a run).

`shorten_bundle_sampler_sleep()` lowers the default ceiling for bundles
processed in this process (the in-process runners: FnApiRunner, and
DirectRunner's default mode). Workers in other processes (Dataflow, or
DirectRunner's multi_processing mode) keep Beam's default. Sampling every
20 ms instead of every 200 ms costs a thread wake-up per 20 ms: nothing
measurable.
"""
import logging

log = logging.getLogger(__name__)

SAMPLER_SLEEP_MS = 20


def shorten_bundle_sampler_sleep(ceiling_ms: int = SAMPLER_SLEEP_MS) -> bool:
    """Makes `ceiling_ms` the default sampling period of Beam's StateSampler
    (never raising it). Returns whether it did: False when this Beam's
    StateSampler does not take the period as its one default argument."""
    try:
        # Beam's worker internals: imported here so that a Beam without them
        # (or with them moved) leaves the default as it is instead of failing.
        from apache_beam.runners.worker import statesampler
        init = statesampler.StateSampler.__init__
    except (ImportError, AttributeError):
        return False
    defaults = getattr(init, "__defaults__", None)
    if not defaults or len(defaults) != 1 or not isinstance(defaults[0], int):
        log.debug("headeval: Beam's StateSampler has defaults %r; left as it is", defaults)
        return False
    if defaults[0] > ceiling_ms:
        init.__defaults__ = (int(ceiling_ms),)
    return True
