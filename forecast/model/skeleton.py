"""Skeleton datasets: the shape of a log without its values.

Simulation (`evaluation/simulate.py`) fills one from the model's prior predictive, and the
prior predictive (`forecasting/prior_predictive.py`) uses an empty one, so that both draw from
exactly the model that `update` fits.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData, monday


def skeleton_dataset(priors: Priors, *, n_signals: int, n_weeks: int, rng: np.random.Generator, start: dt.date | None = None) -> ModelData:
    """A dataset of the requested size whose values are placeholders: which factor each signal
    reads, its week and grades are drawn here; the values come from the model."""
    start = monday(start or priors.outcomes.start)
    weeks = tuple(start + dt.timedelta(weeks=i) for i in range(n_weeks))
    deals = tuple(priors.outcomes.deals)
    return ModelData(
        factors=tuple(priors.factors),
        deals=deals,
        weeks=weeks,
        as_of=weeks[-1] + dt.timedelta(days=6),
        signal_factor=rng.integers(0, len(priors.factors), n_signals),
        signal_week=np.sort(rng.integers(0, n_weeks, n_signals)),
        signal_value=np.zeros(n_signals),
        signal_reliability=rng.integers(0, len(RELIABILITY_GRADES), n_signals),
        signal_credibility=rng.integers(0, len(CREDIBILITY_GRADES), n_signals),
        outcome_counts=np.tile(np.eye(1 + len(deals), dtype=np.int64)[0], (n_weeks, 1)),
        outcomes_observed=True,
        data_hash="",
        counts={},
    )
