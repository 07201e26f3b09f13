"""One variant of the model against another, origin by origin: what a part of the model earned.

Reads two backtests saved by `record_skill.py --out` and prints, at each horizon both hold, the
first's model scored against the second's on their shared origins (`evaluation/paired.py`):
both mean scores, and the first's Brier and log skill against the second with 90 % intervals.
The README's "What each part of the model earned" figures are the shipped run (first) against a
run `--without` a part, or a run `--with` one against the shipped run.

    .venv/bin/python benchmarks/paired_skill.py SHIPPED.json VARIANT.json [--method model]
        [--against METHOD] [--from YYYY-MM-DD] [--until YYYY-MM-DD]

`--against obstacles_off` with the same file twice gives a backtest's own skill against its
obstacles-off baseline; `--from/--until` keep the origins of one span (an era of the record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from forecast.evaluation.paired import paired_skill


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="the backtest whose skill is measured")
    parser.add_argument("second", type=Path, help="the backtest it is measured against")
    parser.add_argument("--method", default="model", help="whose forecasts to pair (default: model)")
    parser.add_argument("--against", help="the second backtest's forecaster (default: --method)")
    parser.add_argument("--from", dest="start", type=dt.date.fromisoformat, help="first origin kept, YYYY-MM-DD")
    parser.add_argument("--until", type=dt.date.fromisoformat, help="last origin kept, YYYY-MM-DD")
    args = parser.parse_args()
    try:
        first, second = (json.loads(p.read_text(encoding="utf-8")) for p in (args.first, args.second))
    except (OSError, json.JSONDecodeError) as error:
        parser.error(f"cannot read a backtest saved by record_skill.py --out: {error}")
    horizons = sorted(set(first) & set(second), key=int)
    if not horizons:
        parser.error(f"{args.first} and {args.second} share no horizon")
    for horizon in horizons:
        try:
            result = paired_skill(first[horizon], second[horizon], args.method, against=args.against,
                                  start=args.start, until=args.until)
        except ValueError as error:
            parser.error(f"{horizon} weeks: {error}")
        a, b = result["scores"]["first"], result["scores"]["second"]
        print(f"{horizon} weeks, {result['origins']} origins (Brier / log): {args.first.name} "
              f"{a['brier']:.3f} / {a['log']:.3f}, {args.second.name} {b['brier']:.3f} / {b['log']:.3f}")
        for score, s in result["skill"].items():
            interval = "no interval" if s["lo"] is None else f"{s['lo']:+.3f} to {s['hi']:+.3f}"
            print(f"  {score} skill of the first against the second: {s['value']:+.3f} ({interval}), {s['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
