"""Effective samples per second: this project's inference against plain PyMC, run by hand:

    .venv/bin/python benchmarks/ess.py [--cases example,5000,20000] [--draws N --tune N]

Both sample the same posterior on the same data in one process, one after the other.
"Plain PyMC" is `pm.sample()` with its defaults (1000 tuning and 1000 draws a chain) on the
model as docs/MODEL.md writes it (`forecast.model.graph.build_model`: non-centred innovations).
"forecast" is `forecast.inference.sampler.sample` on `build_fit_model` (Kalman-guided path
coordinates, a mass matrix started at the posterior's scales) with the project's defaults, or
--draws/--tune. ESS/s is the smallest bulk ESS over the factors' final levels, the
volatilities and the outcome effects, divided by the sampling wall time (compiling included,
for both). Cases: `example` (examples/events.csv), `5000` (5,000 signals over 260 weeks) and
`20000` (20,000 over 520), drawn as in benchmarks/update.py. Plain PyMC takes about 9 minutes
on the 5,000-signal log and the better part of an hour on the 20,000; `--skip-plain` leaves it
out. Issue 6's goal is a ratio of at least 10 on the 5,000-signal log.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update import ROOT, SIZES, synthetic_log


def min_bulk_ess(posterior) -> float:
    from arviz_stats import ess

    parts = [posterior["theta"].isel(week=-1), posterior["volatility"], posterior["effect"]]
    return float(min(float(ess(p.to_dataset(name="x"), method="bulk")["x"].min()) for p in parts))


def main() -> None:
    import pymc as pm

    from forecast.conventions import DEFAULT_DRAWS, DEFAULT_TUNE
    from forecast.inference.sampler import sample
    from forecast.io.events import read_events
    from forecast.io.priors import load_priors
    from forecast.model.dataset import build_dataset, default_as_of
    from forecast.model.graph import build_fit_model, build_model
    from forecast.model.reading_groups import contested_groups

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="example,5000")
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS)
    parser.add_argument("--tune", type=int, default=DEFAULT_TUNE)
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    priors = load_priors()
    with tempfile.TemporaryDirectory() as scratch:
        for case in args.cases.split(","):
            if case == "example":
                path = ROOT / "examples" / "events.csv"
            else:
                path = synthetic_log(Path(scratch) / f"{case}.csv", *SIZES[case], seed=7)
            events = read_events(path, priors).events
            data = build_dataset(events, priors, default_as_of(events))
            results = {}
            trace, diagnostics = sample(build_fit_model(data, priors), draws=args.draws, tune=args.tune, chains=4, seed=1, progress=False,
                                        reading_groups=contested_groups(data, priors))
            results["forecast"] = (min_bulk_ess(trace.posterior.to_dataset()), diagnostics.sampling_seconds)
            report(case, "forecast", *results["forecast"], f"(passed: {diagnostics.passed})")
            if args.skip_plain:
                continue
            started = time.perf_counter()
            with build_model(data, priors):
                plain = pm.sample(random_seed=1, progressbar=False, compute_convergence_checks=False)
            results["plain PyMC"] = (min_bulk_ess(plain.posterior.to_dataset()), time.perf_counter() - started)
            report(case, "plain PyMC", *results["plain PyMC"], "")
            ratio = (results["forecast"][0] / results["forecast"][1]) / (results["plain PyMC"][0] / results["plain PyMC"][1])
            print(f"{case:>8} ratio forecast / plain: {ratio:.1f}", flush=True)


def report(case: str, name: str, ess_min: float, seconds: float, note: str) -> None:
    print(f"{case:>8} {name:>10}: min bulk ESS {ess_min:7.0f} in {seconds:7.1f} s = {ess_min / seconds:8.1f} ESS/s {note}", flush=True)


if __name__ == "__main__":
    main()
