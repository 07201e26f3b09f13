"""Skill on the real record: the leak-free backtest behind the README's table.

The coded record `examples/history-2022-2026.csv` with the priors written as of 21 February 2022
(`priors-2022/`), origins every 4 weeks from four weeks after the first week, horizons 4 and 12
weeks from one fit per origin (`run_backtests`). `--without` drops one part of the model to
measure what it earns (the README's "keep only what earns skill"):

  occasions   no scheduled occasions (their rows and their effects)
  runs        no runs of deals (the occasion types that are the weeks after a deal)
  jumps       Gaussian steps in the obstacles' walk where the priors give Student-t ones

The README's table is the run without `--without`; each part's own skill is that table's
forecasts scored against those of a run without it, origin by origin.

Prints each horizon's table (scores, skill against every baseline with 90 % intervals, flagged
fits) and, with `--out`, writes the results as JSON.

    .venv/bin/python benchmarks/record_skill.py [--without occasions|runs|jumps] [--draws 1000] [--jobs 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", choices=("occasions", "runs", "jumps"))
    parser.add_argument("--horizons", default="4,12")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--draws", type=int, default=None, help="draws and tuning steps per chain (default: the fit's)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from forecast.evaluation.backtest import BacktestSettings, run_backtests, table_text
    from forecast.inference.fit import FitSettings
    from forecast.io.events import read_events
    from forecast.io.priors import load_priors, parse_priors

    priors = load_priors(ROOT / "priors-2022")
    events = read_events(ROOT / "examples" / "history-2022-2026.csv", priors).events
    content = copy.deepcopy(priors.content)
    occasions = content["outcomes.yaml"].get("occasions") or {}
    if args.without == "occasions":
        content["outcomes.yaml"]["occasions"] = {k: o for k, o in occasions.items() if "follows" in o}
        events = [e for e in events if e.kind != "scheduled"]
    elif args.without == "runs":
        content["outcomes.yaml"]["occasions"] = {k: o for k, o in occasions.items() if "follows" not in o}
    elif args.without == "jumps":
        for factor in content["factors.yaml"]["factors"].values():
            factor.pop("jumps", None)
    priors = parse_priors(content, priors.directory)
    fit = FitSettings() if args.draws is None else FitSettings(draws=args.draws, tune=args.draws)
    horizons = [int(h) for h in args.horizons.split(",")]
    started = time.perf_counter()
    results = run_backtests(events, priors, BacktestSettings(every_weeks=args.every, jobs=args.jobs), fit, horizons,
                            log=lambda message: print(message, flush=True))
    seconds = time.perf_counter() - started
    print(f"\nthe record, priors-2022, without {args.without or 'nothing'}; {fit.draws} draws and {fit.tune} tuning steps "
          f"per chain; {seconds:.0f} s\n")
    for result in results.values():
        print(table_text(result), "\n")
    if args.out:
        args.out.write_text(json.dumps({str(h): r for h, r in results.items()}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
