"""The PyMC model, without sampling: structure, finite logp and gradient, fixed vs sampled priors."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, stats
from test_dataset import ev

from forecast.io.priors import Jumps, Param
from forecast.model.dataset import build_dataset
from forecast.model.graph import build_fit_model, build_model, prior_array, sparse_readings
from forecast.model.graph_ops import KalmanPath

D = dt.date


@pytest.fixture
def data(priors):
    events = [
        ev("a", D(2025, 2, 18), grade=("A", "1")),
        ev("b", D(2025, 3, 4), factor="external_military_aid", signal=-1.5, grade=("E", "5")),
        ev("o", D(2025, 3, 12), kind="outcome", outcome="energy_food_deal"),
    ]
    return build_dataset(events, priors, as_of=D(2025, 3, 20))


def test_initial_point_logp_and_gradient_are_finite(data, priors):
    model = build_model(data, priors)
    point = model.initial_point()
    assert np.isfinite(model.compile_logp()(point))
    grad = model.compile_dlogp()(point)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_variables_and_dims(data, priors):
    model = build_model(data, priors)
    free = {rv.name for rv in model.free_RVs}
    assert free == {"initial", "volatility", "innovation", "noise", "baseline", "effect", "occasion_effect"}
    assert model.named_vars_to_dims["theta"] == ("factor", "week")
    jumpy = dataclasses.replace(priors, factors={k: dataclasses.replace(f, jumps=Jumps(1.75, "t", "t")) for k, f in priors.factors.items()})
    assert {rv.name for rv in build_model(data, jumpy).free_RVs} == free | {"step_precision"}
    assert build_model(data, jumpy).named_vars_to_dims["step_precision"] == ("factor", "step")
    assert model.named_vars_to_dims["effect"] == ("deal", "factor")
    assert model.named_vars_to_dims["occasion_effect"] == ("deal", "occasion")
    assert {rv.name for rv in model.observed_RVs} == {"signal", "outcome_counts"}
    assert len(model.coords["week"]) == 5


def test_theta_is_the_cumulative_walk(data, priors):
    model = build_model(data, priors)
    # Theta as a function of the value variables (not of fresh random draws of the RVs).
    [theta_of_values] = model.replace_rvs_by_values([model["theta"]])
    theta = model.compile_fn(theta_of_values, inputs=model.value_vars, on_unused_input="ignore")
    point = model.initial_point()
    point["initial"] = np.array([1.0, 2.0, 3.0, 4.0])
    point["volatility_log__"] = np.log(np.full(4, 0.5))
    point["innovation"] = np.ones((4, 4))
    np.testing.assert_allclose(theta(point), np.array([1.0, 2.0, 3.0, 4.0])[:, None] + 0.5 * np.arange(5))


def test_one_week_window_has_no_innovations(priors):
    data = build_dataset([ev("a", D(2025, 2, 18))], priors, as_of=D(2025, 2, 21))
    model = build_model(data, priors)
    assert "innovation" not in model.named_vars
    assert model["theta"].eval().shape == (4, 1)


def test_fixed_prior_is_a_constant_under_the_same_name(data, priors):
    fixed = Param(None, {}, 0.5, "r", "s")
    obs = dataclasses.replace(priors.observation, noise=fixed)
    model = build_model(data, dataclasses.replace(priors, observation=obs))
    assert "noise" not in {rv.name for rv in model.free_RVs}
    assert float(model["noise"].eval()) == 0.5


def test_prior_array_mixes_families(priors):
    params = [Param("Normal", {"mu": 1.0, "sigma": 0.1}, None, "r", "s"),
              Param(None, {}, 7.0, "r", "s"),
              Param("HalfNormal", {"sigma": 1.0}, None, "r", "s")]
    with pm.Model(coords={"k": ["a", "b", "c"]}) as model:
        x = prior_array("x", params, ("k",))
    assert {rv.name for rv in model.free_RVs} == {"x__0", "x__2"}
    draws = pm.draw(x, 200, random_seed=1)
    assert np.all(draws[:, 1] == 7.0) and np.all(draws[:, 2] >= 0) and abs(draws[:, 0].mean() - 1.0) < 0.05


def test_prior_array_one_family_is_one_vector(priors):
    with pm.Model(coords={"k": ["a", "b"]}) as model:
        x = prior_array("x", [Param("Normal", {"mu": 0.0, "sigma": 1.0}, None, "r", "s"),
                              Param("Normal", {"mu": 5.0, "sigma": 1.0}, None, "r", "s")], ("k",))
    assert [rv.name for rv in model.free_RVs] == ["x"]
    assert abs(pm.draw(x, 500, random_seed=2)[:, 1].mean() - 5.0) < 0.2


def test_outcome_likelihood_prefers_lower_obstacles_after_a_deal(priors):
    """With one deal in the window, the outcome term's gradient pushes obstacles down."""
    events = [ev("o", D(2025, 2, 18), kind="outcome", outcome="local_ceasefire")]
    data = build_dataset(events, priors, as_of=D(2025, 2, 21))
    model = build_model(data, priors)
    logp = model.compile_fn(model.logp(vars=[model["outcome_counts"]]), inputs=model.value_vars, on_unused_input="ignore")
    point = model.initial_point()
    low, high = dict(point), dict(point)
    low["initial"] = np.zeros(4)
    high["initial"] = np.full(4, 2.5)
    assert logp(low) > logp(high)


def _with_initials(priors, initials: dict):
    factors = {k: dataclasses.replace(f, initial=initials.get(k, f.initial)) for k, f in priors.factors.items()}
    return dataclasses.replace(priors, factors=factors)


def _value_fn(model, name):
    [expression] = model.replace_rvs_by_values([model[name]])
    return model.compile_fn(expression, inputs=model.value_vars, on_unused_input="ignore")


@pytest.mark.parametrize("reading_precisions", [False, True], ids=["t_readings", "reading_precisions"])
@pytest.mark.parametrize("initials", ["default", "fixed_and_student_t"])
def test_fit_model_is_the_generative_density_in_other_coordinates(data, priors, initials, reading_precisions):
    """log p_fit(phi, eps) - log|J| = log p_gen(phi, initial, z) - (W - 1) sum log volatility: the
    same posterior, with the Kalman-guided paths' Jacobian and the walk's scale accounted for.
    With reading precisions lambda, each Student-t reading is written as its normal-gamma mixture."""
    if initials != "default":
        priors = _with_initials(priors, {
            "territorial_rigidity": Param(None, {}, 2.5, "r", "s"),
            "external_military_aid": Param("StudentT", {"nu": 5.0, "mu": 1.0, "sigma": 0.7}, None, "r", "s"),
        })
    generative, fit = build_model(data, priors), build_fit_model(data, priors, reading_precisions)
    rng = np.random.default_rng(4)
    point = fit.initial_point()
    point["path_std"] = rng.normal(size=point["path_std"].shape)
    point["volatility_log__"] = np.log([0.05, 0.1, 0.2, 0.15])
    point["noise_log__"] = np.log(0.4)
    point["effect"] = rng.normal(-0.5, 0.2, size=point["effect"].shape)
    precision = rng.gamma(2.0, 0.5, size=len(data.signal_value))
    if reading_precisions:
        point["reading_precision_log__"] = np.log(precision)
    theta = _value_fn(fit, "theta")(point)
    volatility = np.exp(point["volatility_log__"])
    auxiliary = _value_fn(fit, "path_jacobian")(point)
    if "fixed_initial" in fit.named_vars:
        auxiliary += _value_fn(fit, "fixed_initial")(point)  # the set level's free standard normal
        assert theta[0, 0] == 2.5
    gen_point = {name: value for name, value in point.items() if name not in ("path_std", "reading_precision_log__")}
    gen_point["innovation"] = np.diff(theta, axis=1) / volatility[:, None]
    if "initial" in {rv.name for rv in generative.free_RVs}:
        gen_point["initial"] = theta[:, 0]
    else:  # mixed families: one scalar per factor that is not fixed
        for k in (1, 2, 3):
            gen_point[f"initial__{k}"] = theta[k, 0]
    weeks = theta.shape[1]
    # Each reading: its Student-t out, N(y; theta, s^2 / lambda) Gamma(lambda; nu/2, nu/2) in, and
    # the log transform's Jacobian of lambda.
    obs, nu = priors.observation, priors.observation.nu.value
    scale = (0.4 * np.array([p.value for p in obs.reliability.values()])[data.signal_reliability]
             * np.array([p.value for p in obs.credibility.values()])[data.signal_credibility])
    level = theta[data.signal_factor, data.signal_week]
    mixture = (stats.norm.logpdf(data.signal_value, level, scale / np.sqrt(precision))
               + stats.gamma.logpdf(precision, nu / 2, scale=2 / nu) + np.log(precision)).sum()
    marginal = stats.t.logpdf(data.signal_value, nu, level, scale).sum()
    expected = generative.compile_logp()(gen_point) - (weeks - 1) * np.log(volatility).sum()
    if reading_precisions:
        expected += mixture - marginal
    assert fit.compile_logp()(point) - auxiliary == pytest.approx(expected, rel=1e-9)


def test_a_reading_integrated_over_its_precision_is_the_student_t_of_the_model():
    """The normal-gamma mixture the sampler moves in integrates to the model's reading density."""
    nu, scale, residual = 4.0, 0.24, 3.7
    density, _ = integrate.quad(lambda lam: stats.norm.pdf(residual, 0.0, scale / np.sqrt(lam))
                                * stats.gamma.pdf(lam, nu / 2, scale=2 / nu), 0, np.inf)
    assert density == pytest.approx(stats.t.pdf(residual, nu, 0.0, scale), rel=1e-7)



def test_stand_in_information_is_the_same_whether_grade_multipliers_are_fixed_or_sampled(data, priors):
    """Fixed multipliers (the default) are summed once at build time; sampled ones in the graph.
    At the same multiplier values both give the same per-week information and weighted sum."""
    obs = priors.observation
    sampled = dataclasses.replace(obs, reliability={
        grade: Param("LogNormal", {"mu": float(np.log(p.value)), "sigma": 0.1}, None, "r", "s")
        for grade, p in obs.reliability.items()})
    fixed_model = build_fit_model(data, priors, reading_precisions=False)
    sampled_model = build_fit_model(data, dataclasses.replace(priors, observation=sampled), reading_precisions=False)
    assert "stand_in_information" in fixed_model.named_vars and "stand_in_information" not in sampled_model.named_vars
    def information(model, point):
        [theta] = model.replace_rvs_by_values([model["theta"]])
        path = theta.owner.inputs[0].owner  # theta is a named view of the Kalman path's output
        assert isinstance(path.op, KalmanPath)
        h, g = path.inputs[:2]
        return model.compile_fn([h, g], inputs=model.value_vars, on_unused_input="ignore")(point)

    point = fixed_model.initial_point()
    sampled_point = {**sampled_model.initial_point(), **point,
                     "reliability_multiplier_log__": np.log([p.value for p in obs.reliability.values()])}
    for fixed_route, sampled_route in zip(information(fixed_model, point), information(sampled_model, sampled_point)):
        assert np.any(fixed_route != 0)
        np.testing.assert_allclose(fixed_route, sampled_route, rtol=1e-12)

def test_fit_model_falls_back_to_the_generative_form_for_a_bounded_initial_prior(data, priors):
    bounded = _with_initials(priors, {"domestic_hawkishness": Param("HalfNormal", {"sigma": 2.0}, None, "r", "s")})
    assert "innovation" in build_fit_model(data, bounded).named_vars
    assert "path_std" in build_fit_model(data, priors).named_vars


def test_without_readings_the_paths_coordinates_are_standard_normal_whatever_the_volatility(data, priors):
    """Issue 13: a chain of the obstacles-off fit (no readings, every effect 0) that diverges cannot
    come from a funnel between the log volatilities and `path_std`. With no reading the Kalman
    stand-in is the walk itself, so the fit's density is exactly N(0, 1) in every path_std,
    times the volatilities' own prior: no cross-curvature, in gaps of any length."""
    from forecast.evaluation.backtest import without_effects, without_signals

    model = build_fit_model(without_signals(data), without_effects(priors))
    logp, dlogp = model.compile_logp(), model.compile_dlogp([model["volatility"]])
    rng = np.random.default_rng(13)
    point = model.initial_point()
    values = {}
    for log_volatility in (np.log([0.02, 0.05, 0.1, 0.3]), np.log([0.3, 0.01, 0.5, 0.07])):
        for draw in range(2):
            point["volatility_log__"] = log_volatility
            point["path_std"] = rng.normal(size=point["path_std"].shape) * (1 + 3 * draw)
            standard_normal = -0.5 * (point["path_std"] ** 2).sum() - 0.5 * point["path_std"].size * np.log(2 * np.pi)
            values.setdefault(tuple(log_volatility), []).append((logp(point) - standard_normal, dlogp(point)))
    for (first, first_grad), (second, second_grad) in values.values():
        assert first == pytest.approx(second, abs=1e-9)
        np.testing.assert_allclose(first_grad, second_grad, atol=1e-9)


def test_sparse_logs_give_each_reading_a_precision_and_dense_ones_do_not(priors):
    """At most one reading per factor-week on average: a precision per reading (the sampler's
    coordinates for sparse logs); more: the Student-t readings as they are."""
    def log(readings_a_week: int):
        events = [ev(f"s{w}-{i}", D(2025, 2, 17) + dt.timedelta(weeks=w), signal=0.1 * i)
                  for w in range(3) for i in range(readings_a_week)]
        return build_dataset(events, priors, as_of=D(2025, 3, 7))

    sparse, dense = log(4), log(5)  # 4 factors, 3 weeks: 12 readings are one a factor-week
    assert (len(sparse.signal_value), len(sparse.factors) * sparse.n_weeks) == (12, 12)
    assert sparse_readings(sparse) and not sparse_readings(dense)
    assert "reading_precision" in build_fit_model(sparse, priors).named_vars
    assert "reading_precision" not in build_fit_model(dense, priors).named_vars
