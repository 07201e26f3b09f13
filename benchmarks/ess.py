"""Effective samples per second: this project's inference against plain PyMC (and nutpie), run by hand:

    .venv/bin/python benchmarks/ess.py [--cases record,example,5000,20000] [--draws N --tune N] [--skip-plain]

All sample the same posterior on the same data in one process, one after the other.
"Plain PyMC" is `pm.sample()` with its defaults (1000 tuning and 1000 draws a chain) on the
model as docs/MODEL.md writes it (`forecast.model.graph.build_model`: non-centred innovations).
"forecast" is what `update` runs: `forecast.inference.sampler.sample` on the compiled density
(`model/density.py`: Kalman-guided path coordinates, a mass matrix started at the posterior's
scales, NUTS in numba) with the project's defaults, or --draws/--tune. "nutpie" is nutpie's
sampler on the same PyMC model, if nutpie is installed (it is not a dependency) and can compile
it; otherwise the line says why not. ESS/s is the smallest bulk ESS over the factors' final
levels, the volatilities and the outcome effects, divided by the sampling wall time (compiling
or loading the compiled code included, for all); ESS per CPU-second divides by the processor time
of this process and its children instead (the chains' threads and PyMC's chain processes
included), a figure that a busy machine changes less than it changes the wall time. Cases: `record` (the war's record,
examples/history-2022-2026.csv, with priors-2022/), `example` (examples/events.csv), `5000`
(5,000 signals over 260 weeks) and `20000` (20,000 over 520), drawn as in benchmarks/update.py.
Plain PyMC takes minutes on the record and about 9 on the 5,000-signal log; `--skip-plain` leaves
it out. Issue 26's goal is a ratio of at least 10 on the record.
"""

from __future__ import annotations

import argparse
import resource
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
    from forecast.model.density import compile_density
    from forecast.model.graph import build_model
    from forecast.model.reading_groups import contested_groups

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="record,example")
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS)
    parser.add_argument("--tune", type=int, default=DEFAULT_TUNE)
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for case in args.cases.split(","):
            priors = load_priors(ROOT / "priors-2022") if case == "record" else load_priors()
            if case == "record":
                path = ROOT / "examples" / "history-2022-2026.csv"
            elif case == "example":
                path = ROOT / "examples" / "events.csv"
            else:
                path = synthetic_log(Path(scratch) / f"{case}.csv", *SIZES[case], seed=7)
            events = read_events(path, priors).events
            data = build_dataset(events, priors, default_as_of(events))
            results = {}
            started, cpu = time.perf_counter(), cpu_seconds()
            trace, diagnostics = sample(compile_density(data, priors), data, priors, draws=args.draws, tune=args.tune, chains=4,
                                        seed=1, progress=False, reading_groups=contested_groups(data, priors))
            results["forecast"] = (min_bulk_ess(trace.posterior.to_dataset()), time.perf_counter() - started, cpu_seconds() - cpu)
            report(case, "forecast", *results["forecast"], f"(passed: {diagnostics.passed})")
            nutpie_line(case, data, priors, build_model)
            if args.skip_plain:
                continue
            started, cpu = time.perf_counter(), cpu_seconds()
            with build_model(data, priors):
                plain = pm.sample(random_seed=1, progressbar=False, compute_convergence_checks=False)
            results["plain PyMC"] = (min_bulk_ess(plain.posterior.to_dataset()), time.perf_counter() - started,
                                     cpu_seconds() - cpu)
            report(case, "plain PyMC", *results["plain PyMC"], "")
            ours, plain_ = results["forecast"], results["plain PyMC"]
            print(f"{case:>8} ratio forecast / plain: {(ours[0] / ours[1]) / (plain_[0] / plain_[1]):.1f} in ESS/s, "
                  f"{(ours[0] / ours[2]) / (plain_[0] / plain_[2]):.1f} in ESS per CPU-second", flush=True)


def nutpie_line(case: str, data, priors, build_model) -> None:
    """nutpie on the PyMC model, or the reason it cannot run it."""
    try:
        import nutpie
    except ImportError:
        print(f"{case:>8} {'nutpie':>10}: not installed (not a dependency: `uv pip install nutpie` to compare)", flush=True)
        return
    started, cpu = time.perf_counter(), cpu_seconds()
    try:
        compiled = nutpie.compile_pymc_model(build_model(data, priors))
        trace = nutpie.sample(compiled, chains=4, seed=1, progress_bar=False)
    except Exception as exc:  # any failure is the answer: nutpie cannot run this model
        print(f"{case:>8} {'nutpie':>10}: cannot run the model ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})",
              flush=True)
        return
    report(case, "nutpie", min_bulk_ess(trace.posterior), time.perf_counter() - started, cpu_seconds() - cpu, "")


def cpu_seconds() -> float:
    """Processor time of this process and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def report(case: str, name: str, ess_min: float, seconds: float, cpu: float, note: str) -> None:
    print(f"{case:>8} {name:>10}: min bulk ESS {ess_min:7.0f} in {seconds:7.1f} s = {ess_min / seconds:8.1f} ESS/s; "
          f"{cpu:7.1f} CPU-s = {ess_min / cpu:8.1f} ESS per CPU-s {note}", flush=True)


if __name__ == "__main__":
    main()
