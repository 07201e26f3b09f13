"""PyMC's NUTS, for the models the compiled density does not cover (model/density.py
`supported`: an initial level with a bounded prior), on the generative form of the model.

Built through PyMC's public API with a mass matrix started at the posterior's curvature and
jittered starts, as the compiled sampler starts (inference/chains.py).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import xarray as xr
from pymc.step_methods.hmc.quadpotential import QuadPotentialDiagAdapt

from forecast.conventions import TARGET_ACCEPT
from forecast.inference.convergence import convergence, stacked, stacked_names, worst
from forecast.inference.diagnostics import Diagnostics
from forecast.inference.progress import SamplingProgress

if TYPE_CHECKING:
    from pymc.model.core import ValueGradFunction


def sample(
    model: pm.Model, *, draws: int, tune: int, chains: int, seed: int, progress: bool, cores: int | None = None,
    target_accept: float = TARGET_ACCEPT,
) -> tuple[xr.DataTree, Diagnostics]:
    """NUTS on `model`. `cores` processes run the chains (default: one per chain, at most two);
    each chain has its own seeded stream, so the draws are the same whatever `cores` is."""
    if not progress:
        logging.getLogger("pymc").setLevel(logging.WARNING)
    started = time.perf_counter()
    step, starts = _nuts(model, chains, seed, target_accept)
    progress_line = SamplingProgress(chains, tune, draws) if progress else None
    with model:
        trace = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=min(chains, 2) if cores is None else min(chains, cores),
            # Our own NUTS step (below); it also keeps PyMC from switching to nutpie, whose
            # compile in every new process would cost more than sampling a typical log.
            step=step,
            initvals=starts,
            # Everything but the coordinates behind the paths (the paths are stored as theta).
            var_names=[v.name for v in model.unobserved_RVs if v.name not in UNSTORED],
            random_seed=seed,
            progressbar=False,  # PyMC's table cuts its headers at 80 columns: one line of our own instead
            callback=progress_line,
            compute_convergence_checks=False,  # we compute and store our own, below
            # Forked workers start without re-importing PyMC, which a small update would
            # otherwise pay in every chain's process.
            mp_ctx="fork",
        )
    if progress_line is not None:
        progress_line.close()
    seconds = time.perf_counter() - started
    return trace, diagnose(trace, model, seconds, chains)


# Coordinates that are standard normal by construction (the Kalman-guided paths' path_std,
# the generative form's innovations): their posterior scale is close to 1 already.
STANDARDISED = {"path_std", "innovation"}
# Not stored either: each week's step precision (model/walk.py), one per factor-week, which
# only shapes the paths; theta is stored and checked in their place.
UNSTORED = STANDARDISED | {"step_precision", "step_precision_heavy", "reading_precision"}


def _nuts(model: pm.Model, chains: int, seed: int, target_accept: float = TARGET_ACCEPT) -> tuple[pm.NUTS, list[dict]]:
    """NUTS (PyMC's own) with a mass matrix that starts at the scales of the posterior, and each
    chain's start jittered as PyMC does.

    PyMC's default starts from a unit mass matrix for its first 100 tuning draws. A noise scale
    pinned by thousands of readings has a posterior sd near 0.01 on the log scale, so those draws
    would take hundreds of leapfrog steps each. The starting scales are instead the inverse
    curvatures of the log density at the initial point, by central differences of its gradient,
    one coordinate at a time (the parameters, and on sparse logs each reading's precision: a few
    hundred gradients); standardised coordinates start at 1.

    The log density and its gradient are compiled once (`Model.logp_dlogp_function`) and serve
    the starts, the curvatures and the step (`logp_dlogp_func=`, a keyword of PyMC's gradient
    steps); `tests/test_pymc_contract.py` fails if PyMC stops honouring either.
    """
    from pymc.blocking import DictToArrayBijection
    from pymc.initial_point import make_initial_point_fns_per_chain

    logp_dlogp = model.logp_dlogp_function(ravel_inputs=True)
    logp_dlogp.trust_input = True
    logp_dlogp.set_extra_values({})
    rng = np.random.default_rng([seed, 2])
    jittered = make_initial_point_fns_per_chain(model=model, overrides=None, jitter_rvs=set(model.free_RVs), chains=chains)
    starts = []
    for make_start in jittered:
        for _ in range(10):
            start = make_start(int(rng.integers(2**30)))
            if np.isfinite(logp_dlogp(DictToArrayBijection.map(start).data)[0]):
                break
        else:
            model.check_start_vals(start)  # raises, naming the variable whose density is not finite
        starts.append(start)

    centre = DictToArrayBijection.map(model.initial_point())
    variance = np.ones(centre.data.size)
    offset = 0
    for name, _shape, size, _dtype in centre.point_map_info:
        if name not in STANDARDISED:
            for i in range(offset, offset + size):
                variance[i] = _inverse_curvature(logp_dlogp, centre.data, i)
        offset += size
    mean = np.mean([DictToArrayBijection.map(s).data for s in starts], axis=0)
    potential = QuadPotentialDiagAdapt(mean.size, mean, variance, 10, rng=np.random.default_rng([seed, 3]))
    step_rng = np.random.default_rng([seed, 4])
    # Runs stored before the potential was passed in drew a default potential's stream from this
    # generator first; spawning it here too keeps a seed's draws what they were.
    step_rng.spawn(1)
    step = pm.NUTS(model=model, potential=potential, target_accept=target_accept, rng=step_rng, logp_dlogp_func=logp_dlogp)
    return step, starts


def _inverse_curvature(logp_dlogp: ValueGradFunction, x: np.ndarray, i: int, delta: float = 1e-3) -> float:
    """1 / -(d^2 log p / dx_i^2) at x, clipped to [1e-6, 1e2]; 1 where the curvature is not negative."""
    up, down = x.copy(), x.copy()
    up[i] += delta
    down[i] -= delta
    curvature = -(logp_dlogp(up)[1][i] - logp_dlogp(down)[1][i]) / (2 * delta)
    if not np.isfinite(curvature) or curvature <= 0:
        return 1.0
    return float(np.clip(1.0 / curvature, 1e-6, 1e2))


def diagnose(trace: xr.DataTree, model: pm.Model, seconds: float, chains: int) -> Diagnostics:
    # The model's parameters: the paths themselves rather than the standard normals behind them.
    names = [rv.name for rv in model.free_RVs if rv.name not in UNSTORED] + ["theta"]
    r_hat, bulk, tail = convergence(stacked(trace.posterior, names))
    divergent = trace.sample_stats["diverging"].values
    return Diagnostics(
        r_hat_max=float(np.nanmax(r_hat)),
        ess_bulk_min=float(np.nanmin(bulk)),
        ess_tail_min=float(np.nanmin(tail)),
        divergences=int(divergent.sum()),
        sampling_seconds=round(seconds, 2),
        chains=chains,
        worst=worst(r_hat, bulk, tail, stacked_names(trace.posterior, names)),
    )
