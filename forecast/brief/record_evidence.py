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
from collections.abc import Callable
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
    parts, (shown, unshown, worse) = _figures(horizons, lambda h: h["skill"]["obstacles_off"]), _verdicts(
        horizons, lambda h: h["skill"]["obstacles_off"])
    flagged = max(h.get("flagged_fits", 0) for _, h in horizons)
    text = (f"Does reading the obstacles beat the deal rates alone? Replayed leak-free on the coded record of the "
            f"negotiations ({_day(first)} to {_day(last)}, origins every {horizons[0][1]['every_weeks']} weeks, priors "
            f"written as of {dt.date.fromisoformat(summary['priors_written']):%B %Y}), the model's skill against the same "
            f"model with the obstacles switched off "
            f"(above 0 is better, 90 % interval in brackets) was: {'; '.join(parts)}"
            f"{f' ({flagged} of its fits failed their diagnostics)' if flagged else ''}. ")
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
    return text + _eras_text(horizons, summary.get("turning_points") or [])


def _eras_text(horizons: list[tuple[str, dict]], turning_points: list[dict]) -> str:
    """The same skill in each era the record's turning points divide it into, each with what it
    shows (empty for a record without one). The last era is the one a forecast made today is in."""
    eras = list(zip(*(h.get("eras") or [] for _, h in horizons), strict=True))
    if len(eras) < 2:
        return ""
    what = {point["date"]: point["what"] for point in turning_points}
    opened = [f"{what.get(era[0]['from'], 'the turning point')} of {_day(era[0]['from'])}" for era in eras[1:]]
    sentences = []
    for i, era in enumerate(eras):
        if len(opened) == 1:
            where = "Before it" if i == 0 else "Since it"
        else:
            where = "Before the first" if i == 0 else f"From {opened[i - 1]}"
        by_horizon = [(weeks, e) for (weeks, _), e in zip(horizons, era, strict=True)]
        figures = _figures(by_horizon, lambda e: e["skill"])
        sentences.append(f"{where}, {'; '.join(figures)}: {_era_verdict(*_verdicts(by_horizon, lambda e: e['skill']))}.")
    opening = f"Split at {opened[0]}" if len(opened) == 1 else f"Split at the record's turning points ({_listed(opened)})"
    return f" {opening}. {' '.join(sentences)}"


def _era_verdict(shown: list[str], unshown: list[str], worse: list[str]) -> str:
    every = len(shown) + len(unshown) + len(worse)
    if len(worse) == every:
        return "the obstacles made the forecast worse at every horizon, on both scores"
    if len(shown) == every:
        return "the obstacles added skill at every horizon, on both scores"
    parts = ([f"the obstacles added skill at {_listed(shown)}"] if shown else []) + \
        ([f"made it worse at {_listed(worse)}"] if worse else [])
    return ", and ".join(parts) if parts else "no clear difference at any horizon, on either score"


def _figures(horizons: list[tuple[str, dict]], skill_of: Callable[[dict], dict]) -> list[str]:
    """"at 4 weeks (55 origins), log +0.06 (+0.00 to +0.13), Brier ..." for each horizon."""
    return [f"at {weeks} weeks ({h['origins']} origins), "
            + ", ".join(f"{SCORES[score]} {skill_text(skill_of(h)[score])}" for score in SCORES) for weeks, h in horizons]


def _verdicts(horizons: list[tuple[str, dict]], skill_of: Callable[[dict], dict]) -> tuple[list[str], list[str], list[str]]:
    """Where the obstacles beat obstacles off, where it is unclear, where they lose: "4 weeks (log score)"."""
    shown, unshown, worse = [], [], []
    for weeks, h in horizons:
        for score in SCORES:
            verdict = skill_of(h)[score]["verdict"]
            (shown if verdict == BEATS else worse if verdict == LOSES else unshown).append(f"{weeks} weeks ({SCORES[score]} score)")
    return shown, unshown, worse


def skill_text(skill: dict) -> str:
    """As the brief's backtest table prints it, with a true minus sign for running text (and for
    the docs' tables, benchmarks/skill_table.py)."""
    return signed_skill(skill).replace("-", "−")


def _day(iso: str) -> str:
    return f"{dt.date.fromisoformat(iso):%-d %b %Y}"


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
