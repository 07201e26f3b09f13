"""Parameter recovery on logs simulated from the model itself (sampling tier)."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.evaluation.simulate import simulate_log
from forecast.inference.sampler import sample
from forecast.io.events import read_events
from forecast.model.dataset import build_dataset
from forecast.model.density import compile_density

pytestmark = pytest.mark.slow

N_WEEKS = 20
TRUE_VOLATILITY = np.full(4, 0.1)


def _fit_final_levels(priors, events, as_of, seed):
    data = build_dataset(events, priors, as_of=as_of)
    trace, diagnostics = sample(compile_density(data, priors), data, priors, draws=1000, tune=1000, chains=4, seed=seed,
                                progress=False)
    final = trace.posterior["theta"].isel(week=-1)
    return final.stack(sample=("chain", "draw")).transpose("sample", "factor").values, diagnostics


def test_recovers_final_levels_and_sharpens_with_ten_times_the_events(priors, seed, tmp_path):
    log = simulate_log(priors, n_signals=800, n_weeks=N_WEEKS, seed=seed, fixed={"volatility": TRUE_VOLATILITY})
    path = tmp_path / "sim.csv"
    log.events.to_csv(path, index=False)
    events = read_events(path, priors).events  # the synthetic log passes the same validation as a user's
    signals = [e for e in events if e.kind == "signal"]
    few_events = signals[::10] + [e for e in events if e.kind == "outcome"]
    truth = log.theta[:, -1]

    few, diag_few = _fit_final_levels(priors, few_events, log.weeks[-1], seed)
    many, diag_many = _fit_final_levels(priors, events, log.weeks[-1], seed)
    for diagnostics in (diag_few, diag_many):
        assert diagnostics.divergences == 0 and diagnostics.r_hat_max < 1.02, diagnostics
    for draws in (few, many):
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
        assert ((lo <= truth) & (truth <= hi)).sum() >= 3, (truth, lo, hi)
    # Ten times the events: every factor's final level is known more precisely.
    assert np.all(many.std(axis=0) < few.std(axis=0)), (many.std(axis=0), few.std(axis=0))
