"""Simulation-based calibration of the whole model (Talts et al. 2018), run by hand:

    .venv/bin/python benchmarks/sbc.py [--replications 200] [--out benchmarks/out/sbc] [--jobs N] [--cluster ADDRESS]

Draws every parameter and a small log (24 signals over 6 weeks) from the model, fits each log,
and ranks each true volatility, the noise, and each outcome baseline and effect among 99 thinned
posterior draws. Prints a chi-square test of uniform ranks (10 bins) per parameter, with the
Bonferroni-adjusted 1 % threshold, and writes rank histograms as PNG. Each replication's fit is
a task of one cluster (forecast/evaluation/engine.py): `--jobs N` local workers, or `--cluster`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from forecast.evaluation.calibration import SbcSettings, run_sbc, uniformity
from forecast.io.priors import load_priors

BINS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "sbc")
    parser.add_argument("--jobs", type=int, default=None, help="local workers (default: one per core)")
    parser.add_argument("--cluster", default=None, help="a dask scheduler's address (default: $FORECAST_CLUSTER, else local)")
    args = parser.parse_args()

    from forecast.evaluation.engine import Engine

    settings = SbcSettings(replications=args.replications)
    started = time.perf_counter()
    with Engine(jobs=args.jobs, cluster=args.cluster) as engine:
        ranks = run_sbc(load_priors(), settings, progress=lambda i, n: print(f"\r{i}/{n} replications", end="", flush=True),
                        engine=engine)
    print(f"\n{settings.replications} replications in {time.perf_counter() - started:.0f} s; "
          f"mean divergences per fit {ranks.groupby('replication')['divergences'].first().mean():.2f}")

    table = uniformity(ranks, bins=BINS)
    alpha = 0.01 / len(table)
    print(f"chi-square of ranks in {BINS} bins; uniform rejected below p = {alpha:.5f} (1 % / {len(table)} parameters)")
    for row in table.itertuples():
        verdict = "REJECT" if row.p_value < alpha else "ok"
        print(f"  {row.parameter:<14} chi2 {row.chi2:6.2f}  p {row.p_value:.3f}  {verdict:<6}  {row.counts}")

    args.out.mkdir(parents=True, exist_ok=True)
    ncols = 5
    nrows = int(np.ceil(len(table) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 2.4 * nrows), layout="constrained", sharey=True)
    expected = settings.replications / BINS
    band = stats.binom.interval(0.99, settings.replications, 1 / BINS)
    for ax, row in zip(axes.flat, table.itertuples()):
        ax.bar(range(BINS), row.counts, width=0.9, color="#4c72b0")
        ax.axhline(expected, color="black", linewidth=0.8)
        ax.axhspan(*band, color="grey", alpha=0.2, linewidth=0)
        ax.set_title(f"{row.parameter} (p {row.p_value:.2f})", fontsize=9)
        ax.set_xticks([])
    for ax in list(axes.flat)[len(table):]:
        ax.axis("off")
    fig.suptitle(f"SBC rank histograms, {settings.replications} replications; band: 99 % range of a bin under uniformity")
    path = args.out / "ranks.png"
    fig.savefig(path, dpi=100)
    print(f"histograms: {path}")


if __name__ == "__main__":
    main()
