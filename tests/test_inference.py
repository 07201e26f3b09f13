"""The sampler's set-up: the mass matrix starts at the posterior's scales, and starts are jittered."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from forecast.inference.sampler import _nuts


def test_mass_matrix_starts_at_the_inverse_curvature():
    with pm.Model() as model:
        pm.Normal("narrow", 0.0, 0.01)
        pm.Normal("wide", 5.0, 3.0, shape=2)
        pm.Normal("path_std", 0.0, 0.2)  # standardised by name: starts at 1 whatever its scale
    step, starts = _nuts(model, chains=3, seed=1)
    variance = step.potential._var  # (narrow, wide[0], wide[1], path_std) in the model's order
    np.testing.assert_allclose(variance, [1e-4, 9.0, 9.0, 1.0], rtol=1e-6)
    assert step.integrator._potential is step.potential
    # Three distinct jittered starts, each within PyMC's +-1 of the initial point.
    assert len({float(s["wide"][0]) for s in starts}) == 3
    assert all(abs(s["wide"][0] - 5.0) <= 1.0 for s in starts)


def test_unsampleable_start_names_the_variable():
    with pm.Model() as model:
        x = pm.Normal("x", 0.0, 1.0)
        pm.Potential("wall", pm.math.switch(x < 100.0, -np.inf, 0.0))
    with pytest.raises(Exception, match="x"):
        _nuts(model, chains=1, seed=1)


def test_step_targets_the_project_acceptance_rate():
    from forecast.conventions import TARGET_ACCEPT

    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0)
    step, _ = _nuts(model, chains=1, seed=1)
    assert step.target_accept == TARGET_ACCEPT == 0.9
    step, _ = _nuts(model, chains=1, seed=1, target_accept=0.97)
    assert step.target_accept == 0.97


def test_the_draws_do_not_depend_on_how_many_processes_run_the_chains(priors):
    """The backtest's parallel workers run their chains in one process (cores=1); `update` in two."""
    from conftest import EXAMPLE

    from forecast.inference.fit import FitSettings, fit_forecast
    from forecast.io.events import read_events
    from forecast.model.dataset import build_dataset, default_as_of

    events = read_events(EXAMPLE, priors).events
    data = build_dataset(events, priors, default_as_of(events))
    one, two = (fit_forecast(data, priors, FitSettings(draws=30, tune=30, chains=2, seed=3, cores=cores)) for cores in (1, 2))
    np.testing.assert_array_equal(one[0].posterior["theta"].values, two[0].posterior["theta"].values)
    assert one[2].equals(two[2])
