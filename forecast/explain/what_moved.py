"""What moved since the previous run, computed once when the run is made and stored with it.

`update` calls `explain_run` before it publishes the run folder, and writes the answer there
(`what-moved.json`) with the posterior, so that a brief only reads: re-rendering a brief never
samples and never writes into a run folder. When reweighting cannot be trusted, the answer
includes a refit without the new events (`counterfactual.py`); that is the one slow case.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.conventions import DEAL, FACTOR
from forecast.explain.attribution import Attribution, Unavailable, attribute
from forecast.explain.counterfactual import forecast_without_new_events
from forecast.explain.model_checks import headline_mcse
from forecast.forecasting.incidence import cumulative_incidence
from forecast.inference.fit import FitSettings
from forecast.io.events import Event
from forecast.io.ledger import RunRecord
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData, active_events, occasion_arrays
from forecast.model.likelihood_on_draws import Draws

FILE = "what-moved.json"


def explain_run(
    run: RunRecord,
    previous: RunRecord | None,
    posterior: xr.Dataset,
    priors: Priors,
    data: ModelData,
    events_now: Sequence[Event],
    events_before: Sequence[Event],
    *,
    log: Callable[[str], None] = lambda message: None,
) -> Attribution | Unavailable | None:
    """The split of the change since `previous` (None for a first run). `events_now` and
    `events_before` are the ledger as each run saw it; `posterior` is this run's draws."""
    if previous is None:
        return None
    if previous.horizon_weeks != run.horizon_weeks:
        return Unavailable(f"the headline horizon changed ({previous.horizon_weeks} to {run.horizon_weeks} weeks)")
    if previous.as_of > run.as_of:
        return Unavailable(f"this run's as-of date ({run.as_of}) is earlier than the previous run's ({previous.as_of})")
    posterior = posterior.sel({FACTOR: list(priors.factors), DEAL: list(priors.outcomes.deals)})
    draws = Draws.from_dataset(posterior)
    # The forecast's own stream, as the run drew it: the same draws give the same per-draw chances.
    incidence = cumulative_incidence(draws, priors.outcomes.forecast_weeks, np.random.default_rng([run.seed, 1]),
                                     data.occasions_ahead)
    horizon = run.horizon_weeks
    mcse = headline_mcse(incidence, horizon, run.chains)
    # The occasions ahead that the previous run knew of: new ones move the forecast directly.
    known_before = active_events(events_before, previous.as_of)[0]
    ahead_before = occasion_arrays(known_before, data.occasions, data.weeks, priors.outcomes.forecast_weeks,
                                   data.occasion_follows)["occasions_ahead"]
    headline_before_occasions = None
    if data.occasions_ahead is not None and not np.array_equal(ahead_before, data.occasions_ahead):
        headline_before_occasions = cumulative_incidence(draws, horizon, np.random.default_rng([run.seed, 1]),
                                                         ahead_before)[:, horizon - 1, :]
    result = attribute(
        draws, incidence[:, horizon - 1, :],
        now={k: v["p"] for k, v in run.headline.items()},
        previous={k: v["p"] for k, v in previous.headline.items()},
        previous_run=previous.run_id,
        outcome_keys=priors.outcomes.keys, factor_keys=list(priors.factors),
        factor_labels={k: f.label for k, f in priors.factors.items()},
        weeks=list(data.weeks),
        events_now=events_now, as_of_now=run.as_of,
        events_before=events_before, as_of_before=previous.as_of,
        mcse=mcse,
        occasions=data.occasions,
        occasion_follows=data.occasion_follows,
        headline_before_occasions=headline_before_occasions,
    )
    if isinstance(result, Unavailable):
        return result
    # A break added or withdrawn changes the walk and the deal rates themselves, which reweighting
    # the draws cannot undo: only a refit says what the model would give without it.
    break_changed = {e.event_id for e in known_before if e.kind == "break"} != {
        e.event_id for e in active_events(events_now, run.as_of)[0] if e.kind == "break"}
    if result.new_information is not None and (break_changed or not result.new_information.reliable):
        why = ("a break was logged or withdrawn" if break_changed else
               f"the new events moved the posterior too far to reweight (Pareto k {result.new_information.pareto_k:.2f})")
        log(f"what moved: {why}; refitting without them")
        settings = FitSettings(draws=run.draws, tune=run.tune, chains=run.chains, seed=run.seed)
        refit = forecast_without_new_events(events_before, priors, run.as_of, settings, horizon)
        note = (f"{why[0].upper()}{why[1:]}, so the chance without the new events comes from refitting the model on the "
                f"previous run's events up to this run's as-of date, with the same priors and settings ({refit.seconds:.0f} s).")
        if not refit.passed:
            note += " That refit failed its own diagnostics: treat the split as indicative."
        result = result.refitted(refit.p, {k: v["p"] for k, v in previous.headline.items()}, note)
    changed = []
    if previous.priors_hash != run.priors_hash:
        changed.append("the priors changed")
    if previous.code_version != run.code_version:
        changed.append(f"the code changed ({previous.code_version} to {run.code_version})")
    if any(getattr(previous, s) != getattr(run, s) for s in ("seed", "draws", "tune", "chains")):
        changed.append("the sampler settings changed")
    if changed:
        result = dataclasses.replace(result, notes=[*result.notes, "Also in the rest: " + "; ".join(changed) + "."])
    return result


def write_what_moved(path: Path, explanation: Attribution | Unavailable | None) -> None:
    """Write the explanation (None for a first run) as JSON; the caller makes it atomic."""
    body = {"first_run": True} if explanation is None else explanation.to_dict()
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False), encoding="utf-8")


def read_what_moved(folder: Path, run_id: str) -> Attribution | Unavailable | None:
    """The stored explanation of run `run_id`, whose files are in `folder`. Runs stored before
    explanations were stored with them get an Unavailable that says how to compute it."""
    path = folder / FILE
    if not path.is_file():
        return Unavailable(f"attribution not stored with this run; 'forecast explain --run {run_id}' computes it")
    body = json.loads(path.read_text(encoding="utf-8"))
    if body.get("first_run"):
        return None
    if "unavailable" in body:
        return Unavailable(body["unavailable"])
    return Attribution.from_dict(body)
