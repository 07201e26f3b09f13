"""The backtest's choice of origins, data and outcomes, its baselines, skill and output, without
sampling (the fits are replaced by recorders or fakes); the leak test and obstacles_off with real
fits are in the sampling tier."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from forecast.errors import InputError
from forecast.evaluation.backtest import (
    METHODS,
    BacktestSettings,
    climatology_forecast,
    observed_path,
    origins,
    run_backtest,
    segments,
    uniform_forecast,
    without_effects,
)
from forecast.evaluation.engine import Engine
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


def test_climatology_is_competing_constant_hazards(priors):
    p = climatology_forecast(_log(), priors, _week(10), 12)
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

    def recorder(data, priors, horizon):
        if data.counts["signals"]:  # the model's fit, not obstacles_off's
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
    assert list(result["scores"]) == list(METHODS) == ["model", "obstacles_off", "climatology", "prior", "uniform"]
    assert {f["method"] for f in result["forecasts"]} == set(METHODS)
    assert all(set(f["p"]) == set(KEYS) for f in result["forecasts"])
    assert result["scores"]["model"]["n"] == len(result["origins"])


@pytest.mark.slow
def test_a_late_report_cannot_leak_into_a_backtest(priors):
    """Real fits. A local ceasefire dated week 9 but reported week 12 would raise the chance of
    a local ceasefire at the week-10 origin if it leaked; the backtest must give exactly the
    forecast of the log without it."""
    from conftest import SEED, SLOW_DRAWS, SLOW_TUNE

    from forecast.forecasting.incidence import headline
    from forecast.inference.fit import fit_checked

    fit = FitSettings(draws=SLOW_DRAWS, tune=SLOW_TUNE, chains=2, seed=SEED)
    origin = _week(10)

    def chances(events):  # as the backtest fits an origin: retried once if the first fit fails
        _, _, table, _ = fit_checked(build_dataset(events, priors, origin), priors, fit)
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
    no_jobs = forecast("backtest", "--workspace", ws, "--jobs", "0", check=False)
    assert no_jobs.returncode == 2 and "--jobs must be at least 1, got 0" in no_jobs.stderr
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
    assert set(out["scores"]) == set(METHODS)
    for s in out["scores"].values():
        assert s["n"] == 3 and s["brier"] >= 0 and s["log"] >= 0
    observed = [f["observed"] for f in out["forecasts"] if f["method"] == "model"]
    assert observed == ["protracted_war", "energy_food_deal", "protracted_war"]  # the deal in week 7
    assert json.loads((ws / "backtests" / "latest.json").read_text()) == {**out}
    assert set(out["skill"]) == {"obstacles_off", "climatology", "prior", "uniform"}
    fitted = [f for f in out["forecasts"] if f["method"] in ("model", "obstacles_off")]
    assert len(fitted) == 6 and {f["fit"] for f in fitted} <= {"sampled", "reweighted"}
    forecast("report", "--workspace", ws, "--out", tmp_path / "b.pdf")
    text = pdf_text(tmp_path / "b.pdf")
    assert "Backtest" in text and f"{out['scores']['model']['brier']:.3f}" in text
    assert out["skill_in_words"]["climatology"] in text


# --- baselines, skill and parallel runs, on a tiny ledger ------------------------------------


def _tiny() -> list[Event]:
    """Six weeks: a reading, an energy/food deal in week 3, more readings; known to week 6."""
    return [
        _event("s0", _week(0)),
        _event("d1", _week(3) + dt.timedelta(days=1), kind="outcome", outcome="energy_food_deal"),
        _event("s1", _week(5), signal=-1.0),
        _event("s2", _week(6)),
    ]


# The tiny ledger, origins at weeks 1, 2, 3 and 4, horizon 2: the windows are weeks 2-3, 3-4, 4-5, 5-6.
TINY = BacktestSettings(start=_week(1), every_weeks=1, horizon=2)
TINY_OBSERVED = ["energy_food_deal", "energy_food_deal", "protracted_war", "protracted_war"]
FIT = FitSettings(draws=10, tune=10, chains=2)


def fixed_chances(data, priors, horizon):
    """A deterministic stand-in for both fits (module level, so a worker process can run it):
    the model's chance of each deal grows with the weeks seen (its fit at 3 weeks fails its
    diagnostics); obstacles_off says 0.1 each."""
    if all(p.value == 0 for deal in priors.outcomes.deals.values() for p in deal.effects.values()):
        return {"local_ceasefire": 0.1, "energy_food_deal": 0.1, "general_ceasefire": 0.0, "protracted_war": 0.8}, True
    q = 0.4 * data.n_weeks / (data.n_weeks + 10)
    return {"local_ceasefire": q / 2, "energy_food_deal": q, "general_ceasefire": 0.0, "protracted_war": 1 - 1.5 * q}, data.n_weeks != 3


def _by_method(result, method):
    return [f for f in result["forecasts"] if f["method"] == method]


@pytest.fixture  # not module-scoped: mutmut maps a function to the tests that call it, and a cached result calls nothing
def tiny_result():
    from conftest import PRIORS

    from forecast.io.priors import load_priors

    return run_backtest(_tiny(), load_priors(PRIORS), TINY, FIT, forecast_at=fixed_chances)


def test_uniform_and_climatology_forecasts_and_scores_by_hand(tiny_result):
    assert uniform_forecast(KEYS) == {k: pytest.approx(1 / 4) for k in KEYS}
    result = tiny_result
    assert [f["observed"] for f in _by_method(result, "model")] == TINY_OBSERVED
    uniform = result["scores"]["uniform"]
    # Whatever happens: (3/4)^2 + 3 (1/4)^2 = 3/4, and -log(1/4).
    assert uniform["brier"] == pytest.approx(3 / 4) and uniform["log"] == pytest.approx(math.log(4))
    # Climatology at week 2 (3 weeks seen, no deal yet), horizon 2, Jeffreys: each weekly rate 0.5 / 4.
    at_2 = _by_method(result, "climatology")[1]["p"]
    none = (1 - 3 * 0.5 / 4) ** 2
    third = (1 - none) / 3
    assert at_2 == pytest.approx({"local_ceasefire": third, "energy_food_deal": third, "general_ceasefire": third, "protracted_war": none})
    # At week 4 (5 weeks, one of them the deal's): rates 0.5/6, 1.5/6 and 0.5/6.
    at_4 = _by_method(result, "climatology")[3]["p"]
    none = (1 - 2.5 / 6) ** 2
    assert at_4 == pytest.approx({"local_ceasefire": 0.2 * (1 - none), "energy_food_deal": 0.6 * (1 - none),
                                  "general_ceasefire": 0.2 * (1 - none), "protracted_war": none})
    log_scores = [-math.log(f["p"][o]) for f, o in zip(_by_method(result, "climatology"), TINY_OBSERVED)]
    assert result["scores"]["climatology"]["log"] == pytest.approx(np.mean(log_scores))


def test_obstacles_off_is_the_model_with_effects_at_zero_and_no_signals(priors):
    calls = []

    def recorder(data, priors, horizon):
        calls.append((data, priors))
        return fixed_chances(data, priors, horizon)

    result = run_backtest(_tiny(), priors, TINY, FIT, forecast_at=recorder)
    # Each forecaster runs along the segment as its own task: the model's calls, then obstacles_off's.
    model, off = [c for c in calls if c[1] is priors], [c for c in calls if c[1] is not priors]
    assert [d.as_of for d, _ in model] == [d.as_of for d, _ in off] == [_week(i) for i in (1, 2, 3, 4)]
    for (data, mine), (data_off, theirs) in zip(model, off):
        assert mine is priors
        effects = [p for deal in theirs.outcomes.deals.values() for p in deal.effects.values()]
        assert len(effects) == 12 and all(p.fixed and p.value == 0 for p in effects)
        for key, deal in theirs.outcomes.deals.items():  # the baseline recentred (below); the rest as the model's priors
            assert deal.baseline == without_effects(priors).outcomes.deals[key].baseline
        assert theirs.factors == priors.factors and theirs.observation == priors.observation
        assert theirs.hash != priors.hash
        assert len(data_off.signal_value) == 0 and len(data.signal_value) > 0
        assert data_off.weeks == data.weeks and np.array_equal(data_off.outcome_counts, data.outcome_counts)
    # Its forecast is the fit's, scored like the model's: Brier of (0.1, 0.1, 0.8).
    assert all(f["p"]["protracted_war"] == 0.8 for f in _by_method(result, "obstacles_off"))
    briers = [0.01 + 0.81 + 0.64, 0.01 + 0.81 + 0.64, 0.01 + 0.01 + 0.04, 0.01 + 0.01 + 0.04]
    assert result["scores"]["obstacles_off"]["brier"] == pytest.approx(np.mean(briers))


def test_without_effects_keeps_the_priors_valid_and_fixes_only_the_effects(priors):
    off = without_effects(priors)
    assert off.outcomes.keys == priors.outcomes.keys and off.outcomes.start == priors.outcomes.start
    assert all(p.to_dict() == {"value": 0.0} for deal in off.outcomes.deals.values() for p in deal.effects.values())
    assert any(not p.fixed for deal in priors.outcomes.deals.values() for p in deal.effects.values())  # untouched


def horizon_chances(data, priors, horizon):
    """As `fixed_chances`, but the chances grow with the horizon too."""
    p, passed = fixed_chances(data, priors, horizon)
    deals = {k: v * horizon / 2 for k, v in p.items() if k != "protracted_war"}
    return {**deals, "protracted_war": 1 - sum(deals.values())}, passed


def test_one_fit_per_origin_serves_every_horizon(priors):
    """`run_backtests` at horizons 1 and 2 gives what two single-horizon backtests give; the
    longer horizon has fewer origins (its windows must be complete), and each origin is fitted
    once for both."""
    from forecast.evaluation.backtest import run_backtests

    calls = []

    def counted(data, priors, horizon):
        calls.append((data.as_of, horizon))
        return horizon_chances(data, priors, horizon)

    both = run_backtests(_tiny(), priors, TINY, FIT, [2, 1], forecast_at=counted)
    assert list(both) == [1, 2]
    for horizon in (1, 2):
        alone = run_backtest(_tiny(), priors, dataclasses.replace(TINY, horizon=horizon), FIT, forecast_at=horizon_chances)
        assert both[horizon] == alone
    assert len(both[1]["origins"]) == len(both[2]["origins"]) + 1
    # Each origin's data was fitted once for the model and once for obstacles_off, asked both horizons.
    assert len(calls) == 2 * 2 * len(both[1]["origins"])


def test_obstacles_off_starts_where_the_model_starts(priors):
    """Its baseline is the model's prior first-week log-odds a_j + sum_k b_jk theta_k0, by
    moments: checked against draws of the priors themselves."""
    from forecast.model.prior_distributions import prior_distribution

    off = without_effects(priors)
    rng = np.random.default_rng(5)
    for key, deal in priors.outcomes.deals.items():
        eta = prior_distribution(deal.baseline).rvs(400_000, random_state=rng)
        for factor, effect in deal.effects.items():
            b = effect.value if effect.fixed else prior_distribution(effect).rvs(400_000, random_state=rng)
            eta = eta + b * prior_distribution(priors.factors[factor].initial).rvs(400_000, random_state=rng)
        baseline = off.outcomes.deals[key].baseline
        assert baseline.dist == "Normal"
        assert baseline.kwargs["mu"] == pytest.approx(eta.mean(), abs=0.01)
        assert baseline.kwargs["sigma"] == pytest.approx(eta.std(), rel=0.01)
        # Far below the model's own a_j: the obstacles start high and lower the odds.
        assert baseline.kwargs["mu"] < deal.baseline.kwargs["mu"] - 1


def test_skill_and_its_words_are_the_bootstrap_of_the_per_origin_scores(tiny_result):
    from forecast.evaluation.skill import block_length, in_words, skill_interval

    result = tiny_result
    assert result["bootstrap"] == {"block_origins": 2, "resamples": 2000, "interval": [0.05, 0.95]} and block_length(2, 1) == 2
    model = [-math.log(f["p"][f["observed"]]) for f in _by_method(result, "model")]
    uniform = [math.log(4)] * 4
    expected = skill_interval(np.array(model), np.array(uniform), 2)
    assert {k: result["skill"]["uniform"]["log"][k] for k in ("value", "lo", "hi")} == expected
    assert expected["value"] == pytest.approx(1 - np.mean(model) / math.log(4))
    assert set(result["skill"]) == {"obstacles_off", "climatology", "prior", "uniform"}
    for baseline, skill in result["skill"].items():
        assert set(skill) == {"brier", "log"} and set(skill["brier"]) == {"value", "lo", "hi", "verdict"}
        assert result["skill_in_words"][baseline] == in_words(
            {"obstacles_off": "the obstacles-off model", "climatology": "climatology", "prior": "the priors alone",
             "uniform": "the uniform forecast"}[baseline], skill["brier"], skill["log"])


def test_flagged_fits_count_the_model_and_obstacles_off(priors):
    def off_fails(data, priors, horizon):
        p, passed = fixed_chances(data, priors, horizon)
        return p, passed and data.counts["signals"] > 0

    assert run_backtest(_tiny(), priors, TINY, FIT, forecast_at=fixed_chances)["flagged_fits"] == 1  # the model at 3 weeks (origin 2)
    assert run_backtest(_tiny(), priors, TINY, FIT, forecast_at=off_fails)["flagged_fits"] == 1 + 4


def test_the_terminal_table_shows_every_method_and_the_verdicts(tiny_result):
    from forecast.evaluation.backtest import table_text

    result = tiny_result
    text = table_text(result)
    for label in ("Model", "Obstacles off", "Climatology", "Priors alone", "Uniform"):
        assert label in text
    assert f"{result['scores']['uniform']['brier']:.3f}" in text
    for sentence in result["skill_in_words"].values():
        assert " ".join(sentence.split()) in " ".join(text.split())
    assert "warning: 1 fits" in text
    # No interval at all: the Brier column keeps its least width, 24.
    assert "  Baseline       Brier skill             Log skill" in text.splitlines()


def test_two_workers_give_the_numbers_of_one(priors):
    """On a cluster of two worker processes (the embedded LocalCluster) as in this process."""
    one = run_backtest(_log(), priors, BacktestSettings(start=_week(4), every_weeks=1, horizon=3), FIT, forecast_at=fixed_chances)
    lines = []
    two = run_backtest(_log(), priors, BacktestSettings(start=_week(4), every_weeks=1, horizon=3, jobs=2), FIT,
                       forecast_at=fixed_chances, log=lines.append)
    assert len(one["origins"]) == 24
    assert one == two
    # Each origin's progress came back from the workers as it finished.
    assert sorted(int(line.split("/")[0].split()[-1]) for line in lines if "model at" in line) == list(range(1, 25))


def test_a_second_cluster_on_the_machine_starts_quietly(priors):
    """Two jobs at once (a backtest and an agreement, say): the first holds dask's default HTTP
    port, and the second's cluster starts without a warning (which the tests would raise)."""
    import socket

    with socket.socket() as held:
        # Something on the machine may hold the port already: the same situation.
        with contextlib.suppress(OSError):
            held.bind(("127.0.0.1", 8787))
        two = run_backtest(_log(), priors, BacktestSettings(start=_week(4), every_weeks=6, horizon=3, jobs=2), FIT,
                           forecast_at=fixed_chances)
    assert len(two["origins"]) == 4


def test_segments_depend_on_the_origins_only():
    assert segments(7, 3) == [range(0, 3), range(3, 6), range(6, 7)]
    assert segments(2, 6) == [range(0, 2)] and segments(6, 1) == [range(i, i + 1) for i in range(6)]


class _FakeFits:
    """fit_forecast and reweight stood in: a fit is a dict naming its origin; reweighting accepts
    a base up to `reach` weeks old. Forecasts name how they were made, so any change shows."""

    def __init__(self, monkeypatch, priors, reach=2, failing=(), low_ess=()):
        import forecast.inference.fit as fit_module
        import forecast.inference.incremental as incremental
        from forecast.forecasting.incidence import forecast_table
        from forecast.inference.diagnostics import Diagnostics

        self.keys = priors.outcomes.keys
        self.reweighted = []

        def table(p):
            per_draw = np.tile(np.array(p)[None, None, :], (1, 52, 1))
            return forecast_table(per_draw, self.keys, per_draw)

        def fit_forecast(data, priors, settings, progress=False):
            from forecast.inference.fit import retry_settings

            asked = dataclasses.replace(settings, cores=None)  # a parallel worker runs its chains in one process
            assert asked in (FIT, retry_settings(FIT))  # a failing fit is retried once, as in `update`
            passed = data.as_of not in failing
            diagnostics = Diagnostics(1.0 if passed else 1.2, 4000.0, 4000.0, 0, 1.0, 4, {"r_hat": "volatility[aid]"})
            trace = type("Trace", (), {"posterior": type("P", (), {"to_dataset": lambda self: {"sampled_at": data.as_of}})()})()
            q = 0.01 * data.n_weeks
            return trace, diagnostics, table([q, q, 0.0, 1 - 2 * q])

        def reweight(base, data, events_base, as_of_base, events_now, *, seed):
            assert as_of_base == base["sampled_at"] and events_base is events_now and seed == FIT.seed
            self.reweighted.append((as_of_base, data.as_of, data.counts["signals"] > 0,
                                    any(e.kind == "signal" for e in events_now)))
            if (data.as_of - as_of_base).days > 7 * reach:
                return incremental.Declined("too far", 0.9)
            # A share of the base's draws: a twentieth leaves 4,000 x 0.05 = 200 effective draws, under the limit.
            ess = FIT.chains * FIT.draws * (0.05 if data.as_of in low_ess else 0.75)
            return incremental.Reweighted({"from": as_of_base, "to": data.as_of}, 0.2, ess)

        def forecast_from_posterior(posterior, priors, seed, occasions_ahead=None):
            assert seed == FIT.seed  # the forecast's stream, as a sampled fit's
            q = 0.001 * (posterior["to"] - posterior["from"]).days
            return table([q, 2 * q, 0.0, 1 - 3 * q])

        monkeypatch.setattr(fit_module, "fit_forecast", fit_forecast)
        monkeypatch.setattr(fit_module, "forecast_from_posterior", forecast_from_posterior)
        monkeypatch.setattr(incremental, "reweight", reweight)


def test_each_segment_samples_first_then_reweights_its_last_passing_fit(monkeypatch, priors):
    fakes = _FakeFits(monkeypatch, priors, reach=2, failing={_week(7)}, low_ess={_week(12)})
    settings = BacktestSettings(start=_week(4), every_weeks=1, horizon=6)  # segments of 6 origins
    lines = []
    result = run_backtest(_log(), priors, settings, FIT, log=lines.append)
    model = {f["origin"]: f for f in _by_method(result, "model")}
    how = [model[_week(i).isoformat()]["fit"][0] for i in range(4, 25)]
    # The progress line says how each origin's forecast was made.
    assert lines[0].startswith(f"origin 1/21: {_week(4).isoformat()}, model at 6 weeks ") and "(sampled; " in lines[0]
    assert "(reweighted, Pareto k 0.20; " in lines[1]
    # Segments: weeks 4-9, 10-15, 16-21, 22-24. A base reaches 2 weeks; the fit at week 7 fails its
    # diagnostics, so week 8 cannot reweight it and samples again; at week 12 the weights leave too
    # few effective draws, so it samples too, as `update` would, and week 15 is then out of reach.
    assert "".join(how) == "srrssr" + "srsrrs" + "srrsrr" + "srr"
    assert model[_week(5).isoformat()]["pareto_k"] == 0.2 and model[_week(4).isoformat()]["pareto_k"] is None
    assert model[_week(7).isoformat()]["diagnostics_passed"] is False
    assert [p.split(":")[0] for p in model[_week(7).isoformat()]["problems"]] == ["R-hat 1.200 > 1.01 on volatility[aid]"]
    assert "problems" not in model[_week(8).isoformat()]
    assert model[_week(12).isoformat()]["diagnostics_passed"] is True  # sampled, since reweighting left too few draws
    assert result["model_fits"] == {"sampled": 9, "reweighted": 12}
    assert result["flagged_fits"] == 1 * 2  # week 7, and the same for obstacles_off
    assert model[_week(6).isoformat()]["p"]["energy_food_deal"] == pytest.approx(0.028)  # 14 days from its base
    # obstacles_off reweights its own fits, on events without signals.
    assert {(with_signals, events_signals) for _, _, with_signals, events_signals in fakes.reweighted} == {(True, True), (False, False)}
    assert [f["fit"] for f in _by_method(result, "obstacles_off")] == [f["fit"] for f in _by_method(result, "model")]

    monkeypatch.setattr("forecast.evaluation.backtest.segments", lambda n, length: [range(n)])  # one long segment
    assert "".join(f["fit"][0] for f in _by_method(run_backtest(_log(), priors, settings, FIT), "model")) == "srrssrrssrrsrrsrrsrrs"


def test_two_jobs_give_the_numbers_of_one_with_reweighting(monkeypatch, priors):
    _FakeFits(monkeypatch, priors, reach=2, failing={_week(7)})
    settings = BacktestSettings(start=_week(4), every_weeks=1, horizon=4)
    one = run_backtest(_log(), priors, settings, FIT)
    assert one["model_fits"]["reweighted"] > 0
    for jobs in (2, 3):  # workers as threads here, so that they see the stand-in fits
        with Engine(jobs=jobs, processes=False) as engine:
            assert run_backtest(_log(), priors, BacktestSettings(start=_week(4), every_weeks=1, horizon=4, jobs=jobs), FIT,
                                engine=engine) == one


@pytest.mark.slow
def test_obstacles_off_really_fits_with_no_effects_and_ignores_signals(priors):
    """Real fits: two logs that differ only in their readings give obstacles_off the same
    forecast, to the last digit, while the model's differs; its posterior has every effect at 0."""
    from conftest import SEED, SLOW_DRAWS, SLOW_TUNE

    import forecast.inference.fit as fit_module

    fit = FitSettings(draws=SLOW_DRAWS, tune=SLOW_TUNE, chains=2, seed=SEED)
    quiet = _log()
    loud = [*quiet, _event("s-loud", _week(6), signal=-3.0), _event("s-loud2", _week(9), factor="domestic_hawkishness", signal=-2.5)]
    settings = BacktestSettings(start=_week(10), every_weeks=100, horizon=4)  # one origin
    effects = []
    real_fit = fit_module.fit_forecast

    def spy(data, priors, settings, progress=False):
        trace, diagnostics, table = real_fit(data, priors, settings, progress=progress)
        if not data.counts["signals"]:
            effects.append(trace.posterior["effect"].values)
        return trace, diagnostics, table

    fit_module.fit_forecast = spy
    try:
        results = [run_backtest(log, priors, settings, fit) for log in (quiet, loud)]
    finally:
        fit_module.fit_forecast = real_fit
    off = [_by_method(r, "obstacles_off")[0]["p"] for r in results]
    model = [_by_method(r, "model")[0]["p"] for r in results]
    assert off[0] == off[1]
    assert abs(model[0]["local_ceasefire"] - model[1]["local_ceasefire"]) > 1e-3  # the readings move the model
    # One fit per log, or two where the first failed its diagnostics and was retried.
    assert 2 <= len(effects) <= 4 and all(e.shape[-2:] == (3, 4) and not e.any() for e in effects)


# --- the result's fields, the printed table and the refusals, word for word ------------------------


def test_the_result_names_its_settings_outcomes_methods_and_baselines(tiny_result, priors):
    from forecast.evaluation.backtest import DESCRIPTIONS, LABELS

    result = tiny_result
    assert (result["horizon_weeks"], result["every_weeks"], result["known_to"]) == (2, 1, _week(6).isoformat())
    assert result["segment_origins"] == 2  # a 2-week window spans 2 origins a week apart
    # What reproduces it: the priors' hash and the fit's settings.
    assert result["priors_hash"] == priors.hash
    assert result["fit"] == {"draws": 10, "tune": 10, "chains": 2, "seed": FIT.seed}
    assert result["origins"] == [_week(n).isoformat() for n in (1, 2, 3, 4)]
    assert result["outcomes"] == {k: priors.outcomes.labels[k] for k in KEYS}
    assert result["methods"] == dict(LABELS) and result["baselines"] == dict(DESCRIPTIONS)
    assert set(result["baselines"]) == {"obstacles_off", "climatology", "prior", "uniform"}
    assert set(result["reliability"]) == set(METHODS) and all(isinstance(d, list) and d for d in result["reliability"].values())


def test_the_per_origin_brier_scores_behind_the_skill_are_the_forecasts_own(tiny_result):
    from forecast.evaluation.scoring import brier
    from forecast.evaluation.skill import skill_interval

    result = tiny_result
    model = [brier(f["p"], f["observed"]) for f in _by_method(result, "model")]
    climatology = [brier(f["p"], f["observed"]) for f in _by_method(result, "climatology")]
    expected = skill_interval(np.array(model), np.array(climatology), 2)
    assert {k: result["skill"]["climatology"]["brier"][k] for k in ("value", "lo", "hi")} == expected
    assert result["scores"]["model"]["brier"] == pytest.approx(np.mean(model))


def test_the_printed_table_word_for_word(priors):
    """24 origins, so every skill has an interval; a wide one pushes the log column right."""
    from forecast.evaluation.backtest import table_text

    result = run_backtest(_log(), priors, BacktestSettings(start=_week(4), every_weeks=1, horizon=3), FIT, forecast_at=fixed_chances)
    assert table_text(result) == """\
Backtest: 24 origins from 2025-03-17 to 2025-08-25, every 1 week(s), horizon 3
weeks; outcomes as known on 2025-09-15.

  Method          Brier     Log   (lower is better)
  Model           0.474   0.853
  Obstacles off   0.352   0.656
  Climatology     0.432   0.862
  Priors alone    0.375   0.747
  Uniform         0.750   1.386

  Obstacles off: the same model with every obstacle's effect fixed at 0: deal
    rates learnt from the outcomes alone, from the model's prior rates at the
    obstacles' initial levels.
  Climatology: each deal type's weekly frequency before the origin, as constant
    competing hazards.
  Priors alone: the prior predictive, the chances before any event.
  Uniform: every path equally likely.

Skill of the model against each baseline: 1 - the model's score / the
baseline's, above 0 where the model does better, with a 90 % interval over
origins (runs of 3 origins resampled together, as their windows overlap).

  Baseline       Brier skill              Log skill
  Obstacles off  -0.35 (-3.00 to -0.10)   -0.30 (-1.23 to -0.13)
  Climatology    -0.10 (-0.25 to +0.25)   +0.01 (-0.11 to +0.23)
  Priors alone   -0.26 (-21.92 to +0.04)  -0.14 (-4.55 to +0.12)
  Uniform        +0.37 (+0.06 to +0.69)   +0.38 (+0.11 to +0.65)

The model loses to the obstacles-off model on both scores.
No clear difference between the model and climatology on either score.
No clear difference between the model and the priors alone on either score.
The model beats the uniform forecast on both scores.

What happened in the windows: Local ceasefire 3, Energy/food-for-humanitarian
deal 2, General ceasefire 0, Protracted war (no deal) 19.
The model's forecasts: 24 sampled, 0 reweighted from an earlier origin's fit."""


def test_skill_rows_of_a_result_stored_without_its_labels_use_the_current_ones(tiny_result):
    from forecast.evaluation.backtest import LABELS, skill_rows

    stored = {k: v for k, v in tiny_result.items() if k != "methods"}
    assert [row[0] for row in skill_rows(stored)] == [LABELS[b] for b in tiny_result["skill"]]


def test_without_signals_empties_every_reading_and_keeps_the_rest(priors):
    from forecast.evaluation.backtest import without_signals

    data = build_dataset(_tiny(), priors, _week(6) + dt.timedelta(days=1))
    assert len(data.signal_value) == 3
    off = without_signals(data)
    for name in ("signal_factor", "signal_week", "signal_reliability", "signal_credibility"):
        value = getattr(off, name)
        assert isinstance(value, np.ndarray) and value.shape == (0,) and value.dtype == np.int64, name
    assert off.signal_value.shape == (0,) and off.signal_value.dtype == float
    assert off.counts == {**data.counts, "signals": 0} and data.counts["signals"] == 3
    assert off.weeks == data.weeks and np.array_equal(off.outcome_counts, data.outcome_counts)


def test_the_horizon_defaults_to_the_priors_and_progress_reaches_the_log(priors):
    lines = []
    result = run_backtest(_log(), priors, BacktestSettings(every_weeks=4), FIT, log=lines.append, forecast_at=fixed_chances)
    assert result["horizon_weeks"] == priors.outcomes.horizon_weeks == 12
    # A line per origin from each forecaster, as it finishes it.
    n = len(result["origins"])
    for forecaster in ("model at 12 weeks", "obstacles off (sampled"):
        assert [line.split(":")[0] for line in lines if forecaster in line] == [f"origin {i}/{n}" for i in range(1, n + 1)]
    assert len(lines) == 2 * n


@pytest.mark.parametrize("horizon", [0, 53])
def test_a_horizon_outside_the_priors_forecast_weeks_is_refused(priors, horizon):
    from forecast.evaluation.backtest import run_backtests

    assert priors.outcomes.forecast_weeks == 52
    with pytest.raises(InputError) as refused:
        run_backtests(_log(), priors, BacktestSettings(), FIT, [4, horizon], forecast_at=fixed_chances)
    assert str(refused.value) == f"--horizon must be from 1 to 52 weeks (the priors' forecast_weeks), got {horizon}"


def test_the_longest_horizon_without_a_window_and_too_few_jobs_are_refused(priors):
    from forecast.evaluation.backtest import run_backtests

    with pytest.raises(InputError) as refused:  # 52 weeks is allowed, but the log is 30 weeks long
        run_backtests(_log(), priors, BacktestSettings(), FIT, [2, 52, 4], forecast_at=fixed_chances)
    assert str(refused.value) == (f"no origin has a complete 52-week window: the ledger runs to {_week(30)}; "
                                  "use an earlier --from or a shorter --horizon")
    with pytest.raises(InputError) as refused:
        run_backtests(_log(), priors, BacktestSettings(jobs=0), FIT, [4], forecast_at=fixed_chances)
    assert str(refused.value) == "--jobs must be at least 1, got 0"
