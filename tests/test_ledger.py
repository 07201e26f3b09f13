"""The SQLite ledger: provenance, idempotence, retractions as rows, atomic commits, read-only reads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3

import pytest
from conftest import EXAMPLE, snapshot, write_csv

from forecast.io.events import read_events
from forecast.io.ledger import SCHEMA_VERSION, Ledger, RunRecord


def _run(run_id="r1", **overrides) -> RunRecord:
    values = dict(
        run_id=run_id, created_at="2026-01-01T00:00:00+00:00", as_of=dt.date(2025, 2, 21), data_hash="d", priors_hash="p",
        priors_dir="priors", code_version="0.1.0", seed=1, draws=10, tune=10, chains=2, status="ok",
        diagnostics={"r_hat_max": 1.0}, headline={"a": {"p": 0.5}}, factors={}, counts={"total": 1},
        horizon_weeks=12, posterior=f"runs/{run_id}/posterior.nc", report=None,
    )
    return RunRecord(**{**values, **overrides})


def test_reading_a_missing_ledger_creates_nothing(tmp_path):
    ledger = Ledger(tmp_path / "ws" / "forecast.sqlite")
    assert ledger.known_events() == {} and ledger.runs() == [] and ledger.events() == []
    assert not (tmp_path / "ws").exists()


def test_ingest_records_provenance_and_round_trips(tmp_path, priors):
    ledger = Ledger(tmp_path / "forecast.sqlite")
    parsed = read_events(EXAMPLE, priors)
    ledger.commit_update(file="examples/events.csv", file_sha256=parsed.sha256, new_events=parsed.events, known_count=0, run=_run())
    assert ledger.events() == parsed.events  # every field, CJK text included
    with sqlite3.connect(ledger.path) as conn:
        file, sha, rows_new = conn.execute("SELECT file, file_sha256, rows_new FROM ingests").fetchone()
        hashes = {r[0] for r in conn.execute("SELECT content_hash FROM events")}
    assert (file, sha, rows_new) == ("examples/events.csv", parsed.sha256, len(parsed.events))
    assert hashes == {e.content_hash for e in parsed.events}
    # The run remembers how much of the ledger it saw.
    assert ledger.latest_run() == dataclasses.replace(_run(), last_event_seq=len(parsed.events))


def test_reading_does_not_modify_the_file(tmp_path, priors):
    ledger = Ledger(tmp_path / "forecast.sqlite")
    parsed = read_events(EXAMPLE, priors)
    ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events, known_count=0, run=None)
    before = snapshot(tmp_path)
    ledger.events(), ledger.runs(), ledger.known_events()
    assert snapshot(tmp_path) == before


def test_a_failed_commit_leaves_nothing(tmp_path, priors):
    ledger = Ledger(tmp_path / "forecast.sqlite")
    parsed = read_events(EXAMPLE, priors)
    ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events[:3], known_count=0, run=_run("r1"))
    # A run id that already exists makes the last statement fail: the new events must not land either.
    with pytest.raises(sqlite3.IntegrityError):
        ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events[3:], known_count=3, run=_run("r1"))
    assert len(ledger.events()) == 3 and len(ledger.runs()) == 1


def test_retractions_are_rows_and_nothing_is_deleted(tmp_path, priors):
    ledger = Ledger(tmp_path / "forecast.sqlite")
    parsed = read_events(EXAMPLE, priors)
    ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events, known_count=0, run=None)
    retraction = read_events(write_csv(tmp_path / "r.csv", "r1,2025-02-22,retraction,,,,seed-07,,,mis-coded"), priors, ledger.known_events())
    ledger.commit_update(file="r", file_sha256="s", new_events=retraction.events, known_count=0, run=None)
    events = ledger.events()
    assert len(events) == len(parsed.events) + 1
    assert any(e.event_id == "seed-07" for e in events)
    assert events[-1].kind == "retraction" and events[-1].retracts == "seed-07"


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "forecast.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(Exception, match="newer than this version"):
        Ledger(path).runs()


def test_events_up_to_a_run_exclude_later_ingests(tmp_path, priors):
    ledger = Ledger(tmp_path / "forecast.sqlite")
    parsed = read_events(EXAMPLE, priors)
    ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events[:5], known_count=0, run=_run("r1"))
    ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events[5:], known_count=5, run=_run("r2"))
    first, second = ledger.runs()
    assert ledger.events(first.last_event_seq) == parsed.events[:5]
    assert ledger.events(second.last_event_seq) == parsed.events


def test_set_report_records_the_brief(tmp_path):
    ledger = Ledger(tmp_path / "forecast.sqlite")
    ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run("r1"))
    ledger.set_report("r1", "reports/brief.pdf")
    assert ledger.latest_run().report == "reports/brief.pdf"
    with pytest.raises(Exception, match="no run r9"):
        ledger.set_report("r9", "x.pdf")


def test_a_schema_1_ledger_is_read_and_migrated(tmp_path, priors):
    ledger = Ledger(tmp_path / "forecast.sqlite")
    parsed = read_events(EXAMPLE, priors)
    ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events[:3], known_count=0, run=_run("r1"))
    with sqlite3.connect(ledger.path) as conn:  # turn it into what schema 1 wrote
        columns = [r[1] for r in conn.execute("PRAGMA table_info(runs)") if r[1] != "last_event_seq"]
        conn.execute(f"CREATE TABLE runs_v1 AS SELECT {', '.join(columns)} FROM runs")
        conn.execute("DROP TABLE runs")
        conn.execute("ALTER TABLE runs_v1 RENAME TO runs")
        conn.execute("PRAGMA user_version = 1")
    assert ledger.latest_run().last_event_seq is None  # read as it is, read-only
    ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events[3:], known_count=3, run=_run("r2"))
    old, new = ledger.runs()
    assert old.last_event_seq is None and new.last_event_seq == len(parsed.events)
    with sqlite3.connect(ledger.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_a_schema_2_ledger_keeps_every_event_and_gains_scheduled_occasions(tmp_path, priors):
    """Schema 3 rebuilds the events table (a new kind in its CHECK, an occasion column): every
    row keeps its seq and content hash, so stored runs still hash to their data."""
    ledger = Ledger(tmp_path / "forecast.sqlite")
    parsed = read_events(EXAMPLE, priors)
    ledger.commit_update(file="f", file_sha256="s", new_events=parsed.events, known_count=0, run=_run("r1"))
    with sqlite3.connect(ledger.path) as conn:  # turn it into what schema 2 wrote
        conn.execute("CREATE TABLE events_v2 AS SELECT * FROM events")
        conn.execute("DROP TABLE events")
        conn.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL CHECK "
            "(kind IN ('signal', 'outcome', 'retraction')), date TEXT NOT NULL, reported TEXT NOT NULL, factor TEXT, "
            "signal REAL, outcome TEXT, retracts TEXT, source_reliability TEXT NOT NULL, info_credibility TEXT NOT NULL, "
            "actor TEXT NOT NULL, description TEXT NOT NULL, source TEXT NOT NULL, extras TEXT NOT NULL, "
            "content_hash TEXT NOT NULL, ingest_id INTEGER NOT NULL REFERENCES ingests(ingest_id), line INTEGER NOT NULL)")
        columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
        conn.execute(f"INSERT INTO events SELECT {', '.join(columns)} FROM events_v2")
        conn.execute("DROP TABLE events_v2")
        conn.execute("PRAGMA user_version = 2")
    before = [(e.event_id, e.content_hash) for e in ledger.events()]  # read as it is
    from conftest import HEADER

    easter = read_events(write_csv(tmp_path / "s.csv", "s1,2025-04-20,scheduled,,,,,,,Orthodox Easter,orthodox_easter",
                                   header=HEADER + ",occasion"), priors, today=dt.date(2025, 3, 1)).events
    ledger.commit_update(file="s", file_sha256="s", new_events=easter, known_count=0, run=None)
    after = ledger.events()
    assert [(e.event_id, e.content_hash) for e in after[:-1]] == before
    assert after[-1].kind == "scheduled" and after[-1].occasion == "orthodox_easter"
    assert after[-1].content_hash == easter[0].content_hash
    with sqlite3.connect(ledger.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_a_negative_zero_reading_keeps_its_hash_through_the_ledger(tmp_path, priors):
    """SQLite stores -0.0 as 0.0; the parsed event must already be 0.0, or the run's data hash
    could not be rebuilt from the ledger."""
    events = read_events(write_csv(tmp_path / "z.csv", "z1,2025-02-20,signal,territorial_rigidity,-0.0,,,A,1,flat"), priors).events
    ledger = Ledger(tmp_path / "forecast.sqlite")
    ledger.commit_update(file="f", file_sha256="s", new_events=events, known_count=0, run=None)
    assert [e.content_hash for e in ledger.events()] == [e.content_hash for e in events]


def test_writes_to_a_current_ledger_leave_its_schema_alone(tmp_path):
    """Only an older ledger is migrated: a current one is written without rebuilding a table."""
    path = tmp_path / "l.sqlite"
    ledger = Ledger(path)
    ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run("r1"))

    def schema_version() -> int:
        with sqlite3.connect(path) as conn:
            return conn.execute("PRAGMA schema_version").fetchone()[0]

    before = schema_version()
    ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run("r2"))
    ledger.set_report("r2", "reports/r2.pdf")
    assert schema_version() == before


def test_a_schema_3_ledger_keeps_every_event_and_gains_breaks_and_coders(tmp_path, priors):
    """Schema 4 rebuilds the events table again (the break kind, the coder and contested
    columns): every row keeps its seq, content hash and extras, and reads as the default coder.
    A row ingested with a `coder` column as free text keeps that text, and a file that still has
    the column compares against it as it was ingested (not as an edit)."""
    from conftest import HEADER

    ledger = Ledger(tmp_path / "forecast.sqlite")
    path = write_csv(tmp_path / "c.csv", "c1,2025-02-18,signal,territorial_rigidity,2.0,,,B,2,coded by Ann,Ann",
                     header=HEADER + ",coder")
    # As schema 3 read it: 'coder' an unknown column, kept as free text.
    legacy = [dataclasses.replace(e, coder="", extras={"coder": "Ann"}) for e in read_events(path, priors).events]
    ledger.commit_update(file="f", file_sha256="s", new_events=legacy, known_count=0, run=_run("r1"))
    with sqlite3.connect(ledger.path) as conn:  # turn it into what schema 3 wrote
        conn.execute("CREATE TABLE events_v3 AS SELECT * FROM events")
        conn.execute("DROP TABLE events")
        conn.execute(_SCHEMA_3_EVENTS)
        columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
        conn.execute(f"INSERT INTO events SELECT {', '.join(columns)} FROM events_v3")
        conn.execute("DROP TABLE events_v3")
        conn.execute("PRAGMA user_version = 3")
    before = [(e.event_id, e.content_hash, e.extras) for e in ledger.events()]
    assert before[0][2] == {"coder": "Ann"} and before[0][1] == legacy[0].content_hash
    # The same file again: known and unchanged, not an edit.
    again = read_events(path, priors, known=ledger.known_events())
    assert again.events[0].coder == "Ann"
    # A break and a coder's row go into the migrated ledger.
    rows = read_events(write_csv(tmp_path / "b.csv", "b1,2025-02-19,signal,territorial_rigidity,1.0,,,B,2,by Bo,Bo",
                                 header=HEADER + ",coder"), priors).events
    ledger.commit_update(file="b", file_sha256="b", new_events=rows, known_count=0, run=None)
    after = ledger.events()
    assert [(e.event_id, e.content_hash, e.extras) for e in after[:1]] == before
    assert after[0].coder == "" and after[1].coder == "Bo" and after[1].content_hash == rows[0].content_hash
    with sqlite3.connect(ledger.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        conn.execute("INSERT INTO events (event_id, kind, date, reported, source_reliability, info_credibility, actor, "
                     "description, source, extras, content_hash, ingest_id, line) VALUES ('x', 'break', '2025-02-20', "
                     "'2025-02-20', 'A', '1', '', '', '', '{}', 'h', 1, 1)")


_SCHEMA_3_EVENTS = (
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL CHECK "
    "(kind IN ('signal', 'outcome', 'retraction', 'scheduled')), date TEXT NOT NULL, reported TEXT NOT NULL, factor TEXT, "
    "signal REAL, outcome TEXT, retracts TEXT, occasion TEXT, source_reliability TEXT NOT NULL, info_credibility TEXT NOT NULL, "
    "actor TEXT NOT NULL, description TEXT NOT NULL, source TEXT NOT NULL, extras TEXT NOT NULL, "
    "content_hash TEXT NOT NULL, ingest_id INTEGER NOT NULL REFERENCES ingests(ingest_id), line INTEGER NOT NULL)")
