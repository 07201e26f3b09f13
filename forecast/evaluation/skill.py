"""Skill against a baseline, with an interval from a moving-block bootstrap over origins.

Skill is 1 - S_model / S_baseline for a mean score S (Brier or log, both losses): 0 is no
better than the baseline, 1 is perfect, below 0 is worse than the baseline.

Why blocks: a backtest's origins are not independent. Each scores the H weeks after it, and
origins come every few weeks, so neighbouring windows overlap and share their outcome (one deal,
or one quiet spell, counts at several origins in a row). Resampling single origins would treat
those repeats as independent evidence and give intervals that are too narrow. The moving-block
bootstrap (Künsch 1989) resamples runs of `block` consecutive origins instead, with `block` the
number of origins one window spans, ceil(H / every), so each run keeps the overlap within it.
Model and baseline are resampled together (the same origins), so the interval is of the
difference they make on the same windows. The interval is the percentile interval of the
resampled skills, at the project's 5-95 %. With fewer than `MIN_BLOCKS` windows' worth of
origins there is too little to resample (one window's worth would give a zero-width interval),
and no interval is given.
"""

from __future__ import annotations

import math

import numpy as np

from forecast.conventions import BEATS, INTERVAL, LOSES, UNCLEAR

RESAMPLES = 2000
SEED = 20250221  # fixed, so a backtest's intervals are the same every time it is printed
MIN_BLOCKS = 3


def block_length(horizon: int, every_weeks: int) -> int:
    """Origins one window spans: ceil(horizon / every), at least 1."""
    return max(1, math.ceil(horizon / every_weeks))


def block_bootstrap_indices(n: int, block: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) indices into n ordered items: each row is ceil(n / block) runs of `block`
    consecutive items, each run starting anywhere it fits, cut to n."""
    block = min(max(block, 1), n)
    runs = math.ceil(n / block)
    starts = rng.integers(0, n - block + 1, size=(resamples, runs))
    return (starts[:, :, None] + np.arange(block)).reshape(resamples, -1)[:, :n]


def skill_interval(
    model: np.ndarray, baseline: np.ndarray, block: int, *, resamples: int = RESAMPLES, seed: int = SEED,
) -> dict[str, float | None]:
    """{"value", "lo", "hi"}: 1 - mean(model) / mean(baseline) over the origins, and its interval
    from the moving-block bootstrap (module docstring). `model` and `baseline` are the two
    forecasts' scores at the same origins, in origin order. The interval is None with fewer than
    MIN_BLOCKS * block origins; everything is None where the baseline's mean score is 0 (it was
    certain and right every time), so skill is undefined."""
    model, baseline = np.asarray(model, dtype=float), np.asarray(baseline, dtype=float)
    if model.shape != baseline.shape or model.ndim != 1 or model.size == 0:
        raise ValueError("model and baseline need one score per origin, the same origins")
    if baseline.mean() == 0:
        return {"value": None, "lo": None, "hi": None}
    value = float(1 - model.mean() / baseline.mean())
    if model.size < MIN_BLOCKS * block:
        return {"value": value, "lo": None, "hi": None}
    index = block_bootstrap_indices(model.size, block, resamples, np.random.default_rng(seed))
    with np.errstate(divide="ignore", invalid="ignore"):
        resampled = 1 - model[index].mean(axis=1) / baseline[index].mean(axis=1)
    lo, hi = np.quantile(resampled[np.isfinite(resampled)], INTERVAL)
    return {"value": value, "lo": float(lo), "hi": float(hi)}


def verdict(skill: dict[str, float | None]) -> str:
    """Whether the model beats the baseline: both ends of the interval above 0, "beats"; both
    below, "loses to"; otherwise, or without an interval, "no clear difference"."""
    lo, hi = skill["lo"], skill["hi"]
    if lo is None or hi is None:
        return UNCLEAR
    return BEATS if lo > 0 else LOSES if hi < 0 else UNCLEAR


def judged_skill(model: np.ndarray, baseline: np.ndarray, block: int) -> dict:
    """`skill_interval` with its `verdict`: one cell of a skill table (the backtest's, or one
    variant of the model against another)."""
    interval = skill_interval(model, baseline, block)
    return {**interval, "verdict": verdict(interval)}


def in_words(baseline: str, brier: dict[str, float | None], log: dict[str, float | None]) -> str:
    """One sentence for an analyst: how the model does against `baseline` (its name in a
    sentence) on the two scores."""
    b, lg = verdict(brier), verdict(log)
    if b == lg:
        return {BEATS: f"The model beats {baseline} on both scores.",
                LOSES: f"The model loses to {baseline} on both scores.",
                UNCLEAR: f"No clear difference between the model and {baseline} on either score."}[b]
    phrase = {BEATS: "the model beats it", LOSES: "the model loses to it", UNCLEAR: "no clear difference"}
    return f"Against {baseline}: {phrase[b]} on the Brier score, {phrase[lg]} on the log score."
