"""The fit's log density and its gradient, compiled once with numba for every log and priors.

This is `graph.build_fit_model` written out: the same joint density in the same sampler
coordinates (each prior entry on PyMC's unconstrained scale, each factor's path as the
Kalman-guided transform of standard normals, each week's step precision and, on sparse logs,
each reading's precision on the log scale), evaluated in one pass forward and one backward.
A test holds it equal to PyMC's own log density of `build_fit_model` at random points, and its
gradient to finite differences.

Why not PyMC's compiled function: the sampler calls the density 50-60 times an iteration (NUTS's
leapfrog steps and the jumps between explanations, inference/precision_jumps.py), and through
PyMC each call carries Python overhead larger than the arithmetic (`benchmarks/ess.py` prints
both); and PyTensor compiles one function per number of weeks, a backtest's every origin
another, where this one function is compiled once per machine and cached by numba.

The structure of the model (sizes, which entries are fixed, the data) is a `Structure` of plain
arrays and numbers, so one compiled function serves every priors folder and every log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from forecast.io.priors import Param, Priors
from forecast.kernel_cache import kernel
from forecast.model.coordinates import UNBOUNDED, gaussian_stand_in, sparse_readings
from forecast.model.dataset import ModelData
from forecast.model.kalman_path import backward, forward
from forecast.model.prior_density import (
    LOG_2PI,
    bounded_logpdf,
    digamma,
    encode,
    from_coordinate,
    log_jacobian_slope,
    support_median,
    to_coordinate,
)
from forecast.model.signal_density import reading_terms


class Structure(NamedTuple):
    """Everything the compiled density reads besides the point: sizes, the prior entries, the log."""

    n_factors: int
    n_weeks: int
    n_deals: int
    n_occasions: int
    sparse: bool  # each reading has a precision coordinate of its own
    outcomes_observed: bool
    # Prior entries ("slots"), each a scalar element of a named parameter (`Layout.parameters`).
    slot_x: np.ndarray  # int: its sampler coordinate, or -1 when fixed
    slot_code: np.ndarray  # int: distribution (prior_density codes)
    slot_p: np.ndarray  # (slots, 4): distribution parameters
    slot_transform: np.ndarray  # int
    slot_bounds: np.ndarray  # (slots, 2)
    slot_value: np.ndarray  # the fixed value (fixed slots)
    # Where each named parameter starts among the slots.
    o_volatility: int
    o_noise: int
    o_nu: int
    o_reliability: int
    o_credibility: int
    o_baseline: int
    o_effect: int
    o_occasion: int
    # Initial levels: fixed (1) or drawn from their prior at theta[k, 0].
    initial_fixed: np.ndarray
    initial_code: np.ndarray
    initial_p: np.ndarray  # (K, 4)
    m0: np.ndarray  # the Kalman stand-in of the initial prior: mean and variance
    p0: np.ndarray
    # The walk: each factor's Student-t steps (index among the heavy factors, -1: Gaussian).
    heavy: np.ndarray
    step_nu: np.ndarray
    x_step: int  # first coordinate of the heavy factors' log step precisions (heavy, weeks - 1)
    x_path: int  # first coordinate of the paths' standard normals (factors, weeks)
    # Readings.
    flat: np.ndarray  # factor * weeks + week (PyMC's order of the paths)
    cell: np.ndarray  # week * factors + factor (the compiled density's)
    value: np.ndarray
    reliability: np.ndarray
    credibility: np.ndarray
    x_reading: int  # first coordinate of the readings' log precisions (sparse logs)
    # Outcomes.
    counts: np.ndarray  # (weeks, deals + 1)
    totals: np.ndarray  # (weeks,)
    multinomial_constant: float
    # The scheduled occasions, sparse: each (week, occasion type, count) that is not zero.
    occasion_week: np.ndarray
    occasion_type: np.ndarray
    occasion_count: np.ndarray
    occasion_slot: np.ndarray  # (deals, occasion columns): the slot of each column's effect on each deal
    # Logged breaks (docs/MODEL.md, "Breaks"): each one's week, where every obstacle's step gains a
    # normal of sd break_step[k] (its slot per factor); their shifts are occasion columns above.
    break_week: np.ndarray
    break_step_slot: np.ndarray
    # Coders (docs/MODEL.md, "Coders"): with more than one, each reading is of its obstacle's level
    # plus its coder's offset; the offsets' coordinates start at x_house, their prior's sd is a slot.
    n_coders: int
    reading_coder: np.ndarray
    x_house: int
    house_slot: int


@dataclass(frozen=True)
class Parameter:
    """A named parameter of the posterior: its slots (row-major over `dims`)."""

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    first_slot: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))


@dataclass(frozen=True)
class Layout:
    """How a point is laid out: the parameters (slots) and the blocks of coordinates."""

    parameters: tuple[Parameter, ...]
    n_coordinates: int
    free_slots: np.ndarray  # slot index of each free slot, in coordinate order
    standardised: slice  # the paths' standard normals: posterior scale close to 1 by construction
    step_precisions: slice  # log tau of the heavy factors
    reading_precisions: slice  # log lambda of each reading (sparse logs)
    house_effects: slice = slice(0, 0)  # the coders' offsets, zero-sum coordinates (factor, coder - 1)


@dataclass(frozen=True)
class Density:
    """A model ready to sample: its structure for the compiled functions, its layout, and the
    point chains start from before their jitter."""

    structure: Structure
    layout: Layout
    centre: np.ndarray

    @property
    def stored_size(self) -> int:
        """What `constrained` writes of a draw: the slots, the paths, and the coders' offsets."""
        S = self.structure
        return len(S.slot_value) + S.n_factors * S.n_weeks + (S.n_factors * S.n_coders if S.n_coders > 1 else 0)

    def log_density(self, x: np.ndarray) -> float:
        return float(log_density(x, np.empty_like(x), False, self.structure))

    def log_density_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        gradient = np.empty_like(x)
        value = log_density(x, gradient, True, self.structure)
        return float(value), gradient


def supported(priors: Priors, data: ModelData) -> bool:
    """Whether the compiled density covers this model: every initial level on the whole real
    line (a bounded one would let the Kalman-guided path step outside its support)."""
    return all(priors.factors[k].initial.fixed or priors.factors[k].initial.dist in UNBOUNDED for k in data.factors)


def compile_density(data: ModelData, priors: Priors, reading_precisions: bool | None = None) -> Density:
    """The structure and layout of the fit model of `data` under `priors` (as `build_fit_model`)."""
    if not supported(priors, data):
        raise ValueError("an initial level has a bounded prior: the compiled density does not cover it")
    factors = [priors.factors[k] for k in data.factors]
    deals = [priors.outcomes.deals[k] for k in data.deals]
    occasions = list(priors.outcomes.occasions.values())
    n_breaks = len(data.break_weeks)
    obs = priors.observation
    n_factors, n_weeks, n_signals = len(factors), data.n_weeks, len(data.signal_value)
    if reading_precisions is None:
        reading_precisions = sparse_readings(data)
    sparse = bool(reading_precisions and n_signals)

    entries: list[tuple[str, tuple[str, ...], tuple[int, ...], list[Param]]] = [
        ("volatility", ("factor",), (n_factors,), [f.volatility for f in factors]),
        ("noise", (), (), [obs.noise]),
        ("nu", (), (), [obs.nu]),
        ("reliability_multiplier", ("reliability",), (len(obs.reliability),), list(obs.reliability.values())),
        ("credibility_multiplier", ("credibility",), (len(obs.credibility),), list(obs.credibility.values())),
        ("baseline", ("deal",), (len(deals),), [d.baseline for d in deals]),
        ("effect", ("deal", "factor"), (len(deals), n_factors), [d.effects[k] for d in deals for k in data.factors]),
        ("occasion_effect", ("deal", "occasion"), (len(deals), len(occasions)),
         [o.effects[d.key] for d in deals for o in occasions]),
    ]
    n_coders = len(data.coders)
    if n_coders > 1:
        entries.append(("house_effect", (), (), [obs.house_effect]))
    if n_breaks:
        entries += [
            ("break_step", ("factor",), (n_factors,), [f.break_step for f in factors]),
            ("break_shift", ("deal", "break"), (len(deals), n_breaks), [d.break_shift for d in deals for _ in range(n_breaks)]),
        ]
    parameters, params = [], []
    for name, dims, shape, elements in entries:
        parameters.append(Parameter(name, dims, shape, len(params)))
        params.extend(elements)
    n_slots = len(params)
    slot_x = np.full(n_slots, -1, dtype=np.int64)
    slot_code = np.zeros(n_slots, dtype=np.int64)
    slot_p = np.zeros((n_slots, 4))
    slot_transform = np.zeros(n_slots, dtype=np.int64)
    slot_bounds = np.zeros((n_slots, 2))
    slot_value = np.zeros(n_slots)
    centre: list[float] = []
    for s, param in enumerate(params):
        if param.fixed:
            slot_value[s] = float(param.value)
            continue
        slot_code[s], slot_p[s], slot_transform[s], slot_bounds[s] = encode(param)
        slot_x[s] = len(centre)
        centre.append(to_coordinate(support_median(param), int(slot_transform[s]), slot_bounds[s]))
    free_slots = np.flatnonzero(slot_x >= 0)

    step_nu = np.array([f.jumps.nu for f in factors], dtype=float)
    heavy = np.full(n_factors, -1, dtype=np.int64)
    heavy_factors = np.flatnonzero(np.isfinite(step_nu)) if n_weeks > 1 else np.zeros(0, dtype=np.int64)
    heavy[heavy_factors] = np.arange(len(heavy_factors))
    x_step = len(centre)
    n_steps = len(heavy_factors) * (n_weeks - 1)
    x_path = x_step + n_steps
    x_reading = x_path + n_factors * n_weeks
    # The coders' offsets: per factor, C - 1 coordinates of PyMC's zero-sum transform (the offsets
    # sum to 0 over the coders, so no coder sets the level: docs/MODEL.md, "Coders").
    x_house = x_reading + (n_signals if sparse else 0)
    n_coordinates = x_house + (n_factors * (n_coders - 1) if n_coders > 1 else 0)
    # Precisions start at their prior's mode on the log scale (log 1 = 0), the paths at 0.
    full_centre = np.zeros(n_coordinates)
    full_centre[:len(centre)] = centre

    initial_fixed = np.array([f.initial.fixed for f in factors], dtype=np.int64)
    initial_code = np.zeros(n_factors, dtype=np.int64)
    initial_p = np.zeros((n_factors, 4))
    for k, f in enumerate(factors):
        if not f.initial.fixed:
            initial_code[k], initial_p[k], _, _ = encode(f.initial)
    m0, p0 = np.array([gaussian_stand_in(f.initial) for f in factors], dtype=float).reshape(n_factors, 2).T

    counts = data.outcome_counts.astype(float)
    totals = counts.sum(axis=1)
    # Every occasion column (the priors' types, then each break's lasting shift) and, per deal, the
    # slot of the effect it adds to that deal's log-odds.
    n_columns = len(occasions) + n_breaks
    occasion_counts = (data.occasion_counts.astype(float) if data.occasion_counts is not None and n_columns
                       else np.zeros((n_weeks, n_columns)))
    by_name = {p.name: p for p in parameters}
    occasion_slot = np.zeros((len(deals), n_columns), dtype=np.int64)
    for j in range(len(deals)):
        for o in range(len(occasions)):
            occasion_slot[j, o] = by_name["occasion_effect"].first_slot + j * len(occasions) + o
        for b in range(n_breaks):
            occasion_slot[j, len(occasions) + b] = by_name["break_shift"].first_slot + j * n_breaks + b
    structure = Structure(
        n_factors=n_factors, n_weeks=n_weeks, n_deals=len(deals), n_occasions=n_columns, sparse=sparse,
        outcomes_observed=bool(data.outcomes_observed),
        slot_x=slot_x, slot_code=slot_code, slot_p=slot_p, slot_transform=slot_transform, slot_bounds=slot_bounds,
        slot_value=slot_value,
        **{f"o_{name}": p.first_slot for name, p in zip(
            ("volatility", "noise", "nu", "reliability", "credibility", "baseline", "effect", "occasion"), parameters)},
        initial_fixed=initial_fixed, initial_code=initial_code, initial_p=initial_p,
        m0=np.ascontiguousarray(m0), p0=np.ascontiguousarray(p0),
        heavy=heavy, step_nu=step_nu, x_step=x_step, x_path=x_path,
        flat=(data.signal_factor * n_weeks + data.signal_week).astype(np.int64),
        cell=(data.signal_week * n_factors + data.signal_factor).astype(np.int64),
        value=data.signal_value.astype(float), reliability=data.signal_reliability.astype(np.int64),
        credibility=data.signal_credibility.astype(np.int64), x_reading=x_reading,
        counts=counts, totals=totals,
        multinomial_constant=float(np.sum(gammaln(totals + 1)) - np.sum(gammaln(counts + 1))),
        occasion_week=np.nonzero(occasion_counts)[0].astype(np.int64),
        occasion_type=np.nonzero(occasion_counts)[1].astype(np.int64),
        occasion_count=occasion_counts[np.nonzero(occasion_counts)].astype(float),
        occasion_slot=occasion_slot,
        break_week=np.array(data.break_weeks, dtype=np.int64),
        n_coders=n_coders,
        reading_coder=(data.signal_coder.astype(np.int64) if data.signal_coder is not None and n_coders > 1
                       else np.zeros(n_signals, dtype=np.int64)),
        x_house=x_house,
        house_slot=by_name["house_effect"].first_slot if n_coders > 1 else -1,
        break_step_slot=(by_name["break_step"].first_slot + np.arange(n_factors) if n_breaks else np.zeros(0, np.int64)),
    )
    layout = Layout(tuple(parameters), n_coordinates, free_slots, slice(x_path, x_reading),
                    slice(x_step, x_path), slice(x_reading, x_house), slice(x_house, n_coordinates))
    return Density(structure, layout, full_centre)


@kernel
def slot_values(x: np.ndarray, S: Structure) -> np.ndarray:
    """Every prior entry's value at the point: the fixed ones, and the free ones off their coordinate."""
    values = S.slot_value.copy()
    for s in range(values.shape[0]):
        if S.slot_x[s] >= 0:
            values[s] = from_coordinate(x[S.slot_x[s]], S.slot_transform[s], S.slot_bounds[s])[0]
    return values


@kernel
def house_standard(x: np.ndarray, S: Structure) -> np.ndarray:
    """(factors, coders): the offsets in units of their prior's sd, from the zero-sum coordinates
    as PyMC's ZeroSumTransform maps them (n - 1 values u, sum s, n values u_i - s / (sqrt n + n)
    and -s / sqrt n); zeros with one coder."""
    K, C = S.n_factors, S.n_coders
    out = np.zeros((K, C))
    if C < 2:
        return out
    root = math.sqrt(C)
    for k in range(K):
        total = 0.0
        for c in range(C - 1):
            total += x[S.x_house + k * (C - 1) + c]
        norm = total / (root + C)
        for c in range(C - 1):
            out[k, c] = x[S.x_house + k * (C - 1) + c] - norm
        out[k, C - 1] = -total / root
    return out


@kernel
def house_offsets(x: np.ndarray, S: Structure, values: np.ndarray) -> np.ndarray:
    """(factors, coders): each coder's offset on each obstacle, house_effect times the standard
    offsets. Non-centred: the offsets are data-poor next to the sd when coders agree, and the
    centred form's funnel (offsets shrinking with the sd) made the sampler diverge there."""
    standard = house_standard(x, S)
    if S.n_coders < 2:
        return standard
    return values[S.house_slot] * standard


@kernel
def _stand_in(x: np.ndarray, S: Structure, values: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The Kalman stand-in's inputs at x, laid out week by factor: (information h, weighted sum g,
    step variances q, log q, the walk's part of q, standard normals eps), and per reading (scale,
    log scale, precision in the stand-in, lambda: its own precision on sparse logs, else 1)."""
    K, W = S.n_factors, S.n_weeks
    volatility = values[S.o_volatility:S.o_volatility + K]
    noise, nu = values[S.o_noise], values[S.o_nu]
    q = np.ones((W, K))
    log_q = np.zeros((W, K))
    for k in range(K):
        variance = volatility[k] * volatility[k]
        log_variance = 2.0 * math.log(volatility[k])
        h = S.heavy[k]
        for w in range(1, W):
            q[w, k] = variance
            log_q[w, k] = log_variance
            if h >= 0:
                y = x[S.x_step + h * (W - 1) + (w - 1)]
                q[w, k] = variance * math.exp(-y)  # volatility^2 / tau, tau = exp(y)
                log_q[w, k] = log_variance - y
    walk_q = q.copy()  # the walk's own part of q (volatility^2 / tau), for the gradient
    for w in S.break_week:
        for k in range(K):
            step = values[S.break_step_slot[k]]
            q[w, k] += step * step
            log_q[w, k] = math.log(q[w, k])
    N = S.value.shape[0]
    offsets = house_offsets(x, S, values)
    scale, log_scale, precision, lam = np.empty(N), np.empty(N), np.empty(N), np.ones(N)
    log_noise = math.log(noise)
    log_reliability = np.log(values[S.o_reliability:S.o_reliability + 6])
    log_credibility = np.log(values[S.o_credibility:S.o_credibility + 6])
    information = np.zeros(W * K)
    weighted = np.zeros(W * K)
    for n in range(N):
        r, c = S.reliability[n], S.credibility[n]
        scale[n] = noise * values[S.o_reliability + r] * values[S.o_credibility + c]
        log_scale[n] = log_noise + log_reliability[r] + log_credibility[c]
        if S.sparse:
            lam[n] = math.exp(x[S.x_reading + n])
            precision[n] = lam[n] / (scale[n] * scale[n])
        else:
            precision[n] = (nu + 1.0) / ((nu + 3.0) * scale[n] * scale[n])
        information[S.cell[n]] += precision[n]
        weighted[S.cell[n]] += precision[n] * (S.value[n] - offsets[S.cell[n] % K, S.reading_coder[n]])
    eps = np.empty((W, K))
    for k in range(K):
        for w in range(W):
            eps[w, k] = x[S.x_path + k * W + w]
    return information.reshape((W, K)), weighted.reshape((W, K)), q, log_q, walk_q, eps, scale, log_scale, precision, lam


@kernel
def log_density(x: np.ndarray, gradient: np.ndarray, with_gradient: bool, S: Structure) -> float:
    """The fit model's log density at `x`; with `with_gradient`, its gradient into `gradient`.

    Inside, the paths are laid out week by factor (the Kalman kernels' layout, kalman_path.py);
    the coordinates of x keep PyMC's factor-by-week order."""
    K, W, J, V = S.n_factors, S.n_weeks, S.n_deals, S.n_occasions  # V: occasion types
    n_slots = S.slot_value.shape[0]
    total = 0.0

    # Prior entries: value, prior density and the transform's log Jacobian.
    values = S.slot_value.copy()
    slopes = np.zeros(n_slots)  # d value / d coordinate
    for s in range(n_slots):
        i = S.slot_x[s]
        if i < 0:
            continue
        value, slope, log_jacobian = from_coordinate(x[i], S.slot_transform[s], S.slot_bounds[s])
        density, _ = bounded_logpdf(S.slot_code[s], S.slot_p[s], S.slot_bounds[s], value)
        values[s], slopes[s] = value, slope
        total += density + log_jacobian
    volatility = values[S.o_volatility:S.o_volatility + K]
    noise, nu = values[S.o_noise], values[S.o_nu]
    reliability_m = values[S.o_reliability:S.o_reliability + 6]
    credibility_m = values[S.o_credibility:S.o_credibility + 6]

    h_in, g_in, q, log_q, walk_q, eps, scale, log_scale, precision, lam = _stand_in(x, S, values)
    N = S.value.shape[0]
    # Each heavy factor's step precisions: Gamma(nu/2, rate nu/2) on tau, on the log scale; its
    # constant once, not once a week.
    for k in range(K):
        h = S.heavy[k]
        if h >= 0:
            half = S.step_nu[k] / 2.0
            total += (W - 1) * (half * math.log(half) - math.lgamma(half))
            for w in range(1, W):
                y = x[S.x_step + h * (W - 1) + (w - 1)]
                total += half * (y - math.exp(y))
    # The readings' precisions' prior needs only this sum, and its constant.
    half_nu = nu / 2.0
    sum_y_minus_lam = 0.0
    if S.sparse and N > 0:
        total += N * (half_nu * math.log(half_nu) - math.lgamma(half_nu))
        for n in range(N):
            sum_y_minus_lam += x[S.x_reading + n] - lam[n]
        total += half_nu * sum_y_minus_lam

    theta, log_jacobian, filtered_var, filtered_mean, gain, sd, inverse = forward(h_in, g_in, q, S.m0, S.p0, eps)
    total += log_jacobian.sum()
    theta_bar = np.zeros((W, K))
    eps_bar_direct = np.zeros((W, K))
    d_q = np.zeros((W, K))
    for k in range(K):
        if S.initial_fixed[k]:
            total += -0.5 * eps[0, k] ** 2 - 0.5 * LOG_2PI
            eps_bar_direct[0, k] = -eps[0, k]
        else:
            density, slope = bounded_logpdf(S.initial_code[k], S.initial_p[k], np.zeros(2), theta[0, k])
            total += density
            theta_bar[0, k] += slope
    for w in range(1, W):
        for k in range(K):
            step = theta[w, k] - theta[w - 1, k]
            inverse_q = 1.0 / q[w, k]
            total += -0.5 * (LOG_2PI + log_q[w, k] + step * step * inverse_q)
            theta_bar[w, k] -= step * inverse_q
            theta_bar[w - 1, k] += step * inverse_q
            d_q[w, k] += 0.5 * inverse_q * (step * step * inverse_q - 1.0)

    # The coders' offsets: house_effect times standard zero-sum normals, whose prior is
    # -z^2 / 2 summed over factors and coders, with (coders - 1) normalising terms a factor
    # (PyMC's ZeroSumNormal of sd 1).
    C = S.n_coders
    standard = house_standard(x, S)
    offsets = house_offsets(x, S, values)
    offset_bar = np.zeros((K, C))  # d/d offsets, from the readings below
    if C > 1:
        squares = 0.0
        for k in range(K):
            for c in range(C):
                squares += standard[k, c] * standard[k, c]
        total += -0.5 * squares - K * (C - 1) * 0.5 * LOG_2PI

    # The readings' own density: each of its obstacle's level, plus its coder's offset.
    theta_flat = theta.reshape(W * K)
    theta_flat_bar = theta_bar.reshape(W * K)
    scale_bar = np.zeros(N)
    precision_bar = np.zeros(N)  # the sparse readings' lambda, d/d lambda
    nu_bar = 0.0
    noise_bar = 0.0
    reliability_bar = np.zeros(6)
    credibility_bar = np.zeros(6)
    if S.sparse:
        for n in range(N):
            d = S.value[n] - theta_flat[S.cell[n]] - offsets[S.cell[n] % K, S.reading_coder[n]]
            inverse_sigma2 = 1.0 / (scale[n] * scale[n])
            total += -0.5 * LOG_2PI - log_scale[n] + 0.5 * x[S.x_reading + n] - 0.5 * lam[n] * d * d * inverse_sigma2
            theta_flat_bar[S.cell[n]] += lam[n] * d * inverse_sigma2
            offset_bar[S.cell[n] % K, S.reading_coder[n]] += lam[n] * d * inverse_sigma2
            precision_bar[n] += 0.5 / lam[n] - 0.5 * d * d * inverse_sigma2
            scale_bar[n] += -1.0 / scale[n] + lam[n] * d * d * inverse_sigma2 / scale[n]
    elif N > 0 and C > 1:
        # Student-t readings one by one (the one-pass kernel below sums by factor-week, not by coder).
        for n in range(N):
            z = (S.value[n] - theta_flat[S.cell[n]] - offsets[S.cell[n] % K, S.reading_coder[n]]) / scale[n]
            u = z * z / nu
            total += -log_scale[n] - 0.5 * (nu + 1.0) * math.log1p(u)
            slope = (nu + 1.0) / nu * z / (scale[n] * (1.0 + u))  # d/d level
            theta_flat_bar[S.cell[n]] += slope
            offset_bar[S.cell[n] % K, S.reading_coder[n]] += slope
            scale_bar[n] += -1.0 / scale[n] + (nu + 1.0) * u / (scale[n] * (1.0 + u))
            nu_bar += -0.5 * math.log1p(u) + 0.5 * (nu + 1.0) * u / (nu * (1.0 + u))
        total += N * (math.lgamma((nu + 1.0) / 2.0) - math.lgamma(nu / 2.0) - 0.5 * math.log(nu * math.pi))
        nu_bar += N * (0.5 * digamma((nu + 1.0) / 2.0) - 0.5 * digamma(nu / 2.0) - 0.5 / nu)
    elif N > 0:
        a, d_theta, d_noise, d_reliability, d_credibility, d_nu = reading_terms(
            theta_flat, S.cell, S.value, S.reliability, S.credibility, noise, reliability_m, credibility_m, nu)
        total += N * (math.lgamma((nu + 1.0) / 2.0) - math.lgamma(nu / 2.0) - 0.5 * math.log(nu * math.pi)) - a
        for i in range(K * W):
            theta_flat_bar[i] -= d_theta[i]
        noise_bar -= d_noise
        for r in range(6):
            reliability_bar[r] -= d_reliability[r]
            credibility_bar[r] -= d_credibility[r]
        nu_bar += N * (0.5 * digamma((nu + 1.0) / 2.0) - 0.5 * digamma(nu / 2.0) - 0.5 / nu) - d_nu

    # Outcomes: each week a categorical draw between no deal and each deal type.
    baseline_bar = np.zeros(J)
    effect_bar = np.zeros((J, K))
    occasion_bar = np.zeros((J, V))
    if S.outcomes_observed:
        total += S.multinomial_constant
        # What the scheduled occasions add to each week's log-odds: a sparse sum (few weeks hold one).
        boost = np.zeros((W, J))
        for e_ in range(S.occasion_week.shape[0]):
            w, o, c = S.occasion_week[e_], S.occasion_type[e_], S.occasion_count[e_]
            for j in range(J):
                boost[w, j] += values[S.occasion_slot[j, o]] * c
        eta = np.empty(J)
        share = np.empty(J)  # exp(eta_j - largest): each week's exponentials, taken once
        d_eta_w = np.zeros((W, J))
        effect = values[S.o_effect:S.o_effect + J * K].reshape((J, K))
        for w in range(W):
            largest = 0.0
            for j in range(J):
                e = values[S.o_baseline + j] + boost[w, j]
                for k in range(K):
                    e += effect[j, k] * theta[w, k]
                eta[j] = e
                largest = max(largest, e)
            # Deals are rare, so every eta is usually below 0 ("no deal" the likeliest): then the
            # normaliser is 1 + sum exp(eta) and needs no exponential of its own.
            normaliser = 1.0 if largest == 0.0 else math.exp(-largest)
            for j in range(J):
                share[j] = math.exp(eta[j] - largest)
                normaliser += share[j]
            log_normaliser = largest + math.log(normaliser)
            total -= S.totals[w] * log_normaliser
            for j in range(J):
                total += S.counts[w, j + 1] * eta[j]
                d_eta = S.counts[w, j + 1] - S.totals[w] * share[j] / normaliser
                baseline_bar[j] += d_eta
                d_eta_w[w, j] = d_eta
                for k in range(K):
                    effect_bar[j, k] += d_eta * theta[w, k]
                    theta_bar[w, k] += d_eta * effect[j, k]
        for e_ in range(S.occasion_week.shape[0]):
            w, o, c = S.occasion_week[e_], S.occasion_type[e_], S.occasion_count[e_]
            for j in range(J):
                occasion_bar[j, o] += d_eta_w[w, j] * c  # (deal, occasion column); into its slot below

    if not with_gradient:
        return total

    # Backward: through the Kalman transform to its inputs.
    h_bar, g_bar, q_bar, _, _, eps_bar = backward(h_in, g_in, q, S.p0, eps, theta, filtered_var, filtered_mean, gain, sd, inverse,
                                                  theta_bar, np.ones(K))
    gradient[:] = 0.0
    for k in range(K):
        for w in range(W):
            gradient[S.x_path + k * W + w] = eps_bar[w, k] + eps_bar_direct[w, k]
    volatility_bar = np.zeros(K)
    for k in range(K):
        h = S.heavy[k]
        for w in range(1, W):
            total_q_bar = q_bar[w, k] + d_q[w, k]
            # q = volatility^2 / tau (+ break_step^2 in a break's week): d q / d volatility =
            # 2 (volatility^2 / tau) / volatility, d q / d log tau = -volatility^2 / tau.
            volatility_bar[k] += total_q_bar * 2.0 * walk_q[w, k] / volatility[k]
            if h >= 0:
                i = S.x_step + h * (W - 1) + (w - 1)
                half = S.step_nu[k] / 2.0
                gradient[i] = half * (1.0 - math.exp(x[i])) - total_q_bar * walk_q[w, k]
    h_flat_bar = h_bar.reshape(W * K)
    g_flat_bar = g_bar.reshape(W * K)
    for n in range(N):
        # precision[n] feeds information and weighted (times the reading less its coder's offset).
        adjusted = S.value[n] - offsets[S.cell[n] % K, S.reading_coder[n]]
        p_bar = h_flat_bar[S.cell[n]] + g_flat_bar[S.cell[n]] * adjusted
        offset_bar[S.cell[n] % K, S.reading_coder[n]] -= g_flat_bar[S.cell[n]] * precision[n]
        scale_bar[n] += -2.0 * p_bar * precision[n] / scale[n]
        if S.sparse:
            lam_bar = precision_bar[n] + p_bar / (scale[n] * scale[n])
            gradient[S.x_reading + n] = half_nu * (1.0 - lam[n]) + lam_bar * lam[n]
        else:
            nu_bar += p_bar * 2.0 / ((nu + 3.0) * (nu + 3.0) * scale[n] * scale[n])
        noise_bar += scale_bar[n] * scale[n] / noise
        reliability_bar[S.reliability[n]] += scale_bar[n] * scale[n] / reliability_m[S.reliability[n]]
        credibility_bar[S.credibility[n]] += scale_bar[n] * scale[n] / credibility_m[S.credibility[n]]

    if S.sparse and N > 0:
        # d/d nu of the readings' Gamma(nu/2, nu/2) precision prior, summed over the readings.
        nu_bar += 0.5 * (N * (math.log(half_nu) + 1.0 - digamma(half_nu)) + sum_y_minus_lam)

    # The standard offsets: the readings' pull through house_effect, and their own prior; then the
    # zero-sum transform's adjoint (house_standard) into the coordinates.
    house_bar = 0.0
    if C > 1:
        house_sd = values[S.house_slot]
        standard_bar = np.empty((K, C))
        for k in range(K):
            for c in range(C):
                house_bar += offset_bar[k, c] * standard[k, c]
                standard_bar[k, c] = offset_bar[k, c] * house_sd - standard[k, c]
        root = math.sqrt(C)
        for k in range(K):
            first = 0.0
            for c in range(C - 1):
                first += standard_bar[k, c]
            for c in range(C - 1):
                gradient[S.x_house + k * (C - 1) + c] = standard_bar[k, c] - first / (root + C) - standard_bar[k, C - 1] / root

    # Into the prior entries' coordinates.
    value_bar = np.zeros(n_slots)
    if C > 1:
        value_bar[S.house_slot] += house_bar
    for w in S.break_week:
        for k in range(K):
            value_bar[S.break_step_slot[k]] += (q_bar[w, k] + d_q[w, k]) * 2.0 * values[S.break_step_slot[k]]
    for k in range(K):
        value_bar[S.o_volatility + k] = volatility_bar[k]
    value_bar[S.o_noise] = noise_bar
    value_bar[S.o_nu] = nu_bar
    for r in range(6):
        value_bar[S.o_reliability + r] = reliability_bar[r]
        value_bar[S.o_credibility + r] = credibility_bar[r]
    for j in range(J):
        value_bar[S.o_baseline + j] = baseline_bar[j]
        for k in range(K):
            value_bar[S.o_effect + j * K + k] = effect_bar[j, k]
        for o in range(V):
            value_bar[S.occasion_slot[j, o]] += occasion_bar[j, o]
    for s in range(n_slots):
        i = S.slot_x[s]
        if i < 0:
            continue
        _, density_slope = bounded_logpdf(S.slot_code[s], S.slot_p[s], S.slot_bounds[s], values[s])
        gradient[i] = (value_bar[s] + density_slope) * slopes[s] + log_jacobian_slope(x[i], S.slot_transform[s])
    return total


@kernel
def constrained(x: np.ndarray, S: Structure, out: np.ndarray) -> None:
    """What a draw stores: every prior entry's value, then the paths theta (factors x weeks), then
    with several coders their offsets (factors x coders), into `out` (`Density.stored_size`)."""
    K, W = S.n_factors, S.n_weeks
    values = slot_values(x, S)
    n_slots = values.shape[0]
    if out.shape[0] != n_slots + K * W + (K * S.n_coders if S.n_coders > 1 else 0):
        raise ValueError("constrained: `out` is not Density.stored_size long")
    out[:n_slots] = values
    h_in, g_in, q, _, _, eps, _, _, _, _ = _stand_in(x, S, values)
    theta = forward(h_in, g_in, q, S.m0, S.p0, eps)[0]
    for k in range(K):
        for w in range(W):
            out[n_slots + k * W + w] = theta[w, k]
    if S.n_coders > 1:
        offsets = house_offsets(x, S, values)
        for k in range(K):
            for c in range(S.n_coders):
                out[n_slots + K * W + k * S.n_coders + c] = offsets[k, c]
