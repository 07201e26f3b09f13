"""Skill on the real record: the leak-free backtest behind the skill tables (docs/SKILL.md).

Three records: `--record joint` (the default), the negotiations from April 2014 to mid-2026 in one log
(`examples/history-2014-2026.csv`, which crosses the full-scale invasion without a break row) with the priors
written as of 7 April 2014 (`priors-2014/`); `--record 2022`, the war's record from 24 February 2022
(`examples/history-2022-2026.csv`) with the priors written as of 21 February 2022 (`priors-2022/`);
`--record two-coders`, the same war as two coders' log (`examples/history-2022-2026-two-coders.csv`:
the record as coder A, an independent coding of 2025-26 as coder B), with `priors-2022/`.
Origins every 4 weeks from four weeks after the first week, horizons 4 and 12 weeks from one fit
per origin (`run_backtests`), every fit a task of one cluster (`--jobs N` local workers, default
one per core, or `--cluster tcp://HOST:8786`). `--without` (repeatable) drops one part of the
model to measure what it earns:

  occasions   no scheduled occasions (their rows and their effects)
  runs        no runs of deals (the occasion types that are the weeks after a deal)
  general_ceasefire
              no general ceasefire: the deal type, its effects in every occasion and its runs
              (measures what forecasting one costs on a record without one; compare with
              `paired_skill.py`, which scores the missing path as a chance of 0)
  jumps       Gaussian steps: the priors' `jumps` blocks removed
  effects     every obstacle's effect on the deals fixed at 0, the baselines recentred as the
              backtest's obstacles-off baseline has them (the model without its obstacles)
  house       the coders' house effects: every reading read as one coder's (the coder column
              emptied), as a team that pools codings without them would fit it

`--with` adds a part that was tried and not kept, to measure it the same way:

  jumps       Student-t steps in the obstacles' walk: the `jumps` blocks that `priors-2022/
              factors.yaml` carries commented out, switched on as written
  break       a `break` row at each of the record's turning points (the joint record: the
              full-scale invasion of 24 February 2022), so the model crosses it by the priors'
              break_step and break_shift instead of its walk alone (docs/MODEL.md, "Breaks")
  drift       a baseline that drifts: one more factor that no event reads, a random walk from 0
              (volatility LogNormal(-1.9, 0.6), a median of 0.15 a week) that lowers every deal
              type's log-odds by 0.5 a point, so the deals' common rate wanders with what the
              outcomes say. (Its obstacles-off baseline drops it too: compare the model with the
              shipped run, origin by origin.)
  in_force    a deal in force: an occasion type in every week strictly between the week a deal's
              term was set and the week it expires, read from the record's `deal_expiry` rows
              (their `reported` date is the day the term was agreed, so each week is known from
              then), with its own effect on each deal type

`--priors DIR` replaces the record's priors (learned priors, say: `forecast priors learn`).

The shipped table is the run without `--without` or `--with`; each part's own skill is that
table's forecasts scored against those of a run without it (or with it), origin by origin.

Prints each horizon's table (scores, skill against every baseline with 90 % intervals, flagged
fits) and, with `--out`, writes the results as JSON. `--summary FILE` writes the part every brief
quotes (`forecast/data/record_skill.json`, read by `brief/record_evidence.py`): each horizon's
scores, skill and verdicts, with the priors' hash and the code version; `--results FILE` writes
it from an earlier run's `--out` instead of running the backtest again.

    .venv/bin/python benchmarks/record_skill.py [--record joint|2022|two-coders] [--without PART ...] [--with drift|in_force|jumps|break]
        [--priors DIR] [--from YYYY-MM-DD] [--draws 1000] [--jobs N] [--cluster ADDRESS] [--out FILE]
        [--summary forecast/data/record_skill.json] [--results FILE] [--model-only]

`--model-only` fits the model alone, at the same origins from the same seeds, and saves only its
forecasts: a variant judged with `paired_skill.py` needs nothing else, and skipping the
obstacles-off fits saves their share of the cost (a quarter to a third on the joint record).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", choices=tuple(RECORDS), default="joint")
    parser.add_argument("--without", action="append", default=[],
                        choices=("occasions", "runs", GENERAL, "jumps", "effects", "house"))
    parser.add_argument("--with", dest="adding", choices=("drift", "in_force", "jumps", "break"))
    parser.add_argument("--priors", type=Path, help="other priors for the record (default: the record's own)")
    parser.add_argument("--from", dest="start", help="first origin, YYYY-MM-DD (default: four weeks into the log)")
    parser.add_argument("--horizons", default="4,12")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--draws", type=int, default=None, help="draws and tuning steps per chain (default: the fit's)")
    parser.add_argument("--jobs", type=int, default=None, help="local workers (default: one per core)")
    parser.add_argument("--cluster", default=None, help="a dask scheduler's address (default: $FORECAST_CLUSTER, else local)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--summary", type=Path, help="write the summary the briefs quote")
    parser.add_argument("--results", type=Path, help="summarise this earlier --out instead of running the backtest")
    parser.add_argument("--model-only", action="store_true",
                        help="fit the model alone (no baselines, no table): a variant for paired_skill.py, at less cost")
    args = parser.parse_args()

    from forecast.evaluation.backtest import BacktestSettings, run_backtests, table_text
    from forecast.inference.fit import FitSettings
    from forecast.io.events import read_events
    from forecast.io.priors import load_priors, parse_priors

    log, priors_folder = RECORDS[args.record]
    priors = load_priors(args.priors or ROOT / priors_folder)
    events = read_events(ROOT / "examples" / log, priors).events
    content = copy.deepcopy(priors.content)
    occasions = content["outcomes.yaml"].get("occasions") or {}
    if "occasions" in args.without:
        content["outcomes.yaml"]["occasions"] = {k: o for k, o in occasions.items() if "follows" in o}
        events = [e for e in events if e.kind != "scheduled"]
    if "runs" in args.without:
        content["outcomes.yaml"]["occasions"] = {k: o for k, o in occasions.items() if "follows" not in o}
    if GENERAL in args.without:
        drop_deal(content, GENERAL)
        if any(e.kind == "outcome" and e.outcome == GENERAL for e in events):
            raise SystemExit(f"the record logs a {GENERAL}: a model without it cannot score that window")
    if "jumps" in args.without:
        for factor in content["factors.yaml"]["factors"].values():
            factor.pop("jumps", None)
    if "house" in args.without:
        events = [dataclasses.replace(e, coder="") for e in events]
    if "effects" in args.without:
        from forecast.evaluation.backtest import without_effects

        content = copy.deepcopy(without_effects(parse_priors(content, priors.directory)).content)
    if args.adding == "drift":
        add_drift(content)
    elif args.adding == "jumps":
        add_jumps(content, priors.directory / "factors.yaml")
    elif args.adding == "in_force":
        add_in_force(content)
        events = [*events, *in_force_rows(events)]
    elif args.adding == "break":
        events = sorted([*events, *break_rows(args.record)], key=lambda e: e.date)
    priors = parse_priors(content, priors.directory)
    if args.results:
        if not args.summary:
            parser.error("--results needs --summary")
        results = json.loads(args.results.read_text(encoding="utf-8"))
        args.summary.write_text(json.dumps(summary(results, priors, args), indent=1) + "\n", encoding="utf-8")
        return 0
    fit = FitSettings() if args.draws is None else FitSettings(draws=args.draws, tune=args.draws)
    horizons = [int(h) for h in args.horizons.split(",")]
    started = time.perf_counter()
    from forecast.evaluation.engine import default_jobs

    start = dt.date.fromisoformat(args.start) if args.start else None
    settings = BacktestSettings(start=start, every_weeks=args.every, jobs=args.jobs or default_jobs(), cluster=args.cluster)
    if args.model_only:
        if args.summary:
            parser.error("--model-only writes no table to summarise")
        saved = model_forecasts(events, priors, settings, fit, horizons)
        print(f"\nthe model's forecasts alone, {time.perf_counter() - started:.0f} s; "
              + ", ".join(f"{h} weeks: {len(r['origins'])} origins, {r['flagged_fits']} flagged" for h, r in saved.items()))
        if args.out:
            args.out.write_text(json.dumps(saved, indent=1))
        return 0
    results = run_backtests(events, priors, settings, fit, horizons, log=lambda message: print(message, flush=True))
    seconds = time.perf_counter() - started
    change = f"with {args.adding}" if args.adding else f"without {', '.join(args.without) or 'nothing'}"
    print(f"\n{log} with {args.priors or priors_folder}, {change}; {fit.draws} draws and {fit.tune} tuning steps "
          f"per chain; {seconds:.0f} s\n")
    for result in results.values():
        print(table_text(result), "\n")
    saved = json.loads(json.dumps({str(h): r for h, r in results.items()}, default=str))
    if args.out:
        args.out.write_text(json.dumps(saved, indent=1))
    if args.summary:
        args.summary.write_text(json.dumps(summary(saved, priors, args), indent=1) + "\n", encoding="utf-8")
    return 0


def summary(results: dict, priors, args: argparse.Namespace) -> dict:
    """What a brief quotes of the record's backtest (brief/record_evidence.py reads it): with,
    when the record has turning points, each era's skill against obstacles off (the origins
    between two of them)."""
    from forecast.evaluation.paired import skill_by_era
    from forecast.io.version import code_version

    if args.without or args.adding or args.priors or args.start:
        raise SystemExit("the briefs quote the shipped model: no summary of a run --without or --with a part, other priors "
                         "or other origins")
    log, priors_folder = RECORDS[args.record]
    turning = TURNING_POINTS.get(args.record, {})
    horizons = {}
    for h, r in results.items():
        if r["priors_hash"] != priors.hash:
            raise SystemExit(f"{args.results}: run with priors {r['priors_hash'][:12]}, not {priors_folder}'s {priors.hash[:12]}")
        observed = [f["observed"] for f in r["forecasts"] if f["method"] == "model"]
        horizons[h] = {
            "origins": len(r["origins"]), "first_origin": r["origins"][0], "last_origin": r["origins"][-1],
            "every_weeks": r["every_weeks"], "known_to": r["known_to"],
            "came_first": {k: observed.count(k) for k in r["outcomes"]},
            "scores": {m: {"brier": s["brier"], "log": s["log"]} for m, s in r["scores"].items()},
            "skill": r["skill"], "skill_in_words": r["skill_in_words"], "flagged_fits": r["flagged_fits"],
            "fit": r["fit"], "eras": skill_by_era(r, [dt.date.fromisoformat(day) for day in turning]),
        }
    return {
        "log": f"examples/{log}", "priors": priors_folder, "priors_hash": priors.hash,
        "priors_written": str(priors.content["outcomes.yaml"]["start"]["value"]),  # they are written as of their start
        "code_version": code_version(),
        "command": f"benchmarks/record_skill.py --record {args.record} --summary forecast/data/record_skill.json",
        "turning_points": [{"date": day, "what": what} for day, what in sorted(turning.items())],
        "horizons": horizons,
    }


def model_forecasts(events: list, priors, settings, fit, horizons: list[int]) -> dict:
    """The model's forecasts alone at the backtest's origins, as `run_backtests` makes and saves
    them but without the obstacles-off fits or any baseline: all that `paired_skill.py` reads to
    judge a variant against the shipped run, for the model's share of the backtest's cost."""
    from forecast.evaluation.backtest import forecast_track, observed_path, origins, plan_backtests
    from forecast.evaluation.engine import Engine

    plan = plan_backtests(events, priors, settings, fit, horizons)
    tasks = [task for task in plan.tasks if task.forecaster == "model"]
    with Engine(jobs=settings.jobs, cluster=settings.cluster, log=lambda message: print(message, flush=True)) as engine:
        found = [f for track in engine.map(forecast_track, tasks) for f in track]
    out = {}
    for horizon in plan.horizons:
        dates, _ = origins(plan.events, priors, settings, horizon)
        forecasts = [{**f, "origin": d.isoformat(), "method": "model", "p": f["p"][horizon],
                      "observed": observed_path(plan.events, plan.known, d, horizon, priors.outcomes.keys)}
                     for d, f in zip(dates, found)]
        out[str(horizon)] = {"origins": [d.isoformat() for d in dates], "horizon_weeks": horizon,
                             "every_weeks": settings.every_weeks, "known_to": plan.known.isoformat(),
                             "priors_hash": priors.hash, "forecasts": forecasts,
                             "flagged_fits": sum(1 for f in forecasts if f.get("diagnostics_passed") is False),
                             "fit": {"draws": fit.draws, "tune": fit.tune, "chains": fit.chains, "seed": fit.seed}}
    return json.loads(json.dumps(out, default=str))


GENERAL = "general_ceasefire"
RECORDS = {"joint": ("history-2014-2026.csv", "priors-2014"), "2022": ("history-2022-2026.csv", "priors-2022"),
           "two-coders": ("history-2022-2026-two-coders.csv", "priors-2022")}
# Where a record's history turned, for its summary's eras: the model's skill is quoted before and
# after each, since a forecast made today is made in the last era. A fact of the history, not of
# the model: the model may cross it by a logged break or by its walk alone (docs/MODEL.md).
TURNING_POINTS = {"joint": {"2022-02-24": "the full-scale invasion"}}
# The `--with break` variant's row at each turning point, as an analyst would log it.
BREAK_ROWS = {"2022-02-24": {
    "actor": "Putin; Russian armed forces",
    "description": "Russia launches the full-scale invasion of Ukraine from the north, east and south. Coding: a change of war "
                   "(docs/CODING.md): the negotiation's obstacles and the rates of its deals are no longer those of the Donbas "
                   "war, so a break.",
    "source": "The Hindu (PTI) 2022-02-24; https://www.thehindu.com/news/international/special-military-operation-aimed-at-"
              "demilitarisation-and-denazification-of-ukraine-putins-televised-address/article65080000.ece"}}


def break_rows(record: str) -> list:
    """The `--with break` variant's rows: a break, graded A1 and known on its day, at each of the
    record's turning points."""
    from forecast.io.events import Event

    rows = []
    for day in TURNING_POINTS.get(record, {}):
        date = dt.date.fromisoformat(day)
        rows.append(Event(event_id=f"brk-{day}", kind="break", date=date, reported=date, factor=None, signal=None,
                          outcome=None, retracts=None, source_reliability="A", info_credibility="1", **BREAK_ROWS[day]))
    if not rows:
        raise SystemExit(f"the {record} record has no turning point to log a break at")
    return rows


def drop_deal(content: dict, deal: str) -> None:
    """The priors without one deal type: its entry, its effect in every occasion, and the
    occasion types that are the weeks after it."""
    outcomes = content["outcomes.yaml"]
    del outcomes["deals"][deal]
    occasions = {}
    for key, occasion in (outcomes.get("occasions") or {}).items():
        if occasion.get("follows", {}).get("deal") == deal:
            continue
        occasion["effects"].pop(deal, None)
        occasions[key] = occasion
    outcomes["occasions"] = occasions


DRIFT = "common_rate_drift"
DRIFT_SOURCE = ("The Trilateral Contact Group's truces of 2017-2020 (Sputnik, 21 Jun 2017; Interfax-Ukraine, Aug 2018; "
                "UNIAN, 22 Jul 2020; as cited in outcomes.yaml), and none after July 2020; analyst's judgement.")


def add_drift(content: dict) -> None:
    """The `--with drift` variant, as an analyst could have written it on 21 February 2022: a
    factor read by no event, whose walk moves every deal type's log-odds together."""
    content["factors.yaml"]["factors"][DRIFT] = {
        "label": "Common drift of the deal rates",
        "initial": {"value": 0.0, "rationale": "The deal rates start where the baselines and obstacles put them.",
                    "source": "The variant's definition."},
        "volatility": {
            "dist": "LogNormal", "kwargs": {"mu": -1.9, "sigma": 0.6},
            "rationale": "The contact group's deals came and went with its activity, in clusters (2017-2018, 2019-2020) "
                         "and then none after July 2020, more than the obstacles alone would move them: a median step "
                         "of 0.15 a week, about 0.5 in log-odds over a year at the effect of 0.5.",
            "source": DRIFT_SOURCE},
    }
    for deal in content["outcomes.yaml"]["deals"].values():
        deal["effects"][DRIFT] = {"value": -0.5, "rationale": "Fixes the drift's scale: a point lowers every deal's "
                                  "log-odds by 0.5.", "source": "The variant's definition."}


def add_jumps(content: dict, factors_file: Path) -> None:
    """The `--with jumps` variant: each factor's `jumps` block as the priors' file carries it
    commented out (with its rationale and source), uncommented."""
    import re

    import yaml

    text = re.sub(r"^(\s*)# (jumps:|  )", r"\1\2", factors_file.read_text(encoding="utf-8"), flags=re.MULTILINE)
    for key, factor in yaml.safe_load(text)["factors"].items():
        if "jumps" not in factor:
            raise SystemExit(f"{factors_file}: no commented-out 'jumps' block for {key}")
        content["factors.yaml"]["factors"][key]["jumps"] = factor["jumps"]


IN_FORCE = "deal_in_force"
EXPIRY = "deal_expiry"


def in_force_rows(events: list) -> list:
    """The `--with in_force` variant's scheduled rows: one in each week strictly between the week
    of a `deal_expiry` row's `reported` date (the term was set that week, by the deal or its
    renewal, whose own week the outcome row covers) and the week of its expiry (which the expiry
    row covers), known from the day the term was set."""
    import dataclasses
    import datetime as dt

    from forecast.model.dataset import monday

    rows, seen = [], set()
    for e in events:
        if e.kind != "scheduled" or e.occasion != EXPIRY:
            continue
        week = monday(e.reported) + dt.timedelta(weeks=1)
        while week < monday(e.date):
            if week not in seen:
                seen.add(week)
                rows.append(dataclasses.replace(e, event_id=f"{e.event_id}-in-force-{week.isoformat()}", date=week,
                                                occasion=IN_FORCE, description=f"In force until {e.date}: {e.description}"))
            week += dt.timedelta(weeks=1)
    return rows


def add_in_force(content: dict) -> None:
    """The `--with in_force` occasion type, with effects an analyst could have written on 21
    February 2022."""
    agnostic = {"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 0.5}, "source": "Analyst's judgement.",
                "rationale": "An arrangement that works could open a channel for this kind of deal or take the "
                             "pressure off it; no direction known."}
    effects = {deal: dict(agnostic) for deal in content["outcomes.yaml"]["deals"]}
    effects["energy_food_deal"] = {
        "dist": "Normal", "kwargs": {"mu": -0.5, "sigma": 0.7},
        "rationale": "While an energy arrangement runs, its parties renew it at its deadline (deal_expiry) rather "
                     "than strike another: the gas transit contract of 31 December 2019 was followed by no new "
                     "Russia-Ukraine gas deal in 2020-2021. About 0.6 times the weekly chance, from a quarter to "
                     "twice it.",
        "source": "ICIS, 31 Dec 2019, https://www.icis.com/explore/resources/news/2019/12/31/10456279/"
                  "ukraine-russia-sign-5-year-gas-transit-agreement/; analyst's judgement."}
    content["outcomes.yaml"]["occasions"][IN_FORCE] = {"label": "A deal in force", "effects": effects}


if __name__ == "__main__":
    sys.exit(main())
