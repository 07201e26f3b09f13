"""The CLI without sampling: validate, status, options."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLE, snapshot
from test_ledger import _run

from forecast.cli.main import main
from forecast.cli.terminal import status_json
from forecast.io.ledger import Ledger


def test_validate_reports_counts_and_writes_nothing(workspace, capsys):
    assert main(["validate", str(EXAMPLE), "--workspace", str(workspace)]) == 0
    assert "OK, 21 events (21 signals, 0 outcomes, 0 retractions)" in capsys.readouterr().out
    assert not workspace.exists()


def test_status_without_runs(workspace, capsys):
    assert main(["status", "--workspace", str(workspace)]) == 1
    assert "no runs yet" in capsys.readouterr().err


def test_workspace_from_the_environment(workspace, monkeypatch, capsys):
    monkeypatch.setenv("FORECAST_WORKSPACE", str(workspace))
    Ledger(workspace / "forecast.sqlite").commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run(
        headline={"a": {"label": "A", "p": 0.25, "lo": 0.1, "hi": 0.4}, "b": {"label": "B", "p": 0.75, "lo": 0.6, "hi": 0.9}},
        factors={"f": {"label": "F", "mean": 1.0, "sd": 0.2}}, counts={"total": 1, "signals": 1, "outcomes": 0, "retracted": 0},
        diagnostics={"r_hat_max": 1.001, "ess_bulk_min": 900.0, "ess_tail_min": 800.0, "divergences": 0, "sampling_seconds": 3.0, "problems": []},
    ))
    assert main(["status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"run_id", "as_of", "horizon_weeks", "outcomes", "factors", "events", "diagnostics", "report"}
    assert set(data["diagnostics"]) == {"r_hat_max", "ess_bulk_min", "divergences", "sampling_seconds"}
    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "25.0 %" in text and "10.0 % to 40.0 %" in text and "first run" in text


def test_status_json_matches_the_design_keys():
    run = _run(diagnostics={"r_hat_max": 1.0, "ess_bulk_min": 1.0, "ess_tail_min": 1.0, "divergences": 0, "sampling_seconds": 1.0})
    assert list(status_json(run)) == ["run_id", "as_of", "horizon_weeks", "outcomes", "factors", "events", "diagnostics", "status", "report"]


@pytest.mark.parametrize("args", [["update", str(EXAMPLE), "--chains", "1"], ["update", str(EXAMPLE), "--draws", "0"]])
def test_bad_sampler_settings_are_input_errors(workspace, capsys, args):
    before = snapshot(workspace)
    assert main([*args, "--workspace", str(workspace)]) == 2
    assert "error:" in capsys.readouterr().err and snapshot(workspace) == before


def test_as_of_in_the_future_is_refused(workspace, capsys):
    assert main(["update", str(EXAMPLE), "--as-of", "2999-01-01", "--workspace", str(workspace)]) == 2
    assert "in the future" in capsys.readouterr().err and not workspace.exists()


def test_bad_as_of_format(workspace, capsys):
    with pytest.raises(SystemExit) as info:
        main(["update", str(EXAMPLE), "--as-of", "21/02/2025", "--workspace", str(workspace)])
    assert info.value.code == 2 and "expected a date YYYY-MM-DD" in capsys.readouterr().err

