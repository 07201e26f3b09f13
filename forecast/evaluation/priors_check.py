"""`forecast priors check`: validate a priors folder and show what it implies before any data."""

from __future__ import annotations

from pathlib import Path

from forecast.conventions import HORIZON, OUTCOME
from forecast.forecasting.prior_predictive import PriorPredictive, prior_predictive
from forecast.io.priors import Priors, load_priors
from forecast.io.workspace import write_atomically


def check_priors(priors_dir: Path | None, *, seed: int, draws: int) -> tuple[Priors, PriorPredictive]:
    priors = load_priors(priors_dir)  # raises InputError naming file, line and key
    return priors, prior_predictive(priors, draws=draws, seed=seed)


def headline_text(priors: Priors, predictive: PriorPredictive) -> str:
    horizon = priors.outcomes.horizon_weeks
    at = predictive.table[predictive.table[HORIZON] == horizon].set_index(OUTCOME)
    width = max(len(label) for label in priors.outcomes.labels.values())
    lines = [
        f"Priors in {priors.directory}: {len(priors.factors)} factors, {len(priors.outcomes.deals)} deal types, "
        f"hash {priors.hash[:12]}",
        "",
        f"Prior predictive: chance of each path within {horizon} weeks of {priors.outcomes.start}, before any event",
        f"  {'Outcome'.ljust(width)}  {'P':>7}  {'5-95 %':>17}",
    ]
    for key, label in priors.outcomes.labels.items():
        row = at.loc[key]
        lines.append(f"  {label.ljust(width)}  {100 * row.p:6.1f} %  {100 * row.lo:5.1f} % to {100 * row.hi:5.1f} %")
    return "\n".join(lines)


def write_check_pdf(priors: Priors, predictive: PriorPredictive, path: Path) -> Path:
    """One page: prior predictive factor paths and chance by horizon. Written atomically."""
    import matplotlib.pyplot as plt

    from forecast.brief.plots import plot_factor_paths, plot_probability_by_horizon

    # A4 landscape: the charts on top, the numbers under them.
    fig = plt.figure(figsize=(11.69, 8.27), layout="constrained")
    charts, numbers = fig.subfigures(2, 1, height_ratios=[3.2, 1])
    left, right = charts.subplots(1, 2)
    plot_factor_paths(predictive.factor_paths, {k: f.label for k, f in priors.factors.items()}, priors.outcomes.start, axes=left)
    left.set_title("Obstacles: prior median, 50 % and 90 % bands")
    plot_probability_by_horizon(predictive.table, priors.outcomes.labels, priors.outcomes.horizon_weeks, axes=right)
    right.set_title("Chance of each path by horizon: prior mean, 5-95 % band")
    fig.suptitle(f"Prior predictive check of {priors.directory} (hash {priors.hash[:12]}), "
                 f"{predictive.incidence.shape[0]} draws", fontsize=11)
    numbers.text(0.02, 0.95, headline_text(priors, predictive), family="monospace", fontsize=9, va="top")
    numbers.text(0.02, 0.02, "The band is the spread of the chance across prior draws: how unsure the priors are about "
                 "the chance itself, not a range of outcomes.", fontsize=8, color="dimgrey")
    try:
        return write_atomically(path, lambda tmp: fig.savefig(tmp, format="pdf"))
    finally:
        plt.close(fig)
