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


# --- skill against a baseline, with a moving-block bootstrap interval ------------------------


def test_identical_scores_have_skill_exactly_zero_with_no_width():
    from forecast.evaluation.skill import skill_interval, verdict

    scores = np.random.default_rng(1).uniform(0.1, 2.0, 30)
    s = skill_interval(scores, scores.copy(), block=4)
    assert s == {"value": 0.0, "lo": 0.0, "hi": 0.0}
    assert verdict(s) == "no clear difference"


def test_a_model_better_by_a_constant_factor_has_that_skill_in_every_resample():
    from forecast.evaluation.skill import skill_interval, verdict

    baseline = np.random.default_rng(2).uniform(0.1, 2.0, 40)
    s = skill_interval(0.75 * baseline, baseline, block=6)
    assert s["value"] == pytest.approx(0.25, abs=1e-12)
    assert s["lo"] == pytest.approx(0.25, abs=1e-12) and s["hi"] == pytest.approx(0.25, abs=1e-12)
    assert verdict(s) == "beats" and verdict(skill_interval(1.5 * baseline, baseline, block=6)) == "loses to"


def test_the_bootstrap_resamples_runs_of_consecutive_origins():
    from forecast.evaluation.skill import block_bootstrap_indices

    index = block_bootstrap_indices(23, 5, 300, np.random.default_rng(3))
    assert index.shape == (300, 23) and index.min() >= 0 and index.max() <= 22
    runs = index[:, :20].reshape(300, 4, 5)  # ceil(23 / 5) = 5 runs, the last cut to 3
    assert (np.diff(runs, axis=2) == 1).all() and (np.diff(index[:, 20:], axis=1) == 1).all()
    assert len({tuple(r) for r in index}) > 250  # runs start anywhere they fit
    assert set(np.unique(index[:, ::5])) == set(range(19))  # every start from 0 to n - block


def test_the_interval_is_the_percentile_interval_of_block_resamples():
    from forecast.conventions import INTERVAL
    from forecast.evaluation.skill import RESAMPLES, SEED, block_bootstrap_indices, skill_interval

    rng = np.random.default_rng(4)
    baseline = rng.uniform(0.2, 1.0, 25)
    model = baseline * rng.uniform(0.5, 1.3, 25)
    index = block_bootstrap_indices(25, 3, RESAMPLES, np.random.default_rng(SEED))
    by_hand = np.quantile(1 - model[index].mean(axis=1) / baseline[index].mean(axis=1), INTERVAL)
    s = skill_interval(model, baseline, block=3)
    assert s["value"] == pytest.approx(1 - model.mean() / baseline.mean())
    assert (s["lo"], s["hi"]) == pytest.approx(tuple(by_hand), abs=1e-15)
    assert skill_interval(model, baseline, block=3) == s  # a fixed seed: the same interval every time


def test_too_few_origins_give_no_interval():
    from forecast.evaluation.skill import skill_interval, verdict

    baseline = np.linspace(0.5, 1.0, 8)
    s = skill_interval(0.5 * baseline, baseline, block=3)  # under three windows' worth of origins
    assert s["value"] == pytest.approx(0.5) and s["lo"] is None and s["hi"] is None
    assert verdict(s) == "no clear difference"
    assert skill_interval(np.ones(5), np.zeros(5), block=1) == {"value": None, "lo": None, "hi": None}


def test_the_words_follow_the_interval():
    from forecast.evaluation.skill import in_words

    up, down, across = {"value": 0.2, "lo": 0.1, "hi": 0.3}, {"value": -0.2, "lo": -0.3, "hi": -0.1}, {"value": 0.1, "lo": -0.1, "hi": 0.3}
    assert in_words("climatology", up, up) == "The model beats climatology on both scores."
    assert in_words("climatology", down, down) == "The model loses to climatology on both scores."
    assert in_words("climatology", across, across) == "No clear difference between the model and climatology on either score."
    assert in_words("the uniform forecast", up, across) == (
        "Against the uniform forecast: the model beats it on the Brier score, no clear difference on the log score.")
    assert in_words("climatology", across, down) == (
        "Against climatology: no clear difference on the Brier score, the model loses to it on the log score.")


def test_a_block_spans_the_origins_one_window_covers():
    from forecast.evaluation.skill import block_length

    assert [block_length(4, 4), block_length(12, 4), block_length(12, 8), block_length(1, 4), block_length(13, 4)] == [1, 3, 2, 1, 4]


def test_blocks_of_one_resample_single_origins():
    """block 1 (a horizon no longer than the spacing) is the ordinary bootstrap: neighbours in a
    resample are not tied to each other, and every origin can be drawn at every position."""
    from forecast.evaluation.skill import block_bootstrap_indices

    index = block_bootstrap_indices(10, 1, 400, np.random.default_rng(5))
    assert index.shape == (400, 10)
    assert np.mean(np.diff(index, axis=1) == 1) < 0.2  # about 1 in 10 by chance, all of them in runs of 2
    assert set(np.unique(index[:, 1])) == set(range(10))


def test_the_interval_needs_three_windows_of_origins_and_no_more():
    from forecast.evaluation.skill import MIN_BLOCKS, skill_interval

    baseline = np.linspace(0.5, 1.0, MIN_BLOCKS * 4)
    enough = skill_interval(0.8 * baseline, baseline, block=4)
    assert enough["lo"] == pytest.approx(0.2) and enough["hi"] == pytest.approx(0.2)
    short = skill_interval(0.8 * baseline[1:], baseline[1:], block=4)
    assert short["value"] == pytest.approx(0.2) and short["lo"] is None and short["hi"] is None
    one = skill_interval([0.4], [0.5], block=1)
    assert one["value"] == pytest.approx(0.2) and one["lo"] is None and one["hi"] is None


@pytest.mark.parametrize("model, baseline", [
    (np.ones(6), np.ones(5)),  # different origins
    (np.ones((2, 3)), np.ones((2, 3))),  # not one score per origin
    (np.ones(0), np.ones(0)),  # no origins
], ids=["lengths differ", "two-dimensional", "empty"])
def test_scores_that_are_not_one_per_origin_are_refused(model, baseline):
    from forecast.evaluation.skill import skill_interval

    with pytest.raises(ValueError, match=r"^model and baseline need one score per origin, the same origins$"):
        skill_interval(model, baseline, block=1)
