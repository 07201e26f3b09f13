"""Sampling and its diagnostics."""

from __future__ import annotations

import logging
import time

import numpy as np
import pymc as pm
import xarray as xr

from .diagnostics import Diagnostics


def sample(model: pm.Model, *, draws: int, tune: int, chains: int, seed: int, progress: bool) -> tuple[xr.DataTree, Diagnostics]:
    if not progress:
        logging.getLogger("pymc").setLevel(logging.WARNING)
    started = time.perf_counter()
    with model:
        trace = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=min(chains, 2),
            random_seed=seed,
            progressbar=progress,
            compute_convergence_checks=False,  # we compute and store our own, below
            target_accept=0.9,
            # Explicit: PyMC picks nutpie by itself whenever it is installed, and nutpie's numba
            # compile (11-23 s a process here) costs more than sampling a log of this size.
            nuts_sampler="pymc",
            # Forked workers start without re-importing PyMC: 2.3 s less per update of the
            # example (7.3 -> 4.9 s of sampling on these 2-core machines).
            mp_ctx="fork",
        )
    seconds = time.perf_counter() - started
    return trace, diagnose(trace, model, seconds, chains)


def diagnose(trace: xr.DataTree, model: pm.Model, seconds: float, chains: int) -> Diagnostics:
    from arviz_stats import ess, rhat  # imported here: arviz_stats costs seconds at start-up

    names = [rv.name for rv in model.free_RVs]
    posterior = trace.posterior.to_dataset()[names]
    r_hat = rhat(posterior)
    bulk = ess(posterior, method="bulk")
    tail = ess(posterior, method="tail")
    divergent = trace.sample_stats["diverging"].values
    return Diagnostics(
        r_hat_max=_extreme(r_hat, np.nanmax),
        ess_bulk_min=_extreme(bulk, np.nanmin),
        ess_tail_min=_extreme(tail, np.nanmin),
        divergences=int(divergent.sum()),
        sampling_seconds=round(seconds, 2),
        chains=chains,
    )


def _extreme(ds: xr.Dataset, reduce) -> float:
    values = np.concatenate([np.ravel(ds[v].values) for v in ds.data_vars]) if ds.data_vars else np.array([np.nan])
    return float(reduce(values))
