"""The compiled log density (model/density.py) against PyMC's own log density of the same fit
model (graph.build_fit_model): equal value and gradient at random points, in every form the
model takes (sparse and dense logs, Student-t steps, sampled and fixed entries of every prior
family, fixed initial levels, scheduled occasions), and the same paths."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import EXAMPLE

from forecast.io.events import read_events
from forecast.io.priors import write_priors
from forecast.model.dataset import build_dataset, default_as_of
from forecast.model.density import compile_density, constrained, supported
from forecast.model.graph import build_fit_model
from forecast.model.prior_density import digamma

RECORD = EXAMPLE.parent / "history-2022-2026.csv"
NOTE = {"rationale": "density test", "source": "tests/test_density.py"}


def _pymc_point(density, model, x):
    """The PyMC value-variable point for the compiled density's coordinates x."""
    S, layout = density.structure, density.layout
    values = {v.name for v in model.value_vars}
    initial = model.initial_point()

    def name_of(base):
        for suffix in ("", "_log__", "_interval__", "_lowerbound__", "_upperbound__"):
            if base + suffix in values:
                return base + suffix
        return None

    point, slots = {}, {}
    for parameter in layout.parameters:
        whole = name_of(parameter.name)
        for i, index in enumerate(np.ndindex(parameter.shape)):
            s = parameter.first_slot + i
            if S.slot_x[s] < 0:
                continue
            name = whole if whole is not None else name_of("__".join([parameter.name, *map(str, index)]))
            slots[s] = (name, index if whole is not None else ())
            point.setdefault(name, np.zeros(initial[name].shape))[slots[s][1]] = x[S.slot_x[s]]
    point["path_std"] = x[layout.standardised].reshape(S.n_factors, S.n_weeks)
    if layout.reading_precisions.stop > layout.reading_precisions.start:
        point["reading_precision_log__"] = x[layout.reading_precisions]
    steps = [n for n in values if n.startswith("step_precision")]
    if steps:
        point[steps[0]] = x[layout.step_precisions].reshape(initial[steps[0]].shape)
    if "coder_offset_standard_zerosum__" in values:
        point["coder_offset_standard_zerosum__"] = x[layout.house_effects].reshape(initial["coder_offset_standard_zerosum__"].shape)
    return point, slots


def _check(data, priors, reading_precisions=None, points=3):
    density = compile_density(data, priors, reading_precisions)
    model = build_fit_model(data, priors, reading_precisions)
    # PyTensor's Python implementations: numba would compile each graph for longer than the check.
    mode = "FAST_COMPILE"
    logp, dlogp = model.compile_logp(mode=mode), model.compile_dlogp(mode=mode)
    theta = model.compile_fn(model.replace_rvs_by_values([model["theta"]])[0], inputs=model.value_vars,
                             on_unused_input="ignore", mode=mode)
    rng = np.random.default_rng(7)
    for _ in range(points):
        x = density.centre + rng.uniform(-0.8, 0.8, density.centre.size)
        point, slots = _pymc_point(density, model, x)
        value, gradient = density.log_density_and_gradient(x)
        assert value == pytest.approx(float(logp(point)), abs=1e-6)
        theirs = dlogp(point)
        offsets = np.cumsum([0, *(np.size(point[v.name]) for v in model.value_vars)])
        block = {v.name: theirs[offsets[i]:offsets[i + 1]].reshape(np.shape(point[v.name])) for i, v in enumerate(model.value_vars)}
        for s, (name, index) in slots.items():
            assert gradient[density.structure.slot_x[s]] == pytest.approx(block[name][index], abs=1e-6), name
        layout = density.layout
        np.testing.assert_allclose(gradient[layout.standardised], block["path_std"].ravel(), atol=1e-8)
        if "reading_precision_log__" in block:
            np.testing.assert_allclose(gradient[layout.reading_precisions], block["reading_precision_log__"], atol=1e-8)
        for name in block:
            if name.startswith("step_precision"):
                np.testing.assert_allclose(gradient[layout.step_precisions], block[name].ravel(), atol=1e-8)
        if "coder_offset_standard_zerosum__" in block:
            np.testing.assert_allclose(gradient[layout.house_effects], block["coder_offset_standard_zerosum__"].ravel(), atol=1e-8)
        out = np.empty(density.stored_size)
        constrained(x, density.structure, out)
        n_slots = len(density.structure.slot_value)
        np.testing.assert_allclose(out[n_slots:n_slots + data.n_weeks * len(data.factors)], theta(point).ravel(), atol=1e-10)
    return density


def _data(priors, path=RECORD):
    events = read_events(path, priors).events
    return build_dataset(events, priors, default_as_of(events))


def test_the_record_with_reading_precisions(priors):
    data = _data(priors)
    density = _check(data, priors)
    assert density.structure.sparse and len(density.structure.occasion_week) > 0


def test_the_record_with_fisher_stand_ins_and_student_t_readings(priors):
    _check(_data(priors), priors, reading_precisions=False)


def _edited(priors, folder, edit):
    content = copy.deepcopy(priors.content)
    edit(content)
    return write_priors(content, folder)


def test_student_t_steps_a_sampled_nu_and_mixed_families(priors, tmp_path):
    def edit(content):
        for factor in content["factors.yaml"]["factors"].values():
            factor["jumps"] = {"nu": 1.75, **NOTE}
        observation = content["observation.yaml"]
        observation["nu"] = {"dist": "Gamma", "kwargs": {"alpha": 8.0, "beta": 2.0}, **NOTE}
        observation["reliability"]["B"] = {"dist": "LogNormal", "kwargs": {"mu": -0.2, "sigma": 0.2}, **NOTE}
        observation["credibility"]["2"] = {"dist": "HalfNormal", "kwargs": {"sigma": 1.0}, **NOTE}

    jumpy = _edited(priors, tmp_path / "p", edit)
    data = _data(jumpy)
    for reading_precisions in (True, False):
        density = _check(data, jumpy, reading_precisions)
        assert density.layout.step_precisions.stop > density.layout.step_precisions.start


def test_every_prior_family_and_a_fixed_initial_level(priors, tmp_path):
    families = [
        {"dist": "HalfStudentT", "kwargs": {"nu": 3.0, "sigma": 0.2}},
        {"dist": "HalfCauchy", "kwargs": {"beta": 0.1}},
        {"dist": "Gamma", "kwargs": {"alpha": 2.0, "beta": 20.0}},
        {"dist": "InverseGamma", "kwargs": {"alpha": 3.0, "beta": 0.3}},
    ]

    def edit(content):
        factors = list(content["factors.yaml"]["factors"].values())
        for factor, family in zip(factors, families):
            factor["volatility"] = {**family, **NOTE}
        factors[1]["initial"] = {"value": 1.0, **NOTE}
        factors[2]["initial"] = {"dist": "StudentT", "kwargs": {"nu": 5.0, "mu": 0.5, "sigma": 0.6}, **NOTE}
        observation = content["observation.yaml"]
        observation["noise"] = {"dist": "Exponential", "kwargs": {"lam": 2.0}, **NOTE}
        observation["reliability"]["C"] = {"dist": "Uniform", "kwargs": {"lower": 0.8, "upper": 1.2}, **NOTE}
        observation["credibility"]["3"] = {"dist": "TruncatedNormal", "kwargs": {"mu": 1.0, "sigma": 0.2, "lower": 0.5}, **NOTE}
        observation["credibility"]["4"] = {"dist": "TruncatedNormal",
                                           "kwargs": {"mu": 1.4, "sigma": 0.2, "lower": 1.0, "upper": 2.0}, **NOTE}
        deal = next(iter(content["outcomes.yaml"]["deals"].values()))
        deal["baseline"] = {"dist": "StudentT", "kwargs": {"nu": 4.0, "mu": -2.0, "sigma": 0.5}, **NOTE}

    varied = _edited(priors, tmp_path / "p", edit)
    for reading_precisions in (True, False):
        _check(_data(varied), varied, reading_precisions)


def test_the_example_a_dense_log(priors):
    data = _data(priors, EXAMPLE)
    _check(data, priors)


def test_a_bounded_initial_level_is_left_to_pymc(priors, tmp_path):
    def edit(content):
        first = next(iter(content["factors.yaml"]["factors"].values()))
        first["initial"] = {"dist": "Uniform", "kwargs": {"lower": -3.0, "upper": 3.0}, **NOTE}

    bounded = _edited(priors, tmp_path / "p", edit)
    data = _data(bounded, EXAMPLE)
    assert not supported(bounded, data)
    with pytest.raises(ValueError, match="bounded prior"):
        compile_density(data, bounded)


@pytest.mark.parametrize("x", [0.05, 0.5, 1.0, 2.0, 3.7, 6.0, 50.0])
def test_digamma_is_scipys(x):
    from scipy.special import digamma as scipy_digamma

    assert digamma(x) == pytest.approx(scipy_digamma(x), abs=1e-12)


def _with_breaks(priors, folder):
    def edit(content):
        for factor in content["factors.yaml"]["factors"].values():
            factor["break_step"] = {"dist": "LogNormal", "kwargs": {"mu": 0.3, "sigma": 0.5}, **NOTE}
        for deal in content["outcomes.yaml"]["deals"].values():
            deal["break_shift"] = {"dist": "Normal", "kwargs": {"mu": 0.2, "sigma": 1.0}, **NOTE}
        for factor in content["factors.yaml"]["factors"].values():
            factor["jumps"] = {"nu": 2.0, **NOTE}

    return _edited(priors, folder, edit)


def test_logged_breaks_add_a_step_and_a_lasting_shift(priors, tmp_path):
    import datetime as dt

    from forecast.io.events import Event

    broken = _with_breaks(priors, tmp_path / "p")
    events = read_events(RECORD, broken).events
    breaks = [Event(event_id=f"b{i}", kind="break", date=day, reported=day, factor=None, signal=None, outcome=None, retracts=None,
                    source_reliability="A", info_credibility="1", actor="", description="", source="")
              for i, day in enumerate([dt.date(2023, 6, 7), dt.date(2025, 1, 15)])]
    data = build_dataset([*events, *breaks], broken, default_as_of(events))
    assert len(data.break_weeks) == 2 and data.occasions[-2:] == ("break:2023-06-05", "break:2025-01-13")
    # The shift lasts: its column is 1 from its week on, and in every week ahead.
    first = data.break_weeks[0]
    assert data.occasion_counts[first - 1, -2] == 0 and (data.occasion_counts[first:, -2] == 1).all()
    assert (data.occasions_ahead[:, -2:] == 1).all()
    for reading_precisions in (True, False):
        density = _check(data, broken, reading_precisions)
    assert "break_shift" in {p.name for p in density.layout.parameters}
    # Without the break rows the model is the one without breaks, slot for slot.
    plain = build_dataset(events, broken, default_as_of(events))
    assert plain.break_weeks == () and "break_shift" not in {p.name for p in compile_density(plain, broken).layout.parameters}
    same = build_dataset(events, priors, default_as_of(events))
    assert plain.occasions == same.occasions and np.array_equal(plain.occasion_counts, same.occasion_counts)


def test_coders_offsets_sum_to_zero_and_shift_their_readings(priors, tmp_path):
    import dataclasses

    def edit(content):
        content["observation.yaml"]["house_effect"] = {"dist": "HalfNormal", "kwargs": {"sigma": 0.5}, **NOTE}

    coded = _edited(priors, tmp_path / "p", edit)
    events = read_events(RECORD, coded).events
    names = ("Ann", "Bo", "")
    split = [dataclasses.replace(e, coder=names[i % 3]) if e.kind == "signal" else e for i, e in enumerate(events)]
    data = build_dataset(split, coded, default_as_of(events))
    assert data.coders == ("", "Ann", "Bo") and len(set(data.signal_coder)) == 3
    for reading_precisions in (True, False):
        density = _check(data, coded, reading_precisions)
        assert density.layout.house_effects.stop - density.layout.house_effects.start == 4 * 2
    # One coder: no offsets, and the same structure as without the column.
    one = build_dataset(events, coded, default_as_of(events))
    offsets = compile_density(one, coded).layout.house_effects
    assert one.coders == ("",) and offsets.stop == offsets.start


def test_a_point_where_the_density_divides_by_zero_is_minus_infinity_or_nan_not_an_exception():
    """The record as of 15 May 2023 with priors-2022 (sparse: every reading has a precision of its
    own): a trajectory that reached a reading precision of exp(-800) ended the whole backtest with
    ZeroDivisionError from inside the compiled loop. Such a point is now one NUTS calls a divergence."""
    import datetime as dt

    from forecast.io.priors import load_priors

    priors = load_priors(EXAMPLE.parent.parent / "priors-2022")
    data = build_dataset(read_events(RECORD, priors).events, priors, dt.date(2023, 5, 15))
    density = compile_density(data, priors)
    assert density.structure.sparse
    x = density.centre.copy()
    x[density.layout.reading_precisions] = -800.0
    value, gradient = density.log_density_and_gradient(x)
    assert not np.isfinite(value) or not np.all(np.isfinite(gradient))
    assert np.isfinite(density.log_density_and_gradient(density.centre)[0])
