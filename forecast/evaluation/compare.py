"""`forecast compare CROWD.csv`: external forecasts beside the model's, scored the same way.

CROWD.csv has one row per external forecast: `date` (when it was made), `probability` (0 to 1),
`deadline` (the question resolves yes if the event starts on or before it), `match` (which of
the model's outcomes answers the question), and optional `question` and `source` text.

Matching (also in the README):

* `any_deal`: the chance that a deal of any kind starts by the deadline, 1 - P(no deal).
* a deal-type key (e.g. `local_ceasefire`): the model's chance that the *first* deal by the
  deadline is of that type. That is a lower bound for "will a local ceasefire happen by T",
  since a local ceasefire after an energy deal answers yes to the question but is not first.
* the complement key (`protracted_war`): no deal of any kind by the deadline.

Most public questions ask about a *general* ceasefire, which the model has no outcome for: its
deals are partial by design. Matching such a question to `any_deal` compares a broad question
with a narrower one, and the model's chance is then an upper bound in spirit; say so when
quoting it.

The model's side of each row is the newest stored run whose as-of date is on or before the
row's date (never a later run), read at the horizon from that run's week to the deadline's
week. A row is scored once the ledger is complete past its deadline: yes if a matching deal
started in the weeks after the run's as-of week up to the deadline's week.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forecast.conventions import HORIZON, OUTCOME
from forecast.errors import InputError, did_you_mean
from forecast.evaluation.scoring import binary_scores
from forecast.io.events import Event
from forecast.io.ledger import RunRecord
from forecast.io.textfiles import csv_rows, decode_text, header_names, read_input
from forecast.io.workspace import Workspace
from forecast.model.dataset import active_events, default_as_of, monday, week_index

REQUIRED = ("date", "probability", "deadline", "match")
OPTIONAL = ("question", "source")
ANY_DEAL = "any_deal"


@dataclass(frozen=True)
class CrowdForecast:
    line: int
    date: dt.date
    probability: float
    deadline: dt.date
    match: str
    question: str
    source: str


def read_crowd(path: Path, outcome_keys: list[str]) -> list[CrowdForecast]:
    """Parse CROWD.csv whole, or raise InputError naming file, line and column."""
    raw = read_input(path, "a crowd file")
    header_row, reader = csv_rows(path, decode_text(path, raw))
    header = header_names(path, header_row, REQUIRED + OPTIONAL) if header_row else []
    for name in REQUIRED:
        if name not in header:
            raise InputError(f"missing column '{name}'; a crowd file needs {', '.join(REQUIRED)}", path=path, line=1)
    for name in header:
        if name not in REQUIRED + OPTIONAL:
            raise InputError(f"unknown column '{name}'; {did_you_mean(name, REQUIRED + OPTIONAL)}", path=path, line=1)
    matches = [ANY_DEAL, *outcome_keys]
    rows = []
    for line, values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise InputError(f"expected {len(header)} fields as in the header, found {len(values)}", path=path, line=line)
        cell = dict(zip(header, (v.strip() for v in values)))

        def fail(column: str, message: str, line: int = line) -> InputError:
            return InputError(message, path=path, line=line, column=column)

        def date(column: str, cell: dict = cell) -> dt.date:
            try:
                return dt.date.fromisoformat(cell[column])
            except ValueError:
                raise fail(column, f"expected a date YYYY-MM-DD, got '{cell[column]}'") from None

        try:
            probability = float(cell["probability"])
        except ValueError:
            raise fail("probability", f"expected a probability from 0 to 1, got '{cell['probability']}'") from None
        if not 0 <= probability <= 1:
            hint = " (a percentage? write 0.35 for 35 %)" if 1 < probability <= 100 else ""
            raise fail("probability", f"expected a probability from 0 to 1, got {cell['probability']}{hint}")
        if cell["match"] not in matches:
            raise fail("match", f"unknown outcome '{cell['match']}'; {did_you_mean(cell['match'], matches)}")
        made, deadline = date("date"), date("deadline")
        if deadline <= made:
            raise fail("deadline", f"the deadline {deadline} is not after the forecast's date {made}")
        rows.append(CrowdForecast(line, made, probability, deadline, cell["match"],
                                  cell.get("question") or "crowd forecast", cell.get("source", "")))
    if not rows:
        raise InputError("no forecasts below the header row", path=path, line=2)
    return rows


@dataclass(frozen=True)
class Compared:
    crowd: CrowdForecast
    run: RunRecord | None
    model: float | None  # the model's chance of the matched outcome, None if excluded
    excluded: str  # why there is no model number
    resolved: bool | None  # None: not yet known


def compare(workspace: Workspace, crowd: list[CrowdForecast]) -> list[Compared]:
    from forecast.io.runfiles import load_posterior, stored_forecast

    runs = workspace.ledger.runs()
    events = workspace.ledger.events()
    known = default_as_of(events) if events else None
    tables: dict[str, object] = {}
    out = []
    for c in crowd:
        earlier = [r for r in runs if r.as_of <= c.date]
        if not earlier:
            out.append(Compared(c, None, None, "no run as of that date", None))
            continue
        run = max(earlier, key=lambda r: (r.as_of, r.created_at))
        horizon = week_index(c.deadline, monday(run.as_of))
        if run.run_id not in tables:
            tree = load_posterior(workspace.root / run.posterior, run)
            keys = list(run.headline)
            tables[run.run_id] = stored_forecast(tree, keys)
        table = tables[run.run_id]
        if horizon < 1 or horizon > table[HORIZON].max():
            why = "deadline in the run's own week" if horizon < 1 else f"deadline beyond the run's {table[HORIZON].max()}-week forecast"
            out.append(Compared(c, run, None, why, None))
            continue
        at = table[table[HORIZON] == horizon].set_index(OUTCOME)["p"]
        complement = list(run.headline)[-1]
        p = 1 - float(at[complement]) if c.match == ANY_DEAL else float(at[c.match])
        out.append(Compared(c, run, p, "", _resolution(events, known, run, c, complement)))
    return out


def _resolution(events: Sequence[Event], known: dt.date | None, run: RunRecord, c: CrowdForecast, complement: str) -> bool | None:
    """Did the matched outcome happen, in the same window the model's number covers?"""
    if known is None or monday(known) < monday(c.deadline):
        return None  # the ledger is not yet complete past the deadline
    active, _ = active_events(events, known)
    base = monday(run.as_of)
    last = week_index(c.deadline, base)
    deals = sorted((week_index(e.date, base), e.outcome) for e in active if e.kind == "outcome")
    inside = [(w, o) for w, o in deals if 1 <= w <= last]
    if c.match == ANY_DEAL:
        return bool(inside)
    if c.match == complement:
        return not inside
    return bool(inside) and inside[0][1] == c.match  # first deal, as the model's number defines it


def scores(compared: list[Compared]) -> dict:
    """Brier and log scores of the crowd and the model on the rows both can be scored on."""
    both = [c for c in compared if c.model is not None and c.resolved is not None]
    out = {"n": len(both)}
    for who, get in (("crowd", lambda c: c.crowd.probability), ("model", lambda c: c.model)):
        pairs = [binary_scores(get(c), c.resolved) for c in both]
        out[who] = {"brier": float(np.mean([b for b, _ in pairs])) if pairs else None,
                    "log": float(np.mean([lg for _, lg in pairs])) if pairs else None}
    return out


def table_text(compared: list[Compared]) -> str:
    lines = [f"  {'Date':<10}  {'Question':<34} {'Match':<16} {'Crowd':>6} {'Model':>6}  {'Run as of':<10}  Resolved / note"]
    for c in compared:
        model = f"{100 * c.model:5.1f}%" if c.model is not None else "     –"
        note = c.excluded or {True: "yes", False: "no", None: "open"}[c.resolved]
        lines.append(f"  {c.crowd.date}  {c.crowd.question[:34]:<34} {c.crowd.match:<16} {100 * c.crowd.probability:5.1f}% "
                     f"{model}  {str(c.run.as_of) if c.run else '–':<10}  {note}")
    s = scores(compared)
    lines += ["", f"Scored on {s['n']} resolved row(s) both can answer:"]
    if s["n"]:
        for who in ("crowd", "model"):
            lines.append(f"  {who:<6} Brier {s[who]['brier']:.3f}, log {s[who]['log']:.3f} (lower is better)")
    return "\n".join(lines)


def write_chart(compared: list[Compared], path: Path) -> Path:
    """One chart: each question's crowd probability and the model's matched chance over time."""
    import matplotlib.pyplot as plt

    from forecast.brief.plots import plot_compare
    from forecast.io.workspace import write_atomically

    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    plot_compare(compared, axes=ax)
    s = scores(compared)
    if s["n"]:
        ax.set_title(f"Scored on {s['n']} resolved rows: crowd Brier {s['crowd']['brier']:.3f}, "
                     f"model Brier {s['model']['brier']:.3f} (lower is better)", fontsize=9)
    try:
        return write_atomically(path, lambda tmp: fig.savefig(tmp, format="pdf"))
    finally:
        plt.close(fig)
