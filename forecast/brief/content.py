"""Everything the brief shows for one stored run, computed from the workspace alone.

The run folder (the posterior file with the priors it was fitted with, and what moved, computed
by `update` before the run was published) and the ledger as the run saw it (events up to the
run's `last_event_seq`) are all that is needed: a brief can be re-rendered for any run, at any
later time, shows the same numbers, and never samples or writes. The rebuilt dataset must hash
to the run's data hash, or the brief refuses to claim it describes that run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from forecast.brief.record_evidence import load_record_evidence
from forecast.conventions import CODER, DEAL, FACTOR, HORIZON, INTERVAL, OUTCOME
from forecast.errors import ForecastError
from forecast.explain.attribution import Attribution, Unavailable
from forecast.explain.contested import FILE as CONTESTED
from forecast.explain.contested import Contested, read_contested
from forecast.explain.model_checks import (
    OutcomeCheck,
    PriorPosterior,
    SignalCheck,
    convergence_table,
    headline_mcse,
    outcome_check,
    prior_posterior,
    signal_check,
)
from forecast.explain.signposts import signposts
from forecast.explain.what_moved import read_what_moved
from forecast.forecasting.incidence import cumulative_incidence
from forecast.io.events import Event
from forecast.io.ledger import RunRecord
from forecast.io.priors import Priors
from forecast.io.runfiles import load_posterior, stored_forecast, stored_priors
from forecast.io.workspace import Workspace
from forecast.model.dataset import ModelData, active_events, build_dataset
from forecast.model.likelihood_on_draws import Draws, Signals

SIGNPOST_STRENGTH = 2.0
SIGNPOST_GRADE = ("B", "2")


@dataclass(frozen=True)
class LoggedEvent:
    event: Event
    status: str  # "used", "retracted", "withdrawal", "after as-of"
    note: str  # e.g. which retraction withdrew it


@dataclass(frozen=True)
class OccasionAhead:
    """A scheduled occasion inside the forecast window, and what it does to each deal's odds."""

    event: Event
    week: int  # 1 = the week after the as-of week
    odds: dict[str, tuple[float, float, float]]  # deal key -> multiplier of the weekly odds: mean, 5 %, 95 %


@dataclass(frozen=True)
class Brief:
    run: RunRecord
    previous: RunRecord | None
    history: list[RunRecord]  # every run up to and including this one, oldest first
    priors: Priors
    data: ModelData
    table: pd.DataFrame  # the stored forecast: horizon, outcome, p, lo, hi
    theta: np.ndarray  # (draws, factor, week)
    signals: list[Event]  # in the model's order (data.signal_*)
    outcomes: list[Event]
    log: list[LoggedEvent]
    attribution: Attribution | Unavailable | None  # None: the first run
    signposts: pd.DataFrame
    convergence: pd.DataFrame
    prior_posterior: list[PriorPosterior]
    fixed_parameters: list[str]
    signal_check: SignalCheck
    outcome_checks: list[OutcomeCheck]
    mcse: dict[str, float]  # Monte Carlo standard error of each headline chance
    notes: list[str]  # reproducibility remarks for the stamp
    backtest: dict | None = None  # the workspace's latest `forecast backtest`, if any
    record_evidence: dict | None = None  # what the record's backtest found (brief/record_evidence.py)
    occasions_ahead: list[OccasionAhead] = field(default_factory=list)
    contested: Contested | None = None  # the headline with the contested deals counted as no deal (explain/contested.py)
    # (coder, factor) -> the offset's mean, 5 % and 95 % (docs/MODEL.md, "Coders"); empty with one coder.
    coder_offsets: dict[tuple[str, str], tuple[float, float, float]] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        return self.priors.outcomes.labels

    @property
    def factor_labels(self) -> dict[str, str]:
        return {k: f.label for k, f in self.priors.factors.items()}

    @property
    def horizon_end(self) -> dt.date:
        """The last day covered by the headline: the as-of week plus the horizon."""
        monday = self.run.as_of - dt.timedelta(days=self.run.as_of.weekday())
        return monday + dt.timedelta(weeks=self.run.horizon_weeks, days=6)

    @property
    def headline_table(self) -> pd.DataFrame:
        return self.table[self.table[HORIZON] == self.run.horizon_weeks].set_index(OUTCOME)


def collect(workspace: Workspace, run: RunRecord) -> Brief:
    runs = workspace.ledger.runs()
    history = runs[: [r.run_id for r in runs].index(run.run_id) + 1]
    previous = history[-2] if len(history) > 1 else None

    tree = load_posterior(workspace.root / run.posterior, run)
    priors = stored_priors(tree, run)
    events = _events_seen_by(workspace, run)
    data = build_dataset(events, priors, run.as_of)
    if data.data_hash != run.data_hash:
        raise ForecastError(f"run {run.run_id}: the ledger's events no longer hash to the run's data hash "
                            f"({data.data_hash[:12]} against {run.data_hash[:12]}); the ledger was changed outside forecast")
    active, _ = active_events(events, run.as_of)
    signal_events = [e for e in active if e.kind == "signal"]
    outcome_events = [e for e in active if e.kind == "outcome"]

    # Label-based, in the priors' order: files written before the priors kept their order hold
    # them sorted, and every table and chart below indexes by position.
    posterior = tree.posterior.to_dataset().sel({FACTOR: list(priors.factors), DEAL: list(priors.outcomes.deals)})
    draws = Draws.from_dataset(posterior)
    outcome_keys = priors.outcomes.keys
    factor_keys = list(priors.factors)
    horizon = run.horizon_weeks
    table = stored_forecast(tree, outcome_keys)
    # The forecast's own stream, as `update` drew it: the same draws give the same per-draw chances.
    incidence = cumulative_incidence(draws, priors.outcomes.forecast_weeks, np.random.default_rng([run.seed, 1]),
                                     data.occasions_ahead)
    notes = _reproduction_notes(incidence, table, horizon, outcome_keys)
    mcse = headline_mcse(incidence, horizon, run.chains)

    attribution = None if previous is None else read_what_moved((workspace.root / run.posterior).parent, run.run_id)

    signals = Signals(data.signal_factor, data.signal_week, data.signal_value, data.signal_reliability, data.signal_credibility,
                      data.signal_coder if len(data.coders) > 1 else None)
    pairs, fixed = prior_posterior(posterior, priors)
    return Brief(
        run=run, previous=previous, history=history, priors=priors, data=data, table=table,
        theta=draws.theta, signals=signal_events, outcomes=outcome_events, log=_event_log(events, run.as_of),
        attribution=attribution,
        signposts=signposts(draws, incidence, factor_keys, outcome_keys, horizon, strength=SIGNPOST_STRENGTH, grade=SIGNPOST_GRADE),
        convergence=convergence_table(posterior, run.chains),
        prior_posterior=pairs, fixed_parameters=fixed,
        signal_check=signal_check(draws, signals),
        outcome_checks=outcome_check(draws, data.outcome_counts, [priors.outcomes.deals[k].label for k in data.deals],
                                     np.random.default_rng([run.seed, 3]), data.occasion_counts),
        contested=read_contested((workspace.root / run.posterior).parent / CONTESTED),
        coder_offsets=_coder_offsets(posterior),
        mcse=dict(zip(outcome_keys, map(float, mcse))),
        notes=notes,
        backtest=_latest_backtest(workspace),
        record_evidence=load_record_evidence(),
        occasions_ahead=_occasions_ahead(active, data, draws, priors),
    )


def _coder_offsets(posterior: xr.Dataset) -> dict[tuple[str, str], tuple[float, float, float]]:
    if "coder_offset" not in posterior:
        return {}
    offsets = posterior["coder_offset"].stack(sample=("chain", "draw"))
    out = {}
    for coder in offsets[CODER].values:
        for factor in offsets[FACTOR].values:
            draws = offsets.sel({CODER: coder, FACTOR: factor}).values
            lo, hi = np.quantile(draws, INTERVAL)
            out[(str(coder), str(factor))] = (float(draws.mean()), float(lo), float(hi))
    return out


def _occasions_ahead(active: list[Event], data: ModelData, draws: Draws, priors: Priors) -> list[OccasionAhead]:
    """The scheduled occasions the run knew of that fall inside its forecast window, by date."""
    if draws.occasion_effect is None:
        return []
    last = data.weeks[-1]
    out = []
    for e in sorted((e for e in active if e.kind == "scheduled"), key=lambda e: e.date):
        week = (e.date - e.date.weekday() * dt.timedelta(days=1) - last).days // 7
        if not 1 <= week <= priors.outcomes.forecast_weeks:
            continue
        out.append(OccasionAhead(e, week, _odds(draws, data, e.occasion)))
    # The weeks after a deal, where an occasion type is that: one row for the run of them ahead.
    for o, rule in enumerate(data.occasion_follows):
        ahead = np.flatnonzero(data.occasions_ahead[:, o]) + 1 if rule is not None else []
        if not len(ahead):
            continue
        deal = max((e for e in active if e.kind == "outcome" and e.outcome == rule.deal), key=lambda e: e.date)
        first, last_week = int(ahead[0]), int(ahead[-1])
        when = f"week {first}" if first == last_week else f"weeks {first}-{last_week}"
        row = dataclasses.replace(deal, event_id=f"{deal.event_id}-after", kind="scheduled", outcome=None,
                                  occasion=data.occasions[o], date=last + dt.timedelta(weeks=first),
                                  description=f"{when} of the window, after the {priors.outcomes.deals[rule.deal].label.lower()} "
                                              f"of {deal.date} ({deal.event_id})")
        out.append(OccasionAhead(row, first, _odds(draws, data, data.occasions[o])))
    return sorted(out, key=lambda o: (o.week, o.event.date))


def _odds(draws: Draws, data: ModelData, occasion: str) -> dict[str, tuple[float, float, float]]:
    """An occasion's multiplier of each deal's weekly odds: posterior mean, 5 % and 95 %."""
    multiplier = np.exp(draws.occasion_effect[:, :, list(data.occasions).index(occasion)])  # (D, J)
    lo, hi = np.quantile(multiplier, INTERVAL, axis=0)
    return {d: (float(multiplier[:, j].mean()), float(lo[j]), float(hi[j])) for j, d in enumerate(data.deals)}


def _latest_backtest(workspace: Workspace) -> dict | None:
    import json

    path = workspace.latest_backtest
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _events_seen_by(workspace: Workspace, run: RunRecord) -> list[Event]:
    # Runs stored before the ledger kept last_event_seq see the whole ledger; the hash check
    # after this catches the case where later ingests changed what that means.
    return workspace.ledger.events(run.last_event_seq)


def _event_log(events: list[Event], as_of: dt.date) -> list[LoggedEvent]:
    """Every event the run's ledger held, by date, with what the run made of it."""
    withdrawn_by = {e.retracts: e.event_id for e in events if e.kind == "retraction" and e.reported <= as_of}
    rows = []
    for e in sorted(events, key=lambda e: (e.date, e.reported, e.event_id)):
        if e.reported > as_of:
            rows.append(LoggedEvent(e, "after as-of", f"reported {e.reported}, after the as-of date: not used"))
        elif e.kind == "retraction":
            rows.append(LoggedEvent(e, "withdrawal", f"withdraws {e.retracts}"))
        elif e.event_id in withdrawn_by:
            rows.append(LoggedEvent(e, "retracted", f"retracted by {withdrawn_by[e.event_id]}: not used"))
        else:
            rows.append(LoggedEvent(e, "used", ""))
    return rows


def _reproduction_notes(incidence: np.ndarray, table: pd.DataFrame, horizon: int, keys: list[str]) -> list[str]:
    """The per-draw chances recomputed here must reproduce the stored forecast; say so if not."""
    stored = table[table[HORIZON] == horizon].set_index(OUTCOME)["p"]
    recomputed = incidence[:, horizon - 1, :].mean(axis=0)
    gap = max(abs(stored[k] - r) for k, r in zip(keys, recomputed))
    if gap > 1e-9:
        return [f"The forward simulation recomputed for this brief differs from the stored forecast by up to "
                f"{100 * gap:.2f} points (another code version); the headline shows the stored numbers, and "
                f"the reweighted numbers (what moved, signposts) are computed from the recomputed draws."]
    return []
