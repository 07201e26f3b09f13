"""The workspace lock and atomic publication of run files."""

from __future__ import annotations

import fcntl
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
    ws = Workspace(workspace)
    ws.reports_dir.mkdir(parents=True)
    (ws.reports_dir / ".partial-abc.pdf").write_bytes(b"%PDF-half")
    (ws.reports_dir / "latest.pdf").write_bytes(b"%PDF-good")
    with ws.locked():
        pass
    assert [p.name for p in ws.reports_dir.iterdir()] == ["latest.pdf"]
