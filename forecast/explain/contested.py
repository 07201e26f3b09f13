"""The headline both ways when the log has contested deals (docs/CODING.md, section 5, rule 5).

A contested outcome is a deal whose status is disputed (a unilateral truce the other side neither
accepted nor rejected). The run counts it as a deal, as the coder did; this module says what the
headline would be if it were not one: every contested outcome's week then an observed "no deal",
and the weeks after it no longer a run of deals. The draws are reweighted by the likelihood of
the log without the contested deals over the log with them (Pareto-smoothed importance sampling,
as for what moved); when the weights cannot be trusted, the model is refitted on the log without
them. `update` computes it before it stores the run (`contested.json`), so a brief never samples.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.forecasting.incidence import cumulative_incidence, headline
from forecast.inference.fit import FitSettings, fit_forecast
from forecast.inference.importance import importance_weights
from forecast.io.events import Event
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData, active_events, build_dataset
from forecast.model.likelihood_on_draws import Draws

FILE = "contested.json"


@dataclass(frozen=True)
class Contested:
    events: list[str]  # the contested outcomes' ids
    p: dict[str, float]  # the headline with them counted as no deal
    method: str  # "reweighted" or "refitted"
    pareto_k: float | None
    passed: bool  # the refit's diagnostics (always True for reweighting)
    seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def contested_outcomes(events: Sequence[Event], as_of: object) -> list[Event]:
    return [e for e in active_events(events, as_of)[0] if e.kind == "outcome" and e.contested]


def without_contested(events: Sequence[Event], as_of: object) -> list[Event]:
    """The log with every contested outcome withdrawn (its week then a week without a deal)."""
    gone = {e.event_id for e in contested_outcomes(events, as_of)}
    return [e for e in events if e.event_id not in gone]


def headline_without_contested(posterior: xr.Dataset, priors: Priors, data: ModelData, events: Sequence[Event],
                               settings: FitSettings, seed: int) -> Contested | None:
    """The headline as if the contested outcomes were not deals; None when there are none."""
    contested = contested_outcomes(events, data.as_of)
    if not contested:
        return None
    started = time.perf_counter()
    other = build_dataset(without_contested(events, data.as_of), priors, data.as_of)
    draws = Draws.from_dataset(posterior.sel(factor=list(data.factors), deal=list(data.deals)))
    horizon = priors.outcomes.horizon_weeks
    log_ratio = draws.change_log_likelihood([], [], data.factors, data.weeks[0],
                                            outcomes_a=(data.outcome_counts, data.occasion_counts),
                                            outcomes_b=(other.outcome_counts, other.occasion_counts))
    weights = importance_weights(log_ratio)
    ids = [e.event_id for e in contested]
    if weights.reliable:
        # The weeks ahead as the log without them has them (a run of deals may end sooner).
        incidence = cumulative_incidence(draws, horizon, np.random.default_rng([seed, 1]), other.occasions_ahead)[:, horizon - 1, :]
        p = dict(zip(priors.outcomes.keys, (float(v) for v in weights.mean(incidence))))
        return Contested(ids, p, "reweighted", round(weights.pareto_k, 3), True, round(time.perf_counter() - started, 1))
    _, diagnostics, table = fit_forecast(other, priors, settings)
    p = {k: v["p"] for k, v in headline(table, horizon, priors.outcomes.labels).items()}
    return Contested(ids, p, "refitted", round(weights.pareto_k, 3), diagnostics.passed, round(time.perf_counter() - started, 1))


def write_contested(path: Path, result: Contested) -> None:
    path.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")


def read_contested(path: Path) -> Contested | None:
    if not path.is_file():
        return None
    return Contested(**json.loads(path.read_text(encoding="utf-8")))
