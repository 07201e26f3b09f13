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

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pymc.blocking import DictToArrayBijection, RaveledVars
from pymc.step_methods.compound import BlockedStep

if TYPE_CHECKING:
    import pymc as pm
    from pymc.blocking import PointType, StatsType
    from pymc.model.core import ValueGradFunction

# The precisions' coordinate (log lambda; model/graph.py `_reading_precision`).
PRECISION_COORDINATE = "reading_precision_log__"
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


class ReadingPrecisionJumps(BlockedStep):
    """Group Metropolis-Hastings moves on the readings' precisions (module docstring).

    `groups`: the groups of readings a proposal may flip (indices into the log's signals,
    model/reading_groups.py); they depend on the log and the priors, never on the state, so the
    choice of a group is the same forward and back.
    """

    name = "reading_precision_jumps"
    stats_dtypes_shapes: ClassVar[dict] = {"precision_jumps_accepted": (np.int64, [])}

    def __init__(self, vars: list, *, logp: ValueGradFunction, model: pm.Model, groups: list[np.ndarray],
                 rng: np.random.Generator | None = None) -> None:
        self.vars = vars
        self._names = [v.name for v in model.value_vars]
        self._logp = logp
        self._proposals = PROPOSALS
        self.rng = np.random.default_rng(rng)
        offset, starts = 0, {}
        for name, _shape, size, _dtype in DictToArrayBijection.map(model.initial_point()).point_map_info:
            starts[name] = offset
            offset += size
        self._groups = [starts[PRECISION_COORDINATE] + g for g in groups]

    def step(self, point: PointType) -> tuple[PointType, StatsType]:
        mapped = DictToArrayBijection.map({name: point[name] for name in self._names})
        x = mapped.data.copy()
        log_density = self._logp(x)[0]
        accepted = 0
        for _ in range(self._proposals):
            index = self._groups[int(self.rng.integers(len(self._groups)))]
            proposal = x.copy()
            proposal[index], log_ratio = _flipped(x[index], self.rng)
            proposed_density = self._logp(proposal)[0]
            if np.log(self.rng.random()) < proposed_density - log_density + log_ratio:
                x, log_density = proposal, proposed_density
                accepted += 1
        return DictToArrayBijection.rmap(RaveledVars(x, mapped.point_map_info), start_point=point), [
            {"precision_jumps_accepted": accepted}]


def _flipped(log_precision: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Each reading's new log precision, drawn from the normal of the side it is not on; and
    log q(back) - log q(forward), the proposal's part of the acceptance ratio (the way back draws
    from the normal of the side the new value is not on)."""
    forward = _OTHER_SIDE[(log_precision > SIDE).astype(int)]
    new = forward[:, 0] + forward[:, 1] * rng.standard_normal(len(log_precision))
    back = _OTHER_SIDE[(new > SIDE).astype(int)]
    return new, float(_log_normal(log_precision, back) - _log_normal(new, forward))


# The proposal's normal for a reading on each side of SIDE: (mean, sd), row 0 for a doubted
# reading (it goes to the believed side's normal), row 1 for a believed one.
_OTHER_SIDE = np.array([BELIEVED, DOUBTED])


def _log_normal(x: np.ndarray, mean_sd: np.ndarray) -> float:
    """The sum of the normal log densities, without the constant (it cancels in the ratio)."""
    z = (x - mean_sd[:, 0]) / mean_sd[:, 1]
    return float(np.sum(-0.5 * z**2 - np.log(mean_sd[:, 1])))
