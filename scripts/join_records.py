"""Write examples/history-2014-2026.csv: the negotiation record from April 2014 to today as one log.

It is the 2014-2022 record, the full-scale invasion of 24 February 2022 as a logged break (the
model's step of every obstacle and shift of every deal rate: docs/MODEL.md, "Breaks"), and the
2022-2026 record, every row as it is in its own file. Run from the repository root after either
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
BREAK = {
    "event_id": "brk-2022-02-24",
    "date": "2022-02-24",
    "reported": "2022-02-24",
    "kind": "break",
    "source_reliability": "A",
    "info_credibility": "1",
    "actor": "Putin; Russian armed forces",
    "description": "Russia launches the full-scale invasion of Ukraine from the north, east and south. Coding: a change of war "
                   "(docs/CODING.md): the negotiation's obstacles and the rates of its deals are no longer those of the Donbas "
                   "war, so a break.",
    "source": "The Hindu (PTI) 2022-02-24; https://www.thehindu.com/news/international/special-military-operation-aimed-at-"
              "demilitarisation-and-denazification-of-ukraine-putins-televised-address/article65080000.ece",
}


def joint_text() -> str:
    parts = [list(csv.DictReader((EXAMPLES / name).open(encoding="utf-8", newline=""))) for name in PARTS]
    header = []
    for rows in parts:
        header += [c for c in rows[0] if c not in header]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in [*parts[0], BREAK, *parts[1]]:
        writer.writerow({c: row.get(c, "") for c in header})
    return out.getvalue()


def main() -> None:
    (EXAMPLES / JOINT).write_text(joint_text(), encoding="utf-8")
    print(f"wrote {EXAMPLES / JOINT}")


if __name__ == "__main__":
    main()
