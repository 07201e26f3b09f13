"""Compile (or load from numba's cache) every kernel a fit uses, by fitting a tiny log.

`forecast warm` runs it once after installing on a machine; each dask worker runs it as it
starts (evaluation/worker_setup.py). A tiny log holds a reading that disagrees with its
neighbours, so the jumps between explanations compile too, and the default priors' types are
those of every fit: one compiled function serves every log and priors folder.
"""

from __future__ import annotations

import datetime as dt

from forecast.io.events import Event
from forecast.io.priors import Priors, load_priors


def tiny_events(priors: Priors) -> list[Event]:
    """Three readings of one obstacle in the priors' first weeks, one far from the other two."""
    start = priors.outcomes.start - dt.timedelta(days=priors.outcomes.start.weekday())
    factor = next(iter(priors.factors))
    values = [(0, 2.0), (1, -2.0), (1, 2.1)]
    return [Event(event_id=f"warm-{i}", kind="signal", date=start + dt.timedelta(weeks=w), reported=start + dt.timedelta(weeks=w),
                  factor=factor, signal=v, outcome=None, retracts=None, source_reliability="A", info_credibility="1",
                  actor="", description="", source="") for i, (w, v) in enumerate(values)]


def fit_tiny(priors: Priors | None = None) -> None:
    from forecast.inference.fit import FitSettings, fit_forecast
    from forecast.model.dataset import build_dataset

    priors = priors if priors is not None else load_priors()
    events = tiny_events(priors)
    data = build_dataset(events, priors, max(e.reported for e in events))
    fit_forecast(data, priors, FitSettings(draws=10, tune=10, chains=2, seed=1, cores=1))
