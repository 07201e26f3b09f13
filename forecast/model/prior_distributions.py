"""Prior entries as scipy distributions, for densities and moments in the brief.

PyMC draws from the priors when it samples; the brief only needs to draw a prior density beside
a posterior and to say how much the data narrowed it, which scipy does without compiling a model.
Each mapping below follows PyMC's parameterisation; a test checks them against PyMC's own draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from forecast.io.priors import Param

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


class FrozenDistribution(Protocol):
    """What the brief uses of a frozen scipy distribution (or of `_HalfT`): density and quantiles."""

    def pdf(self, x: ArrayLike) -> np.ndarray: ...

    def ppf(self, q: ArrayLike) -> np.ndarray: ...


def prior_distribution(param: Param) -> FrozenDistribution | None:
    """A frozen scipy distribution equal to the entry's PyMC distribution (None if fixed)."""
    if param.fixed:
        return None
    from scipy import stats  # here, not at import: half a second that an update without a brief never needs

    k = param.kwargs
    match param.dist:
        case "Normal":
            return stats.norm(k["mu"], k["sigma"])
        case "StudentT":
            return stats.t(k["nu"], k["mu"], k["sigma"])
        case "HalfNormal":
            return stats.halfnorm(0, k["sigma"])
        case "HalfStudentT":
            return _HalfT(k["nu"], k["sigma"])
        case "HalfCauchy":
            return stats.halfcauchy(0, k["beta"])
        case "LogNormal":
            return stats.lognorm(k["sigma"], scale=np.exp(k["mu"]))
        case "Gamma":
            return stats.gamma(k["alpha"], scale=1 / k["beta"])
        case "InverseGamma":
            return stats.invgamma(k["alpha"], scale=k["beta"])
        case "Exponential":
            return stats.expon(scale=1 / k["lam"])
        case "Uniform":
            return stats.uniform(k["lower"], k["upper"] - k["lower"])
        case "TruncatedNormal":
            lower, upper = k.get("lower", -np.inf), k.get("upper", np.inf)
            mu, sigma = k["mu"], k["sigma"]
            return stats.truncnorm((lower - mu) / sigma, (upper - mu) / sigma, mu, sigma)
    raise ValueError(f"no scipy mapping for prior distribution {param.dist}")


class _HalfT:
    """|T(nu, 0, sigma)|: scipy has no half Student-t. Only what the brief uses."""

    def __init__(self, nu: float, sigma: float) -> None:
        from scipy import stats

        self._t = stats.t(nu, 0, sigma)

    def pdf(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.where(x >= 0, 2 * self._t.pdf(x), 0.0)

    def ppf(self, q: ArrayLike) -> np.ndarray:
        return self._t.ppf(0.5 + 0.5 * np.asarray(q))

    def rvs(self, size: int | tuple[int, ...] | None = None, random_state: np.random.Generator | int | None = None) -> np.ndarray | float:
        return np.abs(self._t.rvs(size=size, random_state=random_state))
