"""`forecast compare CROWD.csv`: external forecasts beside the model's, scored the same way.

CROWD.csv has one row per external forecast: `date` (when it was made), `probability` (0 to 1),
`deadline` (the question resolves yes if the event starts on or before it), `match` (which of
the model's outcomes answers the question), and optional `resolved` (yes, no or open: how the
question itself resolved), `question` and `source` text.

The model's number for a row (also in docs/COMPARE.md and docs/FORMATS.md):

* a deal type (`local_ceasefire`, `energy_food_deal`, `general_ceasefire`): the chance that a
  deal of that type starts *at least once* by the deadline, whatever comes first ("happens by",
  stored with every run), so "will a general ceasefire be agreed by T?" is read as asked.
* `any_deal`: a deal of any kind by the deadline, 1 - P(no deal).
* the complement (`protracted_war`): no deal of any kind by the deadline.

It comes from the newest stored run whose as-of date is on or before the row's date (never a
later run), read at the horizon from that run's week to the deadline's week.

A row is resolved by its own question when `resolved` says yes or no; `open` lists the row
without scoring it. With `resolved` empty or absent, the ledger resolves it once it is complete
past the deadline: did a matching deal start in the weeks the model's number covers?

Loose rows: a row is *loose* when its question's resolution cannot be read off the model's
outcome exactly. Three things make a row loose, and nothing else:

1. the analyst says so, by writing the match with a `~` prefix (`~general_ceasefire`): a question
   about a "lasting" ceasefire, a peace treaty, or one whose criteria differ from the coding guide;
2. the file says so: the question resolved yes (no) while the ledger's record of the matched
   outcome, over the same weeks, says no (yes). Then the model's outcome is demonstrably not the
   question's (a general-ceasefire question that resolved no, matched to `any_deal`, which a
   holiday truce in the ledger answers yes);
3. the match is a union of deal types (`any_deal`, or the complement, "no deal of any kind") and
   the file gives no resolution of its own: the ledger would answer it through whatever deal it
   logged, a holiday truce included, and no public question asks about that union.

Loose rows are listed and marked but left out of the score unless `--include-loose`. So a
general-ceasefire question is never scored against a holiday truce without the analyst asking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from forecast.conventions import DEAL, EARLIEST_YEARS_BEFORE_START, FACTOR, HORIZON, OUTCOME
from forecast.errors import InputError, did_you_mean
from forecast.evaluation.scoring import binary_scores
from forecast.forecasting.incidence import HAPPENS_BY
from forecast.io.events import Event
from forecast.io.ledger import RunRecord
from forecast.io.textfiles import csv_rows, decode_text, header_names, read_input
from forecast.io.workspace import Workspace
from forecast.model.dataset import active_events, default_as_of, monday, week_index

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

REQUIRED = ("date", "probability", "deadline", "match")
OPTIONAL = ("resolved", "question", "source")
ANY_DEAL = "any_deal"
LOOSE = "~"  # a match written ~key: the analyst says the question is not exactly the model's outcome
ANSWERS = ("yes", "no", "open")


@dataclass(frozen=True)
class CrowdForecast:
    line: int
    date: dt.date
    probability: float
    deadline: dt.date
    match: str  # the model outcome, without the loose mark
    question: str
    source: str
    loose: bool = False  # the match was written with the `~` prefix
    answer: str = ""  # the question's own resolution: "yes", "no", "open", or "" (the ledger's)

    @property
    def match_text(self) -> str:
        return f"{LOOSE}{self.match}" if self.loose else self.match


def read_crowd(path: Path, outcome_keys: list[str], *, runs_from: dt.date | None = None,
               today: dt.date | None = None) -> list[CrowdForecast]:
    """Parse CROWD.csv whole, or raise InputError naming file, line and column.

    A forecast's date is when it was made: not after `today`, and, given `runs_from` (the first
    run's as-of date), not more than EARLIEST_YEARS_BEFORE_START years before it, the events'
    rule for a likely typo. Such a date (0001-01-01) can be read by no run, and drawn on no chart.
    """
    today = today or dt.date.today()
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
        loose = cell["match"].startswith(LOOSE)
        match = cell["match"].removeprefix(LOOSE).strip()
        if match not in matches:
            raise fail("match", f"unknown outcome '{match}'; {did_you_mean(match, matches)} "
                                f"(a {LOOSE} before it marks a loose match)")
        answer = cell.get("resolved", "").lower()
        if answer not in ("", *ANSWERS):
            raise fail("resolved", f"expected yes, no, open or nothing, got '{cell['resolved']}'; "
                                   f"{did_you_mean(answer, ANSWERS)}")
        made, deadline = date("date"), date("deadline")
        span = f"from {_earliest(runs_from)} to today ({today})" if runs_from is not None else f"up to today ({today})"
        if made > today:
            raise fail("date", f"date {made} is in the future; a forecast's date is when it was made, {span}")
        if runs_from is not None and made < _earliest(runs_from):
            raise fail("date", f"date {made} is more than {EARLIEST_YEARS_BEFORE_START} years before the first run (as of "
                               f"{runs_from}), refused as a likely typo; a forecast's date is when it was made, {span}")
        if deadline <= made:
            raise fail("deadline", f"the deadline {deadline} is not after the forecast's date {made}")
        rows.append(CrowdForecast(line, made, probability, deadline, match, cell.get("question") or "crowd forecast",
                                  cell.get("source", ""), loose, answer))
    if not rows:
        raise InputError("no forecasts below the header row", path=path, line=2)
    return rows


def _earliest(runs_from: dt.date) -> dt.date:
    return runs_from.replace(year=runs_from.year - EARLIEST_YEARS_BEFORE_START, day=min(runs_from.day, 28))


@dataclass(frozen=True)
class Compared:
    crowd: CrowdForecast
    run: RunRecord | None
    model: float | None  # the model's chance of the matched outcome, None if excluded
    excluded: str  # why there is no model number
    resolved: bool | None  # how the row resolved (the question's own answer, else the ledger's); None: not known
    resolved_by: str = ""  # "question" or "ledger" (or "" while unresolved)
    ledger: bool | None = None  # the ledger's record of the matched outcome over the model's weeks; None: not known
    ledger_deals: str = ""  # the deals in the ledger that answer the match yes, e.g. "Local ceasefire 2025-04-19"
    loose: str = ""  # why the row is loose; "" if exact

    def scored(self, include_loose: bool = False) -> bool:
        return self.model is not None and self.resolved is not None and (include_loose or not self.loose)


def compare(workspace: Workspace, crowd: list[CrowdForecast]) -> list[Compared]:
    from forecast.io.runfiles import load_posterior

    runs = workspace.ledger.runs()
    events = workspace.ledger.events()
    known = default_as_of(events) if events else None
    tables: dict[str, pd.DataFrame | str] = {}
    out = []
    for c in crowd:
        earlier = [r for r in runs if r.as_of <= c.date]
        if not earlier:
            out.append(Compared(c, None, None, "no run as of that date", None, loose=_analyst_loose(c)))
            continue
        run = max(earlier, key=lambda r: (r.as_of, r.created_at))
        horizon = week_index(c.deadline, monday(run.as_of))
        if run.run_id not in tables:
            tables[run.run_id] = _happens_by_table(load_posterior(workspace.root / run.posterior, run), run)
        table = tables[run.run_id]
        complement = list(run.headline)[-1]
        why = ""
        if isinstance(table, str):
            why = table
        elif horizon < 1:
            why = "deadline in the run's own week"
        elif horizon > table[HORIZON].max():
            why = f"deadline beyond the run's {table[HORIZON].max()}-week forecast"
        elif c.match != ANY_DEAL and c.match not in run.headline:
            why = f"run {run.run_id} has no outcome '{c.match}' (fitted with other priors)"
        if why:
            out.append(Compared(c, run, None, why, None, loose=_analyst_loose(c)))
            continue
        at = table[table[HORIZON] == horizon].set_index(OUTCOME)[HAPPENS_BY[0]]
        p = 1 - float(at[complement]) if c.match == ANY_DEAL else float(at[c.match])
        ledger, deals = _ledger_reading(events, known, run, c, complement)
        if c.answer in ("yes", "no"):
            resolved, by = c.answer == "yes", "question"
        elif c.answer == "open":
            resolved, by = None, "question"
        else:
            resolved, by = ledger, "ledger" if ledger is not None else ""
        loose = _analyst_loose(c)
        if not loose and c.answer in ("yes", "no") and ledger is not None and ledger != resolved:
            loose = (f"the question resolved {c.answer}, but the ledger's record of {c.match} says "
                     f"{'yes' if ledger else 'no'}{f' ({deals})' if deals else ''}")
        if not loose and not c.answer and c.match in (ANY_DEAL, complement):
            what = "is yes on" if c.match == ANY_DEAL else "is no after"
            loose = (f"{c.match} {what} any logged deal, a holiday truce included: give the question's own "
                     "resolution (resolved) to score it")
        out.append(Compared(c, run, p, "", resolved, by, ledger, deals, loose))
    return out


def _analyst_loose(c: CrowdForecast) -> str:
    return f"marked {LOOSE} in the file" if c.loose else ""


def _happens_by_table(tree: xr.DataTree, run: RunRecord) -> pd.DataFrame | str:
    """The run's forecast table with its at-least-once columns. A run stored before runs kept
    them has its forward walk recomputed from its draws with the run's own stream, used only if
    it reproduces the stored cumulative incidence; otherwise the reason it cannot be used."""
    from forecast.forecasting.incidence import simulate_forward
    from forecast.io.runfiles import stored_forecast, stored_priors
    from forecast.model.likelihood_on_draws import Draws

    keys = list(run.headline)
    table = stored_forecast(tree, keys)
    if HAPPENS_BY[0] in table.columns:
        return table
    priors = stored_priors(tree, run)
    posterior = tree.posterior.to_dataset().sel({FACTOR: list(priors.factors), DEAL: list(priors.outcomes.deals)})
    weeks = int(table[HORIZON].max())
    forward = simulate_forward(Draws.from_dataset(posterior), weeks, np.random.default_rng([run.seed, 1]))
    stored = table.pivot(index=HORIZON, columns=OUTCOME, values="p")[keys].to_numpy()
    if np.max(np.abs(forward.incidence.mean(axis=0) - stored)) > 1e-9:
        return (f"run {run.run_id} was stored before runs kept the at-least-once chances, and its forward "
                "simulation does not reproduce here (another code version)")
    table = table.copy()
    table[HAPPENS_BY[0]] = forward.happens_by.mean(axis=0).ravel()  # horizon-major, outcomes in `keys` order
    return table


def _ledger_reading(events: Sequence[Event], known: dt.date | None, run: RunRecord, c: CrowdForecast,
                    complement: str) -> tuple[bool | None, str]:
    """What the ledger says of the matched outcome in the weeks the model's number covers (after
    the run's as-of week, up to the deadline's week), and the deals that answer it yes. None while
    the ledger is not complete past the deadline."""
    if known is None or monday(known) < monday(c.deadline):
        return None, ""
    active, _ = active_events(events, known)
    base = monday(run.as_of)
    last = week_index(c.deadline, base)
    inside = sorted((e.date, e.outcome) for e in active if e.kind == "outcome" and 1 <= week_index(e.date, base) <= last)
    hits = inside if c.match in (ANY_DEAL, complement) else [(d, o) for d, o in inside if o == c.match]
    labels = {k: v.get("label", k) for k, v in run.headline.items()}
    named = ", ".join(f"{labels.get(o, o)} {d}" for d, o in hits[:2]) + (f" and {len(hits) - 2} more" if len(hits) > 2 else "")
    if c.match == complement:
        return not inside, named
    return bool(hits), named


def scores(compared: list[Compared], include_loose: bool = False) -> dict:
    """Brier and log scores of the crowd and the model on the rows both can be scored on."""
    both = [c for c in compared if c.scored(include_loose)]
    out: dict = {"n": len(both), "by_question": sum(c.resolved_by == "question" for c in both),
                 "by_ledger": sum(c.resolved_by == "ledger" for c in both),
                 "loose_left_out": 0 if include_loose else sum(c.scored(True) and not c.scored() for c in compared)}
    for who, get in (("crowd", lambda c: c.crowd.probability), ("model", lambda c: c.model)):
        pairs = [binary_scores(get(c), c.resolved) for c in both]
        out[who] = {"brier": float(np.mean([b for b, _ in pairs])) if pairs else None,
                    "log": float(np.mean([lg for _, lg in pairs])) if pairs else None}
    return out


def note(c: Compared, include_loose: bool = False) -> str:
    """The last column of a row: how it resolved (and by what), why it is not scored, why it is loose."""
    if c.excluded:
        text = c.excluded
    elif c.resolved is None:
        text = "open" if c.resolved_by == "question" else "open (the ledger is not yet past the deadline)"
    elif c.resolved_by == "question":
        text = f"{'yes' if c.resolved else 'no'} (the question)"
    else:
        text = f"{'yes' if c.resolved else 'no'} (ledger{f': {c.ledger_deals}' if c.ledger_deals and c.resolved else ''})"
    if c.loose:
        scored = "scored (--include-loose)" if c.scored(include_loose) else "not scored"
        text = f"LOOSE, {scored}: {c.loose}; {text}"
    if c.run is not None and c.run.status != "ok":
        text += " [run flagged]"
    return text


def table_text(compared: list[Compared], include_loose: bool = False) -> str:
    lines = [f"  {'Date':<10}  {'Question':<34} {'Deadline':<10}  {'Match':<18} {'Crowd':>6} {'Model':>6}  "
             f"{'Run as of':<10}  Resolved / note"]
    for c in compared:
        model = f"{100 * c.model:5.1f}%" if c.model is not None else "     –"
        lines.append(f"  {c.crowd.date}  {c.crowd.question[:34]:<34} {c.crowd.deadline}  {c.crowd.match_text:<18} "
                     f"{100 * c.crowd.probability:5.1f}% {model}  {str(c.run.as_of) if c.run else '–':<10}  "
                     f"{note(c, include_loose)}")
    s = scores(compared, include_loose)
    source = f"{s['by_question']} by the question's own resolution, {s['by_ledger']} by the ledger"
    lines += ["", f"Scored on {s['n']} resolved row(s) both can answer ({source}):"]
    if s["n"]:
        for who in ("crowd", "model"):
            lines.append(f"  {who:<6} Brier {s[who]['brier']:.3f}, log {s[who]['log']:.3f} (lower is better)")
    if s["loose_left_out"]:
        lines.append(f"Left out: {s['loose_left_out']} loose row(s) (marked LOOSE above); --include-loose scores them too.")
    flagged = sorted({c.run.run_id for c in compared if c.scored(include_loose) and c.run.status != "ok"})
    if flagged:
        lines.append(f"Warning: {len(flagged)} of the runs these scores read failed their diagnostics ([run flagged] above): "
                     "refit them with more draws before quoting the scores.")
    lines.append("Model: a deal type's chance to start at least once by the deadline; any_deal 1 - P(no deal).")
    return "\n".join(lines)


def write_chart(compared: list[Compared], path: Path, include_loose: bool = False) -> Path:
    """One chart: each question's crowd probability and the model's matched chance over time."""
    import matplotlib.pyplot as plt

    from forecast.brief.plots import plot_compare
    from forecast.io.workspace import write_atomically

    fig, ax = plt.subplots(figsize=(11, 6.5), layout="constrained")
    plot_compare(compared, axes=ax, include_loose=include_loose)
    s = scores(compared, include_loose)
    if s["n"]:
        left_out = f"; {s['loose_left_out']} loose row(s) left out" if s["loose_left_out"] else ""
        ax.set_title(f"Scored on {s['n']} resolved rows{left_out}: crowd Brier {s['crowd']['brier']:.3f}, "
                     f"model Brier {s['model']['brier']:.3f} (lower is better)", fontsize=9)
    try:
        return write_atomically(path, lambda tmp: fig.savefig(tmp, format="pdf"))
    finally:
        plt.close(fig)
