"""`forecast backtest`: replay the log as it was known at a series of past dates, and score.

For each origin date t:

* **Training data** are the events with `reported` <= t, with the retractions reported by t:
  exactly what `build_dataset(events, priors, as_of=t)` selects, so the backtest shares the one
  function that decides which events count and cannot see an event reported later, even one
  dated earlier.
* **The forecasts** are the chance of each path within H weeks of t's week, by the model and by
  four baselines, each scored exactly like the model:

  - `obstacles_off`: the same model with every obstacle's effect fixed at 0, so it learns the
    deal rates from the outcomes alone, starting from the model's own prior rates in the first
    week (`without_effects`). Signals cannot move its deals, so it is fitted on the origin's
    dataset without them (the same weeks and outcomes).
  - `climatology`: each deal type's weekly frequency in the weeks before t, as constant
    competing hazards.
  - `prior`: the priors alone (the prior predictive).
  - `uniform`: each of the J deal types and the complement 1 / (J + 1).

* **The outcome** is what the ledger says now happened in the H weeks after t's week: the
  first deal type to start, or none. An origin is scored only when those weeks are complete,
  i.e. end on or before the ledger's latest `reported` date.

**Sampled or reweighted.** The model and `obstacles_off` are forecast as `update` would: the
origins are cut into segments of ceil(H / every) consecutive origins (one window's worth, the
blocks the skill bootstrap resamples). The first origin of a segment is sampled; each later one
reweights the segment's last sampled fit, if that fit passed its diagnostics, by what is new since
(`inference/incremental.py`), and is sampled when the incremental path declines. The segments
depend on the origins and the horizon only. Each segment of each forecaster is one task of the
cluster the backtest runs on (`evaluation/engine.py`: `--jobs N` local workers, or `--cluster`),
carrying its data, priors and seed, so the numbers do not depend on how many workers share the
work. (A segment boundary forces a fresh fit that one long chain of reweighting would not, which
is the price of that.)

**Skill.** Against each baseline, 1 - S_model / S_baseline for the mean Brier and log scores,
with a 90 % interval from a moving-block bootstrap over origins (`evaluation/skill.py`).

Priors must not have been tuned on the period being backtested, or the score flatters the
model: see "Keeping a backtest honest" in docs/BACKTEST.md.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from forecast.brief.layout import signed_skill
from forecast.conventions import INTERVAL
from forecast.errors import InputError
from forecast.evaluation.engine import Engine, report
from forecast.evaluation.scoring import brier, log_score, reliability, summary
from forecast.evaluation.skill import RESAMPLES, block_length, in_words, judged_skill
from forecast.inference.diagnostics import Diagnostics
from forecast.inference.fit import FitSettings
from forecast.io.events import Event
from forecast.io.priors import Param, Priors, parse_priors
from forecast.model.dataset import ModelData, active_events, build_dataset, default_as_of, monday, week_index
from forecast.model.prior_distributions import prior_distribution

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr


METHODS = ("model", "obstacles_off", "climatology", "prior", "uniform")
BASELINES = METHODS[1:]
FITTED = ("model", "obstacles_off")  # sampled or reweighted at each origin; the others are formulas
LABELS = {
    "model": "Model",
    "obstacles_off": "Obstacles off",
    "climatology": "Climatology",
    "prior": "Priors alone",
    "uniform": "Uniform",
}
DESCRIPTIONS = {
    "obstacles_off": "the same model with every obstacle's effect fixed at 0: deal rates learnt from the outcomes alone, "
                     "from the model's prior rates at the obstacles' initial levels",
    "climatology": "each deal type's weekly frequency before the origin, as constant competing hazards",
    "prior": "the prior predictive, the chances before any event",
    "uniform": "every path equally likely",
}
IN_A_SENTENCE = {
    "obstacles_off": "the obstacles-off model",
    "climatology": "climatology",
    "prior": "the priors alone",
    "uniform": "the uniform forecast",
}

# forecast_at(data, priors, horizon) -> (chance of each path at the horizon, diagnostics passed):
# stands in for a fit of the model (the priors as given) or of obstacles_off (effects fixed at 0,
# data without signals). On a cluster it must be picklable (a module-level function).
ForecastAt = Callable[[ModelData, Priors, int], tuple[dict[str, float], bool]]


@dataclass(frozen=True)
class BacktestSettings:
    start: dt.date | None = None  # first origin; default: 4 weeks after the first week with data
    every_weeks: int = 2
    horizon: int | None = None  # default: the priors' headline horizon
    jobs: int = 1  # local workers (evaluation/engine.py; 1 and no cluster: in this process); the numbers do not depend on it
    cluster: str | None = None  # a dask scheduler's address; default $FORECAST_CLUSTER, else local workers


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


def climatology_forecast(events: Sequence[Event], priors: Priors, origin: dt.date, horizon: int) -> dict[str, float]:
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


def uniform_forecast(keys: Sequence[str]) -> dict[str, float]:
    """Each of the J deal types and the complement: 1 / (J + 1)."""
    return {k: 1 / len(keys) for k in keys}


def without_effects(priors: Priors) -> Priors:
    """The same priors with every obstacle's effect on every deal fixed at 0 (a `{value: 0}`
    entry), so the deals' weekly chances are the baselines alone, learnt from the outcomes.

    The model's baseline a_j is deal j's log-odds with every obstacle at 0, which is not where
    the obstacles start: the model's prior log-odds in the first week are a_j + sum_k b_jk
    theta_k0. Keeping a_j's prior with the effects switched off would give obstacles_off a
    different, and here much higher, starting rate than the model's: a straw man. Its baseline is
    instead that first-week log-odds, as a normal with the same mean and variance under the
    priors (independent parameters), a function of the priors alone."""
    content = copy.deepcopy(priors.content)
    for key, deal in content["outcomes.yaml"]["deals"].items():
        mean, variance = first_week_log_odds(priors, key)
        deal["baseline"] = {"dist": "Normal", "kwargs": {"mu": round(mean, 6), "sigma": round(float(np.sqrt(variance)), 6)},
                            "rationale": "The obstacles_off baseline of a backtest: the model's prior log-odds of this deal "
                                         "in the first week, at the obstacles' initial levels (mean and variance).",
                            "source": "forecast backtest"}
        deal["effects"] = {factor: {"value": 0.0, "rationale": "The obstacles_off baseline of a backtest: no effect.",
                                    "source": "forecast backtest"} for factor in deal["effects"]}
    return parse_priors(content, priors.directory)


def first_week_log_odds(priors: Priors, deal: str) -> tuple[float, float]:
    """(mean, variance) of a_j + sum_k b_jk theta_k0 under the priors, the parameters independent:
    Var(b theta) = Var b Var theta + Var b E[theta]^2 + Var theta E[b]^2."""
    spec = priors.outcomes.deals[deal]
    mean, variance = _moments(spec.baseline)
    for factor, effect in spec.effects.items():
        (b, vb), (t, vt) = _moments(effect), _moments(priors.factors[factor].initial)
        mean += b * t
        variance += vb * vt + vb * t * t + vt * b * b
    return mean, variance


def _moments(param: Param) -> tuple[float, float]:
    if param.fixed:
        return float(param.value), 0.0
    dist = prior_distribution(param)
    if hasattr(dist, "mean") and hasattr(dist, "var"):
        return float(dist.mean()), float(dist.var())
    draws = dist.rvs(size=200_000, random_state=np.random.default_rng(0))  # no closed form (a half Student-t)
    return float(np.mean(draws)), float(np.var(draws))


def without_signals(data: ModelData) -> ModelData:
    """The dataset with no signals: the same weeks and outcomes (each week without a deal still
    an observed "none"), so obstacles_off learns from exactly the model's outcome record."""
    none = np.zeros(0, dtype=np.int64)
    return dataclasses.replace(data, signal_factor=none, signal_week=none, signal_value=np.zeros(0), signal_reliability=none,
                               signal_credibility=none, counts={**data.counts, "signals": 0})


def segments(n: int, length: int) -> list[range]:
    """Origins 0..n-1 cut into runs of `length` (the last may be shorter). Each run starts with a
    fresh fit; the cut depends on nothing but n and `length`."""
    return [range(i, min(i + length, n)) for i in range(0, n, length)]


def run_backtest(
    events: Sequence[Event],
    priors: Priors,
    settings: BacktestSettings,
    fit: FitSettings,
    *,
    log: Callable[[str], None] = lambda message: None,
    forecast_at: ForecastAt | None = None,
    engine: Engine | None = None,
) -> dict:
    """The backtest as the JSON object `forecast backtest --json` prints.

    `forecast_at` replaces the model's and obstacles_off's fits (no sampling, no reweighting),
    e.g. in tests; by default each is sampled or reweighted with `fit`'s settings.
    """
    horizon = settings.horizon if settings.horizon is not None else priors.outcomes.horizon_weeks
    return run_backtests(events, priors, settings, fit, [horizon], log=log, forecast_at=forecast_at, engine=engine)[horizon]


def run_backtests(
    events: Sequence[Event],
    priors: Priors,
    settings: BacktestSettings,
    fit: FitSettings,
    horizons: Sequence[int],
    *,
    log: Callable[[str], None] = lambda message: None,
    forecast_at: ForecastAt | None = None,
    engine: Engine | None = None,
) -> dict[int, dict]:
    """One backtest per horizon, from one fit per origin: a fit's forecast table holds every
    horizon, and an origin whose window is complete for a long horizon is complete for a short
    one, so the fits at the shortest horizon's origins serve them all. Segments (where fits start
    afresh) are cut for the longest horizon. {horizon: what `run_backtest` returns}.

    `engine`: the cluster to run on; by default one made from the settings' jobs and cluster."""
    plan = plan_backtests(events, priors, settings, fit, horizons, forecast_at=forecast_at)
    if engine is None:
        with Engine(jobs=settings.jobs, cluster=settings.cluster, log=log) as own:
            return plan.assemble(list(own.map(forecast_track, plan.tasks)))
    return plan.assemble(list(engine.map(forecast_track, plan.tasks)))


def plan_backtests(events: Sequence[Event], priors: Priors, settings: BacktestSettings, fit: FitSettings,
                   horizons: Sequence[int], *, forecast_at: ForecastAt | None = None, label: str = "") -> BacktestPlan:
    """The backtests' tasks (each forecaster's fits along each segment), to run anywhere, and
    how their results become the backtests. `label` names the backtest in progress lines (a
    sweep runs several at once)."""
    horizons = tuple(sorted(set(horizons)))
    for horizon in horizons:
        if not 1 <= horizon <= priors.outcomes.forecast_weeks:
            raise InputError(f"--horizon must be from 1 to {priors.outcomes.forecast_weeks} weeks "
                             f"(the priors' forecast_weeks), got {horizon}")
    if settings.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {settings.jobs}")
    dates, known = origins(events, priors, settings, horizons[-1])
    if not dates:
        raise InputError(f"no origin has a complete {horizons[-1]}-week window: the ledger runs to {known}; "
                         "use an earlier --from or a shorter --horizon")
    all_dates, _ = origins(events, priors, settings, horizons[0])
    events = tuple(events)
    priors_off = without_effects(priors)
    signal_free = tuple(e for e in events if e.kind != "signal")
    cut = segments(len(all_dates), block_length(horizons[-1], settings.every_weeks))
    # Several fits at once on a worker's one thread: each runs its chains one after another.
    fit_here = dataclasses.replace(fit, cores=1) if settings.jobs > 1 or settings.cluster else fit
    tasks = []
    for seg in cut:
        at = tuple(all_dates[i] for i in seg)
        numbers = tuple(i + 1 for i in seg)
        tasks.append(TrackTask("model", label, events, events, priors, priors, fit_here, horizons, at, numbers, len(all_dates),
                               forecast_at))
        tasks.append(TrackTask("obstacles_off", label, events, signal_free, priors, priors_off, fit_here, horizons, at, numbers,
                               len(all_dates), forecast_at))
    return BacktestPlan(events, priors, settings, fit, horizons, tuple(all_dates), known, tuple(tasks))


@dataclass(frozen=True)
class BacktestPlan:
    events: tuple[Event, ...]
    priors: Priors
    settings: BacktestSettings
    fit: FitSettings
    horizons: tuple[int, ...]
    dates: tuple[dt.date, ...]
    known: dt.date
    tasks: tuple[TrackTask, ...]

    def assemble(self, results: Sequence[list[dict]]) -> dict[int, dict]:
        """The backtests from the tasks' results, in the tasks' order."""
        from forecast.forecasting.incidence import headline
        from forecast.forecasting.prior_predictive import prior_predictive

        per_origin: list[dict] = []
        for task, found in zip(self.tasks, results):
            if task.forecaster == "model":
                per_origin.extend({"model": f} for f in found)
            else:
                for row, f in zip(per_origin[len(per_origin) - len(found):], found):
                    row["obstacles_off"] = f
        fitted = [{**row, "seconds": row["model"].pop("seconds") + row["obstacles_off"].pop("seconds")} for row in per_origin]
        prior_table = prior_predictive(self.priors, draws=4000, seed=self.fit.seed).table
        out = {}
        for horizon in self.horizons:
            horizon_dates, _ = origins(self.events, self.priors, self.settings, horizon)
            prior = {k: v["p"] for k, v in headline(prior_table, horizon, self.priors.outcomes.labels).items()}
            at_origins = [{**f, **{m: {**f[m], "p": f[m]["p"][horizon]} for m in FITTED}} for f in fitted[: len(horizon_dates)]]
            out[horizon] = _scored(self.events, self.priors, self.settings, self.fit, horizon, horizon_dates, self.known,
                                   at_origins, prior)
        return out


def _scored(events: Sequence[Event], priors: Priors, settings: BacktestSettings, fit: FitSettings, horizon: int,
            dates: Sequence[dt.date], known: dt.date, fitted: Sequence[dict], prior: dict[str, float]) -> dict:
    """The backtest at one horizon, from the fitted methods' forecasts at each origin."""
    keys = priors.outcomes.keys
    uniform = uniform_forecast(keys)
    block = block_length(horizon, settings.every_weeks)
    forecasts = []
    for origin, at_origin in zip(dates, fitted):
        observed = observed_path(events, known, origin, horizon, keys)
        formulas = {"climatology": climatology_forecast(events, priors, origin, horizon), "prior": prior, "uniform": uniform}
        for method in METHODS:
            extra = at_origin[method] if method in FITTED else {"p": formulas[method]}
            forecasts.append({"origin": origin.isoformat(), "method": method, "observed": observed, **extra})

    scores, diagrams, per_origin = {}, {}, {}
    for method in METHODS:
        pairs = [(f["p"], f["observed"]) for f in forecasts if f["method"] == method]
        scores[method] = summary(pairs, keys)
        diagrams[method] = reliability(pairs, keys)
        per_origin[method] = {"brier": np.array([brier(p, o) for p, o in pairs]), "log": np.array([log_score(p, o) for p, o in pairs])}
    skill = {}
    for baseline in BASELINES:
        skill[baseline] = {}
        for score in ("brier", "log"):
            skill[baseline][score] = judged_skill(per_origin["model"][score], per_origin[baseline][score], block)
    model_fits = [f for f in forecasts if f["method"] == "model"]
    return {
        "origins": [d.isoformat() for d in dates],
        "horizon_weeks": horizon,
        "every_weeks": settings.every_weeks,
        "known_to": known.isoformat(),
        "outcomes": {k: priors.outcomes.labels[k] for k in keys},
        "methods": dict(LABELS),
        "baselines": dict(DESCRIPTIONS),
        "scores": scores,
        "skill": skill,
        "skill_in_words": {b: in_words(IN_A_SENTENCE[b], skill[b]["brier"], skill[b]["log"]) for b in BASELINES},
        "bootstrap": {"block_origins": block, "resamples": RESAMPLES, "interval": list(INTERVAL)},
        "segment_origins": block,
        "model_fits": {how: sum(1 for f in model_fits if f["fit"] == how) for how in ("sampled", "reweighted")},
        "forecasts": forecasts,
        "reliability": diagrams,
        "flagged_fits": sum(1 for f in forecasts if f.get("diagnostics_passed") is False),
        "priors_hash": priors.hash,
        "fit": {"draws": fit.draws, "tune": fit.tune, "chains": fit.chains, "seed": fit.seed},
    }


@dataclass(frozen=True)
class TrackTask:
    """One forecaster along one segment of origins: a task of the cluster, sent whole to a worker
    (everything in it pickles). `events` are those the backtest's datasets are built from,
    `reads` those this forecaster reweights with (obstacles_off reads no signals)."""

    forecaster: str  # "model" or "obstacles_off"
    label: str
    events: tuple[Event, ...]
    reads: tuple[Event, ...]
    data_priors: Priors  # the datasets are the model's (obstacles_off's then lose their signals)
    priors: Priors  # this forecaster's priors
    fit: FitSettings
    horizons: tuple[int, ...]
    origins: tuple[dt.date, ...]
    numbers: tuple[int, ...]  # each origin's place among all the backtest's origins, from 1
    total: int
    forecast_at: ForecastAt | None


def forecast_track(task: TrackTask) -> list[dict]:
    """The forecaster's forecasts at the task's origins, in order, each with its seconds; a
    progress line to the client after each."""
    track = _Track(task.priors, task.reads, task.fit, task.horizons, task.forecast_at)
    out = []
    for number, origin in zip(task.numbers, task.origins):
        started = time.perf_counter()
        # The one place the backtest chooses data: what `update --as-of origin` would have seen.
        data = build_dataset(task.events, task.data_priors, origin)
        if task.forecaster == "obstacles_off":
            data = without_signals(data)
        at = {**track.at(data), "seconds": time.perf_counter() - started}
        out.append(at)
        how = at["fit"] + (f", Pareto k {at['pareto_k']:.2f}" if at["fit"] == "reweighted" else "")
        what = (f"model at {task.horizons[-1]} weeks {_fmt(at['p'][task.horizons[-1]])}" if task.forecaster == "model"
                else "obstacles off")
        report(f"{task.label + ': ' if task.label else ''}origin {number}/{task.total}: {origin}, {what} ({how}; "
               f"{at['seconds']:.0f} s)")
    return out


@dataclass
class _Track:
    """One forecaster along a segment, as `update` would run it: sampled first; then, while the
    last sampled fit passed its diagnostics, its draws reweighted by what is new since it
    (`reweight`), and sampled again where that declines. `events` are those the forecaster
    reads (obstacles_off reads no signals)."""

    priors: Priors
    events: Sequence[Event]
    fit: FitSettings
    horizons: tuple[int, ...]
    forecast_at: ForecastAt | None
    base: tuple[xr.Dataset, dt.date, Diagnostics, int] | None = None  # posterior, as-of, diagnostics, draws

    def at(self, data: ModelData) -> dict:
        """{"p": {horizon: chances}, "fit": "sampled" | "reweighted", "pareto_k", "diagnostics_passed"} at `data`'s as-of date."""
        from forecast.inference.fit import fit_checked, forecast_from_posterior
        from forecast.inference.incremental import Reweighted, reweight

        if self.forecast_at is not None:
            answers = {h: self.forecast_at(data, self.priors, h) for h in self.horizons}
            return {"p": {h: p for h, (p, _) in answers.items()}, "fit": "sampled", "pareto_k": None,
                    "diagnostics_passed": all(passed for _, passed in answers.values())}
        if self.base is not None:
            posterior, as_of, diagnostics, n_draws = self.base
            result = reweight(posterior, data, self.events, as_of, self.events, seed=self.fit.seed)
            if isinstance(result, Reweighted):
                # As `update` judges a reweighted run: the base's diagnostics, each ESS scaled by the
                # share of the draws the weights leave (ESS_weights x ESS_base / N).
                share = result.ess / n_draws
                scaled = dataclasses.replace(diagnostics, ess_bulk_min=diagnostics.ess_bulk_min * share,
                                             ess_tail_min=diagnostics.ess_tail_min * share)
                if scaled.passed:
                    table = forecast_from_posterior(result.posterior, self.priors, self.fit.seed, data.occasions_ahead)
                    return {"p": self._chances(table), "fit": "reweighted", "pareto_k": round(result.pareto_k, 3),
                            "diagnostics_passed": True}
        # As `update`: sampled, and retried once with safer settings if that fails its diagnostics.
        trace, stored, table, used = fit_checked(data, self.priors, self.fit)
        diagnostics = Diagnostics(**{k: stored[k] for k in ("r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences",
                                                             "sampling_seconds", "chains")})
        # Only a sampled fit that passed its diagnostics is reweighted later, as in `update`.
        self.base = (trace.posterior.to_dataset(), data.as_of, diagnostics, used.chains * used.draws) if diagnostics.passed else None
        # A flagged fit keeps what failed, each figure with the quantity behind it, for the reader.
        return {"p": self._chances(table), "fit": "sampled", "retried": "retry" in stored, "pareto_k": None,
                "diagnostics_passed": diagnostics.passed, **({} if diagnostics.passed else {"problems": stored["problems"]})}

    def _chances(self, table: pd.DataFrame) -> dict[int, dict[str, float]]:
        from forecast.forecasting.incidence import headline

        return {h: {k: v["p"] for k, v in headline(table, h, self.priors.outcomes.labels).items()} for h in self.horizons}


def _fmt(p: dict[str, float]) -> str:
    return ", ".join(f"{k} {100 * v:.1f} %" for k, v in p.items())


def skill_rows(result: dict) -> list[list[str]]:
    """[baseline label, Brier skill, log skill] per baseline, as text: the value and its interval."""
    labels = result.get("methods", LABELS)
    return [[labels[b], signed_skill(s["brier"]), signed_skill(s["log"])] for b, s in result["skill"].items()]


def table_text(result: dict) -> str:
    """The scores as the terminal prints them."""
    labels = result["methods"]
    width = max(len(label) for label in labels.values())
    lines = [
        *_wrap(f"Backtest: {len(result['origins'])} origins from {result['origins'][0]} to {result['origins'][-1]}, "
               f"every {result['every_weeks']} week(s), horizon {result['horizon_weeks']} weeks; outcomes as known on "
               f"{result['known_to']}."),
        "",
        f"  {'Method':<{width}} {'Brier':>7} {'Log':>7}   (lower is better)",
    ]
    for method, s in result["scores"].items():
        lines.append(f"  {labels[method]:<{width}} {s['brier']:7.3f} {s['log']:7.3f}")
    lines.append("")
    for baseline, description in result["baselines"].items():
        lines += _wrap(f"{labels[baseline]}: {description}.", indent="  ")
    lo, hi = (round(100 * q) for q in result["bootstrap"]["interval"])
    rows = skill_rows(result)
    column = max([24, *(len(brier) + 2 for _, brier, _ in rows)])  # a wide interval pushes the log column right
    lines += [
        "",
        *_wrap("Skill of the model against each baseline: 1 - the model's score / the baseline's, above 0 where the model "
               f"does better, with a {hi - lo} % interval over origins (runs of {result['bootstrap']['block_origins']} "
               "origins resampled together, as their windows overlap)."),
        "",
        f"  {'Baseline':<{width}}  {'Brier skill':<{column}}{'Log skill'}",
        *(f"  {label:<{width}}  {b:<{column}}{lg}" for label, b, lg in rows),
        "",
    ]
    for sentence in result["skill_in_words"].values():
        lines += _wrap(sentence)
    observed = [f["observed"] for f in result["forecasts"] if f["method"] == "model"]
    counts = ", ".join(f"{label} {observed.count(k)}" for k, label in result["outcomes"].items())
    fits = result["model_fits"]
    lines += ["", *_wrap(f"What happened in the windows: {counts}."),
              *_wrap(f"The model's forecasts: {fits['sampled']} sampled, {fits['reweighted']} reweighted from an earlier "
                     "origin's fit.")]
    if result["flagged_fits"]:
        lines += _wrap(f"warning: {result['flagged_fits']} fits (of the model and of obstacles off) failed their diagnostics")
    return "\n".join(lines)


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, width=80, initial_indent=indent, subsequent_indent=indent + "  " if indent else "")
