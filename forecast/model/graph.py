"""The obstacle model as a PyMC model (docs/MODEL.md).

    theta[k, 0]  ~ initial[k]
    theta[k, w]  = theta[k, w-1] + volatility[k] * z[k, w] / sqrt(tau[k, w])   (non-centred)
    z ~ Normal(0, 1),  tau[k, w] ~ Gamma(nu_k / 2, nu_k / 2)      (Student-t steps: walk.py;
                                                                   tau = 1 for Gaussian steps)
    signal_i     ~ StudentT(nu, theta[factor_i, week_i], noise * m[reliability_i] * c[credibility_i])
    counts[w, :] ~ Multinomial(n_w, softmax([0, baseline_j + sum_k effect_jk * theta[k, w]
                                               + sum_o occasion_effect_jo * occasions[w, o]]))

The sampler does not move in these coordinates: `build_fit_model` writes each path as a
Kalman-guided transform of standard normals (kalman_path.py), the same density in coordinates
that stay well conditioned however long the log. Both forms give the posterior the same names.

Every prior parameter appears in the posterior under the same name whether it is sampled or
fixed by a plain number, so the forecast code never needs to know which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from forecast.conventions import (
    BREAK,
    CODER,
    CREDIBILITY_GRADES,
    DEAL,
    FACTOR,
    GRADE_CREDIBILITY,
    GRADE_RELIABILITY,
    OCCASION,
    RELIABILITY_GRADES,
    WEEK,
)
from forecast.io.priors import Param, Priors
from forecast.model.coordinates import UNBOUNDED, gaussian_stand_in, sparse_readings
from forecast.model.dataset import ModelData
from forecast.model.graph_ops import KalmanPath, gaussian_summary, student_t_signals_logp
from forecast.model.kalman_path import t_reading_precision

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytensor.tensor import TensorVariable

STEP = "step"  # weeks after the first: one innovation each
SIGNAL = "signal_id"
WEEKLY_OUTCOME = "weekly_outcome"  # no deal, then each deal type


def coords(data: ModelData, priors: Priors) -> dict[str, list]:
    return {
        FACTOR: list(data.factors),
        WEEK: [w.isoformat() for w in data.weeks],
        STEP: [w.isoformat() for w in data.weeks[1:]],
        DEAL: list(data.deals),
        WEEKLY_OUTCOME: [priors.outcomes.complement_key, *data.deals],
        GRADE_RELIABILITY: list(RELIABILITY_GRADES),
        GRADE_CREDIBILITY: list(CREDIBILITY_GRADES),
        SIGNAL: list(range(len(data.signal_value))),
        **({OCCASION: list(priors.outcomes.occasions)} if priors.outcomes.occasions else {}),
        **({BREAK: [data.weeks[w].isoformat() for w in data.break_weeks]} if data.break_weeks else {}),
        **({CODER: list(data.coders)} if len(data.coders) > 1 else {}),
    }



def build_model(data: ModelData, priors: Priors) -> pm.Model:
    """The generative model, non-centred as docs/MODEL.md writes it: the one to draw from (prior
    predictive, simulated logs, SBC truths) and the plain-PyMC baseline of benchmarks/ess.py."""
    factors = [priors.factors[k] for k in data.factors]
    with pm.Model(coords=coords(data, priors)) as model:
        initial = prior_array("initial", [f.initial for f in factors], (FACTOR,))
        volatility = prior_array("volatility", [f.volatility for f in factors], (FACTOR,))
        step_nu = _step_nu(factors)
        theta = initial[:, None]
        if data.n_weeks > 1:
            z = pm.Normal("innovation", 0.0, 1.0, dims=(FACTOR, STEP))
            precision = _step_precision(step_nu)
            variance = (volatility**2)[:, None] * pt.ones((len(factors), data.n_weeks - 1))
            if precision is not None:
                variance = variance / precision
            # A break's week: the walk's step plus the break's own (one column per step, week w at w - 1).
            scale = pt.sqrt(_with_breaks(data, priors, factors, pt.concatenate([pt.ones((len(factors), 1)), variance], axis=1))[:, 1:])
            theta = pt.concatenate([theta, theta + pt.cumsum(scale * z, axis=1)], axis=1)
        theta = pm.Deterministic("theta", theta, dims=(FACTOR, WEEK))
        _observe(data, priors, theta, _observation_parameters(priors), _data(data), offset=_reading_offsets(data, priors))
    return model


def build_fit_model(data: ModelData, priors: Priors, reading_precisions: bool | None = None) -> pm.Model:
    """The same joint density in the coordinates the sampler moves in: each factor's path is the
    Kalman-guided transform of standard normals `path_std` (kalman_path.py), with the prior of
    the walk and of the initial level, and the transform's log Jacobian, added as potentials.

    `reading_precisions`: write each Student-t reading as a normal with a precision of its own
    (`_reading_precision`); None chooses by the log's density (`sparse_readings`).

    Falls back to `build_model` when an initial level has a bounded prior (a path drawn from
    the whole real line would step outside its support).
    """
    factors = [priors.factors[k] for k in data.factors]
    if any(not f.initial.fixed and f.initial.dist not in UNBOUNDED for f in factors):
        return build_model(data, priors)
    with pm.Model(coords=coords(data, priors)) as model:
        volatility = prior_array("volatility", [f.volatility for f in factors], (FACTOR,))
        step_nu = _step_nu(factors)
        precision = _step_precision(step_nu) if data.n_weeks > 1 else None
        parameters = _observation_parameters(priors)
        observed = _data(data)
        if reading_precisions is None:
            reading_precisions = sparse_readings(data)
        reading_precision = _reading_precision(parameters) if reading_precisions and len(data.signal_value) else None
        offset = _reading_offsets(data, priors)
        # The stand-in reads each reading less its coder's offset, as the model's density does.
        value = observed["signal_value"] if offset is None else observed["signal_value"] - offset
        if reading_precision is None:
            h, g = _stand_in_information(data, priors, parameters, observed, value if offset is not None else None)
        else:
            h, g = gaussian_summary(len(data.factors), data.n_weeks, observed["signal_index"], value,
                                    reading_precision / _signal_scale(observed, parameters) ** 2)
        m0, p0 = np.array([gaussian_stand_in(f.initial) for f in factors]).T
        path_std = pm.Flat("path_std", dims=(FACTOR, WEEK))
        # The variance of each week's step (the first column, a step into week 0, is unused).
        step_variance = (volatility**2)[:, None] * pt.ones((len(factors), data.n_weeks))
        if precision is not None:
            step_variance = pt.concatenate([step_variance[:, :1], step_variance[:, 1:] / precision], axis=1)
        step_variance = _with_breaks(data, priors, factors, step_variance)
        path, log_jacobian, _, _ = KalmanPath()(h, g, step_variance, m0, p0, path_std)
        theta = pm.Deterministic("theta", path, dims=(FACTOR, WEEK))
        pm.Deterministic("initial", theta[:, 0], dims=FACTOR)
        pm.Potential("path_jacobian", log_jacobian.sum())
        fixed = np.flatnonzero([f.initial.fixed for f in factors])
        if len(fixed):  # a fixed initial level is set, not drawn: its path_std is a free standard normal
            pm.Potential("fixed_initial", pm.logp(pm.Normal.dist(0.0, 1.0), path_std[fixed, 0]).sum())
        pm.Potential("initial_prior", sum(
            (pm.logp(getattr(pm, f.initial.dist).dist(**f.initial.kwargs), theta[k, 0])
             for k, f in enumerate(factors) if not f.initial.fixed), pt.constant(0.0)))
        if data.n_weeks > 1:
            pm.Potential("walk", pm.logp(pm.Normal.dist(0.0, pt.sqrt(step_variance[:, 1:])), pt.diff(theta, axis=1)).sum())
        _observe(data, priors, theta, parameters, observed, fused=True, reading_precision=reading_precision, offset=offset)
    return model


def _reading_precision(parameters: dict) -> TensorVariable:
    """lambda (signals): each reading's precision, Gamma(nu / 2, nu / 2), so that a reading is
    N(theta, sigma^2 / lambda) and, integrated over lambda, the model's Student-t (a scale
    mixture, as the walk's steps are). Given lambda the readings are Gaussian, the Kalman
    stand-in is the model itself, and its paths' coordinates are exactly standard normal."""
    nu = parameters["nu"]
    return pm.Gamma("reading_precision", alpha=nu / 2, beta=nu / 2, dims=SIGNAL)


def _step_nu(factors: list) -> np.ndarray:
    """Each factor's steps' degrees of freedom (infinity: Gaussian steps), kept in the posterior
    as `step_nu` for the walk ahead, like every other prior parameter."""
    nu = np.array([f.jumps.nu for f in factors], dtype=float)
    pm.Deterministic("step_nu", pt.as_tensor(nu), dims=FACTOR)
    return nu


def _step_precision(nu: np.ndarray) -> TensorVariable | None:
    """tau (factors, steps): each week's step precision, Gamma(nu / 2, nu / 2) for a factor with
    Student-t steps and 1 for a Gaussian one; None when every factor's steps are Gaussian (the
    graph then has no precision at all)."""
    heavy = np.flatnonzero(np.isfinite(nu))
    if not len(heavy):
        return None
    if len(heavy) == len(nu):
        return pm.Gamma("step_precision", alpha=nu[:, None] / 2, beta=nu[:, None] / 2, dims=(FACTOR, STEP))
    n_steps = len(pm.modelcontext(None).coords[STEP])
    free = pm.Gamma("step_precision_heavy", alpha=nu[heavy, None] / 2, beta=nu[heavy, None] / 2, shape=(len(heavy), n_steps))
    return pt.set_subtensor(pt.ones((len(nu), n_steps))[heavy], free)


def _stand_in_information(data: ModelData, priors: Priors, parameters: dict, observed: dict,
                          adjusted: TensorVariable | None = None) -> tuple[TensorVariable, TensorVariable]:
    """The Kalman stand-in's readings, summed by factor-week: (information h, information x
    value g), each (factors, weeks). Each t reading stands in as a normal with the t's Fisher
    information about its location (`t_reading_precision`)."""
    nu, noise = parameters["nu"], parameters["noise"]
    per_unit_noise = t_reading_precision(nu, noise)
    obs = priors.observation
    if adjusted is None and all(p.fixed for p in [*obs.reliability.values(), *obs.credibility.values()]):
        # Fixed grade multipliers (the default): the graded part of each reading's information
        # is a constant, summed once here instead of at every gradient.
        multiplier = (np.array([p.value for p in obs.reliability.values()])[data.signal_reliability]
                      * np.array([p.value for p in obs.credibility.values()])[data.signal_credibility])
        flat = data.signal_factor * data.n_weeks + data.signal_week
        size, shape = len(data.factors) * data.n_weeks, (len(data.factors), data.n_weeks)
        information = np.bincount(flat, multiplier**-2.0, minlength=size).reshape(shape)
        weighted = np.bincount(flat, multiplier**-2.0 * data.signal_value, minlength=size).reshape(shape)
        return (per_unit_noise * pm.Data("stand_in_information", information, dims=(FACTOR, WEEK)),
                per_unit_noise * pm.Data("stand_in_weighted_sum", weighted, dims=(FACTOR, WEEK)))
    precision = t_reading_precision(nu, _signal_scale(observed, parameters))
    value = observed["signal_value"] if adjusted is None else adjusted
    return gaussian_summary(len(data.factors), data.n_weeks, observed["signal_index"], value, precision)


def _observation_parameters(priors: Priors) -> dict:
    obs = priors.observation
    return {
        "noise": prior_array("noise", obs.noise, ()),
        "nu": prior_array("nu", obs.nu, ()),
        "reliability": prior_array("reliability_multiplier", list(obs.reliability.values()), (GRADE_RELIABILITY,)),
        "credibility": prior_array("credibility_multiplier", list(obs.credibility.values()), (GRADE_CREDIBILITY,)),
    }


def _data(data: ModelData) -> dict:
    """The log as data containers, not constants: PyTensor compiles the log density with numba
    and caches it on disk by the graph, so a graph that embeds the readings would compile
    afresh for every new log; with containers it compiles once per model structure."""
    return {
        "signal_index": pm.Data("signal_index", data.signal_factor * data.n_weeks + data.signal_week, dims=SIGNAL),
        "signal_value": pm.Data("signal_value", data.signal_value, dims=SIGNAL),
        "signal_reliability": pm.Data("signal_reliability", data.signal_reliability, dims=SIGNAL),
        "signal_credibility": pm.Data("signal_credibility", data.signal_credibility, dims=SIGNAL),
        "outcome_counts": pm.Data("observed_outcome_counts", data.outcome_counts, dims=(WEEK, WEEKLY_OUTCOME)),
    }


def _signal_scale(observed: dict, parameters: dict) -> TensorVariable:
    return (parameters["noise"] * parameters["reliability"][observed["signal_reliability"]]
            * parameters["credibility"][observed["signal_credibility"]])


def _reading_offsets(data: ModelData, priors: Priors) -> TensorVariable | None:
    """Each reading's coder's offset on its obstacle (docs/MODEL.md, "Coders"): the coders'
    offsets sum to zero over the coders, a normal of sd `house_effect` (PyMC's ZeroSumNormal),
    written non-centred as the compiled density samples it; None with one coder."""
    if len(data.coders) < 2:
        return None
    house = prior_array("house_effect", priors.observation.house_effect, ())
    standard = pm.ZeroSumNormal("coder_offset_standard", sigma=1.0, dims=(FACTOR, CODER))
    offsets = pm.Deterministic("coder_offset", house * standard, dims=(FACTOR, CODER))
    return offsets[pm.Data("signal_factor", data.signal_factor, dims=SIGNAL), pm.Data("signal_coder", data.signal_coder, dims=SIGNAL)]


def _observe(data: ModelData, priors: Priors, theta: TensorVariable, parameters: dict, observed: dict, fused: bool = False,
             reading_precision: TensorVariable | None = None, offset: TensorVariable | None = None) -> None:
    """The observation layer both forms share: signals on the paths, and the weekly outcomes.

    `fused`: the signals' density as one pass over the readings (signal_density.py), a
    potential, for sampling; otherwise PyMC's StudentT, an observed variable one can draw from.
    `reading_precision`: each reading is instead normal with its own precision (for sampling).
    """
    deals = [priors.outcomes.deals[k] for k in data.deals]
    level = theta.ravel()[observed["signal_index"]]
    if offset is not None:
        level = level + offset
    if reading_precision is not None:
        scale = _signal_scale(observed, parameters) / pt.sqrt(reading_precision)
        pm.Potential("signals", pm.logp(pm.Normal.dist(level, scale), observed["signal_value"]).sum())
    elif len(data.signal_value) and fused and offset is not None:
        pm.Potential("signals", pm.logp(pm.StudentT.dist(nu=parameters["nu"], mu=level, sigma=_signal_scale(observed, parameters)),
                                        observed["signal_value"]).sum())
    elif len(data.signal_value) and fused:
        pm.Potential("signals", student_t_signals_logp(
            theta.ravel(), observed["signal_index"], observed["signal_value"], observed["signal_reliability"],
            observed["signal_credibility"], parameters["noise"], parameters["reliability"], parameters["credibility"],
            parameters["nu"]))
    elif len(data.signal_value):
        pm.StudentT(
            "signal",
            nu=parameters["nu"],
            # A flat 1-D index: its gradient is a cheap inplace increment, unlike 2-D fancy indexing.
            mu=level,
            sigma=_signal_scale(observed, parameters),
            observed=observed["signal_value"],
            dims=SIGNAL,
        )
    baseline = prior_array("baseline", [d.baseline for d in deals], (DEAL,))
    effect = prior_array("effect", [[d.effects[k] for k in data.factors] for d in deals], (DEAL, FACTOR))
    boost = None
    if priors.outcomes.occasions or data.break_weeks:
        occasions = list(priors.outcomes.occasions.values())
        columns = []
        if occasions:
            columns.append(prior_array("occasion_effect", [[o.effects[d.key] for o in occasions] for d in deals], (DEAL, OCCASION)))
        if data.break_weeks:
            # A break's shift of each deal's log-odds: an occasion column that lasts from its week on.
            columns.append(prior_array("break_shift", [[d.break_shift] * len(data.break_weeks) for d in deals], (DEAL, BREAK)))
        effect_all = pt.concatenate(columns, axis=1) if len(columns) > 1 else columns[0]
        width = len(occasions) + len(data.break_weeks)
        counts = data.occasion_counts if data.occasion_counts is not None else np.zeros((data.n_weeks, width))
        boost = pt.dot(pm.Data("occasion_counts", counts), effect_all.T)
    if data.outcomes_observed:
        p = weekly_outcome_probabilities(theta.T, baseline, effect, boost)
        pm.Multinomial(
            "outcome_counts",
            n=observed["outcome_counts"].sum(axis=1),
            p=p,
            observed=observed["outcome_counts"],
            dims=(WEEK, WEEKLY_OUTCOME),
        )


def _with_breaks(data: ModelData, priors: Priors, factors: list, step_variance: TensorVariable) -> TensorVariable:
    """(factors, weeks) step variances with each logged break's own step added in its week:
    break_step[k]^2, a normal of its own on top of the walk's."""
    if not data.break_weeks:
        return step_variance
    break_step = prior_array("break_step", [f.break_step for f in factors], (FACTOR,))
    weeks = np.zeros(data.n_weeks)
    weeks[list(data.break_weeks)] = 1.0
    return step_variance + (break_step**2)[:, None] * pt.as_tensor(weeks)[None, :]


def weekly_outcome_probabilities(theta_wk: TensorVariable, baseline: TensorVariable, effect: TensorVariable,
                                 boost: TensorVariable | None = None) -> TensorVariable:
    """P(no deal, deal_1, ..., deal_J) in each week: softmax([0, a_j + sum_k b_jk theta_k + boost_j]),
    where `boost` (weeks, deals) is what the week's scheduled occasions add to each deal's log-odds."""
    eta = baseline[None, :] + pt.dot(theta_wk, effect.T)
    if boost is not None:
        eta = eta + boost
    logits = pt.concatenate([pt.zeros((eta.shape[0], 1)), eta], axis=1)
    return pt.special.softmax(logits, axis=1)


def prior_array(name: str, params: Param | list, dims: tuple[str, ...]) -> TensorVariable:
    """One named model variable whose elements follow `params` (a Param, or nested lists matching `dims`).

    All elements fixed: a Deterministic constant. All of one distribution family: one vector
    variable with element-wise parameters, which samples best. Mixed: one scalar per element,
    stacked into a Deterministic under `name`.
    """
    if isinstance(params, Param):
        shape, elements = (), [params]
    else:
        shape, elements = _shape(params), list(_flatten(params))

    if all(p.fixed for p in elements):
        return pm.Deterministic(name, pt.as_tensor(np.array([p.value for p in elements]).reshape(shape)), dims=dims or None)
    families = {(p.dist, tuple(sorted(p.kwargs))) for p in elements}
    if len(families) == 1 and not any(p.fixed for p in elements):
        dist = elements[0].dist
        kwargs = {k: np.array([p.kwargs[k] for p in elements]).reshape(shape) for k in elements[0].kwargs}
        return getattr(pm, dist)(name, **kwargs, dims=dims or None)
    parts = []
    for index, p in zip(np.ndindex(shape), elements):
        label = "__".join([name, *(str(i) for i in index)])
        parts.append(pt.as_tensor(p.value) if p.fixed else getattr(pm, p.dist)(label, **p.kwargs))
    return pm.Deterministic(name, pt.stack(parts).reshape(shape), dims=dims or None)


def _flatten(nested: list | tuple) -> Iterator[Param]:
    for item in nested:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _shape(nested: Param | list | tuple) -> tuple[int, ...]:
    if isinstance(nested, (list, tuple)):
        return (len(nested), *(_shape(nested[0]) if nested else ()))
    return ()
