"""The workspace lock and atomic publication of run files."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from forecast.errors import WorkspaceBusy
from forecast.io.workspace import UNCOMMITTED, Workspace


def test_second_holder_fails_fast_when_told_not_to_wait(workspace):
    ws = Workspace(workspace)
    with ws.locked(), pytest.raises(WorkspaceBusy, match="another forecast update holds the workspace"), ws.locked(wait=False):
        pass


def test_second_holder_waits_and_says_so(workspace):
    ws = Workspace(workspace)
    workspace.mkdir(parents=True)
    messages, order = [], []
    with open(workspace / ".lock", "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process's update, as far as the lock can tell

        def second():
            with ws.locked(announce=messages.append):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first done")
        fcntl.flock(other, fcntl.LOCK_UN)
        thread.join(timeout=10)
    assert order == ["first done", "second"]
    assert messages and "waiting for it to finish" in messages[0]


def test_publish_is_all_or_nothing(workspace):
    ws = Workspace(workspace)

    def write_then_fail(folder):
        (folder / "posterior.nc").write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        ws.publish_run_files("r1", write_then_fail)
    assert list(ws.runs_dir.iterdir()) == []
    final = ws.publish_run_files("r2", lambda folder: (folder / "posterior.nc").write_bytes(b"ok"))
    assert (final / "posterior.nc").read_bytes() == b"ok" and [p.name for p in ws.runs_dir.iterdir()] == ["r2"]


def test_unreferenced_run_folders_are_removed_under_the_lock(workspace):
    ws = Workspace(workspace)
    ws.publish_run_files("orphan", lambda folder: (folder / "posterior.nc").write_bytes(b"x"))
    (ws.runs_dir / ".partial-crashed").mkdir()  # killed while writing: the mark is its first file
    (ws.runs_dir / ".partial-crashed" / UNCOMMITTED).write_text("crashed")
    with ws.locked():
        pass
    assert list(ws.runs_dir.iterdir()) == []


def test_workspace_must_be_a_folder(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(Exception, match="must be a folder"), Workspace(path).locked():
        pass


def test_write_atomically_replaces_whole_or_not_at_all_with_ordinary_permissions(tmp_path):
    import os

    from forecast.io.workspace import write_atomically

    target = tmp_path / "reports" / "brief.pdf"
    write_atomically(target, lambda tmp: Path(tmp).write_text("first"))
    old = os.umask(0o022)
    try:
        write_atomically(target, lambda tmp: Path(tmp).write_text("second"))
    finally:
        os.umask(old)
    assert target.read_text() == "second" and (target.stat().st_mode & 0o777) == 0o644

    def half_then_fail(tmp):
        Path(tmp).write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_atomically(target, half_then_fail)
    assert target.read_text() == "second" and [p.name for p in target.parent.iterdir()] == ["brief.pdf"]


def test_a_crashed_briefs_partial_file_is_removed_by_the_next_lock(workspace):
    from forecast.io.workspace import UNCOMMITTED

    ws = Workspace(workspace)
    crashed = ws.reports_dir / ".partial-999999999-abc"  # what write_atomically leaves, for a pid no process has
    crashed.mkdir(parents=True)
    (crashed / UNCOMMITTED).write_text("999999999-abc", encoding="utf-8")
    (crashed / "brief.pdf").write_bytes(b"%PDF-half")
    (ws.reports_dir / "latest.pdf").write_bytes(b"%PDF-good")
    with ws.locked():
        pass
    assert [p.name for p in ws.reports_dir.iterdir()] == ["latest.pdf"]


def _published(ws: Workspace, run_id: str) -> None:
    ws.publish_run_files(run_id, lambda folder: (folder / "posterior.nc").write_bytes(b"draws"))
    ws.mark_committed(run_id)


def test_runs_without_a_ledger_are_counted_and_named_in_the_refusal(workspace):
    from forecast.errors import ForecastError

    ws = Workspace(workspace)
    _published(ws, "r1")
    # A hidden folder with draws in it is not a run (a partial or foreign folder), whatever follows the dot.
    (ws.runs_dir / ".r0").mkdir()
    (ws.runs_dir / ".r0" / "posterior.nc").write_bytes(b"draws")
    assert ws.stored_run_folders() == ["r1"]
    advice = (f"but no ledger (forecast.sqlite); restore {ws.ledger.path} from where it was moved or from a backup, "
              "or give --workspace another folder to start afresh; nothing was changed")
    with pytest.raises(ForecastError) as refused:
        ws.check_ledger()
    assert str(refused.value) == f"{workspace}: 1 stored run in runs/ (r1) {advice}"
    for run_id in ("r2", "r3"):
        _published(ws, run_id)
    with pytest.raises(ForecastError) as refused:
        ws.check_ledger()
    assert str(refused.value) == f"{workspace}: 3 stored runs in runs/ (r1, r2, r3) {advice}"  # all named: no "..."
    _published(ws, "r4")
    with pytest.raises(ForecastError) as refused:
        ws.check_ledger()
    assert str(refused.value) == f"{workspace}: 4 stored runs in runs/ (r1, r2, r3, ...) {advice}"


def test_a_waiting_command_says_how_long_it_will_wait_and_waits_that_long(workspace, monkeypatch):
    ws = Workspace(workspace, lock_timeout=0.5)
    workspace.mkdir(parents=True)
    # The line of the process the kernel lists as holding the flock below (this one) is believed.
    holder = f"pid {os.getpid()}: forecast update e.csv, since 10:00:00"
    (workspace / ".lock").write_text(holder + "\n", encoding="utf-8")
    with open(workspace / ".lock", "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process's update, as far as the lock can tell
        messages = []
        started = time.monotonic()
        with pytest.raises(WorkspaceBusy) as gave_up, ws.locked(announce=messages.append):
            pass
        waited = time.monotonic() - started
        assert waited >= 0.5  # it gives up only once the limit has passed, not before
        assert messages == [f"{workspace}: another forecast command holds the workspace lock ({holder}); "
                            "waiting for it to finish, for at most 0.5 s"]
        assert str(gave_up.value) == (
            f"{workspace}: gave up after 0.5 s waiting for the workspace lock, held by {holder}; nothing was changed. "
            "Try again when it has finished, or wait longer with --wait SECONDS (FORECAST_LOCK_TIMEOUT)")
        # Without a limit it says how to set one (and waits until the holder lets go).
        monkeypatch.delenv("FORECAST_LOCK_TIMEOUT", raising=False)
        messages.clear()
        threading.Timer(0.3, fcntl.flock, (other, fcntl.LOCK_UN)).start()
        with Workspace(workspace).locked(announce=messages.append):
            pass
    assert messages == [f"{workspace}: another forecast command holds the workspace lock ({holder}); "
                        "waiting for it to finish (--wait SECONDS or FORECAST_LOCK_TIMEOUT limits the wait)"]
