"""Posterior (or prior) draws, the one container every later step reads, and the model's
observation layer evaluated on them in numpy.

`graph.py` states the likelihood for PyMC; the brief needs the same densities per draw and per
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

from forecast.conventions import CODER, DEAL, FACTOR, GRADE_CREDIBILITY, GRADE_RELIABILITY, OCCASION, SAMPLE_DIMS, WEEK
from forecast.io.events import Event
from forecast.model.dataset import signal_arrays

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
    coder: np.ndarray | None = None  # index into the draws' coders (None: all the one default coder)

    def __len__(self) -> int:
        return len(self.value)

    def __getitem__(self, index: slice | np.ndarray) -> Signals:
        return Signals(self.factor[index], self.week[index], self.value[index], self.reliability[index], self.credibility[index],
                       None if self.coder is None else self.coder[index])

    @classmethod
    def of(cls, events: Sequence[Event], factors: Sequence[str], first_week: dt.date, coders: Sequence[str] = ("",)) -> Signals:
        """Signal events encoded against `factors`, weeks counted from `first_week`, and `coders`
        (ValueError for a coder the draws do not know: its offset was never sampled)."""
        coders = list(coders)
        unknown = sorted({e.coder for e in events} - set(coders)) if len(coders) > 1 else []
        if unknown:
            raise ValueError(f"readings by coders the draws do not know: {', '.join(c or '(default)' for c in unknown)}")
        coder = np.array([coders.index(e.coder) for e in events], dtype=np.int64) if len(coders) > 1 else None
        return cls(**signal_arrays(events, factors, first_week), coder=coder)


def student_t_logpdf(value: np.ndarray, nu: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log StudentT(value | nu, loc, scale), written out with special functions: scipy.stats'
    generic machinery costs more than the arithmetic at 4,000 draws x 5,000 signals."""
    z = (value - loc) / scale
    return gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi) - np.log(scale) - (nu + 1) / 2 * np.log1p(z * z / nu)


def weekly_log_probabilities(baseline: np.ndarray, effect: np.ndarray, theta: np.ndarray,
                             boost: np.ndarray | None = None) -> np.ndarray:
    """log P(no deal, deal_1, ..., deal_J) in a week: log softmax([0, a_j + sum_k b_jk theta_k + boost_j]).

    Broadcasts over leading axes: baseline (..., J), effect (..., J, K), theta (..., K) and the
    scheduled occasions' `boost` (..., J) give (..., J + 1). The numpy twin of
    `graph.weekly_outcome_probabilities`."""
    eta = baseline + np.einsum("...jk,...k->...j", effect, theta)
    if boost is not None:
        eta = eta + boost
    return log_softmax(np.concatenate([np.zeros((*eta.shape[:-1], 1)), eta], axis=-1), axis=-1)


@dataclass(frozen=True)
class Draws:
    """The model's parameters, flattened over (chain, draw) in that order.

    The forecast needs the walk (theta, volatility) and the deal layer (baseline, effect); the
    signal densities need the observation layer too. Draws built by hand for a test of the
    forecast alone may leave the observation layer out.
    """

    theta: np.ndarray  # (D, K, W)
    baseline: np.ndarray  # (D, J)
    effect: np.ndarray  # (D, J, K)
    volatility: np.ndarray | None = None  # (D, K)
    noise: np.ndarray | None = None  # (D,)
    nu: np.ndarray | None = None  # (D,)
    reliability: np.ndarray | None = None  # (D, 6) multipliers
    credibility: np.ndarray | None = None  # (D, 6)
    occasion_effect: np.ndarray | None = None  # (D, J, O): scheduled occasions' effect on each deal's log-odds
    step_nu: np.ndarray | None = None  # (D, K): the walk's steps' degrees of freedom (walk.py); None: Gaussian
    coder_offset: np.ndarray | None = None  # (D, K, C): each coder's offset on each obstacle; None: one coder
    coders: tuple[str, ...] = ("",)  # the names the offsets' last axis is indexed by

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Draws:
        """From a posterior (or prior) group of the model: every parameter it holds."""
        names = {"theta": "theta", "baseline": "baseline", "effect": "effect", "volatility": "volatility", "noise": "noise",
                 "nu": "nu", "reliability": "reliability_multiplier", "credibility": "credibility_multiplier",
                 "occasion_effect": "occasion_effect", "step_nu": "step_nu"}
        order = {"theta": (FACTOR, WEEK), "baseline": (DEAL,), "effect": (DEAL, FACTOR), "volatility": (FACTOR,),
                 "step_nu": (FACTOR,),
                 "reliability": (GRADE_RELIABILITY,), "credibility": (GRADE_CREDIBILITY,), "occasion_effect": (DEAL, OCCASION)}
        present = {field: var for field, var in names.items() if var in ds}
        s = ds[list(present.values())].stack(sample=SAMPLE_DIMS)
        values = {field: s[var].transpose("sample", *order.get(field, ())).values for field, var in present.items()}
        if "coder_offset" in ds:
            values["coder_offset"] = ds["coder_offset"].stack(sample=SAMPLE_DIMS).transpose("sample", FACTOR, CODER).values
            values["coders"] = tuple(str(c) for c in ds[CODER].values)
        if "break_shift" in ds:
            # A break's shift is an occasion column that lasts (model/dataset.py): its effects come
            # after the occasion types', as its column comes after theirs.
            shift = ds["break_shift"].stack(sample=SAMPLE_DIMS).transpose("sample", DEAL, ...).values
            occasion = values.get("occasion_effect", np.zeros((*shift.shape[:2], 0)))
            values["occasion_effect"] = np.concatenate([occasion, shift], axis=2)
        return cls(**values)

    @property
    def theta_last(self) -> np.ndarray:
        """(D, K): the factor levels in the last observed week, where the forecast starts."""
        return self.theta[:, :, -1]

    @property
    def n_draws(self) -> int:
        return self.theta.shape[0]

    def _location_scale(self, signals: Signals) -> tuple[np.ndarray, np.ndarray]:
        level = self.theta[:, signals.factor, signals.week]
        if self.coder_offset is not None and signals.coder is not None:
            level = level + self.coder_offset[:, signals.factor, signals.coder]
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

    def _thinned(self, max_draws: int) -> Draws:
        if self.n_draws <= max_draws:
            return self
        keep = np.linspace(0, self.n_draws - 1, max_draws).round().astype(int)
        return Draws(**{f.name: getattr(self, f.name) if f.name == "coders" or getattr(self, f.name) is None
                        else getattr(self, f.name)[keep] for f in fields(self)})

    def _chunked(self, signals: Signals, reduce: Callable[[Signals], np.ndarray], total: np.ndarray) -> np.ndarray:
        for i in range(0, len(signals), CHUNK):
            total = total + reduce(signals[i:i + CHUNK])
        return total

    def weekly_log_probabilities(self, occasions: np.ndarray | None = None) -> np.ndarray:
        """(D, W, J + 1): log P(no deal, deal_1, ..., deal_J) in each observed week, given the
        scheduled occasions' counts (W, O) in those weeks."""
        return weekly_log_probabilities(self.baseline[:, None, :], self.effect[:, None], np.moveaxis(self.theta, 2, 1),
                                        self.occasion_boost(occasions))

    def occasion_boost(self, occasions: np.ndarray | None) -> np.ndarray | None:
        """(D, weeks, J): what the scheduled occasions (weeks, O) add to each deal's log-odds."""
        if occasions is None or self.occasion_effect is None or not np.any(occasions):
            return None
        return np.einsum("wo,djo->dwj", occasions, self.occasion_effect)

    def change_log_likelihood(
        self, gained: Sequence[Event], lost: Sequence[Event], factors: Sequence[str], first_week: dt.date,
        outcomes_a: tuple[np.ndarray, np.ndarray | None] | None = None,
        outcomes_b: tuple[np.ndarray, np.ndarray | None] | None = None,
    ) -> np.ndarray:
        """(D,): log p(data B | draw) - log p(data A | draw), where B is A with the signals
        `gained` added and `lost` removed, and the weeks' outcomes `outcomes_a` (counts, occasion
        counts) replaced by `outcomes_b`. What both attribution (B: without the new events) and
        the incremental update (B: with them) weigh draws by."""
        total = np.zeros(self.n_draws)
        if gained:
            total += self.signal_log_likelihood(Signals.of(gained, factors, first_week, self.coders))
        if lost:
            total -= self.signal_log_likelihood(Signals.of(lost, factors, first_week, self.coders))
        if outcomes_a is not None and outcomes_b is not None:
            (counts_a, occasions_a), (counts_b, occasions_b) = outcomes_a, outcomes_b
            if _same(occasions_a, occasions_b):
                if (counts_b - counts_a).any():  # only the changed weeks matter
                    total += self.outcome_log_likelihood(counts_b - counts_a, occasions_b)
            else:
                total += self.outcome_log_likelihood(counts_b, occasions_b) - self.outcome_log_likelihood(counts_a, occasions_a)
        return total

    def outcome_log_likelihood(self, counts: np.ndarray, occasions: np.ndarray | None = None) -> np.ndarray:
        """(D,): sum over weeks of counts . log p, the Multinomial log-likelihood up to a constant
        that does not depend on the draw (and so cancels in any importance weight)."""
        return np.einsum("dwc,wc->d", self.weekly_log_probabilities(occasions), counts)


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Two occasion-count arrays that add the same to every week (None adds nothing)."""
    return np.array_equal(a if a is not None and np.any(a) else 0, b if b is not None and np.any(b) else 0)
