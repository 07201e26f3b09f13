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

    def __post_init__(self) -> None:
        for name in ("draws", "tune", "chains"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.chains < 2:
            raise InputError("--chains must be at least 2: R-hat needs more than one chain")


def fit_forecast(
    data: ModelData, priors: Priors, settings: FitSettings, *, progress: bool = False,
) -> tuple[xr.DataTree, Diagnostics, pd.DataFrame]:
    """Sample the model and forecast from the posterior: (trace, diagnostics, forecast table).

    The one path from data to numbers, shared by `update` and the notebooks.
    """
    # Imported here so that `validate` and `status` never pay PyMC's start-up cost.
    from forecast.forecasting.incidence import forecast_table, simulate_forward
    from forecast.inference.sampler import sample
    from forecast.model.draws import Draws
    from forecast.model.graph import build_fit_model

    model = build_fit_model(data, priors)
    checkpoint("sampling")
    trace, diagnostics = sample(model, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                                seed=settings.seed, progress=progress)
    # The forecast has its own stream, derived from the seed, so it is reproducible too.
    rng = np.random.default_rng([settings.seed, 1])
    forward = simulate_forward(Draws.from_dataset(trace.posterior.to_dataset()), priors.outcomes.forecast_weeks, rng)
    return trace, diagnostics, forecast_table(forward.incidence, priors.outcomes.keys, forward.happens_by)
