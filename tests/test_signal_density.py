"""The fused Student-t signal density equals PyMC's StudentT, value and gradient, in both backends."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

from forecast.model.graph_ops import student_t_signals_logp


@pytest.mark.parametrize("linker", ["numba", "cvm"])
def test_equals_pymc_student_t_with_every_gradient(linker):
    rng = np.random.default_rng(5)
    n_levels, n = 15, 60
    flat, value = rng.integers(0, n_levels, n), rng.normal(0, 2, n)
    value[3] = 25.0  # an outlier, deep in the tail
    reliability, credibility = rng.integers(0, 6, n), rng.integers(0, 6, n)
    theta, noise = pt.dvector("theta"), pt.dscalar("noise")
    rel_m, cred_m, nu = pt.dvector("rel_m"), pt.dvector("cred_m"), pt.dscalar("nu")
    params = [theta, noise, rel_m, cred_m, nu]
    fused = student_t_signals_logp(theta, flat, value, reliability, credibility, noise, rel_m, cred_m, nu)
    sigma = noise * rel_m[reliability] * cred_m[credibility]
    reference = pm.logp(pm.StudentT.dist(nu=nu, mu=theta[flat], sigma=sigma), value).sum()
    mode = pytensor.compile.mode.Mode(linker=linker, optimizer="fast_run")
    f = pytensor.function(params, [fused, reference, *pytensor.grad(fused, params), *pytensor.grad(reference, params)],
                          mode=mode)
    out = f(rng.normal(size=n_levels), 0.6, rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6), 4.5)
    assert out[0] == pytest.approx(out[1], rel=1e-12)
    for mine, theirs in zip(out[2:7], out[7:]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
