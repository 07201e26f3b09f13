"""Metropolis-Hastings moves between the explanations of readings that disagree (docs/MODEL.md,
"Jumps between explanations").

On a sparse log each reading has a precision of its own (model/graph.py), and where readings of
one obstacle close in time disagree the posterior can hold two explanations: the level moved
and the other readings are off, or it held and these are off (the aid obstacle around the March
2025 pause). NUTS crosses between them only through the valley where every reading is half
believed, so the chains cross rarely and R-hat misses its limit although each mode is sampled
well.

This step, run after NUTS every iteration, jumps across the valley. It takes a group of
disagreeing readings (model/reading_groups.py) and moves each one's log precision to the other
side of `SIDE`: a believed reading to a draw from the doubted side's normal and the other way
round, holding the sampler's path coordinates. The paths are the Kalman-guided transform of
those coordinates (model/kalman_path.py), so they follow the new precisions, dipping through
the readings now believed and leaving those now doubted. Each proposal is accepted with the
Metropolis-Hastings ratio of the model's own density in the sampler's coordinates, times the
proposal's way back over its way there, so the posterior is exactly the model's.

The groups depend on the log and the priors, never on the state, and a group is drawn at
random, so choosing it is as likely forward as back and only the proposal's densities enter the
ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from forecast.kernel_cache import kernel
from forecast.model.density import Structure, log_density

# A reading is "believed" when its log precision is above this, "doubted" below it. A proposal
# moves every reading of the group to the other side's normal: a believed reading's precision
# is near its prior's (log lambda near 0), a doubted one's several times smaller. A draw may
# land on the side it left; the ratio counts the way back all the same.
SIDE = -1.2
BELIEVED = (0.0, 0.6)
DOUBTED = (-2.6, 1.0)
# Proposals per iteration. Each costs one evaluation of the log density without its gradient,
# less than a leapfrog step of NUTS (benchmarks/robustness.py prints the fits' times).
PROPOSALS = 32


class Groups:
    """The groups of readings a proposal may flip (indices into the log's signals,
    model/reading_groups.py), flattened for the compiled step: they depend on the log and the
    priors, never on the state, so the choice of a group is the same forward and back."""

    def __init__(self, groups: Sequence[np.ndarray]) -> None:
        self.members = np.concatenate([np.asarray(g, dtype=np.int64) for g in groups]) if groups else np.zeros(0, np.int64)
        self.starts = np.cumsum([0, *(len(g) for g in groups)]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.starts) - 1


@kernel
def jump(x: np.ndarray, log_p: float, S: Structure, members: np.ndarray, starts: np.ndarray, proposals: int,
         rng: np.random.Generator) -> tuple[float, int]:
    """`proposals` Metropolis-Hastings moves of the readings' log precisions in x (in place):
    each flips one group, drawn at random, and is accepted with the model's density ratio times
    the proposal's way back over its way there. Returns (log density at x, moves accepted)."""
    n_groups = starts.shape[0] - 1
    accepted = 0
    scratch = np.empty(0)
    old = np.empty(max(1, np.max(starts[1:] - starts[:-1])))  # the largest group's old values
    for _ in range(proposals):
        g = rng.integers(0, n_groups)
        first, last = starts[g], starts[g + 1]
        log_ratio = 0.0
        for m in range(first, last):
            i = S.x_reading + members[m]
            old[m - first] = x[i]
            new, step_ratio = _flip(x[i], rng.standard_normal())
            x[i] = new
            log_ratio += step_ratio
        proposed = log_density(x, scratch, False, S)
        if math.log(rng.random()) < proposed - log_p + log_ratio:
            log_p = proposed
            accepted += 1
        else:
            for m in range(first, last):
                x[S.x_reading + members[m]] = old[m - first]
    return log_p, accepted


@kernel
def _flip(current: float, z: float) -> tuple[float, float]:
    """A reading's new log precision, drawn (from the standard normal z) from the normal of the
    side it is not on; and log q(back) - log q(forward), its part of the acceptance ratio (the
    way back draws from the normal of the side the new value is not on)."""
    mean, sd = (DOUBTED[0], DOUBTED[1]) if current > SIDE else (BELIEVED[0], BELIEVED[1])
    new = mean + sd * z
    back_mean, back_sd = (DOUBTED[0], DOUBTED[1]) if new > SIDE else (BELIEVED[0], BELIEVED[1])
    back = (current - back_mean) / back_sd
    return new, (-0.5 * back * back - math.log(back_sd)) - (-0.5 * z * z - math.log(sd))


def flipped(log_precision: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Every reading of a group flipped at once, as `jump` flips them (for tests and readers):
    the new log precisions and the proposal's log ratio."""
    new = np.empty_like(log_precision)
    total = 0.0
    for i, value in enumerate(log_precision):
        new[i], ratio = _flip(float(value), float(rng.standard_normal()))
        total += ratio
    return new, total


# Where a Student-t walk jumped between two readings weeks apart, any of those weeks explains the
# readings: the posterior holds one mode per week, and NUTS moves between them only through
# states where the jump is split over several weeks. This move swaps two weeks' step precisions
# instead, holding the sampler's path coordinates, so the jump moves to another week at once.
SWAP_REACH = 4  # weeks: the partner of a swap lies within this many weeks of the first
SWAPS = 16  # proposals an iteration, on logs with Student-t steps


@kernel
def swap_steps(x: np.ndarray, log_p: float, S: Structure, proposals: int, rng: np.random.Generator) -> tuple[float, int]:
    """`proposals` Metropolis-Hastings swaps of two weeks' log step precisions of one heavy factor
    (in place). The first week is drawn in proportion to 1 / tau (the jumps most likely), the
    second uniformly within SWAP_REACH weeks of it. A swap only permutes the precisions, so the sum
    of 1 / tau is the same after it, and the chance of proposing a swap is the same forward and
    back (either week drawn first): the acceptance is the model's density ratio alone. Returns
    (log density at x, swaps accepted)."""
    n_steps = S.x_path - S.x_step
    if n_steps == 0:
        return log_p, 0
    weeks = n_steps // max(1, np.sum(S.heavy >= 0))  # each heavy factor's steps: weeks - 1
    weight = np.exp(-x[S.x_step:S.x_path])
    cumulative = np.cumsum(weight)
    accepted = 0
    scratch = np.empty(0)
    for _ in range(proposals):
        first = np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")
        first = min(first, n_steps - 1)
        offset = rng.integers(1, SWAP_REACH + 1) * (1 if rng.random() < 0.5 else -1)
        week = first % weeks
        if not 0 <= week + offset < weeks:
            continue  # outside the factor's weeks: no move, as a rejected proposal
        i, j = S.x_step + first, S.x_step + first + offset
        x[i], x[j] = x[j], x[i]
        proposed = log_density(x, scratch, False, S)
        if math.log(rng.random()) < proposed - log_p:
            log_p = proposed
            accepted += 1
            weight[first], weight[first + offset] = weight[first + offset], weight[first]
            cumulative = np.cumsum(weight)
        else:
            x[i], x[j] = x[j], x[i]
    return log_p, accepted
