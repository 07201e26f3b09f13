"""Synthetic event logs drawn from the model itself, for parameter recovery and benchmarks.

The model is built on a skeleton dataset of the requested size (which factor each signal reads,
its week and grades), optionally with some parameters fixed to known values (`pm.do`), and one
joint draw of the prior predictive gives the true factor paths, the signals and the weekly
outcomes. Signals are clipped to the [-3, 3] scale analysts use.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES
from forecast.io.events import SIGNAL_RANGE
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData
from forecast.model.graph import build_model
from forecast.model.likelihood_on_draws import weekly_log_probabilities
from forecast.model.skeleton import skeleton_dataset


@dataclasses.dataclass(frozen=True)
class SyntheticLog:
    events: pd.DataFrame  # columns as in events.csv
    theta: np.ndarray  # (factors, weeks): the true factor paths
    parameters: dict[str, np.ndarray]  # the true values of every other model parameter
    weeks: tuple[dt.date, ...]


def simulate_log(
    priors: Priors,
    *,
    n_signals: int,
    n_weeks: int,
    seed: int,
    fixed: Mapping[str, np.ndarray] | None = None,
    start: dt.date | None = None,
) -> SyntheticLog:
    """A log of `n_signals` readings spread evenly at random over `n_weeks`, drawn from the model."""
    rng = np.random.default_rng(seed)
    skeleton = skeleton_dataset(priors, n_signals=n_signals, n_weeks=n_weeks, rng=rng, start=start)
    return _draw(skeleton, priors, rng, fixed=fixed)


# What real logs look like (the coded 2022-2026 record in examples/): a reading every week or two
# on average, in bursts around talks, with months of silence between.
SPARSE_READINGS_PER_WEEK = (0.3, 1.0)
SPARSE_YEARS = (1.0, 4.0)
SPARSE_GAP_WEEKS = (4, 13)
SPARSE_OUTCOMES = (3, 10)
# Admiralty grades as analysts use them: mostly usually or fairly reliable sources, few unknowns.
SPARSE_RELIABILITY = (0.15, 0.35, 0.3, 0.1, 0.05, 0.05)
SPARSE_CREDIBILITY = (0.2, 0.35, 0.25, 0.1, 0.05, 0.05)


def simulate_sparse_log(priors: Priors, *, seed: int, start: dt.date | None = None) -> SyntheticLog:
    """A log shaped like a real one, drawn from the model: 1-4 years, 0.3-1 reading a week on
    average in bursts, one to three silent gaps of 1-3 months, mixed grades, and 3-10 deals."""
    rng = np.random.default_rng(seed)
    n_weeks = round(52 * rng.uniform(*SPARSE_YEARS))
    rate = rng.uniform(*SPARSE_READINGS_PER_WEEK)
    silent = np.zeros(n_weeks, bool)
    for _ in range(int(rng.integers(1, 4))):
        length = int(rng.integers(SPARSE_GAP_WEEKS[0], SPARSE_GAP_WEEKS[1] + 1))
        begin = int(rng.integers(1, max(2, n_weeks - length)))
        silent[begin:begin + length] = True
    # Bursty counts: a gamma-Poisson mixture, so some weeks carry several readings and many none.
    active = np.flatnonzero(~silent)
    per_week = rng.poisson(rng.gamma(0.5, 2 * rate * n_weeks / len(active), len(active)))
    weeks = np.repeat(active, per_week)
    if len(weeks) == 0:
        weeks = active[:1]
    skeleton = skeleton_dataset(priors, n_signals=len(weeks), n_weeks=n_weeks, rng=rng, start=start)
    skeleton = dataclasses.replace(
        skeleton, signal_week=np.sort(weeks),
        signal_reliability=rng.choice(len(RELIABILITY_GRADES), len(weeks), p=SPARSE_RELIABILITY),
        signal_credibility=rng.choice(len(CREDIBILITY_GRADES), len(weeks), p=SPARSE_CREDIBILITY),
    )
    return _draw(skeleton, priors, rng, outcomes=SPARSE_OUTCOMES)


def _draw(
    skeleton: ModelData,
    priors: Priors,
    rng: np.random.Generator,
    *,
    fixed: Mapping[str, np.ndarray] | None = None,
    outcomes: tuple[int, int] | None = None,
    candidates: int = 200,
) -> SyntheticLog:
    """One joint draw of the prior predictive on `skeleton`, as a log. With `outcomes` (low,
    high), the draw is the first of `candidates` whose number of deals lies in that range."""
    weeks, factors, deals = skeleton.weeks, skeleton.factors, skeleton.deals
    n_weeks, n_signals = len(weeks), len(skeleton.signal_week)
    model = build_model(skeleton, priors)
    if fixed:
        model = pm.do(model, {name: np.asarray(value, dtype=float) for name, value in fixed.items()})
    draws = 1 if outcomes is None else candidates
    sampled = pm.sample_prior_predictive(draws=draws, model=model, random_seed=rng)
    drawn = sampled.prior_predictive["outcome_counts"].values[0]
    if any(o.follows is not None for o in priors.outcomes.occasions.values()):
        drawn = outcomes_in_runs(sampled.prior.to_dataset().isel(chain=0), priors, rng)
    pick = 0
    if outcomes is not None:
        totals = drawn[:, :, 1:].sum(axis=(1, 2))
        fits = np.flatnonzero((totals >= outcomes[0]) & (totals <= outcomes[1]))
        if len(fits) == 0:
            raise ValueError(f"no draw of {candidates} has {outcomes[0]}-{outcomes[1]} deals; the priors make deals too rare or common")
        pick = int(fits[0])
    prior = sampled.prior.to_dataset().isel(chain=0, draw=pick)
    predictive = sampled.prior_predictive.to_dataset().isel(chain=0, draw=pick)

    lo, hi = SIGNAL_RANGE
    rows = []
    for i in range(n_signals):
        day = weeks[skeleton.signal_week[i]] + dt.timedelta(days=int(rng.integers(0, 7)))
        rows.append({
            "event_id": f"sim-s{i:06d}", "date": day, "reported": day, "kind": "signal",
            "factor": factors[skeleton.signal_factor[i]],
            "signal": round(float(np.clip(predictive["signal"].values[i], lo, hi)), 3),
            "outcome": "", "source_reliability": RELIABILITY_GRADES[skeleton.signal_reliability[i]],
            "info_credibility": CREDIBILITY_GRADES[skeleton.signal_credibility[i]],
        })
    counts = drawn[pick]
    for w in range(n_weeks):
        for j, deal in enumerate(deals):
            for n in range(int(counts[w, 1 + j])):
                day = weeks[w] + dt.timedelta(days=int(rng.integers(0, 7)))
                rows.append({
                    "event_id": f"sim-o{w:04d}-{j}-{n}", "date": day, "reported": day, "kind": "outcome",
                    "factor": "", "signal": "", "outcome": deal, "source_reliability": "A", "info_credibility": "1",
                })
    events = pd.DataFrame(rows).sort_values(["date", "event_id"], ignore_index=True)
    parameters = {name: prior[name].values for name in prior.data_vars if name != "theta"}
    parameters.update({name: np.asarray(value, dtype=float) for name, value in (fixed or {}).items()})
    return SyntheticLog(events=events, theta=prior["theta"].values, parameters=parameters, weeks=weeks)


def outcomes_in_runs(prior: xr.Dataset, priors: Priors, rng: np.random.Generator) -> np.ndarray:
    """(draws, weeks, 1 + J) one-hot weekly outcomes drawn week by week, for priors with occasion
    types that are the weeks after a deal: such a week's odds depend on the deals drawn before
    it, which the model's graph (where the outcomes are data) cannot draw itself."""
    deals = list(priors.outcomes.deals)
    theta = prior["theta"].transpose("draw", "week", "factor").values  # (D, W, K)
    baseline = prior["baseline"].transpose("draw", "deal").values
    effect = prior["effect"].transpose("draw", "deal", "factor").values
    occasion_effect = prior["occasion_effect"].transpose("draw", "deal", "occasion").values  # (D, J, O)
    rules = [(o, deals.index(occ.follows.deal), occ.follows.weeks)
             for o, occ in enumerate(priors.outcomes.occasions.values()) if occ.follows is not None]
    n, n_weeks, _ = theta.shape
    last_deal = np.full((n, len(deals)), -np.inf)  # the week of each draw's latest deal of each type
    out = np.zeros((n, n_weeks, 1 + len(deals)), dtype=np.int64)
    for w in range(n_weeks):
        boost = np.zeros((n, len(deals)))
        for o, j, weeks in rules:
            boost += (w - last_deal[:, j] <= weeks)[:, None] * occasion_effect[:, :, o]
        p = np.exp(weekly_log_probabilities(baseline, effect, theta[:, w], boost))
        pick = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(max=len(deals))
        out[np.arange(n), w, pick] = 1
        hit = pick > 0
        last_deal[hit, pick[hit] - 1] = w
    return out


SPARSE_CORPUS_START = dt.date(2022, 2, 21)  # the week of the full-scale invasion, as the real record


def write_sparse_corpus(folder: Path, priors: Priors, seeds: range) -> list[Path]:
    """The sparse logs of `seeds` as events CSVs in `folder` (sparse-<seed>.csv), all starting in
    the invasion's week, so that every log ends in the past whatever its length."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = folder / f"sparse-{seed:02d}.csv"
        simulate_sparse_log(priors, seed=seed, start=SPARSE_CORPUS_START).events.to_csv(path, index=False)
        paths.append(path)
    return paths
