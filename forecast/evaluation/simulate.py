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

import numpy as np
import pandas as pd
import pymc as pm

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES
from forecast.io.events import SIGNAL_RANGE
from forecast.io.priors import Priors
from forecast.model.design import design
from forecast.model.graph import build_model


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
    rng = np.random.default_rng(seed)
    skeleton = design(priors, n_signals=n_signals, n_weeks=n_weeks, rng=rng, start=start)
    weeks, factors, deals = skeleton.weeks, skeleton.factors, skeleton.deals
    model = build_model(skeleton, priors)
    if fixed:
        model = pm.do(model, {name: np.asarray(value, dtype=float) for name, value in fixed.items()})
    draw = pm.sample_prior_predictive(draws=1, model=model, random_seed=rng)
    prior = draw.prior.to_dataset().isel(chain=0, draw=0)
    predictive = draw.prior_predictive.to_dataset().isel(chain=0, draw=0)

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
    counts = predictive["outcome_counts"].values
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
