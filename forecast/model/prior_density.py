"""The priors' densities and PyMC's transforms for them, in numba, element by element.

The compiled log density (model/density.py) evaluates every prior entry of the priors files
itself instead of through a PyMC graph. Each free entry is one sampler coordinate on the real
line, mapped to the entry's support as PyMC maps it (log for a positive distribution, the
interval transform for a bounded one), so that a point means the same in both and a test can
hold the two densities equal.

Codes, not strings, so that one compiled function serves every priors folder.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaincinv, ndtr, ndtri, stdtrit

from forecast.io.priors import Param
from forecast.kernel_cache import kernel

# Distribution codes (io/priors.py DISTRIBUTIONS).
NORMAL, STUDENT_T, HALF_NORMAL, HALF_STUDENT_T, HALF_CAUCHY, LOG_NORMAL, GAMMA, INVERSE_GAMMA, EXPONENTIAL, UNIFORM, \
    TRUNCATED_NORMAL = range(11)
CODES = {"Normal": NORMAL, "StudentT": STUDENT_T, "HalfNormal": HALF_NORMAL, "HalfStudentT": HALF_STUDENT_T,
         "HalfCauchy": HALF_CAUCHY, "LogNormal": LOG_NORMAL, "Gamma": GAMMA, "InverseGamma": INVERSE_GAMMA,
         "Exponential": EXPONENTIAL, "Uniform": UNIFORM, "TruncatedNormal": TRUNCATED_NORMAL}
# Transform codes: the value on the entry's support from the sampler's coordinate y.
IDENTITY, LOG, INTERVAL, LOWER, UPPER = range(5)
POSITIVE = {HALF_NORMAL, HALF_STUDENT_T, HALF_CAUCHY, LOG_NORMAL, GAMMA, INVERSE_GAMMA, EXPONENTIAL}
LOG_2PI = math.log(2.0 * math.pi)


def encode(param: Param) -> tuple[int, np.ndarray, int, np.ndarray]:
    """(distribution code, parameters [4], transform code, bounds [2]) of a free entry. The
    fourth parameter of a truncated normal is the log of its normalising mass."""
    code = CODES[param.dist]
    k = param.kwargs
    parameters = np.zeros(4)
    bounds = np.zeros(2)
    transform = LOG if code in POSITIVE else IDENTITY
    match code:
        case 0:  # Normal
            parameters[:2] = k["mu"], k["sigma"]
        case 1:  # StudentT
            parameters[:3] = k["mu"], k["sigma"], k["nu"]
        case 2:  # HalfNormal
            parameters[1] = k["sigma"]
        case 3:  # HalfStudentT
            parameters[1:3] = k["sigma"], k["nu"]
        case 4:  # HalfCauchy
            parameters[1] = k["beta"]
        case 5:  # LogNormal
            parameters[:2] = k["mu"], k["sigma"]
        case 6 | 7:  # Gamma, InverseGamma
            parameters[:2] = k["alpha"], k["beta"]
        case 8:  # Exponential
            parameters[0] = k["lam"]
        case 9:  # Uniform
            bounds[:] = k["lower"], k["upper"]
            transform = INTERVAL
        case 10:  # TruncatedNormal
            lower, upper = k.get("lower", -np.inf), k.get("upper", np.inf)
            mu, sigma = k["mu"], k["sigma"]
            parameters[:2] = mu, sigma
            parameters[3] = float(np.log(ndtr((upper - mu) / sigma) - ndtr((lower - mu) / sigma)))
            bounds[:] = lower, upper
            if np.isfinite(lower) and np.isfinite(upper):
                transform = INTERVAL
            elif np.isfinite(lower):
                transform = LOWER
            elif np.isfinite(upper):
                transform = UPPER
    return code, parameters, transform, bounds


def support_median(param: Param) -> float:
    """Where a chain starts an entry before its jitter: the prior's median (scipy.special, not
    scipy.stats, whose import would cost a quick update more than its arithmetic)."""
    k = param.kwargs
    match param.dist:
        case "Normal" | "StudentT":
            return float(k["mu"])
        case "HalfNormal":
            return float(k["sigma"] * ndtri(0.75))
        case "HalfStudentT":
            return float(k["sigma"] * stdtrit(k["nu"], 0.75))
        case "HalfCauchy":
            return float(k["beta"])
        case "LogNormal":
            return float(np.exp(k["mu"]))
        case "Gamma":
            return float(gammaincinv(k["alpha"], 0.5) / k["beta"])
        case "InverseGamma":
            return float(k["beta"] / gammaincinv(k["alpha"], 0.5))
        case "Exponential":
            return float(np.log(2.0) / k["lam"])
        case "Uniform":
            return float((k["lower"] + k["upper"]) / 2)
        case "TruncatedNormal":
            a, b = ndtr((k.get("lower", -np.inf) - k["mu"]) / k["sigma"]), ndtr((k.get("upper", np.inf) - k["mu"]) / k["sigma"])
            return float(k["mu"] + k["sigma"] * ndtri((a + b) / 2))
    raise ValueError(f"no median for prior distribution {param.dist}")


def to_coordinate(value: float, transform: int, bounds: np.ndarray) -> float:
    """The sampler's coordinate of a value on the support (the inverse of `from_coordinate`)."""
    if transform == LOG:
        return math.log(value)
    if transform == INTERVAL:
        share = (value - bounds[0]) / (bounds[1] - bounds[0])
        return math.log(share) - math.log1p(-share)
    if transform == LOWER:
        return math.log(value - bounds[0])
    if transform == UPPER:
        return math.log(bounds[1] - value)
    return value


@kernel
def from_coordinate(y: float, transform: int, bounds: np.ndarray) -> tuple[float, float, float]:
    """(value, d value / dy, log |d value / dy|): PyMC's transform of the entry, undone."""
    if transform == 1:  # log
        value = math.exp(y)
        return value, value, y
    if transform == 2:  # interval
        if y >= 0:
            s = 1.0 / (1.0 + math.exp(-y))
        else:
            e = math.exp(y)
            s = e / (1.0 + e)
        width = bounds[1] - bounds[0]
        derivative = width * s * (1.0 - s)
        return bounds[0] + width * s, derivative, math.log(width) - _softplus(-y) - _softplus(y)
    if transform == 3:  # lower bound
        e = math.exp(y)
        return bounds[0] + e, e, y
    if transform == 4:  # upper bound
        e = math.exp(y)
        return bounds[1] - e, -e, y
    return y, 1.0, 0.0


@kernel
def log_jacobian_slope(y: float, transform: int) -> float:
    """d log |d value / dy| / dy."""
    if transform == 1 or transform == 3 or transform == 4:
        return 1.0
    if transform == 2:
        if y >= 0:
            s = 1.0 / (1.0 + math.exp(-y))
        else:
            e = math.exp(y)
            s = e / (1.0 + e)
        return 1.0 - 2.0 * s
    return 0.0


@kernel
def _softplus(x: float) -> float:
    if x > 30.0:
        return x
    return math.log1p(math.exp(x))


@kernel
def digamma(x: float) -> float:
    """psi(x) for x > 0: the recurrence up to 10, then the asymptotic series to x^-10 (its error
    there is below 1e-13)."""
    result = 0.0
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    inverse = 1.0 / x
    inverse2 = inverse * inverse
    return result + math.log(x) - 0.5 * inverse - inverse2 * (
        1.0 / 12 - inverse2 * (1.0 / 120 - inverse2 * (1.0 / 252 - inverse2 * (1.0 / 240 - inverse2 / 132))))


@kernel
def logpdf(code: int, p: np.ndarray, x: float) -> tuple[float, float]:
    """(log density at x, its derivative in x) of distribution `code` with parameters `p`, as
    PyMC writes each one. Outside the support: (-inf, 0)."""
    if code == 0:  # Normal(mu, sigma)
        z = (x - p[0]) / p[1]
        return -0.5 * z * z - math.log(p[1]) - 0.5 * LOG_2PI, -z / p[1]
    if code == 1:  # StudentT(nu, mu, sigma)
        return _student_t(x - p[0], p[1], p[2])
    if x < 0.0 and (code == 2 or code == 3 or code == 4 or code == 5 or code == 6 or code == 7 or code == 8):
        return -np.inf, 0.0
    if code == 2:  # HalfNormal(sigma)
        z = x / p[1]
        return math.log(2.0) - 0.5 * z * z - math.log(p[1]) - 0.5 * LOG_2PI, -z / p[1]
    if code == 3:  # HalfStudentT(nu, sigma)
        value, slope = _student_t(x, p[1], p[2])
        return value + math.log(2.0), slope
    if code == 4:  # HalfCauchy(beta)
        z = x / p[1]
        return math.log(2.0) - math.log(math.pi) - math.log(p[1]) - math.log1p(z * z), -2.0 * z / (p[1] * (1.0 + z * z))
    if x == 0.0:
        return -np.inf, 0.0
    if code == 5:  # LogNormal(mu, sigma)
        z = (math.log(x) - p[0]) / p[1]
        return -math.log(x) - 0.5 * z * z - math.log(p[1]) - 0.5 * LOG_2PI, (-1.0 - z / p[1]) / x
    if code == 6:  # Gamma(alpha, beta)
        return (p[0] * math.log(p[1]) - math.lgamma(p[0]) + (p[0] - 1.0) * math.log(x) - p[1] * x,
                (p[0] - 1.0) / x - p[1])
    if code == 7:  # InverseGamma(alpha, beta)
        return (p[0] * math.log(p[1]) - math.lgamma(p[0]) - (p[0] + 1.0) * math.log(x) - p[1] / x,
                -(p[0] + 1.0) / x + p[1] / (x * x))
    if code == 8:  # Exponential(lam)
        return math.log(p[0]) - p[0] * x, -p[0]
    return -np.inf, 0.0


@kernel
def bounded_logpdf(code: int, p: np.ndarray, bounds: np.ndarray, x: float) -> tuple[float, float]:
    """`logpdf`, with the two bounded distributions (Uniform, TruncatedNormal)."""
    if code == 9:  # Uniform(lower, upper)
        if x < bounds[0] or x > bounds[1]:
            return -np.inf, 0.0
        return -math.log(bounds[1] - bounds[0]), 0.0
    if code == 10:  # TruncatedNormal(mu, sigma, lower, upper); p[3] = log of the mass inside
        if x < bounds[0] or x > bounds[1]:
            return -np.inf, 0.0
        z = (x - p[0]) / p[1]
        return -0.5 * z * z - math.log(p[1]) - 0.5 * LOG_2PI - p[3], -z / p[1]
    return logpdf(code, p, x)


@kernel
def _student_t(d: float, sigma: float, nu: float) -> tuple[float, float]:
    z = d / sigma
    u = z * z / nu
    value = (math.lgamma((nu + 1.0) / 2.0) - math.lgamma(nu / 2.0) - 0.5 * math.log(nu * math.pi) - math.log(sigma)
             - (nu + 1.0) / 2.0 * math.log1p(u))
    return value, -(nu + 1.0) * z / (sigma * nu * (1.0 + u))


@kernel
def gamma_logpdf_of_log(y: float, alpha: float, rate: float) -> tuple[float, float, float]:
    """log Gamma(exp(y) | alpha, rate) + y (the log transform's Jacobian), its derivative in y,
    and its derivative in alpha, for alpha = rate = nu / 2 written as one (the precisions of
    Student-t steps and readings): d/d(nu/2) with both moving together."""
    x = math.exp(y)
    value = alpha * math.log(rate) - math.lgamma(alpha) + alpha * y - rate * x
    slope = alpha - rate * x
    return value, slope, math.log(rate) + 1.0 - digamma(alpha) + y - x
