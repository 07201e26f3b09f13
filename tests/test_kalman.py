"""The tests' exact oracle against answers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from kalman_oracle import local_level_smoother
from scipy import stats


def test_one_week_is_the_conjugate_normal_update():
    """Two readings of one week: precision-weighted mean, summed precisions, and the marginal
    likelihood of the pair worked out by hand."""
    value, sd = np.array([2.0, 2.4]), np.array([0.5, 1.0])
    s = local_level_smoother(1, np.array([0, 0]), value, sd, initial_mean=1.0, initial_sd=0.6, volatility=0.2)
    precision = 1 / 0.36 + 1 / 0.25 + 1 / 1.0
    assert s.mean[0] == pytest.approx((1 / 0.36 + 2.0 / 0.25 + 2.4 / 1.0) / precision, rel=1e-12)
    assert s.sd[0] == pytest.approx(precision**-0.5, rel=1e-12)
    cov = np.full((2, 2), 0.36) + np.diag(sd**2)
    assert s.log_likelihood == pytest.approx(stats.multivariate_normal([1.0, 1.0], cov).logpdf(value), rel=1e-12)


def test_a_gap_widens_the_path_by_the_walk():
    """One reading in week 0; weeks after it carry the filtered variance plus q per week."""
    s = local_level_smoother(4, np.array([0]), np.array([1.0]), np.array([0.5]), initial_mean=0.0, initial_sd=1.0, volatility=0.3)
    posterior_var = 1 / (1 / 1.0 + 1 / 0.25)
    np.testing.assert_allclose(s.sd**2, posterior_var + 0.09 * np.arange(4), rtol=1e-12)
    np.testing.assert_allclose(s.mean, 0.8, rtol=1e-12)


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
