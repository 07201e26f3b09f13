"""The incremental update: extending the walk, resampling, and agreement with a full refit."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr

from forecast.inference.incremental import Declined, _extend, _systematic_resample, _take, reweight


def _posterior(chains=2, draws=500, weeks=3, seed=0):
    rng = np.random.default_rng(seed)
    grades = (("chain", "draw", "reliability"), np.ones((chains, draws, 6)))
    labels = [(dt.date(2025, 2, 17) + dt.timedelta(weeks=i)).isoformat() for i in range(weeks)]
    return xr.Dataset(
        {
            "theta": (("chain", "draw", "factor", "week"), rng.normal(0, 1, (chains, draws, 2, weeks))),
            "innovation": (("chain", "draw", "factor", "step"), rng.normal(0, 1, (chains, draws, 2, weeks - 1))),
            "volatility": (("chain", "draw", "factor"), np.tile([0.1, 0.3], (chains, draws, 1))),
            "noise": (("chain", "draw"), rng.uniform(0.3, 0.6, (chains, draws))),
            "nu": (("chain", "draw"), np.full((chains, draws), 4.0)),
            "reliability_multiplier": grades,
            "credibility_multiplier": (("chain", "draw", "credibility"), np.ones((chains, draws, 6))),
            "baseline": (("chain", "draw", "deal"), np.full((chains, draws, 1), -3.0)),
            "effect": (("chain", "draw", "deal", "factor"), np.zeros((chains, draws, 1, 2))),
        },
        coords={"factor": ["a", "b"], "week": labels, "step": labels[1:]},
    )


def test_the_walk_is_carried_over_new_weeks_with_the_draws_volatility():
    ds = _posterior(draws=20_000)
    new = [dt.date(2025, 3, 10), dt.date(2025, 3, 17)]
    out, correction = _extend(ds, new, np.random.default_rng(1))
    assert not correction.any()  # no readings in the new weeks: plain prior simulation
    assert list(out["week"].values[-2:]) == ["2025-03-10", "2025-03-17"] and out.sizes["step"] == 4
    xr.testing.assert_equal(out["theta"].isel(week=slice(0, 3)), ds["theta"].transpose(*out["theta"].dims))
    step2 = (out["theta"].isel(week=-1) - out["theta"].isel(week=2)).std(("chain", "draw")).values
    np.testing.assert_allclose(step2, np.sqrt(2) * np.array([0.1, 0.3]), rtol=0.03)
    assert float(out["noise"].sum()) == float(ds["noise"].sum())  # everything else untouched


def test_systematic_resampling_follows_the_weights():
    weights = np.random.default_rng(2).gamma(0.5, size=1000)
    weights[::7] = 0
    weights /= weights.sum()
    counts = np.bincount(_systematic_resample(weights, np.random.default_rng(3)), minlength=1000)
    assert counts.sum() == 1000
    assert np.all(np.abs(counts - 1000 * weights) < 1)  # systematic: each draw n*w times, rounded up or down
    assert counts[::7].sum() == 0


def test_take_keeps_each_draw_whole():
    ds = _posterior(chains=2, draws=3)
    chosen = np.array([5, 5, 0, 1, 2, 3])
    out = _take(ds, chosen)
    assert out.sizes["chain"] == 2 and out.sizes["draw"] == 3
    flat = ds["theta"].stack(s=("chain", "draw")).transpose("s", ...).values
    np.testing.assert_array_equal(out["theta"].stack(s=("chain", "draw")).transpose("s", ...).values, flat[chosen])


def test_changed_weeks_decline(priors):
    from conftest import EXAMPLE

    from forecast.io.events import read_events
    from forecast.model.dataset import build_dataset

    events = read_events(EXAMPLE, priors).events
    data = build_dataset(events, priors, dt.date(2025, 3, 3))
    base = _posterior(weeks=2).assign_coords(week=["2025-02-10", "2025-02-17"])  # starts a week earlier
    result = reweight(base, data, events, dt.date(2025, 2, 21), events, seed=1)
    assert isinstance(result, Declined) and "weeks changed" in result.reason


@pytest.mark.slow
def test_incremental_update_agrees_with_a_full_refit(tmp_path):
    from cli_helpers import SMALL, forecast, status
    from conftest import EXAMPLE, write_csv

    from forecast.io.workspace import Workspace

    more = write_csv(tmp_path / "more.csv",
                     "m1,2025-02-24,signal,domestic_hawkishness,1.6,,,B,2,a week later",
                     "m2,2025-02-25,signal,security_guarantee_gap,2.5,,,C,3,and another")
    results = {}
    for name, extra in (("incremental", []), ("refit", ["--refit"])):
        ws = tmp_path / name
        forecast("update", EXAMPLE, "--workspace", ws, "--quiet", "--no-report", *SMALL)
        out = forecast("update", more, "--workspace", ws, "--no-report", *SMALL, *extra)
        results[name] = (status(ws), Workspace(ws).ledger.latest_run(), out)
    (inc, inc_run, inc_out), (full, full_run, _) = results["incremental"], results["refit"]
    assert inc_run.diagnostics["method"] == "reweighted" and inc_run.diagnostics["pareto_k"] < 0.7
    assert "reweighted run" in inc_out.stderr
    assert full_run.diagnostics["method"] == "sampled"
    for key, o in full["outcomes"].items():
        # Two independent Monte Carlo estimates: their gap is within a few standard errors
        # (the chance's spread across draws over the square root of the effective draws).
        se = (o["hi"] - o["lo"]) / 3.29 / np.sqrt(min(full["diagnostics"]["ess_bulk_min"], inc_run.diagnostics["weights_ess"]))
        assert abs(inc["outcomes"][key]["p"] - o["p"]) < 4 * np.sqrt(2) * se, key
    for key, f in full["factors"].items():
        se = f["sd"] / np.sqrt(inc_run.diagnostics["weights_ess"])
        assert abs(inc["factors"][key]["mean"] - f["mean"]) < 4 * np.sqrt(2) * se, key
    # The evidence moved something the test can see: hawkishness fell by more than that tolerance.
    assert inc["factors"]["domestic_hawkishness"]["mean"] < 2.0


@pytest.mark.slow
def test_news_too_surprising_to_reweight_refits(tmp_path):
    from cli_helpers import SMALL, forecast
    from conftest import EXAMPLE, write_csv

    from forecast.io.workspace import Workspace

    ws = tmp_path / "ws"
    forecast("update", EXAMPLE, "--workspace", ws, "--quiet", "--no-report", *SMALL)
    rows = [f"x{i},2025-02-24,signal,territorial_rigidity,-2.5,,,A,1,collapse {i}" for i in range(6)]
    out = forecast("update", write_csv(tmp_path / "x.csv", *rows), "--workspace", ws, "--no-report", *SMALL, check=False)
    assert "refitting: the new events move the posterior too far to reweight" in out.stderr
    assert Workspace(ws).ledger.latest_run().diagnostics["method"] == "sampled"


def test_guided_extension_is_the_exact_posterior_in_the_gaussian_limit():
    """nu huge: the Kalman proposal is the posterior of the new week given each draw's last level,
    so the correction is the same for identical draws and the draws match the conjugate answer."""
    from forecast.model.likelihood_on_draws import Signals

    ds = _posterior(chains=2, draws=5000)
    ds["theta"][:] = 1.0
    ds["volatility"][:] = 0.3
    ds["noise"][:] = 0.5
    ds["nu"][:] = 1e7
    readings = Signals(np.array([0, 0]), np.array([0, 0]), np.array([2.0, 2.2]), np.array([0, 0]), np.array([0, 0]))
    out, correction = _extend(ds, [dt.date(2025, 3, 10)], np.random.default_rng(3), readings)
    precision = 1 / 0.09 + 2 / 0.25
    new = out["theta"].isel(week=-1).sel(factor="a").values.ravel()
    assert new.mean() == pytest.approx((1 / 0.09 + (2.0 + 2.2) / 0.25) / precision, abs=0.01)
    assert new.var() == pytest.approx(1 / precision, rel=0.05)
    assert np.ptp(correction) < 1e-5  # equal weights: nothing left to correct
    # The untouched factor follows its prior walk; the innovations reproduce the new levels.
    other = out["theta"].isel(week=-1).sel(factor="b") - out["theta"].isel(week=-2).sel(factor="b")
    assert float(other.std()) == pytest.approx(0.3, rel=0.05)
    step = out["innovation"].isel(step=-1) * out["volatility"]
    np.testing.assert_allclose(step.values, (out["theta"].isel(week=-1) - out["theta"].isel(week=-2)).values, atol=1e-12)


def test_guided_extension_draws_student_t_steps_where_the_walk_has_jumps():
    """With jumps (walk.py) a factor no new reading touches steps as volatility times a Student-t
    with the factor's nu in every new week, as the model's walk does; Gaussian steps fail."""
    from scipy import stats

    from forecast.model.likelihood_on_draws import Signals

    ds = _posterior(chains=2, draws=10_000)
    ds["step_nu"] = (("chain", "draw", "factor"), np.full((2, 10_000, 2), 2.0))
    readings = Signals(np.array([0, 0]), np.array([0, 1]), np.array([0.5, 0.7]), np.array([0, 0]), np.array([0, 0]))
    for guide in (readings, None):  # readings in the new weeks guide the walk; without, it is the prior walk
        out, _ = _extend(ds, [dt.date(2025, 3, 10), dt.date(2025, 3, 17)], np.random.default_rng(6), guide)
        theta_b = out["theta"].sel(factor="b")
        for week in (-2, -1):
            step = ((theta_b.isel(week=week) - theta_b.isel(week=week - 1)) / 0.3).values.ravel()
            assert stats.kstest(step, stats.t(df=2.0).cdf).pvalue > 1e-3, (guide, week)
            assert stats.kstest(step, stats.norm.cdf).pvalue < 1e-6, (guide, week)
