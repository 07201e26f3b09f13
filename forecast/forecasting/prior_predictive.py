"""What the priors alone imply: factor paths and outcome chances before any event.

The model is built on an empty dataset (one week at the priors' start, no signals, no outcome
likelihood), so forward draws of it are draws from the prior; the forecast code then runs on
them exactly as it runs on a posterior.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from forecast.forecasting.incidence import forecast_table, simulate_forward
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData
from forecast.model.likelihood_on_draws import Draws
from forecast.model.walk import draw_steps

DEFAULT_DRAWS = 4000


def empty_dataset(priors: Priors) -> ModelData:
    """One week at the priors' start, no signals, and no outcome likelihood: the model is its prior."""
    from forecast.model.skeleton import skeleton_dataset

    empty = skeleton_dataset(priors, n_signals=0, n_weeks=1, rng=np.random.default_rng(0))
    return dataclasses.replace(empty, outcomes_observed=False)


@dataclass(frozen=True)
class PriorPredictive:
    prior: xr.Dataset  # draws of every model parameter (chain, draw, ...)
    incidence: np.ndarray  # (draws, horizon, outcome) cumulative incidence
    table: pd.DataFrame  # forecast_table of the incidence
    factor_paths: np.ndarray  # (draws, factor, horizon + 1): theta from the start week forward


def prior_predictive(priors: Priors, *, draws: int = DEFAULT_DRAWS, seed: int) -> PriorPredictive:
    import pymc as pm

    from forecast.model.graph import build_model

    model = build_model(empty_dataset(priors), priors)
    prior = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed).prior.to_dataset()
    parameters = Draws.from_dataset(prior)
    weeks = priors.outcomes.forecast_weeks
    forward = simulate_forward(parameters, weeks, np.random.default_rng([seed, 1]))
    # The same forward walk, kept as paths for the factor chart.
    rng = np.random.default_rng([seed, 2])
    steps = draw_steps(parameters.volatility, parameters.step_nu, weeks, rng)
    paths = np.concatenate([parameters.theta_last[:, :, None], parameters.theta_last[:, :, None] + np.cumsum(steps, axis=2)], axis=2)
    table = forecast_table(forward.incidence, priors.outcomes.keys, forward.happens_by)
    return PriorPredictive(prior, forward.incidence, table, paths)
