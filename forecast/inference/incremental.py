"""Incremental update: the last sampled run's posterior, reweighted by what is new since.

A few new events change the posterior a little. Instead of sampling again, the base run's draws
are carried to the new as-of date and weighted by the likelihood of the new information:

1. The obstacle walk is extended over the new weeks by simulating it forward from each draw
   (its prior given that draw), so every draw covers the new weeks.
2. Each draw's weight is p(new information | draw): new signals and outcomes, each new week's
   observed "no deal", and 1 / p for events withdrawn since.
3. Pareto-smoothed importance sampling gives the weights and their k-hat. If k < 0.7 and the
   weights keep at least `MIN_ESS_SHARE` of the draws, the draws are resampled in proportion to
   their weights and stored as the new run; otherwise the caller refits.

Weights are always taken against a run that was *sampled*, never one that was itself
reweighted, so resampling never compounds: each increment re-weights the last NUTS run by
everything new since it, and k rises until a refit is due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from forecast.conventions import BREAK, CODER, FACTOR, WEEK
from forecast.inference.importance import importance_weights
from forecast.io.events import Event
from forecast.model.dataset import ModelData, active_events, occasion_arrays, outcome_counts
from forecast.model.kalman_path import kalman_path, t_reading_precision
from forecast.model.likelihood_on_draws import Draws, Signals, student_t_logpdf
from forecast.model.walk import draw_step_precision, draw_steps, gaussian_step_logpdf, has_jumps

STEP = "step"
MIN_ESS_SHARE = 0.1  # below a tenth of the draws, a refit is cheaper than trusting the weights


@dataclass(frozen=True)
class Reweighted:
    posterior: xr.Dataset  # equal-weight draws on the new weeks, (chain, draw, ...)
    pareto_k: float
    ess: float  # effective sample size of the weights


@dataclass(frozen=True)
class Declined:
    reason: str
    pareto_k: float | None = None


def reweight(
    base: xr.Dataset,
    data: ModelData,
    events_base: Sequence[Event],
    as_of_base: dt.date,
    events_now: Sequence[Event],
    *,
    seed: int,
) -> Reweighted | Declined:
    old_weeks = [dt.date.fromisoformat(str(w)) for w in base[WEEK].values]
    if tuple(old_weeks) != data.weeks[: len(old_weeks)]:
        return Declined("the model's weeks changed (an event earlier than the first week, or an earlier as-of date)")
    if list(base[FACTOR].values) != list(data.factors):
        return Declined("the factors changed")
    coders_base = [str(c) for c in base[CODER].values] if CODER in base.coords else [""]
    if coders_base != list(data.coders) and (len(coders_base) > 1 or len(data.coders) > 1):
        # A new coder brings offsets the base run's draws do not hold.
        return Declined("the coders changed")
    breaks_base = [str(b) for b in base[BREAK].values] if BREAK in base.coords else []
    if breaks_base != [data.weeks[w].isoformat() for w in data.break_weeks]:
        # A new break brings parameters (its step, its shift) the base run's draws do not hold.
        return Declined("the logged breaks changed")
    before = {e.event_id: e for e in active_events(events_base, as_of_base)[0]}
    now = {e.event_id: e for e in active_events(events_now, data.as_of)[0]}
    added = [e for i, e in now.items() if i not in before and e.kind == "signal"]
    removed = [e for i, e in before.items() if i not in now and e.kind == "signal"]
    # Readings in the new weeks guide the extension of the walk; those in old weeks reweight.
    first_new = data.weeks[len(old_weeks)] if len(data.weeks) > len(old_weeks) else None
    ahead = [e for e in added if first_new is not None and e.date >= first_new]
    added = [e for e in added if e not in ahead]
    guide = Signals.of(ahead, data.factors, first_new, data.coders) if ahead else None
    extended, log_w = _extend(base, data.weeks[len(old_weeks):], np.random.default_rng([seed, 4]), guide)
    draws = Draws.from_dataset(extended)

    counts_before = np.zeros_like(data.outcome_counts)
    counts_before[: len(old_weeks)] = outcome_counts([e for e in before.values() if e.kind == "outcome"], old_weeks, data.deals)

    # New weeks carry their whole outcome row: they were not observed at all before.
    occasions_before = occasion_arrays(list(before.values()), data.occasions, data.weeks, 1,
                                       data.occasion_follows)["occasion_counts"] if data.occasions else None
    if occasions_before is not None:
        occasions_before[len(old_weeks):] = 0  # weeks the base run never saw carry their whole likelihood below
    log_w += draws.change_log_likelihood(added, removed, data.factors, data.weeks[0],
                                         outcomes_a=(counts_before, occasions_before),
                                         outcomes_b=(data.outcome_counts, data.occasion_counts))

    weights = importance_weights(log_w)
    if not weights.reliable:
        return Declined(f"the new events move the posterior too far to reweight (Pareto k {weights.pareto_k:.2f})", weights.pareto_k)
    if weights.ess < MIN_ESS_SHARE * draws.n_draws:
        return Declined(f"the reweighted draws are worth only {weights.ess:.0f} of {draws.n_draws}", weights.pareto_k)
    chosen = _systematic_resample(weights.weights, np.random.default_rng([seed, 5]))
    return Reweighted(_take(extended, chosen), weights.pareto_k, weights.ess)


def _extend(
    ds: xr.Dataset,
    new_weeks: Sequence[dt.date],
    rng: np.random.Generator,
    readings: Signals | None = None,
) -> tuple[xr.Dataset, np.ndarray]:
    """Every draw's walk carried over `new_weeks`, guided by the `readings` in those weeks.

    With no readings, the walk is simulated forward from its prior (walk.py: a calm step, now
    and then a jump). With readings, that proposal would be poor (precise news lands far from
    most simulated paths, and the weights collapse), so the new weeks are drawn instead from the
    linear-Gaussian posterior given the readings (`_guided_paths`): the sampler's own Kalman
    transform from each draw's last level. The log of each draw's exact weight correction is
    returned as the second value (zeros without readings). `readings.week` counts from the first
    new week.
    """
    theta = ds["theta"].transpose("chain", "draw", FACTOR, WEEK)
    n_draws = ds.sizes["chain"] * ds.sizes["draw"]
    correction = np.zeros(n_draws)
    if not new_weeks:
        return ds, correction
    volatility = ds["volatility"].transpose("chain", "draw", FACTOR).values.reshape(n_draws, -1)  # (D, K)
    last = theta.values[..., -1].reshape(n_draws, -1)
    n_new = len(new_weeks)
    draws = Draws.from_dataset(ds)
    if readings is None or len(readings) == 0:
        path = last[..., None] + np.cumsum(draw_steps(volatility, draws.step_nu, n_new, rng), axis=-1)
    else:
        path, correction = _guided_paths(draws, last, volatility, n_new, readings, rng)
    z = np.diff(np.concatenate([last[..., None], path], axis=-1), axis=-1) / volatility[..., None]
    shape = (ds.sizes["chain"], ds.sizes["draw"])
    path = path.reshape(*shape, *path.shape[1:])
    z = z.reshape(*shape, *z.shape[1:])
    labels = [w.isoformat() for w in new_weeks]
    kept = {d: theta.coords[d] for d in ("chain", "draw", FACTOR) if d in theta.coords}
    new_theta = xr.DataArray(path, dims=theta.dims, coords={**kept, WEEK: labels})
    out = ds.drop_vars(["theta", "innovation"], errors="ignore")
    out = out.drop_dims([d for d in (WEEK, STEP) if d in out.dims], errors="ignore")
    out["theta"] = xr.concat([theta, new_theta], dim=WEEK)
    if "innovation" in ds:
        innovation = ds["innovation"].transpose("chain", "draw", FACTOR, STEP)
        new_z = xr.DataArray(z, dims=innovation.dims, coords={**kept, STEP: labels})
        out["innovation"] = xr.concat([innovation, new_z], dim=STEP)
    return out, correction


def _guided_paths(draws: Draws, last: np.ndarray, volatility: np.ndarray, n_new: int, readings: Signals,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Forward filter, backward sample, for every draw and factor at once: (paths (D, K, n_new), log weight correction (D,)).

    The paths are the sampler's own transform (`kalman_path`) in its own linear-Gaussian
    stand-in (`t_reading_precision`), run with one row per draw and factor, starting from the
    last observed week as a fixed state. The proposal density of a path is that of its standard
    normals less the transform's log Jacobian, so the exact weight needs no marginal likelihood:

        log w = log p(path | last level, walk) + sum_i log t(y_i | path) - log q(path).

    With Student-t steps (walk.py), each new week's step precision is first drawn from its
    prior; given it, the walk is Gaussian and the stand-in is the walk's own, and the precision's
    prior cancels from the weight.
    """
    n, k = last.shape
    scale = draws.noise[:, None] * draws.reliability[:, readings.reliability] * draws.credibility[:, readings.credibility]
    precision = t_reading_precision(draws.nu[:, None], scale)  # (D, N)
    # Each reading less its coder's offset: what it says of its obstacle's level (docs/MODEL.md, Coders).
    offset = (draws.coder_offset[:, readings.factor, readings.coder] if draws.coder_offset is not None and readings.coder is not None
              else np.zeros((n, len(readings))))
    h = np.zeros((n, k, n_new + 1))
    g = np.zeros((n, k, n_new + 1))
    for i in range(len(readings)):  # week 0 is the last observed week, set to each draw's level
        h[:, readings.factor[i], readings.week[i] + 1] += precision[:, i]
        g[:, readings.factor[i], readings.week[i] + 1] += precision[:, i] * (readings.value[i] - offset[:, i])
    eps = rng.standard_normal((n * k, n_new + 1))
    step_variance = np.repeat(volatility.reshape(-1, 1) ** 2, n_new + 1, axis=1)  # column 0 unused
    if has_jumps(draws.step_nu):
        step_variance[:, 1:] /= draw_step_precision(draws.step_nu.reshape(-1), (n_new,), rng)
    x, log_jacobian, _, _ = kalman_path(h.reshape(n * k, -1), g.reshape(n * k, -1), step_variance,
                                        last.reshape(-1), np.zeros(n * k), eps)
    x = x.reshape(n, k, n_new + 1)
    log_proposal = (-0.5 * (eps[:, 1:] ** 2 + np.log(2 * np.pi))).sum(axis=1) - log_jacobian
    log_walk = gaussian_step_logpdf(np.diff(x, axis=2), step_variance[:, 1:].reshape(n, k, n_new)).sum(axis=2)
    level = x[np.arange(n)[:, None], readings.factor[None, :], readings.week[None, :] + 1] + offset
    log_t = student_t_logpdf(readings.value[None, :], draws.nu[:, None], level, scale).sum(axis=1)
    return x[..., 1:], (log_walk - log_proposal.reshape(n, k)).sum(axis=1) + log_t


def _systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices drawn in proportion to `weights`, with the least added noise (one uniform)."""
    n = weights.size
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), n - 1)


def _take(ds: xr.Dataset, chosen: np.ndarray) -> xr.Dataset:
    """The draws at flat (chain-major) indices `chosen`, back in the (chain, draw) shape."""
    shape = (ds.sizes["chain"], ds.sizes["draw"])
    out = {}
    for name, var in ds.data_vars.items():
        values = var.transpose("chain", "draw", ...).values
        flat = values.reshape(shape[0] * shape[1], *values.shape[2:])[chosen]
        out[name] = (var.transpose("chain", "draw", ...).dims, flat.reshape(*shape, *values.shape[2:]))
    return xr.Dataset(out, coords=ds.coords, attrs=ds.attrs)
