"""How long a backtest takes: a 50-origin backtest of a 4-year sparse log at the defaults.

The log is drawn from the model (`simulate_sparse_log`), with a seed whose log spans about four
years; origins every 4 weeks with a 12-week horizon give about 50. Each job count is timed
`--runs` times and the median printed, with the seconds per origin and the share of the model's
forecasts that were reweighted rather than sampled. Target: at most 5 minutes with `--jobs 2`.

    .venv/bin/python benchmarks/backtest.py [--runs 3] [--jobs 1,2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", default="1,2", help="comma-separated job counts to time (default 1,2)")
    parser.add_argument("--every", type=int, default=4)
    args = parser.parse_args()

    from forecast.evaluation.backtest import BacktestSettings, run_backtest
    from forecast.evaluation.simulate import SPARSE_CORPUS_START, simulate_sparse_log
    from forecast.inference.fit import FitSettings
    from forecast.io.events import Event
    from forecast.io.priors import load_priors

    priors = load_priors()
    seed = next(s for s in range(1, 200) if len(simulate_sparse_log(priors, seed=s, start=SPARSE_CORPUS_START).weeks) >= 200)
    log = simulate_sparse_log(priors, seed=seed, start=SPARSE_CORPUS_START)
    events = [Event(event_id=r.event_id, kind=r.kind, date=r.date, reported=r.reported,
                    factor=r.factor if r.kind == "signal" else None, signal=float(r.signal) if r.kind == "signal" else None,
                    outcome=r.outcome if r.kind == "outcome" else None, retracts=None,
                    source_reliability=r.source_reliability, info_credibility=r.info_credibility, actor="", description="",
                    source="") for r in log.events.itertuples()]
    print(f"sparse log seed {seed}: {len(log.weeks)} weeks, {sum(e.kind == 'signal' for e in events)} readings, "
          f"{sum(e.kind == 'outcome' for e in events)} deals")
    for jobs in (int(j) for j in args.jobs.split(",")):
        seconds, result = [], None
        for _ in range(args.runs):
            started = time.perf_counter()
            result = run_backtest(events, priors, BacktestSettings(every_weeks=args.every, horizon=12, jobs=jobs), FitSettings())
            seconds.append(time.perf_counter() - started)
        origins = len(result["origins"])
        fits = result["model_fits"]
        median = statistics.median(seconds)
        print(f"--jobs {jobs}: {origins} origins, median {median:.0f} s over {args.runs} run(s) ({median / origins:.1f} s an "
              f"origin); reweighted {fits.get('reweighted', 0)} of {origins}; flagged fits {result['flagged_fits']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
