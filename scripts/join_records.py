"""Write examples/history-2014-2026.csv: the negotiation record from April 2014 to today as one log.

It is the 2014-2022 record and the 2022-2026 record, every row as it is in its own file. The
full-scale invasion of 24 February 2022 is not logged as a break: the model crosses it by its
walk alone, which the joint backtest judged better than a break (docs/SKILL.md; a break row is
`benchmarks/record_skill.py --with break`). Run from the repository root after either
record changes; tests/test_records.py fails when the joint file is not this join.

    .venv/bin/python scripts/join_records.py
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PARTS = ("history-2014-2022.csv", "history-2022-2026.csv")
JOINT = "history-2014-2026.csv"


def joint_text() -> str:
    parts = [list(csv.DictReader((EXAMPLES / name).open(encoding="utf-8", newline=""))) for name in PARTS]
    header = []
    for rows in parts:
        header += [c for c in rows[0] if c not in header]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in [*parts[0], *parts[1]]:
        writer.writerow({c: row.get(c, "") for c in header})
    return out.getvalue()


def main() -> None:
    (EXAMPLES / JOINT).write_text(joint_text(), encoding="utf-8")
    print(f"wrote {EXAMPLES / JOINT}")


if __name__ == "__main__":
    main()
