"""The numpy likelihood the brief uses agrees with the PyMC model it mirrors."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from forecast.model.graph import build_model
from forecast.model.likelihood_on_draws import Draws, Signals
from forecast.model.skeleton import skeleton_dataset


def _point(model: pm.Model, prior, draw: int) -> dict:
    """The model's value variables (transformed where the model transforms) at one prior draw."""
    point = {}
    for rv in model.free_RVs:
        value = prior[rv.name].isel(chain=0, draw=draw).values
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            value = transform.forward(value, *rv.owner.inputs).eval()
        point[model.rvs_to_values[rv].name] = value
    return point


@pytest.fixture(scope="module")
def fitted_shape(request):
    from conftest import PRIORS

    from forecast.io.priors import load_priors

    priors = load_priors(PRIORS)
    rng = np.random.default_rng(5)
    data = skeleton_dataset(priors, n_signals=40, n_weeks=9, rng=rng)
    counts = data.outcome_counts.copy()
    counts[3] = [0, 1, 0, 0]
    counts[6] = [0, 1, 1, 0]  # a week with two deal types
    counts[7] = [0, 0, 0, 1]
    data = data.__class__(**{**data.__dict__, "signal_value": rng.uniform(-3, 3, 40), "outcome_counts": counts})
    model = build_model(data, priors)
    prior = pm.sample_prior_predictive(draws=3, model=model, random_seed=1).prior
    return data, model, prior


def test_signal_and_outcome_likelihoods_match_the_model(fitted_shape):
    data, model, prior = fitted_shape
    draws = Draws.from_dataset(prior.to_dataset())
    signals = Signals(data.signal_factor, data.signal_week, data.signal_value, data.signal_reliability, data.signal_credibility)
    ours_signal = draws.signal_log_likelihood(signals)
    ours_outcome = draws.outcome_log_likelihood(data.outcome_counts)
    signal_logp = model.compile_logp(vars=[model["signal"]], jacobian=False)
    outcome_logp = model.compile_logp(vars=[model["outcome_counts"]], jacobian=False)
    # The Multinomial's log n! / prod(counts!) does not depend on the draw; ours leaves it out.
    constant = -np.log(2.0)  # the week with two deals: 2! / (1! 1!)
    for d in range(3):
        point = _point(model, prior, d)
        assert ours_signal[d] == pytest.approx(float(signal_logp(point)), rel=1e-9)
        assert ours_outcome[d] == pytest.approx(float(outcome_logp(point)) + constant, rel=1e-9)


def test_chunking_does_not_change_the_sum(fitted_shape, monkeypatch):
    data, _, prior = fitted_shape
    draws = Draws.from_dataset(prior.to_dataset())
    signals = Signals(data.signal_factor, data.signal_week, data.signal_value, data.signal_reliability, data.signal_credibility)
    whole = draws.signal_log_likelihood(signals)
    monkeypatch.setattr("forecast.model.likelihood_on_draws.CHUNK", 7)
    np.testing.assert_allclose(draws.signal_log_likelihood(signals), whole, rtol=1e-12)
    assert draws.signal_pit(signals).shape == (40,)


def test_pit_matches_scipy_and_thinning_keeps_it(fitted_shape):
    from scipy import stats

    data, _, prior = fitted_shape
    draws = Draws.from_dataset(prior.to_dataset())
    signals = Signals(data.signal_factor, data.signal_week, data.signal_value, data.signal_reliability, data.signal_credibility)
    level = draws.theta[:, signals.factor, signals.week]
    scale = draws.noise[:, None] * draws.reliability[:, signals.reliability] * draws.credibility[:, signals.credibility]
    expected = stats.t.cdf(signals.value, df=draws.nu[:, None], loc=level, scale=scale).mean(axis=0)
    np.testing.assert_allclose(draws.signal_pit(signals), expected, rtol=1e-10)
    np.testing.assert_allclose(draws.signal_pit(signals, max_draws=2), stats.t.cdf(
        signals.value, df=draws.nu[[0, 2], None], loc=level[[0, 2]], scale=scale[[0, 2]]).mean(axis=0), rtol=1e-10)


def test_scheduled_occasions_move_the_outcome_likelihood_as_in_the_model(fitted_shape):
    """Occasions in the deal weeks: the numpy likelihood with them equals the PyMC model's."""
    import dataclasses

    from conftest import PRIORS

    from forecast.io.priors import load_priors
    from forecast.model.graph import build_model as build

    priors = load_priors(PRIORS)
    data, _, _ = fitted_shape
    types = list(priors.outcomes.occasions)
    occasions = np.zeros((data.n_weeks, len(types)))
    occasions[3, types.index("orthodox_easter")] = 1  # an Easter in the week of the first deal
    occasions[6, types.index("deal_expiry")] = 2  # two expiries in the week with both deals
    occasions[7:9, types.index("after_local_ceasefire")] = 1  # weeks after a deal
    data = dataclasses.replace(data, occasion_counts=occasions)
    model = build(data, priors)
    prior = pm.sample_prior_predictive(draws=3, model=model, random_seed=2).prior
    draws = Draws.from_dataset(prior.to_dataset())
    assert draws.occasion_effect.shape == (3, len(data.deals), len(types))
    ours = draws.outcome_log_likelihood(data.outcome_counts, occasions)
    outcome_logp = model.compile_logp(vars=[model["outcome_counts"]], jacobian=False)
    for d in range(3):
        assert ours[d] == pytest.approx(float(outcome_logp(_point(model, prior, d))) - np.log(2.0), rel=1e-9)
    assert not np.allclose(ours, draws.outcome_log_likelihood(data.outcome_counts))  # the occasions did move it


def test_a_change_of_readings_and_outcomes_weighs_both(fitted_shape):
    """New readings and a new deal at once: the change is the readings' log-likelihood plus the
    outcomes' change, the deal's week weighed with the occasions it had."""
    import datetime as dt

    from forecast.io.events import Event

    data, _, prior = fitted_shape
    draws = Draws.from_dataset(prior.to_dataset())
    factors, first = data.factors, data.weeks[0]
    day = first + dt.timedelta(weeks=2, days=1)
    reading = Event(event_id="late", kind="signal", date=day, reported=day, factor=factors[1], signal=1.2, outcome=None,
                    retracts=None, source_reliability="B", info_credibility="2", actor="", description="", source="")
    counts_a = data.outcome_counts
    counts_b = counts_a.copy()
    counts_b[2] = [0, 0, 1, 0]  # a deal in week 2, which was quiet
    occasions = np.zeros((data.n_weeks, draws.occasion_effect.shape[-1]))
    occasions[2, 0] = 1  # an occasion in that week
    assert np.ptp(draws.occasion_effect[:, 1, 0]) > 0  # it moves that deal's odds differently in each draw
    change = draws.change_log_likelihood([reading], [], factors, first, outcomes_a=(counts_a, occasions), outcomes_b=(counts_b, occasions))
    expected = (draws.signal_log_likelihood(Signals.of([reading], factors, first))
                + draws.outcome_log_likelihood(counts_b, occasions) - draws.outcome_log_likelihood(counts_a, occasions))
    np.testing.assert_allclose(change, expected, rtol=1e-12)
    assert not np.allclose(draws.outcome_log_likelihood(counts_b - counts_a, occasions),
                           draws.outcome_log_likelihood(counts_b - counts_a, None))


def test_the_pit_of_no_readings_is_empty_and_thinning_keeps_absent_parameters_absent(fitted_shape):
    data, _, prior = fitted_shape
    draws = Draws.from_dataset(prior.to_dataset())
    empty = Signals(*(np.zeros(0, dtype=dtype) for dtype in (int, int, float, int, int)))
    assert draws.signal_pit(empty).shape == (0,)
    signals = Signals(data.signal_factor, data.signal_week, data.signal_value, data.signal_reliability, data.signal_credibility)
    without_occasions = Draws(**{**draws.__dict__, "occasion_effect": None})
    np.testing.assert_allclose(without_occasions.signal_pit(signals, max_draws=2), draws.signal_pit(signals, max_draws=2), rtol=1e-12)
