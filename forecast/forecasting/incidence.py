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

import numpy as np
import pandas as pd
import xarray as xr

from forecast.conventions import FACTOR, HORIZON, INTERVAL, OUTCOME, SAMPLE_DIMS, WEEK
from forecast.model.draws import Draws, weekly_log_probabilities


def cumulative_incidence(draws: Draws, weeks: int, rng: np.random.Generator,
                         occasions_ahead: np.ndarray | None = None) -> np.ndarray:
    """Array (D, weeks, J + 1): for each draw and horizon h = 1..weeks, the CIF of each deal
    type then P(no deal within h). `occasions_ahead` (at least `weeks` rows, one column per
    occasion type) counts the scheduled occasions in each week ahead; they move that week's odds."""
    boost = draws.occasion_boost(occasions_ahead[:weeks]) if occasions_ahead is not None else None
    n, _ = draws.theta_last.shape
    n_deals = draws.baseline.shape[1]
    theta = draws.theta_last.copy()
    survival = np.ones(n)
    cif = np.zeros((n, n_deals))
    out = np.empty((n, weeks, n_deals + 1))
    for h in range(weeks):
        theta += draws.volatility * rng.standard_normal(theta.shape)
        p = np.exp(weekly_log_probabilities(draws.baseline, draws.effect, theta, None if boost is None else boost[:, h]))
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
