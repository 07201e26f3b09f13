"""The factor paths as the sampler sees them: a Kalman-guided transform of standard normals.

Sampling θ directly (or as scaled cumulative innovations, the plain non-centred form) is slow
on long logs: dense readings pin every week's level, so the innovations are tightly coupled
through their cumulative sums and to the volatility, and NUTS needs hundreds of leapfrog steps
per draw. Instead each factor's path is written as the draw of forward-filtering,
backward-sampling (FFBS) in a linear-Gaussian stand-in of the model, driven by ε:

    stand-in:  x[0] ~ N(m0, p0),  x[w] = x[w-1] + N(0, q[w]),  week w's readings summed into
               information h[w] (precision) and g[w] (precision × value)
    forward:   P[w], f[w] = the filtered variance and mean of x[w] given weeks 0..w
    backward:  x[n-1] = f[n-1] + sqrt(P[n-1]) ε[n-1]
               x[w]   = f[w] + J[w] (x[w+1] - f[w]) + sqrt(J[w] q[w+1]) ε[w],   J[w] = P[w] / (P[w] + q[w+1])

Each week's step has its own variance q[w] (the step into week w; q[0] is unused): the walk's
steps are a scale mixture of normals (walk.py), and given each week's scale the stand-in's walk
is the model's own.

The map ε -> x is triangular, so its log Jacobian is the sum of the log standard deviations.
The model's density is then evaluated exactly at x (Student-t readings, outcomes, the prior of
the walk and of x[0]) plus that log Jacobian: a change of variables, not an approximation. The
stand-in only decides how well conditioned the sampler's coordinates are; where it is close to
the true posterior, ε is close to standard normal and nearly independent of the volatilities,
whatever the log's length.

The recursions are sequential in the week, so they are compiled with numba (cached on disk),
with their reverse-mode derivatives written out by hand; a test checks them against finite
differences.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

if TYPE_CHECKING:
    from pytensor.graph.basic import Variable
    from pytensor.tensor import TensorLike, TensorVariable


@numba.njit(cache=True)
def _filter(h: np.ndarray, g: np.ndarray, q: np.ndarray, m0: np.ndarray, p0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filtered variances P and means f, (K, W). `q` (K, W): the variance of the step into each week."""
    n_factors, n_weeks = h.shape
    var = np.empty((n_factors, n_weeks))
    mean = np.empty((n_factors, n_weeks))
    for k in range(n_factors):
        prior_var, prior_mean = p0[k], m0[k]
        for w in range(n_weeks):
            if w > 0:
                prior_var, prior_mean = var[k, w - 1] + q[k, w], mean[k, w - 1]
            denominator = 1.0 + prior_var * h[k, w]
            var[k, w] = prior_var / denominator
            mean[k, w] = (prior_mean + prior_var * g[k, w]) / denominator
    return var, mean


@numba.njit(cache=True)
def _gain(var: float, q: float) -> float:
    total = var + q
    return var / total if total > 0.0 else 0.0


@numba.njit(cache=True)
def kalman_path(
    h: np.ndarray, g: np.ndarray, q: np.ndarray, m0: np.ndarray, p0: np.ndarray, eps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(paths x (K, W), log Jacobian per factor (K,), filtered variances, filtered means) for
    the standard normals `eps` (K, W) and step variances `q` (K, W; q[:, 0] unused). The filter's
    output is returned for the gradient.

    A state with zero variance (a fixed initial level) is set, not drawn: its ε has no effect
    and no Jacobian term.
    """
    var, mean = _filter(h, g, q, m0, p0)
    n_factors, n_weeks = h.shape
    x = np.empty((n_factors, n_weeks))
    log_jacobian = np.zeros(n_factors)
    for k in range(n_factors):
        last = n_weeks - 1
        sd = math.sqrt(var[k, last])
        x[k, last] = mean[k, last] + sd * eps[k, last]
        if sd > 0.0:
            log_jacobian[k] += math.log(sd)
        for w in range(last - 1, -1, -1):
            gain = _gain(var[k, w], q[k, w + 1])
            sd = math.sqrt(gain * q[k, w + 1])
            x[k, w] = mean[k, w] + gain * (x[k, w + 1] - mean[k, w]) + sd * eps[k, w]
            if sd > 0.0:
                log_jacobian[k] += math.log(sd)
    return x, log_jacobian, var, mean


@numba.njit(cache=True)
def kalman_path_vjp(
    h: np.ndarray, g: np.ndarray, q: np.ndarray, p0: np.ndarray, eps: np.ndarray,
    x: np.ndarray, var: np.ndarray, mean: np.ndarray, x_bar: np.ndarray, log_jacobian_bar: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reverse mode of `kalman_path`, from its outputs: the gradients with respect to (h, g, q,
    m0, p0, eps) of sum(x_bar * x) + sum(log_jacobian_bar * log_jacobian)."""
    n_factors, n_weeks = h.shape
    h_bar, g_bar, eps_bar, q_bar = np.zeros_like(h), np.zeros_like(g), np.zeros_like(eps), np.zeros_like(q)
    m0_bar, p0_bar = np.zeros(n_factors), np.zeros(n_factors)
    for k in range(n_factors):
        xb = x_bar[k].copy()
        var_bar = np.zeros(n_weeks)
        mean_bar = np.zeros(n_weeks)
        # Backward sampling, undone in reverse order: week 0 first, since x[w] feeds x[w-1] only.
        for w in range(n_weeks - 1):
            step_var = q[k, w + 1]
            gain = _gain(var[k, w], step_var)
            sd = math.sqrt(gain * step_var)
            xb[w + 1] += gain * xb[w]
            mean_bar[w] += (1.0 - gain) * xb[w]
            eps_bar[k, w] = sd * xb[w]
            gain_bar = xb[w] * (x[k, w + 1] - mean[k, w])
            if sd > 0.0:
                sd_bar = xb[w] * eps[k, w] + log_jacobian_bar[k] / sd
                gain_bar += sd_bar * step_var / (2.0 * sd)
                q_bar[k, w + 1] += sd_bar * gain / (2.0 * sd)
            total = var[k, w] + step_var
            if total > 0.0:
                var_bar[w] += gain_bar * step_var / total**2
                q_bar[k, w + 1] -= gain_bar * var[k, w] / total**2
        last = n_weeks - 1
        sd = math.sqrt(var[k, last])
        mean_bar[last] += xb[last]
        eps_bar[k, last] = sd * xb[last]
        if sd > 0.0:
            var_bar[last] += xb[last] * eps[k, last] / (2.0 * sd) + log_jacobian_bar[k] / (2.0 * var[k, last])
        # The filter, in reverse.
        for w in range(last, -1, -1):
            prior_var = p0[k] if w == 0 else var[k, w - 1] + q[k, w]
            denominator = 1.0 + prior_var * h[k, w]
            prior_var_bar = var_bar[w] / denominator**2 + mean_bar[w] * (g[k, w] - mean[k, w] * h[k, w]) / denominator
            h_bar[k, w] = -var_bar[w] * prior_var**2 / denominator**2 - mean_bar[w] * mean[k, w] * prior_var / denominator
            g_bar[k, w] = mean_bar[w] * prior_var / denominator
            prior_mean_bar = mean_bar[w] / denominator
            if w == 0:
                p0_bar[k] = prior_var_bar
                m0_bar[k] = prior_mean_bar
            else:
                var_bar[w - 1] += prior_var_bar
                q_bar[k, w] += prior_var_bar
                mean_bar[w - 1] += prior_mean_bar
    return h_bar, g_bar, q_bar, m0_bar, p0_bar, eps_bar


class KalmanPath(Op):
    """pytensor Op: (h, g, q, m0, p0, eps) -> (x, log_jacobian, filtered variances, filtered
    means); see `kalman_path`. The last two outputs only feed the gradient."""

    __props__ = ()

    def make_node(self, h: TensorLike, g: TensorLike, q: TensorLike, m0: TensorLike, p0: TensorLike, eps: TensorLike) -> Apply:
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in (h, g, q, m0, p0, eps)]
        return Apply(self, inputs, [pt.dmatrix(), pt.dvector(), pt.dmatrix(), pt.dmatrix()])

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], outputs: list[list[np.ndarray | None]]) -> None:
        for out, value in zip(outputs, kalman_path(*inputs)):
            out[0] = value

    def infer_shape(self, node: Apply, shapes: Sequence[tuple[TensorVariable, ...]]) -> list[tuple[TensorVariable, ...]]:
        return [shapes[5], shapes[3], shapes[5], shapes[5]]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True, True, False, False] for _ in node.inputs]

    def pullback(self, inputs: Sequence[Variable], outputs: Sequence[Variable], cotangents: Sequence[Variable]) -> list[Variable]:
        h, g, q, _m0, p0, eps = inputs
        x, _log_jacobian, var, mean = outputs
        x_bar, log_jacobian_bar = cotangents[:2]
        if isinstance(x_bar.type, DisconnectedType):
            x_bar = pt.zeros_like(eps)
        if isinstance(log_jacobian_bar.type, DisconnectedType):
            log_jacobian_bar = pt.zeros_like(p0)
        return KalmanPathVJP()(h, g, q, p0, eps, x, var, mean, x_bar, log_jacobian_bar)


class KalmanPathVJP(Op):
    """pytensor Op: the gradients of `KalmanPath`, from its inputs and outputs."""

    __props__ = ()

    def make_node(
        self, h: TensorLike, g: TensorLike, q: TensorLike, p0: TensorLike, eps: TensorLike,
        x: TensorLike, var: TensorLike, mean: TensorLike, x_bar: TensorLike, log_jacobian_bar: TensorLike,
    ) -> Apply:
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in (h, g, q, p0, eps, x, var, mean, x_bar, log_jacobian_bar)]
        h, g, q, p0, eps = inputs[:5]
        return Apply(self, inputs, [h.type(), g.type(), q.type(), p0.type(), p0.type(), eps.type()])

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], outputs: list[list[np.ndarray | None]]) -> None:
        for out, value in zip(outputs, kalman_path_vjp(*inputs)):
            out[0] = value

    def infer_shape(self, node: Apply, shapes: Sequence[tuple[TensorVariable, ...]]) -> list[tuple[TensorVariable, ...]]:
        return [shapes[0], shapes[1], shapes[2], shapes[3], shapes[3], shapes[4]]


def t_reading_precision[T: (np.ndarray, TensorVariable)](nu: T, scale: T) -> T:
    """The one Gaussian stand-in for a Student-t reading: the normal with the t's Fisher
    information about its location, (nu + 1) / ((nu + 3) scale^2). Plain arithmetic, so it
    serves numpy arrays (the incremental update) and PyTensor tensors (the fit) alike."""
    return (nu + 1) / ((nu + 3) * scale**2)


def gaussian_summary(
    n_factors: int, n_weeks: int, flat: TensorVariable, value: TensorVariable, precision: TensorVariable,
) -> tuple[TensorVariable, TensorVariable]:
    """Each factor-week's readings as one Gaussian reading: (information h, precision-weighted sum g), (K, W).
    `flat` is each reading's factor * n_weeks + week."""
    h = pt.zeros(n_factors * n_weeks)[flat].inc(precision)
    g = pt.zeros(n_factors * n_weeks)[flat].inc(precision * value)
    return h.reshape((n_factors, n_weeks)), g.reshape((n_factors, n_weeks))


# PyTensor compiles the model's log density with numba: give it the kernels themselves, so the
# path runs inside the compiled function rather than calling back into Python (object mode).
# The cache key carries a hash of this file, so an edited kernel is never served from the cache.
_SOURCE_VERSION = int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12], 16)


@register_funcify_default_op_cache_key(KalmanPath)
def _numba_kalman_path(op: KalmanPath, node: Apply, **kwargs: Any) -> tuple[Callable[..., tuple[np.ndarray, ...]], int]:
    @numba_njit
    def path(
        h: np.ndarray, g: np.ndarray, q: np.ndarray, m0: np.ndarray, p0: np.ndarray, eps: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return kalman_path(h, g, q, m0, p0, eps)

    return path, _SOURCE_VERSION


@register_funcify_default_op_cache_key(KalmanPathVJP)
def _numba_kalman_path_vjp(op: KalmanPathVJP, node: Apply, **kwargs: Any) -> tuple[Callable[..., tuple[np.ndarray, ...]], int]:
    @numba_njit
    def vjp(
        h: np.ndarray, g: np.ndarray, q: np.ndarray, p0: np.ndarray, eps: np.ndarray,
        x: np.ndarray, var: np.ndarray, mean: np.ndarray, x_bar: np.ndarray, log_jacobian_bar: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return kalman_path_vjp(h, g, q, p0, eps, x, var, mean, x_bar, log_jacobian_bar)

    return vjp, _SOURCE_VERSION
