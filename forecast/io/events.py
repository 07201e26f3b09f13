"""Read and validate an events CSV (its format: docs/FORMATS.md).

The file is taken whole or not at all: `read_events` either returns every row, normalised, or
raises `InputError` naming the file, line and column of the first problem. It writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from forecast.conventions import CREDIBILITY_GRADES, EARLIEST_ENV, EARLIEST_YEARS_BEFORE_START, RELIABILITY_GRADES
from forecast.errors import InputError, did_you_mean
from forecast.io.priors import Priors, canonical_json
from forecast.io.textfiles import csv_rows, decode_text, header_names, read_input

KINDS = ("signal", "outcome", "retraction", "scheduled", "break")
SIGNAL_RANGE = (-3.0, 3.0)

# Columns the tool understands; anything else is kept in the ledger as an extra.
CORE_COLUMNS = (
    "date", "kind", "factor", "signal", "outcome", "retracts", "occasion", "event_id", "reported",
    "source_reliability", "info_credibility", "actor", "description", "source", "coder", "contested",
)
# Columns that were free text (extras) before they were read: a row ingested then keeps its
# content hash, so a file that had them compares against the ledger as it was (KnownEvent).
LATER_COLUMNS = ("coder", "contested")
CODER_MAX = 80  # characters of a coder's name
TEXT_COLUMNS = ("actor", "description", "source")
# Which columns a row of each kind needs, and which it must leave empty.
REQUIRED_BY_KIND = {"signal": ("factor", "signal"), "outcome": ("outcome",), "retraction": ("retracts",),
                    "scheduled": ("occasion",), "break": ()}
# A scheduled occasion is logged ahead of its date; how far ahead a date may lie.
SCHEDULED_AHEAD_DAYS = 2 * 366
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Event:
    """One row, normalised. `content` is what the id and the duplicate checks are taken over."""

    event_id: str
    kind: str
    date: dt.date
    reported: dt.date
    factor: str | None
    signal: float | None
    outcome: str | None
    retracts: str | None
    source_reliability: str
    info_credibility: str
    actor: str
    description: str
    source: str
    occasion: str | None = None  # for a scheduled row: the occasion type (outcomes.yaml)
    coder: str = ""  # who coded the row ("": the log's one default coder)
    contested: bool = False  # an outcome whose status as a deal is disputed (docs/CODING.md, section 5)
    extras: dict[str, str] = field(default_factory=dict, compare=False)
    line: int = field(default=0, compare=False)

    @property
    def content(self) -> dict:
        return {
            "kind": self.kind, "date": self.date.isoformat(), "reported": self.reported.isoformat(),
            "factor": self.factor, "signal": self.signal, "outcome": self.outcome,
            "retracts": self.retracts, "source_reliability": self.source_reliability,
            "info_credibility": self.info_credibility, "actor": self.actor,
            "description": self.description, "source": self.source,
            # Only scheduled rows carry it, so that every other row keeps the hash it always had.
            **({"occasion": self.occasion} if self.occasion is not None else {}),
            # Likewise: only where given.
            **({"coder": self.coder} if self.coder else {}),
            **({"contested": True} if self.contested else {}),
        }

    def legacy_hash(self, columns: frozenset[str]) -> str:
        """The content hash this row had when `columns` (of LATER_COLUMNS) were free text."""
        content = self.content
        for column in columns:
            content.pop(column, None)
        return content_hash(content)

    @property
    def content_hash(self) -> str:
        return content_hash(self.content)


def content_hash(content: Mapping) -> str:
    return hashlib.sha256(canonical_json(dict(content)).encode()).hexdigest()


@dataclass(frozen=True)
class KnownEvent:
    """What validation needs to know of an event already in the ledger."""

    content_hash: str
    kind: str
    # LATER_COLUMNS the row carried as free text when ingested: its hash was taken without them.
    legacy_columns: frozenset[str] = frozenset()


@dataclass
class EventFile:
    path: Path
    sha256: str
    events: list[Event]
    extra_columns: list[str]
    warnings: list[str]


def read_events(
    path: str | Path,
    priors: Priors,
    known: Mapping[str, KnownEvent] | None = None,
    today: dt.date | None = None,
) -> EventFile:
    """Parse and validate `path` against the priors and the events already in the ledger."""
    path = Path(path)
    known = known or {}
    today = today or dt.date.today()
    raw = read_input(path, "an events file")
    text = decode_text(path, raw)
    if not text.strip():
        raise InputError("the file is empty; expected a header row naming at least the 'date' column", path=path, line=1)

    earliest = earliest_date(priors.outcomes.start)
    header, rows = csv_rows(path, text)
    columns = _check_header(path, header)
    extras = [c for c in columns if c not in CORE_COLUMNS]

    events: list[Event] = []
    by_id: dict[str, Event] = {}
    warnings: list[str] = []
    for line, values in rows:
        if not any(v.strip() for v in values):
            continue  # blank lines are not events
        if len(values) != len(columns):
            raise InputError(
                f"expected {len(columns)} comma-separated fields as in the header, found {len(values)}",
                path=path, line=line,
            )
        row = _Row(path, line, columns, values)
        event = _parse_row(row, priors, (earliest, today), extras)
        earlier = by_id.get(event.event_id)
        if earlier is not None:
            if earlier.content_hash != event.content_hash:
                raise row.error("event_id", f"id '{event.event_id}' is already used on line {earlier.line} for different content")
            warnings.append(f"{path}, line {line}: repeats line {earlier.line} exactly; counted once")
            continue
        previous = known.get(event.event_id)
        if previous is not None and previous.content_hash != (
                event.legacy_hash(previous.legacy_columns) if previous.legacy_columns else event.content_hash):
            raise row.error(
                "event_id",
                f"id '{event.event_id}' is already in the ledger with different content; "
                "to change an event, retract it and log a new one",
            )
        by_id[event.event_id] = event
        events.append(event)

    if not events:
        raise InputError("no events below the header row", path=path, line=2)
    _check_retractions(path, columns, events, by_id, known)
    if extras:
        warnings.insert(0, f"{path}: kept unknown column(s) {', '.join(repr(c) for c in extras)} in the ledger as free text")
    return EventFile(path, hashlib.sha256(raw).hexdigest(), events, extras, warnings)


def _check_header(path: Path, header: list[str]) -> list[str]:
    columns = header_names(path, header, CORE_COLUMNS)
    seen = {name: i for i, name in enumerate(columns, start=1)}
    if "date" not in seen:
        hint = ""
        # Say what the near miss is, not the other way round: the user typed the column.
        for name in (c for c in columns if c not in CORE_COLUMNS):
            if did_you_mean(name, CORE_COLUMNS) == "did you mean 'date'?":
                hint = f"; column {seen[name]} is '{name}': did you mean 'date'?"
        raise InputError(f"missing required column 'date'{hint}", path=path, line=1)
    return columns


class _Row:
    def __init__(self, path: Path, line: int, columns: list[str], values: list[str]) -> None:
        self.path, self.line, self.columns = path, line, columns
        self.values = {c: v.strip() for c, v in zip(columns, values)}

    def get(self, column: str) -> str:
        return self.values.get(column, "")

    def error(self, column: str, message: str) -> InputError:
        where = f"{self.columns.index(column) + 1} ('{column}')" if column in self.columns else f"'{column}'"
        return InputError(message, path=self.path, line=self.line, column=where)

    def missing(self, column: str, kind: str) -> InputError:
        a_row = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind} row"
        if column in self.columns:
            return self.error(column, f"{a_row} needs a value in '{column}'")
        extras = [c for c in self.columns if c not in CORE_COLUMNS]
        close = did_you_mean(column, extras) if extras else ""
        hint = f"; the header has no '{column}' column" + (f" ({close})" if close.startswith("did") else "")
        return self.error(column, f"{a_row} needs a value in '{column}'{hint}")


def earliest_date(start: dt.date) -> dt.date:
    """The earliest date an event may have: $FORECAST_EARLIEST, else some years before the priors' start.

    The setting moves the guard against typos (1900 for 2025) that lie before the start; it cannot
    make the start later, so a date after it is refused as a setting, not turned into "0 years
    before the priors' start" for each row between the two.
    """
    default = start.replace(year=start.year - EARLIEST_YEARS_BEFORE_START, day=min(start.day, 28))
    text = os.environ.get(EARLIEST_ENV, "").strip()
    if not text:
        return default
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{EARLIEST_ENV}={text!r}: expected a date YYYY-MM-DD") from None
    if value > start:
        raise InputError(f"{EARLIEST_ENV}={text} is after the priors' start ({start}); it sets how long before the start "
                         f"an event may lie, so expected a date on or before {start} (unset, it is {default})")
    return value


def _parse_row(row: _Row, priors: Priors, bounds: tuple[dt.date, dt.date], extras: list[str]) -> Event:
    kind = row.get("kind").lower() or "signal"
    if kind not in KINDS:
        raise row.error("kind", f"unknown kind '{row.get('kind')}'; {did_you_mean(kind, KINDS)}")
    for column in REQUIRED_BY_KIND[kind]:
        if not row.get(column):
            raise row.missing(column, kind)
    for other_kind, columns in REQUIRED_BY_KIND.items():
        for column in columns:
            if other_kind != kind and row.get(column):
                raise row.error(column, f"'{column}' belongs to {other_kind} rows, but this row is a {kind}; leave it empty or fix 'kind'")

    # A scheduled occasion may lie ahead (and be reported before it); when it became known may not.
    earliest, today = bounds
    ahead = (earliest, today + dt.timedelta(days=SCHEDULED_AHEAD_DAYS)) if kind == "scheduled" else bounds
    date = _date(row, "date", ahead, priors.outcomes.start)
    reported = _date(row, "reported", bounds, priors.outcomes.start) if row.get("reported") else min(date, today)
    if reported < date and kind != "scheduled":
        raise row.error("reported", f"reported date {reported} is before the event's date {date}")

    factor = signal = outcome = retracts = occasion = None
    if kind == "signal":
        factor = row.get("factor")
        if factor not in priors.factors:
            raise row.error("factor", f"unknown factor '{factor}'; {did_you_mean(factor, priors.factors)}")
        signal = _signal(row)
    elif kind == "outcome":
        outcome = row.get("outcome")
        if outcome not in priors.outcomes.deals:
            hint = did_you_mean(outcome, priors.outcomes.deals)
            if outcome == priors.outcomes.complement_key:
                hint = f"'{outcome}' is the absence of a deal, not an event; weeks without outcome rows count as it"
            raise row.error("outcome", f"unknown deal type '{outcome}'; {hint}")
    elif kind == "scheduled":
        occasion = row.get("occasion")
        if occasion not in priors.outcomes.occasions:
            known = priors.outcomes.occasions
            hint = did_you_mean(occasion, known) if known else "these priors define no occasions (outcomes.yaml, 'occasions')"
            raise row.error("occasion", f"unknown occasion type '{occasion}'; {hint}")
        if priors.outcomes.occasions[occasion].follows is not None:
            rule = priors.outcomes.occasions[occasion].follows
            raise row.error("occasion", f"occasion type '{occasion}' is not logged: it is the {rule.weeks} weeks after each "
                                        f"'{rule.deal}' outcome, which the model finds itself; log the outcome instead")
    elif kind == "break":
        if not priors.breaks:
            raise row.error("kind", "a break (a change of war that moves every obstacle and deal rate at once) needs priors "
                                    "that say what one does: 'break_step' for each factor (factors.yaml) and 'break_shift' "
                                    "for each deal type (outcomes.yaml); these priors have neither")
    else:
        retracts = row.get("retracts")

    reliability = (row.get("source_reliability") or "F").upper()
    if reliability not in RELIABILITY_GRADES:
        raise row.error("source_reliability", f"expected an Admiralty source-reliability grade A-F, got '{row.get('source_reliability')}'")
    credibility = row.get("info_credibility") or "6"
    if credibility not in CREDIBILITY_GRADES:
        raise row.error("info_credibility", f"expected an Admiralty information-credibility grade 1-6, got '{credibility}'")

    coder = row.get("coder")
    if len(coder) > CODER_MAX or not coder.isprintable():
        raise row.error("coder", f"expected a coder's name of at most {CODER_MAX} printable characters")
    contested = _contested(row, kind)

    fields = dict(
        kind=kind, date=date, reported=reported, factor=factor, signal=signal, outcome=outcome,
        retracts=retracts, source_reliability=reliability, info_credibility=credibility,
        actor=row.get("actor"), description=row.get("description"), source=row.get("source"), occasion=occasion,
        coder=coder, contested=contested,
    )
    provisional = Event(event_id="", **fields)
    event_id = row.get("event_id") or "h" + provisional.content_hash[:15]
    return Event(
        event_id=event_id, **fields,
        extras={c: row.get(c) for c in extras if row.get(c)}, line=row.line,
    )


def _contested(row: _Row, kind: str) -> bool:
    """`yes` marks an outcome whose status as a deal is disputed; empty or `no` is the default."""
    value = row.get("contested").lower()
    if value not in ("", "yes", "no"):
        raise row.error("contested", f"expected 'yes', 'no' or nothing, got '{row.get('contested')}'")
    if value == "yes" and kind != "outcome":
        raise row.error("contested", f"only an outcome can be contested (a deal whose status is disputed); this row is a {kind}")
    return value == "yes"


def _date(row: _Row, column: str, bounds: tuple[dt.date, dt.date], start: dt.date) -> dt.date:
    earliest, today = bounds
    text = row.get(column)
    if not text:
        raise row.missing(column, row.get("kind") or "signal")
    try:
        if not _ISO_DATE.match(text):
            raise ValueError
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise row.error(column, f"expected an ISO date YYYY-MM-DD, got '{text}'") from None
    if value > today:
        if column == "date" and row.get("kind").lower() == "scheduled":
            raise row.error(column, f"date {value} is more than two years ahead; log an occasion when it is scheduled")
        raise row.error(column, f"date {value} is in the future (today is {today})")
    if value < earliest:
        years = (start - value).days // 365
        raise row.error(column, f"date {value} is {years} years before the priors' start ({start}); dates before {earliest} "
                                f"are refused as likely typos, since they would make a fit of {years} years "
                                f"({EARLIEST_ENV}=YYYY-MM-DD accepts earlier ones)")
    return value


def _signal(row: _Row) -> float:
    text = row.get("signal")
    try:
        value = float(text)
    except ValueError:
        raise row.error("signal", f"expected a number from -3 to 3, got '{text}'") from None
    lo, hi = SIGNAL_RANGE
    if not math.isfinite(value) or not lo <= value <= hi:
        raise row.error("signal", f"expected a finite number from -3 to 3, got '{text}'")
    # -0.0 is 0.0: SQLite stores it so, and the content hash must survive the round trip.
    return value + 0.0


def _check_retractions(
    path: Path, columns: list[str], events: list[Event], by_id: Mapping[str, Event], known: Mapping[str, KnownEvent]
) -> None:
    for event in events:
        if event.kind != "retraction":
            continue
        target = by_id.get(event.retracts)
        target_kind = target.kind if target else (known[event.retracts].kind if event.retracts in known else None)
        where = dict(path=path, line=event.line, column=f"{columns.index('retracts') + 1} ('retracts')")
        if target_kind is None:
            raise InputError(f"retracts '{event.retracts}', which is neither in this file nor in the ledger", **where)
        if target_kind == "retraction":
            raise InputError(f"retracts '{event.retracts}', which is itself a retraction; retract signals or outcomes only", **where)
