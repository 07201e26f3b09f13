"""Forward simulation on hand-built posteriors with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from forecast.forecasting.incidence import (
    HAPPENS_BY,
    cumulative_incidence,
    factor_summary,
    forecast_table,
    headline,
    simulate_forward,
)
from forecast.model.likelihood_on_draws import Draws, weekly_log_probabilities


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


def test_happens_by_matches_the_closed_form_on_constant_hazards():
    # Constant weekly chances p_j: a deal of type j at least once within h weeks is 1 - (1 - p_j)^h,
    # whatever comes first; no deal of any kind is p_none^h, as in the cumulative incidence.
    draws = constant_draws(baseline=(-2.0, -3.0, -4.5))
    forward = simulate_forward(draws, 52, np.random.default_rng(0))
    e = np.exp([0.0, -2.0, -3.0, -4.5])
    p = e / e.sum()
    h = np.arange(1, 53)
    for j in range(3):
        np.testing.assert_allclose(forward.happens_by[:, :, j], np.tile(1 - (1 - p[j + 1]) ** h, (50, 1)), rtol=1e-12)
    np.testing.assert_allclose(forward.happens_by[:, :, 3], np.tile(p[0] ** h, (50, 1)), rtol=1e-12)
    # Hand-computed at h = 12 for the first type: 1 - (1 - 0.10577...)^12.
    assert forward.happens_by[0, 11, 0] == pytest.approx(1 - (1 - e[1] / e.sum()) ** 12, rel=1e-12)
    assert np.all(forward.happens_by[:, :, :3] >= forward.incidence[:, :, :3] - 1e-15)  # at least once >= first


def test_happens_by_averages_over_draws_and_the_simulated_path():
    # Two kinds of draws with different constant hazards: the table's mean is the average of the
    # closed forms, and the interval spans them.
    n = 40
    baseline = np.tile([-2.0, -3.0], (n, 1))
    baseline[n // 2:] = [-1.0, -4.0]
    draws = Draws(theta=np.zeros((n, 4, 1)), volatility=np.zeros((n, 4)), baseline=baseline, effect=np.zeros((n, 2, 4)))
    forward = simulate_forward(draws, 12, np.random.default_rng(0))
    table = forecast_table(forward.incidence, ["a", "b", "none"], forward.happens_by)
    expected = {}
    for j, key in enumerate(("a", "b")):
        per = [1 - (1 - np.exp(row[j]) / (1 + np.exp(row).sum())) ** 12 for row in ([-2.0, -3.0], [-1.0, -4.0])]
        expected[key] = np.mean(per)
    at = table[table.horizon == 12].set_index("outcome")
    assert at.loc["a", HAPPENS_BY[0]] == pytest.approx(expected["a"], rel=1e-12)
    assert at.loc["b", HAPPENS_BY[0]] == pytest.approx(expected["b"], rel=1e-12)
    assert at.loc["none", HAPPENS_BY[0]] == pytest.approx(at.loc["none", "p"], rel=1e-12)


def _incidence_alone(draws: Draws, weeks: int, rng: np.random.Generator) -> np.ndarray:
    """The forward walk as it was before the at-least-once chances: one normal per obstacle a week."""
    theta = draws.theta_last.copy()
    survival, cif = np.ones(len(theta)), np.zeros(draws.baseline.shape)
    out = []
    for _ in range(weeks):
        theta += draws.volatility * rng.standard_normal(theta.shape)
        p = np.exp(weekly_log_probabilities(draws.baseline, draws.effect, theta))
        cif = cif + survival[:, None] * p[:, 1:]
        survival = survival * p[:, 0]
        out.append(np.concatenate([cif, survival[:, None]], axis=1))
    return np.stack(out, axis=1)


def test_adding_happens_by_changes_no_incidence_number():
    # The same stream gives the same walk: the incidence is what the walk alone gave, to the bit.
    rng = np.random.default_rng(5)
    n = 200
    draws = Draws(theta=rng.normal(1.5, 1, (n, 4, 1)), volatility=np.abs(rng.normal(0, 0.3, (n, 4))),
                  baseline=rng.normal(-3, 1, (n, 3)), effect=rng.normal(-0.3, 0.3, (n, 3, 4)))
    alone = _incidence_alone(draws, 26, np.random.default_rng([7, 1]))
    both = simulate_forward(draws, 26, np.random.default_rng([7, 1]))
    np.testing.assert_array_equal(alone, both.incidence)
    np.testing.assert_array_equal(cumulative_incidence(draws, 26, np.random.default_rng([7, 1])), both.incidence)
    assert np.all(both.happens_by[:, :, :3] >= both.incidence[:, :, :3] - 1e-15)
    assert np.all(np.diff(both.happens_by[:, :, :3], axis=1) >= 0)


def test_table_and_headline():
    forward = simulate_forward(constant_draws(), 26, np.random.default_rng(0))
    table = forecast_table(forward.incidence, ["a", "b", "none"], forward.happens_by)
    assert len(table) == 26 * 3
    head = headline(table, 12, {"a": "A", "b": "B", "none": "None"})
    assert list(head) == ["a", "b", "none"]
    assert sum(o["p"] for o in head.values()) == pytest.approx(1.0)
    for o in head.values():
        assert o["lo"] <= o["p"] <= o["hi"]
        assert o["happens_by"]["lo"] <= o["happens_by"]["p"] <= o["happens_by"]["hi"]
    assert head["a"]["happens_by"]["p"] > head["a"]["p"]  # a after b counts too
    assert head["none"]["happens_by"] == {k: head["none"][k] for k in ("p", "lo", "hi")}
    # A table stored before the at-least-once columns gives the headline without them.
    old = headline(table.drop(columns=list(HAPPENS_BY)), 12, {"a": "A", "b": "B", "none": "None"})
    assert "happens_by" not in old["a"] and old["a"]["p"] == head["a"]["p"]


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
