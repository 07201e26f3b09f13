"""Do default runs pass their own diagnostics on logs shaped like real ones?

The corpus: sparse logs drawn from the model (`simulate_sparse_log`: 1-4 years, 0.3-1 reading a
week in bursts, gaps of 1-3 months, 3-10 deals, mixed grades), the two examples, and the coded
2022-2026 record. Each is fitted at the defaults, in this process (one compile per number of
weeks), and the share that passes every diagnostic is printed with the worst R-hat, ESS and
divergence count. The last column gives each chain's divergent draws and final step size, so a
single chain that collapses (issue 13) shows as one outlier.

`--obstacles-off` fits the backtest's obstacles-off baseline instead (every effect fixed at 0, no
signals: `evaluation/backtest.py`); `--priors` another priors folder (`priors-2022` for the record).

`--backtest WEEKS` runs instead a leak-free backtest of each log (origins every WEEKS weeks, the
priors' horizon) as `forecast backtest` does, retry included, and prints each log's origins, how
its model forecasts were made and how many fits (model and obstacles off) were flagged; the target
is none.

Every fit (or every backtest's segment) is a task of one cluster (forecast/evaluation/engine.py):
`--jobs N` local workers (default one per core), or `--cluster tcp://HOST:8786`. The seconds shown
are each fit's own, on its worker.

    .venv/bin/python benchmarks/robustness.py [--logs 20] [--draws 1000 --tune 500] [--target-accept P] [--obstacles-off] [--priors DIR]
    .venv/bin/python benchmarks/robustness.py --backtest 8 [--logs 20] [--no-examples] [--jobs 2] [--cluster tcp://HOST:8786]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["events.csv", "events-2025-spring.csv", "history-2022-2026.csv"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=20, help="sparse logs drawn from the model (default 20)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--target-accept", type=float, default=None)
    parser.add_argument("--no-examples", action="store_true")
    parser.add_argument("--obstacles-off", action="store_true", help="fit the backtest's obstacles-off baseline")
    parser.add_argument("--priors", type=Path, default=None, help="priors folder (default: priors/)")
    parser.add_argument("--backtest", type=int, metavar="WEEKS", help="backtest each log, origins every WEEKS weeks")
    parser.add_argument("--jobs", type=int, default=None, help="local workers (default: one per core)")
    parser.add_argument("--cluster", default=None, help="a dask scheduler's address (default: $FORECAST_CLUSTER, else local)")
    args = parser.parse_args()

    from forecast.evaluation.backtest import without_effects
    from forecast.evaluation.engine import Engine
    from forecast.evaluation.simulate import write_sparse_corpus
    from forecast.inference.fit import FitSettings
    from forecast.io.events import read_events
    from forecast.io.priors import load_priors

    priors = load_priors(args.priors) if args.priors else load_priors()
    fitted = without_effects(priors) if args.obstacles_off else priors
    chosen = (("draws", args.draws), ("tune", args.tune), ("target_accept", args.target_accept))
    settings = FitSettings(**{k: v for k, v in chosen if v is not None}, cores=1)
    with tempfile.TemporaryDirectory() as scratch:
        logs = write_sparse_corpus(Path(scratch), priors, range(args.first_seed, args.first_seed + args.logs))
        if not args.no_examples:
            logs += [ROOT / "examples" / name for name in EXAMPLES]
        # The events travel with the task: a remote worker cannot read this machine's files.
        corpus = [(path.name, tuple(read_events(path, priors).events)) for path in logs]
    with Engine(jobs=args.jobs, cluster=args.cluster, log=lambda m: None) as engine:
        print(f"{len(corpus)} logs on {engine.workers} worker(s)", flush=True)
        if args.backtest:
            return backtest_corpus(corpus, priors, settings, args.backtest, engine)
        print(f"{'log':26s} {'weeks':>5s} {'sig':>4s} {'deals':>5s}  {'R-hat':>6s} {'bulk':>6s} {'tail':>6s} {'div':>4s} {'s':>5s}  "
              f"{'chains: div/step':24s} result")
        passed, worst = 0, {"r_hat": 0.0, "bulk": float("inf"), "tail": float("inf"), "div": 0}
        started = time.perf_counter()
        tasks = [(name, events, priors, fitted, settings, args.obstacles_off) for name, events in corpus]
        for name, row, d in engine.map(fit_log, tasks):
            passed += d.passed
            worst = {"r_hat": max(worst["r_hat"], d.r_hat_max), "bulk": min(worst["bulk"], d.ess_bulk_min),
                     "tail": min(worst["tail"], d.ess_tail_min), "div": max(worst["div"], d.divergences)}
            print(f"{name:26s} {row} {'pass' if d.passed else 'FAIL: ' + '; '.join(p.split(':')[0] for p in d.problems)}",
                  flush=True)
    print(f"\n{passed} of {len(corpus)} pass every diagnostic ({100 * passed / len(corpus):.0f} %); worst R-hat {worst['r_hat']:.3f}, "
          f"bulk ESS {worst['bulk']:.0f}, tail ESS {worst['tail']:.0f}, divergences {worst['div']}; "
          f"{time.perf_counter() - started:.0f} s in all")
    return 0 if passed == len(corpus) else 1


def fit_log(task):
    """One log fitted at the settings (a cluster task): its name, its table row, its diagnostics."""
    from forecast.evaluation.backtest import without_signals
    from forecast.inference.fit import fit_forecast
    from forecast.model.dataset import build_dataset, default_as_of

    name, events, priors, fitted, settings, obstacles_off = task
    data = build_dataset(events, priors, default_as_of(events))
    if obstacles_off:
        data = without_signals(data)
    started = time.perf_counter()
    trace, d, _ = fit_forecast(data, fitted, settings)
    seconds = time.perf_counter() - started
    stats = trace.sample_stats  # each chain's divergent draws / adapted step size
    chains = " ".join(f"{int(n)}/{s:.2f}" for n, s in zip(stats["diverging"].values.sum(axis=1), stats["step_size"].values[:, 0]))
    row = (f"{data.n_weeks:5d} {data.counts['signals']:4d} {data.counts['outcomes']:5d}  {d.r_hat_max:6.3f} {d.ess_bulk_min:6.0f} "
           f"{d.ess_tail_min:6.0f} {d.divergences:4d} {seconds:5.1f}  {chains:24s}")
    return name, row, d


def backtest_corpus(corpus, priors, settings, every: int, engine) -> int:
    """Backtest each log as `forecast backtest` would, every log's segments on the cluster at once;
    0 when no fit of any log was flagged."""
    from forecast.errors import ForecastError
    from forecast.evaluation.backtest import BacktestSettings, forecast_track, plan_backtests

    plans = {}
    for name, events in corpus:
        try:
            plans[name] = plan_backtests(events, priors, BacktestSettings(every_weeks=every, jobs=2), settings,
                                         [priors.outcomes.horizon_weeks], label=name)
        except ForecastError as exc:  # a log too short for one origin, say: report it, go on
            print(f"{name:26s} no backtest: {exc}", flush=True)
    tasks = [task for plan in plans.values() for task in plan.tasks]
    started = time.perf_counter()
    results = list(engine.map(forecast_track, tasks))
    print(f"{'log':26s} {'origins':>7s} {'sampled':>7s} {'reweighted':>10s} {'flagged':>7s}")
    flagged = origins = start = 0
    for name, plan in plans.items():
        result = plan.assemble(results[start:start + len(plan.tasks)])[priors.outcomes.horizon_weeks]
        start += len(plan.tasks)
        fits = result["model_fits"]
        flagged += result["flagged_fits"]
        origins += len(result["origins"])
        print(f"{name:26s} {len(result['origins']):7d} {fits.get('sampled', 0):7d} {fits.get('reweighted', 0):10d} "
              f"{result['flagged_fits']:7d}", flush=True)
    print(f"\n{flagged} flagged fit(s) over {origins} origins of {len(plans)} logs; {time.perf_counter() - started:.0f} s in all")
    return 0 if flagged == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
