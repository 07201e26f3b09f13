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

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from forecast.kernel_cache import kernel

if TYPE_CHECKING:
    from collections.abc import Sequence

    import xarray as xr

TAIL_PROBABILITY = 0.05  # tail ESS: the worse of the 5 % and 95 % quantile indicators, as in ArviZ


def convergence(ary: np.ndarray, threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R-hat, bulk ESS, tail ESS) of each variable, sharing the rank normalisation. Variables are
    independent: blocks of them run in `threads` threads (default: one per core) at once, as the
    sorts and transforms behind them let go of the GIL."""
    threads = threads or len(os.sched_getaffinity(0))
    n = ary.shape[2]
    if threads < 2 or n < 2 * MIN_BLOCK:
        return _convergence(ary)
    edges = np.linspace(0, n, min(threads, n // MIN_BLOCK) + 1).astype(int)
    with ThreadPoolExecutor(max_workers=len(edges) - 1) as pool:
        parts = list(pool.map(lambda bounds: _convergence(np.ascontiguousarray(ary[:, :, bounds[0]:bounds[1]])),
                              itertools.pairwise(edges)))
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))  # type: ignore[return-value]


MIN_BLOCK = 64  # variables: fewer are not worth a thread


def _convergence(ary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def stacked_names(posterior: xr.Dataset | xr.DataTree, names: Sequence[str]) -> list[str]:
    """The name of each column of `stacked(posterior, names)`, as ArviZ labels an element:
    "volatility[external_military_aid]", "theta[territorial_rigidity, 2024-01-08]"."""
    out = []
    for name in names:
        var = posterior[name].transpose("chain", "draw", ...)
        labels = [[str(v) for v in var[dim].values] if dim in var.coords else [str(i) for i in range(var.sizes[dim])]
                  for dim in var.dims[2:]]
        out += [f"{name}[{', '.join(element)}]" if element else name for element in itertools.product(*labels)]
    return out


def worst(r_hat: np.ndarray, bulk: np.ndarray, tail: np.ndarray, names: Sequence[str]) -> dict[str, str]:
    """Which quantity has the largest R-hat and the smallest bulk and tail ESS: where a fit that
    fails its diagnostics fails (the sampler's trouble is usually one parameter and what hangs on
    it). A measure that is undefined everywhere (a handful of draws) names nothing."""
    found = {}
    for measure, values, pick in (("r_hat", r_hat, np.nanargmax), ("ess_bulk", bulk, np.nanargmin),
                                  ("ess_tail", tail, np.nanargmin)):
        if not np.all(np.isnan(values)):
            found[measure] = names[int(pick(values))]
    return found


def _split_chains(ary: np.ndarray) -> np.ndarray:
    half = ary.shape[1] // 2
    return np.concatenate([ary[:, :half], ary[:, -half:]], axis=0)


def _z_scale(ary: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks over all chains and draws (Blom's offset 3/8), ties sharing their
    average rank (scipy's rankdata "average")."""
    chains, draws, n = ary.shape
    m = chains * draws
    # Ranked along the last axis of a contiguous copy: sorting along a strided axis is 4x slower.
    by_variable = np.ascontiguousarray(ary.reshape(m, n).T)
    # An average rank is a multiple of 1/2 from 1 to m: each one's normal score, computed once.
    scores = ndtri((np.arange(2, 2 * m + 1) / 2 - 3 / 8) / (m - 2 * 3 / 8 + 1))
    return _normal_scores(by_variable, scores).T.reshape(chains, draws, n)


@kernel
def _normal_scores(rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each row's values replaced by the normal score of their average rank (`scores[2 r - 2]`
    for rank r)."""
    n_rows, m = rows.shape
    out = np.empty((n_rows, m))
    for i in range(n_rows):
        order = np.argsort(rows[i])
        start = 0
        while start < m:
            stop = start + 1
            while stop < m and rows[i, order[stop]] == rows[i, order[start]]:
                stop += 1
            # Positions start..stop-1 (ranks start+1..stop) tie: each gets their mean, (start + 1 + stop) / 2.
            score = scores[start + stop - 1]
            for j in range(start, stop):
                out[i, order[j]] = score
            start = stop
    return out


def _average_ranks(rows: np.ndarray) -> np.ndarray:
    """Ranks 1..n along each row, ties sharing their average rank (scipy's rankdata "average")."""
    _n_rows, m = rows.shape
    return _normal_scores(rows, np.arange(2, 2 * m + 1) / 2.0)


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


@kernel
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
