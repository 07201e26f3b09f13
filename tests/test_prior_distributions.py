"""The scipy versions of the prior distributions match PyMC's parameterisation."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from forecast.io.priors import DISTRIBUTIONS, Param
from forecast.model.prior_distributions import prior_distribution

EXAMPLES = {
    "Normal": {"mu": 1.0, "sigma": 0.5},
    "StudentT": {"nu": 5.0, "mu": -1.0, "sigma": 0.7},
    "HalfNormal": {"sigma": 0.3},
    "HalfStudentT": {"nu": 4.0, "sigma": 0.4},
    "HalfCauchy": {"beta": 0.2},
    "LogNormal": {"mu": -0.69, "sigma": 0.35},
    "Gamma": {"alpha": 3.0, "beta": 2.0},
    "InverseGamma": {"alpha": 4.0, "beta": 3.0},
    "Exponential": {"lam": 2.5},
    "Uniform": {"lower": -1.0, "upper": 2.0},
    "TruncatedNormal": {"mu": 0.5, "sigma": 1.0, "lower": 0.0, "upper": 2.0},
}


def test_every_accepted_distribution_has_an_example():
    assert set(EXAMPLES) == set(DISTRIBUTIONS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_quantiles_agree_with_pymc_draws(name):
    kwargs = EXAMPLES[name]
    ours = prior_distribution(Param(name, kwargs, None, "r", "s"))
    theirs = pm.draw(getattr(pm, name).dist(**kwargs, size=40_000), random_seed=3, mode="FAST_COMPILE")
    q = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    # Quantiles of 40,000 draws are within a few percent of the truth, far closer than a
    # wrong parameterisation (a rate read as a scale, a sigma as a variance) would be.
    np.testing.assert_allclose(ours.ppf(q), np.quantile(theirs, q), rtol=0.04, atol=0.01)
    grid = np.quantile(theirs, [0.2, 0.5, 0.8])
    assert np.all(ours.pdf(grid) > 0)


def test_a_fixed_entry_has_no_distribution():
    assert prior_distribution(Param(None, {}, 4.0, "r", "s")) is None
