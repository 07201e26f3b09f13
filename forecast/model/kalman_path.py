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

import math

import numpy as np

from forecast.kernel_cache import kernel

# The recursions run along the weeks, one row (a factor, or a factor of one draw) at a time in
# the maths. The cores below take arrays laid out week by row (the transpose of the interface's),
# so each loop over weeks runs over every row at once, rows contiguous in memory; the forward pass
# keeps what the reverse pass would otherwise recompute (each week's gain, standard deviation and
# filter divisor), so the gradient costs no further division or square root.


@kernel
def forward(h: np.ndarray, g: np.ndarray, q: np.ndarray, m0: np.ndarray, p0: np.ndarray, eps: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The transform on (W, R) arrays: (x, log Jacobian per row, filtered variances, filtered
    means, gains, backward standard deviations, filter divisors), the last five (W, R) for
    `backward`. q[0] is unused."""
    n_weeks, n_rows = h.shape
    var = np.empty((n_weeks, n_rows))
    mean = np.empty((n_weeks, n_rows))
    inverse = np.empty((n_weeks, n_rows))  # 1 / (1 + prior variance x h)
    for r in range(n_rows):
        inverse[0, r] = 1.0 / (1.0 + p0[r] * h[0, r])
        var[0, r] = p0[r] * inverse[0, r]
        mean[0, r] = (m0[r] + p0[r] * g[0, r]) * inverse[0, r]
    for w in range(1, n_weeks):
        for r in range(n_rows):
            prior_var = var[w - 1, r] + q[w, r]
            inverse[w, r] = 1.0 / (1.0 + prior_var * h[w, r])
            var[w, r] = prior_var * inverse[w, r]
            mean[w, r] = (mean[w - 1, r] + prior_var * g[w, r]) * inverse[w, r]
    x = np.empty((n_weeks, n_rows))
    gain = np.zeros((n_weeks, n_rows))
    sd = np.empty((n_weeks, n_rows))
    log_jacobian = np.zeros(n_rows)
    # The log Jacobian is half the log of the product of the variances: multiplied up, and taken
    # to a log only before the product could leave the floating-point range, so a path costs a
    # handful of logarithms rather than one a week.
    product = np.empty(n_rows)
    last = n_weeks - 1
    for r in range(n_rows):
        sd[last, r] = math.sqrt(var[last, r])
        x[last, r] = mean[last, r] + sd[last, r] * eps[last, r]
        product[r] = var[last, r] if var[last, r] > 0.0 else 1.0
    for w in range(last - 1, -1, -1):
        for r in range(n_rows):
            total = var[w, r] + q[w + 1, r]
            gain[w, r] = var[w, r] / total if total > 0.0 else 0.0
            variance = gain[w, r] * q[w + 1, r]
            sd[w, r] = math.sqrt(variance)
            x[w, r] = mean[w, r] + gain[w, r] * (x[w + 1, r] - mean[w, r]) + sd[w, r] * eps[w, r]
            product[r] *= variance if variance > 0.0 else 1.0
        for r in range(n_rows):
            if product[r] < 1e-250 or product[r] > 1e250:
                log_jacobian[r] += 0.5 * math.log(product[r])
                product[r] = 1.0
    for r in range(n_rows):
        log_jacobian[r] += 0.5 * math.log(product[r])
    return x, log_jacobian, var, mean, gain, sd, inverse


@kernel
def backward(h: np.ndarray, g: np.ndarray, q: np.ndarray, p0: np.ndarray, eps: np.ndarray, x: np.ndarray, var: np.ndarray,
             mean: np.ndarray, gain: np.ndarray, sd: np.ndarray, inverse: np.ndarray, x_bar: np.ndarray,
             log_jacobian_bar: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reverse mode of `forward` on (W, R) arrays, from its outputs: the gradients with respect
    to (h, g, q, m0, p0, eps) of sum(x_bar * x) + sum(log_jacobian_bar * log_jacobian)."""
    n_weeks, n_rows = h.shape
    xb = x_bar.copy()  # it accumulates
    h_bar, g_bar = np.empty((n_weeks, n_rows)), np.empty((n_weeks, n_rows))
    q_bar, eps_bar = np.zeros((n_weeks, n_rows)), np.empty((n_weeks, n_rows))
    var_bar, mean_bar = np.zeros((n_weeks, n_rows)), np.zeros((n_weeks, n_rows))
    m0_bar, p0_bar = np.zeros(n_rows), np.zeros(n_rows)
    # Backward sampling, undone in reverse order: week 0 first, since x[w] feeds x[w-1] only.
    for w in range(n_weeks - 1):
        for r in range(n_rows):
            step_var = q[w + 1, r]
            k = gain[w, r]
            xb_w = xb[w, r]
            xb[w + 1, r] += k * xb_w
            mean_bar[w, r] += (1.0 - k) * xb_w
            eps_bar[w, r] = sd[w, r] * xb_w
            gain_bar = xb_w * (x[w + 1, r] - mean[w, r])
            if sd[w, r] > 0.0:
                half_inverse_sd = 0.5 / sd[w, r]
                sd_bar = xb_w * eps[w, r] + log_jacobian_bar[r] * 2.0 * half_inverse_sd
                gain_bar += sd_bar * step_var * half_inverse_sd
                q_bar[w + 1, r] += sd_bar * k * half_inverse_sd
            # k = var / (var + q): dk/dvar = (1 - k) / total and dk/dq = -k / total, total = var + q.
            total = var[w, r] + step_var
            if total > 0.0:
                var_bar[w, r] += gain_bar * (1.0 - k) / total
                q_bar[w + 1, r] -= gain_bar * k / total
    last = n_weeks - 1
    for r in range(n_rows):
        mean_bar[last, r] += xb[last, r]
        eps_bar[last, r] = sd[last, r] * xb[last, r]
        if sd[last, r] > 0.0:
            var_bar[last, r] += xb[last, r] * eps[last, r] / (2.0 * sd[last, r]) + log_jacobian_bar[r] / (2.0 * var[last, r])
    # The filter, in reverse.
    for w in range(last, -1, -1):
        for r in range(n_rows):
            prior_var = p0[r] if w == 0 else var[w - 1, r] + q[w, r]
            inv = inverse[w, r]
            prior_var_bar = var_bar[w, r] * inv * inv + mean_bar[w, r] * (g[w, r] - mean[w, r] * h[w, r]) * inv
            h_bar[w, r] = -var_bar[w, r] * prior_var * prior_var * inv * inv - mean_bar[w, r] * mean[w, r] * prior_var * inv
            g_bar[w, r] = mean_bar[w, r] * prior_var * inv
            prior_mean_bar = mean_bar[w, r] * inv
            if w == 0:
                p0_bar[r] = prior_var_bar
                m0_bar[r] = prior_mean_bar
            else:
                var_bar[w - 1, r] += prior_var_bar
                q_bar[w, r] += prior_var_bar
                mean_bar[w - 1, r] += prior_mean_bar
    return h_bar, g_bar, q_bar, m0_bar, p0_bar, eps_bar


@kernel
def kalman_path(
    h: np.ndarray, g: np.ndarray, q: np.ndarray, m0: np.ndarray, p0: np.ndarray, eps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(paths x (K, W), log Jacobian per factor (K,), filtered variances, filtered means) for
    the standard normals `eps` (K, W) and step variances `q` (K, W; q[:, 0] unused). The filter's
    output is returned for the gradient, laid out (W, K).

    A state with zero variance (a fixed initial level) is set, not drawn: its ε has no effect
    and no Jacobian term.
    """
    x, log_jacobian, var, mean, _, _, _ = forward(np.ascontiguousarray(h.T), np.ascontiguousarray(g.T),
                                                   np.ascontiguousarray(q.T), m0, p0, np.ascontiguousarray(eps.T))
    return np.ascontiguousarray(x.T), log_jacobian, var, mean


@kernel
def kalman_path_vjp(
    h: np.ndarray, g: np.ndarray, q: np.ndarray, p0: np.ndarray, eps: np.ndarray,
    x: np.ndarray, var: np.ndarray, mean: np.ndarray, x_bar: np.ndarray, log_jacobian_bar: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reverse mode of `kalman_path`, from its outputs (var and mean as it returns them, (W, K)):
    the gradients with respect to (h, g, q, m0, p0, eps), each (K, W) or (K,), of
    sum(x_bar * x) + sum(log_jacobian_bar * log_jacobian). The forward pass's gains, standard
    deviations and divisors are recomputed from var (the Op's interface carries only var, mean)."""
    hT, qT = np.ascontiguousarray(h.T), np.ascontiguousarray(q.T)
    n_weeks, n_rows = hT.shape
    gain, sd, inverse = np.zeros((n_weeks, n_rows)), np.empty((n_weeks, n_rows)), np.empty((n_weeks, n_rows))
    for w in range(n_weeks):
        for r in range(n_rows):
            prior_var = p0[r] if w == 0 else var[w - 1, r] + qT[w, r]
            inverse[w, r] = 1.0 / (1.0 + prior_var * hT[w, r])
            if w < n_weeks - 1:
                total = var[w, r] + qT[w + 1, r]
                gain[w, r] = var[w, r] / total if total > 0.0 else 0.0
                sd[w, r] = math.sqrt(gain[w, r] * qT[w + 1, r])
            else:
                sd[w, r] = math.sqrt(var[w, r])
    h_bar, g_bar, q_bar, m0_bar, p0_bar, eps_bar = backward(
        hT, np.ascontiguousarray(g.T), qT, p0, np.ascontiguousarray(eps.T), np.ascontiguousarray(x.T), var, mean, gain, sd,
        inverse, np.ascontiguousarray(x_bar.T), log_jacobian_bar)
    return (np.ascontiguousarray(h_bar.T), np.ascontiguousarray(g_bar.T), np.ascontiguousarray(q_bar.T), m0_bar, p0_bar,
            np.ascontiguousarray(eps_bar.T))


def t_reading_precision[T: (np.ndarray, float)](nu: T, scale: T) -> T:
    """The one Gaussian stand-in for a Student-t reading: the normal with the t's Fisher
    information about its location, (nu + 1) / ((nu + 3) scale^2). Plain arithmetic, so it
    serves numpy arrays (the incremental update) and PyTensor tensors (the fit) alike."""
    return (nu + 1) / ((nu + 3) * scale**2)
