"""Sampling the fit model with the compiled sampler, and what a run stores of it.

The model's density is compiled once per machine (model/density.py); chains run in threads
(chains.py); the draws come back as an ArviZ posterior with PyMC's names and dimensions, so
nothing downstream knows which sampler made them. Models the compiled density does not cover (an
initial level with a bounded prior) are sampled by PyMC instead (pymc_sampler.py).
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import xarray as xr

from forecast.conventions import BREAK, CODER, DEAL, FACTOR, GRADE_CREDIBILITY, GRADE_RELIABILITY, OCCASION, TARGET_ACCEPT, WEEK
from forecast.inference.chains import STATS, ChainResult, run_chains
from forecast.inference.convergence import convergence, worst
from forecast.inference.diagnostics import Diagnostics
from forecast.inference.precision_jumps import PROPOSALS, Groups
from forecast.inference.progress import SamplingProgress
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData
from forecast.model.density import Density
from forecast.timings import phase

SAMPLER = "forecast NUTS (numba)"


def sample(density: Density, data: ModelData, priors: Priors, *, draws: int, tune: int, chains: int, seed: int,
           progress: bool, cores: int | None = None, target_accept: float = TARGET_ACCEPT,
           reading_groups: list[np.ndarray] | None = None, proposals: int = PROPOSALS) -> tuple[xr.DataTree, Diagnostics]:
    """NUTS on the compiled density. `cores` threads run the chains (default: one per chain, at
    most two); each chain has its own seeded stream, so the draws are the same whatever `cores` is.

    `reading_groups`: groups of readings that disagree (model/reading_groups.py). Where the model
    gives each reading a precision of its own, a step of Metropolis-Hastings jumps between the
    groups' explanations runs after NUTS every iteration (inference/precision_jumps.py)."""
    started = time.perf_counter()
    groups = Groups(reading_groups if reading_groups and density.structure.sparse else [])
    line = SamplingProgress(chains, tune, draws) if progress else None
    threads = min(chains, 2) if cores is None else min(chains, cores)
    if line is not None:
        line.announce(chains, tune, draws, threads)
    try:
        results = run_chains(density, groups, draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept,
                             threads=threads, progress=(lambda done, total: line.update(done)) if line else None,
                             proposals=proposals)
    finally:
        if line is not None:
            line.close()
    seconds = time.perf_counter() - started
    with phase("posterior as a DataTree"):
        trace = to_datatree(results, density, data, priors, seconds, tune)
    with phase("diagnostics"):
        diagnostics = diagnose(results, density, data, priors, seconds, chains)
    return trace, diagnostics


def to_datatree(results: list[ChainResult], density: Density, data: ModelData, priors: Priors, seconds: float,
                tune: int) -> xr.DataTree:
    """The posterior (every prior entry under its parameter's name and dimensions, the paths as
    theta, the initial levels) and the sampler's statistics, as PyMC names them."""
    S = density.structure
    chains, draws = len(results), results[0].draws.shape[0]
    stacked = np.stack([r.draws for r in results])  # (chain, draw, slots + K * W)
    coords = {**_coordinates(data, priors), "chain": np.arange(chains), "draw": np.arange(draws)}
    variables = {}
    for parameter in density.layout.parameters:
        if parameter.size == 0:  # no occasion types in these priors
            continue
        values = stacked[:, :, parameter.first_slot:parameter.first_slot + parameter.size]
        variables[parameter.name] = (("chain", "draw", *parameter.dims), values.reshape(chains, draws, *parameter.shape))
    n_slots = len(S.slot_value)
    paths_end = n_slots + S.n_factors * S.n_weeks
    theta = stacked[:, :, n_slots:paths_end].reshape(chains, draws, S.n_factors, S.n_weeks)
    if S.n_coders > 1:
        offsets = stacked[:, :, paths_end:].reshape(chains, draws, S.n_factors, S.n_coders)
        variables["coder_offset"] = (("chain", "draw", FACTOR, CODER), offsets)
    variables["theta"] = (("chain", "draw", FACTOR, WEEK), theta)
    variables["initial"] = (("chain", "draw", FACTOR), theta[:, :, :, 0].copy())
    variables["step_nu"] = (("chain", "draw", FACTOR), np.broadcast_to(S.step_nu, (chains, draws, S.n_factors)).copy())
    attrs = {"inference_library": SAMPLER, "sampling_time": seconds, "tuning_steps": tune}
    used = {dim for dims, _ in variables.values() for dim in dims}
    posterior = xr.Dataset(variables, coords={k: v for k, v in coords.items() if k in used}, attrs=attrs)
    stats = np.stack([r.stats for r in results])
    counted = ("n_steps", "tree_depth", "precision_jumps_accepted", "step_swaps_accepted")
    sample_stats = xr.Dataset(
        {name: (("chain", "draw"), stats[:, :, i].astype(bool if name == "diverging" else np.int64 if name in counted else float))
         for i, name in enumerate(STATS)},
        coords={"chain": np.arange(chains), "draw": np.arange(draws)}, attrs=attrs)
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats})


def _coordinates(data: ModelData, priors: Priors) -> dict[str, list[str]]:
    """The labels of each dimension of the posterior's variables."""
    return {
        FACTOR: list(data.factors), WEEK: [w.isoformat() for w in data.weeks], DEAL: list(data.deals),
        OCCASION: list(priors.outcomes.occasions), GRADE_RELIABILITY: list(priors.observation.reliability),
        GRADE_CREDIBILITY: list(priors.observation.credibility),
        BREAK: [data.weeks[w].isoformat() for w in data.break_weeks], CODER: list(data.coders),
    }


def checked_names(density: Density, data: ModelData, priors: Priors) -> list[str]:
    """The name of each quantity `checked_quantities` returns, in its order, as ArviZ labels an
    element ("volatility[external_military_aid]", "theta[territorial_rigidity, 2024-01-08]")."""
    coords, layout, S = _coordinates(data, priors), density.layout, density.structure
    slot_names = []
    for parameter in layout.parameters:
        elements = itertools.product(*(coords[dim] for dim in parameter.dims))
        slot_names += [f"{parameter.name}[{', '.join(e)}]" if parameter.dims else parameter.name for e in elements]
    names = [slot_names[i] for i in layout.free_slots]
    names += [f"theta[{k}, {w}]" for k in coords[FACTOR] for w in coords[WEEK]]
    if S.n_coders > 1:
        names += [f"coder_offset[{k}, {c}]" for k in coords[FACTOR] for c in coords[CODER]]
    names.append("lp")
    names += [f"sum of log step precisions[{coords[FACTOR][k]}]" for k in range(S.n_factors) if S.heavy[k] >= 0]
    if layout.reading_precisions.stop > layout.reading_precisions.start:
        names += [f"mean log reading precision[{key}]" for k, key in enumerate(coords[FACTOR])
                  if np.any(data.signal_factor == k)]
    return names


def checked_quantities(results: list[ChainResult], density: Density, data: ModelData) -> np.ndarray:
    """(chain, draw, quantity): what the diagnostics judge. Each free prior entry and every week's
    level of every obstacle, one by one; the log density; and the precisions of the Student-t
    steps and readings (sampled, not stored) through summaries: per factor, the sum of its steps'
    log precisions and the mean of its readings' (docs/MODEL.md, "Diagnostics", says why)."""
    free = density.layout.free_slots
    n_slots = len(density.structure.slot_value)
    layout, S = density.layout, density.structure
    n_steps = layout.step_precisions.stop - layout.step_precisions.start
    heavy = [k for k in range(S.n_factors) if S.heavy[k] >= 0]
    read = [np.flatnonzero(data.signal_factor == k) for k in range(S.n_factors)] if layout.reading_precisions.stop > \
        layout.reading_precisions.start else []
    parts = []
    for r in results:
        steps = r.precisions[:, :n_steps].reshape(len(r.precisions), len(heavy), -1) if heavy else None
        readings = r.precisions[:, n_steps:]
        summaries = [steps.sum(axis=2)] if heavy else []
        summaries += [readings[:, mine].mean(axis=1, keepdims=True) for mine in read if len(mine)]
        lp = r.stats[:, STATS.index("lp"), None]
        parts.append(np.concatenate([r.draws[:, free], r.draws[:, n_slots:], lp, *summaries], axis=1))  # paths, offsets
    return np.stack(parts)


def diagnose(results: list[ChainResult], density: Density, data: ModelData, priors: Priors, seconds: float,
             chains: int) -> Diagnostics:
    r_hat, bulk, tail = convergence(checked_quantities(results, density, data))
    divergent = sum(int(r.stats[:, STATS.index("diverging")].sum()) for r in results)
    return Diagnostics(
        r_hat_max=float(np.nanmax(r_hat)),
        ess_bulk_min=float(np.nanmin(bulk)),
        ess_tail_min=float(np.nanmin(tail)),
        divergences=divergent,
        sampling_seconds=round(seconds, 2),
        chains=chains,
        worst=worst(r_hat, bulk, tail, checked_names(density, data, priors)),
    )
