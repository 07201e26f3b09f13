"""The numba kernels of the fit model as PyTensor Ops, for the PyMC graph (graph.py).

The kernels themselves (the Kalman-guided path and its reverse mode, kalman_path.py; the
readings' Student-t terms, signal_density.py) are plain numba functions that the compiled
density (density.py) calls directly; the PyMC form of the model, which PyMC draws from and
which the tests hold the compiled density equal to, reaches them through these Ops.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

from forecast.model import kalman_path as kalman_module
from forecast.model import signal_density as signal_module
from forecast.model.kalman_path import kalman_path, kalman_path_vjp
from forecast.model.signal_density import reading_terms

if TYPE_CHECKING:
    from pytensor.graph.basic import Variable
    from pytensor.tensor import TensorLike, TensorVariable

# PyTensor caches the compiled graph on disk: its key carries a hash of the kernels' files, so an
# edited kernel is never served from the cache.
_KERNELS_VERSION = int(hashlib.sha256(Path(kalman_module.__file__).read_bytes() + Path(signal_module.__file__).read_bytes()
                                      + Path(__file__).read_bytes()).hexdigest()[:12], 16)


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
        return [shapes[5], shapes[3], shapes[5][::-1], shapes[5][::-1]]  # the filter's outputs are (weeks, factors)

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


@register_funcify_default_op_cache_key(KalmanPath)
def _numba_kalman_path(op: KalmanPath, node: Apply, **kwargs: Any) -> tuple[Callable[..., tuple[np.ndarray, ...]], int]:
    @numba_njit
    def path(
        h: np.ndarray, g: np.ndarray, q: np.ndarray, m0: np.ndarray, p0: np.ndarray, eps: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return kalman_path(h, g, q, m0, p0, eps)

    return path, _KERNELS_VERSION


@register_funcify_default_op_cache_key(KalmanPathVJP)
def _numba_kalman_path_vjp(op: KalmanPathVJP, node: Apply, **kwargs: Any) -> tuple[Callable[..., tuple[np.ndarray, ...]], int]:
    @numba_njit
    def vjp(
        h: np.ndarray, g: np.ndarray, q: np.ndarray, p0: np.ndarray, eps: np.ndarray,
        x: np.ndarray, var: np.ndarray, mean: np.ndarray, x_bar: np.ndarray, log_jacobian_bar: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return kalman_path_vjp(h, g, q, p0, eps, x, var, mean, x_bar, log_jacobian_bar)

    return vjp, _KERNELS_VERSION


DATA_INPUTS = (1, 2, 3, 4)  # flat index, value, reliability, credibility: no gradient


class ReadingTerms(Op):
    """pytensor Op over (theta_flat, flat, value, reliability, credibility, noise, reliability_m,
    credibility_m, nu): A and its derivatives (see `reading_terms`). Only A is differentiable;
    its gradient is read from the other outputs."""

    __props__ = ()

    def make_node(
        self, theta_flat: TensorLike, flat: TensorLike, value: TensorLike, reliability: TensorLike, credibility: TensorLike,
        noise: TensorLike, reliability_m: TensorLike, credibility_m: TensorLike, nu: TensorLike,
    ) -> Apply:
        floats = [pt.as_tensor_variable(v).astype("float64") for v in (theta_flat, value, noise, reliability_m, credibility_m, nu)]
        ints = [pt.as_tensor_variable(v).astype("int64") for v in (flat, reliability, credibility)]
        theta_flat, value, noise, reliability_m, credibility_m, nu = floats
        flat, reliability, credibility = ints
        inputs = [theta_flat, flat, value, reliability, credibility, noise, reliability_m, credibility_m, nu]
        outputs = [pt.dscalar(), pt.dvector(), pt.dscalar(), pt.dvector(), pt.dvector(), pt.dscalar()]
        return Apply(self, inputs, outputs)

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], outputs: list[list[np.ndarray | None]]) -> None:
        theta_flat, flat, value, reliability, credibility, noise, reliability_m, credibility_m, nu = inputs
        terms = reading_terms(theta_flat, flat, value, reliability, credibility, float(noise), reliability_m, credibility_m, float(nu))
        for out, term in zip(outputs, terms):
            out[0] = np.asarray(term, dtype=np.float64)

    def infer_shape(self, node: Apply, shapes: Sequence[tuple[TensorVariable, ...]]) -> list[tuple[TensorVariable, ...]]:
        return [(), shapes[0], (), shapes[6], shapes[7], ()]

    def pullback(self, inputs: Sequence[Variable], outputs: Sequence[Variable], cotangents: Sequence[Variable]) -> list[Variable]:
        total_bar = cotangents[0]
        if isinstance(total_bar.type, DisconnectedType):
            total_bar = pt.constant(0.0)
        _, d_theta, d_noise, d_reliability, d_credibility, d_nu = outputs
        return [
            total_bar * d_theta,
            *(DisconnectedType()() for _ in range(4)),  # the data: indices, values and grades
            total_bar * d_noise,
            total_bar * d_reliability,
            total_bar * d_credibility,
            total_bar * d_nu,
        ]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        # Only A (output 0) carries gradient, and only to the parameters; the derivative outputs
        # are treated as constants (NUTS needs no second derivatives).
        return [[i not in DATA_INPUTS] + [False] * 5 for i in range(len(node.inputs))]



def student_t_signals_logp(
    theta_flat: TensorVariable,
    flat: TensorVariable | np.ndarray,
    value: TensorVariable | np.ndarray,
    reliability: TensorVariable | np.ndarray,
    credibility: TensorVariable | np.ndarray,
    noise: TensorVariable,
    reliability_m: TensorVariable,
    credibility_m: TensorVariable,
    nu: TensorVariable,
) -> TensorVariable:
    """Sum over readings of log StudentT(value_i | nu, theta_flat[flat_i], sigma_i)."""
    total = ReadingTerms()(theta_flat, flat, value, reliability, credibility, noise, reliability_m, credibility_m, nu)[0]
    n = pt.cast(value.shape[0], "float64")
    constant = pt.gammaln((nu + 1) / 2) - pt.gammaln(nu / 2) - 0.5 * pt.log(nu * np.pi)
    return n * constant - total




@register_funcify_default_op_cache_key(ReadingTerms)
def _numba_reading_terms(op: ReadingTerms, node: Apply, **kwargs: Any) -> tuple[Callable[..., tuple[np.ndarray, ...]], int]:
    @numba_njit
    def terms(
        theta_flat: np.ndarray, flat: np.ndarray, value: np.ndarray, reliability: np.ndarray, credibility: np.ndarray,
        noise: np.ndarray, reliability_m: np.ndarray, credibility_m: np.ndarray, nu: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        total, d_theta, d_noise, d_reliability, d_credibility, d_nu = reading_terms(
            theta_flat, flat, value, reliability, credibility, noise[()], reliability_m, credibility_m, nu[()])
        return np.asarray(total), d_theta, np.asarray(d_noise), d_reliability, d_credibility, np.asarray(d_nu)

    return terms, _KERNELS_VERSION
