"""Forward simulation from posterior draws to cumulative incidence by horizon.

Pure numpy on the draws, so it can be checked on hand-built posteriors with known answers.
For each draw, theta is simulated forward week by week from its last observed level; given that
path the competing-risks probabilities are exact, so we accumulate them instead of sampling
categorical outcomes (Rao-Blackwellisation: the same expectation, less Monte Carlo noise):

    S(0) = 1,   CIF_j(h) = CIF_j(h-1) + S(h-1) * p_j(h),   S(h) = S(h-1) * p_none(h)

CIF_j(h) is P(the first deal within h weeks is of type j) and S(h) is P(no deal within h);
they sum to 1 for every h and every draw by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .conventions import DEAL, FACTOR, HORIZON, INTERVAL, OUTCOME, WEEK

SAMPLE_DIMS = ("chain", "draw")


@dataclass(frozen=True)
class Draws:
    """The parameters the forecast needs, flattened over chains and draws."""

    theta_last: np.ndarray  # (D, K) factor levels in the last observed week
    volatility: np.ndarray  # (D, K)
    baseline: np.ndarray  # (D, J)
    effect: np.ndarray  # (D, J, K)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Draws:
        """From a posterior (or prior) group holding theta, volatility, baseline and effect."""
        stacked = ds[["theta", "volatility", "baseline", "effect"]].stack(sample=SAMPLE_DIMS)
        return cls(
            theta_last=stacked["theta"].isel({WEEK: -1}).transpose("sample", FACTOR).values,
            volatility=stacked["volatility"].transpose("sample", FACTOR).values,
            baseline=stacked["baseline"].transpose("sample", DEAL).values,
            effect=stacked["effect"].transpose("sample", DEAL, FACTOR).values,
        )


def cumulative_incidence(draws: Draws, weeks: int, rng: np.random.Generator) -> np.ndarray:
    """Array (D, weeks, J + 1): for each draw and horizon h = 1..weeks, the CIF of each deal
    type then P(no deal within h)."""
    n, _ = draws.theta_last.shape
    n_deals = draws.baseline.shape[1]
    theta = draws.theta_last.copy()
    survival = np.ones(n)
    cif = np.zeros((n, n_deals))
    out = np.empty((n, weeks, n_deals + 1))
    for h in range(weeks):
        theta += draws.volatility * rng.standard_normal(theta.shape)
        eta = draws.baseline + np.einsum("djk,dk->dj", draws.effect, theta)
        logits = np.concatenate([np.zeros((n, 1)), eta], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        cif += survival[:, None] * p[:, 1:]
        survival = survival * p[:, 0]
        out[:, h, :n_deals] = cif
        out[:, h, n_deals] = survival
    return out


def forecast_table(incidence: np.ndarray, outcome_keys: list[str]) -> pd.DataFrame:
    """Long table: horizon, outcome, p (mean over draws), lo and hi (the INTERVAL quantiles)."""
    lo_q, hi_q = INTERVAL
    mean = incidence.mean(axis=0)
    # Nearly constant draws can put the mean a rounding error outside its own quantiles; close
    # that gap (and only that: a real skew that moves the mean outside stays visible).
    rounding = 1e-9
    lo = np.quantile(incidence, lo_q, axis=0)
    hi = np.quantile(incidence, hi_q, axis=0)
    lo = np.where((lo > mean) & (lo - mean < rounding), mean, lo)
    hi = np.where((hi < mean) & (mean - hi < rounding), mean, hi)
    rows = [
        {HORIZON: h + 1, OUTCOME: key, "p": mean[h, j], "lo": lo[h, j], "hi": hi[h, j]}
        for h in range(incidence.shape[1])
        for j, key in enumerate(outcome_keys)
    ]
    return pd.DataFrame(rows)


def headline(table: pd.DataFrame, horizon: int, labels: dict[str, str]) -> dict[str, dict]:
    """Outcome -> {label, p, lo, hi} at the headline horizon, in the table's outcome order."""
    at = table[table[HORIZON] == horizon]
    return {
        row[OUTCOME]: {"label": labels[row[OUTCOME]], "p": float(row["p"]), "lo": float(row["lo"]), "hi": float(row["hi"])}
        for _, row in at.iterrows()
    }


def factor_summary(ds: xr.Dataset, labels: dict[str, str]) -> dict[str, dict]:
    """Factor -> {label, mean, sd} of theta in the last observed week."""
    last = ds["theta"].isel({WEEK: -1})
    mean = last.mean(SAMPLE_DIMS)
    sd = last.std(SAMPLE_DIMS)
    return {
        str(k): {"label": labels[str(k)], "mean": float(mean.sel({FACTOR: k})), "sd": float(sd.sel({FACTOR: k}))}
        for k in last[FACTOR].values
    }
