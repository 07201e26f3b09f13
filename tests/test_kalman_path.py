"""The Kalman-guided path transform: it is the FFBS draw of the stand-in, its log Jacobian is
exact, and its hand-written gradient agrees with finite differences."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from kalman_oracle import local_level_smoother

from forecast.model.graph_ops import KalmanPath
from forecast.model.kalman_path import kalman_path, kalman_path_vjp

RNG = np.random.default_rng(3)
K, W = 3, 9


def _inputs(fixed_initial: bool = False):
    h = RNG.uniform(0.0, 6.0, (K, W))
    h[:, 3] = 0.0  # weeks without readings
    h[1, :] = 0.0  # a factor without any
    g = RNG.normal(0.0, 2.0, (K, W)) * h
    q = RNG.uniform(0.005, 0.2, (K, W))  # each week's own step variance (Student-t steps given their scales)
    m0 = RNG.normal(size=K)
    p0 = RNG.uniform(0.1, 1.0, K)
    if fixed_initial:
        p0[2] = 0.0
    return h, g, q, m0, p0


def _linear_map(h, g, q, m0, p0):
    """x = mean + L eps: the mean (eps = 0) and L, column by column."""
    mean = kalman_path(h, g, q, m0, p0, np.zeros((K, W)))[0]
    columns = np.empty((K, W, W))
    for j in range(W):
        eps = np.zeros((K, W))
        eps[:, j] = 1.0
        columns[:, :, j] = kalman_path(h, g, q, m0, p0, eps)[0] - mean
    return mean, columns


def test_path_is_the_smoothers_posterior_and_the_log_jacobian_is_exact():
    h, g, q, m0, p0 = _inputs()
    mean, lower = _linear_map(h, g, q, m0, p0)
    log_jacobian = kalman_path(h, g, q, m0, p0, np.zeros((K, W)))[1]
    for k in range(K):
        # Each week's readings summed into one: value g/h with sd 1/sqrt(h).
        seen = h[k] > 0
        smoothed = local_level_smoother(W, np.flatnonzero(seen), g[k, seen] / h[k, seen], 1 / np.sqrt(h[k, seen]),
                                        initial_mean=m0[k], initial_sd=np.sqrt(p0[k]), volatility=np.sqrt(q[k]))
        np.testing.assert_allclose(mean[k], smoothed.mean, rtol=1e-10, atol=1e-12)
        # eps ~ N(0, I) gives x ~ N(mean, L L^T): the smoother's marginal variances.
        np.testing.assert_allclose(np.diag(lower[k] @ lower[k].T), smoothed.sd**2, rtol=1e-10)
        assert np.allclose(np.tril(lower[k], -1), 0.0)  # each week depends on its own and later eps only
        np.testing.assert_allclose(log_jacobian[k], np.linalg.slogdet(lower[k])[1], rtol=1e-10)


def test_fixed_initial_level_is_set_not_drawn():
    h, g, q, m0, p0 = _inputs(fixed_initial=True)
    x, log_jacobian, _, _ = kalman_path(h, g, q, m0, p0, RNG.normal(size=(K, W)))
    assert x[2, 0] == m0[2]
    assert np.isfinite(log_jacobian).all()


@pytest.mark.parametrize("fixed_initial", [False, True])
def test_gradient_matches_finite_differences(fixed_initial):
    h, g, q, m0, p0 = _inputs(fixed_initial)
    eps = RNG.normal(size=(K, W))
    x_bar, log_jacobian_bar = RNG.normal(size=(K, W)), RNG.normal(size=K)

    def objective(*args):
        x, log_jacobian, _, _ = kalman_path(*args)
        return float((x_bar * x).sum() + (log_jacobian_bar * log_jacobian).sum())

    args = [h, g, q, m0, p0, eps]
    x, _, var, mean = kalman_path(*args)
    analytic = kalman_path_vjp(h, g, q, p0, eps, x, var, mean, x_bar, log_jacobian_bar)
    for i, (arg, grad) in enumerate(zip(args, analytic)):
        for index in np.ndindex(arg.shape):
            if i == 4 and fixed_initial and index == (2,):
                continue  # a variance of exactly 0 sits on the boundary: no two-sided difference
            up, down = [a.copy() for a in args], [a.copy() for a in args]
            up[i][index] += 1e-6
            down[i][index] -= 1e-6
            numeric = (objective(*up) - objective(*down)) / 2e-6
            assert grad[index] == pytest.approx(numeric, rel=1e-5, abs=1e-7), (i, index)


@pytest.mark.parametrize("linker", ["numba", "cvm"])
def test_op_gradient_in_compiled_graphs(linker):
    """The Op inside PyTensor, in the numba backend (its own kernels) and the C backend (perform)."""
    h, g, q, m0, p0 = _inputs()
    eps = pt.dmatrix("eps")
    volatility = pt.dvector("volatility")
    x, log_jacobian, _, _ = KalmanPath()(h, g, (volatility**2)[:, None] * (q / q.mean(axis=1, keepdims=True)), m0, p0, eps)
    weights = RNG.normal(size=(K, W))
    objective = (weights * x).sum() + log_jacobian.sum()
    mode = pytensor.compile.mode.Mode(linker=linker, optimizer="fast_run")
    f = pytensor.function([eps, volatility], [objective, *pytensor.grad(objective, [eps, volatility])], mode=mode)
    eps_value, vol_value = RNG.normal(size=(K, W)), np.sqrt(q.mean(axis=1))
    value, d_eps, d_vol = f(eps_value, vol_value)
    step = 1e-6
    for k in range(K):
        up, down = vol_value.copy(), vol_value.copy()
        up[k] += step
        down[k] -= step
        assert d_vol[k] == pytest.approx((f(eps_value, up)[0] - f(eps_value, down)[0]) / (2 * step), rel=1e-5)
    bumped = eps_value.copy()
    bumped[1, 4] += step
    assert d_eps[1, 4] == pytest.approx((f(bumped, vol_value)[0] - value) / step, rel=1e-4)
