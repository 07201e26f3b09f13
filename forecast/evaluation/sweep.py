"""`forecast sweep`: backtest several priors side by side, paired origin by origin.

How much does an analyst's judgement matter? Give the sweep several priors folders (each
analyst's), or one folder and a grid over one of its parameters, and it backtests each on the
same ledger, origins and seeds, all on one cluster at once, then pairs every variant's forecasts
with the first's (the reference) origin by origin (`paired.py`): each variant's Brier and log
skill against the reference, with the backtest's block-bootstrap interval and its verdict.

A grid names one entry of the priors by its path in the files, the file first:
`outcomes.deals.local_ceasefire.baseline.mu=-2.5,-1.9,-1.3` sets the `mu` of that entry's
distribution to each value in turn (`...baseline.value=` sets a fixed entry). Each variant is
checked as `priors check` checks a folder, so a grid value the model cannot use is refused before
any fit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from forecast.errors import InputError
from forecast.evaluation.backtest import BacktestSettings, forecast_track, plan_backtests
from forecast.evaluation.engine import Engine
from forecast.evaluation.paired import paired_skill
from forecast.inference.fit import FitSettings
from forecast.io.events import Event
from forecast.io.priors import Priors, parse_priors

FILES = ("factors", "outcomes", "observation")


@dataclass(frozen=True)
class Variant:
    name: str
    priors: Priors


def grid_variants(priors: Priors, spec: str) -> list[Variant]:
    """One variant per value of `spec` (`file.key.key...=v1,v2,...`), the rest of `priors` as it is."""
    path, _, values = spec.partition("=")
    keys = [k for k in path.strip().split(".") if k]
    if not values or len(keys) < 3 or keys[0] not in FILES:
        raise InputError(f"--grid {spec!r}: expected FILE.KEY...KEY=V1,V2,... with FILE one of {', '.join(FILES)}, e.g. "
                         "outcomes.deals.local_ceasefire.baseline.mu=-2.5,-1.9")
    numbers = []
    for value in values.split(","):
        try:
            numbers.append(float(value))
        except ValueError:
            raise InputError(f"--grid {spec!r}: {value.strip()!r} is not a number") from None
    variants = []
    for number in numbers:
        content = copy.deepcopy(priors.content)
        entry = _entry(content[f"{keys[0]}.yaml"], keys[1:-1], spec)
        name = keys[-1]
        if name == "value":
            if "value" not in entry:
                raise InputError(f"--grid {spec!r}: that entry is a distribution, not a fixed value; name one of its kwargs")
            entry["value"] = number
        elif name in entry.get("kwargs", {}):
            entry["kwargs"][name] = number
        else:
            raise InputError(f"--grid {spec!r}: the entry has no parameter {name!r} "
                             f"(it has {', '.join(entry.get('kwargs', {'value': None}))})")
        entry["rationale"] = f"{entry.get('rationale', '')} [sweep: {'.'.join(keys)} = {number:g}]".strip()
        try:
            variants.append(Variant(f"{name}={number:g}", parse_priors(content, priors.directory)))
        except InputError as error:
            raise InputError(f"--grid {spec!r} at {number:g}: {error}") from None
    return variants


def _entry(document: Any, keys: Sequence[str], spec: str) -> dict:
    node = document
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(keys[:depth]) or "the file"
            choices = ", ".join(node) if isinstance(node, dict) else "nothing"
            raise InputError(f"--grid {spec!r}: no {key!r} under {where} (there: {choices})")
        node = node[key]
    if not isinstance(node, dict) or not ({"dist", "value"} & set(node)):
        raise InputError(f"--grid {spec!r}: {'.'.join(keys)} is not a prior entry (a distribution or a value)")
    return node


def run_sweep(events: Sequence[Event], variants: Sequence[Variant], settings: BacktestSettings, fit: FitSettings,
              horizons: Sequence[int], *, engine: Engine, log: Callable[[str], None] = lambda message: None) -> dict:
    """Every variant backtested on one cluster at once, then paired with the first."""
    if len(variants) < 2:
        raise InputError("a sweep needs at least two priors: give --priors more than once, or a --grid of two values or more")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise InputError(f"two variants share a name ({', '.join(names)}): name the folders apart")
    plans = [plan_backtests(events, v.priors, settings, fit, horizons, label=v.name) for v in variants]
    tasks = [task for plan in plans for task in plan.tasks]
    log(f"sweep: {len(variants)} priors x {len(plans[0].dates)} origins, {len(tasks)} tasks on {engine.workers} worker(s)")
    results = list(engine.map(forecast_track, tasks))
    backtests, start = {}, 0
    for variant, plan in zip(variants, plans):
        backtests[variant.name] = plan.assemble(results[start:start + len(plan.tasks)])
        start += len(plan.tasks)
    reference = variants[0].name
    out = {"reference": reference, "variants": {v.name: {"priors": str(v.priors.directory), "priors_hash": v.priors.hash}
                                                for v in variants},
           "horizons": {}}
    for horizon in sorted(set(horizons)):
        paired = {name: paired_skill(backtests[name][horizon], backtests[reference][horizon])
                  for name in names[1:]}
        out["horizons"][str(horizon)] = {"backtests": {name: backtests[name][horizon] for name in names}, "paired": paired}
    return out


def table_text(result: dict) -> str:
    """Each variant's scores and its skill against the reference, per horizon, as the terminal prints it."""
    reference = result["reference"]
    width = max(12, *(len(name) for name in result["variants"]))
    lines = [f"Sweep: {len(result['variants'])} priors, each against the first ({reference}), origin by origin.", ""]
    for horizon, at in result["horizons"].items():
        first = next(iter(at["backtests"].values()))
        lines.append(f"{horizon} weeks ahead, {len(first['origins'])} origins from {first['origins'][0]} "
                     f"every {first['every_weeks']} week(s):")
        lines.append(f"  {'Priors':<{width}} {'Brier':>7} {'Log':>7}   {'Brier skill vs ' + reference:<34} Log skill")
        for name, backtest in at["backtests"].items():
            scores = backtest["scores"]["model"]
            row = f"  {name:<{width}} {scores['brier']:7.3f} {scores['log']:7.3f}"
            if name in at["paired"]:
                skill = at["paired"][name]["skill"]
                row += f"   {_cell(skill['brier']):<34} {_cell(skill['log'])}"
            else:
                row += "   (the reference)"
            lines.append(row)
        flagged = sum(b["flagged_fits"] for b in at["backtests"].values())
        if flagged:
            lines.append(f"  warning: {flagged} fits failed their diagnostics")
        lines.append("")
    lines.append("Skill above 0: the variant's forecasts scored better than the reference's on the same origins; the "
                 "interval is 90 %, from runs of origins resampled together.")
    return "\n".join(lines)


def _cell(skill: dict) -> str:
    if skill["lo"] is None:
        return f"{skill['value']:+.3f} (no interval)"
    return f"{skill['value']:+.3f} ({skill['lo']:+.3f} to {skill['hi']:+.3f}), {skill['verdict']}"
