"""Default runs pass their own diagnostics on logs shaped like real ones.

Three logs of the sparse corpus (`simulate_sparse_log`, the same generator as
`benchmarks/robustness.py`): a reading every week or two in bursts, months of silence, a handful
of deals, mixed grades. Each is fitted at the defaults, with no retry: the defaults themselves
must pass.
"""

from __future__ import annotations

import pytest

from forecast.evaluation.simulate import SPARSE_CORPUS_START, simulate_sparse_log
from forecast.inference.fit import FitSettings, fit_forecast
from forecast.io.events import Event
from forecast.model.dataset import build_dataset


def _events(frame) -> list[Event]:
    import datetime as dt

    out = []
    for row in frame.itertuples():
        signal = row.kind == "signal"
        out.append(Event(
            event_id=row.event_id, kind=row.kind, date=row.date, reported=row.reported,
            factor=row.factor if signal else None, signal=float(row.signal) if signal else None,
            outcome=None if signal else row.outcome, retracts=None, source_reliability=row.source_reliability,
            info_credibility=row.info_credibility, actor="", description="", source="",
        ))
    assert all(isinstance(e.date, dt.date) for e in out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 11, 17])
def test_a_sparse_log_passes_every_diagnostic_at_the_defaults(priors, seed):
    log = simulate_sparse_log(priors, seed=seed, start=SPARSE_CORPUS_START)
    events = _events(log.events)
    data = build_dataset(events, priors, max(e.reported for e in events))
    assert data.counts["outcomes"] >= 3 and data.n_weeks >= 52
    _, diagnostics, _ = fit_forecast(data, priors, FitSettings())
    assert diagnostics.divergences == 0, diagnostics
    assert diagnostics.passed, diagnostics.problems
