"""Write examples/history-2022-2026-two-coders.csv: the war's record as one log with two coders.

Coder A is the project's record (examples/history-2022-2026.csv, 2022-2026); coder B the
independent second coding of 2025-2026 (examples/history-2025-2026-coder-b.csv), made from other
reports by a coder who had not seen the first (docs/SKILL.md says how independence was kept). The
rules of pooling are `forecast.evaluation.pooling` (the ones `forecast agreement` uses for its
pooled forecast).

    .venv/bin/python scripts/join_codings.py
"""

from __future__ import annotations

from pathlib import Path

from forecast.evaluation.pooling import pool_codings
from forecast.io.events import read_events
from forecast.io.events_writer import write_events
from forecast.io.priors import load_priors

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIRST, SECOND, JOINT = "history-2022-2026.csv", "history-2025-2026-coder-b.csv", "history-2022-2026-two-coders.csv"


def main() -> None:
    priors = load_priors(ROOT / "priors-2022")
    first, second = (read_events(EXAMPLES / name, priors).events for name in (FIRST, SECOND))
    write_events(EXAMPLES / JOINT, pool_codings(first, second, ("A", "B")))
    print(f"wrote {EXAMPLES / JOINT}")


if __name__ == "__main__":
    main()
