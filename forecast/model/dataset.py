"""Turn the ledger's events into the arrays the model reads, for one as-of date.

This is the one place that decides which events count: those reported on or before the as-of
date, less those withdrawn by a retraction reported by then. Time is in ISO weeks (Monday
start) from the priors' `start`, or from the first event's week if that is earlier.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES
from forecast.errors import InputError
from forecast.io.events import Event
from forecast.io.priors import Follows, Priors, canonical_json


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True)
class ModelData:
    factors: tuple[str, ...]
    deals: tuple[str, ...]
    weeks: tuple[dt.date, ...]  # the Monday of each observed week, oldest first
    as_of: dt.date
    # Signals, one entry each.
    signal_factor: np.ndarray  # index into factors
    signal_week: np.ndarray  # index into weeks
    signal_value: np.ndarray
    signal_reliability: np.ndarray  # index into RELIABILITY_GRADES
    signal_credibility: np.ndarray  # index into CREDIBILITY_GRADES
    # Outcomes: counts per week, column 0 = no deal, then one column per deal type.
    outcome_counts: np.ndarray
    outcomes_observed: bool  # False only for a model with no data at all (prior predictive)
    data_hash: str
    counts: dict[str, int]
    # Scheduled occasions known by the as-of date, counted by week and occasion type: in the
    # observed weeks, and in the forecast weeks after the as-of week (1..forecast_weeks). An
    # occasion type that follows a deal type (`occasion_follows`) is 1 in the weeks after a deal.
    occasions: tuple[str, ...] = ()
    occasion_counts: np.ndarray | None = None  # (weeks, occasions)
    occasions_ahead: np.ndarray | None = None  # (forecast_weeks, occasions)
    occasion_follows: tuple[Follows | None, ...] = ()  # aligned with occasions
    # Who coded each reading: an index into `coders` (the names, sorted; "" the default coder).
    coders: tuple[str, ...] = ("",)
    signal_coder: np.ndarray | None = None
    # Logged breaks known by the as-of date (a change of war, docs/MODEL.md "Breaks"): the index of
    # each one's week, in order; a break in the first week or before it changes nothing the model
    # reads (the initial levels' prior describes that week), so it is left out.
    break_weeks: tuple[int, ...] = ()

    @property
    def n_weeks(self) -> int:
        return len(self.weeks)


def active_events(events: Sequence[Event], as_of: dt.date) -> tuple[list[Event], set[str]]:
    """Signals and outcomes known by `as_of` and not retracted by then, and the retracted ids."""
    known = [e for e in events if e.reported <= as_of]
    retracted = {e.retracts for e in known if e.kind == "retraction"}
    active = [e for e in known if e.kind != "retraction" and e.event_id not in retracted]
    return active, retracted


def default_as_of(events: Sequence[Event]) -> dt.date:
    if not events:
        raise InputError("the ledger has no events; give an events file first")
    return max(e.reported for e in events)


def build_dataset(events: Sequence[Event], priors: Priors, as_of: dt.date) -> ModelData:
    active, retracted = active_events(events, as_of)
    factors = tuple(priors.factors)
    deals = tuple(priors.outcomes.deals)
    for e in active:
        if e.kind == "signal" and e.factor not in priors.factors:
            raise InputError(f"event '{e.event_id}' in the ledger reads factor '{e.factor}', which these priors do not define; "
                             "add it to factors.yaml or retract the event")
        if e.kind == "outcome" and e.outcome not in priors.outcomes.deals:
            raise InputError(f"event '{e.event_id}' in the ledger is an outcome '{e.outcome}', which these priors do not "
                             "define; add it to outcomes.yaml or retract the event")

    breaks = [e for e in active if e.kind == "break"]
    if breaks and not priors.breaks:
        raise InputError(f"event '{breaks[0].event_id}' in the ledger is a break, which these priors cannot read; add "
                         "'break_step' to each factor and 'break_shift' to each deal type, or retract the event")
    scheduled = [e for e in active if e.kind == "scheduled"]
    active = [e for e in active if e.kind not in ("scheduled", "break")]
    for e in scheduled:
        if e.occasion not in priors.outcomes.occasions:
            raise InputError(f"event '{e.event_id}' in the ledger is a scheduled '{e.occasion}', which these priors do not "
                             "define; add it to the occasions of outcomes.yaml or retract the event")
        if priors.outcomes.occasions[e.occasion].follows is not None:
            raise InputError(f"event '{e.event_id}' in the ledger is a scheduled '{e.occasion}', which these priors derive "
                             "from the outcomes (the weeks after a deal); retract the event")

    first = monday(min([priors.outcomes.start, *(e.date for e in active)]))
    last = monday(as_of)
    if last < first:
        raise InputError(f"as-of date {as_of} is before the model's first week ({first}, from the priors' start)")
    weeks = tuple(first + dt.timedelta(weeks=i) for i in range((last - first).days // 7 + 1))

    signals = [e for e in active if e.kind == "signal"]
    outcomes = [e for e in active if e.kind == "outcome"]
    coders = tuple(sorted({e.coder for e in signals})) or ("",)
    if len(coders) > 1 and priors.observation.house_effect is None:
        raise InputError(f"the log's readings come from {len(coders)} coders ({', '.join(c or '(default)' for c in coders)}), "
                         "and these priors say nothing of how far apart coders sit: add 'house_effect' to observation.yaml "
                         "(docs/MODEL.md, Coders)")
    break_weeks = tuple(sorted({w for w in (week_index(e.date, first) for e in breaks) if 1 <= w < len(weeks)}))
    arrays = signal_arrays(signals, factors, first)
    used = sorted((e.event_id, e.content_hash) for e in events if e.reported <= as_of)
    data_hash = hashlib.sha256(canonical_json({"as_of": as_of.isoformat(), "events": used}).encode()).hexdigest()
    return ModelData(
        factors=factors,
        deals=deals,
        weeks=weeks,
        as_of=as_of,
        **{f"signal_{name}": values for name, values in arrays.items()},
        outcome_counts=outcome_counts(outcomes, weeks, deals),
        outcomes_observed=True,
        data_hash=data_hash,
        counts={
            "total": len(active),
            "signals": len(signals),
            "outcomes": len(outcomes),
            "retracted": len(retracted),
            **({"scheduled": len(scheduled)} if scheduled else {}),
            **({"breaks": len(breaks)} if breaks else {}),
        },
        break_weeks=break_weeks,
        coders=coders,
        signal_coder=np.array([coders.index(e.coder) for e in signals], dtype=np.int64),
        **occasion_arrays([*scheduled, *outcomes, *breaks],
                          [*priors.outcomes.occasions, *(break_column(weeks[w]) for w in break_weeks)], weeks,
                          priors.outcomes.forecast_weeks, [o.follows for o in priors.outcomes.occasions.values()]),
    )


# A break's shift of the deal rates is an occasion that lasts: 1 in its week and every week after.
# Its column among the occasions is named by its week, after the priors' occasion types.
BREAK_PREFIX = "break:"


def break_column(week: dt.date) -> str:
    return f"{BREAK_PREFIX}{week.isoformat()}"


def is_break_column(name: str) -> bool:
    return name.startswith(BREAK_PREFIX)


def occasion_arrays(events: Sequence[Event], occasions: Sequence[str], weeks: Sequence[dt.date],
                    forecast_weeks: int, follows: Sequence[Follows | None] = ()) -> dict:
    """Each occasion type's count by observed week and by forecast week (1..forecast_weeks after
    the last observed week); occasions outside both are ignored. `events` are those in force:
    their scheduled rows count where they fall, an occasion type that follows a deal type
    (`follows`, aligned with the first `occasions`) is 1 in each of its weeks after a week with
    such a deal, and a break's column (`break_column`, after the priors' types) is 1 from the
    break's week on, ahead included, if the break is among `events`.
    Ahead of the last observed week that is exact for the first deal, which is what the forecast
    asks: until it comes, no other deal starts a new run of such weeks."""
    follows = (*follows, *(None,) * (len(occasions) - len(follows)))
    observed = np.zeros((len(weeks), len(occasions)))
    ahead = np.zeros((forecast_weeks, len(occasions)))

    def add(w: int, o: int, count: float) -> None:
        if 0 <= w < len(weeks):
            observed[w, o] += count
        elif 1 <= w - (len(weeks) - 1) <= forecast_weeks:
            ahead[w - len(weeks), o] += count

    for e in events:
        if e.kind == "scheduled":
            add(week_index(e.date, weeks[0]), list(occasions).index(e.occasion), 1)
        elif e.kind == "break" and break_column(monday(e.date)) in occasions:
            # From its week on, in the weeks observed and every week ahead.
            column = list(occasions).index(break_column(monday(e.date)))
            observed[max(0, week_index(e.date, weeks[0])):, column] = 1
            ahead[:, column] = 1
    if any(follows):
        # The deals in the observed weeks, with room for the runs they carry into the weeks ahead.
        deals = sorted({rule.deal for rule in follows if rule is not None})
        span = np.zeros((len(weeks) + forecast_weeks, 1 + len(deals)))
        span[:len(weeks)] = outcome_counts([e for e in events if e.kind == "outcome" and e.outcome in deals], weeks, deals)
        runs = deal_run_counts(span, deals, follows)
        observed += runs[:len(weeks)]
        ahead += runs[len(weeks):]
    return {"occasions": tuple(occasions), "occasion_counts": observed, "occasions_ahead": ahead,
            "occasion_follows": follows}


def deal_run_counts(outcome_counts: np.ndarray, deals: Sequence[str], follows: Sequence[Follows | None]) -> np.ndarray:
    """(weeks, occasion types): 1 in the weeks after a deal for the types that follow one, from
    weekly outcome counts (column 0 no deal, then `deals`); what `occasion_arrays` finds from the
    outcome rows, for logs drawn as counts (simulation-based calibration)."""
    out = np.zeros((len(outcome_counts), len(follows)))
    for o, rule in enumerate(follows):
        if rule is not None:
            for w in np.flatnonzero(outcome_counts[:, 1 + list(deals).index(rule.deal)]):
                out[w + 1:w + 1 + rule.weeks, o] = 1
    return out


def week_index(day: dt.date, first_week: dt.date) -> int:
    """Index of `day`'s ISO week, counting from the Monday `first_week`."""
    return (monday(day) - first_week).days // 7


def signal_arrays(signals: Sequence[Event], factors: Sequence[str], first_week: dt.date) -> dict[str, np.ndarray]:
    """The model's encoding of signals: factor, week, value, reliability and credibility indices."""
    factors = list(factors)
    return {
        "factor": np.array([factors.index(e.factor) for e in signals], dtype=np.int64),
        "week": np.array([week_index(e.date, first_week) for e in signals], dtype=np.int64),
        "value": np.array([e.signal for e in signals], dtype=float),
        "reliability": np.array([RELIABILITY_GRADES.index(e.source_reliability) for e in signals], dtype=np.int64),
        "credibility": np.array([CREDIBILITY_GRADES.index(e.info_credibility) for e in signals], dtype=np.int64),
    }


def outcome_counts(outcomes: Sequence[Event], weeks: Sequence[dt.date], deals: Sequence[str]) -> np.ndarray:
    """(weeks, 1 + deals): deals started in each week; column 0 is 1 in a week without any
    (the log is taken as complete, so such a week is an observed "none")."""
    deals = list(deals)
    counts = np.zeros((len(weeks), 1 + len(deals)), dtype=np.int64)
    for e in outcomes:
        counts[week_index(e.date, weeks[0]), 1 + deals.index(e.outcome)] += 1
    counts[:, 0] = counts[:, 1:].sum(axis=1) == 0
    return counts
