"""Two codings of the same negotiations as one log of two coders, as a team pools them.

* **Readings** (and retractions of them): every coder's, each marked with its coder, so the model
  learns each one's house effect (docs/MODEL.md, "Coders").
* **Deals** are facts, not readings, and are logged once. A deal both coders logged in the same
  week keeps the first coding's row. A deal only one of them logged, in the dates both cover, is
  kept and marked contested (docs/CODING.md, section 5), so the brief gives the headline both ways.
* **Scheduled occasions** and other rows that are not coded judgements: the first coding's, and
  the second's where the first has none of the same kind and type within three days (one
  occasion logged twice would count twice).

An event id of the second coding that the first already uses is prefixed with its coder's name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from forecast.io.events import Event

CODED = ("signal", "outcome", "retraction")
SAME_OCCASION_DAYS = 3


def _week(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _live_deal_weeks(events: Sequence[Event]) -> set[dt.date]:
    retracted = {e.retracts for e in events if e.kind == "retraction"}
    return {_week(e.date) for e in events if e.kind == "outcome" and e.event_id not in retracted}


def pool_codings(first: Sequence[Event], second: Sequence[Event], names: tuple[str, str]) -> list[Event]:
    """One log: `first`'s rows, then `second`'s, each coded row marked with its coder's name."""
    a, b = names
    if a == b:
        raise ValueError("the two codings need different names")
    coded_second = [e.date for e in second if e.kind in ("signal", "outcome")]
    coded_first = [e.date for e in first if e.kind in ("signal", "outcome")]
    span = ((max(min(coded_first), min(coded_second)), min(max(coded_first), max(coded_second)))
            if coded_first and coded_second else None)
    first_deals, second_deals = _live_deal_weeks(first), _live_deal_weeks(second)
    taken = {e.event_id for e in first}
    rename = {e.event_id: f"{b}:{e.event_id}" if e.event_id in taken else e.event_id for e in second}

    def both_cover(day: dt.date) -> bool:
        return span is not None and span[0] <= day <= span[1]

    pooled = []
    for e in first:
        if e.kind in CODED:
            alone = e.kind == "outcome" and both_cover(e.date) and _week(e.date) not in second_deals
            pooled.append(replace(e, coder=a, contested=e.contested or alone))
        else:
            pooled.append(e)
    dropped = set()
    for e in second:
        if e.kind == "outcome" and _week(e.date) in first_deals:
            dropped.add(e.event_id)  # the same deal: logged once, as the first coding's row
        elif e.kind == "outcome":
            pooled.append(replace(e, event_id=rename[e.event_id], coder=b, contested=e.contested or both_cover(e.date)))
        elif e.kind == "retraction":
            if e.retracts not in dropped:
                pooled.append(replace(e, event_id=rename[e.event_id], coder=b, retracts=rename.get(e.retracts, e.retracts)))
        elif e.kind == "signal":
            pooled.append(replace(e, event_id=rename[e.event_id], coder=b))
        elif not any(o.kind == e.kind and o.occasion == e.occasion and abs((o.date - e.date).days) <= SAME_OCCASION_DAYS
                     for o in first):
            pooled.append(replace(e, event_id=rename[e.event_id], coder=""))
    return pooled
