"""The fit's one retry: when and with what, and how the run records it."""

from __future__ import annotations

import pytest

from forecast.errors import InputError
from forecast.inference import fit as fit_module
from forecast.inference.diagnostics import Diagnostics
from forecast.inference.fit import FitSettings, fit_checked, retry_settings

GOOD = Diagnostics(r_hat_max=1.001, ess_bulk_min=3000, ess_tail_min=2000, divergences=0, sampling_seconds=1.0, chains=4)
DIVERGENT = Diagnostics(r_hat_max=1.001, ess_bulk_min=3000, ess_tail_min=2000, divergences=2, sampling_seconds=1.0, chains=4)


def _fake_fits(monkeypatch, *results):
    calls = []

    def fake(data, priors, settings, progress=False):
        calls.append(settings)
        return f"trace{len(calls)}", results[len(calls) - 1], f"table{len(calls)}"

    monkeypatch.setattr(fit_module, "fit_forecast", fake)
    return calls


def test_a_passing_fit_is_not_retried(monkeypatch):
    calls = _fake_fits(monkeypatch, GOOD)
    trace, stored, _, used = fit_checked(None, None, FitSettings())
    assert len(calls) == 1 and used == FitSettings() and trace == "trace1"
    assert stored["passed"] and "retry" not in stored and stored["target_accept"] == FitSettings().target_accept


def test_a_failing_fit_is_retried_once_with_safer_settings_and_says_why(monkeypatch):
    calls = _fake_fits(monkeypatch, DIVERGENT, DIVERGENT)
    said = []
    asked = FitSettings(draws=300, tune=200, target_accept=0.85)
    trace, stored, table, used = fit_checked(None, None, asked, log=said.append)
    assert len(calls) == 2 and calls[1] == used == retry_settings(asked)
    assert (used.draws, used.tune, used.target_accept) == (600, 400, 0.97) and used.seed == asked.seed
    assert trace == "trace2" and table == "table2" and not stored["passed"]  # still failing: flagged, not hidden
    assert stored["retry"] == {"reason": "2 divergent transitions", "requested": {"draws": 300, "tune": 200, "target_accept": 0.85}}
    assert stored["target_accept"] == 0.97
    assert len(said) == 1 and "2 divergent transitions" in said[0] and "0.97" in said[0]


def test_retry_never_lowers_a_target_the_user_raised():
    assert retry_settings(FitSettings(target_accept=0.99)).target_accept == 0.99


@pytest.mark.parametrize("value", [0.3, 1.0, 1.2])
def test_target_acceptance_outside_its_range_is_refused(value):
    with pytest.raises(InputError, match="--target-accept"):
        FitSettings(target_accept=value)


def test_a_retried_run_is_compared_by_the_settings_the_user_asked_for():
    """The next update with the same options must see 'nothing new', not refit because the
    retry used other settings; a run from before target acceptances were stored used 0.8."""
    import datetime as dt

    from forecast.io.ledger import RunRecord
    from forecast.updating.pipeline import requested_settings

    def run(draws: int, tune: int, diagnostics: dict) -> RunRecord:
        return RunRecord(run_id="r", created_at="t", as_of=dt.date(2025, 2, 21), data_hash="d", priors_hash="p",
                         priors_dir="priors", code_version="v", seed=7, draws=draws, tune=tune, chains=4, status="ok",
                         diagnostics=diagnostics, headline={}, factors={}, counts={}, horizon_weeks=12,
                         posterior="runs/r/posterior.nc", report=None)

    retried = run(2000, 1000, {"target_accept": 0.97, "retry": {"reason": "x", "requested": {"draws": 1000, "tune": 500, "target_accept": 0.9}}})
    assert requested_settings(retried) == (7, 1000, 500, 4, 0.9)
    assert requested_settings(run(1000, 500, {"target_accept": 0.9})) == (7, 1000, 500, 4, 0.9)
    assert requested_settings(run(1000, 500, {})) == (7, 1000, 500, 4, 0.8)
