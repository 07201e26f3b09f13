"""Forward simulation from posterior draws to cumulative incidence by horizon.

Pure numpy on the draws, so it can be checked on hand-built posteriors with known answers.
For each draw, theta is simulated forward week by week from its last observed level; given that
path the competing-risks probabilities are exact, so we accumulate them instead of sampling
categorical outcomes (Rao-Blackwellisation: the same expectation, less Monte Carlo noise):

    S(0) = 1,   CIF_j(h) = CIF_j(h-1) + S(h-1) * p_j(h),   S(h) = S(h-1) * p_none(h)

CIF_j(h) is P(the first deal within h weeks is of type j) and S(h) is P(no deal within h);
they sum to 1 for every h and every draw by construction.

The weekly hazards go on after a deal (a week's draw does not depend on earlier deals), so the
same walk also gives the chance that a deal of type j starts *at least once* within h weeks,
whatever came before it ("happens by h"):

    B_j(h) = 1 - prod_{w <= h} (1 - p_j(w))

It is at least CIF_j(h), and for the complement it is S(h) itself. Both come from one pass over
the same random stream, so asking for one never changes the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from forecast.conventions import FACTOR, HORIZON, INTERVAL, OUTCOME, SAMPLE_DIMS, WEEK
from forecast.model.likelihood_on_draws import Draws, weekly_log_probabilities
from forecast.model.walk import draw_steps


@dataclass(frozen=True)
class Simulation:
    """The forward walk's two summaries, each (D, weeks, J + 1): deal types, then no deal."""

    incidence: np.ndarray  # CIF_j(h), then S(h): who comes first
    happens_by: np.ndarray  # B_j(h), then S(h): each deal type at least once


def simulate_forward(draws: Draws, weeks: int, rng: np.random.Generator,
                     occasions_ahead: np.ndarray | None = None) -> Simulation:
    """Walk the obstacles forward from every draw and accumulate, for h = 1..weeks, the
    cumulative incidence of the first deal and the chance of each deal type at least once.
    `occasions_ahead` (at least `weeks` rows, one column per occasion type) counts the scheduled
    occasions in each week ahead; they move that week's odds."""
    boost = draws.occasion_boost(occasions_ahead[:weeks]) if occasions_ahead is not None else None
    n, _ = draws.theta_last.shape
    n_deals = draws.baseline.shape[1]
    theta = draws.theta_last.copy()
    survival = np.ones(n)
    cif = np.zeros((n, n_deals))
    never = np.ones((n, n_deals))  # prod_{w <= h} (1 - p_j(w)): no deal of type j so far
    out = np.empty((n, weeks, n_deals + 1))
    once = np.empty((n, weeks, n_deals + 1))
    for h in range(weeks):
        theta += draw_steps(draws.volatility, draws.step_nu, 1, rng)[..., 0]
        p = np.exp(weekly_log_probabilities(draws.baseline, draws.effect, theta, None if boost is None else boost[:, h]))
        cif += survival[:, None] * p[:, 1:]
        survival = survival * p[:, 0]
        never *= 1 - p[:, 1:]
        out[:, h, :n_deals] = cif
        out[:, h, n_deals] = survival
        once[:, h, :n_deals] = 1 - never
        once[:, h, n_deals] = survival
    return Simulation(out, once)


def cumulative_incidence(draws: Draws, weeks: int, rng: np.random.Generator,
                         occasions_ahead: np.ndarray | None = None) -> np.ndarray:
    """Array (D, weeks, J + 1): for each draw and horizon h = 1..weeks, the CIF of each deal
    type then P(no deal within h). `simulate_forward(...).incidence`, with the same stream."""
    return simulate_forward(draws, weeks, rng, occasions_ahead).incidence


# The forecast table's columns: the first deal's chance, then the at-least-once chance.
HAPPENS_BY = ("happens_by", "happens_by_lo", "happens_by_hi")


def forecast_table(incidence: np.ndarray, outcome_keys: list[str], happens_by: np.ndarray) -> pd.DataFrame:
    """Long table: horizon, outcome, p (mean over draws), lo and hi (the INTERVAL quantiles) of
    the cumulative incidence, and the same three of the at-least-once chance (HAPPENS_BY)."""
    p, lo, hi = _summary(incidence)
    by, by_lo, by_hi = _summary(happens_by)
    rows = [
        {HORIZON: h + 1, OUTCOME: key, "p": p[h, j], "lo": lo[h, j], "hi": hi[h, j],
         HAPPENS_BY[0]: by[h, j], HAPPENS_BY[1]: by_lo[h, j], HAPPENS_BY[2]: by_hi[h, j]}
        for h in range(incidence.shape[1])
        for j, key in enumerate(outcome_keys)
    ]
    return pd.DataFrame(rows)


def _summary(per_draw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over draws and the INTERVAL quantiles, each (weeks, outcomes)."""
    lo_q, hi_q = INTERVAL
    mean = per_draw.mean(axis=0)
    # Nearly constant draws can put the mean a rounding error outside its own quantiles; close
    # that gap (and only that: a real skew that moves the mean outside stays visible).
    rounding = 1e-9
    lo = np.quantile(per_draw, lo_q, axis=0)
    hi = np.quantile(per_draw, hi_q, axis=0)
    lo = np.where((lo > mean) & (lo - mean < rounding), mean, lo)
    hi = np.where((hi < mean) & (mean - hi < rounding), mean, hi)
    return mean, lo, hi


def headline(table: pd.DataFrame, horizon: int, labels: dict[str, str]) -> dict[str, dict]:
    """Outcome -> {label, p, lo, hi, happens_by: {p, lo, hi}} at the headline horizon, in the
    table's outcome order (`happens_by` only if the table has it: runs stored before did not)."""
    at = table[table[HORIZON] == horizon]
    out = {}
    for _, row in at.iterrows():
        entry = {"label": labels[row[OUTCOME]], "p": float(row["p"]), "lo": float(row["lo"]), "hi": float(row["hi"])}
        if HAPPENS_BY[0] in row.index:
            entry["happens_by"] = {"p": float(row[HAPPENS_BY[0]]), "lo": float(row[HAPPENS_BY[1]]),
                                   "hi": float(row[HAPPENS_BY[2]])}
        out[row[OUTCOME]] = entry
    return out


def factor_summary(ds: xr.Dataset, labels: dict[str, str]) -> dict[str, dict]:
    """Factor -> {label, mean, sd} of theta in the last observed week."""
    last = ds["theta"].isel({WEEK: -1})
    mean = last.mean(SAMPLE_DIMS)
    sd = last.std(SAMPLE_DIMS)
    return {
        str(k): {"label": labels[str(k)], "mean": float(mean.sel({FACTOR: k})), "sd": float(sd.sel({FACTOR: k}))}
        for k in last[FACTOR].values
    }
