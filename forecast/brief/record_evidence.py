"""What the record's backtest says about the obstacles, in words every brief can carry.

The forecast's claim is that the obstacles, read from events, say more about the next deal than
the deal rates alone. `benchmarks/record_skill.py --summary` writes what the leak-free backtest of
the coded record found (`forecast/data/record_skill.json`); the brief quotes its skill
against the obstacles-off model at each horizon and says plainly where the record does not show
that skill, so an analyst never reads the obstacles' pull on a chance as proven when it is not.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib.resources import files

from forecast.brief.layout import signed_skill
from forecast.conventions import BEATS, LOSES

SUMMARY = "record_skill.json"
SCORES = {"log": "log", "brier": "Brier"}


def load_record_evidence() -> dict | None:
    """The shipped summary, or None if this installation has none (the brief then says nothing)."""
    resource = files("forecast") / "data" / SUMMARY
    if not resource.is_file():
        return None
    return json.loads(resource.read_text(encoding="utf-8"))


def record_evidence_text(summary: dict) -> str:
    """One paragraph: the record, the skill against obstacles off at each horizon with its
    interval, and what the verdicts mean for reading this brief."""
    horizons = sorted(summary["horizons"].items(), key=lambda item: int(item[0]))
    first = min(h["first_origin"] for _, h in horizons)
    last = max(h["last_origin"] for _, h in horizons)
    parts, shown, unshown, worse = [], [], [], []
    for weeks, h in horizons:
        skill = h["skill"]["obstacles_off"]
        figures = ", ".join(f"{SCORES[score]} {_skill(skill[score])}" for score in SCORES)
        parts.append(f"at {weeks} weeks ({h['origins']} origins), {figures}")
        for score in SCORES:
            where = f"{weeks} weeks ({SCORES[score]} score)"
            verdict = skill[score]["verdict"]
            (shown if verdict == BEATS else worse if verdict == LOSES else unshown).append(where)
    text = (f"Does reading the obstacles beat the deal rates alone? Replayed leak-free on the coded record of the "
            f"negotiations ({_day(first)} to {_day(last)}, origins every {horizons[0][1]['every_weeks']} weeks, priors "
            f"written as of {dt.date.fromisoformat(summary['priors_written']):%B %Y}), the model's skill against the same "
            f"model with the obstacles switched off "
            f"(above 0 is better, 90 % interval in brackets) was: {'; '.join(parts)}. ")
    if worse:
        text += (f"There the obstacles made the forecast worse at {_listed(worse)}: weigh the deal rates alone "
                 "more than these chances. ")
    if shown and not unshown and not worse:
        text += "So on the record the obstacles and the readings added skill at every horizon, on both scores."
    elif shown:
        text += (f"So the record shows them adding skill at {_listed(shown)}, and does not show it at "
                 f"{_listed(unshown + worse)}: treat their pull on these chances as a judgement the record supports "
                 "only in part.")
    else:
        text += ("So the record does not show that the obstacles add skill: treat their pull on these chances as "
                 "unproven.")
    return text


def _skill(skill: dict) -> str:
    """As the brief's backtest table prints it, with a true minus sign for running text."""
    return signed_skill(skill).replace("-", "−")


def _day(iso: str) -> str:
    return f"{dt.date.fromisoformat(iso):%-d %b %Y}"


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
