"""The model's observation layer evaluated on posterior draws, in numpy.

`model.py` states the likelihood for PyMC; the brief needs the same densities per draw and per
event, for importance weights (what moved, signposts) and posterior predictive checks. A test
holds the two to agreement on the same point, so they cannot drift apart.

Signals are handled in chunks so that a log of 20,000 signals never materialises a
(draws x signals) array of more than a few tens of megabytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import xarray as xr
from scipy.special import gammaln, log_softmax, stdtr

from .conventions import DEAL, FACTOR, GRADE_CREDIBILITY, GRADE_RELIABILITY, WEEK
from .dataset import signal_arrays
from .events import Event
from .forecasting import SAMPLE_DIMS

CHUNK = 1024  # signals evaluated at once: draws x CHUNK doubles (32 MB at 4,000 draws)
# A PIT is a mean of CDF values in [0, 1]: 1,000 draws put its Monte Carlo error below 0.016,
# finer than the histogram and the 5-95 % count it feeds.
PIT_DRAWS = 1000


@dataclass(frozen=True)
class Signals:
    """Signals as indices into the posterior's dimensions (the model's own encoding)."""

    factor: np.ndarray  # index into FACTOR
    week: np.ndarray  # index into WEEK
    value: np.ndarray
    reliability: np.ndarray  # index into RELIABILITY_GRADES
    credibility: np.ndarray  # index into CREDIBILITY_GRADES

    def __len__(self) -> int:
        return len(self.value)

    def __getitem__(self, index) -> Signals:
        return Signals(self.factor[index], self.week[index], self.value[index], self.reliability[index], self.credibility[index])

    @classmethod
    def of(cls, events: Sequence[Event], factors: Sequence[str], first_week: dt.date) -> Signals:
        """Signal events encoded against `factors` and weeks counted from `first_week`."""
        return cls(**signal_arrays(events, factors, first_week))


def student_t_logpdf(value: np.ndarray, nu: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log StudentT(value | nu, loc, scale), written out with special functions: scipy.stats'
    generic machinery costs more than the arithmetic at 4,000 draws x 5,000 signals."""
    z = (value - loc) / scale
    return gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi) - np.log(scale) - (nu + 1) / 2 * np.log1p(z * z / nu)


@dataclass(frozen=True)
class PosteriorDraws:
    """What the likelihood needs, flattened over (chain, draw) in that order."""

    theta: np.ndarray  # (D, K, W)
    noise: np.ndarray  # (D,)
    nu: np.ndarray  # (D,)
    reliability: np.ndarray  # (D, 6) multipliers
    credibility: np.ndarray  # (D, 6)
    baseline: np.ndarray  # (D, J)
    effect: np.ndarray  # (D, J, K)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> PosteriorDraws:
        names = ["theta", "noise", "nu", "reliability_multiplier", "credibility_multiplier", "baseline", "effect"]
        s = ds[names].stack(sample=SAMPLE_DIMS)
        return cls(
            theta=s["theta"].transpose("sample", FACTOR, WEEK).values,
            noise=s["noise"].values,
            nu=s["nu"].values,
            reliability=s["reliability_multiplier"].transpose("sample", GRADE_RELIABILITY).values,
            credibility=s["credibility_multiplier"].transpose("sample", GRADE_CREDIBILITY).values,
            baseline=s["baseline"].transpose("sample", DEAL).values,
            effect=s["effect"].transpose("sample", DEAL, FACTOR).values,
        )

    @property
    def n_draws(self) -> int:
        return self.theta.shape[0]

    def _location_scale(self, signals: Signals) -> tuple[np.ndarray, np.ndarray]:
        level = self.theta[:, signals.factor, signals.week]
        scale = self.noise[:, None] * self.reliability[:, signals.reliability] * self.credibility[:, signals.credibility]
        return level, scale

    def signal_log_likelihood(self, signals: Signals) -> np.ndarray:
        """(D,): log p(all these signals | draw), summed over the signals."""
        return self._chunked(signals, lambda s: self._t_logpdf(s).sum(axis=1), np.zeros(self.n_draws))

    def signal_pit(self, signals: Signals, max_draws: int = PIT_DRAWS) -> np.ndarray:
        """(N,): the posterior predictive CDF at each observed signal (its probability integral
        transform), averaged over at most `max_draws` evenly spaced draws."""
        draws = self._thinned(max_draws)
        parts = [draws._t_cdf(signals[i:i + CHUNK]).mean(axis=0) for i in range(0, len(signals), CHUNK)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _t_logpdf(self, signals: Signals) -> np.ndarray:
        level, scale = self._location_scale(signals)
        return student_t_logpdf(signals.value[None, :], self.nu[:, None], level, scale)

    def _t_cdf(self, signals: Signals) -> np.ndarray:
        level, scale = self._location_scale(signals)
        return stdtr(self.nu[:, None], (signals.value[None, :] - level) / scale)

    def _thinned(self, max_draws: int) -> PosteriorDraws:
        if self.n_draws <= max_draws:
            return self
        keep = np.linspace(0, self.n_draws - 1, max_draws).round().astype(int)
        return PosteriorDraws(*(getattr(self, f.name)[keep] for f in fields(self)))

    def _chunked(self, signals: Signals, reduce: Callable[[Signals], np.ndarray], total: np.ndarray) -> np.ndarray:
        for i in range(0, len(signals), CHUNK):
            total = total + reduce(signals[i:i + CHUNK])
        return total

    def weekly_log_probabilities(self) -> np.ndarray:
        """(D, W, J + 1): log P(no deal, deal_1, ..., deal_J) in each observed week."""
        eta = self.baseline[:, None, :] + np.einsum("djk,dkw->dwj", self.effect, self.theta)
        return log_softmax(np.concatenate([np.zeros((*eta.shape[:2], 1)), eta], axis=2), axis=2)

    def change_log_likelihood(self, gained: Sequence[Event], lost: Sequence[Event], outcome_delta: np.ndarray | None,
                              factors: Sequence[str], first_week: dt.date) -> np.ndarray:
        """(D,): log p(data B | draw) - log p(data A | draw), where B is A with the signals
        `gained` added, `lost` removed, and weekly outcome counts changed by `outcome_delta`
        (B minus A). What both attribution (B: without the new events) and the incremental
        update (B: with them) weigh draws by."""
        total = np.zeros(self.n_draws)
        if gained:
            total += self.signal_log_likelihood(Signals.of(gained, factors, first_week))
        if lost:
            total -= self.signal_log_likelihood(Signals.of(lost, factors, first_week))
        if outcome_delta is not None and outcome_delta.any():
            total += self.outcome_log_likelihood(outcome_delta)
        return total

    def outcome_log_likelihood(self, counts: np.ndarray) -> np.ndarray:
        """(D,): sum over weeks of counts . log p, the Multinomial log-likelihood up to a constant
        that does not depend on the draw (and so cancels in any importance weight)."""
        return np.einsum("dwc,wc->d", self.weekly_log_probabilities(), counts)
