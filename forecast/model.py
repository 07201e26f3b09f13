"""The obstacle model as a PyMC model (DESIGN.md section 1).

    theta[k, 0]  ~ initial[k]
    theta[k, w]  = theta[k, w-1] + volatility[k] * z[k, w],  z ~ Normal(0, 1)   (non-centred)
    signal_i     ~ StudentT(nu, theta[factor_i, week_i], noise * m[reliability_i] * c[credibility_i])
    counts[w, :] ~ Multinomial(n_w, softmax([0, baseline_j + sum_k effect_jk * theta[k, w]]))

Every prior parameter appears in the posterior under the same name whether it is sampled or
fixed by a plain number, so the forecast code never needs to know which.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .conventions import CREDIBILITY_GRADES, DEAL, FACTOR, GRADE_CREDIBILITY, GRADE_RELIABILITY, RELIABILITY_GRADES, WEEK
from .dataset import ModelData
from .priors import Param, Priors

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
    }


def build_model(data: ModelData, priors: Priors) -> pm.Model:
    factors = [priors.factors[k] for k in data.factors]
    deals = [priors.outcomes.deals[k] for k in data.deals]
    obs = priors.observation
    with pm.Model(coords=coords(data, priors)) as model:
        initial = prior_array("initial", [f.initial for f in factors], (FACTOR,))
        volatility = prior_array("volatility", [f.volatility for f in factors], (FACTOR,))
        theta = initial[:, None]
        if data.n_weeks > 1:
            z = pm.Normal("innovation", 0.0, 1.0, dims=(FACTOR, STEP))
            theta = pt.concatenate([theta, theta + pt.cumsum(volatility[:, None] * z, axis=1)], axis=1)
        theta = pm.Deterministic("theta", theta, dims=(FACTOR, WEEK))

        noise = prior_array("noise", obs.noise, ())
        nu = prior_array("nu", obs.nu, ())
        reliability = prior_array("reliability_multiplier", list(obs.reliability.values()), (GRADE_RELIABILITY,))
        credibility = prior_array("credibility_multiplier", list(obs.credibility.values()), (GRADE_CREDIBILITY,))
        if len(data.signal_value):
            sigma = noise * reliability[data.signal_reliability] * credibility[data.signal_credibility]
            pm.StudentT(
                "signal",
                nu=nu,
                # A flat 1-D index: its gradient is a cheap inplace increment, unlike 2-D fancy indexing.
                mu=theta.ravel()[data.signal_factor * data.n_weeks + data.signal_week],
                sigma=sigma,
                observed=data.signal_value,
                dims=SIGNAL,
            )

        baseline = prior_array("baseline", [d.baseline for d in deals], (DEAL,))
        effect = prior_array("effect", [[d.effects[k] for k in data.factors] for d in deals], (DEAL, FACTOR))
        if data.outcomes_observed:
            p = weekly_outcome_probabilities(theta.T, baseline, effect)
            pm.Multinomial(
                "outcome_counts",
                n=data.outcome_counts.sum(axis=1),
                p=p,
                observed=data.outcome_counts,
                dims=(WEEK, WEEKLY_OUTCOME),
            )
    return model


def weekly_outcome_probabilities(theta_wk, baseline, effect):
    """P(no deal, deal_1, ..., deal_J) in each week: softmax([0, a_j + sum_k b_jk theta_k])."""
    eta = baseline[None, :] + pt.dot(theta_wk, effect.T)
    logits = pt.concatenate([pt.zeros((eta.shape[0], 1)), eta], axis=1)
    return pt.special.softmax(logits, axis=1)


def prior_array(name: str, params: Param | list, dims: tuple[str, ...]):
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


def _flatten(nested):
    for item in nested:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _shape(nested) -> tuple[int, ...]:
    if isinstance(nested, (list, tuple)):
        return (len(nested), *(_shape(nested[0]) if nested else ()))
    return ()
