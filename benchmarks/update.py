"""Cold-process wall time and peak memory of `forecast update`, run by hand:

    .venv/bin/python benchmarks/update.py [--runs 5] [--cases example,append,record,synthetic] [--phases]
        [--command validate] [--draws N ...]

Cases: `example` is examples/events.csv; `record` the war's record (examples/history-2022-2026.csv
with priors-2022/); `append` adds 10 signals a week later to a workspace
where the example has already been fitted (the incremental path: reweighting, no sampling);
`5000`, `20000` and `50000` are logs of 5,000 signals over 260 weeks, 20,000 and 50,000 over 520, drawn from the
model itself (forecast.evaluation.simulate, volatilities fixed at their prior medians so the paths stay on
the -3..+3 scale); `synthetic` is one of --signals over --weeks. The fit's kernels are compiled
once per machine and version of their sources and cached on disk (forecast/kernel_cache.py;
`forecast warm`), so a first run after an edit to them also pays the compile (about a minute);
every run is printed. Each run is a fresh `forecast update`
process in a fresh workspace (for `append`, a fresh copy of the fitted one); peak memory is
the largest proportional set size (PSS) of the process and its forked sampler workers
together, polled every 50 ms, so pages they share count once. Prints the median and every run.
`--phases` also prints where each run's time went, as medians over the runs: the interpreter's
start and the imports (until `main` begins), then each phase the command records
(`forecast/timings.py`: reading, the dataset, the kernels' load, starts and curvatures, tuning,
draws, the posterior's conversion, diagnostics, the forecast, what moved, storing, the brief),
and what is left (exit, unrecorded work). `--command validate` times `forecast validate` instead
(no workspace is written). Extra
options (`--no-report`, `--refit`, `--draws` ...) go to every update. Targets (issue 26, medians
of 5 cold processes on 2 cores): record with `--no-report` <= 10 s; example with its brief
<= 5 s; append <= 1 s; 50000: `validate` <= 5 s, update <= 60 s at <= 1 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORECAST = str(Path(sys.executable).parent / "forecast")
PAGE = os.sysconf("SC_PAGE_SIZE")
SIZES = {"5000": (5000, 260), "20000": (20000, 520), "50000": (50000, 520)}  # signals, weeks
RECORD = (ROOT / "examples" / "history-2022-2026.csv", ["--priors", str(ROOT / "priors-2022")])


def synthetic_log(path: Path, n_signals: int, n_weeks: int, seed: int) -> Path:
    import numpy as np

    from forecast.evaluation.simulate import simulate_log
    from forecast.io.priors import load_priors

    priors = load_priors()
    from forecast.model.prior_distributions import prior_distribution

    # The prior medians of the volatilities.
    volatility = np.array([float(prior_distribution(f.volatility).ppf(0.5)) for f in priors.factors.values()])
    # End last week: events dated in the future are (rightly) refused.
    start = dt.date.today() - dt.timedelta(weeks=n_weeks + 1)
    log = simulate_log(priors, n_signals=n_signals, n_weeks=n_weeks, seed=seed, fixed={"volatility": volatility}, start=start)
    log.events.to_csv(path, index=False)
    return path


def tree_pss(pgid: int) -> int:
    """Proportional set size of every process in the process group, in bytes: each shared page
    (the forked sampler workers share the parent's libraries and arrays) counted once in total,
    not once per process as a sum of resident sizes would."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of stat: the process group
                continue
            with open(f"/proc/{entry}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) * 1024 for line in handle if line.startswith("Pss:"))
        except (OSError, IndexError, ValueError, StopIteration):
            continue
    return total


def measure(argv: list[str], ok=(0,), timings: Path | None = None) -> tuple[float, int, int, dict | None]:
    """Run a command in its own process group: (wall seconds, peak PSS bytes, exit code, the
    phases it recorded with `timings`, the start-up among them)."""
    env = {**os.environ, **({"FORECAST_TIMINGS": str(timings)} if timings else {})}
    launched = time.time()
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_pss(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    _, err = process.communicate()
    if process.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[:2])} failed ({process.returncode}):\n{err.decode()}")
    phases = None
    if timings is not None and timings.exists():
        import json

        recorded = json.loads(timings.read_text())
        phases = {"start-up and imports": recorded["main_started"] - launched}
        for name, value in recorded["phases"]:
            phases[name] = phases.get(name, 0.0) + value
        phases["other (exit, unrecorded)"] = seconds - sum(phases.values())
    return seconds, peak, process.returncode, phases


def run_once(events: Path, extra: list[str], seeded: Path | None = None, command: str = "update") -> tuple[float, int, int, dict | None]:
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "ws"
        if seeded is not None:
            shutil.copytree(seeded, workspace)
        quiet = ["--quiet"] if command == "update" else []
        return measure([FORECAST, command, str(events), "--workspace", str(workspace), *quiet, *extra], ok=(0, 3),
                       timings=Path(scratch) / "timings.json")


def appended(scratch: Path, extra: list[str]) -> tuple[Path, Path]:
    """A workspace with the example fitted (same settings as the timed runs), and 10 new signals."""
    workspace = scratch / "seeded"
    measure([FORECAST, "update", str(ROOT / "examples" / "events.csv"), "--workspace", str(workspace), "--quiet",
             "--no-report", *[e for e in extra if e not in ("--no-report", "--refit")]], ok=(0,))
    # A quiet day of news: each reading near the mean of the example's readings of that obstacle
    # (offsets within +-0.3). Readings far from there make the reweighting decline (k 0.80 for
    # ten B2 readings at 2.0-2.45 on every obstacle) and the update refits.
    import pandas as pd

    example = pd.read_csv(ROOT / "examples" / "events.csv")
    level = example.groupby("factor")["signal"].mean()
    factors = sorted(level.index)
    offsets = [-0.3, 0.2, 0.0, -0.1, 0.3, -0.2, 0.1, 0.0, -0.3, 0.2]
    rows = [f"a{i},2025-02-{24 + i % 5},signal,{factors[i % 4]},{level[factors[i % 4]] + offsets[i]:.2f},B,2,appended {i}"
            for i in range(10)]
    events = scratch / "appended.csv"
    events.write_text("event_id,date,kind,factor,signal,source_reliability,info_credibility,description\n"
                      + "\n".join(rows) + "\n", encoding="utf-8")
    return events, workspace

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default="example,append,5000")
    parser.add_argument("--phases", action="store_true", help="print where the time went, phase by phase")
    parser.add_argument("--command", default="update", choices=("update", "validate"))
    parser.add_argument("--signals", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=260)
    args, extra = parser.parse_known_args()

    with tempfile.TemporaryDirectory() as scratch:
        cases, seeded, options = {}, {}, {}
        for case in args.cases.split(","):
            if case == "example":
                cases[case] = ROOT / "examples" / "events.csv"
            elif case == "record":
                cases[case], options[case] = RECORD
            elif case == "append":
                cases[case], seeded[case] = appended(Path(scratch), extra)
            elif case == "synthetic":
                cases[case] = synthetic_log(Path(scratch) / "synthetic.csv", args.signals, args.weeks, seed=7)
            elif case in SIZES:
                cases[case] = synthetic_log(Path(scratch) / f"{case}.csv", *SIZES[case], seed=7)
            else:
                raise SystemExit(f"unknown case {case!r}")
        print(f"forecast {args.command}, cold process, {args.runs} runs each; extra options: {' '.join(extra) or 'none'}")
        for case, events in cases.items():
            results = [run_once(events, [*options.get(case, []), *extra], seeded.get(case), args.command) for _ in range(args.runs)]
            seconds = [r[0] for r in results]
            peaks = [r[1] / 2**30 for r in results]
            codes = sorted({r[2] for r in results})
            print(f"{case:>10}: wall median {statistics.median(seconds):6.1f} s "
                  f"(runs: {', '.join(f'{s:.1f}' for s in seconds)}); "
                  f"peak memory median {statistics.median(peaks):.2f} GB "
                  f"(runs: {', '.join(f'{p:.2f}' for p in peaks)}); exit codes {codes}", flush=True)
            if args.phases and all(r[3] for r in results):
                names = list(dict.fromkeys(name for r in results for name in r[3]))
                for name in names:
                    values = [r[3].get(name, 0.0) for r in results]
                    print(f"{'':>12}{name:<36} median {statistics.median(values):6.2f} s "
                          f"(runs: {', '.join(f'{v:.2f}' for v in values)})", flush=True)


if __name__ == "__main__":
    main()
