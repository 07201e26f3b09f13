"""The samplers against exact inference (sampling tier).

With ν huge, the outcome effects fixed at 0 and the volatilities and noise fixed, the factor
model is linear-Gaussian, so each factor's posterior is what the Kalman/RTS smoother gives. Both
samplers are held to it: the compiled one on the fit's coordinates (every fit), and PyMC's on the
generative form (the fallback for priors the compiled density does not cover)."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pytest
from conftest import SEED
from kalman_oracle import local_level_smoother
from test_dataset import ev

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES
from forecast.inference import pymc_sampler, sampler
from forecast.io.priors import write_priors
from forecast.model.dataset import build_dataset
from forecast.model.density import compile_density
from forecast.model.graph import build_model

pytestmark = pytest.mark.slow

VOLATILITY = {"territorial_rigidity": 0.08, "security_guarantee_gap": 0.12, "external_military_aid": 0.2, "domestic_hawkishness": 0.1}
NOISE = 0.5
WEEKS_CHECKED = [0, 5, 14, 29]


def _linear_gaussian_priors(priors, folder):
    content = copy.deepcopy(priors.content)
    note = {"rationale": "exact-inference check: a fixed parameter", "source": "tests/test_exact_check.py"}
    for key, factor in content["factors.yaml"]["factors"].items():
        factor["volatility"] = {"value": VOLATILITY[key], **note}
        factor.pop("jumps", None)  # Gaussian steps: the linear-Gaussian model the smoother solves
    for deal in content["outcomes.yaml"]["deals"].values():
        deal["effects"] = {k: {"value": 0.0, **note} for k in deal["effects"]}
    content["observation.yaml"]["noise"] = {"value": NOISE, **note}
    content["observation.yaml"]["nu"] = {"value": 1e6, **note}
    return write_priors(content, folder)


def _log(priors, rng):
    start = priors.outcomes.start
    weeks = np.concatenate([rng.integers(0, 10, 30), rng.integers(19, 30, 20)])  # no readings in weeks 10-18
    events = []
    for i, w in enumerate(weeks):
        factor = list(priors.factors)[i % 4]
        grade = (RELIABILITY_GRADES[rng.integers(0, 6)], CREDIBILITY_GRADES[rng.integers(0, 6)])
        events.append(ev(f"s{i}", start + dt.timedelta(weeks=int(w), days=int(rng.integers(0, 5))), factor=factor,
                         signal=float(np.round(rng.normal(1.5, 1.0), 2).clip(-3, 3)), grade=grade))
    return events


@pytest.mark.parametrize("which", ["compiled", "pymc"])
def test_sampled_factor_posterior_matches_the_exact_smoother(priors, tmp_path, which):
    priors = _linear_gaussian_priors(priors, tmp_path / "priors")
    events = _log(priors, np.random.default_rng(SEED))
    data = build_dataset(events, priors, as_of=priors.outcomes.start + dt.timedelta(weeks=29, days=4))
    assert data.n_weeks == 30
    if which == "compiled":
        trace, diagnostics = sampler.sample(compile_density(data, priors), data, priors, draws=1500, tune=1000, chains=4,
                                            seed=SEED, progress=False)
    else:
        trace, diagnostics = pymc_sampler.sample(build_model(data, priors), draws=1500, tune=1000, chains=4, seed=SEED,
                                                 progress=False)
    assert diagnostics.passed, diagnostics.problems
    theta = trace.posterior["theta"].stack(sample=("chain", "draw")).transpose("factor", "week", "sample").values

    multipliers = {"reliability": [priors.observation.reliability[g].value for g in RELIABILITY_GRADES],
                   "credibility": [priors.observation.credibility[g].value for g in CREDIBILITY_GRADES]}
    for k, key in enumerate(priors.factors):
        mine = data.signal_factor == k
        sd = NOISE * np.take(multipliers["reliability"], data.signal_reliability[mine]) \
            * np.take(multipliers["credibility"], data.signal_credibility[mine])
        initial = priors.factors[key].initial.kwargs
        exact = local_level_smoother(data.n_weeks, data.signal_week[mine], data.signal_value[mine], sd,
                                     initial_mean=initial["mu"], initial_sd=initial["sigma"], volatility=VOLATILITY[key])
        for w in WEEKS_CHECKED:
            draws = theta[k, w]
            mc_error = exact.sd[w] / np.sqrt(diagnostics.ess_bulk_min)
            assert abs(draws.mean() - exact.mean[w]) < 4 * mc_error, (key, w, draws.mean(), exact.mean[w], mc_error)
            assert draws.std() == pytest.approx(exact.sd[w], rel=0.08), (key, w, draws.std(), exact.sd[w])
