"""The numbers behind the brief's model-health page.

* Convergence per parameter group (R-hat, bulk and tail ESS), so a failure can be traced to
  the part of the model that caused it.
* Prior against posterior for the volatilities, the noise, the baselines and the effects, with
  how much the data narrowed each 5-95 % interval (1 - posterior width / prior width): near 0,
  the number is the prior speaking; near 1, the data.
* Posterior predictive checks: where each observed signal falls in its predictive distribution
  (its PIT; a well-specified model puts about 10 % outside the 5-95 % range), and the number
  of weeks with each deal type against what the fitted model replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from forecast.conventions import BREAK, DEAL, ESS_PER_CHAIN_MIN, FACTOR, INTERVAL, RHAT_MAX, WEEK
from forecast.inference.convergence import convergence, mcse_mean, stacked
from forecast.io.priors import Priors
from forecast.model.likelihood_on_draws import Draws, Signals
from forecast.model.prior_distributions import FrozenDistribution, prior_distribution

# (variable, what the brief calls it); theta only at the as-of week, which is what the forecast uses.
PARAMETER_GROUPS = (
    ("theta", "Obstacle levels, as-of week"),
    ("initial", "Obstacle levels, first week"),
    ("volatility", "Weekly volatilities"),
    ("noise", "Signal noise"),
    ("nu", "Signal tail weight (nu)"),
    ("baseline", "Deal baselines"),
    ("effect", "Obstacle effects on deals"),
)


def convergence_table(posterior: xr.Dataset, chains: int) -> pd.DataFrame:
    """One row per sampled parameter group: size, worst R-hat, worst bulk and tail ESS, verdict.

    Computed as `inference.diagnose` computes the run's own figures, group by group.
    """
    rows = []
    for name, label in PARAMETER_GROUPS:
        values = posterior[name]
        if name == "theta":
            values = values.isel({WEEK: -1})
        if float(values.std(("chain", "draw")).max()) == 0:
            continue  # fixed by the priors: nothing was sampled
        r_hats, bulks, tails = convergence(stacked(values.to_dataset(name=name), [name]))
        r_hat, bulk, tail = float(np.max(r_hats)), float(np.min(bulks)), float(np.min(tails))
        ok = r_hat <= RHAT_MAX and bulk >= ESS_PER_CHAIN_MIN * chains and tail >= ESS_PER_CHAIN_MIN * chains
        rows.append({"parameter": label, "size": int(values.size // (values.sizes["chain"] * values.sizes["draw"])),
                     "r_hat_max": r_hat, "ess_bulk_min": bulk, "ess_tail_min": tail, "ok": bool(ok)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PriorPosterior:
    label: str
    prior: FrozenDistribution  # frozen scipy distribution
    posterior: np.ndarray  # draws
    prior_interval: tuple[float, float]
    posterior_interval: tuple[float, float]
    posterior_mean: float

    @property
    def narrowing(self) -> float:
        """1 - posterior width / prior width of the 5-95 % interval."""
        width = self.prior_interval[1] - self.prior_interval[0]
        return 1.0 - (self.posterior_interval[1] - self.posterior_interval[0]) / width


def prior_posterior(posterior: xr.Dataset, priors: Priors) -> tuple[list[PriorPosterior], list[str]]:
    """Prior and posterior of the key parameters; and a line for each one fixed by the priors."""
    factors = priors.factors
    deals = priors.outcomes.deals
    entries = [(f"Volatility: {f.label}", f.volatility, posterior["volatility"].sel({FACTOR: k})) for k, f in factors.items()]
    entries.append(("Signal noise", priors.observation.noise, posterior["noise"]))
    entries += [(f"Baseline: {d.label}", d.baseline, posterior["baseline"].sel({DEAL: j})) for j, d in deals.items()]
    entries += [
        (f"Effect of {factors[k].label} on {d.label}", d.effects[k], posterior["effect"].sel({DEAL: j, FACTOR: k}))
        for j, d in deals.items() for k in factors
    ]
    if "break_step" in posterior:  # a logged break (docs/MODEL.md, "Breaks")
        entries += [(f"Break step: {f.label}", f.break_step, posterior["break_step"].sel({FACTOR: k})) for k, f in factors.items()]
        entries += [(f"Shift at the break of {week}: {d.label}", d.break_shift, posterior["break_shift"].sel({DEAL: j, BREAK: week}))
                    for week in posterior[BREAK].values for j, d in deals.items()]
    if "house_effect" in posterior:  # several coders (docs/MODEL.md, "Coders")
        entries.append(("Coders' spread (house-effect sd)", priors.observation.house_effect, posterior["house_effect"]))
    rows, fixed = [], []
    for label, param, values in entries:
        if param.fixed:
            fixed.append(f"{label}: fixed at {param.value:g} by the priors")
            continue
        draws = values.values.ravel()
        dist = prior_distribution(param)
        rows.append(PriorPosterior(
            label=label, prior=dist, posterior=draws,
            prior_interval=tuple(float(x) for x in dist.ppf(INTERVAL)),
            posterior_interval=tuple(float(x) for x in np.quantile(draws, INTERVAL)),
            posterior_mean=float(draws.mean()),
        ))
    return rows, fixed


@dataclass(frozen=True)
class SignalCheck:
    pit: np.ndarray  # (N,) posterior predictive CDF at each observed signal
    outside: float  # share outside the 5-95 % predictive range (about 0.10 expected)

    def most_surprising(self, n: int) -> np.ndarray:
        """Indices of the n signals furthest into a tail of their predictive distribution."""
        return np.argsort(-np.abs(self.pit - 0.5), kind="stable")[:n]


def signal_check(draws: Draws, signals: Signals) -> SignalCheck:
    pit = draws.signal_pit(signals)
    lo, hi = INTERVAL
    outside = float(np.mean((pit < lo) | (pit > hi))) if len(pit) else float("nan")
    return SignalCheck(pit, outside)


@dataclass(frozen=True)
class OutcomeCheck:
    label: str
    observed: int  # weeks with this outcome
    replicated: np.ndarray  # (D,) the same count in each replicated history
    p_at_least: float  # P(replicated >= observed)
    p_at_most: float

    @property
    def tail(self) -> float:
        """Two-sided posterior predictive p-value: small when the record is extreme either way."""
        return min(1.0, 2 * min(self.p_at_least, self.p_at_most))

    @property
    def interval(self) -> tuple[int, int]:
        lo, hi = np.quantile(self.replicated, INTERVAL)
        return int(lo), int(hi)


def outcome_check(draws: Draws, counts: np.ndarray, labels: list[str], rng: np.random.Generator,
                  occasions: np.ndarray | None = None) -> list[OutcomeCheck]:
    """Weeks with each deal type, and with any deal, observed against replicated histories.

    Each replicated week draws one categorical outcome from that draw's weekly probabilities,
    as the model's likelihood does for a week with a single outcome.
    """
    p = np.exp(draws.weekly_log_probabilities(occasions))  # (D, W, J + 1): with the weeks' occasions and breaks
    u = rng.random(p.shape[:2])[..., None]
    category = (u > np.cumsum(p, axis=2)).sum(axis=2)  # (D, W): 0 = no deal, j = deal type j
    category = np.minimum(category, p.shape[2] - 1)  # cumsum can fall a rounding error short of 1
    checks = []
    observed_weeks = counts[:, 1:] > 0
    for j, label in enumerate(labels):
        replicated = (category == j + 1).sum(axis=1)
        checks.append(_outcome_check(label, int(observed_weeks[:, j].sum()), replicated))
    checks.append(_outcome_check("Any deal", int(observed_weeks.any(axis=1).sum()), (category > 0).sum(axis=1)))
    return checks


def _outcome_check(label: str, observed: int, replicated: np.ndarray) -> OutcomeCheck:
    return OutcomeCheck(label, observed, replicated, float(np.mean(replicated >= observed)), float(np.mean(replicated <= observed)))


def headline_mcse(incidence: np.ndarray, horizon: int, chains: int) -> np.ndarray:
    """Monte Carlo standard error of each outcome's headline chance (the mean over draws)."""
    at = incidence[:, horizon - 1, :]  # (D, outcomes), draws in (chain, draw) order
    return mcse_mean(at.reshape(chains, -1, at.shape[1]))

