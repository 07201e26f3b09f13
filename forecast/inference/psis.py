"""Pareto-smoothed importance sampling (Vehtari, Simpson, Gelman, Yao and Gabry, 2024).

The same computation as ArviZ's `psislw` with r_eff = 1 (a test holds the two equal), written
out here because importing arviz_stats costs more than a second, which the incremental update
cannot spare: its whole budget is three.

The largest M = 3 sqrt(S) raw weights (S / 5 for S <= 225) are replaced by the expected order
statistics of a generalized Pareto distribution fitted to them (Zhang and Stephens' empirical
Bayes fit, with the weakly informative prior on the shape that ArviZ and loo use), and capped
at the largest raw weight. The fitted shape k-hat says how far to trust the result.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def psis_log_weights(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised smoothed log weights (summing to 1 in exp) and k-hat, for weights ∝ exp(log_ratios)."""
    lw = np.asarray(log_ratios, dtype=float).ravel().copy()
    n = lw.size
    tail = int(np.floor(3 * np.sqrt(n)) if n > 225 else np.floor(n / 5))
    if tail < 5:
        raise ValueError("PSIS needs at least 25 draws")
    lw -= lw.max()
    order = np.argsort(lw)
    tail_ids = order[n - tail:]
    cutoff = np.exp(lw[order[n - tail - 1]])
    tail_lw = lw[tail_ids]
    if tail_lw.max() - tail_lw.min() < np.finfo(float).tiny:
        # A flat tail has no Pareto shape to fit: the raw weights, with k-hat infinite, so the
        # caller treats them as unreliable and refits rather than trusting an unfitted tail.
        return lw - logsumexp(lw), float("inf")
    khat, sigma = _gpd_fit(np.exp(tail_lw) - cutoff)
    if np.isfinite(khat):
        p = np.arange(0.5, tail) / tail
        smoothed = np.log(_gpd_quantile(p, khat, sigma, cutoff))
        lw[tail_ids] = np.minimum(smoothed, tail_lw.max())
    return lw - logsumexp(lw), float(khat)


def _gpd_fit(x: np.ndarray) -> tuple[float, float]:
    """Shape and scale of a generalized Pareto distribution fitted to sorted exceedances `x`."""
    prior_bs, prior_k = 3, 10
    n = x.size
    m = 30 + int(n**0.5)
    first_quartile = x[int(n / 4 + 0.5) - 1]
    if first_quartile <= x[0]:
        return np.nan, np.nan
    b = 1 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
    b /= prior_bs * first_quartile
    b += 1 / x[-1]
    k = np.mean(np.log1p(-b[:, None] * x), axis=1)
    log_lik = n * (np.log(-b / k) - k - 1)
    w = np.exp(log_lik - logsumexp(log_lik))
    keep = w >= 10 * np.finfo(float).eps
    w, b = w[keep] / w[keep].sum(), b[keep]
    b_post = np.sum(b * w)
    kappa = np.mean(np.log1p(-b_post * x))
    sigma = -kappa / b_post
    kappa = (n * kappa + prior_k * 0.5) / (n + prior_k)
    if np.isnan(kappa):
        return np.inf, np.nan
    return float(kappa), float(sigma)


def _gpd_quantile(p: np.ndarray, k: float, sigma: float, mu: float) -> np.ndarray:
    if sigma <= 0:
        return np.full_like(p, np.nan)
    if k == 0:
        return mu - sigma * np.log1p(-p)
    return mu + sigma * np.expm1(-k * np.log1p(-p)) / k
