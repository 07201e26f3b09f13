"""What moved the forecast since the previous run, and why.

The change in each headline chance, P_now - P_prev, is split in two:

* **New information**: the events this run sees that the previous run did not (new signals and
  outcomes, and events withdrawn since, in the other direction). Its share is P_now minus the
  chance the model would give *today without them*. That counterfactual comes from importance
  reweighting of this run's posterior draws by 1 / p(new information | draw): the same
  Pareto-smoothed weights as leave-one-out cross-validation, with the new events as the group
  left out. Reweighting the *current* posterior, rather than pushing the previous one forward,
  keeps both numbers on the same weeks and the same horizon, so the split needs no second
  model, no refit and no extrapolation. k-hat says when it is trustworthy (k < 0.7).
* **Passage of time and everything else**: the rest, P_without - P_prev. The weeks since the
  previous run passed without a deal (each one is an observation), the forecast window moved
  on, and whatever else changed between the runs (priors, code, sampler settings) is listed.

When the new events move the posterior too far for reweighting (k >= 0.7), the counterfactual
is instead a refit of the model on the previous run's events over this run's weeks
(`Attribution.refitted`): slower, but exact up to Monte Carlo error.

The new information is also split by factor (and outcomes), each group reweighted on its own.
Those parts need not add up to the whole, since groups interact through shared parameters; the
brief shows the remainder rather than forcing them to.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from forecast.inference.importance import importance_weights
from forecast.io.events import Event
from forecast.io.priors import Follows
from forecast.model.dataset import active_events, monday, occasion_arrays, outcome_counts
from forecast.model.likelihood_on_draws import Draws


@dataclass(frozen=True)
class Part:
    """One group of new information and its share of the change."""

    label: str
    events: int
    change: dict[str, float]  # P_now - P_without_this_group, per outcome
    pareto_k: float
    pareto_k_max: float = 0.7  # the limit for the run's number of draws (0.7 in files written before it was stored)

    @property
    def reliable(self) -> bool:
        return bool(self.pareto_k < self.pareto_k_max)


@dataclass(frozen=True)
class Attribution:
    previous_run: str
    previous_as_of: dt.date
    total: dict[str, float]  # P_now - P_prev
    new_information: Part | None  # None when nothing new reached the model
    parts: list[Part]  # by factor, then outcomes
    time_and_other: dict[str, float]  # P_without_new - P_prev
    noise: dict[str, float]  # two Monte Carlo standard errors of P_now
    notes: list[str] = field(default_factory=list)
    method: str = "reweighting"  # how the "without new information" chance was found: or "refit"

    def refitted(self, without: dict[str, float], previous: dict[str, float], note: str) -> Attribution:
        """The same split with the counterfactual chance from a refit without the new events."""
        keys = list(self.total)
        now = {k: self.total[k] + previous[k] for k in keys}
        new = Part(self.new_information.label, self.new_information.events,
                   {k: now[k] - without[k] for k in keys}, self.new_information.pareto_k, self.new_information.pareto_k_max)
        return dataclasses.replace(self, new_information=new, method="refit",
                                   time_and_other={k: without[k] - previous[k] for k in keys},
                                   notes=[*self.notes, note])


    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["previous_as_of"] = self.previous_as_of.isoformat()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Attribution:
        def part(p: dict | None) -> Part | None:
            return None if p is None else Part(p["label"], p["events"], p["change"], p["pareto_k"], p.get("pareto_k_max", 0.7))

        return cls(
            previous_run=d["previous_run"], previous_as_of=dt.date.fromisoformat(d["previous_as_of"]), total=d["total"],
            new_information=part(d["new_information"]), parts=[part(x) for x in d["parts"]],
            time_and_other=d["time_and_other"], noise=d["noise"], notes=list(d["notes"]), method=d["method"],
        )


@dataclass(frozen=True)
class Unavailable:
    reason: str

    def to_dict(self) -> dict:
        return {"unavailable": self.reason}


def attribute(
    draws: Draws,
    headline: np.ndarray,
    *,
    now: dict[str, float],
    previous: dict[str, float],
    previous_run: str,
    outcome_keys: Sequence[str],
    factor_keys: Sequence[str],
    factor_labels: dict[str, str],
    weeks: Sequence[dt.date],
    events_now: Sequence[Event],
    as_of_now: dt.date,
    events_before: Sequence[Event],
    as_of_before: dt.date,
    mcse: np.ndarray,
    occasions: Sequence[str] = (),
    occasion_follows: Sequence[Follows | None] = (),
    headline_before_occasions: np.ndarray | None = None,
) -> Attribution | Unavailable:
    """Split P_now - P_prev (per outcome) into new information and the rest.

    `headline` is (draws, outcomes): each draw's chance at the headline horizon, in `draws`' order.
    `events_now` / `events_before` are the ledger as each run saw it; `weeks` this run's weeks.
    Scheduled occasions (types `occasions`; those with `occasion_follows` are the weeks after a
    deal) new since then change the weeks' likelihood and the forecast itself:
    `headline_before_occasions` is each draw's headline with only the occasions ahead that the
    previous run knew of.
    """
    active_now = {e.event_id: e for e in active_events(events_now, as_of_now)[0]}
    active_before = {e.event_id: e for e in active_events(events_before, as_of_before)[0]}
    added = [e for i, e in active_now.items() if i not in active_before]
    removed = [e for i, e in active_before.items() if i not in active_now]
    first, last = weeks[0], weeks[-1]
    outside = [e for e in removed if e.kind != "scheduled" and not first <= monday(e.date) <= last]
    if outside:
        return Unavailable(f"{len(outside)} event(s) the previous run used fall outside this run's weeks "
                           f"({first} to {last}), so the model cannot say what it would make of them today")
    unknown = [e for e in removed if e.kind == "signal" and e.factor not in factor_keys]
    if unknown:
        return Unavailable(f"the previous run read factors these priors do not have ({', '.join(sorted({e.factor for e in unknown}))})")
    strangers = sorted({e.coder for e in removed if e.kind == "signal"} - set(draws.coders)) if len(draws.coders) > 1 else []
    if strangers:
        return Unavailable(f"the previous run read coders this run does not ({', '.join(c or '(default)' for c in strangers)}), "
                           "so its draws hold no offset for them")

    deals = [k for k in outcome_keys[:-1]]
    counts_now = outcome_counts([e for e in active_now.values() if e.kind == "outcome"], weeks, deals)
    counts_without = outcome_counts([e for e in active_before.values() if e.kind == "outcome"], weeks, deals)

    def occasion_counts(scheduled_from: dict[str, Event], outcomes_from: dict[str, Event]) -> np.ndarray:
        """The weeks' occasions with the scheduled rows of one run and the deals (whose following
        weeks an occasion type may be) of another."""
        events = [e for e in scheduled_from.values() if e.kind == "scheduled"]
        events += [e for e in outcomes_from.values() if e.kind == "outcome"]
        return occasion_arrays(events, occasions, weeks, 1, occasion_follows)["occasion_counts"]

    occasions_now = occasion_counts(active_now, active_now)
    occasions_without = occasion_counts(active_before, active_before)
    ahead_headline = headline if headline_before_occasions is None else headline_before_occasions

    def log_ratio(signals_added: list[Event], signals_removed: list[Event], counts: np.ndarray, occasions_b: np.ndarray) -> np.ndarray:
        """log p(data without this information | draw) - log p(data now | draw)."""
        return draws.change_log_likelihood(signals_removed, signals_added, factor_keys, first,
                                           outcomes_a=(counts_now, occasions_now), outcomes_b=(counts, occasions_b))

    p_now = np.array([now[k] for k in outcome_keys])

    def part(label: str, n: int, ratio: np.ndarray, per_draw: np.ndarray = headline) -> tuple[Part, np.ndarray]:
        weights = importance_weights(ratio)
        without = weights.mean(per_draw)
        return Part(label, n, _by_key(outcome_keys, p_now - without), weights.pareto_k, weights.limit), without

    new_signals = [e for e in added if e.kind == "signal"]
    gone_signals = [e for e in removed if e.kind == "signal"]
    n_outcome_changes = sum(e.kind == "outcome" for e in added + removed)
    n_scheduled_changes = sum(e.kind == "scheduled" for e in added + removed)
    p_before = np.array([previous.get(k, np.nan) for k in outcome_keys])
    notes = []
    if not added and not removed:
        new, without = None, p_now
    else:
        new, without = part("All new information", len(added) + len(removed),
                            log_ratio(new_signals, gone_signals, counts_without, occasions_without), ahead_headline)
    parts = []
    for k in factor_keys:
        plus = [e for e in new_signals if e.factor == k]
        minus = [e for e in gone_signals if e.factor == k]
        if plus or minus:
            parts.append(part(f"Signals on {factor_labels[k]}", len(plus) + len(minus),
                              log_ratio(plus, minus, counts_now, occasions_now))[0])
    if n_outcome_changes:
        parts.append(part("Outcome events", n_outcome_changes,
                          log_ratio([], [], counts_without, occasion_counts(active_now, active_before)))[0])
    if n_scheduled_changes:
        parts.append(part("Scheduled occasions", n_scheduled_changes,
                          log_ratio([], [], counts_now, occasion_counts(active_before, active_now)), ahead_headline)[0])
    if removed:
        notes.append(f"{len(removed)} event(s) the previous run used are no longer counted (retracted, or a later as-of "
                     "moved them); their share is the change from taking them out.")

    # Weeks newly observed that passed with no deal, as the log now says (a deal logged in one is no quiet week).
    quiet_weeks = sum(1 for w in weeks if monday(as_of_before) < w <= monday(as_of_now) and counts_now[weeks.index(w), 0])
    if quiet_weeks:
        notes.append(f"{quiet_weeks} more week(s) observed with no deal since the previous run's as-of date "
                     f"({as_of_before}); each is evidence in itself, and the forecast window moved on with them.")
    return Attribution(
        previous_run=previous_run,
        previous_as_of=as_of_before,
        total=_by_key(outcome_keys, p_now - p_before),
        new_information=new,
        parts=parts,
        time_and_other=_by_key(outcome_keys, without - p_before),
        noise=_by_key(outcome_keys, 2 * np.asarray(mcse)),
        notes=notes,
    )


def _by_key(keys: Sequence[str], values: np.ndarray) -> dict[str, float]:
    return {k: float(v) for k, v in zip(keys, values)}
