"""Events back to an events file, in the column order the examples use: what a tool that
derives a log (a pooled coding, a joined record) writes so `read_events` reads the same rows."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from forecast.io.events import Event

COLUMNS = ("event_id", "date", "reported", "kind", "factor", "signal", "outcome", "source_reliability",
           "info_credibility", "actor", "description", "source", "occasion", "contested", "retracts", "coder")


def event_row(event: Event) -> dict[str, str]:
    return {
        "event_id": event.event_id, "date": event.date.isoformat(), "reported": event.reported.isoformat(),
        "kind": event.kind, "factor": event.factor or "", "signal": "" if event.signal is None else repr(float(event.signal)),
        "outcome": event.outcome or "", "source_reliability": event.source_reliability,
        "info_credibility": event.info_credibility, "actor": event.actor, "description": event.description,
        "source": event.source, "occasion": event.occasion or "", "contested": "yes" if event.contested else "",
        "retracts": event.retracts or "", "coder": event.coder, **event.extras,
    }


def write_events(path: Path, events: Sequence[Event]) -> None:
    """Write `events` as a UTF-8 events file (its extras' columns after the tool's own)."""
    extras = list(dict.fromkeys(name for e in events for name in e.extras))
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, *extras], lineterminator="\n")
        writer.writeheader()
        for event in events:
            writer.writerow(event_row(event))
