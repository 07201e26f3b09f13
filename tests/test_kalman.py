"""The exact smoother against brute-force Gaussian conditioning."""

from __future__ import annotations

import numpy as np
from scipy import stats

from forecast.kalman import local_level_smoother


def _dense(n_weeks, week, value, sd, m0, s0, vol):
    """The same model as one multivariate normal: condition x on y with plain linear algebra."""
    idx = np.arange(n_weeks)
    cov_x = s0**2 + vol**2 * np.minimum.outer(idx, idx)  # Cov(x_a, x_b) = s0² + vol² · min(a, b)
    h = np.zeros((len(week), n_weeks))
    h[np.arange(len(week)), week] = 1.0
    cov_y = h @ cov_x @ h.T + np.diag(sd**2)
    gain = cov_x @ h.T @ np.linalg.inv(cov_y)
    mean = m0 + gain @ (value - m0)
    cov = cov_x - gain @ h @ cov_x
    log_lik = stats.multivariate_normal(np.full(len(week), m0), cov_y).logpdf(value)
    return mean, np.sqrt(np.diag(cov)), log_lik


def test_matches_dense_conditioning_with_gaps_and_repeats():
    rng = np.random.default_rng(0)
    n_weeks = 30
    week = np.array([0, 0, 2, 3, 3, 3, 9, 20, 21, 29, 29])  # gaps, several readings in one week
    value = rng.normal(1.0, 1.0, len(week))
    sd = rng.choice([0.3, 0.5, 1.2], len(week))  # uneven grades
    smoothed = local_level_smoother(n_weeks, week, value, sd, initial_mean=2.0, initial_sd=0.6, volatility=0.15)
    mean, sdev, log_lik = _dense(n_weeks, week, value, sd, 2.0, 0.6, 0.15)
    np.testing.assert_allclose(smoothed.mean, mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(smoothed.sd, sdev, rtol=1e-10)
    assert abs(smoothed.log_likelihood - log_lik) < 1e-9


def test_order_of_readings_does_not_matter():
    week, value, sd = np.array([5, 1, 5]), np.array([0.5, 2.0, -1.0]), np.array([0.4, 0.4, 0.9])
    a = local_level_smoother(8, week, value, sd, initial_mean=0.0, initial_sd=1.0, volatility=0.2)
    b = local_level_smoother(8, week[::-1], value[::-1], sd[::-1], initial_mean=0.0, initial_sd=1.0, volatility=0.2)
    np.testing.assert_allclose(a.mean, b.mean)
    np.testing.assert_allclose(a.sd, b.sd)


def test_no_readings_is_the_prior_walk():
    s = local_level_smoother(5, np.array([], int), np.array([]), np.array([]), initial_mean=1.0, initial_sd=0.5, volatility=0.2)
    np.testing.assert_allclose(s.mean, 1.0)
    np.testing.assert_allclose(s.sd, np.sqrt(0.25 + 0.04 * np.arange(5)))
    assert s.log_likelihood == 0.0
