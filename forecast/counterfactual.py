"""The forecast this run would give without the events that are new since the previous run.

Used by the brief when importance reweighting cannot be trusted for that question (Pareto
k >= 0.7): the model is refitted on the previous run's events, with this run's as-of date,
priors and sampler settings, so the only difference from this run is the new events. The
answer is kept beside the run (`runs/<id>/counterfactual.json`) so that re-rendering a brief
does not sample again.
"""

from __future__ import annotations

import json
import time

from .dataset import build_dataset
from .ledger import RunRecord
from .priors import Priors
from .workspace import Workspace, write_atomically

FILE = "counterfactual.json"


def forecast_without_new_events(workspace: Workspace, run: RunRecord, previous: RunRecord, priors: Priors) -> dict:
    """{"previous_run", "p": outcome -> chance, "passed": diagnostics ok, "seconds"}; cached."""
    path = workspace.root / run.posterior
    cache = path.parent / FILE
    if cache.is_file():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("previous_run") == previous.run_id:
            return stored
    from .forecasting import headline
    from .update import FitSettings, fit_forecast

    data = build_dataset(workspace.ledger.events(previous.last_event_seq), priors, run.as_of)
    started = time.perf_counter()
    settings = FitSettings(draws=run.draws, tune=run.tune, chains=run.chains, seed=run.seed)
    _, diagnostics, table = fit_forecast(data, priors, settings)
    result = {
        "previous_run": previous.run_id,
        "p": {k: v["p"] for k, v in headline(table, run.horizon_weeks, priors.outcomes.labels).items()},
        "passed": diagnostics.passed,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_atomically(cache, lambda tmp: open(tmp, "w", encoding="utf-8").write(json.dumps(result, indent=2)))
    return result
