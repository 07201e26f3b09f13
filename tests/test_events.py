"""events.csv validation (docs/FORMATS.md): every bad input named by file, line and column,
exit code 2, no traceback, and the workspace byte-for-byte as it was."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from conftest import EXAMPLE, HEADER, snapshot, write_csv

from forecast.cli.main import main
from forecast.errors import InputError
from forecast.io.events import read_events
from forecast.io.ledger import Ledger

GOOD = "e1,2025-02-18,signal,territorial_rigidity,2.5,,,B,2,ok"

BAD_ROWS = [
    # name, data rows, line, column fragment, message fragment
    ("unknown factor", ["e1,2025-02-18,signal,teritorial_rigidity,2.5,,,B,2,x"], 2, "column 4 ('factor')", "did you mean 'territorial_rigidity'?"),
    ("unknown outcome", [GOOD, "e2,2025-02-19,outcome,,,local_ceasfire,,A,1,x"], 3, "column 6 ('outcome')", "did you mean 'local_ceasefire'?"),
    ("complement as outcome", ["e2,2025-02-19,outcome,,,protracted_war,,A,1,x"], 2, "column 6 ('outcome')", "absence of a deal"),
    ("unknown kind", ["e1,2025-02-18,signl,territorial_rigidity,2.5,,,B,2,x"], 2, "column 3 ('kind')", "did you mean 'signal'?"),
    ("missing factor", ["e1,2025-02-18,signal,,2.5,,,B,2,x"], 2, "column 4 ('factor')", "needs a value in 'factor'"),
    ("missing signal", ["e1,2025-02-18,signal,territorial_rigidity,,,,B,2,x"], 2, "column 5 ('signal')", "needs a value in 'signal'"),
    ("missing date", ["e1,,signal,territorial_rigidity,1,,,B,2,x"], 2, "column 2 ('date')", "needs a value in 'date'"),
    ("unparseable date", [GOOD, "e2,21/02/2025,signal,territorial_rigidity,1,,,B,2,x"], 3, "column 2 ('date')", "expected an ISO date YYYY-MM-DD"),
    ("impossible date", ["e1,2025-02-30,signal,territorial_rigidity,1,,,B,2,x"], 2, "column 2 ('date')", "expected an ISO date"),
    ("future date", ["e1,2999-01-04,signal,territorial_rigidity,1,,,B,2,x"], 2, "column 2 ('date')", "in the future"),
    ("non-finite signal", ["e1,2025-02-18,signal,territorial_rigidity,nan,,,B,2,x"], 2, "column 5 ('signal')", "finite number from -3 to 3"),
    ("infinite signal", ["e1,2025-02-18,signal,territorial_rigidity,inf,,,B,2,x"], 2, "column 5 ('signal')", "finite number from -3 to 3"),
    ("out-of-range signal", ["e1,2025-02-18,signal,territorial_rigidity,3.5,,,B,2,x"], 2, "column 5 ('signal')", "from -3 to 3, got '3.5'"),
    ("text signal", ["e1,2025-02-18,signal,territorial_rigidity,high,,,B,2,x"], 2, "column 5 ('signal')", "expected a number"),
    ("bad reliability", ["e1,2025-02-18,signal,territorial_rigidity,1,,,G,2,x"], 2, "column 8 ('source_reliability')", "grade A-F"),
    ("bad credibility", ["e1,2025-02-18,signal,territorial_rigidity,1,,,B,7,x"], 2, "column 9 ('info_credibility')", "grade 1-6"),
    ("id reused in file", [GOOD, "e1,2025-02-19,signal,territorial_rigidity,1.0,,,B,2,other"], 3, "column 1 ('event_id')", "already used on line 2"),
    ("retraction of unknown id", [GOOD, "r1,2025-02-20,retraction,,,,nope,,,x"], 3, "column 7 ('retracts')", "neither in this file nor in the ledger"),
    ("retraction of retraction", [GOOD, "r1,2025-02-20,retraction,,,,e1,,,x", "r2,2025-02-20,retraction,,,,r1,,,x"], 4, "column 7 ('retracts')", "itself a retraction"),
    ("field of another kind", ["e1,2025-02-18,signal,territorial_rigidity,1,local_ceasefire,,B,2,x"], 2, "column 6 ('outcome')", "belongs to outcome rows"),
    ("ragged row", [GOOD, "e2,2025-02-18,signal,territorial_rigidity,1,,,B"], 3, None, "expected 10 comma-separated fields"),
    ("no rows", [], 2, None, "no events below the header"),
]


@pytest.fixture
def populated(workspace, priors):
    """A workspace whose ledger already holds the example's events (no run needed)."""
    parsed = read_events(EXAMPLE, priors)
    Ledger(workspace / "forecast.sqlite").commit_update(
        file=str(EXAMPLE), file_sha256=parsed.sha256, new_events=parsed.events, known_count=0, run=None
    )
    return workspace


def _assert_rejected(capsys, args, workspace, fragments):
    before = snapshot(workspace)
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    assert snapshot(workspace) == before
    return err


@pytest.mark.parametrize("command", ["update", "validate"])
@pytest.mark.parametrize(("name", "rows", "line", "column", "message"), BAD_ROWS, ids=[r[0] for r in BAD_ROWS])
def test_bad_row_is_rejected_and_workspace_untouched(tmp_path, populated, capsys, command, name, rows, line, column, message):
    path = write_csv(tmp_path / "bad.csv", *rows)
    fragments = [str(path), f"line {line}", message] + ([column] if column else [])
    _assert_rejected(capsys, [command, str(path), "--workspace", str(populated)], populated, fragments)


def test_bad_input_never_creates_a_workspace(tmp_path, capsys):
    path = write_csv(tmp_path / "bad.csv", "e1,2025-02-18,signal,nope,2.5,,,B,2,x")
    fresh = tmp_path / "fresh"
    _assert_rejected(capsys, ["update", str(path), "--workspace", str(fresh)], fresh, ["line 2"])
    assert not fresh.exists()


def test_id_reused_against_the_ledger(tmp_path, populated, capsys):
    # seed-07 exists in the ledger with signal 2.8; the same id with other content is refused.
    path = write_csv(
        tmp_path / "bad.csv",
        "seed-07,2025-02-21,signal,territorial_rigidity,1.0,,,A,2,changed",
    )
    _assert_rejected(capsys, ["update", str(path), "--workspace", str(populated)], populated,
                     ["line 2", "column 1 ('event_id')", "already in the ledger with different content"])


def test_retraction_of_an_event_in_the_ledger_is_accepted(tmp_path, populated, priors):
    path = write_csv(tmp_path / "r.csv", "r1,2025-02-22,retraction,,,,seed-07,,,mis-coded")
    parsed = read_events(path, priors, Ledger(populated / "forecast.sqlite").known_events())
    assert [e.retracts for e in parsed.events] == ["seed-07"]


def test_wrong_encoding(tmp_path, populated, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "\n" + "e1,2025-02-18,signal,territorial_rigidity,1,,,B,2,Zaporizhzhia caf\xe9\n").encode("latin-1"))
    _assert_rejected(capsys, ["update", str(path), "--workspace", str(populated)], populated,
                     [str(path), "line 2", "column 67", "not UTF-8"])


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n  \n"], ids=["zero bytes", "bom only", "blank lines"])
def test_empty_file(tmp_path, populated, capsys, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    _assert_rejected(capsys, ["update", str(path), "--workspace", str(populated)], populated, [str(path), "line 1", "empty"])


def test_missing_date_column_suggests_the_near_miss(tmp_path, populated, capsys):
    # ('Date' is 'date': headers match whatever their case.)
    path = write_csv(tmp_path / "h.csv", "2025-02-18,territorial_rigidity,1", header="Dates,factor,signal")
    _assert_rejected(capsys, ["validate", str(path), "--workspace", str(populated)], populated,
                     ["line 1", "missing required column 'date'", "column 1 is 'Dates': did you mean 'date'?"])


def test_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.csv"), "--workspace", str(tmp_path)]) == 2
    assert "file not found" in capsys.readouterr().err


def test_reported_before_date(tmp_path, priors):
    path = write_csv(tmp_path / "r.csv", "e1,2025-02-18,2025-02-17,territorial_rigidity,1",
                     header="event_id,date,reported,factor,signal")
    with pytest.raises(Exception, match=r"line 2, column 3 \('reported'\).*before the event's date"):
        read_events(path, priors)


def test_defaults_bom_any_column_order_and_cjk(tmp_path, priors):
    text = "\ufeffdescription,signal,factor,date\n\"领土争端难以调和, 双方立场完全对立\",2.9,territorial_rigidity,2025-02-21\n"
    path = tmp_path / "ok.csv"
    path.write_text(text, encoding="utf-8")
    [event] = read_events(path, priors).events
    assert (event.kind, event.source_reliability, event.info_credibility) == ("signal", "F", "6")
    assert event.reported == dt.date(2025, 2, 21)
    assert event.description == "领土争端难以调和, 双方立场完全对立"
    assert event.event_id.startswith("h") and len(event.event_id) == 16


def test_generated_id_is_stable_and_content_based(tmp_path, priors):
    a = write_csv(tmp_path / "a.csv", "2025-02-18,territorial_rigidity,1.0", header="date,factor,signal")
    b = write_csv(tmp_path / "b.csv", "territorial_rigidity,1,2025-02-18,  ", header="factor,signal,date,actor")
    c = write_csv(tmp_path / "c.csv", "2025-02-18,territorial_rigidity,1.5", header="date,factor,signal")
    ids = [read_events(p, priors).events[0].event_id for p in (a, b, c)]
    assert ids[0] == ids[1] != ids[2]


def test_extra_columns_are_kept_and_warned_once(tmp_path, priors):
    path = write_csv(tmp_path / "x.csv", "2025-02-18,territorial_rigidity,1,Kyiv,n1", "2025-02-19,territorial_rigidity,2,Moscow,",
                     header="date,factor,signal,city,analyst_note")
    parsed = read_events(path, priors)
    assert [e.extras for e in parsed.events] == [{"city": "Kyiv", "analyst_note": "n1"}, {"city": "Moscow"}]
    assert len([w for w in parsed.warnings if "unknown column" in w]) == 1
    assert "'city'" in parsed.warnings[0] and "'analyst_note'" in parsed.warnings[0]


def test_exact_duplicate_row_counted_once_with_warning(tmp_path, priors):
    row = "2025-02-18,territorial_rigidity,1"
    parsed = read_events(write_csv(tmp_path / "d.csv", row, row, header="date,factor,signal"), priors)
    assert len(parsed.events) == 1
    assert any("line 3: repeats line 2" in w for w in parsed.warnings)


def test_multiline_quoted_field_keeps_line_numbers(tmp_path, priors):
    path = write_csv(tmp_path / "m.csv", '2025-02-18,territorial_rigidity,1,"two\nlines"', "2025-02-18,bogus,1,x",
                     header="date,factor,signal,description")
    with pytest.raises(Exception, match=r"line 4, column 2 \('factor'\)"):
        read_events(path, priors)


def test_example_file_is_valid(priors):
    parsed = read_events(EXAMPLE, priors)
    assert 15 <= len(parsed.events) <= 30
    assert not parsed.warnings
    assert {e.factor for e in parsed.events} == set(priors.factors)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in e.description) for e in parsed.events)


def test_each_kind_of_row_is_read_into_exactly_its_fields(tmp_path, priors):
    """Every field of a row of each kind, including the grades' defaults (F and 6 when left blank)
    and lower-case grades read as upper case."""
    from forecast.io.events import Event

    path = write_csv(tmp_path / "e.csv",
                     "s1,2025-02-18,signal,territorial_rigidity,2.5,,,b,2,a reading",
                     "o1,2025-02-19,outcome,,,local_ceasefire,,,,a truce",
                     "r1,2025-02-20,retraction,,,,s0,A,1,mis-coded",
                     header=HEADER)
    day = dt.date(2025, 2, 18)
    expected = [
        Event("s1", "signal", day, day, "territorial_rigidity", 2.5, None, None, "B", "2", "", "a reading", ""),
        Event("o1", "outcome", day + dt.timedelta(days=1), day + dt.timedelta(days=1), None, None, "local_ceasefire", None,
              "F", "6", "", "a truce", ""),
        Event("r1", "retraction", day + dt.timedelta(days=2), day + dt.timedelta(days=2), None, None, None, "s0", "A", "1",
              "", "mis-coded", ""),
    ]
    from forecast.io.events import KnownEvent

    known = {"s0": KnownEvent(kind="signal", content_hash="x")}
    events = read_events(path, priors, known, today=dt.date(2025, 3, 1)).events
    assert events == expected
    assert [e.line for e in events] == [2, 3, 4]


@pytest.mark.parametrize(("row", "message"), [
    ("e1,,signal,territorial_rigidity,1,,,B,2,x", "line 2, column 2 ('date'): a signal row needs a value in 'date'"),
    ("e1,,,territorial_rigidity,1,,,B,2,x", "line 2, column 2 ('date'): a signal row needs a value in 'date'"),
    ("e1,,outcome,,,local_ceasefire,,B,2,x", "line 2, column 2 ('date'): an outcome row needs a value in 'date'"),
    ("e1,2025-02-18,signal,territorial_rigidity,1,,,B,9,x",
     "line 2, column 9 ('info_credibility'): expected an Admiralty information-credibility grade 1-6, got '9'"),
    ("e1,2025-02-18,signal,territorial_rigidity,1,,,G,2,x",
     "line 2, column 8 ('source_reliability'): expected an Admiralty source-reliability grade A-F, got 'G'"),
])
def test_row_errors_say_exactly_what_is_wrong_and_where(tmp_path, priors, row, message):
    from forecast.errors import InputError

    with pytest.raises(InputError) as refused:
        read_events(write_csv(tmp_path / "e.csv", row, header=HEADER), priors, today=dt.date(2025, 3, 1))
    assert str(refused.value) == f"{tmp_path / 'e.csv'}, {message}"


# --- refusals and fields, word for word ---------------------------------------------------------


def _refused(path, priors, **options) -> str:
    with pytest.raises(InputError) as refused:
        read_events(path, priors, today=dt.date(2026, 1, 1), **options)
    return str(refused.value)


def test_an_empty_file_and_a_header_alone_are_refused_word_for_word(tmp_path, priors):
    empty = tmp_path / "empty.csv"
    empty.write_text("\n  \n", encoding="utf-8")
    assert _refused(empty, priors) == (
        f"{empty}, line 1: the file is empty; expected a header row naming at least the 'date' column")
    header_only = write_csv(tmp_path / "h.csv")
    assert _refused(header_only, priors) == f"{header_only}, line 2: no events below the header row"


@pytest.mark.parametrize(("header", "hint"), [
    ("event_id,dat,kind", "; column 2 is 'dat': did you mean 'date'?"),
    ("event_id,when,kind", ""),  # nothing close: no guess
    ("event_id,kind", ""),
])
def test_a_header_without_date_is_refused_with_the_near_miss_named(tmp_path, priors, header, hint):
    path = write_csv(tmp_path / "e.csv", "e1,2025-02-18,signal", header=header)
    assert _refused(path, priors) == f"{path}, line 1: missing required column 'date'{hint}"


def test_blank_lines_between_events_are_skipped_not_the_end(tmp_path, priors):
    path = write_csv(tmp_path / "e.csv", GOOD, ",,,,,,,,,", "", "e2,2025-02-19,signal,territorial_rigidity,1.0,,,B,2,after")
    assert [e.event_id for e in read_events(path, priors).events] == ["e1", "e2"]


def test_the_fields_of_a_row_and_the_file_come_through(tmp_path, priors):
    header = "event_id,date,kind,factor,signal,source_reliability,info_credibility,actor,description,source,note,extra"
    path = write_csv(tmp_path / "e.csv", "e1,2025-02-18,signal,territorial_rigidity,2.5,,,Kremlin,said so,TASS,n,x",
                     "e2,2025-02-19,signal,territorial_rigidity,1.0,B,2,,,,,", header=header)
    parsed = read_events(path, priors)
    e = parsed.events[0]
    assert (e.actor, e.description, e.source) == ("Kremlin", "said so", "TASS")
    assert (e.source_reliability, e.info_credibility) == ("F", "6")  # not graded: cannot be judged
    assert parsed.path == path and parsed.extra_columns == ["note", "extra"]
    assert parsed.warnings[0] == f"{path}: kept unknown column(s) 'note', 'extra' in the ledger as free text"


def test_unknown_columns_are_named_before_the_repeated_rows(tmp_path, priors):
    after = "e2,2025-02-19,signal,territorial_rigidity,1.0,,,B,2,after the repeat,n"
    path = write_csv(tmp_path / "e.csv", GOOD + ",n", GOOD + ",n", after, header=HEADER + ",note")
    parsed = read_events(path, priors)
    assert [e.event_id for e in parsed.events] == ["e1", "e2"]  # the repeat is skipped, not the end of the file
    assert parsed.warnings == [
        f"{path}: kept unknown column(s) 'note' in the ledger as free text",
        f"{path}, line 3: repeats line 2 exactly; counted once",
    ]


def test_an_unknown_kind_is_quoted_as_written(tmp_path, priors):
    path = write_csv(tmp_path / "e.csv", "e1,2025-02-18,Signl,territorial_rigidity,2.5,,,B,2,x")
    assert _refused(path, priors) == f"{path}, line 2, column 3 ('kind'): unknown kind 'Signl'; did you mean 'signal'?"


@pytest.mark.parametrize(("row", "occasions", "message"), [
    ("s1,2025-04-20,scheduled,orthodox_easter,Easter", False,
     "column 4 ('occasion'): unknown occasion type 'orthodox_easter'; "
     "these priors define no occasions (outcomes.yaml, 'occasions')"),
    ("s1,2028-04-20,scheduled,orthodox_easter,x", True,
     "column 2 ('date'): date 2028-04-20 is more than two years ahead; log an occasion when it is scheduled"),
], ids=["priors_without_occasions", "two_years_ahead"])
def test_a_scheduled_row_is_refused_word_for_word(tmp_path, priors, row, occasions, message):
    if not occasions:
        priors = dataclasses.replace(priors, outcomes=dataclasses.replace(priors.outcomes, occasions={}))
    path = write_csv(tmp_path / "e.csv", row, header="event_id,date,kind,occasion,description")
    assert _refused(path, priors) == f"{path}, line 2, {message}"


def test_a_missing_column_a_row_needs_is_named_with_the_article_and_the_near_miss(tmp_path, priors):
    path = write_csv(tmp_path / "e.csv", "o1,2025-02-18,outcome,local_ceasefire,x",
                     header="event_id,date,kind,outcme,description")
    assert _refused(path, priors) == (
        f"{path}, line 2, column 'outcome': an outcome row needs a value in 'outcome'; "
        "the header has no 'outcome' column (did you mean 'outcme'?)")
    plain = write_csv(tmp_path / "f.csv", "o1,2025-02-18,outcome,x", header="event_id,date,kind,description")
    assert _refused(plain, priors) == (
        f"{plain}, line 2, column 'outcome': an outcome row needs a value in 'outcome'; the header has no 'outcome' column")


def test_an_id_in_the_ledger_with_other_content_is_refused_word_for_word(tmp_path, populated, priors):
    path = write_csv(tmp_path / "bad.csv", "seed-07,2025-02-21,signal,territorial_rigidity,1.0,,,A,2,changed")
    known = Ledger(populated / "forecast.sqlite").known_events()
    assert _refused(path, priors, known=known) == (
        f"{path}, line 2, column 1 ('event_id'): id 'seed-07' is already in the ledger with different content; "
        "to change an event, retract it and log a new one")


def test_a_header_error_names_the_file(tmp_path, priors):
    path = write_csv(tmp_path / "e.csv", "e1,2025-02-18,x", header="event_id,date,Date")
    assert _refused(path, priors) == f"{path}, line 1, column 3: column 'Date' appears twice in the header (also column 2)"


def test_the_earliest_date_is_accepted_and_the_day_before_is_not(tmp_path, priors):
    from forecast.io.events import earliest_date

    first = earliest_date(priors.outcomes.start)
    day_before = first - dt.timedelta(days=1)
    ok = write_csv(tmp_path / "ok.csv", f"e1,{first},signal,territorial_rigidity,1.0,,,B,2,x")
    assert [e.date for e in read_events(ok, priors).events] == [first]
    early = write_csv(tmp_path / "early.csv", f"e1,{day_before},signal,territorial_rigidity,1.0,,,B,2,x")
    assert f"{early}, line 2, column 2 ('date'): date {day_before} is " in _refused(early, priors)

