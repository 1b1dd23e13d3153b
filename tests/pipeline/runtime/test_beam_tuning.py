"""pipeline.runtime.beam_tuning: bundles run in this process sample (and so stop)
every 20 ms at most, not Beam's 200 ms."""
from apache_beam.runners.worker import statesampler
from apache_beam.utils.counters import CounterFactory

from pipeline.runtime.beam_tuning import SAMPLER_SLEEP_MS, shorten_bundle_sampler_sleep


def _new_sampler():
    return statesampler.StateSampler("t", CounterFactory())


def test_the_default_period_is_lowered_and_never_raised():
    init = statesampler.StateSampler.__init__
    saved = init.__defaults__
    try:
        init.__defaults__ = (statesampler.DEFAULT_SAMPLING_PERIOD_MS,)
        assert _new_sampler().sampling_period_ms == 200
        assert shorten_bundle_sampler_sleep()
        assert _new_sampler().sampling_period_ms == SAMPLER_SLEEP_MS == 20
        assert _new_sampler().sampling_period_ms == 20  # it holds for every new one
        sampler = _new_sampler()
        sampler.start()
        sampler.stop()  # starts and stops as Beam's own
        init.__defaults__ = (5,)
        assert shorten_bundle_sampler_sleep()
        assert _new_sampler().sampling_period_ms == 5  # a shorter one is kept
    finally:
        init.__defaults__ = saved


def test_a_beam_whose_sampler_takes_no_default_period_is_left_alone(monkeypatch):
    monkeypatch.setattr(statesampler.StateSampler.__init__, "__defaults__", None)
    assert not shorten_bundle_sampler_sleep()
    assert statesampler.StateSampler.__init__.__defaults__ is None
