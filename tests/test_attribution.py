"""Attribution of a change to new events: reweighting the current posterior by 1 / p(new events)
must recover the forecast the model would give without them, which here is known exactly."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy.special import expit

from forecast.explain.attribution import Unavailable, attribute
from forecast.io.events import Event
from forecast.model.likelihood_on_draws import Draws

WEEK0 = dt.date(2025, 2, 17)
KEYS = ["deal", "none"]


def _event(event_id, kind="signal", day=WEEK0, **fields) -> Event:
    base = dict(event_id=event_id, kind=kind, date=day, reported=day, factor=None, signal=None, outcome=None,
                retracts=None, source_reliability="A", info_credibility="1", actor="", description="", source="")
    return Event(**{**base, **fields})


def _draws(theta: np.ndarray, baseline: np.ndarray | None = None, noise=0.5) -> Draws:
    n = theta.size
    return Draws(
        theta=theta.reshape(n, 1, 1), noise=np.full(n, noise), nu=np.full(n, 1e7),
        reliability=np.ones((n, 6)), credibility=np.ones((n, 6)),
        baseline=(baseline if baseline is not None else np.full(n, -3.0)).reshape(n, 1),
        effect=np.full((n, 1, 1), -0.5),
    )


def _attribute(draws, headline, events_now, events_before, prior_mean):
    now = dict(zip(KEYS, headline.mean(axis=0)))
    return attribute(draws, headline, now=now, previous=dict(zip(KEYS, prior_mean)), previous_run="r0",
                     outcome_keys=KEYS, factor_keys=["f"], factor_labels={"f": "F"}, weeks=[WEEK0],
                     events_now=events_now, as_of_now=WEEK0, events_before=events_before, as_of_before=WEEK0,
                     mcse=np.zeros(2))


def _conjugate(signal_sd: float, n: int, rng) -> np.ndarray:
    """Exact posterior draws of θ ~ N(1, 1) given one signal y = -1 with sd `signal_sd`."""
    var = 1 / (1 + 1 / signal_sd**2)
    return rng.normal(var * (1 - 1 / signal_sd**2), np.sqrt(var), n)


def _deal_chance(theta):
    return np.stack([expit(-theta), 1 - expit(-theta)], axis=1)  # the deal chance falls as θ rises


def test_a_new_signal_share_is_recovered_from_a_conjugate_posterior():
    """Exact draws of θ | y, reweighted by 1 / p(y | θ), must give back the chance under θ's
    distribution before the signal."""
    rng = np.random.default_rng(0)
    post = _conjugate(1.5, 20_000, rng)
    before = _deal_chance(rng.normal(1.0, 1.0, 400_000)).mean(axis=0)
    signal = _event("s1", factor="f", signal=-1.0)
    result = _attribute(_draws(post, noise=1.5), _deal_chance(post), [signal], [], before)
    expected = _deal_chance(post).mean(axis=0) - before
    assert expected[0] > 0.08  # a real move, so the test has teeth
    assert result.new_information.change["deal"] == pytest.approx(expected[0], abs=0.01)
    assert result.new_information.reliable
    # The previous run had the prior's answer on the same week: nothing is left for time.
    assert abs(result.time_and_other["deal"]) < 0.01
    assert result.parts[0].label == "Signals on F" and result.parts[0].change["deal"] == pytest.approx(expected[0], abs=0.01)


def test_information_too_strong_to_reweight_is_flagged():
    """A signal four times more precise than what was known: the posterior is far narrower than
    the distribution without it, and the weights say so."""
    rng = np.random.default_rng(0)
    post = _conjugate(0.5, 4000, rng)
    result = _attribute(_draws(post, noise=0.5), _deal_chance(post), [_event("s1", factor="f", signal=-1.0)], [], [0.3, 0.7])
    assert not result.new_information.reliable and result.new_information.pareto_k > 0.7


def test_a_new_outcome_share_is_recovered():
    """A deal observed this week raises the baseline; reweighting by 1 / p(deal) over p(none)
    (the week without the event is an observed 'none') must give back the no-deal posterior."""
    rng = np.random.default_rng(1)
    prior_a = rng.normal(-2.0, 1.0, 400_000)
    theta = np.zeros_like(prior_a)
    log_p_deal = -np.logaddexp(0, -(prior_a + 0.0))  # softmax([0, a]) with θ = 0
    log_p_none = -np.logaddexp(0, prior_a)

    def resample(log_w, n):
        w = np.exp(log_w - log_w.max())
        return rng.choice(prior_a.size, n, p=w / w.sum())

    with_deal = resample(log_p_deal, 20_000)  # posterior draws given the deal
    without = resample(log_p_none, 200_000)  # posterior draws given a quiet week
    h = lambda a: np.stack([expit(a), 1 - expit(a)], axis=1)
    draws = _draws(theta[with_deal], baseline=prior_a[with_deal])
    outcome = _event("o1", kind="outcome", outcome="deal")
    result = _attribute(draws, h(prior_a[with_deal]), [outcome], [], h(prior_a[without]).mean(axis=0))
    expected = h(prior_a[with_deal]).mean(axis=0)[0] - h(prior_a[without]).mean(axis=0)[0]
    assert expected > 0.05
    assert result.new_information.change["deal"] == pytest.approx(expected, abs=0.01)
    assert [p.label for p in result.parts] == ["Outcome events"]


def test_a_retraction_is_new_information_in_the_other_direction():
    rng = np.random.default_rng(2)
    prior = rng.normal(1.0, 1.0, 20_000)
    signal = _event("s1", factor="f", signal=-1.0)
    retraction = _event("r1", kind="retraction", retracts="s1")
    with_signal = _deal_chance(_conjugate(1.5, 400_000, rng)).mean(axis=0)
    # Now: the signal is withdrawn, draws are the prior's. Before: it counted.
    result = _attribute(_draws(prior, noise=1.5), _deal_chance(prior), [signal, retraction], [signal], with_signal)
    assert result.new_information.events == 1
    expected = _deal_chance(prior).mean(axis=0)[0] - with_signal[0]
    assert expected < -0.08
    assert result.new_information.change["deal"] == pytest.approx(expected, abs=0.01)
    assert any("no longer counted" in note for note in result.notes)


def test_nothing_new_leaves_everything_to_time():
    theta = np.random.default_rng(3).normal(0, 1, 1000)
    headline = np.stack([expit(theta), 1 - expit(theta)], axis=1)
    signal = _event("s1", factor="f", signal=0.5)
    result = _attribute(_draws(theta), headline, [signal], [signal], [0.4, 0.6])
    assert result.new_information is None and result.parts == []
    assert result.time_and_other["deal"] == pytest.approx(headline[:, 0].mean() - 0.4)


def test_an_event_outside_this_runs_weeks_makes_it_unavailable():
    theta = np.zeros(10)
    early = _event("s0", factor="f", signal=1.0, day=WEEK0 - dt.timedelta(weeks=3))
    result = _attribute(_draws(theta), np.full((10, 2), 0.5), [], [early], [0.5, 0.5])
    assert isinstance(result, Unavailable) and "outside this run's weeks" in result.reason


def test_the_run_a_new_deal_starts_is_part_of_its_share():
    """A new deal also starts its run (the weeks after it, an occasion type with `follows`): the
    quiet weeks of that run, under hazards the run raises, are part of what the deal told the
    model. With the run the outcome part differs from the same deal read without one."""
    from forecast.io.priors import Follows

    rng = np.random.default_rng(3)
    n = 4000
    weeks = [WEEK0 + dt.timedelta(weeks=i) for i in range(4)]
    baseline = rng.normal(-2.0, 0.5, n)
    draws = Draws(
        theta=np.zeros((n, 1, 4)), noise=np.full(n, 0.5), nu=np.full(n, 1e7),
        reliability=np.ones((n, 6)), credibility=np.ones((n, 6)), baseline=baseline.reshape(n, 1),
        effect=np.full((n, 1, 1), -0.5), occasion_effect=rng.normal(1.5, 1.0, (n, 1, 1)),
    )
    headline = np.stack([expit(baseline), 1 - expit(baseline)], axis=1)
    deal = _event("o1", kind="outcome", outcome="deal")

    def outcome_share(follows):
        result = attribute(draws, headline, now=dict(zip(KEYS, headline.mean(axis=0))), previous={"deal": 0.1, "none": 0.9},
                           previous_run="r0", outcome_keys=KEYS, factor_keys=["f"], factor_labels={"f": "F"},
                           weeks=weeks, events_now=[deal], as_of_now=weeks[-1], events_before=[], as_of_before=weeks[-1],
                           mcse=np.zeros(2), occasions=["after_deal"], occasion_follows=[follows])
        [part] = [p for p in result.parts if p.label == "Outcome events"]
        return part.change["deal"]

    with_run, without_run = outcome_share(Follows("deal", 2)), outcome_share(None)
    assert abs(with_run - without_run) > 0.005, (with_run, without_run)
