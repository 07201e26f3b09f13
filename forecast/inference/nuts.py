"""The No-U-Turn Sampler (Hoffman and Gelman 2014; Betancourt 2017) in numba, as Stan runs it:
multinomial sampling of the trajectory's states, biased towards the newer half at the top level
and uniform within each subtree, the generalised no-U-turn criterion on the sharp momenta, and
Stan's additional checks between each merged pair of subtrees. Diagonal Euclidean metric.

Why not PyMC's NUTS: PyMC's is written in Python around a compiled density, and on this model
its own work per leapfrog step costs more than the density (`benchmarks/ess.py`); and a step of
Metropolis-Hastings jumps between explanations (precision_jumps.py) has to run inside the same
compiled loop. This module is the algorithm and nothing else: the density is
`model/density.log_density`, the adaptation is `adaptation.py`, a chain is `chains.py`.

State vectors are updated in place; each depth of the tree has its own scratch vectors
(`Scratch`), allocated once per chain, so a transition allocates nothing.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from forecast.kernel_cache import kernel
from forecast.model.density import Structure, log_density

MAX_DEPTH = 10  # 2^10 leapfrog steps at most: PyMC's and Stan's default
MAX_ENERGY_ERROR = 1000.0  # an energy error beyond this is a divergence (PyMC and Stan)

# Slots of the per-transition statistics vector.
N_STEPS, DIVERGENT, SUM_ACCEPT, MAX_ERROR, DEPTH, ENERGY, ENERGY_ERROR, N_STATS = range(8)


class Scratch(NamedTuple):
    """Preallocated vectors of one chain's trees: eight per depth, and the trajectory's ends."""

    depth: np.ndarray  # (MAX_DEPTH, 8, D): p_init_end, p_sharp_init_end, rho_init, x_final, g_final, p_final_beg,
    #                    p_sharp_final_beg, rho_final
    depth_scalars: np.ndarray  # (MAX_DEPTH, 2): log density and energy of each depth's final proposal
    ends: np.ndarray  # (20, D): the trajectory's ends, the proposal and the sample (see `transition`)
    scalars: np.ndarray  # (4,): proposal's log density and energy, sample's log density and energy


def scratch(n: int) -> Scratch:
    return Scratch(np.zeros((MAX_DEPTH, 8, n)), np.zeros((MAX_DEPTH, 2)), np.zeros((20, n)), np.zeros(4))


@kernel
def kinetic(p: np.ndarray, inverse_mass: np.ndarray) -> float:
    total = 0.0
    for i in range(p.shape[0]):
        total += p[i] * p[i] * inverse_mass[i]
    return 0.5 * total


@kernel
def leapfrog(x: np.ndarray, p: np.ndarray, g: np.ndarray, step: float, inverse_mass: np.ndarray, S: Structure) -> float:
    """One leapfrog step in place; returns the new log density (its gradient is in g)."""
    n = x.shape[0]
    for i in range(n):
        p[i] += 0.5 * step * g[i]
    for i in range(n):
        x[i] += step * inverse_mass[i] * p[i]
    value = log_density(x, g, True, S)
    if not math.isfinite(value):
        return -np.inf
    for i in range(n):
        p[i] += 0.5 * step * g[i]
    return value


@kernel
def _no_u_turn(p_sharp_minus: np.ndarray, p_sharp_plus: np.ndarray, rho: np.ndarray) -> bool:
    """The generalised criterion: the trajectory goes on while both ends still move along rho."""
    plus = 0.0
    minus = 0.0
    for i in range(rho.shape[0]):
        plus += p_sharp_plus[i] * rho[i]
        minus += p_sharp_minus[i] * rho[i]
    return plus > 0.0 and minus > 0.0


@kernel
def _build_tree(depth: int, x: np.ndarray, p: np.ndarray, g: np.ndarray, log_p: np.ndarray,
                proposal_x: np.ndarray, proposal_g: np.ndarray, proposal: np.ndarray,
                p_sharp_begin: np.ndarray, p_sharp_end: np.ndarray, rho: np.ndarray, p_begin: np.ndarray, p_end: np.ndarray,
                energy0: float, step: float, inverse_mass: np.ndarray, S: Structure, work: Scratch, stats: np.ndarray,
                rng: np.random.Generator) -> tuple[bool, float]:
    """Stan's `build_tree`: 2^depth leapfrog steps from the state (x, p, g, log_p[0]) in the
    direction of `step`'s sign. Returns (valid, log of the subtree's summed weights); writes the
    subtree's multinomial proposal (proposal_x, proposal_g, proposal = [log density, energy]),
    its end momenta and sharp momenta, and adds its momenta to rho."""
    n = x.shape[0]
    if depth == 0:
        log_p[0] = leapfrog(x, p, g, step, inverse_mass, S)
        stats[N_STEPS] += 1.0
        energy = -log_p[0] + kinetic(p, inverse_mass) if math.isfinite(log_p[0]) else np.inf
        error = energy - energy0
        if abs(error) > abs(stats[MAX_ERROR]) or not math.isfinite(error):
            stats[MAX_ERROR] = error
        if not error <= MAX_ENERGY_ERROR:
            stats[DIVERGENT] = 1.0
        stats[SUM_ACCEPT] += 1.0 if error < 0.0 else (math.exp(-error) if math.isfinite(error) else 0.0)
        proposal_x[:] = x
        proposal_g[:] = g
        proposal[0] = log_p[0]
        proposal[1] = energy
        for i in range(n):
            p_sharp_begin[i] = inverse_mass[i] * p[i]
            p_sharp_end[i] = p_sharp_begin[i]
            rho[i] += p[i]
            p_begin[i] = p[i]
            p_end[i] = p[i]
        return stats[DIVERGENT] == 0.0, -error if math.isfinite(error) else -np.inf

    level = work.depth[depth - 1]
    p_init_end, p_sharp_init_end, rho_init = level[0], level[1], level[2]
    x_final, g_final, p_final_begin, p_sharp_final_begin, rho_final = level[3], level[4], level[5], level[6], level[7]
    final = work.depth_scalars[depth - 1]
    rho_init[:] = 0.0
    valid, weight_init = _build_tree(depth - 1, x, p, g, log_p, proposal_x, proposal_g, proposal, p_sharp_begin,
                                     p_sharp_init_end, rho_init, p_begin, p_init_end, energy0, step, inverse_mass, S, work,
                                     stats, rng)
    if not valid:
        return False, weight_init
    rho_final[:] = 0.0
    valid, weight_final = _build_tree(depth - 1, x, p, g, log_p, x_final, g_final, final, p_sharp_final_begin, p_sharp_end,
                                      rho_final, p_final_begin, p_end, energy0, step, inverse_mass, S, work, stats, rng)
    if not valid:
        return False, weight_final
    weight = np.logaddexp(weight_init, weight_final)
    # Within a subtree the proposal is drawn in proportion to the states' weights.
    if rng.random() < math.exp(weight_final - weight):
        proposal_x[:] = x_final
        proposal_g[:] = g_final
        proposal[0] = final[0]
        proposal[1] = final[1]
    for i in range(n):
        rho[i] += rho_init[i] + rho_final[i]
    # Around the merged subtree, and across the seam between its halves.
    persist = _no_u_turn(p_sharp_begin, p_sharp_end, rho_init + rho_final)
    persist = persist and _no_u_turn(p_sharp_begin, p_sharp_final_begin, rho_init + p_final_begin)
    persist = persist and _no_u_turn(p_sharp_init_end, p_sharp_end, rho_final + p_init_end)
    return persist, weight


# Rows of Scratch.ends.
(X_FWD, P_FWD, G_FWD, X_BCK, P_BCK, G_BCK, PROPOSAL_X, PROPOSAL_G, SAMPLE_X, SAMPLE_G, P_FWD_FWD, P_SHARP_FWD_FWD,
 P_FWD_BCK, P_SHARP_FWD_BCK, P_BCK_FWD, P_SHARP_BCK_FWD, P_BCK_BCK, P_SHARP_BCK_BCK, RHO, RHO_NEW) = range(20)


@kernel
def transition(x: np.ndarray, g: np.ndarray, log_p: float, step: float, inverse_mass: np.ndarray, S: Structure,
               work: Scratch, stats: np.ndarray, rng: np.random.Generator) -> float:
    """One NUTS iteration from (x, g, log_p), in place: x and g become the sample's. Returns the
    sample's log density; `stats` gets the number of steps, divergence, mean acceptance, the
    largest energy error, the depth, the energy and the sample's energy error."""
    n = x.shape[0]
    stats[:] = 0.0
    e = work.ends
    p = np.empty(n)
    for i in range(n):
        p[i] = rng.standard_normal() / math.sqrt(inverse_mass[i])
    energy0 = -log_p + kinetic(p, inverse_mass)
    for row in (X_FWD, X_BCK, SAMPLE_X):
        e[row][:] = x
    for row in (G_FWD, G_BCK, SAMPLE_G):
        e[row][:] = g
    for row in (P_FWD, P_BCK, P_FWD_FWD, P_FWD_BCK, P_BCK_FWD, P_BCK_BCK, RHO):
        e[row][:] = p
    for row in (P_SHARP_FWD_FWD, P_SHARP_FWD_BCK, P_SHARP_BCK_FWD, P_SHARP_BCK_BCK):
        for i in range(n):
            e[row, i] = inverse_mass[i] * p[i]
    log_p_fwd = np.array([log_p])
    log_p_bck = np.array([log_p])
    sample_log_p, sample_energy = log_p, energy0
    log_weight = 0.0
    rho_bck_part = np.empty(n)
    rho_fwd_part = np.empty(n)
    depth = 0
    while depth < MAX_DEPTH:
        e[RHO_NEW][:] = 0.0
        forward = rng.random() > 0.5
        if forward:
            # The trajectory so far becomes the backward part; its forward end is the old one's.
            e[P_BCK_FWD][:] = e[P_FWD_FWD]
            e[P_SHARP_BCK_FWD][:] = e[P_SHARP_FWD_FWD]
            valid, subtree_weight = _build_tree(depth, e[X_FWD], e[P_FWD], e[G_FWD], log_p_fwd, e[PROPOSAL_X], e[PROPOSAL_G],
                                                work.scalars, e[P_SHARP_FWD_BCK], e[P_SHARP_FWD_FWD], e[RHO_NEW],
                                                e[P_FWD_BCK], e[P_FWD_FWD], energy0, step, inverse_mass, S, work, stats, rng)
        else:
            # The trajectory so far becomes the forward part; its backward end is the old one's.
            e[P_FWD_BCK][:] = e[P_BCK_BCK]
            e[P_SHARP_FWD_BCK][:] = e[P_SHARP_BCK_BCK]
            valid, subtree_weight = _build_tree(depth, e[X_BCK], e[P_BCK], e[G_BCK], log_p_bck, e[PROPOSAL_X], e[PROPOSAL_G],
                                                work.scalars, e[P_SHARP_BCK_FWD], e[P_SHARP_BCK_BCK], e[RHO_NEW],
                                                e[P_BCK_FWD], e[P_BCK_BCK], energy0, -step, inverse_mass, S, work, stats, rng)
        if not valid:
            break
        depth += 1
        # The new subtree's proposal replaces the sample with probability min(1, its weight / the old trajectory's).
        if subtree_weight > log_weight or rng.random() < math.exp(subtree_weight - log_weight):
            e[SAMPLE_X][:] = e[PROPOSAL_X]
            e[SAMPLE_G][:] = e[PROPOSAL_G]
            sample_log_p, sample_energy = work.scalars[0], work.scalars[1]
        log_weight = np.logaddexp(log_weight, subtree_weight)
        if forward:
            rho_bck_part[:] = e[RHO]
            rho_fwd_part[:] = e[RHO_NEW]
        else:
            rho_fwd_part[:] = e[RHO]
            rho_bck_part[:] = e[RHO_NEW]
        for i in range(n):
            e[RHO, i] += e[RHO_NEW, i]
        # Around the whole trajectory, and across the seam between the old part and the new:
        # each part with the other's state next to the seam.
        persist = (_no_u_turn(e[P_SHARP_BCK_BCK], e[P_SHARP_FWD_FWD], e[RHO])
                   and _no_u_turn(e[P_SHARP_BCK_BCK], e[P_SHARP_FWD_BCK], rho_bck_part + e[P_FWD_BCK])
                   and _no_u_turn(e[P_SHARP_BCK_FWD], e[P_SHARP_FWD_FWD], rho_fwd_part + e[P_BCK_FWD]))
        if not persist:
            break
    x[:] = e[SAMPLE_X]
    g[:] = e[SAMPLE_G]
    stats[DEPTH] = depth
    stats[ENERGY] = sample_energy
    stats[ENERGY_ERROR] = sample_energy - energy0
    stats[SUM_ACCEPT] /= max(stats[N_STEPS], 1.0)
    return sample_log_p
