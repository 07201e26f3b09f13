"""`forecast backtest`: replay the log as it was known at a series of past dates, and score.

For each origin date t:

* **Training data** are the events with `reported` <= t, with the retractions reported by t:
  exactly what `build_dataset(events, priors, as_of=t)` selects, so the backtest shares the one
  function that decides which events count and cannot see an event reported later, even one
  dated earlier.
* **The forecast** is the model's chance of each path within H weeks of t's week, from a full
  refit, and two baselines: the *base rate* (each deal type's weekly frequency in the weeks
  before t, as constant competing hazards) and the *priors alone* (the prior predictive).
* **The outcome** is what the ledger says now happened in the H weeks after t's week: the
  first deal type to start, or none. An origin is scored only when those weeks are complete,
  i.e. end on or before the ledger's latest `reported` date.

Priors must not have been tuned on the period being backtested, or the score flatters the
model: see "Keeping a backtest honest" in the README.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from forecast.errors import InputError
from forecast.evaluation.scoring import reliability, summary
from forecast.inference.fit import FitSettings
from forecast.io.events import Event
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData, active_events, build_dataset, default_as_of, monday, week_index

METHODS = ("model", "base_rate", "prior")


@dataclass(frozen=True)
class BacktestSettings:
    start: dt.date | None = None  # first origin; default: 4 weeks after the first week with data
    every_weeks: int = 2
    horizon: int | None = None  # default: the priors' headline horizon


def origins(events: Sequence[Event], priors: Priors, settings: BacktestSettings, horizon: int) -> tuple[list[dt.date], dt.date]:
    """Origin dates whose H-week window is complete in the ledger, and the ledger's as-of date."""
    if settings.every_weeks < 1:
        raise InputError(f"--every must be at least 1 week, got {settings.every_weeks}")
    known = default_as_of(events)
    active, _ = active_events(events, known)
    first = monday(min([priors.outcomes.start, *(e.date for e in active)]))
    start = settings.start or first + dt.timedelta(weeks=4)
    if start < first:
        raise InputError(f"--from {start} is before the model's first week ({first})")
    last_complete = monday(known)  # the log is complete up to its latest report
    out, t = [], start
    while monday(t) + dt.timedelta(weeks=horizon) <= last_complete:
        out.append(t)
        t += dt.timedelta(weeks=settings.every_weeks)
    return out, known


def observed_path(events: Sequence[Event], known: dt.date, origin: dt.date, horizon: int, keys: Sequence[str]) -> str:
    """The path that happened in the `horizon` weeks after the origin's week, as the ledger now says:
    the first deal type to start (the one listed first in the priors if two start in one week),
    or the complement."""
    active, _ = active_events(events, known)
    base = monday(origin)
    starts = {}
    for e in active:
        if e.kind == "outcome":
            week = week_index(e.date, base)
            if 1 <= week <= horizon:
                starts.setdefault(week, set()).add(e.outcome)
    if not starts:
        return keys[-1]
    first = starts[min(starts)]
    return next(k for k in keys[:-1] if k in first)


def base_rate_forecast(events: Sequence[Event], priors: Priors, origin: dt.date, horizon: int) -> dict[str, float]:
    """Constant weekly hazards from the deal weeks seen by the origin, with half a deal added to
    each count (Jeffreys) so an unseen deal type keeps a small chance:

        CIF_j(H) = p_j / sum(p) * (1 - (1 - sum(p))^H),    P(no deal) = (1 - sum(p))^H
    """
    data = build_dataset(events, priors, origin)
    weeks = data.outcome_counts.shape[0]
    deal_weeks = (data.outcome_counts[:, 1:] > 0).sum(axis=0)
    p = (deal_weeks + 0.5) / (weeks + 1.0)
    total = min(p.sum(), 1 - 1e-9)
    none = (1 - total) ** horizon
    out = {k: float(pj / total * (1 - none)) for k, pj in zip(data.deals, p)}
    out[priors.outcomes.complement_key] = float(none)
    return out


def run_backtest(
    events: Sequence[Event],
    priors: Priors,
    settings: BacktestSettings,
    fit: FitSettings,
    *,
    log: Callable[[str], None] = lambda message: None,
    forecast_at: Callable[[ModelData, int], tuple[dict[str, float], bool]] | None = None,
) -> dict:
    """The backtest as the JSON object `forecast backtest --json` prints.

    `forecast_at(data, horizon)` gives the model's chances and whether its fit passed its
    diagnostics; by default a full refit with `fit`'s settings.
    """
    from forecast.forecasting.incidence import headline
    from forecast.forecasting.prior_predictive import prior_predictive
    from forecast.inference.fit import fit_forecast

    horizon = settings.horizon if settings.horizon is not None else priors.outcomes.horizon_weeks
    if not 1 <= horizon <= priors.outcomes.forecast_weeks:
        raise InputError(f"--horizon must be from 1 to {priors.outcomes.forecast_weeks} weeks (the priors' forecast_weeks), got {horizon}")
    keys = priors.outcomes.keys
    dates, known = origins(events, priors, settings, horizon)
    if not dates:
        raise InputError(f"no origin has a complete {horizon}-week window: the ledger runs to {known}; "
                         "use an earlier --from or a shorter --horizon")

    def refit(data: ModelData, horizon: int) -> tuple[dict[str, float], bool]:
        _, diagnostics, table = fit_forecast(data, priors, fit)
        return {k: v["p"] for k, v in headline(table, horizon, priors.outcomes.labels).items()}, diagnostics.passed

    forecast_at = forecast_at or refit
    prior_table = prior_predictive(priors, draws=4000, seed=fit.seed).table
    prior = {k: v["p"] for k, v in headline(prior_table, horizon, priors.outcomes.labels).items()}

    forecasts = []
    for n, origin in enumerate(dates, start=1):
        started = time.perf_counter()
        # The one place the backtest chooses data: what `update --as-of origin` would have seen.
        p_model, passed = forecast_at(build_dataset(events, priors, origin), horizon)
        observed = observed_path(events, known, origin, horizon, keys)
        for method, p in (("model", p_model), ("base_rate", base_rate_forecast(events, priors, origin, horizon)), ("prior", prior)):
            forecasts.append({"origin": origin.isoformat(), "method": method, "p": p, "observed": observed,
                              **({"diagnostics_passed": passed} if method == "model" else {})})
        log(f"origin {n}/{len(dates)}: {origin}, observed {observed}, model {_fmt(p_model)} ({time.perf_counter() - started:.0f} s)")

    scores, diagrams = {}, {}
    for method in METHODS:
        pairs = [(f["p"], f["observed"]) for f in forecasts if f["method"] == method]
        scores[method] = summary(pairs, keys)
        diagrams[method] = reliability(pairs, keys)
    return {
        "origins": [d.isoformat() for d in dates],
        "horizon_weeks": horizon,
        "every_weeks": settings.every_weeks,
        "known_to": known.isoformat(),
        "outcomes": {k: priors.outcomes.labels[k] for k in keys},
        "scores": scores,
        "forecasts": forecasts,
        "reliability": diagrams,
        "flagged_fits": sum(1 for f in forecasts if f.get("diagnostics_passed") is False),
        "priors_hash": priors.hash,
        "fit": {"draws": fit.draws, "tune": fit.tune, "chains": fit.chains, "seed": fit.seed},
    }


def _fmt(p: dict[str, float]) -> str:
    return ", ".join(f"{k} {100 * v:.1f} %" for k, v in p.items())


def table_text(result: dict) -> str:
    """The scores as the terminal prints them."""
    names = {"model": "Model", "base_rate": "Base rate", "prior": "Priors alone"}
    lines = [
        f"Backtest: {len(result['origins'])} origins from {result['origins'][0]} to {result['origins'][-1]}, "
        f"every {result['every_weeks']} week(s), horizon {result['horizon_weeks']} weeks; outcomes as known on {result['known_to']}",
        "",
        f"  {'Method':<13} {'Brier':>7} {'Log':>7}   (lower is better)",
    ]
    for method in METHODS:
        s = result["scores"][method]
        lines.append(f"  {names[method]:<13} {s['brier']:7.3f} {s['log']:7.3f}")
    observed = [f["observed"] for f in result["forecasts"] if f["method"] == "model"]
    counts = ", ".join(f"{label} {observed.count(k)}" for k, label in result["outcomes"].items())
    lines += ["", f"What happened in the windows: {counts}"]
    if result["flagged_fits"]:
        lines.append(f"warning: {result['flagged_fits']} of the model's fits failed their diagnostics")
    return "\n".join(lines)
