"""Posterior predictive checks on draws whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecast.explain.model_checks import outcome_check, signal_check
from forecast.model.likelihood_on_draws import Draws, Signals


def _draws(n=2000, theta=0.5, baseline=-2.0):
    return Draws(
        theta=np.full((n, 1, 10), theta), noise=np.full(n, 0.4), nu=np.full(n, 4.0),
        reliability=np.ones((n, 6)), credibility=np.ones((n, 6)),
        baseline=np.full((n, 1), baseline), effect=np.zeros((n, 1, 1)),
    )


def _signals(values):
    n = len(values)
    return Signals(np.zeros(n, int), np.arange(n) % 10, np.asarray(values), np.zeros(n, int), np.zeros(n, int))


def test_readings_from_the_model_give_uniform_pits():
    rng = np.random.default_rng(0)
    values = stats.t.rvs(4.0, loc=0.5, scale=0.4, size=3000, random_state=rng)
    check = signal_check(_draws(), _signals(values))
    assert check.outside == pytest.approx(0.10, abs=0.02)
    assert stats.kstest(check.pit, "uniform").pvalue > 0.01


def test_readings_too_spread_for_the_noise_show_up():
    rng = np.random.default_rng(1)
    values = rng.normal(0.5, 1.5, 500)  # four times the model's spread
    check = signal_check(_draws(), _signals(values))
    assert check.outside > 0.4
    worst = check.most_surprising(3)
    assert set(np.abs(values[worst] - 0.5)) == set(np.sort(np.abs(values - 0.5))[-3:])


def test_replicated_outcome_counts_follow_the_weekly_probability():
    draws = _draws(n=4000, baseline=np.log(0.1 / 0.9))  # P(deal) = 0.1 in each of 10 weeks
    counts = np.zeros((10, 2), dtype=int)
    counts[:, 0] = 1
    counts[4] = [0, 1]
    deal, any_deal = outcome_check(draws, counts, ["Deal"], np.random.default_rng(2))
    assert deal.observed == 1 and deal.replicated.mean() == pytest.approx(1.0, abs=0.05)
    assert deal.tail > 0.5  # one deal in ten weeks at 10 % a week is typical
    assert any_deal.observed == 1
    counts[:, 0], counts[:, 1] = 0, 1  # a deal every week is not
    assert outcome_check(draws, counts, ["Deal"], np.random.default_rng(2))[0].tail < 0.001
