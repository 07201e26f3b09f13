"""Groups of readings that disagree: where the posterior may hold two explanations at once.

When readings of one obstacle close in time disagree by more than the walk and their noise
allow, the posterior may keep both explanations: the level moved and the other readings are
off, or the level held and these readings are off (on the record, the aid obstacle around the
March 2025 pause). The sampler jumps between such explanations group by group
(inference/precision_jumps.py); this module finds the groups, from the log and the priors alone.
"""

from __future__ import annotations

import numpy as np

from forecast.io.priors import Param, Priors
from forecast.model.coordinates import sparse_readings
from forecast.model.dataset import ModelData
from forecast.model.prior_density import support_median

# Two readings disagree when they differ by more than this many standard deviations of their
# difference at the priors' medians: both readings' noise and the walk between their weeks.
TENSION = 4.0
# Readings further apart than this are not compared: a level may have moved for real.
NEAR_WEEKS = 8
# A group is a reading that disagrees and every reading of its obstacle within this many weeks
# of it: the readings of one week (two reports of one piece of news), or of a fortnight (the
# news and its reversal).
WINDOW_WEEKS = (0, 1)
# The largest group: a proposal that redraws more precisions at once is almost never accepted.
LARGEST_GROUP = 8


def contested_groups(data: ModelData, priors: Priors) -> list[np.ndarray]:
    """The groups of readings (indices into the log's signals), each once, sorted. No groups on a
    dense log: its fit has no precision per reading to jump in (model/graph.py)."""
    if not len(data.signal_value) or not sparse_readings(data):
        return []
    obs = priors.observation
    reliability = np.array([_median(p) for p in obs.reliability.values()])
    credibility = np.array([_median(p) for p in obs.credibility.values()])
    scale = _median(obs.noise) * reliability[data.signal_reliability] * credibility[data.signal_credibility]
    groups = set()
    for k, key in enumerate(data.factors):  # readings are compared within their obstacle only
        mine = np.flatnonzero(data.signal_factor == k)
        week, value, sd = data.signal_week[mine], data.signal_value[mine], scale[mine]
        weeks_apart = np.abs(week[:, None] - week[None, :])
        spread = np.sqrt(sd[:, None] ** 2 + sd[None, :] ** 2 + _median(priors.factors[key].volatility) ** 2 * weeks_apart)
        disagree = ((weeks_apart <= NEAR_WEEKS) & (np.abs(value[:, None] - value[None, :]) > TENSION * spread)).any(axis=1)
        groups.update(tuple(mine[np.abs(week - week[i]) <= width]) for i in np.flatnonzero(disagree) for width in WINDOW_WEEKS)
    return [np.array(g) for g in sorted(groups) if len(g) <= LARGEST_GROUP]


def _median(param: Param) -> float:
    return float(param.value) if param.fixed else support_median(param)
