"""The backtest's choice of origins, data and outcomes, its baselines and its output, without
sampling (the model is replaced by a recorder); the leak test with real fits is in the sampling tier."""

from __future__ import annotations

import datetime as dt

import pytest

from forecast.errors import InputError
from forecast.evaluation.backtest import BacktestSettings, base_rate_forecast, observed_path, origins, run_backtest
from forecast.inference.fit import FitSettings
from forecast.io.events import Event
from forecast.model.dataset import build_dataset

START = dt.date(2025, 2, 17)
KEYS = ["local_ceasefire", "energy_food_deal", "general_ceasefire", "protracted_war"]


def _event(event_id, day, kind="signal", reported=None, **fields) -> Event:
    base = dict(event_id=event_id, kind=kind, date=day, reported=reported or day, factor=None, signal=None, outcome=None,
                retracts=None, source_reliability="B", info_credibility="2", actor="", description="", source="")
    if kind == "signal":
        base.update(factor="territorial_rigidity", signal=2.0)
    return Event(**{**base, **fields})


def _week(n: int) -> dt.date:
    return START + dt.timedelta(weeks=n)


def _log() -> list[Event]:
    return [
        _event("s0", _week(0)),
        _event("d1", _week(6) + dt.timedelta(days=2), kind="outcome", outcome="energy_food_deal"),
        # Dated in week 9, known only in week 12: a backtest from week 10 must not see it.
        _event("late", _week(9), kind="outcome", outcome="local_ceasefire", reported=_week(12)),
        _event("s-end", _week(30)),
    ]


def test_origins_need_a_complete_window(priors):
    dates, known = origins(_log(), priors, BacktestSettings(every_weeks=2, horizon=12), 12)
    assert known == _week(30)
    assert dates[0] == _week(4) and dates[1] == _week(6)
    assert all(d + dt.timedelta(weeks=12) <= _week(30) for d in dates) and dates[-1] == _week(18)
    with pytest.raises(InputError, match="before the model's first week"):
        origins(_log(), priors, BacktestSettings(start=_week(-9)), 12)


def test_the_outcome_is_the_first_deal_after_the_origin_week(priors):
    log = _log()
    assert observed_path(log, _week(30), _week(4), 12, KEYS) == "energy_food_deal"
    assert observed_path(log, _week(7), _week(7), 12, KEYS) == "protracted_war"  # known then: nothing yet
    # Truth is what the ledger knows now, even of events reported late.
    assert observed_path(log, _week(30), _week(7), 12, KEYS) == "local_ceasefire"
    assert observed_path(log, _week(30), _week(6), 2, KEYS) == "protracted_war"  # the deal's own week is not ahead
    retracted = [*log, _event("r", _week(13), kind="retraction", retracts="late")]
    assert observed_path(retracted, _week(30), _week(7), 12, KEYS) == "protracted_war"


def test_the_base_rate_is_competing_constant_hazards(priors):
    p = base_rate_forecast(_log(), priors, _week(10), 12)
    assert sum(p.values()) == pytest.approx(1.0)
    # By week 10: 11 weeks observed, one energy/food deal week (the late ceasefire is not known yet).
    # The unseen deal types (local, general) keep half a deal each.
    weekly = {"local_ceasefire": 0.5 / 12, "energy_food_deal": 1.5 / 12, "general_ceasefire": 0.5 / 12}
    none = (1 - sum(weekly.values())) ** 12
    assert p["protracted_war"] == pytest.approx(none)
    assert p["energy_food_deal"] == pytest.approx(0.6 * (1 - none))
    assert p["general_ceasefire"] == pytest.approx(0.2 * (1 - none))


def test_each_origin_sees_only_what_was_reported_by_then(priors):
    seen = {}

    def recorder(data, horizon):
        seen[data.as_of] = data
        return {"local_ceasefire": 0.1, "energy_food_deal": 0.1, "general_ceasefire": 0.02, "protracted_war": 0.78}, True

    result = run_backtest(_log(), priors, BacktestSettings(start=_week(8), every_weeks=2, horizon=4),
                          FitSettings(draws=10, tune=10, chains=2), forecast_at=recorder)
    at_10 = seen[_week(10)]
    # The late ceasefire (dated week 9, reported week 12) is absent at the week-10 origin: its week
    # counts as an observed "no deal", exactly as an update run on that day would have had it.
    assert at_10.outcome_counts[9].tolist() == [1, 0, 0, 0]
    assert at_10.data_hash == build_dataset([e for e in _log() if e.reported <= _week(10)], priors, _week(10)).data_hash
    assert seen[_week(12)].outcome_counts[9].tolist() == [0, 1, 0, 0]  # reported by week 12: now it counts
    assert result["origins"][0] == _week(8).isoformat()
    assert set(result["scores"]) == {"model", "base_rate", "prior"}
    assert {f["method"] for f in result["forecasts"]} == {"model", "base_rate", "prior"}
    assert all(set(f["p"]) == set(KEYS) for f in result["forecasts"])
    assert result["scores"]["model"]["n"] == len(result["origins"])


@pytest.mark.slow
def test_a_late_report_cannot_leak_into_a_backtest(priors):
    """Real fits. A local ceasefire dated week 9 but reported week 12 would raise the chance of
    a local ceasefire at the week-10 origin if it leaked; the backtest must give exactly the
    forecast of the log without it."""
    from conftest import SEED, SLOW_DRAWS, SLOW_TUNE

    from forecast.forecasting.incidence import headline
    from forecast.inference.fit import fit_forecast

    fit = FitSettings(draws=SLOW_DRAWS, tune=SLOW_TUNE, chains=2, seed=SEED)
    origin = _week(10)

    def chances(events):
        _, _, table = fit_forecast(build_dataset(events, priors, origin), priors, fit)
        return {k: v["p"] for k, v in headline(table, 4, priors.outcomes.labels).items()}

    log = _log()
    result = run_backtest(log, priors, BacktestSettings(start=origin, every_weeks=100, horizon=4), fit)
    replayed = next(f["p"] for f in result["forecasts"] if f["method"] == "model")
    without = chances([e for e in log if e.event_id != "late"])
    leaked = chances([e if e.event_id != "late" else _event("late", _week(9), kind="outcome", outcome="local_ceasefire")
                      for e in log])
    assert replayed == without  # the same data and seed: the same numbers, to the last digit
    assert leaked["local_ceasefire"] > without["local_ceasefire"] + 0.01  # a leak would have shown


def test_backtest_command_refuses_a_log_too_short_to_score(tmp_path, priors):
    from cli_helpers import forecast
    from conftest import EXAMPLE

    from forecast.io.events import read_events
    from forecast.io.ledger import Ledger

    ws = tmp_path / "ws"
    parsed = read_events(EXAMPLE, priors)
    Ledger(ws / "forecast.sqlite").commit_update(file="e", file_sha256="s", new_events=parsed.events, known_count=0, run=None)
    result = forecast("backtest", "--workspace", ws, check=False)
    assert result.returncode == 2 and "no origin has a complete 12-week window" in result.stderr
    assert not (ws / "backtests").exists()


@pytest.mark.slow
def test_backtest_command_prints_json_saves_it_and_the_brief_shows_it(tmp_path, priors):
    import json

    from brief_helpers import pdf_text
    from cli_helpers import forecast
    from conftest import write_csv

    rows = [f"s{i},{_week(i)},signal,territorial_rigidity,{2.5 - 0.1 * i:.1f},,,B,2,week {i}" for i in range(12)]
    rows.append(f"d1,{_week(7)},outcome,,,energy_food_deal,,A,1,a deal")
    ws = tmp_path / "ws"
    small = ["--draws", "100", "--tune", "100", "--chains", "2"]
    forecast("update", write_csv(tmp_path / "log.csv", *rows), "--workspace", ws, "--quiet", "--no-report", *small, check=False)
    result = forecast("backtest", "--workspace", ws, "--from", _week(2), "--every", "3w", "--horizon", "2", "--json",
                      "--quiet", *small)
    out = json.loads(result.stdout)
    assert out["origins"] == [_week(2).isoformat(), _week(5).isoformat(), _week(8).isoformat()]
    assert set(out["scores"]) == {"model", "base_rate", "prior"}
    for s in out["scores"].values():
        assert s["n"] == 3 and s["brier"] >= 0 and s["log"] >= 0
    observed = [f["observed"] for f in out["forecasts"] if f["method"] == "model"]
    assert observed == ["protracted_war", "energy_food_deal", "protracted_war"]  # the deal in week 7
    assert json.loads((ws / "backtests" / "latest.json").read_text()) == {**out}
    forecast("report", "--workspace", ws, "--out", tmp_path / "b.pdf")
    text = pdf_text(tmp_path / "b.pdf")
    assert "Backtest" in text and f"{out['scores']['model']['brier']:.3f}" in text
