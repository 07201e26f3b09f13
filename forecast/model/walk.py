"""The obstacles' weekly walk: mostly small steps, now and then a jump (docs/MODEL.md).

    step[k, w] = volatility_k * z[k, w] / sqrt(tau[k, w]),  z ~ Normal(0, 1),  tau ~ Gamma(nu_k / 2, nu_k / 2)

so each step is Student-t with `nu_k` degrees of freedom and scale `volatility_k`: most weeks
move by about the volatility, and a few by many times it. A Gaussian walk cannot move far in one
week, so a reading far from a settled level could only be explained as a bad reading, however
well graded: a confirmed report that Moscow drops its territorial claim would move the obstacle
a few percent of the way. With heavy-tailed steps the model weighs two explanations of a distant
reading: the obstacle jumped, or the reading is off. A reading's Student-t scale grows with its
grade, so the chance that it lands that far off by error is tiny for an A1 report and large for
an E5 rumour: the first moves the obstacle most of the way, the second hardly at all.

The sampler keeps each week's precision `tau` as a coordinate of its own: given it, the walk is
Gaussian, the Kalman-guided transform (kalman_path.py) is the walk's own, and a jump is a week
whose precision is small rather than a standard normal many units out. A factor without
`jumps` in the priors walks with Gaussian steps, exactly as before (nu = infinity).
"""

from __future__ import annotations

import numpy as np


def has_jumps(step_nu: np.ndarray | None) -> bool:
    return step_nu is not None and bool(np.any(np.isfinite(step_nu)))


def draw_step_precision(step_nu: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """tau (*step_nu.shape, *shape) ~ Gamma(nu / 2, rate nu / 2); 1 where nu is infinite."""
    nu = np.broadcast_to(step_nu.reshape(*step_nu.shape, *(1,) * len(shape)), (*step_nu.shape, *shape))
    finite = np.isfinite(nu)
    half = np.where(finite, nu, 2.0) / 2
    return np.where(finite, rng.gamma(half, 1 / half), 1.0)


def draw_steps(volatility: np.ndarray, step_nu: np.ndarray | None, weeks: int, rng: np.random.Generator) -> np.ndarray:
    """Steps (..., weeks) of the walk for parameters shaped (...). The normal part uses the
    stream exactly as a Gaussian walk does, so a run without jumps draws what it always did."""
    steps = volatility[..., None] * rng.standard_normal((*volatility.shape, weeks))
    if not has_jumps(step_nu):
        return steps
    return steps / np.sqrt(draw_step_precision(np.broadcast_to(step_nu, volatility.shape), (weeks,), rng))


def gaussian_step_logpdf(step: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """log Normal(step | 0, variance): the walk's density given each week's precision."""
    return -0.5 * (np.log(2 * np.pi * variance) + step * step / variance)
