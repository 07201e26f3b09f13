"""Forward simulation on hand-built posteriors with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from forecast.forecasting.incidence import cumulative_incidence, factor_summary, forecast_table, headline
from forecast.model.draws import Draws


def constant_draws(n=50, theta=0.0, volatility=0.0, baseline=(-2.0, -3.0), effect=0.0, k=4) -> Draws:
    j = len(baseline)
    return Draws(
        theta=np.full((n, k, 1), theta),
        volatility=np.full((n, k), volatility),
        baseline=np.tile(np.asarray(baseline, float), (n, 1)),
        effect=np.full((n, j, k), effect),
    )


def test_constant_hazard_matches_the_closed_form():
    draws = constant_draws(baseline=(-2.0, -3.0))
    out = cumulative_incidence(draws, 26, np.random.default_rng(0))
    e = np.exp([0.0, -2.0, -3.0])
    p0, p1, p2 = e / e.sum()
    h = np.arange(1, 27)
    survival = p0**h
    np.testing.assert_allclose(out[0, :, 2], survival, rtol=1e-12)
    np.testing.assert_allclose(out[0, :, 0], p1 * (1 - survival) / (1 - p0), rtol=1e-12)
    np.testing.assert_allclose(out[0, :, 1], p2 * (1 - survival) / (1 - p0), rtol=1e-12)


def test_three_outcomes_sum_to_one_for_every_horizon_and_draw():
    rng = np.random.default_rng(1)
    n = 400
    draws = Draws(
        theta=rng.normal(1.5, 1, (n, 4, 1)),
        volatility=np.abs(rng.normal(0, 0.3, (n, 4))),
        baseline=rng.normal(-3, 1, (n, 2)),
        effect=rng.normal(-0.3, 0.3, (n, 2, 4)),
    )
    out = cumulative_incidence(draws, 26, rng)
    np.testing.assert_allclose(out.sum(axis=2), 1.0, atol=1e-12)
    assert np.all(np.diff(out[:, :, :2], axis=1) >= 0)  # deal incidences never fall with h
    assert np.all(np.diff(out[:, :, 2], axis=1) <= 0)  # and no-deal never rises


def test_lower_obstacles_raise_both_deals():
    high = cumulative_incidence(constant_draws(theta=2.5, effect=-0.3), 12, np.random.default_rng(0))
    low = cumulative_incidence(constant_draws(theta=0.5, effect=-0.3), 12, np.random.default_rng(0))
    assert np.all(low[:, -1, :2] > high[:, -1, :2])


def test_volatility_spreads_the_draws_but_keeps_the_mean_sensible():
    calm = cumulative_incidence(constant_draws(n=4000, volatility=0.0, effect=-0.3, theta=2.0), 12, np.random.default_rng(0))
    wild = cumulative_incidence(constant_draws(n=4000, volatility=0.3, effect=-0.3, theta=2.0), 12, np.random.default_rng(0))
    assert calm[:, -1, 0].std() == pytest.approx(0.0, abs=1e-12)
    assert wild[:, -1, 0].std() > 0.01


def test_table_and_headline():
    out = cumulative_incidence(constant_draws(), 26, np.random.default_rng(0))
    table = forecast_table(out, ["a", "b", "none"])
    assert len(table) == 26 * 3
    head = headline(table, 12, {"a": "A", "b": "B", "none": "None"})
    assert list(head) == ["a", "b", "none"]
    assert sum(o["p"] for o in head.values()) == pytest.approx(1.0)
    for o in head.values():
        assert o["lo"] <= o["p"] <= o["hi"]


def _posterior(theta_last, chains=2, draws=3):
    k, w = 4, 3
    theta = np.zeros((chains, draws, k, w))
    theta[..., -1] = theta_last
    return xr.Dataset(
        {
            "theta": (("chain", "draw", "factor", "week"), theta),
            "volatility": (("chain", "draw", "factor"), np.zeros((chains, draws, k))),
            "baseline": (("chain", "draw", "deal"), np.full((chains, draws, 2), -2.0)),
            "effect": (("chain", "draw", "deal", "factor"), np.zeros((chains, draws, 2, k))),
        },
        coords={"factor": list("abcd"), "deal": ["x", "y"]},
    )


def test_draws_from_a_dataset_take_the_last_week():
    ds = _posterior(theta_last=np.array([1.0, 2.0, 3.0, 4.0]))
    draws = Draws.from_dataset(ds)
    assert draws.theta_last.shape == (6, 4) and np.all(draws.theta_last == [1, 2, 3, 4])
    assert draws.effect.shape == (6, 2, 4)
    summary = factor_summary(ds, {k: k.upper() for k in "abcd"})
    assert summary["c"] == {"label": "C", "mean": 3.0, "sd": 0.0}
