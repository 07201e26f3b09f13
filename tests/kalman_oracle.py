"""Exact inference for one factor when the model is linear-Gaussian: the tests' ground truth.

With Gaussian readings (nu -> infinity) and known volatility and noise, a factor is a local-level
model:

    x[0] ~ Normal(m0, s0^2),   x[w] = x[w-1] + volatility * e,   y_i ~ Normal(x[week_i], sd_i^2)

so the weeks and the readings are one multivariate normal, and the posterior of the path is
plain Gaussian conditioning. It is written as a dense solve on purpose: it shares no recursion
with the Kalman transform the sampler moves in (`forecast/model/kalman_path.py`), so agreement
between the two means something.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Smoothed:
    mean: np.ndarray  # (weeks,) posterior mean of x[w] given every reading
    sd: np.ndarray  # (weeks,) posterior sd
    log_likelihood: float  # log p(y) with x integrated out


def local_level_smoother(
    n_weeks: int,
    week: np.ndarray,
    value: np.ndarray,
    sd: np.ndarray,
    *,
    initial_mean: float,
    initial_sd: float,
    volatility: float | np.ndarray,
) -> Smoothed:
    """`volatility`: the sd of every step, or of each step into week w (n_weeks values, the first unused)."""
    week, value, sd = np.asarray(week, int), np.asarray(value, float), np.asarray(sd, float)
    idx = np.arange(n_weeks)
    step_var = np.broadcast_to(np.asarray(volatility, float) ** 2, (n_weeks,)).copy()
    step_var[0] = 0.0
    elapsed = np.cumsum(step_var)  # the variance the walk adds from week 0 to week w
    cov_x = initial_sd**2 + elapsed[np.minimum.outer(idx, idx)]  # Cov(x_a, x_b) = s0^2 + sum of steps to min(a, b)
    if len(week) == 0:
        return Smoothed(np.full(n_weeks, float(initial_mean)), np.sqrt(np.diag(cov_x)), 0.0)
    h = np.zeros((len(week), n_weeks))
    h[np.arange(len(week)), week] = 1.0
    cov_y = h @ cov_x @ h.T + np.diag(sd**2)
    gain = np.linalg.solve(cov_y, h @ cov_x).T  # Cov(x, y) Cov(y)^-1
    mean = initial_mean + gain @ (value - initial_mean)
    cov = cov_x - gain @ h @ cov_x
    log_lik = stats.multivariate_normal(np.full(len(week), initial_mean), cov_y).logpdf(value)
    return Smoothed(mean, np.sqrt(np.diag(cov)), float(log_lik))
