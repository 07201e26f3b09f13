"""Exact inference for one factor when the model is linear-Gaussian.

With Gaussian readings (ν → ∞) and known volatility and noise, a factor is a local-level model:

    x[0] ~ Normal(m0, s0²),   x[w] = x[w-1] + volatility · ε,   y_i ~ Normal(x[week_i], sd_i²)

and its posterior is what the Kalman filter and the Rauch-Tung-Striebel smoother give. The
tests use this as ground truth for the sampler, and for the Kalman-guided path coordinates the
sampler moves in (kalman_path.py, compiled and differentiable; this version stays readable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    volatility: float,
) -> Smoothed:
    """Kalman filter then RTS smoother over weeks 0..n_weeks-1; several readings in a week are
    applied one after another, weeks without readings only widen the state."""
    week, value, sd = np.asarray(week, int), np.asarray(value, float), np.asarray(sd, float)
    order = np.argsort(week, kind="stable")
    week, value, var_obs = week[order], value[order], sd[order] ** 2
    q = volatility**2

    pred_m, pred_p = np.empty(n_weeks), np.empty(n_weeks)
    filt_m, filt_p = np.empty(n_weeks), np.empty(n_weeks)
    m, p = initial_mean, initial_sd**2
    log_lik = 0.0
    i = 0
    for w in range(n_weeks):
        if w > 0:
            p = p + q
        pred_m[w], pred_p[w] = m, p
        while i < len(week) and week[i] == w:
            s = p + var_obs[i]  # variance of the reading before seeing it
            log_lik += -0.5 * (np.log(2 * np.pi * s) + (value[i] - m) ** 2 / s)
            gain = p / s
            m = m + gain * (value[i] - m)
            p = (1 - gain) * p
            i += 1
        filt_m[w], filt_p[w] = m, p

    mean, var = filt_m.copy(), filt_p.copy()
    for w in range(n_weeks - 2, -1, -1):
        c = filt_p[w] / pred_p[w + 1]
        mean[w] = filt_m[w] + c * (mean[w + 1] - pred_m[w + 1])
        var[w] = filt_p[w] + c**2 * (var[w + 1] - pred_p[w + 1])
    return Smoothed(mean, np.sqrt(var), float(log_lik))
