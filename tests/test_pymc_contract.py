"""What the sampler relies on in PyMC beyond its documented arguments, named so that an upgrade
that changes it fails here, loudly, rather than sampling slower or differently without a word.

`inference/sampler.py` compiles the log density once with the public `Model.logp_dlogp_function`
and hands it, with its own mass matrix, to `pm.NUTS(potential=..., logp_dlogp_func=...)`. The
keyword `logp_dlogp_func` is accepted by PyMC's gradient steps (`GradientSharedStep`) but not
listed in NUTS's docstring; these tests read the step's private attributes on purpose.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
from pymc.step_methods.hmc.quadpotential import QuadPotentialDiagAdapt

from forecast.inference.pymc_sampler import _nuts


def _model() -> pm.Model:
    with pm.Model() as model:
        pm.Normal("x", 0.0, 2.0, shape=2)
    return model


def test_nuts_uses_the_log_density_it_is_given_instead_of_compiling_its_own():
    model = _model()
    f = model.logp_dlogp_function(ravel_inputs=True)
    step = pm.NUTS(model=model, logp_dlogp_func=f)
    assert step._logp_dlogp_func is f


def test_nuts_keeps_the_potential_it_is_given_and_integrates_with_it():
    model = _model()
    potential = QuadPotentialDiagAdapt(2, np.zeros(2), np.array([4.0, 4.0]), 10)
    step = pm.NUTS(model=model, potential=potential)
    assert step.potential is potential
    assert step.integrator._potential is potential


def test_the_projects_step_shares_one_compiled_density():
    step, _ = _nuts(_model(), chains=2, seed=1)
    assert step.integrator._potential is step.potential
    _, grad = step._logp_dlogp_func(np.array([1.0, -1.0]))
    np.testing.assert_allclose(grad, [-0.25, 0.25])  # d/dx log N(x | 0, 2) = -x / 4
