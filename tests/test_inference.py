"""The compiled sampler's set-up and its promises: the metric starts at the posterior's scales,
starts are jittered, the target acceptance is the one asked for, tuning follows Stan's windows,
and the draws depend on the seed alone."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.inference import adaptation
from forecast.inference.chains import StartFailed, initial_inverse_mass, starts
from forecast.model.density import compile_density


def _example(priors):
    from conftest import EXAMPLE

    from forecast.io.events import read_events
    from forecast.model.dataset import build_dataset, default_as_of

    events = read_events(EXAMPLE, priors).events
    return build_dataset(events, priors, default_as_of(events))


def test_the_metric_starts_at_the_inverse_curvature(priors):
    data = _example(priors)
    density = compile_density(data, priors)
    inverse_mass = initial_inverse_mass(density)
    layout = density.layout
    assert (inverse_mass[layout.standardised] == 1.0).all()  # the paths' standard normals start at 1
    # Every other coordinate: 1 / the second difference of the log density at the centre.
    for i in [*range(len(layout.free_slots)), layout.n_coordinates - 1]:
        if layout.standardised.start <= i < layout.standardised.stop:
            continue
        h = 1e-4
        step = np.zeros(layout.n_coordinates)
        step[i] = h
        second = (density.log_density(density.centre + step) - 2 * density.log_density(density.centre)
                  + density.log_density(density.centre - step)) / h**2
        assert inverse_mass[i] == pytest.approx(np.clip(-1 / second, 1e-6, 1e2), rel=1e-3), i


def test_three_chains_start_apart_within_one_of_the_centre(priors):
    density = compile_density(_example(priors), priors)
    found = starts(density, 3, seed=1)
    assert len({float(s[0]) for s in found}) == 3
    assert all(np.abs(s - density.centre).max() <= 1.0 for s in found)
    np.testing.assert_array_equal(found[1], starts(density, 3, seed=1)[1])


def test_a_model_without_a_finite_start_is_refused(priors):
    import dataclasses

    density = compile_density(_example(priors), priors)
    # A Uniform volatility prior of [5, 6] around a log-scale centre its jitter cannot reach.
    structure = density.structure._replace(slot_code=density.structure.slot_code.copy())
    structure.slot_code[:] = 9
    structure.slot_bounds[:] = (1e6, 1e6 + 1)
    broken = dataclasses.replace(density, structure=structure)
    with pytest.raises(StartFailed, match="finite log density"):
        starts(broken, 1, seed=1)


@pytest.mark.parametrize(("tune", "first", "ends"), [
    (500, 75, [100, 150, 250, 450]),  # Stan's default buffers and windows
    (1000, 75, [100, 150, 250, 450, 950]),
    (60, 9, [54]),  # too short for the buffers: 15 % / 75 % / 10 %
    (10, 10, []),  # no metric adaptation under 20 tuning draws
])
def test_tuning_windows_are_stans(tune, first, ends):
    start, found = adaptation.windows(tune)
    assert start == first and found.tolist() == ends


def test_dual_averaging_moves_the_step_towards_the_target():
    state = adaptation.new_state(1.0)
    for _ in range(50):
        adaptation.learn_step(state, 0.5, 0.9)  # accepting too little: smaller steps
    assert state[adaptation.STEP] < 0.5
    state = adaptation.new_state(1.0)
    for _ in range(50):
        adaptation.learn_step(state, 1.0, 0.9)  # accepting everything: larger steps
    assert state[adaptation.STEP] > 1.0


def test_the_draws_do_not_depend_on_how_many_threads_run_the_chains(priors):
    """The backtest's workers run their chains one at a time (cores=1); `update` two at once."""
    from forecast.inference.fit import FitSettings, fit_forecast

    data = _example(priors)
    one, two = (fit_forecast(data, priors, FitSettings(draws=30, tune=30, chains=2, seed=3, cores=cores)) for cores in (1, 2))
    np.testing.assert_array_equal(one[0].posterior["theta"].values, two[0].posterior["theta"].values)
    assert one[2].equals(two[2])
    other = fit_forecast(data, priors, FitSettings(draws=30, tune=30, chains=2, seed=4, cores=1))
    assert not np.array_equal(one[0].posterior["theta"].values, other[0].posterior["theta"].values)


def test_the_target_acceptance_is_the_one_asked_for(priors):
    from forecast.inference.fit import FitSettings, fit_forecast

    data = _example(priors)
    low, high = (fit_forecast(data, priors, FitSettings(draws=100, tune=200, chains=2, seed=3, target_accept=target))[0]
                 for target in (0.6, 0.97))
    assert float(low.sample_stats["step_size"].mean()) > 1.5 * float(high.sample_stats["step_size"].mean())
    assert float(high.sample_stats["acceptance_rate"].mean()) > 0.9


def _element(posterior, name: str) -> np.ndarray:
    """(chain, draw) draws of one element named as ArviZ labels it: "theta[aid, 2024-01-08]"."""
    variable, _, inside = name.partition("[")
    var = posterior[variable].transpose("chain", "draw", ...)
    labels = inside.rstrip("]").split(", ") if inside else []
    return var.sel(dict(zip(var.dims[2:], labels, strict=True))).values


def test_a_failed_fit_names_the_quantity_behind_each_failing_figure(priors):
    """Which parameter mixes badly is what an engineer needs to know of a flagged fit: each
    failing figure names its quantity, and that quantity's own figure is the one reported."""
    from forecast.inference.convergence import convergence
    from forecast.inference.fit import FitSettings, fit_forecast

    trace, diagnostics, _ = fit_forecast(_example(priors), priors, FitSettings(draws=8, tune=8, chains=2, seed=3, cores=1))
    assert set(diagnostics.worst) == {"r_hat", "ess_bulk", "ess_tail"}
    posterior = trace.posterior
    for measure, figure, at in (("r_hat", diagnostics.r_hat_max, 0), ("ess_bulk", diagnostics.ess_bulk_min, 1),
                                ("ess_tail", diagnostics.ess_tail_min, 2)):
        name = diagnostics.worst[measure]
        if name == "lp" or name.startswith(("sum of", "mean log")):  # sampled, not stored
            continue
        draws = _element(posterior, name)
        assert convergence(draws[:, :, None])[at][0] == pytest.approx(figure), (measure, name)
    failing = {p.split(" ")[0] if p.startswith("R-hat") else p.split(" ")[0] + "_ess": p for p in diagnostics.problems}
    assert failing  # 8 draws: every figure fails here
    for measure, prefix in (("r_hat", "R-hat"), ("ess_bulk", "bulk_ess"), ("ess_tail", "tail_ess")):
        if prefix in failing:
            assert f" on {diagnostics.worst[measure]}:" in failing[prefix], measure


def test_a_measure_undefined_everywhere_names_nothing():
    from forecast.inference.convergence import worst

    nan = np.full(3, np.nan)
    assert worst(nan, np.array([5.0, 1.0, 3.0]), nan, ["a", "b", "c"]) == {"ess_bulk": "b"}


def test_stacked_names_label_each_column_as_arviz_does():
    import xarray as xr

    from forecast.inference.convergence import stacked, stacked_names

    posterior = xr.Dataset({"noise": (("chain", "draw"), np.zeros((2, 3))),
                            "effect": (("chain", "draw", "deal", "factor"), np.arange(24.0).reshape(2, 3, 2, 2))},
                           coords={"deal": ["local", "energy"], "factor": ["aid", "hawks"]})
    names = stacked_names(posterior, ["noise", "effect"])
    assert names == ["noise", "effect[local, aid]", "effect[local, hawks]", "effect[energy, aid]", "effect[energy, hawks]"]
    columns = stacked(posterior, ["noise", "effect"])
    np.testing.assert_array_equal(columns[:, :, names.index("effect[energy, aid]")], posterior["effect"].values[:, :, 1, 0])


@pytest.mark.parametrize(("log", "folder", "as_of", "variant"), [
    ("events.csv", "priors", "2025-02-21", None),  # dense: no reading precisions
    ("history-2022-2026.csv", "priors-2022", "2022-10-03", "jumps"),  # Student-t steps and reading precisions
    ("history-2022-2026-two-coders.csv", "priors-2022", "2025-06-02", None),  # coders' offsets
    ("history-2014-2022.csv", "priors-2014", "2015-03-02", "break"),  # a break's step and shift
], ids=["dense", "jumps", "coders", "break"])
def test_every_checked_quantity_has_its_name(log, folder, as_of, variant):
    """The names the diagnostics give follow the quantities they judge, one for one, whatever
    the model's parts: a name out of step would point an engineer at the wrong parameter."""
    import copy
    import dataclasses
    import datetime as dt

    from conftest import ROOT

    from forecast.inference.chains import STATS, run_chains
    from forecast.inference.precision_jumps import Groups
    from forecast.inference.sampler import checked_names, checked_quantities, to_datatree
    from forecast.io.events import read_events
    from forecast.io.priors import load_priors, parse_priors
    from forecast.model.dataset import build_dataset
    from forecast.model.reading_groups import contested_groups

    priors = load_priors(ROOT / folder)
    if variant == "jumps":  # Student-t steps on every obstacle
        content = copy.deepcopy(priors.content)
        for factor in content["factors.yaml"]["factors"].values():
            factor["jumps"] = {"nu": 1.75, "rationale": "Decisive news.", "source": "The test."}
        priors = parse_priors(content, priors.directory)
    events = read_events(ROOT / "examples" / log, priors).events
    if variant == "break":
        day = dt.date(2015, 2, 12)
        events = sorted([*events, dataclasses.replace(events[0], event_id="brk", kind="break", date=day, reported=day,
                                                      factor=None, signal=None, outcome=None)], key=lambda e: e.date)
    data = build_dataset(events, priors, dt.date.fromisoformat(as_of))
    density = compile_density(data, priors)
    groups = Groups(contested_groups(data, priors) if density.structure.sparse else [])
    results = run_chains(density, groups, draws=4, tune=4, chains=2, seed=1, target_accept=0.8, threads=1, progress=None,
                         proposals=2)
    names = checked_names(density, data, priors)
    quantities = checked_quantities(results, density, data)
    assert quantities.shape[2] == len(names) == len(set(names))
    # Each stored quantity is the column its name says: the posterior's element, or the sampler's lp.
    posterior = to_datatree(results, density, data, priors, 0.0, 4).posterior
    for i, name in enumerate(names):
        if name == "lp":
            np.testing.assert_array_equal(quantities[:, :, i], np.stack([r.stats[:, STATS.index("lp")] for r in results]))
        elif not name.startswith(("sum of", "mean log")):
            np.testing.assert_array_equal(quantities[:, :, i], _element(posterior, name), err_msg=name)
    # The precisions' summaries close the list, steps before readings, each in the factors' order.
    summaries = names[names.index("lp") + 1:]
    assert summaries == sorted(summaries, key=lambda n: (not n.startswith("sum of"), list(data.factors).index(n.split("[")[1][:-1])))
    assert sum(name.startswith("theta[") for name in names) == len(data.factors) * len(data.weeks)
    expected = {"dense": "volatility[", "jumps": "sum of log step precisions[", "coders": "coder_offset[",
                "break": "break_step["}[variant or ("dense" if log == "events.csv" else "coders")]
    assert any(name.startswith(expected) for name in names)
