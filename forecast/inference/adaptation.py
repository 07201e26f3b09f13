"""Tuning, as Stan tunes NUTS: the step size by dual averaging towards the target acceptance
(Hoffman and Gelman 2014, section 3.2), and the diagonal metric from the draws' variances in
windows that double in length (Stan's "windowed adaptation": a first buffer where only the step
size moves, windows of 25, 50, 100, ... draws, and a last buffer where the step size settles).

The metric starts from the inverse curvature of the log density (chains.py), not from 1, so the
first buffer already moves at the posterior's scales.
"""

from __future__ import annotations

import math

import numpy as np

from forecast.kernel_cache import kernel

# Stan's defaults.
INIT_BUFFER, TERM_BUFFER, BASE_WINDOW = 75, 50, 25
GAMMA, T0, KAPPA = 0.05, 10.0, 0.75
# The adaptation state vector's slots.
STEP, MU, LOG_STEP_BAR, H_BAR, COUNTER, N_STATE = range(6)


def windows(tune: int) -> tuple[int, np.ndarray]:
    """(the first tuning draw of the first window, the draw at which each window ends). No
    window at all under 20 tuning draws (the step size still adapts); a short tuning phase is
    split 15 % / 75 % / 10 % as Stan splits it."""
    if tune < 20:
        return tune, np.zeros(0, dtype=np.int64)
    init, term, base = INIT_BUFFER, TERM_BUFFER, BASE_WINDOW
    if init + term + base > tune:
        init, term = int(0.15 * tune), int(0.1 * tune)
        base = tune - init - term
    last = tune - term
    ends, start, size = [], init, base
    while True:
        end = start + size
        if end + 2 * size > last:  # the next window would not fit: this one runs to the last buffer
            end = last
        ends.append(end)
        if end >= last:
            break
        start, size = end, 2 * size
    return init, np.array(ends, dtype=np.int64)


def new_state(step: float) -> np.ndarray:
    state = np.zeros(N_STATE)
    restart(state, step)
    return state


@kernel
def restart(state: np.ndarray, step: float) -> None:
    """Dual averaging from `step`, pulled towards ten times it (Stan)."""
    state[STEP] = step
    state[MU] = math.log(10.0 * step)
    state[LOG_STEP_BAR] = 0.0
    state[H_BAR] = 0.0
    state[COUNTER] = 0.0


@kernel
def learn_step(state: np.ndarray, acceptance: float, target: float) -> None:
    state[COUNTER] += 1.0
    t = state[COUNTER]
    eta = 1.0 / (t + T0)
    state[H_BAR] = (1.0 - eta) * state[H_BAR] + eta * (target - acceptance)
    log_step = state[MU] - math.sqrt(t) / GAMMA * state[H_BAR]
    weight = t ** -KAPPA
    state[LOG_STEP_BAR] = weight * log_step + (1.0 - weight) * state[LOG_STEP_BAR]
    state[STEP] = math.exp(log_step)


@kernel
def settle_step(state: np.ndarray) -> None:
    """The step size for the draws: the dual average's running mean."""
    if state[COUNTER] > 0:
        state[STEP] = math.exp(state[LOG_STEP_BAR])


@kernel
def accumulate(x: np.ndarray, count: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
    """Welford's update of the window's running mean and sum of squares."""
    count[0] += 1.0
    for i in range(x.shape[0]):
        delta = x[i] - mean[i]
        mean[i] += delta / count[0]
        m2[i] += delta * (x[i] - mean[i])


@kernel
def window_metric(count: np.ndarray, mean: np.ndarray, m2: np.ndarray, inverse_mass: np.ndarray) -> None:
    """The window's variances, shrunk towards 1e-3 as Stan regularises them; then a new window."""
    n = count[0]
    for i in range(inverse_mass.shape[0]):
        variance = m2[i] / (n - 1.0) if n > 1 else 1.0
        inverse_mass[i] = (n / (n + 5.0)) * variance + 1e-3 * (5.0 / (n + 5.0))
        mean[i] = 0.0
        m2[i] = 0.0
    count[0] = 0.0
