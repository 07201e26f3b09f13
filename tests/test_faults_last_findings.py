"""The last findings of the adversarial run (issue 28, items 3 to 5), each replayed and kept fixed.

As in `test_faults.py`: every test here failed before its fix, names the item it keeps fixed, and
checks the words a user reads, and that a refusal leaves the workspace exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE, snapshot
from test_faults import CROWD, _stored_run

from forecast.cli.main import main
from forecast.io.workspace import UNCOMMITTED, Workspace

# --- 3. an empty ledger beside stored runs is a missing one -----------------------------------


def _emptied(ws: Workspace, how: str) -> None:
    ws.ledger.path.unlink()
    if how == "0 bytes":
        ws.ledger.path.write_bytes(b"")
    else:  # an SQLite file, but not one of ours: its schema version is 0
        with contextlib.closing(sqlite3.connect(ws.ledger.path)) as conn:
            conn.execute("CREATE TABLE notes (text TEXT)")
            conn.commit()


@pytest.mark.parametrize("how", ["0 bytes", "no tables: schema version 0"])
def test_3_an_empty_ledger_beside_stored_runs_is_refused_and_nothing_is_touched(workspace, tmp_path, capsys, how):
    ws = Workspace(workspace)
    _stored_run(ws, "20250101T000000Z-aaaaaa")
    _emptied(ws, how)
    (tmp_path / "crowd.csv").write_text(CROWD)
    before = snapshot(workspace)
    expected = (f"error: {workspace}: 1 stored run in runs/ (20250101T000000Z-aaaaaa) but an empty ledger (forecast.sqlite, "
                f"{how}), which lists none of them; restore {ws.ledger.path} from a backup, or give --workspace another "
                "folder to start afresh; nothing was changed\n")
    # Before: status said "no runs yet", and update started a new history beside the old runs.
    for command in (["status"], ["update", EXAMPLE], ["validate", EXAMPLE], ["report"], ["explain"], ["backtest"],
                    ["compare", tmp_path / "crowd.csv"]):
        assert main([*map(str, command), "--workspace", str(workspace)]) == 1, command
        assert capsys.readouterr().err == expected, command
    assert snapshot(workspace) == before


def test_3_an_empty_ledger_with_no_runs_beside_it_is_a_fresh_start(workspace):
    workspace.mkdir()
    (workspace / "forecast.sqlite").write_bytes(b"")
    Workspace(workspace).check_ledger()  # no runs to lose: the first update creates the tables in it


_CRASH_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from forecast.io.workspace import write_atomically

def half(tmp):
    Path(tmp).write_bytes(b"%PDF-half")
    os.kill(os.getpid(), signal.SIGKILL)

write_atomically(Path(sys.argv[1]), half)
"""


def test_3_a_users_partial_file_in_reports_is_kept_and_only_our_crash_leftover_goes(workspace):
    ws = Workspace(workspace)
    ws.reports_dir.mkdir(parents=True)
    mine = {name: b"the user's own" for name in (".partial-notes.pdf", ".partial-1234.txt")}
    for name, content in mine.items():
        (ws.reports_dir / name).write_bytes(content)
    # A brief whose process was killed while writing it.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    crash = subprocess.run([sys.executable, "-c", _CRASH_MID_WRITE, str(ws.reports_dir / "brief.pdf")], env=env, check=False)
    assert crash.returncode == -9
    leftovers = [p for p in ws.reports_dir.iterdir() if p.name not in mine]
    assert len(leftovers) == 1 and (leftovers[0] / UNCOMMITTED).is_file() and (leftovers[0] / "brief.pdf").is_file()
    # One being written right now by a live process (compare and priors check take no lock).
    live = ws.reports_dir / f".partial-{os.getpid()}-live"
    live.mkdir()
    (live / UNCOMMITTED).write_text(f"{os.getpid()}-live", encoding="utf-8")
    with ws.locked():
        pass
    assert sorted(p.name for p in ws.reports_dir.iterdir()) == sorted([*mine, live.name])
    assert all((ws.reports_dir / name).read_bytes() == content for name, content in mine.items())


# --- 4. the last tracebacks: integers too long for Python to read -----------------------------

RANGE = "the range the model's scales allow (a positive parameter from 0.001 to 1000, any other within ±1000)"


@pytest.mark.parametrize(("name", "old", "new", "says"), [
    # 401 digits: float() overflowed ("int too large to convert to float").
    ("outcomes.yaml", "kwargs: {mu: -2.6, sigma: 0.6}", "kwargs: {mu: " + "9" * 401 + ", sigma: 0.6}",
     "line 35: key 'deals.local_ceasefire.baseline.kwargs.mu': an integer of 401 digits is outside -1000 to 1000, " + RANGE),
    # 5,001 digits: PyYAML's int() hit Python's limit of 4,300 digits (a ValueError out of the parser).
    ("outcomes.yaml", "kwargs: {mu: -2.6, sigma: 0.6}", "kwargs: {mu: -" + "9" * 5001 + ", sigma: 0.6}",
     "line 35: key 'deals.local_ceasefire.baseline.kwargs.mu': a negative integer of 5,001 digits is outside -1000 to "
     "1000, " + RANGE),
    ("factors.yaml", "kwargs: {mu: 2.5, sigma: 0.5}", "kwargs: {mu: 2.5, sigma: " + "1" * 5001 + "}",
     "line 15: key 'factors.territorial_rigidity.initial.kwargs.sigma': an integer of 5,001 digits is outside 0.001 to "
     "1000, " + RANGE),
    ("factors.yaml", "kwargs: {mu: 2.5, sigma: 0.5}", "kwargs: {mu: 2.5, sigma: -" + "1" * 5001 + "}",
     "line 15: key 'factors.territorial_rigidity.initial.kwargs.sigma': must be > 0, got a negative integer of 5,001 "
     "digits"),
    ("outcomes.yaml", "value: 12", "value: " + "1" * 5001,
     "line 10: key 'horizon_weeks.value': expected a whole number of weeks from 1 to 520, got an integer of 5,001 digits"),
])
def test_4_a_huge_integer_in_the_priors_is_out_of_range_at_its_key(workspace, tmp_path, capsys, name, old, new, says):
    from test_faults import _edited_priors

    folder = _edited_priors(tmp_path, name, old, new)
    ws = Workspace(workspace)
    _stored_run(ws, "20250101T000000Z-aaaaaa")
    before = snapshot(workspace)
    for command in (["priors", "check", "--out", str(tmp_path / "p.pdf")], ["update", str(EXAMPLE)], ["validate", str(EXAMPLE)]):
        assert main([*command, "--priors", str(folder), "--workspace", str(workspace)]) == 2, command
        assert capsys.readouterr().err == f"error: {folder / name}, {says}\n", command
    assert snapshot(workspace) == before and not (tmp_path / "p.pdf").exists()


@pytest.mark.parametrize(("row", "says"), [
    # Before: matplotlib's "Matplotlib dates must be between year 0001 and 9999", out of the chart.
    ("0001-01-01,0.3,9999-12-31,any_deal", "date 0001-01-01 is more than 12 years before the first run (as of 2025-02-21), "
                                           "refused as a likely typo"),
    ("2999-01-01,0.3,9999-12-31,any_deal", "date 2999-01-01 is in the future"),
])
def test_4_a_crowd_row_dated_out_of_any_runs_reach_is_refused_at_its_line(workspace, tmp_path, capsys, row, says):
    import datetime as dt

    ws = Workspace(workspace)
    _stored_run(ws, "20250101T000000Z-aaaaaa")  # as of 2025-02-21
    crowd = tmp_path / "crowd.csv"
    crowd.write_text(CROWD + row + "\n")
    before = snapshot(workspace)
    assert main(["compare", str(crowd), "--workspace", str(workspace)]) == 2
    assert capsys.readouterr().err == (f"error: {crowd}, line 3, column date: {says}; a forecast's date is when it was made, "
                                       f"from 2013-02-21 to today ({dt.date.today()})\n")
    assert snapshot(workspace) == before


# --- 5. messages that mislead -----------------------------------------------------------------


def test_5_forecast_earliest_after_the_priors_start_is_refused_as_a_setting(workspace, capsys, monkeypatch):
    ws = Workspace(workspace)
    _stored_run(ws, "20250101T000000Z-aaaaaa")
    before = snapshot(workspace)
    # Before: "date 2025-02-17 is 0 years before the priors' start (2025-02-17); ... a fit of 0 years".
    monkeypatch.setenv("FORECAST_EARLIEST", "2025-03-01")
    for command in ("validate", "update"):
        assert main([command, str(EXAMPLE), "--workspace", str(workspace)]) == 2, command
        assert capsys.readouterr().err == (
            "error: FORECAST_EARLIEST=2025-03-01 is after the priors' start (2025-02-17); it sets how long before the start "
            "an event may lie, so expected a date on or before 2025-02-17 (unset, it is 2013-02-17)\n"), command
    assert snapshot(workspace) == before
    monkeypatch.setenv("FORECAST_EARLIEST", "2025-02-17")  # the start itself is a setting that can be meant
    assert main(["validate", str(EXAMPLE), "--workspace", str(workspace)]) == 0


# The console script as a user runs it (python .venv/bin/forecast update ...), holding the lock:
# through Workspace.locked, or with a bare flock that writes no line (a holder on a full disk, or
# one an instant after it took the lock).
_FAKE_FORECAST = """
import fcntl, os, sys, time
from forecast.io.workspace import Workspace
workspace = sys.argv[sys.argv.index("--workspace") + 1]
if os.environ["HOLD"] == "bare":
    handle = open(os.path.join(workspace, ".lock"), "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(120)
with Workspace(workspace).locked():
    print("locked", flush=True)
    time.sleep(120)
"""


@contextlib.contextmanager
def _holding(tmp_path: Path, workspace: Path, how: str):
    script = tmp_path / "bin" / "forecast"
    script.parent.mkdir(exist_ok=True)
    script.write_text(_FAKE_FORECAST)
    path = os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])
    process = subprocess.Popen([sys.executable, str(script), "update", "my events.csv", "--workspace", str(workspace)],
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": path, "HOLD": how})
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_5_the_lock_wait_names_the_current_holder_as_typed_not_a_stale_line(workspace, tmp_path):
    import re
    import shlex

    from forecast.errors import WorkspaceBusy

    workspace.mkdir()
    typed = f"forecast update 'my events.csv' --workspace {shlex.quote(str(workspace))}"
    # A holder writes its line as typed (before: "forecast update my events.csv"), and clears it when it lets go.
    with _holding(tmp_path, workspace, "locked") as pid:
        messages = []
        with pytest.raises(WorkspaceBusy) as gave_up, Workspace(workspace, lock_timeout=0.2).locked(announce=messages.append):
            pass
    assert re.fullmatch(rf"{re.escape(f'{workspace}: another forecast command holds the workspace lock (pid {pid}: {typed}')}"
                        r", since \d\d:\d\d:\d\d\); waiting for it to finish, for at most 0\.2 s", messages[0]), messages
    assert f"held by pid {pid}: {typed}, since " in str(gave_up.value)
    with Workspace(workspace).locked():
        pass
    assert (workspace / ".lock").read_text() == ""
    # A stale line, of a holder killed before it could clear it, while another holds the lock now.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (workspace / ".lock").write_text(f"pid {gone.pid}: forecast update old.csv, since 09:00:00\n")
    with _holding(tmp_path, workspace, "bare") as pid:
        messages = []
        with pytest.raises(WorkspaceBusy) as gave_up, Workspace(workspace, lock_timeout=0.2).locked(announce=messages.append):
            pass
    assert messages == [f"{workspace}: another forecast command holds the workspace lock (pid {pid}: {typed}); waiting for "
                        "it to finish, for at most 0.2 s"]
    assert f"held by pid {pid}: {typed}; nothing was changed" in str(gave_up.value) and "old.csv" not in str(gave_up.value)


def _renamed_factor(tmp_path: Path) -> Path:
    """The default priors with the factor territorial_rigidity renamed territorial_claims."""
    import shutil

    folder = tmp_path / "renamed"
    shutil.copytree(Path(__file__).resolve().parents[1] / "priors", folder)
    for name in ("factors.yaml", "outcomes.yaml"):
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8").replace("territorial_rigidity", "territorial_claims"), encoding="utf-8")
    return folder


def test_5_validate_refuses_new_priors_that_lack_a_factor_the_ledger_reads_as_update_does(workspace, tmp_path, capsys):
    from conftest import write_csv

    from forecast.io.events import read_events
    from forecast.io.priors import load_priors

    ws = Workspace(workspace)
    events = read_events(EXAMPLE, load_priors()).events
    ws.ledger.commit_update(file="events.csv", file_sha256="s", new_events=events, known_count=0, run=None)
    renamed = _renamed_factor(tmp_path)
    later = write_csv(tmp_path / "later.csv", "n1,2025-02-24,signal,territorial_claims,2.0,,,B,2,the factor's new name")
    first = next(e.event_id for e in events if e.factor == "territorial_rigidity")
    before = snapshot(workspace)
    expected = (f"error: event '{first}' in the ledger reads factor 'territorial_rigidity', which these priors do not define; "
                "add it to factors.yaml or retract the event\n")
    for command in ("validate", "update"):  # before: validate said OK, and update refused
        assert main([command, str(later), "--priors", str(renamed), "--workspace", str(workspace)]) == 2, command
        assert capsys.readouterr().err == expected, command
    assert snapshot(workspace) == before


def test_5_validate_refuses_a_workspace_that_is_a_file_as_update_does(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    for command in ("validate", "update"):  # before: validate said OK, and update refused
        assert main([command, str(EXAMPLE), "--workspace", str(path)]) == 1, command
        assert capsys.readouterr().err == f"error: {path}: the workspace must be a folder\n", command
    assert path.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def _no_computing(monkeypatch) -> None:
    import forecast.brief.publish
    import forecast.evaluation.compare
    import forecast.evaluation.priors_check

    def fails(*args, **kwargs):
        raise AssertionError("computed before finding out that the output cannot be written")

    monkeypatch.setattr(forecast.evaluation.compare, "compare", fails)
    monkeypatch.setattr(forecast.evaluation.priors_check, "check_priors", fails)
    monkeypatch.setattr(forecast.brief.publish, "write_report", fails)


@pytest.mark.parametrize("command", ["compare", "priors check", "report"])
def test_5_an_unwritable_output_is_refused_before_computing(workspace, tmp_path, read_only, monkeypatch, capsys, command):
    ws = Workspace(workspace)
    _stored_run(ws, "20250101T000000Z-aaaaaa")
    crowd = tmp_path / "crowd.csv"
    crowd.write_text(CROWD)
    args = {"compare": ["compare", str(crowd)], "priors check": ["priors", "check"], "report": ["report"]}[command]
    _no_computing(monkeypatch)
    (tmp_path / "read-only").mkdir()
    elsewhere = read_only(tmp_path / "read-only")
    # --out in a read-only folder, or in a folder still to be made there.
    for out in (elsewhere / "chart.pdf", elsewhere / "new" / "chart.pdf"):
        assert main([*args, "--out", str(out), "--workspace", str(workspace)]) == 1, out
        assert capsys.readouterr().err == (f"error: {out}: cannot be written (not writable: Read-only file system, in "
                                           f"{elsewhere}); nothing was computed or written: give --out a writable place\n")
    if command == "report":
        return  # without --out, report takes the lock, which says so (test_faults.py, test_13)
    # The default output, in a read-only workspace.
    before = snapshot(workspace)
    read_only(workspace)
    assert main([*args, "--workspace", str(workspace)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {workspace}/reports/") and err.endswith(
        f".pdf: cannot be written (not writable: Read-only file system, in {workspace}); nothing was computed or written: "
        "give --out a writable place\n"), err
    assert snapshot(workspace) == before
