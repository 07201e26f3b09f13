"""`forecast priors learn`: a stored run's posterior as a priors folder an analyst can read and edit.

Each prior entry the run sampled becomes a distribution of the same kind fitted to its posterior
draws: a location (Normal, StudentT) by its posterior mean and standard deviation, a positive
scale (volatility, noise, a multiplier, a break's step) as a LogNormal by the mean and standard
deviation of its log. Entries the run held fixed stay fixed. The obstacles' initial levels are
the run's levels in its last week, and `start` that week: the learned priors describe the
negotiation where the run left it. After a logged break the deal baselines are the run's current
ones (the baseline plus every break's shift); the prior of a future break's shift stays the
analyst's, as one break teaches little of the next.

**Widening.** Every learned standard deviation is multiplied by `widen` (default 2). It is a
power prior (Ibrahim and Chen 2000): the run's likelihood raised to 1 / widen^2, a quarter by
default, which for a normal posterior multiplies its standard deviation by `widen`. A quarter,
because the next period is not the last: the record's own breaks (the annexation, the invasion)
changed obstacles and deal rates at once, and a prior that carried the whole of eight years
would take years of new data to move. With a quarter of their weight, the learned entries carry
about two years of the old record's evidence: enough to start from its rates, little enough that
the new period's own readings and deals overtake it within a year or two. Each entry's rationale
names the run, its log's hash, the posterior summary and the widening; the analyst's original
rationale follows it.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from forecast.conventions import BREAK, DEAL, FACTOR, OCCASION
from forecast.errors import InputError
from forecast.io.ledger import RunRecord
from forecast.io.priors import Param, Priors

WIDEN = 2.0
LOCATION = {"Normal", "StudentT"}


def learned_content(priors: Priors, posterior: xr.Dataset, run: RunRecord, widen: float = WIDEN) -> dict[str, Any]:
    """The priors files' content (file name -> mapping) learned from `run`'s `posterior`."""
    if widen < 1:
        raise InputError(f"--widen must be at least 1 (it widens, never narrows), got {widen:g}")
    content = copy.deepcopy(priors.content)
    origin = _origin(run, widen)
    factors = content["factors.yaml"]["factors"]
    last_week = str(posterior["theta"]["week"].values[-1])
    for key, factor in priors.factors.items():
        entry = factors[key]
        entry["initial"] = _normal(posterior["theta"].sel({FACTOR: key}).isel(week=-1), widen, origin,
                                   f"the level in the run's last week ({last_week})", factor.initial)
        entry["volatility"] = _learned(factor.volatility, posterior["volatility"].sel({FACTOR: key}), widen, origin)
        if factor.break_step is not None and "break_step" in posterior:
            entry["break_step"] = _learned(factor.break_step, posterior["break_step"].sel({FACTOR: key}), widen, origin)
    outcomes = content["outcomes.yaml"]
    outcomes["start"] = {"value": dt.date.fromisoformat(last_week),
                         "rationale": f"The week the learned run ended ({last_week}): {origin}.", "source": _source(run)}
    shift = posterior["break_shift"].sum(BREAK) if "break_shift" in posterior else 0.0
    for key, deal in priors.outcomes.deals.items():
        entry = outcomes["deals"][key]
        current = posterior["baseline"].sel({DEAL: key}) + (shift.sel({DEAL: key}) if "break_shift" in posterior else 0.0)
        label = "the baseline plus the shift of every break the run saw" if "break_shift" in posterior else "the baseline"
        entry["baseline"] = _learned(deal.baseline, current, widen, origin, label)
        for factor_key, effect in deal.effects.items():
            entry["effects"][factor_key] = _learned(effect, posterior["effect"].sel({DEAL: key, FACTOR: factor_key}), widen, origin)
    for key, occasion in priors.outcomes.occasions.items():
        for deal_key, effect in occasion.effects.items():
            draws = posterior["occasion_effect"].sel({DEAL: deal_key, OCCASION: key})
            outcomes["occasions"][key]["effects"][deal_key] = _learned(effect, draws, widen, origin)
    observation = content["observation.yaml"]
    observation["noise"] = _learned(priors.observation.noise, posterior["noise"], widen, origin)
    observation["nu"] = _learned(priors.observation.nu, posterior["nu"], widen, origin)
    for grade, param in priors.observation.reliability.items():
        observation["reliability"][grade] = _learned(param, posterior["reliability_multiplier"].sel(reliability=grade), widen, origin)
    for grade, param in priors.observation.credibility.items():
        observation["credibility"][grade] = _learned(param, posterior["credibility_multiplier"].sel(credibility=grade), widen, origin)
    if priors.observation.house_effect is not None and "house_effect" in posterior:
        observation["house_effect"] = _learned(priors.observation.house_effect, posterior["house_effect"], widen, origin)
    return content


def _origin(run: RunRecord, widen: float) -> str:
    return (f"learned from run {run.run_id} (log data hash {run.data_hash[:12]}, as of {run.as_of}), widened x{widen:g} "
            f"(a power prior keeping 1/{widen * widen:g} of the run's evidence)")


def _source(run: RunRecord) -> str:
    return f"forecast priors learn --run {run.run_id}; the run's ledger data hash {run.data_hash}; priors hash {run.priors_hash}"


def _learned(param: Param, draws: xr.DataArray, widen: float, origin: str, what: str = "the posterior") -> dict[str, Any]:
    """A prior entry fitted to `draws` (a fixed entry stays as it is)."""
    if param.fixed:
        return {"value": param.value, "rationale": param.rationale, "source": param.source}
    values = np.asarray(draws.values, dtype=float).ravel()
    if param.dist in LOCATION:
        return _normal(draws, widen, origin, what, param)
    logs = np.log(values)
    mu, sigma = float(np.mean(logs)), float(np.std(logs, ddof=1)) * widen
    return {"dist": "LogNormal", "kwargs": {"mu": round(mu, 4), "sigma": round(max(sigma, 1e-3), 4)},
            "rationale": f"{what[0].upper()}{what[1:]} {_summary(values)}, {origin}: a LogNormal with the mean and (widened) "
                         f"sd of its log. Before: {param.rationale}",
            "source": param.source}


def _normal(draws: xr.DataArray, widen: float, origin: str, what: str, param: Param) -> dict[str, Any]:
    values = np.asarray(draws.values, dtype=float).ravel()
    mean, sd = float(np.mean(values)), float(np.std(values, ddof=1)) * widen
    return {"dist": "Normal", "kwargs": {"mu": round(mean, 4), "sigma": round(max(sd, 1e-3), 4)},
            "rationale": f"{what[0].upper()}{what[1:]} {_summary(values)}, {origin}. Before: {param.rationale}",
            "source": param.source}


def _summary(values: np.ndarray) -> str:
    lo, hi = np.quantile(values, [0.05, 0.95])
    return f"had mean {np.mean(values):.3g}, sd {np.std(values, ddof=1):.3g}, 5-95 % {lo:.3g} to {hi:.3g}"


def posterior_of(tree: xr.DataTree) -> xr.Dataset:
    return tree["posterior"].to_dataset()


def summary_rows(before: Priors, after: Priors) -> list[tuple[str, str, str]]:
    """(entry, before, after) for the terminal: what the run taught each sampled entry."""
    rows = []
    for key, factor in before.factors.items():
        rows.append((f"{key}.initial", _shown(factor.initial), _shown(after.factors[key].initial)))
        rows.append((f"{key}.volatility", _shown(factor.volatility), _shown(after.factors[key].volatility)))
    for key, deal in before.outcomes.deals.items():
        rows.append((f"{key}.baseline", _shown(deal.baseline), _shown(after.outcomes.deals[key].baseline)))
        for factor_key, effect in deal.effects.items():
            rows.append((f"{key}.effect.{factor_key}", _shown(effect), _shown(after.outcomes.deals[key].effects[factor_key])))
    return rows


def _shown(param: Param) -> str:
    if param.fixed:
        return f"{param.value:g}"
    kwargs: Mapping[str, float] = param.kwargs
    return f"{param.dist}({', '.join(f'{k}={v:.3g}' for k, v in kwargs.items())})"

