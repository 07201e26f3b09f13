"""Charts. Each function takes computed numbers (never a model), draws on `axes` if given, and
returns (fig, axes); nothing here computes statistics beyond quantiles for bands. Every label
that came from a user (priors, crowd questions) is drawn through `chart_text`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import matplotlib

matplotlib.use("Agg")  # files only: no display on these machines

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from forecast.brief.chart_text import chart_text
from forecast.conventions import HORIZON, OUTCOME

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.lines import Line2D

    from forecast.model.prior_distributions import FrozenDistribution

# Labels come from users' priors and events: '$' is a dollar sign, not the start of TeX maths
# (which would draw "$5 and $x" as maths, and fail on "$\\undefined$").
matplotlib.rcParams["text.parse_math"] = False

OUTCOME_COLOURS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
FACTOR_COLOURS = ("#8c510a", "#01665e", "#762a83", "#b35806", "#1b7837", "#c51b7d")


def _labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: chart_text(label) for key, label in labels.items()}


def _title(ax: Axes, label: str, fontsize: float) -> None:
    """A user's label as a title. The title's text object was made with the axes, with the fonts
    of that moment: it is given the fallback fonts `chart_text` may have added since."""
    text = chart_text(label)
    ax.set_title(text, fontsize=fontsize, family=matplotlib.rcParams["font.family"])


def _axes(axes: Axes | None, figsize: tuple[float, float] = (6.5, 4.0)) -> tuple[Figure | SubFigure, Axes]:
    if axes is None:
        fig, axes = plt.subplots(figsize=figsize, layout="constrained")
        return fig, axes
    return axes.figure, axes


def plot_probability_by_horizon(
    table: pd.DataFrame, labels: dict[str, str], headline_weeks: int, axes: Axes | None = None,
) -> tuple[Figure | SubFigure, Axes]:
    """Cumulative chance of each path by horizon: posterior (or prior) mean with the 5-95 % band."""
    fig, ax = _axes(axes)
    labels = _labels(labels)
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
    # Deals rise from 0 and "no deal" falls from 100: the band between them is free.
    ax.legend(fontsize=7, loc="center left")
    return fig, ax


def plot_factor_paths(
    paths: np.ndarray, labels: dict[str, str], start: dt.date, axes: Axes | None = None,
) -> tuple[Figure | SubFigure, Axes]:
    """Factor levels over weeks: median with 50 % and 90 % bands. `paths` is (draws, factor, week)."""
    fig, ax = _axes(axes)
    labels = _labels(labels)
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


# Admiralty grades on the charts: colour by source reliability (A dark ... F pale), size by
# information credibility (1 largest ... 6 smallest), so a well-sourced, confirmed reading stands out.
RELIABILITY_COLOURS = dict(zip("ABCDEF", ("#08306b", "#2171b5", "#4292c6", "#6baed6", "#9ecae1", "#bdbdbd")))
CREDIBILITY_SIZES = dict(zip("123456", (46, 36, 28, 20, 14, 14)))
CROWDED = 150  # signals in one panel beyond which markers shrink and fade
OUTCOME_LABELS_MAX = 8  # deals in one panel beyond which their lines go unlabelled


def plot_history(runs: list[dict], labels: dict[str, str], horizon: int, axes: Axes | None = None) -> tuple[Figure | SubFigure, Axes]:
    """The headline chance of each path at every stored run, by the run's as-of date.

    `runs`: dicts with `as_of` (date), `ok` (bool) and `headline` (outcome -> {p, lo, hi}).
    Flagged runs are drawn hollow.
    """
    fig, ax = _axes(axes)
    labels = _labels(labels)
    offsets = np.linspace(-0.6, 0.6, len(labels)) if len(labels) > 1 else [0.0]
    for colour, offset, (key, label) in zip(OUTCOME_COLOURS, offsets, labels.items()):
        points = [(r["as_of"] + dt.timedelta(days=float(offset)), r["headline"][key], r["ok"]) for r in runs if key in r["headline"]]
        if not points:
            continue
        x = [p[0] for p in points]
        y = np.array([100 * p[1]["p"] for p in points])
        err = np.array([[100 * (p[1]["p"] - p[1]["lo"]) for p in points], [100 * (p[1]["hi"] - p[1]["p"]) for p in points]])
        ax.plot(x, y, color=colour, linewidth=1, alpha=0.6)
        ax.errorbar(x, y, yerr=np.clip(err, 0, None), fmt="none", ecolor=colour, elinewidth=1, capsize=2, alpha=0.7)
        ok = np.array([p[2] for p in points])
        ax.scatter(np.array(x, dtype=object)[ok], y[ok], color=colour, s=22, zorder=3, label=label)
        if (~ok).any():
            ax.scatter(np.array(x, dtype=object)[~ok], y[~ok], facecolor="white", edgecolor=colour, s=22, zorder=3)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"Chance within {horizon} weeks (%)")
    ax.set_xlabel("As-of date of the run")
    _date_axis(ax)
    if len({r["as_of"] for r in runs}) == 1:
        only = runs[0]["as_of"]
        ax.set_xlim(only - dt.timedelta(days=7), only + dt.timedelta(days=7))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left")
    return fig, ax


def plot_factor_panel(
    paths: np.ndarray,
    weeks: list[dt.date],
    label: str,
    colour: str,
    *,
    signals: pd.DataFrame,
    outcomes: list[tuple[dt.date, str]],
    axes: Axes | None = None,
) -> tuple[Figure | SubFigure, Axes]:
    """One factor over the weeks: median, 50 % and 90 % bands (`paths` is draws x weeks), each
    signal at its week and reading (`signals`: date, value, reliability, credibility), and each
    deal as a labelled vertical line."""
    fig, ax = _axes(axes)
    q05, q25, q50, q75, q95 = np.quantile(paths, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    # The level is constant within a week: steps from Monday to Monday, so a single week shows too.
    edges = [*weeks, weeks[-1] + dt.timedelta(weeks=1)]

    def step(values: np.ndarray) -> np.ndarray:
        return np.append(values, values[-1])

    ax.fill_between(edges, step(q05), step(q95), step="post", color=colour, alpha=0.12, linewidth=0, label="90 % band")
    ax.fill_between(edges, step(q25), step(q75), step="post", color=colour, alpha=0.30, linewidth=0, label="50 % band")
    ax.step(edges, step(q50), where="post", color=colour, linewidth=1.6, label="median")
    if len(weeks) < 8:  # a short log: leave room so the dates read as dates, not hours
        ax.set_xlim(weeks[0] - dt.timedelta(weeks=1), weeks[0] + dt.timedelta(weeks=8))
    if len(signals):
        # Hundreds of readings would hide the bands: smaller, translucent markers for a long log.
        crowded = len(signals) > CROWDED
        ax.scatter(
            signals["date"], signals["value"],
            c=[RELIABILITY_COLOURS[g] for g in signals["reliability"]],
            s=[CREDIBILITY_SIZES[g] * (0.3 if crowded else 1.0) for g in signals["credibility"]],
            edgecolors="black", linewidths=0.0 if crowded else 0.3, alpha=0.45 if crowded else 1.0, zorder=3,
        )
    for day, name in outcomes:
        ax.axvline(day, color="#d62728", linewidth=1 if len(outcomes) <= OUTCOME_LABELS_MAX else 0.5, linestyle="--")
        if len(outcomes) <= OUTCOME_LABELS_MAX:  # beyond that the labels overlap; the event log lists them
            ax.annotate(chart_text(name), (day, 3.3), rotation=90, fontsize=6, color="#d62728", ha="right", va="top",
                        xytext=(-2, 0), textcoords="offset points")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylim(-3.5, 3.5)
    _title(ax, label, fontsize=9)
    ax.set_ylabel("Level (-3 gone, 0 ordinary, +3 strongest)", fontsize=7)
    _date_axis(ax)
    ax.grid(alpha=0.3)
    return fig, ax


def grade_legend_handles() -> list[Line2D]:
    """Legend entries explaining the signal markers (colour: reliability, size: credibility)."""
    from matplotlib.lines import Line2D

    def marker(colour: str, size: float, text: str) -> Line2D:
        return Line2D([], [], linestyle="none", marker="o", markerfacecolor=colour, markeredgecolor="black",
                      markeredgewidth=0.3, markersize=np.sqrt(size), label=text)

    handles = [marker(c, 28, f"source {g}") for g, c in RELIABILITY_COLOURS.items()]
    handles += [marker("white", s, f"credibility {g}") for g, s in CREDIBILITY_SIZES.items() if g in "135"]
    return handles


def plot_prior_posterior(
    label: str, prior: FrozenDistribution, posterior: np.ndarray, axes: Axes | None = None,
) -> tuple[Figure | SubFigure, Axes]:
    """A parameter's prior density (line) against its posterior draws (histogram)."""
    fig, ax = _axes(axes, figsize=(3, 2))
    lo, hi = np.quantile(posterior, [0.001, 0.999])
    plo, phi = prior.ppf([0.01, 0.99])
    x = np.linspace(min(lo, plo), max(hi, phi), 300)
    # One filled outline rather than 40 bar patches: the same picture, and the brief has a panel per
    # parameter, where matplotlib's patches were most of its rendering (benchmarks/brief.py).
    counts, edges = np.histogram(posterior, bins=40, range=(x[0], x[-1]), density=True)
    ax.stairs(counts, edges, fill=True, color="#1f77b4", alpha=0.55, label="posterior")
    ax.plot(x, prior.pdf(x), color="black", linewidth=1.2, label="prior")
    _title(ax, label, fontsize=6.5)
    ax.tick_params(labelsize=6)
    ax.set_yticks([])
    return fig, ax


def plot_pit(pit: np.ndarray, axes: Axes | None = None) -> tuple[Figure | SubFigure, Axes]:
    """Histogram of the signals' PIT values: flat if the model describes the readings well."""
    fig, ax = _axes(axes, figsize=(3.2, 2.4))
    ax.hist(pit, bins=10, range=(0, 1), color="#7f7f7f", edgecolor="white")
    ax.axhline(len(pit) / 10, color="black", linestyle=":", linewidth=1, label="expected if calibrated")
    ax.set_xlabel("Where each signal falls in its predictive distribution (PIT)", fontsize=7)
    ax.set_ylabel("Signals", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="upper center")
    return fig, ax


def plot_outcome_check(label: str, observed: int, replicated: np.ndarray, axes: Axes | None = None) -> tuple[Figure | SubFigure, Axes]:
    """Replicated counts of weeks with an outcome (bars) against the observed count (line)."""
    fig, ax = _axes(axes, figsize=(2.4, 2.0))
    top = int(max(replicated.max(), observed)) + 1
    counts = np.bincount(replicated, minlength=top + 1)[: top + 1]
    ax.bar(np.arange(top + 1), counts / counts.sum(), color="#9ecae1", width=0.9)
    ax.axvline(observed, color="#d62728", linewidth=1.5, label=f"observed: {observed}")
    _title(ax, label, fontsize=7)
    ax.set_xlabel("Weeks with this outcome", fontsize=6)
    ax.tick_params(labelsize=6)
    ax.set_yticks([])
    ax.legend(fontsize=6, loc="upper right")  # a fixed place: "best" searches, and warns on a busy machine
    return fig, ax


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=2, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(axis="x", labelsize=7)


def plot_reliability(rows: list[dict], labels: dict[str, str], axes: Axes | None = None) -> tuple[Figure | SubFigure, Axes]:
    """Reliability diagram: observed frequency against mean forecast per bin, point size by count."""
    fig, ax = _axes(axes, figsize=(3.2, 3.0))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="calibrated")
    labels = _labels(labels)
    for colour, (key, label) in zip(OUTCOME_COLOURS, labels.items()):
        mine = [r for r in rows if r["outcome"] == key]
        if mine:
            ax.scatter([r["mean_forecast"] for r in mine], [r["observed_rate"] for r in mine],
                       s=[12 + 6 * r["n"] for r in mine], color=colour, alpha=0.8, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("Forecast chance (bin mean)", fontsize=7)
    ax.set_ylabel("Observed frequency", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="upper left")
    ax.grid(alpha=0.3)
    return fig, ax


def plot_backtest_forecasts(
    forecasts: list[dict], labels: dict[str, str], horizon: int, axes: Axes | None = None,
) -> tuple[Figure | SubFigure, Axes]:
    """The model's chance of each path at every origin, with what happened marked at 0 or 100 %."""
    fig, ax = _axes(axes, figsize=(4.0, 3.0))
    model = [f for f in forecasts if f["method"] == "model"]
    labels = _labels(labels)
    days = [dt.date.fromisoformat(f["origin"]) for f in model]
    for colour, (key, label) in zip(OUTCOME_COLOURS, labels.items()):
        ax.plot(days, [100 * f["p"][key] for f in model], color=colour, marker="o", markersize=3, linewidth=1.2, label=label)
        hits = [d for d, f in zip(days, model) if f["observed"] == key]
        ax.scatter(hits, [101.5] * len(hits), marker="v", color=colour, s=22, clip_on=False, zorder=4)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"Model's chance within {horizon} weeks (%)", fontsize=7)
    ax.set_xlabel("Origin date", fontsize=7)
    _date_axis(ax)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="center left")
    ax.grid(alpha=0.3)
    return fig, ax


class _CrowdForecast(Protocol):
    """What `plot_compare` reads of an external forecast (`evaluation.compare.CrowdForecast`,
    which the brief, a lower layer, cannot import)."""

    @property
    def date(self) -> dt.date: ...

    @property
    def probability(self) -> float: ...

    @property
    def deadline(self) -> dt.date: ...

    @property
    def match(self) -> str: ...

    @property
    def question(self) -> str: ...

    @property
    def match_text(self) -> str: ...


class _Compared(Protocol):
    """What `plot_compare` reads of a compared row (`evaluation.compare.Compared`)."""

    @property
    def crowd(self) -> _CrowdForecast: ...

    @property
    def model(self) -> float | None: ...

    @property
    def resolved(self) -> bool | None: ...

    @property
    def loose(self) -> str: ...

    def scored(self, include_loose: bool = False) -> bool: ...


LEGEND_QUESTIONS = 12  # questions named in the compare chart's legend: more would squeeze the chart to nothing


def plot_compare(
    compared: Sequence[_Compared], axes: Axes | None = None, include_loose: bool = False,
) -> tuple[Figure | SubFigure, Axes]:
    """External forecasts (hollow, dashed) and the model's matched chance (filled) by date, one
    colour per question; a resolved question is marked by its answer at the deadline (a star).
    Rows left out of the score are drawn faint, loose rows' model numbers as crosses. Past
    `LEGEND_QUESTIONS` questions the legend names the first ones and counts the rest, and the
    lines thin out, so that hundreds of questions still leave a chart to read."""
    from matplotlib.lines import Line2D

    fig, ax = _axes(axes)
    questions = list(dict.fromkeys(c.crowd.question for c in compared))
    palette = OUTCOME_COLOURS if len(questions) <= len(OUTCOME_COLOURS) else [
        matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab20").colors]
    many = len(questions) > LEGEND_QUESTIONS
    by_question: dict[str, list[_Compared]] = {}
    for c in compared:
        by_question.setdefault(c.crowd.question, []).append(c)
    handles = []
    for i, question in enumerate(questions):
        colour = palette[i % len(palette)]
        rows = sorted(by_question[question], key=lambda c: c.crowd.date)
        ax.plot([c.crowd.date for c in rows], [100 * c.crowd.probability for c in rows], color=colour, linestyle="--",
                marker="o", markerfacecolor="white", markersize=2.5 if many else 4, linewidth=0.6 if many else 1,
                alpha=0.6 if many else 1.0)
        mine = [c for c in rows if c.model is not None]
        if mine:
            ax.plot([c.crowd.date for c in mine], [100 * c.model for c in mine], color=colour, linewidth=0.9 if many else 1.6,
                    alpha=1.0 if any(c.scored(include_loose) for c in mine) else 0.35)
            for c in mine:
                loose = bool(c.loose) and not c.scored(include_loose)
                ax.scatter([c.crowd.date], [100 * c.model], color=colour, s=30 if loose else 16, zorder=3,
                           marker="x" if loose else "o")
        for c in rows:
            if c.resolved is not None:
                ax.scatter([c.crowd.deadline], [100 if c.resolved else 0], marker="*", s=60, color=colour, zorder=4)
        if i < LEGEND_QUESTIONS:
            match = mine[0].crowd.match_text if mine else rows[0].crowd.match_text
            label = question if len(question) <= 70 else question[:69] + "…"
            handles.append(Line2D([], [], color=colour, linewidth=2, label=chart_text(f"{label} [{match}]")))
    if many:
        handles.append(Line2D([], [], linestyle="none", label=f"… and {len(questions) - LEGEND_QUESTIONS} more questions, "
                                                              "drawn unnamed (forecast compare lists every row)"))
    style = [
        Line2D([], [], color="grey", linestyle="--", marker="o", markerfacecolor="white", markersize=4, label="external forecast"),
        Line2D([], [], color="grey", marker="o", markersize=4, label="model, same question"),
        Line2D([], [], color="grey", marker="x", linestyle="none", label="model, loose match (not scored)"),
        Line2D([], [], color="grey", marker="*", linestyle="none", markersize=8, label="resolution at the deadline"),
    ]
    ax.set_ylim(-3, 103)
    ax.set_ylabel("Chance the question resolves yes (%)")
    ax.set_xlabel("Date of the forecast (★ at a deadline: how it resolved, 100 yes, 0 no)")
    _date_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(handles=style, fontsize=7, loc="upper left")
    fig.legend(handles=handles, fontsize=6, loc="outside lower center", ncols=2 if len(handles) > 4 else 1, frameon=False)
    return fig, ax
