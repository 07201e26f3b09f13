"""From a dataset to numbers: sample the model, check the run, forecast from its draws.

The one path from data to a forecast, shared by `update`, the counterfactual refit of what
moved, the backtest and the notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from forecast.conventions import DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TUNE
from forecast.errors import InputError
from forecast.hooks import checkpoint
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from forecast.inference.diagnostics import Diagnostics


@dataclass(frozen=True)
class FitSettings:
    draws: int = DEFAULT_DRAWS
    tune: int = DEFAULT_TUNE
    chains: int = DEFAULT_CHAINS
    seed: int = DEFAULT_SEED
    # Processes that run the chains (None: one per chain, at most two). The draws do not depend
    # on it; the backtest's parallel workers run their chains in their own process (1).
    cores: int | None = None

    def __post_init__(self) -> None:
        for name in ("draws", "tune", "chains"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.cores is not None and self.cores < 1:
            raise InputError(f"cores must be at least 1, got {self.cores}")
        if self.chains < 2:
            raise InputError("--chains must be at least 2: R-hat needs more than one chain")


def fit_forecast(
    data: ModelData, priors: Priors, settings: FitSettings, *, progress: bool = False,
) -> tuple[xr.DataTree, Diagnostics, pd.DataFrame]:
    """Sample the model and forecast from the posterior: (trace, diagnostics, forecast table).

    The one path from data to numbers, shared by `update` and the notebooks.
    """
    # Imported here so that `validate` and `status` never pay PyMC's start-up cost.
    from forecast.inference.sampler import sample
    from forecast.model.graph import build_fit_model

    model = build_fit_model(data, priors)
    checkpoint("sampling")
    trace, diagnostics = sample(model, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                                seed=settings.seed, progress=progress, cores=settings.cores)
    return trace, diagnostics, forecast_from_posterior(trace.posterior.to_dataset(), priors, settings.seed)


def forecast_from_posterior(posterior: xr.Dataset, priors: Priors, seed: int) -> pd.DataFrame:
    """The forecast table of posterior draws, sampled or reweighted. The forecast has its own
    stream, derived from the seed, so it is reproducible too."""
    from forecast.forecasting.incidence import cumulative_incidence, forecast_table
    from forecast.model.draws import Draws

    incidence = cumulative_incidence(Draws.from_dataset(posterior), priors.outcomes.forecast_weeks, np.random.default_rng([seed, 1]))
    return forecast_table(incidence, priors.outcomes.keys)
