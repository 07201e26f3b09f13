"""Time to render the PDF brief, run by hand:

    .venv/bin/python benchmarks/brief.py [--runs 5] [--cases example,synthetic]

Each run is a cold `forecast report --out FILE` process (imports included) on a stored run; the
script prints the median and every run, with peak memory. Targets (issue 3): example <= 5 s,
5,000 signals over 260 weeks <= 15 s.

`example` is a real fit of examples/events.csv with the default settings (4 chains x 1000 draws).
`synthetic` is the 5,000-signal log of benchmarks/update.py; fitting it takes minutes, and the
brief's cost depends on the shapes (draws, signals, weeks), not on the values, so its stored
"posterior" is 4 x 1000 draws of the model's prior predictive instead. Say so when quoting it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update import FORECAST, ROOT, measure, synthetic_log  # noqa: E402  (benchmarks/update.py)


def fit_example(workspace: Path) -> None:
    subprocess.run([FORECAST, "update", str(ROOT / "examples" / "events.csv"), "--workspace", str(workspace),
                    "--quiet", "--no-report"], check=True, capture_output=True)


def store_prior_draws_run(events: Path, workspace: Path, chains: int = 4, draws: int = 1000) -> None:
    """A stored run of the right shape without NUTS: prior predictive draws stand in for the posterior."""
    import numpy as np
    import pymc as pm
    import xarray as xr

    import forecast.update as pipeline
    from forecast.forecasting import Draws, cumulative_incidence, forecast_table
    from forecast.diagnostics import Diagnostics
    from forecast.model import build_model
    from forecast.workspace import Workspace

    def prior_fit(data, priors, settings, progress=False):
        model = build_model(data, priors)
        prior = pm.sample_prior_predictive(draws=chains * draws, model=model, random_seed=1).prior.to_dataset()
        reshaped = xr.Dataset(
            {name: (("chain", "draw", *var.dims[2:]), var.values.reshape(chains, draws, *var.shape[2:]))
             for name, var in prior.data_vars.items()},
            coords={k: v for k, v in prior.coords.items() if k not in ("chain", "draw")},
        )
        incidence = cumulative_incidence(Draws.from_dataset(reshaped), priors.outcomes.forecast_weeks,
                                         np.random.default_rng([settings.seed, 1]))  # the stream update uses
        # A stand-in, not a fit: its diagnostics are not measured, and say so by failing.
        diagnostics = Diagnostics(np.nan, np.nan, np.nan, 0, 0.0, chains)
        return xr.DataTree.from_dict({"posterior": reshaped}), diagnostics, forecast_table(incidence, priors.outcomes.keys)

    pipeline.fit_forecast = prior_fit
    pipeline.update(events, Workspace(workspace), settings=pipeline.FitSettings(draws=draws, chains=chains),
                    progress=False, log=lambda m: None, report=False)


def report_once(workspace: Path, out: Path) -> tuple[float, int]:
    seconds, peak, _ = measure([FORECAST, "report", "--workspace", str(workspace), "--out", str(out)])
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", default="example,synthetic")
    parser.add_argument("--signals", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=260)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        print(f"forecast report, cold process, {args.runs} runs each")
        for case in args.cases.split(","):
            workspace = scratch / case
            if case == "example":
                fit_example(workspace)
            elif case == "synthetic":
                store_prior_draws_run(synthetic_log(scratch / "synthetic.csv", args.signals, args.weeks, seed=7), workspace)
            else:
                raise SystemExit(f"unknown case {case!r}")
            results = [report_once(workspace, scratch / f"{case}-{i}.pdf") for i in range(args.runs)]
            seconds = [r[0] for r in results]
            pages = subprocess.run(["pdfinfo", str(scratch / f"{case}-0.pdf")], capture_output=True, text=True).stdout
            pages = next((line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:")), "?")
            print(f"{case:>10}: wall median {statistics.median(seconds):5.1f} s "
                  f"(runs: {', '.join(f'{s:.1f}' for s in seconds)}); peak memory median "
                  f"{statistics.median(r[1] for r in results) / 2**30:.2f} GB; {pages} pages", flush=True)


if __name__ == "__main__":
    main()
