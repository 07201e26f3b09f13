"""`forecast compare`: reading a crowd file, matching each row to the right stored run and
horizon, resolving it from the ledger, and scoring both sides on the same rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import xarray as xr
from conftest import write_csv

from forecast.errors import InputError
from forecast.evaluation.compare import compare, read_crowd, scores
from forecast.io.events import Event
from forecast.io.ledger import RunRecord
from forecast.io.runfiles import PROVENANCE, write_posterior
from forecast.io.workspace import Workspace

W0 = dt.date(2025, 2, 17)  # a Monday
KEYS = ["local_ceasefire", "energy_food_deal", "protracted_war"]
CROWD_HEADER = "date,probability,deadline,match,question"


def _week(n: int, day: int = 0) -> dt.date:
    return W0 + dt.timedelta(weeks=n, days=day)


def _event(event_id, day, kind="signal", **fields) -> Event:
    base = dict(event_id=event_id, kind=kind, date=day, reported=day, factor=None, signal=None, outcome=None, retracts=None,
                source_reliability="B", info_credibility="2", actor="", description="", source="")
    if kind == "signal":
        base.update(factor="territorial_rigidity", signal=2.0)
    return Event(**{**base, **fields})


@pytest.fixture
def workspace(tmp_path, priors) -> Workspace:
    """A run as of week 0 whose stored forecast is known: by horizon h, local 1 % x h, energy 2 % x h."""
    ws = Workspace(tmp_path / "ws")
    events = [_event("s1", _week(0, 2)), _event("d1", _week(5, 1), kind="outcome", outcome="energy_food_deal"),
              _event("s2", _week(10, 0))]
    table = pd.DataFrame([{"horizon": h, "outcome": k, "p": p, "lo": p, "hi": p}
                          for h in range(1, 27) for k, p in zip(KEYS, (0.01 * h, 0.02 * h, 1 - 0.03 * h))])
    run = RunRecord(run_id="r1", created_at="2026-01-01T00:00:00+00:00", as_of=_week(0, 4), data_hash="d", priors_hash=priors.hash,
                    priors_dir="priors", code_version="t", seed=1, draws=1, tune=1, chains=2, status="ok", diagnostics={},
                    headline={k: {"label": k, "p": 0.1, "lo": 0.1, "hi": 0.1} for k in KEYS}, factors={}, counts={},
                    horizon_weeks=12, posterior="runs/r1/posterior.nc", report=None)
    (ws.root / "runs" / "r1").mkdir(parents=True)
    write_posterior(ws.root / run.posterior, xr.DataTree(), table, {k: getattr(run, k) for k in PROVENANCE}, priors.content)
    ws.ledger.commit_update(file="f", file_sha256="s", new_events=events, known_count=0, run=run)
    return ws


def test_rows_match_the_run_before_them_at_the_deadlines_horizon(workspace, tmp_path):
    crowd = write_csv(tmp_path / "crowd.csv", *[
        f"{_week(0, 5)},0.3,{_week(3, 2)},any_deal,q1",  # horizon 3: 9 %; no deal in weeks 1-3
        f"{_week(1)},0.5,{_week(6, 2)},any_deal,q1",  # horizon 6: 18 %; the week-5 deal: yes
        f"{_week(1)},0.2,{_week(6, 2)},local_ceasefire,q2",  # 6 %; the first deal was energy/food: no
        f"{_week(1)},0.7,{_week(6, 2)},protracted_war,q3",  # 82 %: no
        f"{_week(-1)},0.5,{_week(6)},any_deal,early",  # before any run
        f"{_week(1)},0.5,{_week(40)},any_deal,far",  # beyond 26 weeks
        f"{_week(1)},0.5,{_week(12)},any_deal,open",  # the ledger runs to week 10: not resolved
    ], header=CROWD_HEADER)
    rows = compare(workspace, read_crowd(crowd, KEYS))
    got = [(round(r.model, 6) if r.model is not None else None, r.resolved, r.excluded) for r in rows]
    assert got == [
        (0.09, False, ""), (0.18, True, ""), (0.06, False, ""), (0.82, False, ""),
        (None, None, "no run as of that date"), (None, None, "deadline beyond the run's 26-week forecast"),
        (0.36, None, ""),
    ]
    s = scores(rows)
    assert s["n"] == 4
    assert s["crowd"]["brier"] == pytest.approx((0.3**2 + 0.5**2 + 0.2**2 + 0.7**2) / 4)
    assert s["model"]["brier"] == pytest.approx((0.09**2 + 0.82**2 + 0.06**2 + 0.82**2) / 4)


@pytest.mark.parametrize(("row", "column", "message"), [
    ("2025-03-01,35,2025-04-30,any_deal,q", "probability", "a percentage? write 0.35"),
    ("2025-03-01,0.3,2025-04-30,local_ceasfire,q", "match", "did you mean 'local_ceasefire'?"),
    ("2025-03-01,0.3,30/04/2025,any_deal,q", "deadline", "expected a date YYYY-MM-DD"),
    ("2025-03-01,0.3,2025-02-01,any_deal,q", "deadline", "is not after the forecast's date"),
])
def test_bad_rows_name_line_and_column(tmp_path, row, column, message):
    path = write_csv(tmp_path / "c.csv", "2025-03-01,0.3,2025-04-30,any_deal,fine", row, header=CROWD_HEADER)
    with pytest.raises(InputError) as error:
        read_crowd(path, KEYS)
    assert error.value.line == 3 and error.value.column == column and message in str(error.value)


def test_a_missing_column_is_named(tmp_path):
    with pytest.raises(InputError, match="missing column 'deadline'"):
        read_crowd(write_csv(tmp_path / "c.csv", "2025-03-01,0.3,any_deal", header="date,probability,match"), KEYS)


def test_compare_command_prints_the_table_and_writes_the_chart(workspace, tmp_path):
    from cli_helpers import forecast

    crowd = write_csv(tmp_path / "crowd.csv", f"{_week(1)},0.5,{_week(6, 2)},any_deal,Any deal by March", header=CROWD_HEADER)
    result = forecast("compare", crowd, "--workspace", workspace.root, "--out", tmp_path / "c.pdf")
    assert "Any deal by March" in result.stdout and "18.0%" in result.stdout and "Scored on 1 resolved row" in result.stdout
    assert (tmp_path / "c.pdf").stat().st_size > 1000
    bad = forecast("compare", write_csv(tmp_path / "bad.csv", "x", header="date"), "--workspace", workspace.root, check=False)
    assert bad.returncode == 2 and "missing column 'probability'" in bad.stderr
