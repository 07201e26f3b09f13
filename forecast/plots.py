"""Charts. Each function takes computed numbers (never a model), draws on `axes` if given, and
returns (fig, axes); nothing here computes statistics beyond quantiles for bands."""

from __future__ import annotations

import datetime as dt

import matplotlib

matplotlib.use("Agg")  # files only: no display on these machines

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .conventions import HORIZON, OUTCOME  # noqa: E402

OUTCOME_COLOURS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
FACTOR_COLOURS = ("#8c510a", "#01665e", "#762a83", "#b35806", "#1b7837", "#c51b7d")


def _axes(axes, figsize=(6.5, 4.0)):
    if axes is None:
        fig, axes = plt.subplots(figsize=figsize, layout="constrained")
        return fig, axes
    return axes.figure, axes


def plot_probability_by_horizon(table: pd.DataFrame, labels: dict[str, str], headline_weeks: int, axes=None):
    """Cumulative chance of each path by horizon: posterior (or prior) mean with the 5-95 % band."""
    fig, ax = _axes(axes)
    for colour, (key, label) in zip(OUTCOME_COLOURS, labels.items()):
        rows = table[table[OUTCOME] == key].sort_values(HORIZON)
        ax.plot(rows[HORIZON], 100 * rows["p"], color=colour, label=label, linewidth=2)
        ax.fill_between(rows[HORIZON], 100 * rows["lo"], 100 * rows["hi"], color=colour, alpha=0.15, linewidth=0)
    ax.axvline(headline_weeks, color="grey", linestyle=":", linewidth=1)
    ax.annotate(f"headline: {headline_weeks} weeks", (headline_weeks, 100), xytext=(5, -12),
                textcoords="offset points", fontsize=8, color="grey",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_xlabel("Horizon (weeks from the as-of week)")
    ax.set_ylabel("Chance within horizon (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(1, table[HORIZON].max())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    return fig, ax


def plot_factor_paths(paths: np.ndarray, labels: dict[str, str], start: dt.date, axes=None):
    """Factor levels over weeks: median with 50 % and 90 % bands. `paths` is (draws, factor, week)."""
    fig, ax = _axes(axes)
    weeks = [start + dt.timedelta(weeks=i) for i in range(paths.shape[2])]
    for colour, (k, label) in zip(FACTOR_COLOURS, enumerate(labels.values())):
        q05, q25, q50, q75, q95 = np.quantile(paths[:, k, :], [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.plot(weeks, q50, color=colour, label=label, linewidth=2)
        ax.fill_between(weeks, q25, q75, color=colour, alpha=0.25, linewidth=0)
        ax.fill_between(weeks, q05, q95, color=colour, alpha=0.08, linewidth=0)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylim(-3.5, 4.5)
    ax.set_ylabel("Obstacle level (0 ordinary, +3 strongest)")
    ax.set_xlabel("Week (Monday)")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", ncols=2)
    return fig, ax
