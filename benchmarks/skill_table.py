"""The table every brief quotes, as the Markdown that README.md and docs/SKILL.md print.

Reads the summary `record_skill.py --summary` wrote (default: the shipped
`forecast/data/record_skill.json`) and prints its table, so the figures in the docs are copied
from the run, never typed (tests/test_record_evidence.py checks the printed tables against it).

    .venv/bin/python benchmarks/skill_table.py [SUMMARY.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from forecast.brief.record_evidence import skill_text

ROOT = Path(__file__).resolve().parents[1]
BASELINES = {"obstacles_off": "obstacles off", "climatology": "climatology", "prior": "priors alone",
             "uniform": "uniform"}


def markdown_table(summary: dict) -> str:
    lines = ["| horizon | forecast | Brier | log | model's Brier skill (90 %) | model's log skill (90 %) |",
             "|---|---|---|---|---|---|"]
    for weeks, h in sorted(summary["horizons"].items(), key=lambda item: int(item[0])):
        model = h["scores"]["model"]
        lines.append(f"| {weeks} weeks, {h['origins']} origins | **the model** | **{model['brier']:.3f}** | "
                     f"**{model['log']:.3f}** | | |")
        for key, name in BASELINES.items():
            scores, skill = h["scores"][key], h["skill"][key]
            lines.append(f"| | {name} | {scores['brier']:.3f} | {scores['log']:.3f} | {skill_text(skill['brier'])} | "
                         f"{skill_text(skill['log'])} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path, nargs="?", default=ROOT / "forecast" / "data" / "record_skill.json")
    args = parser.parse_args()
    summary = json.loads(args.summary.read_text(encoding="utf-8"))
    print(markdown_table(summary))
    for weeks, h in sorted(summary["horizons"].items(), key=lambda item: int(item[0])):
        came = ", ".join(f"{k} {n}" for k, n in h["came_first"].items())
        print(f"\n{weeks} weeks: origins {h['first_origin']} to {h['last_origin']} every {h['every_weeks']} weeks, "
              f"outcomes known to {h['known_to']}; came first: {came}; flagged fits {h['flagged_fits']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
