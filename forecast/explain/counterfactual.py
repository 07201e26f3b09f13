"""The forecast a run would give without the events that are new since the previous run.

Used when importance reweighting cannot be trusted for that question (Pareto k too high): the
model is refitted on the previous run's events, with this run's as-of date, priors and sampler
settings, so the only difference from this run is the new events. `update` runs it before the
run is published, so the answer is stored with the run and a brief never samples.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

from forecast.forecasting.incidence import headline
from forecast.inference.fit import FitSettings, fit_forecast
from forecast.io.events import Event
from forecast.io.priors import Priors
from forecast.model.dataset import build_dataset


@dataclass(frozen=True)
class Counterfactual:
    p: dict[str, float]  # outcome -> the headline chance without the new events
    passed: bool  # whether the refit passed its own diagnostics
    seconds: float


def forecast_without_new_events(events_before: Sequence[Event], priors: Priors, as_of: dt.date, settings: FitSettings,
                                horizon: int) -> Counterfactual:
    data = build_dataset(list(events_before), priors, as_of)
    started = time.perf_counter()
    _, diagnostics, table = fit_forecast(data, priors, settings)
    chances = {k: v["p"] for k, v in headline(table, horizon, priors.outcomes.labels).items()}
    return Counterfactual(chances, diagnostics.passed, round(time.perf_counter() - started, 1))
