"""What a backtest costs on a cluster: measured task times, the engine's overhead, and the wall
time they give on W workers. Run by hand:

    .venv/bin/python benchmarks/cost_model.py PROGRESS.log [PROGRESS.log ...] [--workers 1,2,16,64]
        [--horizon 12] [--every 4] [--overhead] [--jobs 2] [--tasks 200]

A backtest is one task per forecaster (the model, obstacles off) per segment of origins (the
first origin of a segment sampled, the rest reweighted when they can be: docs/BACKTEST.md). The
progress lines a backtest prints (`forecast backtest`, `benchmarks/record_skill.py`), one per
origin and forecaster with its seconds, give each task's measured time, its segments cut as the
backtest cuts them from its longest horizon and its spacing (`--horizon`, `--every`). From them:

* seconds per origin: sampled and reweighted, median and total, each forecaster;
* the wall time on W workers, scheduling the measured tasks onto whichever worker frees first,
  in the order the backtest submits them (the scheduler's typical case) and longest first (its
  best case), plus the engine's overhead per task; the floor is the longest task, which no
  number of workers shortens;
* with `--overhead`, that overhead measured here: an engine of `--jobs` local workers (as the
  backtest starts it: processes, each loading the compiled kernels) runs `--tasks` tasks that
  carry a real backtest task's payload (the joint record's events and priors) and do nothing
  else; it prints the cluster's start-up time and the seconds per task.

The tasks' times were measured on a machine as loaded as it was then: a task that shared its
core with another process ran slower than it would alone.
"""

from __future__ import annotations

import argparse
import heapq
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^origin (\d+)/(\d+): \S+, (model|obstacles off)\b.*\((sampled|reweighted)[^;]*; (\d+) s\)$")


def read_progress(path: Path) -> dict[tuple[str, int], tuple[str, float]]:
    """{(forecaster, origin number): (how, seconds)} from a backtest's progress lines."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line.strip())
        if match:
            number, _, who, how, seconds = match.groups()
            found[(who, int(number))] = (how, float(seconds))
    return found


def tasks_of(found: dict[tuple[str, int], tuple[str, float]], segment: int) -> list[float]:
    """Each task's seconds, in the order the backtest submits them (segment by segment, the
    model's task then obstacles off's)."""
    last = max(number for _, number in found)
    out = []
    for first in range(1, last + 1, segment):
        for who in ("model", "obstacles off"):
            out.append(sum(found.get((who, n), ("", 0.0))[1] for n in range(first, min(first + segment, last + 1))))
    return out


def wall(tasks: list[float], workers: int, overhead: float) -> float:
    """The makespan of list scheduling: each task to the worker that frees first."""
    free = [0.0] * workers
    heapq.heapify(free)
    for seconds in tasks:
        heapq.heappush(free, heapq.heappop(free) + seconds + overhead)
    return max(free)


def describe(path: Path, found: dict, workers: list[int], overhead: float, segment: int) -> None:
    print(f"{path.name}: {len({n for _, n in found})} origins, {len(found)} forecasts")
    for who in ("model", "obstacles off"):
        for how in ("sampled", "reweighted"):
            times = [s for (w, _), (h, s) in found.items() if w == who and h == how]
            if times:
                print(f"  {who:>13} {how:>10}: {len(times):4d} origins, median {statistics.median(times):6.1f} s, "
                      f"total {sum(times) / 60:6.1f} min")
    tasks = tasks_of(found, segment)
    print(f"  {len(tasks)} tasks; {sum(tasks) / 60:.1f} min of work; the longest task {max(tasks):.0f} s; "
          f"overhead {overhead:.2f} s a task")
    for w in workers:
        in_order = wall(tasks, w, overhead)
        best = wall(sorted(tasks, reverse=True), w, overhead)
        print(f"  {w:3d} workers: {in_order / 60:7.1f} min as submitted, {best / 60:7.1f} min longest first "
              f"(speed-up {wall(tasks, 1, overhead) / in_order:5.1f})")


def measure_overhead(jobs: int, n_tasks: int) -> float:
    """Seconds per task of the engine itself, on real backtest tasks' payloads."""
    from forecast.evaluation.backtest import BacktestSettings, plan_backtests
    from forecast.evaluation.engine import Engine
    from forecast.inference.fit import FitSettings
    from forecast.io.events import read_events
    from forecast.io.priors import load_priors

    priors = load_priors(ROOT / "priors-2014")
    events = read_events(ROOT / "examples" / "history-2014-2026.csv", priors).events
    plan = plan_backtests(events, priors, BacktestSettings(every_weeks=4, jobs=jobs), FitSettings(), [4, 12])
    payloads = [plan.tasks[i % len(plan.tasks)] for i in range(n_tasks)]
    started = time.perf_counter()
    with Engine(jobs=jobs) as engine:
        ready = time.perf_counter()
        list(engine.map(_nothing, payloads[:jobs]))  # the first round trip of each worker
        warm = time.perf_counter()
        list(engine.map(_nothing, payloads))
        done = time.perf_counter()
    per_task = (done - warm) / n_tasks * jobs  # each worker's share of the wall time, per task
    print(f"engine of {jobs} local workers: started in {ready - started:.1f} s (each loading the kernels), first round "
          f"trip {warm - ready:.2f} s; {n_tasks} tasks carrying a backtest task's payload in {done - warm:.2f} s: "
          f"{per_task:.3f} s of a worker's time a task")
    return per_task


def _nothing(task) -> int:
    return len(task.events)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="*", type=Path)
    parser.add_argument("--workers", default="1,2,16,64")
    parser.add_argument("--horizon", type=int, default=12, help="the backtest's longest horizon, weeks (default 12)")
    parser.add_argument("--every", type=int, default=4, help="weeks between its origins (default 4)")
    parser.add_argument("--overhead", action="store_true", help="measure the engine's overhead per task here")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=200)
    args = parser.parse_args()
    overhead = measure_overhead(args.jobs, args.tasks) if args.overhead else 0.0
    from forecast.evaluation.skill import block_length

    workers = [int(w) for w in args.workers.split(",")]
    segment = block_length(args.horizon, args.every)  # origins per task, as the backtest cuts them
    for path in args.logs:
        found = read_progress(path)
        if not found:
            print(f"{path}: no progress lines of a backtest", file=sys.stderr)
            return 2
        describe(path, found, workers, overhead, segment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
