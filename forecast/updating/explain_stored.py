"""`forecast explain --run ID`: compute and store what moved for a run stored without it.

Runs made before explanations were stored with them have only their posterior. This computes
the explanation exactly as `update` does (including a refit when reweighting cannot say) and
adds it to the run folder, atomically and under the workspace lock; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from forecast.errors import ForecastError
from forecast.explain.attribution import Attribution, Unavailable
from forecast.explain.what_moved import FILE, explain_run, write_what_moved
from forecast.io.ledger import RunRecord
from forecast.io.runfiles import load_posterior, stored_priors
from forecast.io.workspace import Workspace, write_atomically
from forecast.model.dataset import build_dataset


def explain_stored_run(workspace: Workspace, run: RunRecord, log: Callable[[str], None]) -> Attribution | Unavailable | None:
    """Compute, store and return the explanation of `run`; the caller holds the lock."""
    runs = workspace.ledger.runs()
    index = [r.run_id for r in runs].index(run.run_id)
    previous = runs[index - 1] if index > 0 else None
    tree = load_posterior(workspace.root / run.posterior, run)
    priors = stored_priors(tree, run)
    events = workspace.ledger.events(run.last_event_seq)
    data = build_dataset(events, priors, run.as_of)
    if data.data_hash != run.data_hash:
        raise ForecastError(f"run {run.run_id}: the ledger's events no longer hash to the run's data hash; "
                            "the ledger was changed outside forecast, so what moved cannot be computed for this run")
    before = workspace.ledger.events(previous.last_event_seq) if previous is not None else []
    explanation = explain_run(run, previous, tree.posterior.to_dataset(), priors, data, events, before, log=log)
    folder: Path = (workspace.root / run.posterior).parent
    write_atomically(folder / FILE, lambda tmp: write_what_moved(Path(tmp), explanation))
    return explanation
