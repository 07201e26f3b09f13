"""A real dask cluster (sampling tier): a scheduler and two workers started as separate processes,
as an analyst's team would start them (docs/SCALING.md), a backtest run through them, one worker
killed in the middle of a task, and nothing left running afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLE

from forecast.evaluation.backtest import BacktestSettings, run_backtest
from forecast.inference.fit import FitSettings
from forecast.io.events import read_events

pytestmark = pytest.mark.slow

DASK = str(Path(sys.executable).parent / "dask")
FIT = FitSettings(draws=150, tune=150, chains=2, seed=11)
SETTINGS = {"start": None, "every_weeks": 2, "horizon": 4}


def _events(priors):
    spring = EXAMPLE.parent / "events-2025-spring.csv"
    return [*read_events(EXAMPLE, priors).events, *read_events(spring, priors).events]


def _children(pid: int) -> list[int]:
    """Every descendant of `pid`."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current:
                found.append(child)
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Cluster:
    """`dask scheduler` and two `dask worker` processes, each in its own process group."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.processes: list[subprocess.Popen] = []

    def start(self) -> str:
        env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "True"}
        self.processes.append(subprocess.Popen(
            [DASK, "scheduler", "--scheduler-file", str(self.file), "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "scheduler.log").open("w"), start_new_session=True, env=env))
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(self.file.read_text())["address"]
        for i in range(2):
            self.processes.append(subprocess.Popen(
                [DASK, "worker", "--scheduler-file", str(self.file), "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                 "--preload", "forecast.evaluation.worker_setup", "--name", f"w{i}"],
                stdout=subprocess.DEVNULL, stderr=(self.folder / f"worker{i}.log").open("w"), start_new_session=True, env=env))
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        return address

    def worker_pids(self) -> list[int]:
        """The worker processes proper (each `dask worker` is a nanny that runs one)."""
        return [child for nanny in self.processes[1:] for child in _children(nanny.pid)]

    def stop(self) -> list[int]:
        everything = [p.pid for p in self.processes] + [c for p in self.processes for c in _children(p.pid)]
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        return everything


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c, c.start()
    finally:
        started = c.stop()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = [pid for pid in started if _alive(pid)]
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        assert not survivors, f"processes of the cluster outlived the test: {survivors}"


def test_a_backtest_on_a_cluster_equals_the_one_in_this_process_even_when_a_worker_dies(priors, cluster):
    c, address = cluster
    events = _events(priors)
    here = run_backtest(events, priors, BacktestSettings(**SETTINGS), FIT)
    assert len(here["origins"]) >= 4 and here["model_fits"]["sampled"] >= 2

    lines: list[str] = []
    killed: list[int] = []

    def log(message: str) -> None:
        lines.append(message)
        if len(lines) == 1:  # a task has finished one origin and is fitting the next: kill that worker mid-task
            victims = c.worker_pids()
            assert len(victims) >= 2, victims
            os.kill(victims[0], signal.SIGKILL)
            killed.append(victims[0])

    there = run_backtest(events, priors, BacktestSettings(**SETTINGS, cluster=address), FIT, log=log)
    assert killed and not _alive(killed[0])
    assert there == here
    # Every origin's progress came back from the workers while the backtest ran.
    assert {line.split(":")[0] for line in lines if "model at" in line} >= {f"origin {i}/{len(here['origins'])}"
                                                                             for i in range(2, len(here["origins"]) + 1)}
