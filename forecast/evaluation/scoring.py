"""Proper scores for probabilistic forecasts of one categorical outcome, and reliability data.

Both scores are losses (lower is better):

* Brier score: sum over categories of (p_c - o_c)^2, from 0 (certain and right) to 2.
* Log score: -log p of the category that happened. A forecast that gave the outcome zero
  chance scores infinity, so probabilities are floored at 1e-6 (a 1-in-a-million chance).

Per outcome, each category is also scored as its own yes/no question (binary Brier and log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

FLOOR = 1e-6


def brier(p: Mapping[str, float], observed: str) -> float:
    return float(sum((q - (k == observed)) ** 2 for k, q in p.items()))


def log_score(p: Mapping[str, float], observed: str) -> float:
    return float(-np.log(max(p[observed], FLOOR)))


def binary_scores(p: float, happened: bool) -> tuple[float, float]:
    """(Brier, log) of a yes/no forecast."""
    q = min(max(p, FLOOR), 1 - FLOOR)
    return (q - happened) ** 2, float(-np.log(q if happened else 1 - q))


def summary(forecasts: Sequence[tuple[Mapping[str, float], str]], keys: Sequence[str]) -> dict:
    """Mean scores over (forecast, observed) pairs: overall and per outcome."""
    if not forecasts:
        return {"n": 0, "brier": None, "log": None, "per_outcome": {}}
    per = {}
    for k in keys:
        pairs = [binary_scores(p[k], observed == k) for p, observed in forecasts]
        per[k] = {"brier": float(np.mean([b for b, _ in pairs])), "log": float(np.mean([lg for _, lg in pairs]))}
    return {
        "n": len(forecasts),
        "brier": float(np.mean([brier(p, o) for p, o in forecasts])),
        "log": float(np.mean([log_score(p, o) for p, o in forecasts])),
        "per_outcome": per,
    }


def reliability(forecasts: Sequence[tuple[Mapping[str, float], str]], keys: Sequence[str], bins: int = 5) -> list[dict]:
    """Reliability-diagram data: per outcome and probability bin, the mean forecast, the observed
    frequency and the count. A calibrated forecaster's points lie on the diagonal."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for k in keys:
        p = np.array([f[k] for f, _ in forecasts])
        hit = np.array([o == k for _, o in forecasts], dtype=float)
        index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
        for b in range(bins):
            inside = index == b
            if inside.any():
                rows.append({"outcome": k, "bin_lo": float(edges[b]), "bin_hi": float(edges[b + 1]),
                             "mean_forecast": float(p[inside].mean()), "observed_rate": float(hit[inside].mean()),
                             "n": int(inside.sum())})
    return rows
