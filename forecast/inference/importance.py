"""Importance reweighting of posterior draws by the likelihood of hypothetical or new events.

Adding an event changes the posterior from p(θ | D) to p(θ | D, y) ∝ p(θ | D) p(y | θ), so the
existing draws, weighted by p(y | θ), approximate the new posterior without a refit. The raw
weights can be dominated by a few draws; Pareto-smoothed importance sampling (Vehtari et al.
2024) stabilises them, and its k-hat says whether to trust the result: k below
min(1 - 1/log10(S), 0.7) for S draws is reliable (the sample-size rule of ArviZ and loo: 0.7 from
about 2,200 draws, 0.67 at 1,000, 0.57 at 200); above it the new event is too surprising for the
current draws and a refit is needed.

Used for the signposts, for attributing a change to new events, and for incremental updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.inference.psis import psis_log_weights

PARETO_K_MAX = 0.7  # Vehtari et al. (2024): the limit for large samples
MIN_DRAWS = 100  # below this the tail fit has fewer than ~10 draws to work with


def pareto_k_limit(draws: int) -> float:
    """The largest reliable Pareto k for `draws` draws: min(1 - 1/log10(S), 0.7), as ArviZ and loo
    (Vehtari et al. 2024, section 3.2.4). Fewer draws estimate the tail worse, so the limit falls."""
    if draws <= 10:
        return 0.0
    return float(min(1 - 1 / np.log10(draws), PARETO_K_MAX))


@dataclass(frozen=True)
class ImportanceWeights:
    weights: np.ndarray  # normalised to sum to 1
    pareto_k: float
    ess: float  # effective sample size of the weights, 1 / sum(w^2)

    @property
    def limit(self) -> float:
        """The Pareto k below which these weights are reliable, for their number of draws."""
        return pareto_k_limit(self.weights.size)

    @property
    def reliable(self) -> bool:
        return bool(self.pareto_k < self.limit)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """Weighted mean over the first axis (the draws)."""
        return np.tensordot(self.weights, values, axes=(0, 0))


def importance_weights(log_ratios: np.ndarray) -> ImportanceWeights:
    """PSIS weights from per-draw log likelihood ratios (new over old)."""
    log_ratios = np.asarray(log_ratios, dtype=float)
    if log_ratios.size < MIN_DRAWS:
        # Too few draws to fit the Pareto tail (a run with a handful of draws): plain weights,
        # marked unreliable, rather than no answer.
        weights = np.exp(log_ratios - log_ratios.max())
        weights /= weights.sum()
        return ImportanceWeights(weights, np.inf, float(1.0 / np.sum(weights**2)))
    if np.allclose(log_ratios, log_ratios[0]):
        # No information in the new event (constant likelihood): every draw keeps its weight.
        weights = np.full(log_ratios.shape, 1.0 / log_ratios.size)
        return ImportanceWeights(weights, 0.0, float(log_ratios.size))
    smoothed, khat = psis_log_weights(log_ratios)
    weights = np.exp(smoothed - smoothed.max())
    weights /= weights.sum()
    # A NaN k-hat means the tail could not be fitted because almost no draw carries weight:
    # as unreliable as it gets.
    khat = float(khat) if np.isfinite(khat) else np.inf
    return ImportanceWeights(weights, khat, float(1.0 / np.sum(weights**2)))


