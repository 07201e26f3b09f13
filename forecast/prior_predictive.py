"""What the priors alone imply: factor paths and outcome chances before any event.

The model is built on an empty dataset (one week at the priors' start, no signals, no outcome
likelihood), so forward draws of it are draws from the prior; the forecast code then runs on
them exactly as it runs on a posterior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .dataset import ModelData, monday
from .forecasting import Draws, cumulative_incidence, forecast_table
from .priors import Priors

DEFAULT_DRAWS = 4000


def empty_dataset(priors: Priors) -> ModelData:
    start = monday(priors.outcomes.start)
    none = np.array([], dtype=np.int64)
    return ModelData(
        factors=tuple(priors.factors),
        deals=tuple(priors.outcomes.deals),
        weeks=(start,),
        as_of=start,
        signal_factor=none,
        signal_week=none,
        signal_value=np.array([]),
        signal_reliability=none,
        signal_credibility=none,
        outcome_counts=np.zeros((1, 1 + len(priors.outcomes.deals)), dtype=np.int64),
        outcomes_observed=False,
        data_hash="",
        counts={"total": 0, "signals": 0, "outcomes": 0, "retracted": 0},
    )


@dataclass(frozen=True)
class PriorPredictive:
    prior: xr.Dataset  # draws of every model parameter (chain, draw, ...)
    incidence: np.ndarray  # (draws, horizon, outcome) cumulative incidence
    table: pd.DataFrame  # forecast_table of the incidence
    factor_paths: np.ndarray  # (draws, factor, horizon + 1): theta from the start week forward


def prior_predictive(priors: Priors, *, draws: int = DEFAULT_DRAWS, seed: int) -> PriorPredictive:
    import pymc as pm

    from .model import build_model

    model = build_model(empty_dataset(priors), priors)
    prior = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed).prior.to_dataset()
    parameters = Draws.from_dataset(prior)
    weeks = priors.outcomes.forecast_weeks
    incidence = cumulative_incidence(parameters, weeks, np.random.default_rng([seed, 1]))
    # The same forward walk, kept as paths for the factor chart.
    rng = np.random.default_rng([seed, 2])
    steps = parameters.volatility[:, :, None] * rng.standard_normal((*parameters.volatility.shape, weeks))
    paths = np.concatenate([parameters.theta_last[:, :, None], parameters.theta_last[:, :, None] + np.cumsum(steps, axis=2)], axis=2)
    return PriorPredictive(prior, incidence, forecast_table(incidence, priors.outcomes.keys), paths)
