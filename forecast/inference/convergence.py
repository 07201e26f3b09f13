"""Rank-normalised split R-hat, bulk and tail effective sample sizes (Vehtari et al. 2021), and
the Monte Carlo standard error of a mean.

The same estimators as ArviZ (`arviz_stats.rhat` with method "rank", `arviz_stats.ess` with
"bulk" and with "tail" at the 5 % and 95 % quantiles, `mcse` with "mean"); a test holds them
equal. (ArviZ 1's own default tail quantiles are 11 % and 89 %; 5 % and 95 % are Vehtari et
al.'s and Stan's, and the edges of the interval every table here reports.) They are written out
here, vectorised over every variable at once, because importing arviz_stats and looping over
variables one at a time would cost a quick update more than its sampling
(`benchmarks/update.py` times the whole update).

Arrays are (chain, draw, variable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy.special import ndtri

if TYPE_CHECKING:
    from collections.abc import Sequence

    import xarray as xr

TAIL_PROBABILITY = 0.05  # tail ESS: the worse of the 5 % and 95 % quantile indicators, as in ArviZ


def convergence(ary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R-hat, bulk ESS, tail ESS) of each variable, sharing the rank normalisation."""
    split = _split_chains(ary)
    z = _z_scale(split)
    return np.maximum(_rhat(z), _rhat_folded(split)), _ess(z), ess_tail(ary)


def rhat(ary: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat: the larger of the bulk and the folded (tail) version."""
    split = _split_chains(ary)
    return np.maximum(_rhat(_z_scale(split)), _rhat_folded(split))


def ess_bulk(ary: np.ndarray) -> np.ndarray:
    return _ess(_z_scale(_split_chains(ary)))


def ess_tail(ary: np.ndarray, probability: float = TAIL_PROBABILITY) -> np.ndarray:
    flat = ary.reshape(-1, ary.shape[2])
    low, high = np.quantile(flat, [probability, 1 - probability], axis=0)
    return np.minimum(_ess(_split_chains((ary <= low).astype(float))), _ess(_split_chains((ary <= high).astype(float))))


def mcse_mean(ary: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of each variable's posterior mean: sd / sqrt(ESS of the mean)."""
    flat = ary.reshape(-1, ary.shape[2])
    return np.std(flat, axis=0, ddof=1) / np.sqrt(_ess(_split_chains(ary)))


def stacked(posterior: xr.Dataset | xr.DataTree, names: Sequence[str]) -> np.ndarray:
    """The named variables of an xarray posterior as one (chain, draw, variable) array."""
    parts = [posterior[name].transpose("chain", "draw", ...).values for name in names]
    return np.concatenate([p.reshape(p.shape[0], p.shape[1], -1) for p in parts], axis=2)


def _split_chains(ary: np.ndarray) -> np.ndarray:
    half = ary.shape[1] // 2
    return np.concatenate([ary[:, :half], ary[:, -half:]], axis=0)


def _z_scale(ary: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks over all chains and draws (Blom's offset 3/8)."""
    chains, draws, n = ary.shape
    # Ranked along the last axis of a contiguous copy: sorting along a strided axis is 4x slower.
    by_variable = np.ascontiguousarray(ary.reshape(chains * draws, n).T)
    ranks = _average_ranks(by_variable)
    return ndtri((ranks - 3 / 8) / (chains * draws - 2 * 3 / 8 + 1)).T.reshape(chains, draws, n)


def _average_ranks(rows: np.ndarray) -> np.ndarray:
    """Ranks 1..n along each row, ties sharing their average rank (scipy's rankdata "average",
    without importing scipy.stats: half a second)."""
    n_rows, n = rows.shape
    order = np.argsort(rows, axis=1)  # any order within ties: they share one average rank
    ordered = np.take_along_axis(rows, order, axis=1)
    # A tie group starts where the sorted value changes; each member gets the group's mean position.
    starts = np.ones((n_rows, n), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0), axis=1)
    ends = np.ones((n_rows, n), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    last = np.minimum.accumulate(np.where(ends, np.arange(n), n - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty_like(rows, dtype=float)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=1)
    return ranks


def _rhat_folded(split: np.ndarray) -> np.ndarray:
    return _rhat(_z_scale(np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))))


def _rhat(ary: np.ndarray) -> np.ndarray:
    draws = ary.shape[1]
    between = draws * np.var(ary.mean(axis=1), axis=0, ddof=1)
    within = np.mean(np.var(ary, axis=1, ddof=1), axis=0)
    return np.sqrt((between / within + draws - 1) / draws)


def _ess(ary: np.ndarray) -> np.ndarray:
    _, draws, _ = ary.shape
    centred = ary - ary.mean(axis=1, keepdims=True)
    size = 1 << (2 * draws - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    autocovariance = np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=1)[:, :draws] / draws
    constant = (ary.max(axis=(0, 1)) - ary.min(axis=(0, 1))) < np.finfo(float).resolution
    return _geyer(np.ascontiguousarray(autocovariance.transpose(2, 0, 1)), np.ascontiguousarray(ary.mean(axis=1).T), constant)


@numba.njit(cache=True)
def _geyer(autocovariance: np.ndarray, chain_mean: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """ESS from each variable's per-chain autocovariances (variable, chain, lag), truncated by
    Geyer's initial positive sequence and made monotone; ArviZ's loop, one variable at a time."""
    n, chains, draws = autocovariance.shape
    out = np.empty(n)
    for v in range(n):
        if constant[v]:
            out[v] = chains * draws
            continue
        acov = autocovariance[v]
        mean_var = acov[:, 0].mean() * draws / (draws - 1.0)
        var_plus = mean_var * (draws - 1.0) / draws
        if chains > 1:
            var_plus += np.var(chain_mean[v]) * chains / (chains - 1.0)
        rho = np.zeros(draws)
        rho_even = 1.0
        rho[0] = rho_even
        rho_odd = 1.0 - (mean_var - acov[:, 1].mean()) / var_plus
        rho[1] = rho_odd
        t = 1
        while t < draws - 3 and rho_even + rho_odd > 0.0:
            rho_even = 1.0 - (mean_var - acov[:, t + 1].mean()) / var_plus
            rho_odd = 1.0 - (mean_var - acov[:, t + 2].mean()) / var_plus
            if rho_even + rho_odd >= 0:
                rho[t + 1] = rho_even
                rho[t + 2] = rho_odd
            t += 2
        max_t = t - 2
        if rho_even > 0:
            rho[max_t + 1] = rho_even
        t = 1
        while t <= max_t - 2:
            if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
                rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
                rho[t + 2] = rho[t + 1]
            t += 2
        tau = -1.0 + 2.0 * rho[: max_t + 1].sum() + rho[max_t + 1: max_t + 2].sum()
        total = chains * draws
        tau = max(tau, 1.0 / np.log10(total))
        out[v] = np.nan if np.isnan(rho).any() else total / tau
    return out
