"""The PDF brief, from a real (small) fit of the example: every part, the numbers, CJK text,
the red banner, atomic writing, and the `forecast report` command.

The fast tier renders one brief; the tests that render more, or fit twice, are in the sampling tier.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess

import pytest
from brief_helpers import HEADINGS, pdf_pages, pdf_text, pdf_text_unwrapped
from cli_helpers import forecast
from conftest import EXAMPLE, snapshot, write_csv

from forecast.brief.publish import LATEST, BriefFailed, write_report
from forecast.cli.terminal import status_json
from forecast.inference.fit import FitSettings
from forecast.io.workspace import Workspace
from forecast.updating.pipeline import update

# Enough to exercise every part of the brief; far too few draws to pass the diagnostics.
TINY = FitSettings(draws=60, tune=60, chains=2, seed=7)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("brief") / "ws")
    update(EXAMPLE, workspace, settings=TINY, progress=False, log=lambda m: None, report=False)
    assert workspace.ledger.latest_run().report is None and not workspace.reports_dir.exists()
    return workspace


@pytest.fixture(scope="module")
def brief(fitted):
    """The same update again: nothing to refit, but the run has no brief yet, so it writes one."""
    result = update(EXAMPLE, fitted, settings=TINY, progress=False, log=lambda m: None)
    assert result.refitted is False and result.report is not None and result.report_error is None
    return result.report


def test_the_brief_has_every_part_and_the_status_numbers(fitted, brief):
    run = fitted.ledger.latest_run()
    assert run.report == f"reports/{brief.name}" and (fitted.reports_dir / LATEST).is_file()
    text = pdf_text(brief)
    for heading in HEADINGS:
        assert heading in text, heading
    status = status_json(run)
    for outcome in status["outcomes"].values():
        assert f"{100 * outcome['p']:.1f} %" in text
        assert f"{100 * outcome['lo']:.1f} % to {100 * outcome['hi']:.1f} %" in text
    assert set(status["happens_by"]) == set(status["outcomes"]) - {"protracted_war"}
    for deal in status["happens_by"].values():  # the headline's "at least once" column, as stored
        assert f"{100 * deal['p']:.1f} % ({100 * deal['lo']:.1f} % to {100 * deal['hi']:.1f} %)" in text
    for needle in (run.run_id, run.data_hash, run.priors_hash, run.code_version, str(run.seed), str(run.as_of)):
        assert needle in text
    assert "first run" in text and "Pareto k" in text and "R-hat" in text
    assert pdf_pages(brief) >= 5


def test_the_first_page_says_what_the_record_showed_of_the_obstacles(brief):
    from forecast.brief.record_evidence import load_record_evidence, record_evidence_text

    first_page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-enc", "UTF-8", str(brief), "-"],
                                capture_output=True, text=True, check=True).stdout
    words = " ".join(first_page.split())
    assert "Evidence from the record. " + record_evidence_text(load_record_evidence()) in words


def test_chinese_event_text_is_drawn_as_chinese(brief):
    text = pdf_text_unwrapped(brief)
    # From examples/events.csv (seed-01, seed-02): whole sentences in CJK characters, not boxes
    # or code points.
    assert "外媒周一援引内部人士:特朗普政府或寻求简化版矿产协议,细节日后再谈。" in text
    assert "泽连斯基此前表示,美方提出的“稀土”矿产合作协议缺乏对乌“安全保障”,不允许签署。" in text
    assert "[U+" not in text
    fonts = subprocess.run(["pdffonts", str(brief)], capture_output=True, text=True, check=True).stdout
    assert "WenQuanYi" in fonts or "ZenHei" in fonts  # embedded, so any reader shows the same glyphs


def test_a_flagged_run_carries_the_red_banner(fitted, brief):
    run = fitted.ledger.latest_run()
    assert run.status == "flagged"  # 60 draws cannot pass
    flagged = pdf_text(brief)
    assert "DIAGNOSTICS FAILED: do not rely on these numbers" in flagged
    assert flagged.index("DIAGNOSTICS FAILED") < flagged.index("1. Headline")  # on page 1, before the numbers
    for problem in run.diagnostics["problems"]:
        assert problem.split(":")[0] in flagged


@pytest.mark.slow
def test_a_passing_run_has_no_banner(fitted):
    run = fitted.ledger.latest_run()
    ok = dataclasses.replace(run, status="ok", diagnostics={**run.diagnostics, "problems": []})
    clean = pdf_text(write_report(fitted, ok, out=fitted.root.parent / "ok.pdf"))
    assert "DIAGNOSTICS FAILED" not in clean and "All diagnostics passed" in clean


@pytest.mark.slow
def test_a_failing_brief_leaves_no_partial_file_and_keeps_the_latest(fitted, monkeypatch, capsys):
    from reportlab.platypus import Flowable

    run = fitted.ledger.latest_run()
    write_report(fitted, run)  # a good brief and latest.pdf to keep
    before = snapshot(fitted.reports_dir)
    with sqlite3.connect(fitted.ledger.path) as conn:
        recorded = conn.execute("SELECT run_id, report FROM runs").fetchall()

    class Boom(Flowable):
        def wrap(self, *args):
            return (10, 10)

        def draw(self):
            raise RuntimeError("disk on fire")

    # Fails on the last page, after the earlier pages are already written to the file.
    monkeypatch.setattr("forecast.brief.pdf._Writer.stamp", lambda self, missing: [Boom()])
    with pytest.raises(BriefFailed, match=f"forecast report --run {run.run_id}") as failure:
        write_report(fitted, run)
    assert failure.value.exit_code == 1 and "disk on fire" in str(failure.value)
    assert snapshot(fitted.reports_dir) == before  # no .partial-*, latest.pdf untouched
    with sqlite3.connect(fitted.ledger.path) as conn:
        assert conn.execute("SELECT run_id, report FROM runs").fetchall() == recorded

    # Through the command: an update whose brief fails exits 1, keeps its run, and says how to retry.
    from forecast.cli.main import main

    later = write_csv(fitted.root.parent / "one-more.csv", "m1,2025-02-21,signal,domestic_hawkishness,1.0,,,B,2,one more")
    code = main(["update", str(later), "--workspace", str(fitted.root), "--quiet", "--draws", "60", "--tune", "60",
                 "--chains", "2", "--seed", "7"])
    out = capsys.readouterr()
    newest = fitted.ledger.latest_run()
    assert code == 1 and f"forecast report --run {newest.run_id}" in out.err and "Local ceasefire" in out.out
    assert newest.report is None and snapshot(fitted.reports_dir) == before


@pytest.mark.slow
def test_second_update_explains_what_moved(fitted, tmp_path):
    later = write_csv(
        tmp_path / "later.csv",
        "n1,2025-03-03,signal,external_military_aid,-1.5,,,A,1,US pauses military aid",
        "n2,2025-03-18,outcome,,,energy_food_deal,,A,2,energy strike moratorium agreed",
    )
    result = update(later, fitted, settings=TINY, progress=False, log=lambda m: None)
    assert result.report_error is None
    text = pdf_text(result.report)
    assert "Since run" in text and "New information" in text and "Time and other" in text
    assert "Signals on External military aid" in text and "Outcome events" in text
    assert "more week(s) observed with no deal" in text
    # The history chart and the change column compare against the previous run.
    previous = fitted.ledger.runs()[-2]
    assert f"Change since the run as of {previous.as_of}" in text
    assert "energy strike moratorium agreed" in text  # the event log


@pytest.mark.slow
def test_report_command_renders_a_chosen_run_and_refuses_an_unknown_one(fitted, tmp_path):
    first = fitted.ledger.runs()[0]
    out = tmp_path / "old.pdf"
    before = snapshot(fitted.root)
    result = forecast("report", "--workspace", fitted.root, "--run", first.run_id[:18], "--out", out)
    assert str(out) in result.stdout and out.is_file()
    assert first.run_id in pdf_text(out)
    assert snapshot(fitted.root) == before  # --out changes nothing in the workspace
    # Without --out: into reports/, recorded in the ledger, under the lock.
    latest = fitted.ledger.latest_run()
    default = forecast("report", "--workspace", fitted.root)
    written = fitted.root / fitted.ledger.latest_run().report
    assert written.is_file() and str(written) in default.stdout and latest.run_id in written.name
    bad = forecast("report", "--workspace", fitted.root, "--run", "nope", check=False)
    assert bad.returncode == 2 and "is not a run in this workspace" in bad.stderr
    empty = forecast("report", "--workspace", tmp_path / "none", check=False)
    assert empty.returncode == 1 and "no such workspace" in empty.stderr


def test_a_run_whose_events_were_tampered_with_is_refused(fitted, tmp_path):
    import shutil

    copy = Workspace(tmp_path / "copy")
    shutil.copytree(fitted.root, copy.root)
    with sqlite3.connect(copy.ledger.path) as conn:
        conn.execute("UPDATE events SET description = 'edited by hand' WHERE event_id = 'seed-01'")
    with pytest.raises(Exception, match="no longer hash to the run's data hash"):
        write_report(copy, copy.ledger.latest_run(), out=tmp_path / "t.pdf")




def test_the_stored_posterior_keeps_the_paths_not_the_normals_behind_them(fitted):
    import xarray as xr

    run = fitted.ledger.latest_run()
    with xr.open_datatree(fitted.root / run.posterior, engine="h5netcdf") as tree:
        names = set(tree["posterior"].data_vars)
    assert {"theta", "initial", "volatility", "noise"} <= names
    assert "path_std" not in names


def test_the_backtest_part_shows_every_method_the_skill_and_its_words(fitted, tmp_path, priors):
    """The same table and plain words as the terminal's, from the saved backtest (fits stood in)."""
    import json
    import shutil

    from test_backtest import _log, _week, fixed_chances

    from forecast.evaluation.backtest import BacktestSettings, run_backtest
    from forecast.inference.fit import FitSettings

    copy = Workspace(tmp_path / "ws")
    shutil.copytree(fitted.root, copy.root)
    settings = BacktestSettings(start=_week(4), every_weeks=1, horizon=3)  # 24 origins: enough for an interval
    result = run_backtest(_log(), priors, settings, FitSettings(draws=10, tune=10, chains=2), forecast_at=fixed_chances)
    result["created_at"] = "2025-03-01T00:00:00+00:00"
    copy.latest_backtest.parent.mkdir(parents=True, exist_ok=True)
    copy.latest_backtest.write_text(json.dumps(result), encoding="utf-8")
    text = pdf_text(write_report(copy, copy.ledger.latest_run(), out=tmp_path / "b.pdf"))
    for method, label in result["methods"].items():
        assert label in text and f"{result['scores'][method]['brier']:.3f}" in text
    skill = result["skill"]["uniform"]["brier"]
    assert f"{skill['value']:+.2f} ({skill['lo']:+.2f} to {skill['hi']:+.2f})" in text
    for sentence in result["skill_in_words"].values():
        assert sentence in text
    assert "24 sampled, 0 reweighted" in text


def test_a_backtest_saved_before_the_baselines_still_renders(fitted, tmp_path):
    import json
    import shutil

    copy = Workspace(tmp_path / "ws")
    shutil.copytree(fitted.root, copy.root)
    score = {"n": 2, "brier": 0.5, "log": 0.7, "per_outcome": {k: {"brier": 0.1, "log": 0.2} for k in
                                                              ("local_ceasefire", "energy_food_deal", "protracted_war")}}
    old = {"origins": ["2025-02-24", "2025-03-10"], "horizon_weeks": 2, "every_weeks": 2, "known_to": "2025-03-30",
           "outcomes": {"local_ceasefire": "Local ceasefire", "energy_food_deal": "Energy/food deal", "protracted_war": "No deal"},
           "scores": {"model": score, "base_rate": score, "prior": score},
           "forecasts": [{"origin": o, "method": "model", "observed": "protracted_war",
                          "p": {"local_ceasefire": 0.1, "energy_food_deal": 0.1, "protracted_war": 0.8}} for o in ("2025-02-24", "2025-03-10")],
           "reliability": {"model": []}, "flagged_fits": 0, "priors_hash": "x", "created_at": "2025-04-01T00:00:00+00:00"}
    copy.latest_backtest.parent.mkdir(parents=True, exist_ok=True)
    copy.latest_backtest.write_text(json.dumps(old), encoding="utf-8")
    text = pdf_text(write_report(copy, copy.ledger.latest_run(), out=tmp_path / "b.pdf"))
    assert "Base rate (weekly frequency so far)" in text and "rerun forecast backtest to see it" in text
