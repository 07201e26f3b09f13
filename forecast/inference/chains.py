"""Chains: each a compiled loop of NUTS transitions (nuts.py), jumps between explanations
(precision_jumps.py) and tuning (adaptation.py), run in threads of one process.

A chain's draws depend on the seed and its index only: its random stream is its own
(`numpy.random.default_rng([seed, 100, chain])`), and it runs in blocks whose size has no effect
on the numbers, so the same seed gives the same draws with any number of threads. The compiled
loops release the GIL, so the threads run at once; between blocks the main thread shows progress.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from forecast.inference import adaptation as adapt
from forecast.inference.nuts import (
    DEPTH,
    DIVERGENT,
    ENERGY,
    ENERGY_ERROR,
    MAX_ERROR,
    N_STATS,
    N_STEPS,
    SUM_ACCEPT,
    Scratch,
    leapfrog,
    scratch,
    transition,
)
from forecast.inference.precision_jumps import PROPOSALS, SWAPS, Groups, jump, swap_steps
from forecast.kernel_cache import kernel
from forecast.model.density import Density, Structure, constrained, log_density
from forecast.timings import phase, record

BLOCK = 50  # iterations between looks at the progress (and at an interrupt)
# Per-iteration statistics kept for each chain, in this order.
STATS = ("n_steps", "diverging", "acceptance_rate", "max_energy_error", "tree_depth", "energy", "energy_error", "step_size",
         "lp", "precision_jumps_accepted", "step_swaps_accepted")
N_RECORDED = len(STATS)


@dataclass
class ChainResult:
    draws: np.ndarray  # (draws, slots + factors * weeks): what constrained() writes
    precisions: np.ndarray  # (draws, step precisions + reading precisions): their log, for diagnostics
    stats: np.ndarray  # (draws, N_RECORDED)
    seconds: list[float] = field(default_factory=lambda: [0.0, 0.0])  # this chain's tuning, its draws


class StartFailed(Exception):
    """No jittered start of a chain has a finite log density: the priors leave the model without
    a density where the sampler would begin."""


def starts(density: Density, chains: int, seed: int) -> list[np.ndarray]:
    """Each chain's start: the centre with every coordinate jittered by U(-1, 1), as PyMC's
    default starts; up to ten tries for a finite log density."""
    rng = np.random.default_rng([seed, 2])
    found = []
    for _ in range(chains):
        for _ in range(10):
            start = density.centre + rng.uniform(-1.0, 1.0, density.centre.size)
            if math.isfinite(density.log_density(start)):
                break
        else:
            raise StartFailed("no start with a finite log density in ten jittered tries around the priors' medians")
        found.append(start)
    return found


def initial_inverse_mass(density: Density) -> np.ndarray:
    """The metric's start: each coordinate's inverse curvature at the centre (the paths' standard
    normals at 1). A noise scale pinned by thousands of readings has a posterior sd near 0.01 on
    the log scale; from a unit metric the first draws would take hundreds of leapfrog steps."""
    return _inverse_curvature(density.centre, density.structure, density.layout.standardised.start,
                              density.layout.standardised.stop)


@kernel
def _inverse_curvature(centre: np.ndarray, S: Structure, skip_first: int, skip_stop: int, delta: float = 1e-3) -> np.ndarray:
    """1 / -(d^2 log p / dx_i^2) by central differences of the gradient, clipped to [1e-6, 1e2];
    1 where the curvature is not negative, and for the coordinates in [skip_first, skip_stop)."""
    n = centre.shape[0]
    out = np.ones(n)
    up_gradient, down_gradient = np.empty(n), np.empty(n)
    x = centre.copy()
    for i in range(n):
        if skip_first <= i < skip_stop:
            continue
        x[i] = centre[i] + delta
        log_density(x, up_gradient, True, S)
        x[i] = centre[i] - delta
        log_density(x, down_gradient, True, S)
        x[i] = centre[i]
        curvature = -(up_gradient[i] - down_gradient[i]) / (2.0 * delta)
        if math.isfinite(curvature) and curvature > 0.0:
            out[i] = min(max(1.0 / curvature, 1e-6), 1e2)
    return out


@kernel
def initial_step(x: np.ndarray, g: np.ndarray, log_p: float, inverse_mass: np.ndarray, S: Structure,
                 rng: np.random.Generator) -> float:
    """Stan's heuristic first step size: from 1, doubled or halved until one leapfrog step's
    acceptance crosses 0.8."""
    n = x.shape[0]
    step = 1.0
    direction = 0
    xx, gg, p = np.empty(n), np.empty(n), np.empty(n)
    for _ in range(100):
        xx[:] = x
        gg[:] = g
        for i in range(n):
            p[i] = rng.standard_normal() / math.sqrt(inverse_mass[i])
        energy0 = -log_p + 0.5 * np.sum(p * p * inverse_mass)
        new_log_p = leapfrog(xx, p, gg, step, inverse_mass, S)
        energy = -new_log_p + 0.5 * np.sum(p * p * inverse_mass)
        delta = energy0 - energy if math.isfinite(energy) else -np.inf
        if direction == 0:
            direction = 1 if delta > math.log(0.8) else -1
        if direction == 1 and not delta > math.log(0.8):
            break
        if direction == -1 and not delta < math.log(0.8):
            break
        step = step * 2.0 if direction == 1 else step / 2.0
        if step > 1e7 or step < 1e-10:
            break
    return step


@kernel
def run_block(first: int, last: int, tune: int, x: np.ndarray, g: np.ndarray, log_p: np.ndarray, inverse_mass: np.ndarray,
              state: np.ndarray, window_first: int, window_ends: np.ndarray, count: np.ndarray, mean: np.ndarray,
              m2: np.ndarray, target_accept: float, S: Structure, work: Scratch, members: np.ndarray, starts: np.ndarray,
              proposals: int, draws: np.ndarray, precisions: np.ndarray, stats: np.ndarray, rng: np.random.Generator) -> None:
    """Iterations [first, last) of a chain; the first `tune` of the chain tune and are not kept."""
    step_stats = np.zeros(N_STATS)
    for it in range(first, last):
        log_p[0] = transition(x, g, log_p[0], state[adapt.STEP], inverse_mass, S, work, step_stats, rng)
        accepted = 0
        if starts.shape[0] > 1:
            log_p[0], accepted = jump(x, log_p[0], S, members, starts, proposals, rng)
        swapped = 0
        if S.x_path > S.x_step:
            log_p[0], swapped = swap_steps(x, log_p[0], S, SWAPS, rng)
        if accepted or swapped:
            log_p[0] = log_density(x, g, True, S)  # the next transition starts from x's gradient
        step_used = state[adapt.STEP]
        if it < tune:
            adapt.learn_step(state, step_stats[SUM_ACCEPT], target_accept)
            if window_first <= it:
                for end in window_ends:
                    if it < end:
                        adapt.accumulate(x, count, mean, m2)
                        break
                for end in window_ends:
                    if it + 1 == end:
                        adapt.window_metric(count, mean, m2, inverse_mass)
                        adapt.restart(state, initial_step(x, g, log_p[0], inverse_mass, S, rng))
            if it + 1 == tune:
                adapt.settle_step(state)
            continue
        d = it - tune
        constrained(x, S, draws[d])
        steps = S.x_path - S.x_step
        precisions[d, :steps] = x[S.x_step:S.x_path]
        precisions[d, steps:] = x[S.x_reading:S.x_house]
        row = stats[d]
        row[0] = step_stats[N_STEPS]
        row[1] = step_stats[DIVERGENT]
        row[2] = step_stats[SUM_ACCEPT]
        row[3] = step_stats[MAX_ERROR]
        row[4] = step_stats[DEPTH]
        row[5] = step_stats[ENERGY]
        row[6] = step_stats[ENERGY_ERROR]
        row[7] = step_used
        row[8] = log_p[0]
        row[9] = accepted
        row[10] = swapped


def run_chains(density: Density, groups: Groups, *, draws: int, tune: int, chains: int, seed: int, target_accept: float,
               threads: int, progress: Callable[[int, int], None] | None = None, proposals: int = PROPOSALS) -> list[ChainResult]:
    """Every chain's draws, `threads` chains at a time. `progress(done, total)` is called from
    the calling thread as iterations complete."""
    S = density.structure
    layout = density.layout
    with phase("sampler: kernels (load or compile)"):
        log_density(density.centre.copy(), np.empty_like(density.centre), True, S)
    with phase("sampler: starts and curvatures"):
        inverse_mass0 = initial_inverse_mass(density)
        chain_starts = starts(density, chains, seed)
    window_first, window_ends = adapt.windows(tune)
    n_out = density.stored_size
    n_precisions = (layout.step_precisions.stop - layout.step_precisions.start
                    + layout.reading_precisions.stop - layout.reading_precisions.start)
    done = np.zeros(chains, dtype=np.int64)
    stop = threading.Event()

    def chain(c: int, iterations: int = tune + draws) -> ChainResult:
        started = time.perf_counter()
        rng = np.random.default_rng([seed, 100, c])
        x = chain_starts[c].copy()
        g = np.empty_like(x)
        log_p = np.array([log_density(x, g, True, S)])
        inverse_mass = inverse_mass0.copy()
        state = adapt.new_state(initial_step(x, g, log_p[0], inverse_mass, S, rng))
        count, mean, m2 = np.zeros(1), np.zeros(x.size), np.zeros(x.size)
        out = ChainResult(np.empty((draws, n_out)), np.empty((draws, n_precisions)), np.zeros((draws, N_RECORDED)))
        work = scratch(x.size)
        for first in range(0, max(iterations, 1), BLOCK):
            if stop.is_set():
                break
            last = min(first + BLOCK, iterations)
            run_block(first, last, tune, x, g, log_p, inverse_mass, state, window_first, window_ends, count, mean, m2,
                      target_accept, S, work, groups.members, groups.starts, proposals, out.draws, out.precisions, out.stats,
                      rng)
            done[c] = last
            if first < tune <= last:
                out.seconds[0] = time.perf_counter() - started
        out.seconds[1] = time.perf_counter() - started - out.seconds[0]
        return out

    with phase("sampler: kernels (load or compile)"):
        chain(0, iterations=0)  # no iteration: loads the chain's kernels, so the timed chains do not
    total = chains * (tune + draws)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(threads, chains))) as pool:
        futures = [pool.submit(chain, c) for c in range(chains)]
        try:
            while True:
                finished, pending = wait(futures, timeout=0.2, return_when=FIRST_EXCEPTION)
                if progress is not None:
                    progress(int(done.sum()), total)
                if not pending or any(f.exception() for f in finished):
                    break
        except BaseException:
            stop.set()
            raise
        results = [f.result() for f in futures]
    # The chains' wall time, split between tuning and draws in the share of chain time each took.
    wall = time.perf_counter() - started
    tuning = sum(r.seconds[0] for r in results) / max(sum(sum(r.seconds) for r in results), 1e-9)
    record("sampler: tuning", wall * tuning)
    record("sampler: draws (with the jumps)", wall * (1.0 - tuning))
    return results
