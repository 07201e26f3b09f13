"""Sampling and its diagnostics."""

from __future__ import annotations

import logging
import time

import numpy as np
import pymc as pm
import xarray as xr
from pymc.step_methods.hmc.quadpotential import QuadPotentialDiagAdapt

from .convergence import convergence, stacked
from .conventions import TARGET_ACCEPT
from .diagnostics import Diagnostics


def sample(model: pm.Model, *, draws: int, tune: int, chains: int, seed: int, progress: bool) -> tuple[xr.DataTree, Diagnostics]:
    if not progress:
        logging.getLogger("pymc").setLevel(logging.WARNING)
    started = time.perf_counter()
    step, starts = _nuts(model, chains, seed)
    with model:
        trace = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=min(chains, 2),
            # Our own NUTS step (below); it also keeps PyMC from switching to nutpie, whose numba
            # compile (11-23 s a process here) would cost more than sampling.
            step=step,
            initvals=starts,
            # Everything but the standard normals behind the paths (the paths are stored as theta).
            var_names=[v.name for v in model.unobserved_RVs if v.name not in STANDARDISED],
            random_seed=seed,
            progressbar=progress,
            compute_convergence_checks=False,  # we compute and store our own, below
            # Forked workers start without re-importing PyMC: 2.3 s less per update of the
            # example (7.3 -> 4.9 s of sampling on these 2-core machines).
            mp_ctx="fork",
        )
    seconds = time.perf_counter() - started
    return trace, diagnose(trace, model, seconds, chains)


# Coordinates that are standard normal by construction (the Kalman-guided paths' path_std,
# the generative form's innovations): their posterior scale is close to 1 already.
STANDARDISED = {"path_std", "innovation"}


def _nuts(model: pm.Model, chains: int, seed: int) -> tuple[pm.NUTS, list[dict]]:
    """NUTS (PyMC's own) with a mass matrix that starts at the scales
    of the posterior, and each chain's start jittered as PyMC does.

    PyMC's default starts from a unit mass matrix for its first 100 tuning draws. Here a noise
    scale pinned by thousands of readings has a posterior sd near 0.01 on the log scale, so
    those draws take ~250 leapfrog steps each: most of the sampling time on a long log. The
    starting scales are the inverse curvatures of the log density at the initial point,
    by central differences of its gradient, one coordinate at a time (about 15 coordinates,
    each 2 gradient evaluations); standardised coordinates start at 1.
    """
    from pymc.blocking import DictToArrayBijection
    from pymc.initial_point import make_initial_point_fns_per_chain
    from pymc.step_methods.hmc.integration import CpuLeapfrogIntegrator

    # The step compiles the log density and its gradient; the starts and the scales below use
    # that same function rather than compiling it a second time (1.5-2 s).
    step = pm.NUTS(model=model, target_accept=TARGET_ACCEPT, rng=np.random.default_rng([seed, 4]))
    logp_dlogp = step._logp_dlogp_func
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
    step.potential = QuadPotentialDiagAdapt(mean.size, mean, variance, 10, rng=np.random.default_rng([seed, 3]))
    step.integrator = CpuLeapfrogIntegrator(step.potential, logp_dlogp)
    return step, starts


def _inverse_curvature(logp_dlogp, x: np.ndarray, i: int, delta: float = 1e-3) -> float:
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
    names = [rv.name for rv in model.free_RVs if rv.name not in STANDARDISED] + ["theta"]
    r_hat, bulk, tail = convergence(stacked(trace.posterior, names))
    divergent = trace.sample_stats["diverging"].values
    return Diagnostics(
        r_hat_max=float(np.nanmax(r_hat)),
        ess_bulk_min=float(np.nanmin(bulk)),
        ess_tail_min=float(np.nanmin(tail)),
        divergences=int(divergent.sum()),
        sampling_seconds=round(seconds, 2),
        chains=chains,
    )
