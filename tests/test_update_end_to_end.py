"""The sampling tier: `forecast update` for real, on the example and on synthetic logs."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import time

import numpy as np
import pytest
from brief_helpers import HEADINGS, pdf_text, pdf_text_unwrapped
from cli_helpers import FORECAST, SMALL, forecast, status
from conftest import EXAMPLE, write_csv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example_workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("example") / "ws"
    first = forecast("update", EXAMPLE, "--workspace", ws, "--quiet", *SMALL)
    return ws, first


def test_example_update_and_status(example_workspace):
    ws, first = example_workspace
    assert "Local ceasefire" in first.stdout and "first run" in first.stdout
    s = status(ws)
    assert set(s["outcomes"]) == {"local_ceasefire", "energy_food_deal", "general_ceasefire", "protracted_war"}
    assert set(s["happens_by"]) == {"local_ceasefire", "energy_food_deal", "general_ceasefire"}
    for key, once in s["happens_by"].items():
        assert s["outcomes"][key]["p"] <= once["p"] <= 1 and once["lo"] <= once["p"] <= once["hi"]
    assert sum(o["p"] for o in s["outcomes"].values()) == pytest.approx(1.0, abs=1e-9)
    for o in s["outcomes"].values():
        assert 0 <= o["lo"] <= o["p"] <= o["hi"] <= 1
    assert len(s["factors"]) == 4
    assert s["events"] == {"total": 21, "signals": 21, "outcomes": 0, "retracted": 0}
    assert s["diagnostics"]["r_hat_max"] <= 1.01 and s["diagnostics"]["divergences"] == 0
    assert s["status"] == "ok" and s["as_of"] == "2025-02-21" and s["horizon_weeks"] == 12
    # The seed article's judgement: protracted war is the most likely path, each partial deal a minority.
    p = {k: o["p"] for k, o in s["outcomes"].items()}
    assert p["protracted_war"] > 0.5 and max(p["local_ceasefire"], p["energy_food_deal"]) < 0.3
    assert p["general_ceasefire"] < min(p["local_ceasefire"], p["energy_food_deal"])  # distant, per the article
    assert (ws / "runs" / s["run_id"] / "posterior.nc").is_file()


def test_example_brief_matches_status_and_has_no_banner(example_workspace):
    ws, first = example_workspace
    s = status(ws)
    brief = ws / s["report"]
    assert brief.is_file() and f"Brief: {brief}" in first.stdout
    assert (ws / "reports" / "latest.pdf").read_bytes() == brief.read_bytes()
    text = pdf_text(brief)
    for heading in HEADINGS:
        assert heading in text, heading
    for o in s["outcomes"].values():  # the brief's headline is the ledger's, to the printed digit
        assert f"{o['label']}, {100 * o['p']:.1f} %" in text
    assert "DIAGNOSTICS FAILED" not in text and "All diagnostics passed" in text
    assert "外媒周一援引内部人士:特朗普政府或寻求简化版矿产协议" in pdf_text_unwrapped(brief)


def test_same_update_again_changes_nothing(example_workspace):
    ws, _ = example_workspace
    before = status(ws)
    with sqlite3.connect(ws / "forecast.sqlite") as conn:
        counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "ingests", "runs")]
    again = forecast("update", EXAMPLE, "--workspace", ws, *SMALL)
    assert "21 event(s), 0 new, 21 already in the ledger" in again.stderr and "not refitting" in again.stderr
    with sqlite3.connect(ws / "forecast.sqlite") as conn:
        assert [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "ingests", "runs")] == counts
    assert status(ws) == before


def test_posterior_file_carries_provenance_and_refuses_a_mismatch(example_workspace):
    from forecast.errors import ForecastError
    from forecast.io.runfiles import load_posterior
    from forecast.io.workspace import Workspace

    ws, _ = example_workspace
    workspace = Workspace(ws)
    run = workspace.ledger.latest_run()
    tree = load_posterior(workspace.posterior_path(run.run_id), run)
    assert tree.attrs["data_hash"] == run.data_hash and tree.attrs["priors_hash"] == run.priors_hash
    assert set(tree["forecast"].to_dataset().data_vars) == {"p", "lo", "hi", "happens_by", "happens_by_lo", "happens_by_hi"}
    with pytest.raises(ForecastError, match="refusing to use it"):
        load_posterior(workspace.posterior_path(run.run_id), type(run)(**{**run.__dict__, "data_hash": "other"}))


def test_strong_signals_lowering_every_obstacle_raise_both_deals(tmp_path):
    """Two workspaces at the same as-of date: one neutral reading, and the same reading plus A1
    readings well below the priors for every factor. Only the signals differ."""
    factors = ["territorial_rigidity", "security_guarantee_gap", "external_military_aid", "domestic_hawkishness"]
    neutral = "n0,2025-02-19,signal,territorial_rigidity,2.5,,,F,6,neutral"
    low = [f"low-{f}-{d},2025-02-{d},signal,{f},0.5,,,A,1,strong signal" for f in factors for d in (18, 19, 20)]
    states = {}
    for name, rows in {"neutral": [neutral], "low": [neutral, *low]}.items():
        ws = tmp_path / name
        forecast("update", write_csv(tmp_path / f"{name}.csv", *rows), "--workspace", ws, "--as-of", "2025-02-21", "--quiet", *SMALL)
        states[name] = status(ws)
    for deal in ("local_ceasefire", "energy_food_deal"):
        assert states["low"]["outcomes"][deal]["p"] > states["neutral"]["outcomes"][deal]["p"] + 0.03
    assert states["low"]["happens_by"]["general_ceasefire"]["p"] > states["neutral"]["happens_by"]["general_ceasefire"]["p"]
    for f in factors:
        assert states["low"]["factors"][f]["mean"] < states["neutral"]["factors"][f]["mean"] - 0.4


def test_second_update_shows_the_change_since_the_last_run(tmp_path):
    ws = tmp_path / "ws"
    forecast("update", EXAMPLE, "--workspace", ws, "--quiet", *SMALL)
    later = write_csv(tmp_path / "later.csv", "m1,2025-03-04,signal,external_military_aid,0.5,,,B,2,aid pause")
    result = forecast("update", later, "--workspace", ws, "--quiet", *SMALL)
    assert result.stdout.count(" pts") == 4 and "first run" not in result.stdout  # one change per path


def test_a_short_append_leaks_no_library_warning_and_its_progress_fits_80_columns(tmp_path):
    ws = tmp_path / "ws"
    forecast("update", EXAMPLE, "--workspace", ws, "--quiet", "--no-report", *SMALL)
    later = write_csv(tmp_path / "later.csv", "m1,2025-02-24,signal,domestic_hawkishness,1.8,,,B,2,a week on")
    result = forecast("update", later, "--workspace", ws, "--refit", *SMALL)
    assert "Warning" not in result.stderr and "warning" not in result.stderr.lower().replace("warning: diagnostics", "")
    progress = [line for line in result.stderr.splitlines() if line.startswith("sampling ")]
    assert progress and progress[-1].startswith("sampling 100%")
    assert all(len(line) <= 79 for line in progress)


def test_retraction_through_the_cli(tmp_path):
    ws = tmp_path / "ws"
    forecast("update", EXAMPLE, "--workspace", ws, "--quiet", *SMALL)
    forecast("update", write_csv(tmp_path / "r.csv", "r1,2025-02-22,retraction,,,,seed-09,,,duplicate judgement"),
             "--workspace", ws, "--quiet", *SMALL)
    s = status(ws)
    assert s["events"] == {"total": 20, "signals": 20, "outcomes": 0, "retracted": 1}
    assert s["as_of"] == "2025-02-22"


def test_no_events_gives_the_prior_predictive(priors, seed):
    """With no data the posterior is the prior, so the forecast must be the prior predictive."""
    from forecast.forecasting.incidence import cumulative_incidence
    from forecast.forecasting.prior_predictive import empty_dataset, prior_predictive
    from forecast.inference.sampler import sample
    from forecast.model.density import compile_density
    from forecast.model.likelihood_on_draws import Draws

    empty = empty_dataset(priors)
    trace, diagnostics = sample(compile_density(empty, priors), empty, priors, draws=1000, tune=500, chains=4, seed=seed,
                                progress=False)
    assert diagnostics.passed, diagnostics.problems
    horizon = priors.outcomes.horizon_weeks
    post = cumulative_incidence(Draws.from_dataset(trace.posterior.to_dataset()), horizon, np.random.default_rng(seed))[:, -1, :]
    pri = prior_predictive(priors, draws=4000, seed=seed + 1).incidence[:, horizon - 1, :]
    for j in range(post.shape[1]):  # every path, the complement included
        se = np.hypot(post[:, j].std() / np.sqrt(diagnostics.ess_bulk_min), pri[:, j].std() / np.sqrt(len(pri)))
        assert abs(post[:, j].mean() - pri[:, j].mean()) < 4 * se, (j, post[:, j].mean(), pri[:, j].mean(), se)


def _kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _wait_for(process: subprocess.Popen, text: str, timeout: float = 300) -> None:
    """Read the child's stderr until `text` appears."""
    seen = b""
    deadline = time.monotonic() + timeout
    fd = process.stderr.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            seen += chunk
            if text.encode() in seen:
                return
            if not chunk and process.poll() is not None:
                raise AssertionError(f"process ended before '{text}': {seen.decode(errors='replace')}")
    raise AssertionError(f"no '{text}' within {timeout} s: {seen.decode(errors='replace')}")


@pytest.mark.parametrize("moment", ["sampling", "store"])
def test_sigkill_mid_update_leaves_last_good_state(tmp_path, moment):
    ws = tmp_path / "ws"
    forecast("update", EXAMPLE, "--workspace", ws, "--quiet", *SMALL)
    good = status(ws)
    new = write_csv(tmp_path / "new.csv", "n1,2025-03-03,signal,territorial_rigidity,1.0,,,B,2,new")
    env = dict(os.environ)
    if moment == "store":
        env["FORECAST_PAUSE_AT"] = "store"  # stops after the run files are published, before the commit
    # "sampling" needs a sampler to kill (--refit); "store" takes the incremental path, whose
    # store is the same two-step publish and commit.
    refit = ["--refit"] if moment == "sampling" else []
    process = subprocess.Popen([FORECAST, "update", str(new), "--workspace", str(ws), *SMALL, *refit], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        if moment == "store":
            _wait_for(process, "paused at store")
        else:
            _wait_for(process, "sampling 4 chains")  # the sampler announces the chains as they start
            time.sleep(1.0)
    finally:
        _kill_group(process)

    assert status(ws) == good  # the ledger is readable and unchanged
    with sqlite3.connect(ws / "forecast.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM events WHERE event_id = 'n1'").fetchone()[0] == 0
    # The next update works, and its run passes (volatilities cannot collapse to zero, where the
    # one divergence of an earlier version sat).
    forecast("update", new, "--workspace", ws, "--quiet", *SMALL)
    after = status(ws)
    assert after["run_id"] != good["run_id"] and after["events"]["total"] == good["events"]["total"] + 1
    assert sorted(p.name for p in (ws / "runs").iterdir()) == sorted([good["run_id"], after["run_id"]])


def test_failed_diagnostics_exit_3_and_the_run_is_stored_flagged(tmp_path):
    ws = tmp_path / "ws"
    result = forecast("update", EXAMPLE, "--workspace", ws, "--draws", "8", "--tune", "8", "--chains", "2", check=False)
    assert result.returncode == 3, result.stderr
    assert "diagnostics failed" in result.stdout and "stored but flagged" in result.stderr
    s = status(ws)
    assert s["status"] == "flagged"
    assert "DIAGNOSTICS FAILED: do not rely on these numbers" in pdf_text(ws / s["report"])


def test_same_inputs_and_seed_reproduce_the_numbers_exactly(example_workspace, tmp_path):
    ws, _ = example_workspace
    original = status(ws)
    forecast("update", EXAMPLE, "--workspace", tmp_path / "again", "--quiet", *SMALL)
    again = status(tmp_path / "again")
    assert again["outcomes"] == original["outcomes"] and again["factors"] == original["factors"]
    assert again["run_id"] != original["run_id"]
