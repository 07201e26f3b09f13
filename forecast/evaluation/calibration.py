"""Simulation-based calibration (Talts et al. 2018) of the whole model on small problems.

For each replication: draw every parameter and a log from the model (prior predictive), fit
the log, and record the rank of each true value among thinned posterior draws. If the sampler
and the model agree, each rank is uniform on 0..L. Uniformity is tested with a chi-square test
on equal-width bins of the rank.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from forecast.evaluation.engine import Engine
from forecast.evaluation.simulate import outcomes_in_runs
from forecast.inference.sampler import sample
from forecast.io.priors import Priors
from forecast.model.dataset import ModelData, deal_run_counts
from forecast.model.density import compile_density
from forecast.model.graph import build_model
from forecast.model.reading_groups import contested_groups
from forecast.model.skeleton import skeleton_dataset

CHECKED = ("volatility", "noise", "baseline", "effect")


@dataclass(frozen=True)
class SbcSettings:
    replications: int = 200
    n_signals: int = 24
    n_weeks: int = 6
    draws: int = 1000  # per chain, before thinning
    tune: int = 500
    chains: int = 2
    ranks_from: int = 99  # L: thinned draws per replication, ranks run 0..L
    seed: int = 20250221


def run_sbc(priors: Priors, settings: SbcSettings, progress: Callable[[int, int], None] | None = None,
            engine: Engine | None = None) -> pd.DataFrame:
    """Ranks: one row per replication and checked scalar (parameter, rank, L, divergences).

    One design (which factor, week and grades each reading has) serves every replication; one
    prior predictive call draws every replication's parameters and data. Readings are not
    clipped to [-3, 3]: the logs must be exactly the model's. Each replication's fit is a task of
    `engine` (by default here, one after another), carrying its data, truth and seed.
    """
    import pymc as pm

    rng = np.random.default_rng(settings.seed)
    skeleton = skeleton_dataset(priors, n_signals=settings.n_signals, n_weeks=settings.n_weeks, rng=rng)
    truth = pm.sample_prior_predictive(draws=settings.replications, model=build_model(skeleton, priors), random_seed=rng)
    prior = truth.prior.to_dataset().isel(chain=0)
    predictive = truth.prior_predictive.to_dataset().isel(chain=0)
    outcomes = predictive["outcome_counts"].values.astype(np.int64)
    follows = [o.follows for o in priors.outcomes.occasions.values()]
    if any(follows):
        # Deals come in runs: outcomes drawn week by week, and the fit reads the runs they make.
        outcomes = outcomes_in_runs(prior, priors, rng)
    checked = [name for name in CHECKED if name in {rv.name for rv in build_model(skeleton, priors).free_RVs}]

    tasks = []
    for r in range(settings.replications):
        data = dataclasses.replace(
            skeleton,
            signal_value=predictive["signal"].isel(draw=r).values,
            outcome_counts=outcomes[r],
            **({"occasion_counts": deal_run_counts(outcomes[r], skeleton.deals, follows)} if any(follows) else {}),
        )
        truths = {name: (np.atleast_1d(prior[name].isel(draw=r).values).ravel(), prior[name].ndim == 1) for name in checked}
        tasks.append(Replication(r, data, priors, settings, truths))
    rows = []
    for done, found in enumerate((engine or Engine(jobs=1)).map(fit_replication, tasks), start=1):
        rows.extend(found)
        if progress:
            progress(done, settings.replications)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Replication:
    """One replication's fit, sent whole to a worker."""

    number: int
    data: ModelData
    priors: Priors
    settings: SbcSettings
    truths: dict[str, tuple[np.ndarray, bool]]  # name -> (true values, scalar)


def fit_replication(task: Replication) -> list[dict]:
    """The rank of each true value among the replication's thinned posterior draws."""
    settings, data, priors = task.settings, task.data, task.priors
    trace, diagnostics = sample(compile_density(data, priors), data, priors, draws=settings.draws, tune=settings.tune,
                                chains=settings.chains, seed=settings.seed + task.number, progress=False,
                                reading_groups=contested_groups(data, priors), cores=1)
    posterior = trace.posterior.to_dataset().stack(sample=("chain", "draw"))
    keep = np.linspace(0, posterior.sizes["sample"] - 1, settings.ranks_from).round().astype(int)  # thin to L
    rows = []
    for name, (true_values, scalar) in task.truths.items():
        draws = posterior[name].transpose("sample", ...).values[keep].reshape(len(keep), -1)
        for i, (true_value, column) in enumerate(zip(true_values, draws.T)):
            label = name if scalar else f"{name}[{i}]"
            rows.append({"replication": task.number, "parameter": label, "rank": int((column < true_value).sum()),
                         "L": settings.ranks_from, "divergences": diagnostics.divergences})
    return rows


def uniformity(ranks: pd.DataFrame, bins: int) -> pd.DataFrame:
    """Chi-square test of uniform ranks per parameter: statistic, p-value, and the counts per bin."""
    out = []
    for parameter, group in ranks.groupby("parameter", sort=False):
        L = int(group["L"].iloc[0])
        counts = np.bincount(np.minimum(group["rank"].values * bins // (L + 1), bins - 1), minlength=bins)
        statistic, p_value = stats.chisquare(counts)
        out.append({"parameter": parameter, "replications": len(group), "chi2": float(statistic),
                    "p_value": float(p_value), "counts": counts.tolist()})
    return pd.DataFrame(out)
