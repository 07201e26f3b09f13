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
    assert list(status_json(run)) == ["run_id", "as_of", "horizon_weeks", "outcomes", "happens_by", "factors", "events",
                                      "diagnostics", "status", "report"]


DIAGNOSTICS = {"r_hat_max": 1.001, "ess_bulk_min": 900.0, "ess_tail_min": 800.0, "divergences": 0, "sampling_seconds": 3.0,
               "problems": []}


def _with_happens_by() -> dict:
    def entry(label: str, p: float, by: float | None) -> dict:
        out = {"label": label, "p": p, "lo": p / 2, "hi": min(1.0, 2 * p)}
        return out | ({"happens_by": {"p": by, "lo": by / 2, "hi": min(1.0, 2 * by)}} if by is not None else {})

    return {"local_ceasefire": entry("Local ceasefire", 0.08, 0.095), "energy_food_deal": entry("Energy/food deal", 0.06, 0.071),
            "general_ceasefire": entry("General ceasefire", 0.015, 0.021), "protracted_war": entry("Protracted war", 0.845, 0.845)}


def test_status_json_and_the_headline_carry_happens_by(workspace, capsys):
    Ledger(workspace / "forecast.sqlite").commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run(
        headline=_with_happens_by(), factors={}, counts={"total": 1, "signals": 1, "outcomes": 0, "retracted": 0},
        diagnostics=DIAGNOSTICS))
    assert main(["status", "--json", "--workspace", str(workspace)]) == 0
    data = json.loads(capsys.readouterr().out)
    # The outcomes keep their keys; "happens by" is its own object, one entry per deal type.
    assert data["outcomes"]["general_ceasefire"] == {"label": "General ceasefire", "p": 0.015, "lo": 0.0075, "hi": 0.03}
    assert data["happens_by"] == {
        "local_ceasefire": {"label": "Local ceasefire", "p": 0.095, "lo": 0.0475, "hi": 0.19},
        "energy_food_deal": {"label": "Energy/food deal", "p": 0.071, "lo": 0.0355, "hi": 0.142},
        "general_ceasefire": {"label": "General ceasefire", "p": 0.021, "lo": 0.0105, "hi": 0.042},
    }
    assert main(["status", "--workspace", str(workspace)]) == 0
    text = capsys.readouterr().out
    first, once = text.split("starts at least once within 12 weeks")
    assert "General ceasefire   1.5 %     0.8 % to 3.0 %" in first
    assert "General ceasefire          2.1 %   1.1 % to 4.2 %" in once
    assert "Protracted war" not in once  # the complement has no "at least once" of its own


def test_a_run_stored_before_happens_by_has_none(workspace, capsys):
    old = {k: {f: v[f] for f in ("label", "p", "lo", "hi")} for k, v in _with_happens_by().items()}
    Ledger(workspace / "forecast.sqlite").commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run(
        headline=old, factors={}, counts={"total": 1, "signals": 1, "outcomes": 0, "retracted": 0}, diagnostics=DIAGNOSTICS))
    assert main(["status", "--json", "--workspace", str(workspace)]) == 0
    assert json.loads(capsys.readouterr().out)["happens_by"] is None
    assert main(["status", "--workspace", str(workspace)]) == 0
    assert "made before runs kept it" in capsys.readouterr().out


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

