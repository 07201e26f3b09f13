"""Signposts: what one strong reading on each obstacle would do to the headline.

Each hypothetical reading reweights the run's draws by its likelihood (`inference/importance.py`),
so the answer needs no refit; its Pareto k says when the reading is too surprising for the
current draws to answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES
from forecast.inference.importance import importance_weights
from forecast.model.likelihood_on_draws import Draws, Signals


def hypothetical_signal(draws: Draws, factor: int, value: float, grade: tuple[str, str]) -> Signals:
    """One signal on factor index `factor` in the last observed week, graded `grade`."""
    reliability, credibility = grade
    return Signals(np.array([factor]), np.array([draws.theta.shape[2] - 1]), np.array([value]),
                   np.array([RELIABILITY_GRADES.index(reliability)]), np.array([CREDIBILITY_GRADES.index(credibility)]))


def signposts(
    draws: Draws,
    incidence: np.ndarray,
    factor_keys: list[str],
    outcome_keys: list[str],
    horizon: int,
    *,
    strength: float = 2.0,
    grade: tuple[str, str] = ("B", "2"),
) -> pd.DataFrame:
    """What one strong signal (±strength, graded `grade`, in the as-of week) on each factor would do
    to each outcome's chance within `horizon`, ranked by the largest absolute change.

    `incidence` is the (draws, horizons, outcomes) array the current forecast was computed from, in
    the same draw order as `draws`.
    """
    now = incidence[:, horizon - 1, :].mean(axis=0)
    rows = []
    for k, factor in enumerate(factor_keys):
        for value in (strength, -strength):
            w = importance_weights(draws.signal_log_likelihood(hypothetical_signal(draws, k, value, grade)))
            after = w.mean(incidence[:, horizon - 1, :])
            for j, key in enumerate(outcome_keys):
                rows.append({
                    "factor": factor, "signal": value, "outcome": key, "p_now": float(now[j]),
                    "p_after": float(after[j]), "change": float(after[j] - now[j]),
                    "pareto_k": w.pareto_k, "reliable": w.reliable,
                })
    table = pd.DataFrame(rows)
    size = table.groupby(["factor", "signal"])["change"].transform(lambda c: c.abs().max())
    return (table.assign(size=size).sort_values(["size", "factor", "signal", "outcome"], ascending=[False, True, False, True])
            .drop(columns="size").reset_index(drop=True))
