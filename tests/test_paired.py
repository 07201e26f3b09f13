"""One backtest's model against another's, origin by origin (evaluation/paired.py): the figures
behind docs/SKILL.md's "What each part of the model earned", on backtests with known answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from forecast.evaluation.paired import paired_skill, skill_by_era
from forecast.evaluation.scoring import FLOOR
from forecast.evaluation.skill import skill_interval

ORIGINS = ["2024-01-01", "2024-01-29", "2024-02-26", "2024-03-25"]
OBSERVED = ["none", "truce", "none", "none"]


def backtest(chances: list[dict[str, float]], *, origins=ORIGINS, observed=OBSERVED, horizon: int = 4, every: int = 4) -> dict:
    """A backtest result as `run_backtests` saves it, holding these model forecasts and an
    obstacles-off forecast at each origin that must never be paired with them."""
    forecasts = []
    for origin, seen, p in zip(origins, observed, chances):
        forecasts.append({"origin": origin, "method": "model", "observed": seen, "p": p})
        forecasts.append({"origin": origin, "method": "obstacles_off", "observed": seen, "p": {k: 1 / len(p) for k in p}})
    return {"horizon_weeks": horizon, "every_weeks": every, "forecasts": forecasts}


SHARP = [{"truce": 0.1, "none": 0.9}, {"truce": 0.6, "none": 0.4}, {"truce": 0.1, "none": 0.9}, {"truce": 0.2, "none": 0.8}]
FLAT = [{"truce": 0.5, "none": 0.5}] * 4


def test_scores_and_skill_are_the_first_variant_against_the_second_at_the_same_origins():
    result = paired_skill(backtest(SHARP), backtest(FLAT))
    sharp_brier = [0.02, 0.32, 0.02, 0.08]
    sharp_log = [-np.log(0.9), -np.log(0.6), -np.log(0.9), -np.log(0.8)]
    assert result["origins"] == 4
    assert result["scores"]["first"]["brier"] == pytest.approx(np.mean(sharp_brier))
    assert result["scores"]["first"]["log"] == pytest.approx(np.mean(sharp_log))
    assert result["scores"]["second"] == pytest.approx({"brier": 0.5, "log": np.log(2)})
    assert result["skill"]["brier"]["value"] == pytest.approx(1 - np.mean(sharp_brier) / 0.5)
    assert result["skill"]["log"]["value"] == pytest.approx(1 - np.mean(sharp_log) / np.log(2))
    # The interval is the backtest's own: the same bootstrap over the same ordered origins.
    expected = skill_interval(np.array(sharp_log), np.full(4, np.log(2)), block=1)
    assert (result["skill"]["log"]["lo"], result["skill"]["log"]["hi"]) == pytest.approx((expected["lo"], expected["hi"]))
    assert result["skill"]["log"]["verdict"] == "beats"
    reverse = paired_skill(backtest(FLAT), backtest(SHARP))
    assert reverse["skill"]["log"]["value"] == pytest.approx(1 - np.log(2) / np.mean(sharp_log))
    assert reverse["skill"]["log"]["verdict"] == "loses to"


def test_only_the_shared_origins_are_paired_and_the_block_follows_the_horizon():
    later = backtest(FLAT[:3], origins=ORIGINS[1:], observed=OBSERVED[1:])
    result = paired_skill(backtest(SHARP), later)
    assert result["origins"] == 3
    assert result["scores"]["first"]["brier"] == pytest.approx(np.mean([0.32, 0.02, 0.08]))
    # 12-week windows every 4 weeks overlap three origins deep: too few origins for an interval.
    wide = paired_skill(backtest(SHARP, horizon=12), backtest(FLAT, horizon=12))
    assert wide["skill"]["brier"]["value"] is not None and wide["skill"]["brier"]["lo"] is None


def test_a_path_one_variant_does_not_forecast_counts_as_a_chance_of_zero():
    # The variant without a general ceasefire against one with it, where one came first.
    observed = ["none", "general", "none", "none"]
    without = [{"truce": 0.1, "none": 0.9}] * 4
    with_it = [{"truce": 0.1, "general": 0.1, "none": 0.8}] * 4
    result = paired_skill(backtest(without, observed=observed), backtest(with_it, observed=observed))
    assert result["scores"]["first"]["log"] == pytest.approx(np.mean([-np.log(0.9)] * 3 + [-np.log(FLOOR)]))
    assert result["scores"]["first"]["brier"] == pytest.approx(np.mean([0.02, 0.02, 0.02, 0.01 + 0.81 + 1.0]))
    assert result["scores"]["second"]["brier"] == pytest.approx(np.mean([0.06, 0.06, 0.06, 0.01 + 0.81 + 0.64]))


def test_backtests_of_different_records_or_horizons_are_not_paired():
    with pytest.raises(ValueError, match="2024-01-29: the backtests disagree on what came first"):
        paired_skill(backtest(SHARP), backtest(FLAT, observed=["none", "none", "none", "none"]))
    with pytest.raises(ValueError, match="horizons differ: 4 and 12 weeks"):
        paired_skill(backtest(SHARP), backtest(FLAT, horizon=12))
    with pytest.raises(ValueError, match="share no origin"):
        paired_skill(backtest(SHARP), backtest(FLAT, origins=["2025-01-06"] * 4))


def test_against_pairs_the_model_with_its_own_obstacles_off_forecasts_within_a_span():
    # The model of one backtest against its own obstacles-off forecasts (uniform here), over the
    # origins from 29 January to 25 March only: an era of the record.
    run = backtest(SHARP)
    result = paired_skill(run, run, against="obstacles_off", start=dt.date(2024, 1, 29), until=dt.date(2024, 3, 25))
    assert result["origins"] == 3
    assert result["scores"]["first"]["brier"] == pytest.approx(np.mean([0.32, 0.02, 0.08]))
    assert result["scores"]["second"]["brier"] == pytest.approx(0.5)
    assert paired_skill(run, run, until=dt.date(2024, 1, 29))["origins"] == 2
    with pytest.raises(ValueError, match="no origin from 2025-01-01 to the last"):
        paired_skill(run, run, start=dt.date(2025, 1, 1))


def test_skill_by_era_splits_the_origins_at_each_turning_point():
    run = backtest(SHARP) | {"origins": ORIGINS}
    eras = skill_by_era(run, [dt.date(2024, 2, 1)])
    assert [(e["from"], e["first_origin"], e["last_origin"], e["origins"]) for e in eras] == [
        (None, "2024-01-01", "2024-01-29", 2), ("2024-02-01", "2024-02-26", "2024-03-25", 2)]
    # Each era is the model against its own obstacles-off forecasts (uniform here) on its origins.
    assert eras[1]["skill"]["brier"]["value"] == pytest.approx(1 - np.mean([0.02, 0.08]) / 0.5)
    assert skill_by_era(run, []) == []
    # A turning point with no origin after it opens no era.
    assert [e["from"] for e in skill_by_era(run, [dt.date(2024, 2, 1), dt.date(2025, 1, 1)])] == [None, "2024-02-01"]
