"""Brier and log scores, and reliability data, on forecasts with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.evaluation.scoring import FLOOR, binary_scores, brier, log_score, reliability, summary

KEYS = ["a", "b", "none"]


def test_scores_of_certain_uniform_and_wrong_forecasts():
    assert brier({"a": 1.0, "b": 0.0, "none": 0.0}, "a") == 0 and log_score({"a": 1.0, "b": 0, "none": 0}, "a") == 0
    uniform = {k: 1 / 3 for k in KEYS}
    assert brier(uniform, "b") == pytest.approx(2 / 3) and log_score(uniform, "b") == pytest.approx(np.log(3))
    assert brier({"a": 1.0, "b": 0.0, "none": 0.0}, "none") == 2
    assert log_score({"a": 1.0, "b": 0.0, "none": 0.0}, "none") == pytest.approx(-np.log(FLOOR))


def test_binary_scores_and_summary():
    assert binary_scores(0.8, True) == pytest.approx((0.04, -np.log(0.8)))
    assert binary_scores(0.8, False) == pytest.approx((0.64, -np.log(0.2)))
    forecasts = [({"a": 0.2, "b": 0.1, "none": 0.7}, "none"), ({"a": 0.5, "b": 0.1, "none": 0.4}, "a")]
    s = summary(forecasts, KEYS)
    assert s["n"] == 2
    assert s["brier"] == pytest.approx(np.mean([0.04 + 0.01 + 0.09, 0.25 + 0.01 + 0.16]))
    assert s["log"] == pytest.approx(np.mean([-np.log(0.7), -np.log(0.5)]))
    assert s["per_outcome"]["a"]["brier"] == pytest.approx(np.mean([0.04, 0.25]))


def test_a_calibrated_forecaster_lies_on_the_diagonal():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20000)
    happened = rng.uniform(0, 1, 20000) < p
    forecasts = [({"a": q, "none": 1 - q}, "a" if h else "none") for q, h in zip(p, happened)]
    rows = [r for r in reliability(forecasts, ["a", "none"], bins=5) if r["outcome"] == "a"]
    assert len(rows) == 5 and sum(r["n"] for r in rows) == 20000
    for r in rows:
        assert r["bin_lo"] <= r["mean_forecast"] <= r["bin_hi"]
        assert r["observed_rate"] == pytest.approx(r["mean_forecast"], abs=0.02)
