"""Importance reweighting and signposts, checked against exact answers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from forecast.explain.signposts import hypothetical_signal, signposts
from forecast.forecasting.incidence import cumulative_incidence
from forecast.inference.importance import importance_weights
from forecast.model.likelihood_on_draws import Draws


def test_conjugate_normal_update_is_recovered():
    """Prior draws θ ~ N(0, 1), one observation y = 1 with sd 1: the posterior is N(0.5, 1/2)."""
    rng = np.random.default_rng(0)
    theta = rng.normal(0, 1, 20000)
    w = importance_weights(stats.norm.logpdf(1.0, loc=theta, scale=1.0))
    assert w.reliable and w.pareto_k < 0.5
    mean = w.mean(theta)
    var = w.mean(theta**2) - mean**2
    assert mean == pytest.approx(0.5, abs=0.02) and var == pytest.approx(0.5, abs=0.02)
    assert 5000 < w.ess < 20000


def test_a_surprising_event_is_flagged():
    """An observation 8 sd from where the draws are leaves a few draws with all the weight."""
    theta = np.random.default_rng(1).normal(0, 1, 4000)
    w = importance_weights(stats.norm.logpdf(8.0, loc=theta, scale=0.1))
    assert not w.reliable and w.pareto_k > 0.7


def test_too_few_draws_give_plain_weights_marked_unreliable():
    w = importance_weights(np.array([0.0, 1.0, 2.0] * 5))
    assert not w.reliable and w.pareto_k == np.inf
    np.testing.assert_allclose(w.weights[:3], np.exp([0, 1, 2]) / (5 * np.exp([0, 1, 2]).sum()))


def test_uninformative_event_keeps_the_weights_equal():
    w = importance_weights(np.zeros(100))
    assert np.allclose(w.weights, 0.01) and w.pareto_k == 0.0


def _posterior(n=4000, seed=2):
    """Draws with independent factor levels; deals depend on factor 'a' only."""
    rng = np.random.default_rng(seed)
    k = ["a", "b"]
    theta_last = rng.normal(1.0, 0.5, (1, n, 2))
    theta = np.stack([theta_last - 0.1, theta_last], axis=-1)  # two weeks
    effect = np.zeros((1, n, 2, 2))
    effect[..., 0] = -0.8  # both deals fall as 'a' rises; 'b' has no effect
    return xr.Dataset(
        {
            "theta": (("chain", "draw", "factor", "week"), theta),
            "volatility": (("chain", "draw", "factor"), np.full((1, n, 2), 0.05)),
            "baseline": (("chain", "draw", "deal"), np.full((1, n, 2), -2.5)),
            "effect": (("chain", "draw", "deal", "factor"), effect),
            "noise": (("chain", "draw"), np.full((1, n), 0.5)),
            "nu": (("chain", "draw"), np.full((1, n), 4.0)),
            "reliability_multiplier": (("chain", "draw", "reliability"), np.tile([0.6, 0.8, 1, 1.4, 2, 1.6], (1, n, 1))),
            "credibility_multiplier": (("chain", "draw", "credibility"), np.tile([0.6, 0.8, 1, 1.4, 2, 1.6], (1, n, 1))),
        },
        coords={"factor": k, "deal": ["x", "y"]},
    )


def test_signal_likelihood_uses_the_last_week_and_the_grades():
    post = _posterior(n=3)
    draws = Draws.from_dataset(post)
    ll = draws.signal_log_likelihood(hypothetical_signal(draws, 0, 2.0, ("B", "2")))
    level = post["theta"].sel(factor="a").isel(week=-1).values.ravel()
    np.testing.assert_allclose(ll, stats.t.logpdf(2.0, df=4.0, loc=level, scale=0.5 * 0.8 * 0.8))


def test_signposts_direction_size_and_ranking():
    post = _posterior()
    incidence = cumulative_incidence(Draws.from_dataset(post), 12, np.random.default_rng(3))
    table = signposts(Draws.from_dataset(post), incidence, ["a", "b"], ["x", "y", "none"], 12)
    assert len(table) == 2 * 2 * 3
    a_up = table[(table.factor == "a") & (table.signal == 2.0)].set_index("outcome")
    a_down = table[(table.factor == "a") & (table.signal == -2.0)].set_index("outcome")
    b_any = table[table.factor == "b"]
    # A higher obstacle 'a' lowers both deals; a lower one raises them; 'b' moves nothing
    # beyond Monte Carlo noise (reweighting by b's likelihood reshuffles independent draws of a).
    assert a_up.loc["x", "change"] < -0.01 and a_down.loc["x", "change"] > 0.01
    assert b_any["change"].abs().max() < 0.005 < a_up["change"].abs().max()
    assert abs(a_up["change"].sum()) < 1e-9  # the three chances still sum to one
    assert set(table.head(6)["factor"]) == {"a"}  # the movers rank first
    assert table["reliable"].all()


@pytest.mark.parametrize("case", ["normal", "heavy", "wide", "small", "tiny"])
def test_our_psis_equals_arviz(case):
    """forecast.inference.psis is ArviZ's psislw (r_eff = 1) written out to avoid its import cost."""
    from arviz_stats.base.array import array_stats

    from forecast.inference.psis import psis_log_weights

    rng = np.random.default_rng(4)
    log_ratios = {"normal": rng.normal(0, 1, 4000), "heavy": 3 * rng.standard_t(2, 4000),
                  "wide": rng.normal(0, 5, 1000), "small": -np.abs(rng.normal(0, 1, 200)),
                  "tiny": rng.normal(0, 1, 40)}[case]  # a tail of 8: its first quartile is its second value
    # ArviZ takes a log-likelihood and weights by its inverse (the LOO convention): negate.
    theirs, their_k = array_stats.psislw(-log_ratios, r_eff=1.0)
    ours, our_k = psis_log_weights(log_ratios)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert our_k == pytest.approx(float(their_k), rel=1e-12)
