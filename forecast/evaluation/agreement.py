"""`forecast agreement`: how far two codings of the same negotiations agree, and where they part.

Two honest coders do not write the same numbers. Before a team argues about a forecast it should
see where its coding rules diverge: which events both coded, how closely their readings agree,
whether they call the same things deals, the rows behind the largest differences, and what each
coding alone makes of the forecast.

**Matching.** Over the dates both codings cover, each as it stands (retractions applied), a
reading of one coding is matched to a reading of the other on the same obstacle within `window`
days (a week by default), each reading used once: the pairs are chosen to keep the dates closest
(an optimal assignment), and among equal dates a pair whose sources share an address (the same
report) comes first. Readings with no counterpart are counted, not scored. Deals are compared
week by week: in each week of the span, each coding says "no deal" or the type of the deal it
logged, so the many weeks both call quiet count as the agreement they are.

**Agreement.** Krippendorff's alpha (the `krippendorff` package): at the interval level for the
matched readings, at the nominal level for deal or no deal (and for its type) over the weeks. 1
is perfect agreement, 0 what chance would give; content analysts read 0.8 as reliable and 0.667
as the least for tentative conclusions (Krippendorff 2004).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from forecast.io.events import Event
from forecast.io.priors import Priors

WINDOW_DAYS = 7
NO_DEAL = "no deal"
_ADDRESS = re.compile(r"https?://([^\s;,]+)")


@dataclass(frozen=True)
class ReadingPair:
    first: Event
    second: Event

    @property
    def difference(self) -> float:
        return float(self.second.signal) - float(self.first.signal)

    @property
    def same_source(self) -> bool:
        return bool(_addresses(self.first.source) & _addresses(self.second.source))


@dataclass(frozen=True)
class DealUnit:
    """A week: what each coding says of it (the type of the deal it logged, or "no deal")."""

    date: dt.date
    first: str
    second: str
    first_event: Event | None
    second_event: Event | None


@dataclass
class Agreement:
    names: tuple[str, str]
    pairs: list[ReadingPair]
    unmatched: tuple[int, int]  # readings of each coding with no counterpart
    deals: list[DealUnit]
    alpha_readings: float | None
    alpha_deal: float | None  # deal or no deal
    alpha_deal_type: float | None  # the deal's type (or no deal)
    by_factor: dict[str, tuple[int, float | None, float]] = field(default_factory=dict)  # n, alpha, mean difference
    span: tuple[dt.date, dt.date] | None = None  # the dates both codings cover

    def largest(self, n: int = 10) -> list[ReadingPair]:
        return sorted(self.pairs, key=lambda p: -abs(p.difference))[:n]

    @property
    def deal_disagreements(self) -> list[DealUnit]:
        return [d for d in self.deals if d.first != d.second]


def agreement(first: Sequence[Event], second: Sequence[Event], names: tuple[str, str], factors: Sequence[str],
              window: int = WINDOW_DAYS) -> Agreement:
    """Match the two codings' readings and deals and measure their agreement, over the span both
    cover (a row outside it cannot have a counterpart), each coding as it stands now (retracted
    rows withdrawn)."""
    codings = [_current(coding) for coding in (first, second)]
    starts = [min((e.date for e in c if e.kind in ("signal", "outcome")), default=dt.date.max) for c in codings]
    ends = [max((e.date for e in c if e.kind in ("signal", "outcome")), default=dt.date.min) for c in codings]
    span = (max(starts), min(ends))
    first, second = ([e for e in c if span[0] <= e.date <= span[1]] for c in codings)
    readings = [[e for e in coding if e.kind == "signal"] for coding in (first, second)]
    pairs: list[ReadingPair] = []
    for factor in factors:
        mine = [[e for e in coding if e.factor == factor] for coding in readings]
        pairs += [ReadingPair(mine[0][i], mine[1][j]) for i, j in _assignment(mine[0], mine[1], window)]
    unmatched = (len(readings[0]) - len(pairs), len(readings[1]) - len(pairs))
    alpha_readings = _alpha([[p.first.signal for p in pairs], [p.second.signal for p in pairs]], "interval")
    by_factor = {}
    for factor in factors:
        mine = [p for p in pairs if p.first.factor == factor]
        by_factor[factor] = (len(mine), _alpha([[p.first.signal for p in mine], [p.second.signal for p in mine]], "interval"),
                             float(np.mean([p.difference for p in mine])) if mine else 0.0)

    # Deal or no deal, week by week: a week is a unit whichever coding logged a deal in it, so the
    # weeks both call quiet count as agreement, as they are.
    outcomes = [[e for e in coding if e.kind == "outcome"] for coding in (first, second)]
    monday = span[0] - dt.timedelta(days=span[0].weekday())
    deals = []
    while monday <= span[1]:
        week = [sorted((e for e in coding if monday <= e.date < monday + dt.timedelta(weeks=1)), key=lambda e: (e.date, e.outcome))
                for coding in outcomes]
        deals.append(DealUnit(monday, week[0][0].outcome if week[0] else NO_DEAL, week[1][0].outcome if week[1] else NO_DEAL,
                              week[0][0] if week[0] else None, week[1][0] if week[1] else None))
        monday += dt.timedelta(weeks=1)
    kinds = sorted({NO_DEAL, *(d.first for d in deals), *(d.second for d in deals)})
    alpha_type = _alpha([[kinds.index(d.first) for d in deals], [kinds.index(d.second) for d in deals]], "nominal")
    alpha_deal = _alpha([[float(d.first != NO_DEAL) for d in deals], [float(d.second != NO_DEAL) for d in deals]], "nominal")
    return Agreement(names, pairs, unmatched, deals, alpha_readings, alpha_deal, alpha_type, by_factor, span)


def _current(events: Sequence[Event]) -> list[Event]:
    """The rows in force: each coding's retractions applied."""
    from forecast.model.dataset import active_events

    if not events:
        return []
    return active_events(events, max(e.reported for e in events))[0]


def _assignment(first: Sequence[Event], second: Sequence[Event], window: int) -> list[tuple[int, int]]:
    """Pairs (i, j), each index once, within `window` days, closest dates first (sources that
    share an address break ties)."""
    if not first or not second:
        return []
    from scipy.optimize import linear_sum_assignment

    days = np.abs(np.array([[(a.date - b.date).days for b in second] for a in first], dtype=float))
    shared = np.array([[bool(_addresses(a.source) & _addresses(b.source)) for b in second] for a in first])
    cost = days - 0.5 * shared  # a shared report counts half a day
    infeasible = days > window
    cost[infeasible] = 1e6
    rows, columns = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, columns) if not infeasible[i, j]]


def _addresses(source: str) -> set[str]:
    return {m.group(1).rstrip("/.").lower().removeprefix("www.") for m in _ADDRESS.finditer(source or "")}


def _alpha(values: list[list[float]], level: str) -> float | None:
    """Krippendorff's alpha of two coders' values (units in columns); None when it is undefined
    (fewer than two units, or no variation to judge agreement on)."""
    import krippendorff

    data = np.array(values, dtype=float)
    if data.shape[1] < 2 or len(np.unique(data[~np.isnan(data)])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def split_by_coder(events: Sequence[Event]) -> dict[str, list[Event]]:
    """One log's rows by coder (every row that is not a reading or an outcome goes to each)."""
    coders = sorted({e.coder for e in events if e.kind in ("signal", "outcome")})
    return {c: [e for e in events if e.kind not in ("signal", "outcome") or e.coder == c] for c in coders}


@dataclass(frozen=True)
class CodingForecast:
    """One coding's headline at one as-of date: path -> (chance, low, high) of the first deal."""

    name: str
    as_of: dt.date
    headline: dict[str, tuple[float, float, float]]
    passed: bool


@dataclass(frozen=True)
class ForecastTask:
    name: str
    events: tuple[Event, ...]
    priors: object  # Priors (kept loose: the task pickles whole)
    as_of: dt.date
    settings: object  # FitSettings


def forecast_coding(task: ForecastTask) -> CodingForecast:
    """A cluster task: one coding fitted alone at one date, its headline."""
    from forecast.forecasting.incidence import headline
    from forecast.inference.fit import fit_checked
    from forecast.model.dataset import build_dataset

    data = build_dataset(task.events, task.priors, task.as_of)
    _, stored, table, _ = fit_checked(data, task.priors, task.settings)
    heads = headline(table, task.priors.outcomes.horizon_weeks, task.priors.outcomes.labels)
    return CodingForecast(task.name, task.as_of, {k: (v["p"], v["lo"], v["hi"]) for k, v in heads.items()}, stored["passed"])


POOLED = "both, as two coders"


def over_span(events: Sequence[Event], priors: Priors, span: tuple[dt.date, dt.date]) -> tuple[list[Event], Priors]:
    """A coding cut to the dates both cover, with the model started at their first week: each
    coding's forecast, and the pooled one, then rest on the same weeks (a coding that starts later
    would otherwise be read as years without a deal)."""
    start = max(priors.outcomes.start, span[0])
    cut = [e for e in events if e.date >= start]
    kept = {e.event_id for e in cut}
    cut = [e for e in cut if e.kind != "retraction" or e.retracts in kept]
    return cut, dataclasses.replace(priors, outcomes=dataclasses.replace(priors.outcomes, start=start))


def outside_ranges(forecasts: Sequence[CodingForecast]) -> list[tuple[dt.date, str]]:
    """(as-of, path) where one single coding's chance lies outside the other's 5-95 % range."""
    found = []
    for as_of, by_name in _by_date(forecasts).items():
        pair = [f for name, f in by_name.items() if name != POOLED]
        if len(pair) != 2:
            continue
        for path in pair[0].headline:
            (p, lo, hi), (q, lo2, hi2) = pair[0].headline[path], pair[1].headline[path]
            if not lo2 <= p <= hi2 or not lo <= q <= hi:
                found.append((as_of, path))
    return found


def pooled_outside(forecasts: Sequence[CodingForecast]) -> list[tuple[dt.date, str, str]]:
    """(as-of, path, coding) where the pooled log's chance lies outside that single coding's
    5-95 % range: the pooled forecast should sit inside both."""
    found = []
    for as_of, by_name in _by_date(forecasts).items():
        pooled = by_name.get(POOLED)
        if pooled is None:
            continue
        for name, single in by_name.items():
            if name == POOLED:
                continue
            for path, (p, _, _) in pooled.headline.items():
                _, lo, hi = single.headline[path]
                if not lo <= p <= hi:
                    found.append((as_of, path, name))
    return found


def _by_date(forecasts: Sequence[CodingForecast]) -> dict[dt.date, dict[str, CodingForecast]]:
    by_date: dict[dt.date, dict[str, CodingForecast]] = {}
    for f in forecasts:
        by_date.setdefault(f.as_of, {})[f.name] = f
    return dict(sorted(by_date.items()))


def table_text(result: Agreement, forecasts: Sequence[CodingForecast], labels: dict[str, str], factor_labels: dict[str, str],
               rows: int = 10) -> str:
    """The agreement report as the terminal prints it."""
    a, b = result.names
    lines = [f"Agreement between {a} and {b}" + (f", over the dates both cover ({result.span[0]} to {result.span[1]})"
                                                  if result.span else ""), ""]
    same = sum(p.same_source for p in result.pairs)
    lines.append(f"Readings: {len(result.pairs)} matched on the same obstacle within a week ({same} citing the same report); "
                 f"{result.unmatched[0]} of {a}'s and {result.unmatched[1]} of {b}'s have no counterpart.")
    lines.append(f"  Krippendorff's alpha (interval): {_alpha_text(result.alpha_readings)}")
    for factor, (n, alpha, mean) in result.by_factor.items():
        if n:
            lines.append(f"  {factor_labels.get(factor, factor):<24} {n:3d} pairs, alpha {_alpha_text(alpha)}, "
                         f"{b} reads {mean:+.2f} from {a} on average")
    either = sum(d.first != NO_DEAL or d.second != NO_DEAL for d in result.deals)
    lines += ["", f"Deals, week by week: {len(result.deals)} weeks, {either} with a deal in either coding; deal or no deal "
                  f"alpha {_alpha_text(result.alpha_deal)}, with its type {_alpha_text(result.alpha_deal_type)}."]
    for d in result.deal_disagreements:
        ids = ", ".join(e.event_id for e in (d.first_event, d.second_event) if e is not None)
        lines.append(f"  week of {d.date}: {a} {labels.get(d.first, d.first)}, {b} {labels.get(d.second, d.second)} ({ids})")
    lines += ["", f"The {min(rows, len(result.pairs))} largest differences between matched readings ({b} minus {a}):"]
    for p in result.largest(rows):
        lines.append(f"  {p.difference:+.1f}  {factor_labels.get(p.first.factor, p.first.factor)}: {a} {p.first.event_id} "
                     f"{p.first.date} {p.first.signal:+.1f}, {b} {p.second.event_id} {p.second.date} {p.second.signal:+.1f}")
        lines.append(f"        {a}: {_short(p.first.description)}")
        lines.append(f"        {b}: {_short(p.second.description)}")
    if forecasts:
        lines += ["", "Each coding's forecast alone, and both in one log as two coders, each fitted on the dates both "
                      "cover (the first deal within the headline horizon; 5-95 % across draws):"]
        for as_of, by_name in _by_date(forecasts).items():
            row = list(by_name.values())
            lines.append(f"  as of {as_of}" + "".join(f"   {f.name:>24}" for f in row))
            for path in row[0].headline:
                cells = "".join(f"   {100 * f.headline[path][0]:5.1f} % ({100 * f.headline[path][1]:.0f}-"
                                f"{100 * f.headline[path][2]:.0f} %){'':<6}" for f in row)
                lines.append(f"    {labels.get(path, path):<34}{cells}")
            if not all(f.passed for f in row):
                lines.append("    (a fit failed its diagnostics: read these numbers with care)")
        cells = len(_by_date(forecasts)) * len(forecasts[0].headline)
        outside = outside_ranges(forecasts)
        lines.append(f"  One coding's chance outside the other's 5-95 % range in {len(outside)} of {cells} cells"
                     + (": " + "; ".join(f"{d} {labels.get(p, p)}" for d, p in outside) if outside else "."))
        if any(f.name == POOLED for f in forecasts):
            pooled = pooled_outside(forecasts)
            lines.append(f"  Both in one log outside a single coding's 5-95 % range in {len(pooled)} of {2 * cells} cells"
                         + (": " + "; ".join(f"{d} {labels.get(p, p)} ({name})" for d, p, name in pooled) if pooled else "."))
    return "\n".join(lines)


def _alpha_text(alpha: float | None) -> str:
    return "undefined (too few units)" if alpha is None else f"{alpha:.2f}"


def _short(text: str, width: int = 110) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def to_dict(result: Agreement, forecasts: Sequence[CodingForecast]) -> dict:
    return {
        "names": list(result.names),
        "span": [d.isoformat() for d in result.span] if result.span else None,
        "readings": {"matched": len(result.pairs), "same_report": sum(p.same_source for p in result.pairs),
                     "unmatched": list(result.unmatched), "alpha_interval": result.alpha_readings,
                     "by_factor": {k: {"pairs": n, "alpha": a, "mean_difference": m} for k, (n, a, m) in result.by_factor.items()}},
        "deals": {"units": len(result.deals), "alpha_deal": result.alpha_deal, "alpha_type": result.alpha_deal_type,
                  "disagreements": [{"date": d.date.isoformat(), "first": d.first, "second": d.second,
                                     "ids": [e.event_id for e in (d.first_event, d.second_event) if e is not None]}
                                    for d in result.deal_disagreements]},
        "largest": [{"difference": p.difference, "factor": p.first.factor, "first": p.first.event_id,
                     "second": p.second.event_id} for p in result.largest()],
        "forecasts": [{"coding": f.name, "as_of": f.as_of.isoformat(), "passed": f.passed,
                       "headline": {k: {"p": v[0], "lo": v[1], "hi": v[2]} for k, v in f.headline.items()}} for f in forecasts],
        "outside_ranges": [[d.isoformat(), p] for d, p in outside_ranges(forecasts)],
        "pooled_outside": [[d.isoformat(), p, name] for d, p, name in pooled_outside(forecasts)],
    }
