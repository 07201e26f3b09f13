"""Nothing lost, nothing silently wrong: each fault a user or a broken disk can cause, replayed.

Every test here failed before its fix. Each names the item of the issue it keeps fixed. The fast
tier covers what needs no sampler; the sampling tier (`--run-slow`) what needs a real one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE, PRIORS, snapshot, write_csv
from test_ledger import _run

from forecast.cli.main import main
from forecast.errors import ForecastError, InputError
from forecast.io.ledger import Ledger
from forecast.io.workspace import Workspace

TINY = ["--draws", "60", "--tune", "60", "--chains", "2", "--seed", "7"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """A workspace with one real (tiny, flagged) run of the example and no brief."""
    from forecast.inference.fit import FitSettings
    from forecast.updating.pipeline import update

    root = tmp_path_factory.mktemp("fitted") / "ws"
    update(EXAMPLE, Workspace(root), settings=FitSettings(draws=60, tune=60, chains=2, seed=7), progress=False,
           log=lambda message: None, report=False)
    return root


@pytest.fixture
def fitted_copy(fitted, tmp_path) -> Workspace:
    shutil.copytree(fitted, tmp_path / "copy")
    return Workspace(tmp_path / "copy")


@pytest.fixture
def small_disk(tmp_path):
    """`small_disk(size)`: a folder on a tmpfs of that size (root only), unmounted afterwards."""
    mounted = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> None:
    """Fill the disk `folder` is on."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb", buffering=0) as handle:
        while True:
            handle.write(b"x" * 4096)


def _stored_run(workspace: Workspace, run_id: str) -> None:
    """A run as `update` stores it: its folder published, then its ledger row committed."""
    workspace.publish_run_files(run_id, lambda folder: (folder / "posterior.nc").write_bytes(b"draws of " + run_id.encode()))
    workspace.ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run(run_id))
    workspace.mark_committed(run_id)


# --- 1. a missing ledger deletes every stored run --------------------------------------------


def test_1_a_workspace_with_runs_and_no_ledger_is_an_error_that_touches_nothing(workspace, capsys):
    ws = Workspace(workspace)
    _stored_run(ws, "20250101T000000Z-aaaaaa")
    _stored_run(ws, "20250102T000000Z-bbbbbb")
    ws.ledger.path.rename(workspace.parent / "moved-away.sqlite")
    before = snapshot(workspace)
    with pytest.raises(ForecastError, match=r"no ledger.*restore .*forecast\.sqlite.*--workspace"), ws.locked():
        pass
    assert snapshot(workspace) == before
    # Any command that takes the lock says the same and exits 1.
    for command in (["update", str(EXAMPLE)], ["report"], ["explain"], ["backtest"]):
        assert main([*command, "--workspace", str(workspace)]) == 1, command
        err = capsys.readouterr().err
        assert "2 stored runs" in err and "no ledger" in err, (command, err)
    assert snapshot(workspace) == before


def test_1_only_leftovers_this_code_wrote_are_removed(workspace):
    ws = Workspace(workspace)
    _stored_run(ws, "kept")
    # A crash after publishing, before the commit: the folder is marked as not yet committed.
    ws.publish_run_files("crashed", lambda folder: (folder / "posterior.nc").write_bytes(b"x"))
    with ws.locked():
        pass
    assert sorted(p.name for p in ws.runs_dir.iterdir()) == ["kept"]


# --- 3. never delete anything not provably ours ---------------------------------------------


def test_3_an_unrelated_runs_folder_is_left_alone(workspace):
    tensorboard = workspace / "runs" / "Jan01_12-00-00_host"
    tensorboard.mkdir(parents=True)
    (tensorboard / "events.out.tfevents.1").write_bytes(b"tb")
    (workspace / "runs" / ".partial-not-ours").mkdir()  # our prefix, but no mark of ours inside
    before = snapshot(workspace / "runs")
    with Workspace(workspace).locked():
        pass
    assert snapshot(workspace / "runs") == before


def test_3_a_symlinked_runs_folder_keeps_what_it_points_at(workspace, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "experiment").mkdir(parents=True)
    (elsewhere / "experiment" / "notes.txt").write_text("mine")
    ws = Workspace(workspace)
    ws.ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run("r1"))
    (workspace / "runs").symlink_to(elsewhere)
    (elsewhere / "linked").symlink_to(tmp_path)  # a link to a folder inside it, too
    before = snapshot(elsewhere)
    with ws.locked():
        pass
    assert snapshot(elsewhere) == before and (tmp_path / "elsewhere").is_dir()


def test_3_a_restored_older_ledger_deletes_no_run(workspace, tmp_path):
    ws = Workspace(workspace)
    _stored_run(ws, "20250101T000000Z-aaaaaa")
    shutil.copy(ws.ledger.path, tmp_path / "backup.sqlite")
    _stored_run(ws, "20250108T000000Z-bbbbbb")
    shutil.copy(tmp_path / "backup.sqlite", ws.ledger.path)  # the user restores last week's backup
    before = snapshot(ws.runs_dir)
    with ws.locked():
        pass
    assert snapshot(ws.runs_dir) == before


def test_1_status_says_the_ledger_is_missing_not_that_there_are_no_runs(workspace, capsys):
    ws = Workspace(workspace)
    _stored_run(ws, "20250101T000000Z-aaaaaa")
    ws.ledger.path.unlink()
    assert main(["status", "--workspace", str(workspace)]) == 1
    err = capsys.readouterr().err
    assert "no ledger" in err and "no runs yet" not in err


# --- 4. a workspace path with '#' or '?' ----------------------------------------------------


@pytest.mark.parametrize("name", ["a#b", "what?", "100%", "x?mode=rwc#y"])
def test_4_the_ledger_reads_back_from_any_folder_name(tmp_path, name):
    ledger = Ledger(tmp_path / name / "forecast.sqlite")
    ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run("r1"))
    assert [r.run_id for r in ledger.runs()] == ["r1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing created beside it


# --- 13. tracebacks where a message is due: a corrupt ledger --------------------------------


@pytest.mark.parametrize("damage", [b"this is not a database" * 100, "truncated"])
@pytest.mark.parametrize("command", [["status"], ["validate", EXAMPLE], ["update", EXAMPLE], ["report"], ["explain"],
                                     ["backtest"], ["compare", EXAMPLE]])
def test_13_a_corrupt_ledger_is_a_message_for_every_command(workspace, capsys, command, damage):
    ws = Workspace(workspace)
    _stored_run(ws, "r1")
    if damage == "truncated":
        ws.ledger.path.write_bytes(ws.ledger.path.read_bytes()[:1500])
    else:
        ws.ledger.path.write_bytes(damage)
    before = snapshot(workspace)
    assert main([*map(str, command), "--workspace", str(workspace)]) == 1
    err = capsys.readouterr().err
    assert f"{ws.ledger.path}: not a readable forecast ledger" in err and "restore it from a backup" in err
    assert snapshot(workspace) == before


# --- 9. a full disk: one clear message, nothing half-written --------------------------------


def _full_after_connect(monkeypatch, pages: int) -> None:
    """SQLite as on a disk that fills up: each connection may not grow the file past `pages`."""
    connect = sqlite3.connect

    def limited(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", limited)


def test_9_a_full_disk_at_the_ledger_commit_says_so_and_changes_nothing(workspace, priors, monkeypatch):
    from forecast.io.events import read_events

    ws = Workspace(workspace)
    _stored_run(ws, "r1")
    before = snapshot(workspace)
    _full_after_connect(monkeypatch, pages=1)
    events = read_events(EXAMPLE, priors).events
    with pytest.raises(ForecastError, match=r"the disk is full .*database or disk is full.*ledger is as it was") as info:
        ws.ledger.commit_update(file="f", file_sha256="s", new_events=events, known_count=0, run=_run("r2"))
    assert "rollback" not in str(info.value)
    assert snapshot(workspace) == before


def test_9_a_full_disk_while_storing_the_posterior_is_one_message_and_no_crash(small_disk):
    from cli_helpers import forecast

    ws = small_disk("64k") / "ws"
    result = forecast("update", EXAMPLE, "--workspace", ws, "--no-report", "--quiet", *TINY, check=False)
    assert result.returncode == 1, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "the disk is full" in errors[0] and "nothing was stored" in errors[0], result.stderr
    assert "HDF5" not in result.stderr and "Traceback" not in result.stderr
    assert not (ws / "forecast.sqlite").exists() and list((ws / "runs").iterdir()) == []


def test_9_a_full_disk_at_the_commit_of_a_real_update_leaves_no_run_folder(fitted_copy, small_disk, tmp_path):
    from cli_helpers import forecast

    # The ledger on a disk that fills up; the run folders on one with room.
    ws = small_disk("256k") / "ws"
    ws.mkdir()
    shutil.copy(fitted_copy.ledger.path, ws / "forecast.sqlite")
    shutil.move(fitted_copy.runs_dir, tmp_path / "runs")
    (ws / "runs").symlink_to(tmp_path / "runs")
    _fill(ws)
    before = snapshot(tmp_path / "runs")
    later = write_csv(tmp_path / "later.csv", *[f"m{i},2025-02-2{i % 2},signal,external_military_aid,0.5,,,B,2,{'x' * 900}"
                                                 for i in range(40)])
    result = forecast("update", later, "--workspace", ws, "--no-report", "--quiet", "--refit", *TINY, check=False)
    assert result.returncode == 1, result.stderr
    assert "forecast.sqlite: the disk is full" in result.stderr, result.stderr
    assert "rollback" not in result.stderr and "Traceback" not in result.stderr
    assert snapshot(tmp_path / "runs") == before  # the published run folder went with the failed commit


def test_9_a_failed_copy_to_latest_pdf_does_not_leave_it_stale(fitted_copy, monkeypatch):
    import errno

    from forecast.brief import publish

    ws = fitted_copy
    ws.reports_dir.mkdir()
    (ws.reports_dir / publish.LATEST).write_bytes(b"%PDF- the brief of an older run")
    run = ws.ledger.latest_run()

    def disk_full(source, target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(publish.BriefFailed, match=r"latest\.pdf: could not be replaced .*the disk is full.*removed") as info:
        publish.write_report(ws, run)
    assert not (ws.reports_dir / publish.LATEST).exists()
    brief = ws.reports_dir / publish.brief_name(run)
    assert brief.is_file() and str(brief) in str(info.value)
    assert sorted(p.name for p in ws.reports_dir.iterdir()) == [brief.name]  # no partial file


# --- 7 and 13. --out names only regular files; its mistakes are messages ---------------------


def _special_files(tmp_path: Path) -> dict[str, Path]:
    """A character device like /dev/null (made here, so a failing test replaces only this one),
    a named pipe and a folder."""
    import stat

    special = tmp_path / "special"
    special.mkdir()
    os.mknod(special / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mkfifo(special / "fifo")
    (special / "folder.pdf").mkdir()
    return {"a character device": special / "null", "a named pipe (FIFO)": special / "fifo", "a folder": special / "folder.pdf"}


def _out_mistakes(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "a-file").write_text("x")
    return {
        "under a file": (tmp_path / "a-file" / "brief.pdf", "Not a directory"),
        "name too long": (tmp_path / ("x" * 300 + ".pdf"), "File name too long"),
    }


CROWD = "date,probability,deadline,match\n2025-02-21,0.3,2025-06-01,any_deal\n"


def _out_args(command: str, tmp_path: Path) -> list[str]:
    (tmp_path / "crowd.csv").write_text(CROWD)
    return {"report": ["report"], "priors": ["priors", "check", "--draws", "100"],
            "compare": ["compare", str(tmp_path / "crowd.csv")]}[command]


@pytest.mark.parametrize("command", ["report", "priors", "compare"])
def test_7_out_refuses_a_device_a_pipe_or_a_folder(fitted_copy, tmp_path, capsys, command):
    args = _out_args(command, tmp_path)
    for kind, path in _special_files(tmp_path).items():
        mode = path.lstat().st_mode
        assert main([*args, "--out", str(path), "--workspace", str(fitted_copy.root)]) == 1, kind
        err = capsys.readouterr().err
        assert f"{path}: is {kind}, not a regular file" in err and "nothing was written" in err, err
        assert path.lstat().st_mode == mode
    assert list((tmp_path / "special" / "folder.pdf").iterdir()) == []


@pytest.mark.parametrize("command", ["report", "priors", "compare"])
def test_13_out_mistakes_are_messages(fitted_copy, tmp_path, capsys, command):
    args = _out_args(command, tmp_path)
    for case, (path, reason) in _out_mistakes(tmp_path).items():
        assert main([*args, "--out", str(path), "--workspace", str(fitted_copy.root)]) == 1, case
        err = capsys.readouterr().err
        assert f"{path}: " in err and reason in err and "nothing was written" in err, (case, err)


# --- 2. a killed update must not lock the workspace for ever ---------------------------------

HOLD_LOCK = """
import os, sys, time
from forecast.io.workspace import Workspace
with Workspace(sys.argv[1]).locked():
    if sys.argv[2] == "fork":
        child = os.fork()
        if child == 0:  # a worker, as PyMC forks its chains
            time.sleep(120)
            os._exit(0)
        print(child, flush=True)
    print("locked", flush=True)
    time.sleep(120)
"""


def _hold_lock(workspace: Path, mode: str) -> tuple[subprocess.Popen, list[str]]:
    path = [str(Path(__file__).resolve().parents[1]), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}  # this checkout first, then the caller's path
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(workspace), mode], stdout=subprocess.PIPE, text=True, env=env)
    lines = []
    while not lines or lines[-1] != "locked":
        lines.append(process.stdout.readline().strip())
        assert lines[-1] or process.poll() is None, "the lock holder ended early"
    return process, lines[:-1]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def _wait_until(condition, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_2_a_waiting_command_names_the_holder_and_gives_up_after_the_limit(workspace, capsys, monkeypatch):
    from forecast.errors import WorkspaceBusy

    holder, _ = _hold_lock(workspace, "alone")
    try:
        messages = []
        with pytest.raises(WorkspaceBusy, match=rf"gave up after 1 s .*pid {holder.pid}.*--wait SECONDS"), \
                Workspace(workspace, lock_timeout=1).locked(announce=messages.append):
            pass
        assert len(messages) == 1 and f"pid {holder.pid}" in messages[0] and "waiting for it to finish" in messages[0]
        # From the command line: --wait, or FORECAST_LOCK_TIMEOUT.
        assert main(["update", str(EXAMPLE), "--wait", "0.5", "--workspace", str(workspace)]) == 1
        assert "gave up after 0.5 s waiting for the workspace lock, held by" in capsys.readouterr().err
        monkeypatch.setenv("FORECAST_LOCK_TIMEOUT", "0.3")
        assert main(["update", str(EXAMPLE), "--workspace", str(workspace)]) == 1
        err = capsys.readouterr().err
        assert "gave up after 0.3 s" in err and f"pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()


def test_2_children_forked_under_the_lock_die_with_their_parent_and_free_it(workspace):
    import signal

    holder, lines = _hold_lock(workspace, "fork")
    child = int(lines[0])
    try:
        assert _alive(child)
        os.kill(holder.pid, signal.SIGKILL)  # the parent alone, not its process group
        holder.wait()
        assert _wait_until(lambda: not _alive(child), 10), "the forked child outlived its parent"
        with Workspace(workspace, lock_timeout=5).locked():
            pass
    finally:
        _kill_all([child])


def _kill_all(pids: list[int]) -> None:
    """Clean up after a failing test: processes it started that should have died."""
    import signal

    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _bounded_initial_priors(folder: Path) -> Path:
    """The default priors with one initial level bounded (Uniform): a model the compiled density
    does not cover, so PyMC samples it, its chains in forked processes."""
    import copy

    from forecast.io.priors import load_priors, write_priors

    content = copy.deepcopy(load_priors(PRIORS).content)
    first = next(iter(content["factors.yaml"]["factors"].values()))
    first["initial"] = {"dist": "Uniform", "kwargs": {"lower": -3.0, "upper": 3.0},
                        "rationale": "a bounded initial prior: PyMC samples it", "source": "tests/test_faults.py"}
    write_priors(content, folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["compiled", "pymc"])
def test_2_sigkill_of_update_alone_while_it_samples_frees_the_workspace(tmp_path, sampler):
    """The compiled sampler runs its chains in threads of the update; PyMC's (bounded initial
    priors) in forked processes, which must die with it rather than hold the workspace."""
    import signal

    from cli_helpers import FORECAST, forecast
    from test_update_end_to_end import _wait_for

    ws = tmp_path / "ws"
    priors = ["--priors", str(_bounded_initial_priors(tmp_path / "priors"))] if sampler == "pymc" else []
    # Long enough to be caught sampling; it is killed a second in.
    process = subprocess.Popen([FORECAST, "update", str(EXAMPLE), "--workspace", str(ws), "--draws", "20000", "--tune", "1000",
                                "--chains", "2", "--no-report", *priors], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(process, "Multiprocess sampling" if sampler == "pymc" else "sampling 2 chains")
        if sampler == "pymc":
            assert _wait_until(lambda: len(_children(process.pid)) >= 2, 30)
        workers = _children(process.pid)
        os.kill(process.pid, signal.SIGKILL)  # the parent alone, not its process group
    finally:
        process.kill()
        process.wait()
    try:
        assert _wait_until(lambda: not any(_alive(pid) for pid in workers), 10), "the sampler's workers outlived the update"
    finally:
        _kill_all(workers)
    result = forecast("update", EXAMPLE, "--workspace", ws, "--no-report", "--quiet", "--wait", "10", *TINY, *priors, check=False)
    assert result.returncode in (0, 3), result.stderr
    assert "waiting" not in result.stderr and "gave up" not in result.stderr


# --- 5. an unclosed quote swallows the rows after it ------------------------------------------


def test_5_an_unclosed_quote_in_events_is_an_error_at_the_line_it_opened(tmp_path, capsys):
    path = write_csv(tmp_path / "e.csv",
                     "a1,2025-02-17,signal,territorial_rigidity,2.0,,,B,2,fine",
                     'a2,2025-02-18,signal,territorial_rigidity,2.0,,,B,2,"talks resume',
                     "a3,2025-02-19,signal,territorial_rigidity,2.0,,,B,2,swallowed",
                     "a4,2025-02-20,signal,territorial_rigidity,2.0,,,B,2,swallowed too")
    assert main(["validate", str(path), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line 3, column 10 ('description'): " in err and "quote" in err and "never closed" in err, err


def test_5_an_unclosed_quote_in_a_crowd_file_is_an_error_at_the_line_it_opened(tmp_path):
    from forecast.errors import InputError
    from forecast.evaluation.compare import read_crowd

    path = tmp_path / "crowd.csv"
    path.write_text('date,probability,deadline,match,question\n2025-02-21,0.3,2025-06-01,any_deal,"Ceasefire by June?\n'
                    "2025-03-01,0.4,2025-06-01,any_deal,swallowed\n")
    with pytest.raises(InputError, match=r"line 2, column 5 \('question'\): .*never closed"):
        read_crowd(path, ["local_ceasefire", "energy_food_deal", "protracted_war"])


def test_5_a_stray_quote_inside_a_quoted_field_is_an_error_too(tmp_path, capsys):
    path = write_csv(tmp_path / "e.csv", 'a1,2025-02-17,signal,territorial_rigidity,2.0,,,B,2,"he said "no" today"')
    assert main(["validate", str(path), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line 2" in err and '""' in err, err


# --- 11. input that never ends ---------------------------------------------------------------


def _crowd(tmp_path: Path) -> Path:
    path = tmp_path / "crowd.csv"
    path.write_text(CROWD)
    return path


def _priors_with(tmp_path: Path, make) -> Path:
    folder = tmp_path / "priors"
    shutil.copytree(Path(__file__).resolve().parents[1] / "priors", folder)
    (folder / "factors.yaml").unlink()
    make(folder / "factors.yaml")
    return folder


def _inputs(tmp_path: Path, fitted_copy: Workspace, make) -> dict[str, list[str]]:
    """The three kinds of input, each replaced by what `make(path)` creates."""
    events = tmp_path / "events.csv"
    make(events)
    crowd = tmp_path / "bad-crowd.csv"
    make(crowd)
    ws = ["--workspace", str(fitted_copy.root)]
    return {
        str(events): ["validate", str(events), *ws],
        str(tmp_path / "priors" / "factors.yaml"): ["priors", "check", "--priors", str(_priors_with(tmp_path, make)), *ws],
        str(crowd): ["compare", str(crowd), *ws],
    }


@pytest.mark.parametrize("kind", ["a character device", "a named pipe (FIFO)"])
def test_11_a_device_or_a_pipe_is_refused_without_reading_it(fitted_copy, tmp_path, kind):
    from cli_helpers import forecast

    def make(path: Path) -> None:
        if kind == "a named pipe (FIFO)":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/zero")

    for path, args in _inputs(tmp_path, fitted_copy, make).items():
        result = forecast(*args, check=False, timeout=60)  # before: a FIFO hung, /dev/zero ate the memory
        assert result.returncode == 2, result.stderr
        assert f"{path}: is {kind}, not a regular file" in result.stderr, result.stderr


def test_11_an_input_over_the_size_limit_says_what_the_limit_is(fitted_copy, tmp_path, capsys, monkeypatch):
    def make(path: Path) -> None:
        with open(path, "wb") as handle:
            handle.truncate(3 * 1024**3)  # 3 GB, sparse: nothing is written

    for path, args in _inputs(tmp_path, fitted_copy, make).items():
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"{path}: is 3072.0 MB, over the " in err and "MB limit for " in err, err
        assert ("FORECAST_MAX_INPUT_MB" in err) == ("priors" not in path), err
    monkeypatch.setenv("FORECAST_MAX_INPUT_MB", "0.001")
    assert main(["validate", str(EXAMPLE), "--workspace", str(fitted_copy.root)]) == 2
    assert "over the 0.001 MB limit for an events file" in capsys.readouterr().err


# --- 13. unreadable inputs, symlink loops, over-long names -----------------------------------


def test_13_unreadable_inputs_are_messages(fitted_copy, tmp_path, capsys, monkeypatch):
    def loop(path: Path) -> None:
        path.symlink_to(path)

    for path, args in _inputs(tmp_path, fitted_copy, loop).items():
        assert main(args) == 2, path
        err = capsys.readouterr().err
        assert f"{path}: cannot be read (Too many levels of symbolic links)" in err, err
    for dirty in ("loop", "bad-crowd.csv", "events.csv", "priors"):
        shutil.rmtree(tmp_path / dirty, ignore_errors=True)
        with contextlib.suppress(OSError):
            (tmp_path / dirty).unlink()

    long_name = tmp_path / ("x" * 300 + ".csv")
    assert main(["validate", str(long_name), "--workspace", str(fitted_copy.root)]) == 2
    assert "cannot be read (File name too long)" in capsys.readouterr().err

    denied = write_csv(tmp_path / "denied.csv", "a1,2025-02-17,signal,territorial_rigidity,2.0,,,B,2,x")
    real_open = Path.open

    def no_permission(self, *args, **kwargs):  # root reads anything; an analyst's account does not
        if self == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", no_permission)
    assert main(["validate", str(denied), "--workspace", str(fitted_copy.root)]) == 2
    assert f"{denied}: cannot be read (Permission denied)" in capsys.readouterr().err


# --- 14. small but misleading ----------------------------------------------------------------


def test_14_headers_match_whatever_their_case(tmp_path, priors):
    from forecast.io.events import read_events

    path = write_csv(tmp_path / "e.csv", "a1,2025-02-17,2025-02-20,signal,territorial_rigidity,2.0,B,2",
                     header="Event_ID,Date,Reported,Kind,Factor,Signal,Source_Reliability,Info_Credibility")
    parsed = read_events(path, priors)
    event = parsed.events[0]
    assert event.reported == dt.date(2025, 2, 20) and event.event_id == "a1" and event.source_reliability == "B"
    assert parsed.extra_columns == [] and parsed.warnings == []
    with pytest.raises(InputError, match=r"line 1, column 2: column 'DATE' appears twice in the header \(also column 1\)"):
        read_events(write_csv(tmp_path / "twice.csv", "2025-02-17,2025-02-17", header="date,DATE"), priors)


@pytest.mark.parametrize(("content", "says"), [
    ("date,kind\n2025-02-17,signal\n".encode("utf-16"), "is UTF-16 text, not UTF-8"),
    ("date,kind\n2025-02-17,signal\n".encode("utf-16-le"), "is UTF-16 text, not UTF-8"),
    (b"date\tkind\tfactor\tsignal\n2025-02-17\tsignal\tterritorial_rigidity\t2\n", "separated by tabs, not commas"),
    (b"date;kind;factor;signal\n2025-02-17;signal;territorial_rigidity;2\n", "separated by semicolons, not commas"),
])
def test_14_utf16_tab_and_semicolon_files_are_named_for_what_they_are(tmp_path, priors, content, says):
    from forecast.evaluation.compare import read_crowd
    from forecast.io.events import read_events

    path = tmp_path / "e.csv"
    path.write_bytes(content)
    for read in (lambda: read_events(path, priors), lambda: read_crowd(path, ["a", "b"])):
        with pytest.raises(InputError, match=rf"{path}, line 1: {says}"):
            read()


def test_14_control_characters_from_the_input_are_escaped_in_messages(tmp_path, capsys):
    path = write_csv(tmp_path / "e.csv", "a1,2025-02-17,signal,\x1b[2J\x1b[31mterritorial\u202e,2.0,,,B,2,x",
                     "a2,2025-02-18,signal,territorial_rigidity,2.0,,,B,2,x")
    assert main(["validate", str(path), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err
    assert r"unknown factor '\x1b[2J\x1b[31mterritorial\u202e'" in err


# --- 8. typo dates far in the past -----------------------------------------------------------


def test_8_a_date_decades_before_the_priors_start_is_refused_at_its_line_and_column(tmp_path, priors, monkeypatch):
    from forecast.io.events import read_events

    typo = write_csv(tmp_path / "typo.csv", "a1,2025-02-17,signal,territorial_rigidity,2.0,,,B,2,fine",
                     "a2,1900-01-01,signal,territorial_rigidity,2.0,,,B,2,typo")
    with pytest.raises(InputError, match=r"line 3, column 2 \('date'\): date 1900-01-01 is 125 years before the priors' "
                                         r"start \(2025-02-17\).*FORECAST_EARLIEST"):
        read_events(typo, priors)
    reported = write_csv(tmp_path / "reported.csv", "a1,2025-02-17,1925-02-17,signal,territorial_rigidity,2.0",
                         header="event_id,date,reported,kind,factor,signal")
    with pytest.raises(InputError, match=r"line 2, column 3 \('reported'\)"):
        read_events(reported, priors)
    # A real record from 2022, and one from 2014, pass.
    assert read_events(Path(__file__).resolve().parents[1] / "examples" / "history-2022-2026.csv", priors).events[0].date == dt.date(2022, 2, 24)
    read_events(write_csv(tmp_path / "2014.csv", "a1,2014-02-20,signal,territorial_rigidity,2.0,,,B,2,Maidan"), priors)
    # The setting moves the limit.
    monkeypatch.setenv("FORECAST_EARLIEST", "1899-12-31")
    assert read_events(typo, priors).events[1].date == dt.date(1900, 1, 1)
    monkeypatch.setenv("FORECAST_EARLIEST", "01/01/1990")
    with pytest.raises(InputError, match="FORECAST_EARLIEST='01/01/1990': expected a date YYYY-MM-DD"):
        read_events(typo, priors)


# --- 12. priors ------------------------------------------------------------------------------


def _edited_priors(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "priors"
    if not folder.exists():
        shutil.copytree(Path(__file__).resolve().parents[1] / "priors", folder)
    text = (folder / name).read_text(encoding="utf-8")
    assert old in text, old
    (folder / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


# Eleven lists of nine references to the one before: 9**11 items once expanded, 300 bytes as written.
BOMB = "[&l0 [lol], " + ", ".join(f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 12)) + "]"


def test_12_a_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path):
    import resource

    folder = _edited_priors(tmp_path, "observation.yaml", "kwargs: {mu: -0.69, sigma: 0.35}", f"kwargs: {{mu: {BOMB}, sigma: 0.35}}")

    def limit_memory():  # before the fix this exhausted the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-m", "forecast.cli.main", "priors", "check", "--priors", str(folder), "--out",
                             str(tmp_path / "p.pdf")], capture_output=True, text=True, env=env, timeout=120, preexec_fn=limit_memory)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{folder / 'observation.yaml'}, line " in result.stderr and "alias" in result.stderr, result.stderr[-2000:]
    assert len(result.stderr) < 1000


def test_12_duplicate_keys_are_an_error_naming_both_lines(tmp_path):
    from forecast.io.priors import load_priors

    folder = _edited_priors(tmp_path, "observation.yaml", "nu:\n  value: 4\n", "nu:\n  value: 4\n  value: 40\n")
    with pytest.raises(InputError, match=r"observation\.yaml, line 15, column 3: .*key 'value' appears twice in this mapping \(also line 14\)"):
        load_priors(folder)


def test_12_a_number_in_exponent_form_is_a_number(tmp_path):
    from forecast.io.priors import load_priors

    folder = _edited_priors(tmp_path, "factors.yaml", "kwargs: {mu: -2.92, sigma: 0.6}", "kwargs: {mu: -2.92, sigma: 6e-1}")
    assert load_priors(folder).factors["territorial_rigidity"].volatility.kwargs == {"mu": -2.92, "sigma": 0.6}


@pytest.mark.parametrize(("name", "old", "new", "says"), [
    ("observation.yaml", "kwargs: {mu: -0.69, sigma: 0.35}", "kwargs: {mu: -0.69, sigma: 1.0e-300}", "key 'noise.kwargs.sigma': 1e-300 is outside"),
    ("observation.yaml", "A: {value: 0.6,", "A: {value: 1.0e+300,", "key 'reliability.A.value': 1e+300 is outside"),
    ("factors.yaml", "kwargs: {mu: 2.5, sigma: 0.5}", "kwargs: {mu: 2.5, sigma: 1.0e+300}", "key 'factors.territorial_rigidity.initial.kwargs.sigma'"),
    ("outcomes.yaml", "kwargs: {mu: -2.6, sigma: 0.6}", "kwargs: {mu: 1.0e+6, sigma: 0.6}", "key 'deals.local_ceasefire.baseline.kwargs.mu': 1e+06 is outside"),
])
def test_12_priors_check_refuses_numbers_the_sampler_cannot_work_with(tmp_path, capsys, name, old, new, says):
    folder = _edited_priors(tmp_path, name, old, new)
    assert main(["priors", "check", "--priors", str(folder), "--out", str(tmp_path / "p.pdf")]) == 2
    err = capsys.readouterr().err
    assert says in err and "0.001 to 1000" in err, err


def test_12_a_sampler_failure_is_a_message_naming_the_priors(fitted_copy, monkeypatch, capsys):
    from pymc.exceptions import SamplingError

    import forecast.inference.sampler as sampler

    def fails(*args, **kwargs):
        raise SamplingError("Initial evaluation of model at starting point failed!")

    monkeypatch.setattr(sampler, "sample", fails)
    before = snapshot(fitted_copy.root)
    later = write_csv(fitted_copy.root.parent / "later.csv", "m1,2025-02-24,signal,external_military_aid,0.5,,,B,2,x")
    assert main(["update", str(later), "--refit", "--workspace", str(fitted_copy.root), *TINY]) == 1
    err = capsys.readouterr().err
    assert "the sampler could not fit the model" in err and "Initial evaluation" in err and "priors" in err, err
    assert "Traceback" not in err
    after = snapshot(fitted_copy.root)
    assert {k: v for k, v in after.items() if k != ".lock"} == {k: v for k, v in before.items() if k != ".lock"}


# --- 15 and 16. honest numbers for reweighted draws -------------------------------------------


def test_15_a_reweighted_run_counts_the_draws_both_weightings_leave(priors):
    from forecast.inference.diagnostics import reweighted_diagnostics

    base = _run(chains=4, draws=1000, diagnostics={"r_hat_max": 1.002, "ess_bulk_min": 2000.0, "ess_tail_min": 1500.0,
                                                   "divergences": 0, "sampling_seconds": 10.0, "chains": 4})
    d = reweighted_diagnostics(base, pareto_k=0.3, ess=1000.0, seconds=1.0)
    # 1,000 of 4,000 draws by the weights, 2,000 (1,500) of 4,000 by the chains: 500 (375) effective draws.
    assert d["ess_bulk_min"] == pytest.approx(500.0) and d["ess_tail_min"] == pytest.approx(375.0)
    assert d["weights_ess"] == 1000.0 and d["passed"] is False and any("tail ESS 375 < 400" in p for p in d["problems"])


def test_16_the_pareto_k_limit_follows_the_number_of_draws():
    import numpy as np

    from forecast.inference.importance import importance_weights, pareto_k_limit

    assert pareto_k_limit(4000) == 0.7 and pareto_k_limit(1000) == pytest.approx(2 / 3)
    assert pareto_k_limit(200) == pytest.approx(1 - 1 / np.log10(200))
    u = (np.arange(200) + 0.5) / 200
    weights = importance_weights(np.log((u**-0.6 - 1) / 0.6))  # a tail with k near 0.57
    assert pareto_k_limit(200) < weights.pareto_k < 0.7
    assert weights.limit == pytest.approx(pareto_k_limit(200)) and not weights.reliable


# --- the brief: 6 (long text), 12 (a label with '$'), 14 (right-to-left text), 17 (the stamp) ---

HEBREW = "הפסקת אש מקומית בזפוריז'יה"  # "a local ceasefire in Zaporizhzhia"
ARABIC = "وقف إطلاق النار"  # "ceasefire"
DOLLAR_LABEL = r"Local ceasefire ($\undefined$ per day)"


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> Workspace:
    """A real (tiny) run whose events and priors hold text the brief once could not draw."""
    from forecast.inference.fit import FitSettings
    from forecast.updating.pipeline import update

    root = tmp_path_factory.mktemp("odd")
    folder = _edited_priors(root, "outcomes.yaml", "label: Local ceasefire", f"label: '{DOLLAR_LABEL}'")
    rows = [
        "long-words,2025-02-18,signal,territorial_rigidity,2.0,,,B,2," + "talks " * 500,
        "long-word,2025-02-18,signal,security_guarantee_gap,2.0,,,B,2," + "x" * 3000,
        f"hebrew,2025-02-19,signal,external_military_aid,1.0,,,B,2,{HEBREW}",
        f"arabic,2025-02-19,signal,domestic_hawkishness,1.0,,,B,2,{ARABIC} 2025",
        "i" * 400 + ",2025-02-20,signal,domestic_hawkishness,1.0,,,B,2,a long id",
    ]
    events = write_csv(root / "odd.csv", *rows)
    workspace = Workspace(root / "ws")
    update(events, workspace, priors_dir=folder, settings=FitSettings(draws=60, tune=60, chains=2, seed=7), progress=False,
           log=lambda message: None, report=False)
    return workspace


@pytest.fixture(scope="module")
def odd_brief(odd) -> Path:
    from forecast.brief.publish import write_report

    return write_report(odd, odd.ledger.latest_run())


def test_6_a_3000_character_description_is_cut_with_a_mark_and_the_brief_is_written(odd_brief):
    from brief_helpers import pdf_text

    text = pdf_text(odd_brief)
    assert "Event log" in text and "talks talks" in text
    assert "characters in all" in text  # the mark of a cut
    assert "talks " * 500 not in text and "x" * 3000 not in text.replace(" ", "")


def test_6_a_priors_label_is_a_name_not_a_paragraph(tmp_path):
    from forecast.io.priors import load_priors

    folder = _edited_priors(tmp_path, "factors.yaml", "label: Territorial rigidity", "label: " + "Territorial rigidity " * 20)
    with pytest.raises(InputError, match=r"factors\.yaml, line 12: key 'factors\.territorial_rigidity\.label': a label of 419 "
                                         r"characters; a label is a name of at most 80"):
        load_priors(folder)


def test_12_a_label_with_dollar_signs_is_drawn_as_written(odd, odd_brief, tmp_path):
    from brief_helpers import pdf_text

    assert DOLLAR_LABEL in pdf_text(odd_brief)
    assert main(["priors", "check", "--priors", str(odd.root.parent / "priors"), "--draws", "100",
                 "--out", str(tmp_path / "check.pdf")]) == 0


def test_14_right_to_left_text_is_drawn_in_visual_order_and_arabic_is_joined():
    from forecast.brief.bidi import visual

    assert visual("שלום עולם") == "םלוע םולש"
    assert visual("talks in שלום עולם today") == "talks in םלוע םולש today"
    assert visual("שלום 2025 עולם") == "םלוע 2025 םולש"  # numbers keep their order
    assert visual("מחיר (כסף)") == "(ףסכ) ריחמ"  # brackets mirrored
    # Arabic: joined forms (initial, medial, final) in visual order; lam-alef as one ligature.
    assert visual("سلام") == "\ufee1\ufefc\ufeb3"  # meem, lam-alef, seen
    assert visual("بيت") == "\ufe96\ufef4\ufe91"
    assert visual("Latin only") == "Latin only"


def test_14_the_brief_draws_hebrew_and_arabic_so_that_they_read_back_as_written(odd_brief):
    import re
    import subprocess as sp

    # Drawn right to left, with Arabic letters joined; pdftotext gives back the letters as they
    # were typed, in reading order (it marks right-to-left runs with U+202B ... U+202C, and the
    # brief an LRM after each).
    raw = sp.run(["pdftotext", "-enc", "UTF-8", str(odd_brief), "-"], capture_output=True, text=True, check=True).stdout
    text = re.sub(r"\s+", " ", re.sub("[\u200e\u202b\u202c]", "", raw))
    assert HEBREW in text
    assert f"{ARABIC} 2025" in text


def test_17_a_reweighted_run_is_stamped_as_such_and_narrowing_below_0_is_shown(odd, tmp_path):
    from brief_helpers import pdf_text

    from forecast.brief.content import collect
    from forecast.brief.pdf import render_brief

    run = odd.ledger.latest_run()
    base = "20250101T000000Z-abcdef"
    reweighted = dataclasses.replace(run, diagnostics={**run.diagnostics, "method": "reweighted", "base_run": base,
                                                       "pareto_k": 0.31, "weights_ess": 90.0})
    brief = collect(odd, run)
    lo, hi = brief.prior_posterior[0].prior_interval
    wider = (lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))  # a posterior 20 % wider than its prior
    pairs = [dataclasses.replace(brief.prior_posterior[0], posterior_interval=wider), *brief.prior_posterior[1:]]
    brief = dataclasses.replace(brief, run=reweighted, prior_posterior=pairs)
    text = pdf_text(render_brief(brief, tmp_path / "b.pdf"))
    stamp = text[text.index("Reproducibility stamp"):]
    assert f"reweighted (Pareto-smoothed importance sampling) draws of run {base}" in stamp
    assert "NUTS, 2 chains" not in stamp.split("Sampler", 1)[1].split("Posterior file")[0].split("run " + base)[0]
    assert f"--as-of {run.as_of}" in stamp and f"whose last sampled run is {base}" in stamp
    narrowed = pairs[0].narrowing
    assert narrowed < 0 and "Narrowed by" in text and f" {100 * narrowed:.0f} %" in text


# --- 10. a corrupt posterior of the last run -------------------------------------------------


def _passing(workspace: Workspace) -> None:
    """Mark the (tiny, flagged) stored run as one that passed, so that updates try to reweight it."""
    with sqlite3.connect(workspace.ledger.path) as conn:
        conn.execute("UPDATE runs SET status = 'ok'")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_10_a_damaged_posterior_of_the_last_run_means_a_refit_not_a_crash(fitted_copy, capsys, damage):
    ws = fitted_copy
    _passing(ws)
    run = ws.ledger.latest_run()
    posterior = ws.root / run.posterior
    content = posterior.read_bytes()
    posterior.write_bytes(content[: len(content) // 2] if damage == "truncated" else b"\x89HDF\r\n" + os.urandom(4096))
    later = write_csv(ws.root.parent / "later.csv", "m1,2025-02-24,signal,external_military_aid,0.5,,,B,2,x")
    code = main(["update", str(later), "--no-report", "--workspace", str(ws.root), *TINY])
    err = capsys.readouterr().err
    assert code == 3, err  # refitted (and flagged: 60 draws)
    assert f"refitting: the posterior file of run {run.run_id} cannot be read" in err and "Traceback" not in err
    assert len(ws.ledger.runs()) == 2 and ws.ledger.latest_run().diagnostics["method"] == "sampled"


# --- 13. a read-only workspace, an immutable ledger: said before any fit ---------------------


def _no_fits(monkeypatch) -> None:
    import forecast.inference.fit as fit

    def fails(*args, **kwargs):
        raise AssertionError("fitted before finding out that nothing can be written")

    monkeypatch.setattr(fit, "fit_forecast", fails)
    import forecast.inference.sampler as sampler

    monkeypatch.setattr(sampler, "sample", fails)


@pytest.mark.parametrize("command", ["backtest", "update", "report", "explain"])
def test_13_a_read_only_workspace_is_said_before_any_work(fitted_copy, read_only, monkeypatch, capsys, command):
    _no_fits(monkeypatch)
    later = write_csv(fitted_copy.root.parent / "later.csv", "m1,2025-02-24,signal,external_military_aid,0.5,,,B,2,x")
    args = {"backtest": ["backtest", *TINY], "update": ["update", str(later), "--refit", *TINY], "report": ["report"],
            "explain": ["explain"]}[command]
    read_only(fitted_copy.root)
    assert main([*args, "--workspace", str(fitted_copy.root)]) == 1
    err = capsys.readouterr().err
    assert f"{fitted_copy.root}" in err and "not writable" in err and "Read-only file system" in err, err


def test_13_an_immutable_ledger_is_said_before_the_fit(fitted_copy, monkeypatch, capsys):
    _no_fits(monkeypatch)
    ledger = fitted_copy.ledger.path
    if subprocess.run(["chattr", "+i", str(ledger)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        later = write_csv(fitted_copy.root.parent / "later.csv", "m1,2025-02-24,signal,external_military_aid,0.5,,,B,2,x")
        assert main(["update", str(later), "--refit", "--workspace", str(fitted_copy.root), *TINY]) == 1
        err = capsys.readouterr().err
        assert f"{ledger}: not writable (Operation not permitted)" in err, err
    finally:
        subprocess.run(["chattr", "-i", str(ledger)], check=True)


# --- 14. backtest --horizon 0; a report that waited for an update -----------------------------


def test_14_backtest_horizon_0_is_refused(fitted_copy, monkeypatch, capsys):
    _no_fits(monkeypatch)
    assert main(["backtest", "--horizon", "0", "--workspace", str(fitted_copy.root), *TINY]) == 2
    assert "--horizon must be from 1 to 52 weeks" in capsys.readouterr().err


def test_14_a_report_that_waited_for_an_update_renders_the_run_that_update_made(fitted_copy, monkeypatch, capsys):
    import threading

    from forecast.brief import publish

    rendered = []
    monkeypatch.setattr(publish, "write_report", lambda workspace, run, out=None: rendered.append(run.run_id) or Path("x.pdf"))
    holder, _ = _hold_lock(fitted_copy.root, "alone")  # an update at work
    try:
        thread = threading.Thread(target=main, args=(["report", "--workspace", str(fitted_copy.root)],))
        thread.start()
        assert _wait_until(lambda: "waiting" in capsys.readouterr().err, 10)
        fitted_copy.ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0,
                                         run=_run("the-new-run", created_at="2999-01-01T00:00:00+00:00"))
    finally:
        holder.kill()
        holder.wait()
    thread.join(timeout=30)
    assert rendered == ["the-new-run"]


# --- 18. the code version outside a git checkout ---------------------------------------------


def test_18_outside_git_the_code_version_is_a_hash_of_the_source(tmp_path):
    package = tmp_path / "installed" / "forecast"
    shutil.copytree(Path(__file__).resolve().parents[1] / "forecast", package, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(package.parent)}

    def version() -> str:
        return subprocess.run([sys.executable, "-c", "from forecast.io.version import code_version; print(code_version())"],
                              capture_output=True, text=True, env=env, check=True, cwd=tmp_path).stdout.strip()

    from forecast import __version__

    first = version()
    assert first.startswith(f"{__version__}+src.") and first != __version__
    assert version() == first  # the same code, the same version
    model = package / "model" / "graph.py"
    model.write_text(model.read_text() + "\n# an edit\n")
    assert version() != first  # edited code does not reuse old draws
