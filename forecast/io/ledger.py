"""The SQLite ledger: every event ever ingested, with provenance, and one row per run.

Nothing is ever deleted: a retraction is a row of its own. Reads open the file read-only so
that `validate` and `status` never create or touch it; writes happen in one transaction per
update (`Ledger.commit_update`), so the events of an update and its run land together or not
at all.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from forecast.errors import ForecastError
from forecast.io.events import LATER_COLUMNS, Event, KnownEvent

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE ingests (
    ingest_id   INTEGER PRIMARY KEY,
    file        TEXT NOT NULL,          -- the path as the user gave it
    file_sha256 TEXT NOT NULL,
    ingested_at TEXT NOT NULL,          -- UTC, ISO 8601
    rows_new    INTEGER NOT NULL,
    rows_known  INTEGER NOT NULL
);
CREATE TABLE events (
    seq                INTEGER PRIMARY KEY,   -- order of ingestion
    event_id           TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('signal', 'outcome', 'retraction', 'scheduled', 'break')),
    date               TEXT NOT NULL,
    reported           TEXT NOT NULL,
    factor             TEXT,
    signal             REAL,
    outcome            TEXT,
    retracts           TEXT,
    occasion           TEXT,                  -- scheduled rows: the occasion type (schema 3)
    source_reliability TEXT NOT NULL,
    info_credibility   TEXT NOT NULL,
    actor              TEXT NOT NULL,
    description        TEXT NOT NULL,
    source             TEXT NOT NULL,
    coder              TEXT NOT NULL DEFAULT '',  -- who coded the row, '' the default coder (schema 4)
    contested          INTEGER NOT NULL DEFAULT 0,  -- an outcome whose status as a deal is disputed (schema 4)
    extras             TEXT NOT NULL,         -- JSON object of unknown columns
    content_hash       TEXT NOT NULL,
    ingest_id          INTEGER NOT NULL REFERENCES ingests(ingest_id),
    line               INTEGER NOT NULL       -- line in the ingested file
);
CREATE TABLE runs (
    run_id       TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    data_hash    TEXT NOT NULL,
    priors_hash  TEXT NOT NULL,
    priors_dir   TEXT NOT NULL,
    code_version TEXT NOT NULL,
    seed         INTEGER NOT NULL,
    draws        INTEGER NOT NULL,
    tune         INTEGER NOT NULL,
    chains       INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('ok', 'flagged')),
    diagnostics  TEXT NOT NULL,   -- JSON
    headline     TEXT NOT NULL,   -- JSON: outcome -> label, p, lo, hi, happens_by {p, lo, hi} at the headline horizon
    factors      TEXT NOT NULL,   -- JSON: factor -> label, mean, sd at the as-of week
    counts       TEXT NOT NULL,   -- JSON: total, signals, outcomes, retracted
    horizon_weeks INTEGER NOT NULL,
    posterior    TEXT NOT NULL,   -- path relative to the workspace
    report       TEXT,            -- path relative to the workspace, once a brief exists
    last_event_seq INTEGER        -- the ledger's newest event when the run landed (NULL before schema 2)
);
"""


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    created_at: str
    as_of: dt.date
    data_hash: str
    priors_hash: str
    priors_dir: str
    code_version: str
    seed: int
    draws: int
    tune: int
    chains: int
    status: str
    diagnostics: dict[str, Any]
    headline: dict[str, Any]
    factors: dict[str, Any]
    counts: dict[str, int]
    horizon_weeks: int
    posterior: str
    report: str | None
    # Events with seq <= this were in the ledger when the run landed: the run's view of the log,
    # even after later ingests add rows reported before its as-of date. None: an older ledger.
    last_event_seq: int | None = None

    @property
    def happens_by(self) -> dict[str, dict[str, Any]] | None:
        """Deal type -> {label, p, lo, hi}: the chance it starts at least once within the headline
        horizon, whatever comes first. The headline lists the deal types, then the complement
        (whose "happens by" is its own chance). None for a run stored before runs kept it."""
        deals = list(self.headline)[:-1]
        if not deals or any("happens_by" not in self.headline[k] for k in deals):
            return None
        return {k: {"label": self.headline[k]["label"], **self.headline[k]["happens_by"]} for k in deals}

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        values = dict(row)
        for key in _JSON_COLUMNS:
            values[key] = json.loads(values[key])
        values["as_of"] = dt.date.fromisoformat(values["as_of"])
        return cls(**values)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # --- reading (never creates the file) --------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection | None]:
        if not self.path.exists():
            yield None
            return
        try:
            # A URI, for read-only mode; the path is percent-encoded so that '#', '?' and '%' in
            # a folder name stay part of the path.
            with closing(sqlite3.connect(f"file:{quote(str(self.path.absolute()))}?mode=ro", uri=True)) as conn:
                conn.row_factory = sqlite3.Row
                # Version 0 is a file whose first transaction never committed: no tables yet.
                yield conn if _check_version(conn, self.path) else None
        except sqlite3.Error as exc:
            raise ledger_error(self.path, exc, writing=False) from None

    def has_history(self) -> bool:
        """Whether the file holds a ledger: it exists and its tables were created. A 0-byte file,
        or one whose first transaction never committed (schema version 0), holds none."""
        with self._reader() as conn:
            return conn is not None

    def known_events(self) -> dict[str, KnownEvent]:
        with self._reader() as conn:
            if conn is None:
                return {}
            rows = conn.execute("SELECT event_id, content_hash, kind, extras FROM events").fetchall()
        return {r["event_id"]: KnownEvent(r["content_hash"], r["kind"], _legacy_columns(r["extras"])) for r in rows}

    def events(self, up_to_seq: int | None = None) -> list[Event]:
        """Every event in ingestion order; with `up_to_seq`, only those ingested by then."""
        with self._reader() as conn:
            if conn is None:
                return []
            rows = conn.execute("SELECT * FROM events WHERE seq <= ? ORDER BY seq",
                                (up_to_seq if up_to_seq is not None else 2**62,)).fetchall()
        return [_event_from_row(r) for r in rows]

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first."""
        with self._reader() as conn:
            if conn is None:
                return []
            rows = conn.execute("SELECT * FROM runs ORDER BY created_at, run_id").fetchall()
        return [RunRecord.from_row(r) for r in rows]

    def latest_run(self) -> RunRecord | None:
        runs = self.runs()
        return runs[-1] if runs else None

    # --- writing ---------------------------------------------------------------------------

    def commit_update(
        self,
        *,
        file: str,
        file_sha256: str,
        new_events: Sequence[Event],
        known_count: int,
        run: RunRecord | None,
    ) -> None:
        """Add the new events and the run in one transaction: all of it lands, or none."""
        now = _utcnow()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._writer() as conn:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN IMMEDIATE")
            try:
                _create_or_migrate(conn, self.path)
                if new_events:
                    cursor = conn.execute(
                        "INSERT INTO ingests (file, file_sha256, ingested_at, rows_new, rows_known) VALUES (?, ?, ?, ?, ?)",
                        (file, file_sha256, now, len(new_events), known_count),
                    )
                    conn.executemany(
                        "INSERT INTO events (event_id, kind, date, reported, factor, signal, outcome, retracts, occasion,"
                        " source_reliability, info_credibility, actor, description, source, coder, contested, extras,"
                        " content_hash, ingest_id, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [_event_to_row(e, cursor.lastrowid) for e in new_events],
                    )
                if run is not None:
                    row = {
                        **asdict(run),
                        "as_of": run.as_of.isoformat(),
                        **{key: json.dumps(getattr(run, key)) for key in _JSON_COLUMNS},
                        "last_event_seq": conn.execute("SELECT max(seq) FROM events").fetchone()[0],
                    }
                    conn.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    def set_report(self, run_id: str, report: str) -> None:
        """Record where a run's brief is (relative to the workspace)."""
        with self._writer() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _create_or_migrate(conn, self.path)
                if conn.execute("UPDATE runs SET report = ? WHERE run_id = ?", (report, run_id)).rowcount != 1:
                    raise ForecastError(f"{self.path}: no run {run_id}")
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    @contextmanager
    def _writer(self) -> Iterator[sqlite3.Connection]:
        """A connection for one write transaction; SQLite's errors become one plain message."""
        try:
            with closing(sqlite3.connect(self.path, isolation_level=None)) as conn:
                yield conn
        except sqlite3.IntegrityError:
            raise  # a broken invariant of this code, not of the disk: keep the traceback
        except sqlite3.Error as exc:
            raise ledger_error(self.path, exc, writing=True) from None


def ledger_error(path: Path, exc: sqlite3.Error, *, writing: bool) -> ForecastError:
    """SQLite's error as a message that says what it means for the user's data."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return ForecastError(f"{path}: not a readable forecast ledger ({exc}): the file is damaged or is not a ledger; "
                             "restore it from a backup, or give --workspace another folder; nothing was changed")
    if name.startswith("SQLITE_FULL"):
        return ForecastError(f"{path}: the disk is full ({exc}); the ledger is as it was before this command: "
                             "free some space and run it again")
    what = "written" if writing else "read"
    after = "the ledger is as it was before this command" if writing else "nothing was changed"
    return ForecastError(f"{path}: the ledger could not be {what} ({exc}); {after}")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite ends one itself on some errors (a full
    disk), and a second error from ROLLBACK would hide the first."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):  # the error that brought us here is the one to report
            conn.execute("ROLLBACK")


_JSON_COLUMNS = ("diagnostics", "headline", "factors", "counts")


def _create_or_migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Inside a write transaction: create the tables in a new file, or bring an older schema up to date."""
    version = _check_version(conn, path)
    if version == 0:
        # One statement at a time: executescript() would commit the open transaction.
        for statement in filter(str.strip, _SCHEMA.split(";")):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return
    if version < 2:
        conn.execute("ALTER TABLE runs ADD COLUMN last_event_seq INTEGER")
    if version < 4:
        # Schema 3: scheduled occasions (a new kind, the occasion column); schema 4: breaks (a new
        # kind), the coder and contested columns. SQLite cannot change a CHECK in place, so the
        # events table is rebuilt with every row and its seq; the new columns take their defaults
        # (the default coder, not contested), and every row keeps its content hash.
        create = next(s for s in _SCHEMA.split(";") if "CREATE TABLE events" in s)
        conn.execute(create.replace("CREATE TABLE events", "CREATE TABLE events_new"))
        columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
        conn.execute(f"INSERT INTO events_new ({', '.join(columns)}) SELECT {', '.join(columns)} FROM events")
        conn.execute("DROP TABLE events")
        conn.execute("ALTER TABLE events_new RENAME TO events")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_version(conn: sqlite3.Connection, path: Path) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ForecastError(f"{path}: ledger schema {version} is newer than this version of forecast understands "
                            f"({SCHEMA_VERSION}); upgrade forecast")
    return version


def _legacy_columns(extras: str) -> frozenset[str]:
    """The columns read today that this row carried as free text when it was ingested."""
    return frozenset(c for c in LATER_COLUMNS if c in json.loads(extras)) if '"' in extras else frozenset()


def _utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _event_to_row(e: Event, ingest_id: int) -> tuple:
    return (
        e.event_id, e.kind, e.date.isoformat(), e.reported.isoformat(), e.factor, e.signal, e.outcome,
        e.retracts, e.occasion, e.source_reliability, e.info_credibility, e.actor, e.description, e.source,
        e.coder, int(e.contested), json.dumps(e.extras, ensure_ascii=False), e.content_hash, ingest_id, e.line,
    )


def _event_from_row(r: sqlite3.Row) -> Event:
    return Event(
        event_id=r["event_id"], kind=r["kind"], date=dt.date.fromisoformat(r["date"]),
        reported=dt.date.fromisoformat(r["reported"]), factor=r["factor"], signal=r["signal"],
        outcome=r["outcome"], retracts=r["retracts"], source_reliability=r["source_reliability"],
        info_credibility=r["info_credibility"], actor=r["actor"], description=r["description"],
        source=r["source"], occasion=r["occasion"] if "occasion" in r.keys() else None,  # noqa: SIM118 (a Row's `in` looks at values)
        # An older ledger, read as it is (read-only): no coder or contested column yet.
        coder=r["coder"] if "coder" in r.keys() else "", contested=bool(r["contested"]) if "contested" in r.keys() else False,  # noqa: SIM118
        extras=json.loads(r["extras"]), line=r["line"],
    )
