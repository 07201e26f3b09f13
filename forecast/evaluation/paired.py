"""Two backtests of the same record, one variant of the model against another, origin by origin.

This is how a part of the model is judged (docs/SKILL.md's "What each part of the model earned"):
the backtest of the model with the part, scored against the backtest of the model without it,
on the origins both hold. The skill is 1 - S_first / S_second for the mean Brier and log scores
over those origins, with the interval of the backtest's own skill table (`skill.py`: a
moving-block bootstrap over origins, both variants resampled together).

A path one variant does not forecast (a deal type dropped from its priors) counts as a chance of
0 for it: that is what the variant says, and were such a deal to come first its log score would be
the floor's. Both backtests must say the same path came first at every shared origin; otherwise
they read different records, and pairing them would compare nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np

from forecast.evaluation.scoring import brier, log_score
from forecast.evaluation.skill import block_length, judged_skill


def paired_skill(first: Mapping, second: Mapping, method: str = "model", *, against: str | None = None,
                 start: dt.date | None = None, until: dt.date | None = None) -> dict:
    """{"origins", "scores": {"first", "second"}: {"brier", "log"}, "skill": {"brier", "log"}}
    for two backtest results at one horizon (`run_backtests`' values, or the JSON it is saved
    as): `method`'s forecasts of the first against `against`'s (default: the same method) of the
    second, on their shared origins from `start` to `until` (inclusive; default: all). With the
    same backtest twice and `against="obstacles_off"`, that is the model's own skill table
    restricted to a span of origins (an era of the record, say)."""
    if first["horizon_weeks"] != second["horizon_weeks"]:
        raise ValueError(f"horizons differ: {first['horizon_weeks']} and {second['horizon_weeks']} weeks")
    against = against or method
    ours = {f["origin"]: f for f in first["forecasts"] if f["method"] == method}
    theirs = {f["origin"]: f for f in second["forecasts"] if f["method"] == against}
    shared = sorted(o for o in set(ours) & set(theirs) if _within(o, start, until))
    if not shared:
        raise ValueError(f"the two backtests share no origin{_span(start, until)} with forecasts by {method!r} "
                         f"and {against!r}")
    paths = sorted({k for f in (*ours.values(), *theirs.values()) for k in f["p"]})
    scores = {side: {"brier": [], "log": []} for side in ("first", "second")}
    for origin in shared:
        observed = ours[origin]["observed"]
        if theirs[origin]["observed"] != observed:
            raise ValueError(f"{origin}: the backtests disagree on what came first ({observed} and "
                             f"{theirs[origin]['observed']}), so they read different records")
        for side, forecast in (("first", ours[origin]), ("second", theirs[origin])):
            p = {k: forecast["p"].get(k, 0.0) for k in paths}
            scores[side]["brier"].append(brier(p, observed))
            scores[side]["log"].append(log_score(p, observed))
    block = block_length(first["horizon_weeks"], first["every_weeks"])
    return {
        "origins": len(shared),
        "scores": {side: {s: float(np.mean(v)) for s, v in by.items()} for side, by in scores.items()},
        "skill": {s: judged_skill(np.array(scores["first"][s]), np.array(scores["second"][s]), block) for s in ("brier", "log")},
    }


def skill_by_era(result: Mapping, turning_points: Sequence[dt.date]) -> list[dict]:
    """A backtest's model against its own obstacles-off forecasts on the origins of each era that
    dated turning points of its record divide it into (none without one; an era without an origin
    is left out): [{"from": the turning point that opened it, or None for the first,
    "first_origin", "last_origin", "origins", "skill": {"brier", "log"}}]. The origins of an era are
    those from its turning point's day to the day before the next one."""
    if not turning_points:
        return []
    out, starts = [], [None, *sorted(turning_points)]
    for opened, closes in zip(starts, [*starts[1:], None]):
        until = None if closes is None else closes - dt.timedelta(days=1)
        held = [o for o in result["origins"] if _within(o, opened, until)]
        if not held:
            continue
        paired = paired_skill(result, result, "model", against="obstacles_off", start=opened, until=until)
        out.append({"from": None if opened is None else str(opened), "first_origin": held[0], "last_origin": held[-1],
                    "origins": paired["origins"], "skill": paired["skill"]})
    return out


def _within(origin: str, start: dt.date | None, until: dt.date | None) -> bool:
    """Whether an origin (ISO date) lies from `start` to `until`, both inclusive and optional."""
    return (start is None or str(start) <= origin) and (until is None or origin <= str(until))


def _span(start: dt.date | None, until: dt.date | None) -> str:
    if start is None and until is None:
        return ""
    return f" from {start or 'the first'} to {until or 'the last'}"
