"""`forecast compare`: reading a crowd file, matching each row to the right stored run and
horizon, reading the model's "happens by" number, resolving each row by its own question or by
the ledger, keeping loose rows out of the score, and scoring both sides on the same rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import write_csv

from forecast.errors import InputError
from forecast.evaluation.compare import compare, read_crowd, scores, table_text
from forecast.io.events import Event
from forecast.io.ledger import RunRecord
from forecast.io.runfiles import PROVENANCE, write_posterior
from forecast.io.workspace import Workspace

W0 = dt.date(2025, 2, 17)  # a Monday
KEYS = ["local_ceasefire", "energy_food_deal", "general_ceasefire", "protracted_war"]
CROWD_HEADER = "date,probability,deadline,match,question"
RESOLVED_HEADER = "date,probability,deadline,match,resolved,question"
# The stored forecast by horizon h: the first deal's chance p and the at-least-once chance.
FIRST = {"local_ceasefire": 0.005, "energy_food_deal": 0.01, "general_ceasefire": 0.001}
ONCE = {"local_ceasefire": 0.006, "energy_food_deal": 0.012, "general_ceasefire": 0.0015}


def _week(n: int, day: int = 0) -> dt.date:
    return W0 + dt.timedelta(weeks=n, days=day)


def _event(event_id, day, kind="signal", **fields) -> Event:
    base = dict(event_id=event_id, kind=kind, date=day, reported=day, factor=None, signal=None, outcome=None, retracts=None,
                source_reliability="B", info_credibility="2", actor="", description="", source="")
    if kind == "signal":
        base.update(factor="territorial_rigidity", signal=2.0)
    return Event(**{**base, **fields})


def _table() -> pd.DataFrame:
    rows = []
    for h in range(1, 53):
        for key in KEYS[:-1]:
            rows.append({"horizon": h, "outcome": key, "p": FIRST[key] * h, "lo": FIRST[key] * h, "hi": FIRST[key] * h,
                         "happens_by": ONCE[key] * h, "happens_by_lo": ONCE[key] * h, "happens_by_hi": ONCE[key] * h})
        none = 1 - sum(FIRST.values()) * h
        rows.append({"horizon": h, "outcome": KEYS[-1], "p": none, "lo": none, "hi": none,
                     "happens_by": none, "happens_by_lo": none, "happens_by_hi": none})
    return pd.DataFrame(rows)


def _store_run(ws: Workspace, priors, table: pd.DataFrame, events: list[Event], posterior: xr.DataTree | None = None,
               run_id: str = "r1", seed: int = 1, as_of: dt.date | None = None, keys: list[str] = KEYS,
               status: str = "ok") -> RunRecord:
    run = RunRecord(run_id=run_id, created_at="2026-01-01T00:00:00+00:00", as_of=as_of or _week(0, 4), data_hash="d",
                    priors_hash=priors.hash, priors_dir="priors", code_version="t", seed=seed, draws=1, tune=1, chains=2,
                    status=status, diagnostics={}, headline={k: {"label": k, "p": 0.1, "lo": 0.1, "hi": 0.1} for k in keys},
                    factors={}, counts={}, horizon_weeks=12, posterior=f"runs/{run_id}/posterior.nc", report=None)
    (ws.root / "runs" / run_id).mkdir(parents=True)
    write_posterior(ws.root / run.posterior, posterior if posterior is not None else xr.DataTree(), table,
                    {k: getattr(run, k) for k in PROVENANCE}, priors.content)
    ws.ledger.commit_update(file="f", file_sha256="s", new_events=events, known_count=0, run=run)
    return run


# The ledger: an energy/food deal in week 5 and a holiday truce (a local ceasefire) in week 8,
# complete up to week 10. No general ceasefire.
EVENTS = [_event("s1", _week(0, 2)), _event("d1", _week(5, 1), kind="outcome", outcome="energy_food_deal"),
          _event("t1", _week(8, 6), kind="outcome", outcome="local_ceasefire"), _event("s2", _week(10, 0))]


@pytest.fixture
def workspace(tmp_path, priors) -> Workspace:
    """A run as of week 0 whose stored forecast is known (FIRST and ONCE, times h)."""
    ws = Workspace(tmp_path / "ws")
    _store_run(ws, priors, _table(), EVENTS)
    return ws


def test_rows_match_the_run_before_them_at_the_deadlines_horizon(workspace, tmp_path):
    crowd = write_csv(tmp_path / "crowd.csv", *[
        f"{_week(0, 5)},0.3,{_week(3, 2)},any_deal,q1",  # horizon 3: 1 - P(no deal) = 4.8 %; no deal in weeks 1-3
        f"{_week(1)},0.5,{_week(6, 2)},any_deal,q1",  # horizon 6: 9.6 %; the week-5 deal: yes
        f"{_week(1)},0.2,{_week(6, 2)},local_ceasefire,q2",  # at least once by 6: 3.6 %; no local ceasefire by week 6
        f"{_week(1)},0.7,{_week(6, 2)},protracted_war,q3",  # 90.4 %: no
        f"{_week(-1)},0.5,{_week(6)},any_deal,early",  # before any run
        f"{_week(1)},0.5,{_week(60)},any_deal,far",  # beyond 52 weeks
        f"{_week(1)},0.5,{_week(12)},any_deal,open",  # the ledger runs to week 10: not resolved
    ], header=CROWD_HEADER)
    rows = compare(workspace, read_crowd(crowd, KEYS))
    got = [(round(r.model, 6) if r.model is not None else None, r.resolved, r.resolved_by, r.excluded) for r in rows]
    assert got == [
        (0.048, False, "ledger", ""), (0.096, True, "ledger", ""), (0.036, False, "ledger", ""), (0.904, False, "ledger", ""),
        (None, None, "", "no run as of that date"), (None, None, "", "deadline beyond the run's 52-week forecast"),
        (0.192, None, "", ""),
    ]
    assert rows[1].ledger_deals == f"energy_food_deal {_week(5, 1)}"
    # any_deal and protracted_war are unions of deal types: resolved by the ledger alone, they are loose.
    assert [bool(r.loose) for r in rows] == [True, True, False, True, False, False, True]  # (no model number: moot)
    assert rows[0].loose.startswith("any_deal is yes on any logged deal, a holiday truce included")
    assert rows[3].loose.startswith("protracted_war is no after any logged deal")
    s = scores(rows)
    assert (s["n"], s["by_ledger"], s["loose_left_out"]) == (1, 1, 3)
    s = scores(rows, include_loose=True)
    assert s["n"] == 4 and s["by_ledger"] == 4 and s["by_question"] == 0
    assert s["crowd"]["brier"] == pytest.approx((0.3**2 + 0.5**2 + 0.2**2 + 0.7**2) / 4)
    assert s["model"]["brier"] == pytest.approx((0.048**2 + 0.904**2 + 0.036**2 + 0.904**2) / 4)


def test_a_deal_type_is_matched_by_its_happens_by_number(workspace, tmp_path):
    # The model's number for a deal type is the chance it starts at least once by the deadline (ONCE),
    # not the chance that the first deal is of its kind (FIRST).
    crowd = write_csv(tmp_path / "crowd.csv", *[
        f"{_week(1)},0.4,{_week(9, 2)},general_ceasefire,general by week 9",
        f"{_week(1)},0.3,{_week(9, 2)},local_ceasefire,local by week 9",
        f"{_week(1)},0.3,{_week(9, 2)},energy_food_deal,energy by week 9",
    ], header=CROWD_HEADER)
    general, local, energy = compare(workspace, read_crowd(crowd, KEYS))
    assert general.model == pytest.approx(9 * ONCE["general_ceasefire"])
    assert local.model == pytest.approx(9 * ONCE["local_ceasefire"])
    assert energy.model == pytest.approx(9 * ONCE["energy_food_deal"])
    # The holiday truce of week 8 answers the local-ceasefire question, never the general one.
    assert (general.resolved, general.resolved_by, general.ledger_deals) == (False, "ledger", "")
    assert (local.resolved, local.ledger_deals) == (True, f"local_ceasefire {_week(8, 6)}")
    # At least once: the energy deal counts although it is not the first... and here it is first.
    assert energy.resolved is True


def test_a_later_deal_of_the_type_resolves_happens_by_yes(tmp_path, priors):
    # A local ceasefire after an energy deal: "happens by" is yes for the local ceasefire too.
    ws = Workspace(tmp_path / "ws")
    _store_run(ws, priors, _table(), EVENTS)
    crowd = write_csv(tmp_path / "c.csv", f"{_week(1)},0.2,{_week(9, 2)},local_ceasefire,q", header=CROWD_HEADER)
    (row,) = compare(ws, read_crowd(crowd, KEYS))
    assert row.resolved is True  # the first deal (week 5) was energy/food; the truce came in week 8


def test_the_resolved_column_wins_and_open_rows_are_listed_not_scored(workspace, tmp_path):
    crowd = write_csv(tmp_path / "crowd.csv", *[
        f"{_week(1)},0.4,{_week(9, 2)},general_ceasefire,no,g9",  # the question's no; the ledger agrees
        f"{_week(1)},0.3,{_week(20, 2)},general_ceasefire,no,g20",  # ledger not yet past week 20: the question decides
        f"{_week(1)},0.3,{_week(20, 2)},general_ceasefire,open,g20 open",  # open: listed, not scored
        f"{_week(1)},0.3,{_week(20, 2)},general_ceasefire,,g20 ledger",  # empty: the ledger, which does not know yet
    ], header=RESOLVED_HEADER)
    rows = compare(workspace, read_crowd(crowd, KEYS))
    assert [(r.resolved, r.resolved_by, r.loose) for r in rows] == [
        (False, "question", ""), (False, "question", ""), (None, "question", ""), (None, "", "")]
    assert [r.scored() for r in rows] == [True, True, False, False]
    assert all(r.model is not None for r in rows)
    s = scores(rows)
    assert (s["n"], s["by_question"], s["by_ledger"]) == (2, 2, 0)
    text = table_text(rows)
    assert "no (the question)" in text and "open (the ledger is not yet past the deadline)" in text
    assert "Scored on 2 resolved row(s) both can answer (2 by the question's own resolution, 0 by the ledger)" in text


def test_a_general_ceasefire_question_cannot_be_scored_against_a_holiday_truce(workspace, tmp_path):
    # A general-ceasefire question that resolved no, matched to any_deal: the ledger's truce says
    # yes. The row is loose, marked, and left out of the score, with the truce named.
    crowd = write_csv(tmp_path / "crowd.csv", *[
        f"{_week(1)},0.6,{_week(9, 2)},any_deal,no,general ceasefire by week 9?",
        f"{_week(1)},0.6,{_week(9, 2)},general_ceasefire,no,general ceasefire by week 9? (matched right)",
    ], header=RESOLVED_HEADER)
    wrong, right = compare(workspace, read_crowd(crowd, KEYS))
    assert wrong.loose == (f"the question resolved no, but the ledger's record of any_deal says yes "
                           f"(energy_food_deal {_week(5, 1)}, local_ceasefire {_week(8, 6)})")
    assert not wrong.scored() and wrong.scored(include_loose=True)
    assert right.loose == "" and right.scored()
    s = scores([wrong, right])
    assert (s["n"], s["loose_left_out"]) == (1, 1)
    assert s["crowd"]["brier"] == pytest.approx(0.36) and s["model"]["brier"] == pytest.approx((9 * 0.0015) ** 2)
    text = table_text([wrong, right])
    assert "LOOSE, not scored: the question resolved no, but the ledger's record of any_deal says yes" in text
    assert "Left out: 1 loose row(s)" in text
    assert scores([wrong, right], include_loose=True)["n"] == 2


def test_without_its_own_resolution_an_any_deal_row_is_never_scored_against_a_truce(workspace, tmp_path):
    # The old way: no resolved column, general-ceasefire questions matched to any_deal, the ledger
    # resolving them through a holiday truce. Every such row is loose, with the reason, and unscored.
    crowd = write_csv(tmp_path / "crowd.csv", f"{_week(1)},0.6,{_week(9, 2)},any_deal,general ceasefire by week 9?",
                      f"{_week(6)},0.5,{_week(9, 2)},any_deal,general ceasefire by week 9?", header=CROWD_HEADER)
    rows = compare(workspace, read_crowd(crowd, KEYS))
    assert [r.resolved for r in rows] == [True, True]  # the ledger's truce of week 8 says yes ...
    assert all(r.loose.startswith("any_deal is yes on any logged deal, a holiday truce included") for r in rows)
    assert scores(rows)["n"] == 0  # ... and no score is computed from it
    assert "Scored on 0 resolved row(s)" in table_text(rows) and "Left out: 2 loose row(s)" in table_text(rows)


def test_a_tilde_marks_a_loose_row(workspace, tmp_path):
    crowd = write_csv(tmp_path / "crowd.csv", *[
        f"{_week(1)},0.3,{_week(9, 2)},~general_ceasefire,no,a lasting ceasefire by week 9",
        f"{_week(1)},0.3,{_week(9, 2)},~any_deal,,a peace agreement by week 9",
    ], header=RESOLVED_HEADER)
    first, second = read_crowd(crowd, KEYS)
    assert (first.match, first.loose, first.match_text, first.answer) == ("general_ceasefire", True, "~general_ceasefire", "no")
    rows = compare(workspace, [first, second])
    assert [r.loose for r in rows] == ["marked ~ in the file"] * 2
    assert rows[0].model == pytest.approx(9 * ONCE["general_ceasefire"])  # the number is still shown
    assert [r.scored() for r in rows] == [False, False] and [r.scored(True) for r in rows] == [True, True]
    text = table_text(rows)
    assert "~general_ceasefire" in text and "LOOSE, not scored: marked ~ in the file" in text
    assert "LOOSE, scored (--include-loose)" in table_text(rows, include_loose=True)


def test_a_run_stored_before_happens_by_is_recomputed_from_its_draws(tmp_path, priors):
    # Constant draws: the at-least-once chance is the closed form 1 - (1 - p_j)^h; the stored table
    # lacks it, as tables written before did, and compare recomputes it with the run's stream.
    from forecast.forecasting.incidence import HAPPENS_BY, forecast_table, simulate_forward
    from forecast.model.likelihood_on_draws import Draws

    deals, factors = list(priors.outcomes.deals), list(priors.factors)
    baseline = np.array([-3.0, -3.5, -6.0])
    posterior = xr.Dataset(
        {"theta": (("chain", "draw", "factor", "week"), np.zeros((2, 3, 4, 1))),
         "volatility": (("chain", "draw", "factor"), np.zeros((2, 3, 4))),
         "baseline": (("chain", "draw", "deal"), np.tile(baseline, (2, 3, 1))),
         "effect": (("chain", "draw", "deal", "factor"), np.zeros((2, 3, 3, 4)))},
        coords={"factor": factors, "deal": deals})
    forward = simulate_forward(Draws.from_dataset(posterior), 52, np.random.default_rng([9, 1]))
    old = forecast_table(forward.incidence, KEYS, forward.happens_by).drop(columns=list(HAPPENS_BY))
    ws = Workspace(tmp_path / "ws")
    _store_run(ws, priors, old, EVENTS, posterior=xr.DataTree.from_dict({"posterior": posterior}), seed=9)
    crowd = write_csv(tmp_path / "c.csv", f"{_week(1)},0.1,{_week(20, 2)},general_ceasefire,q", header=CROWD_HEADER)
    (row,) = compare(ws, read_crowd(crowd, KEYS))
    e = np.exp(np.concatenate([[0.0], baseline]))
    assert row.model == pytest.approx(1 - (1 - e[3] / e.sum()) ** 20, rel=1e-12)


def test_a_run_without_the_matched_deal_type_is_excluded(tmp_path, priors):
    # An older run fitted with two deal types, then a run with three: a row dated before the
    # second is set beside the first, which has no general ceasefire to offer.
    ws = Workspace(tmp_path / "ws")
    two = [k for k in KEYS if k != "general_ceasefire"]
    _store_run(ws, priors, _table()[lambda t: t.outcome != "general_ceasefire"], EVENTS[:1], run_id="r0", keys=two)
    _store_run(ws, priors, _table(), EVENTS[1:], run_id="r1", as_of=_week(10))
    crowd = write_csv(tmp_path / "c.csv", f"{_week(1)},0.1,{_week(9, 2)},general_ceasefire,q",
                      f"{_week(1)},0.1,{_week(9, 2)},local_ceasefire,q", header=CROWD_HEADER)
    general, local = compare(ws, read_crowd(crowd, KEYS))
    assert general.model is None and general.excluded == "run r0 has no outcome 'general_ceasefire' (fitted with other priors)"
    assert local.run.run_id == "r0" and local.model == pytest.approx(9 * ONCE["local_ceasefire"])


@pytest.mark.parametrize(("row", "column", "message"), [
    ("2025-03-01,35,2025-04-30,any_deal,,q", "probability", "a percentage? write 0.35"),
    ("2025-03-01,0.3,2025-04-30,local_ceasfire,,q", "match", "did you mean 'local_ceasefire'?"),
    ("2025-03-01,0.3,2025-04-30,~genral_ceasefire,,q", "match", "did you mean 'general_ceasefire'?"),
    ("2025-03-01,0.3,30/04/2025,any_deal,,q", "deadline", "expected a date YYYY-MM-DD"),
    ("2025-03-01,0.3,2025-02-01,any_deal,,q", "deadline", "is not after the forecast's date"),
    ("2025-03-01,0.3,2025-04-30,any_deal,maybe,q", "resolved", "expected yes, no, open or nothing"),
])
def test_bad_rows_name_line_and_column(tmp_path, row, column, message):
    path = write_csv(tmp_path / "c.csv", "2025-03-01,0.3,2025-04-30,any_deal,yes,fine", row, header=RESOLVED_HEADER)
    with pytest.raises(InputError) as error:
        read_crowd(path, KEYS)
    assert error.value.line == 3 and error.value.column == column and message in str(error.value)


def test_a_flagged_run_is_named_beside_the_scores(tmp_path, priors):
    ws = Workspace(tmp_path / "ws")
    _store_run(ws, priors, _table(), EVENTS, status="flagged")
    crowd = write_csv(tmp_path / "c.csv", f"{_week(1)},0.4,{_week(9, 2)},general_ceasefire,no,q", header=RESOLVED_HEADER)
    text = table_text(compare(ws, read_crowd(crowd, KEYS)))
    assert "no (the question) [run flagged]" in text
    assert "Warning: 1 of the runs these scores read failed their diagnostics" in text


def test_the_bundled_crowd_file_reads_whole(priors):
    from conftest import ROOT

    rows = read_crowd(ROOT / "examples" / "crowd.csv", priors.outcomes.keys)
    assert len(rows) == 32 and {r.match for r in rows} == {"general_ceasefire"}
    assert all(r.answer in ("yes", "no", "open") for r in rows) and all(r.source for r in rows)
    assert sum(r.loose for r in rows) == 5  # a peace agreement, a lasting ceasefire, and the 2026 truce's markets


def test_a_missing_column_is_named(tmp_path):
    with pytest.raises(InputError, match="missing column 'deadline'"):
        read_crowd(write_csv(tmp_path / "c.csv", "2025-03-01,0.3,any_deal", header="date,probability,match"), KEYS)


def test_compare_command_prints_the_table_and_writes_the_chart(workspace, tmp_path):
    from cli_helpers import forecast

    crowd = write_csv(tmp_path / "crowd.csv", f"{_week(1)},0.5,{_week(9, 2)},local_ceasefire,,A truce by April",
                      f"{_week(1)},0.5,{_week(9, 2)},~any_deal,no,A lasting ceasefire", header=RESOLVED_HEADER)
    result = forecast("compare", crowd, "--workspace", workspace.root, "--out", tmp_path / "c.pdf")
    assert "A truce by April" in result.stdout and "5.4%" in result.stdout and "Scored on 1 resolved row" in result.stdout
    assert f"yes (ledger: local_ceasefire {_week(8, 6)})" in result.stdout
    assert "LOOSE, not scored" in result.stdout and "Left out: 1 loose row(s)" in result.stdout
    assert (tmp_path / "c.pdf").stat().st_size > 1000
    loose = forecast("compare", crowd, "--workspace", workspace.root, "--out", tmp_path / "c.pdf", "--include-loose")
    assert "Scored on 2 resolved row(s)" in loose.stdout
    bad = forecast("compare", write_csv(tmp_path / "bad.csv", "x", header="date"), "--workspace", workspace.root, check=False)
    assert bad.returncode == 2 and "missing column 'probability'" in bad.stderr
