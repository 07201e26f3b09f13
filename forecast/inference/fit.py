"""From a dataset to numbers: sample the model, check the run, forecast from its draws.

The one path from data to a forecast, shared by `update`, the counterfactual refit of what
moved, the backtest and the notebooks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from forecast.conventions import (
    DEFAULT_CHAINS,
    DEFAULT_DRAWS,
    DEFAULT_SEED,
    DEFAULT_TUNE,
    RETRY_DRAWS_FACTOR,
    RETRY_TARGET_ACCEPT,
    TARGET_ACCEPT,
)
from forecast.errors import ForecastError, InputError
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData
from forecast.pause_points import checkpoint
from forecast.timings import phase

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
    target_accept: float = TARGET_ACCEPT
    # Processes that run the chains (None: one per chain, at most two). The draws do not depend
    # on it; the backtest's parallel workers run their chains in their own process (1).
    cores: int | None = None

    def __post_init__(self) -> None:
        if not 0.5 <= self.target_accept < 1:
            raise InputError(f"--target-accept must be from 0.5 to below 1, got {self.target_accept}")
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
    # Imported here so that `validate` and `status` never pay numba's start-up cost.
    with phase("imports"):
        from forecast.inference.sampler import sample
        from forecast.model.density import compile_density, supported
        from forecast.model.reading_groups import contested_groups

    checkpoint("sampling")
    with phase("model: groups and structure"):
        groups = contested_groups(data, priors)
        density = compile_density(data, priors) if supported(priors, data) else None
    try:
        if density is not None:
            trace, diagnostics = sample(density, data, priors, draws=settings.draws, tune=settings.tune,
                                        chains=settings.chains, seed=settings.seed, progress=progress,
                                        target_accept=settings.target_accept, cores=settings.cores, reading_groups=groups)
        else:
            from forecast.inference.pymc_sampler import sample as sample_with_pymc
            from forecast.model.graph import build_fit_model

            trace, diagnostics = sample_with_pymc(build_fit_model(data, priors), draws=settings.draws, tune=settings.tune,
                                                  chains=settings.chains, seed=settings.seed, progress=progress,
                                                  target_accept=settings.target_accept, cores=settings.cores)
    except _sampler_failures() as exc:
        # Priors can pass their checks and still leave the model without a finite density
        # somewhere the sampler goes; say so instead of a traceback. Nothing is written yet.
        raise ForecastError(f"the sampler could not fit the model with the priors in {priors.directory} "
                            f"({type(exc).__name__}: {_first_line(exc)}); priors far from the defaults (a tiny noise, a "
                            "huge scale or effect) are the usual cause: check them with 'forecast priors check' and "
                            "bring them nearer; nothing was written") from None
    with phase("forecast"):
        table = forecast_from_posterior(trace.posterior.to_dataset(), priors, settings.seed, data.occasions_ahead)
    return trace, diagnostics, table


def _sampler_failures() -> tuple[type[BaseException], ...]:
    """What the samplers raise when the model's density cannot be evaluated where they go."""
    from forecast.inference.chains import StartFailed

    failures: tuple[type[BaseException], ...] = (StartFailed, FloatingPointError, OverflowError, ZeroDivisionError)
    try:  # PyMC's, when it samples a model the compiled density does not cover
        from pymc.exceptions import SamplingError
        from pymc.sampling.parallel import ParallelSamplingError
    except ImportError:  # pragma: no cover - PyMC is a dependency
        return failures
    return (*failures, SamplingError, ParallelSamplingError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "no detail"


def retry_settings(settings: FitSettings) -> FitSettings:
    """The safer settings of the one retry: smaller steps, twice the tuning and the draws."""
    return dataclasses.replace(
        settings, target_accept=max(settings.target_accept, RETRY_TARGET_ACCEPT),
        tune=settings.tune * RETRY_DRAWS_FACTOR, draws=settings.draws * RETRY_DRAWS_FACTOR,
    )


def fit_checked(
    data: ModelData, priors: Priors, settings: FitSettings, *, progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[xr.DataTree, dict, pd.DataFrame, FitSettings]:
    """`fit_forecast`, retried once with `retry_settings` if the fit fails its diagnostics.

    Returns (trace, diagnostics as stored, forecast table, the settings of the fit returned).
    The diagnostics record the sampler's target acceptance and, after a retry, why and from
    which settings, so the run, the terminal and the brief can say so.
    """
    trace, diagnostics, table = fit_forecast(data, priors, settings, progress=progress)
    stored = {**diagnostics.to_dict(), "target_accept": settings.target_accept}
    if diagnostics.passed:
        return trace, stored, table, settings
    safer = retry_settings(settings)
    why = "; ".join(p.split(":")[0] for p in diagnostics.problems)
    log(f"retrying once with safer settings ({why}): target acceptance {safer.target_accept} instead of "
        f"{settings.target_accept}, {safer.tune} tuning and {safer.draws} draws a chain instead of {settings.tune} and {settings.draws}")
    trace, diagnostics, table = fit_forecast(data, priors, safer, progress=progress)
    stored = {**diagnostics.to_dict(), "target_accept": safer.target_accept,
              "retry": {"reason": why, "requested": {"draws": settings.draws, "tune": settings.tune,
                                                      "target_accept": settings.target_accept}}}
    return trace, stored, table, safer


def forecast_from_posterior(posterior: xr.Dataset, priors: Priors, seed: int,
                            occasions_ahead: np.ndarray | None = None) -> pd.DataFrame:
    """The forecast table of posterior draws, sampled or reweighted, with the scheduled occasions
    ahead. The forecast has its own stream, derived from the seed, so it is reproducible too."""
    from forecast.forecasting.incidence import forecast_table, simulate_forward
    from forecast.model.likelihood_on_draws import Draws

    forward = simulate_forward(Draws.from_dataset(posterior), priors.outcomes.forecast_weeks, np.random.default_rng([seed, 1]),
                               occasions_ahead)
    return forecast_table(forward.incidence, priors.outcomes.keys, forward.happens_by)
