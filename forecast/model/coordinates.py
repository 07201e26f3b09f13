"""The sampler's coordinates, chosen from the log and the priors alone: whether each reading
has a precision of its own, and the Gaussian stand-in of an initial level's prior that the
Kalman-guided paths start from (docs/MODEL.md, Sampling). Both the PyMC graph (graph.py) and the
compiled density (density.py) read them; this module imports neither PyMC nor numba.
"""

from __future__ import annotations

from scipy.special import ndtri, stdtrit

from forecast.io.priors import Param
from forecast.model.dataset import ModelData

# At most this many readings per factor-week on average make a log sparse (`sparse_readings`).
SPARSE_READINGS_PER_FACTOR_WEEK = 1.0


def sparse_readings(data: ModelData) -> bool:
    """Whether the fit gives each reading a precision of its own: on sparse logs, where one or
    two readings decide a level. There the stand-in's normal for a Student-t reading (its Fisher
    information) is far from the posterior whenever a reading may be an outlier, the sampler's
    coordinates are then coupled to the volatilities, and a sharp move that came and went (two
    readings of a one-week aid pause) leaves a volatility that hardly mixes. On dense logs every
    level is pinned by many readings, the stand-in is close, and a coordinate per reading would
    only slow the sampler (benchmarks/update.py, the 5,000-reading case)."""
    return len(data.signal_value) <= SPARSE_READINGS_PER_FACTOR_WEEK * len(data.factors) * data.n_weeks


# Initial-level priors on the whole real line, which the Kalman-guided paths can serve.
UNBOUNDED = {"Normal", "StudentT"}


def gaussian_stand_in(param: Param) -> tuple[float, float]:
    """(mean, variance) of a normal standing in for an initial-level prior: its median, and the
    variance of the normal with the same interquartile range (exact for a Normal prior); a
    fixed value has variance 0."""
    if param.fixed:
        return float(param.value), 0.0
    k = param.kwargs
    if param.dist == "Normal":
        return float(k["mu"]), float(k["sigma"]) ** 2
    # StudentT: quartiles at mu -/+ sigma * t_nu(0.75), a normal's at -/+ 0.6745 sigma.
    return float(k["mu"]), float(k["sigma"] * stdtrit(k["nu"], 0.75) / ndtri(0.75)) ** 2
