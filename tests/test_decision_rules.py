"""Decision rules with tests that fail when they break (issue 12, last part).

Each test pins one rule that decides what the user is told, against an exact answer, and was
seen to fail with the rule broken by a one-line edit (docs/MUTATION.md lists the edits). The
second part holds what `make mutation` found no fast test holding: each of those tests kills
mutants that survived the rest of the fast tier. No test here samples: fits are replaced by
draws built by hand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import os
import signal

import numpy as np
import pytest
import xarray as xr
from conftest import EXAMPLE, HEADER, write_csv
from scipy import stats
from scipy.special import expit, log_softmax
from test_ledger import _run

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES, TARGET_ACCEPT
from forecast.errors import ForecastError, InputError
from forecast.io.events import Event, KnownEvent, read_events
from forecast.io.ledger import Ledger
from forecast.io.workspace import UNCOMMITTED, Workspace
from forecast.model.dataset import build_dataset
from forecast.model.likelihood_on_draws import Draws, Signals

AS_OF = dt.date(2025, 2, 21)  # the example's as-of date (its last report)
WEEK0 = dt.date(2025, 2, 17)


def _event(event_id, kind="signal", day=AS_OF, **fields) -> Event:
    base = dict(event_id=event_id, kind=kind, date=day, reported=day, factor=None, signal=None, outcome=None,
                retracts=None, source_reliability="A", info_credibility="1", actor="", description="", source="")
    return Event(**{**base, **fields})


def _posterior(factors, weeks, deals, *, chains=2, draws=50, seed=0, level=0.0, spread=0.3) -> xr.Dataset:
    """Draws shaped like the fit's posterior, with every variable the later steps read."""
    rng = np.random.default_rng(seed)
    k, w, j = len(factors), len(weeks), len(deals)
    sample = ("chain", "draw")
    return xr.Dataset(
        {
            "theta": ((*sample, "factor", "week"), rng.normal(level, spread, (chains, draws, k, w))),
            "volatility": ((*sample, "factor"), np.full((chains, draws, k), 0.2)),
            "baseline": ((*sample, "deal"), np.full((chains, draws, j), -3.0)),
            "effect": ((*sample, "deal", "factor"), np.full((chains, draws, j, k), -0.3)),
            "noise": (sample, np.full((chains, draws), 0.5)),
            "nu": (sample, np.full((chains, draws), 4.0)),
            "reliability_multiplier": ((*sample, "reliability"), np.ones((chains, draws, 6))),
            "credibility_multiplier": ((*sample, "credibility"), np.ones((chains, draws, 6))),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws), "factor": list(factors),
                "week": [d.isoformat() for d in weeks], "deal": list(deals),
                "reliability": list(RELIABILITY_GRADES), "credibility": list(CREDIBILITY_GRADES)},
    )


def _fake_fits(monkeypatch, passed: bool = True, nu: float = 4.0, retried: bool = False) -> list:
    """Replace the sampler in `update` by draws built by hand; returns the datasets it was asked to
    fit. `retried`: the fit says it used the retry's settings (twice the tuning, 0.97)."""
    from forecast.inference.fit import forecast_from_posterior
    from forecast.updating import pipeline

    fitted = []

    def fit_checked(data, priors, settings, *, progress=False, log=lambda message: None):
        fitted.append(data)
        log(f"sampled by hand ({'with' if progress else 'without'} a progress line)")
        posterior = _posterior(data.factors, data.weeks, data.deals, chains=settings.chains, draws=settings.draws)
        posterior["nu"].values[:] = nu
        table = forecast_from_posterior(posterior, priors, settings.seed, data.occasions_ahead)
        diagnostics = {"r_hat_max": 1.0, "ess_bulk_min": 400.0, "ess_tail_min": 400.0, "divergences": 0,
                       "sampling_seconds": 0.0, "chains": settings.chains, "passed": passed, "problems": [],
                       "method": "sampled", "target_accept": settings.target_accept}
        used = dataclasses.replace(settings, tune=2 * settings.tune, target_accept=0.97) if retried else settings
        diagnostics["target_accept"] = used.target_accept
        return xr.DataTree.from_dict({"posterior": posterior}), diagnostics, table, used

    monkeypatch.setattr(pipeline, "fit_checked", fit_checked)
    return fitted


def _log_ratios_seen(monkeypatch) -> list:
    """Record the log importance ratios `reweight` hands to the weights (the weights unchanged)."""
    from forecast.inference import importance, incremental

    seen = []

    def spy(log_ratios):
        seen.append(np.array(log_ratios))
        return importance.importance_weights(log_ratios)

    monkeypatch.setattr(incremental, "importance_weights", spy)
    return seen


def _settings():
    from forecast.inference.fit import FitSettings

    return FitSettings(draws=50, tune=50, chains=2, seed=7)


def _update(path, workspace, messages=None, **options):
    from forecast.updating.pipeline import update

    log = messages.append if messages is not None else (lambda message: None)
    return update(path, workspace, settings=_settings(), **{"progress": False, "report": False, **options}, log=log)


# --- the incremental update: when the weights may be trusted ------------------------------------


def _reweight_with_weights(monkeypatch, priors, pareto_k: float, ess_share: float):
    """`reweight` of 1,000 draws (Pareto k limit 2/3) with importance weights of the given k and ESS."""
    from forecast.inference import incremental
    from forecast.inference.importance import ImportanceWeights

    def weights(log_ratios):
        n = np.asarray(log_ratios).size
        return ImportanceWeights(np.full(n, 1.0 / n), pareto_k, ess_share * n)

    monkeypatch.setattr(incremental, "importance_weights", weights)
    events = read_events(EXAMPLE, priors).events
    now = [*events, _event("new", factor="territorial_rigidity", signal=1.0)]
    data = build_dataset(now, priors, AS_OF)
    base = _posterior(data.factors, data.weeks, data.deals, draws=500)
    return incremental.reweight(base, data, events, AS_OF, now, seed=1)


@pytest.mark.parametrize(("pareto_k", "ess_share", "declined"), [
    (0.50, 0.5, None),
    (0.66, 0.5, None),  # just under the limit for 1,000 draws, 1 - 1/log10(1000) = 2/3
    (0.68, 0.5, "Pareto k 0.68"),  # over it, though under 0.7
    (0.95, 0.5, "Pareto k 0.95"),  # under 1.0: still far too heavy a tail
    (0.50, 0.11, None),
    (0.50, 0.09, "worth only 90 of 1000"),  # under a tenth of the draws
])
def test_reweighting_declines_at_the_pareto_k_limit_and_the_effective_draws_floor(monkeypatch, priors, pareto_k, ess_share,
                                                                                 declined):
    from forecast.inference.incremental import Declined, Reweighted

    result = _reweight_with_weights(monkeypatch, priors, pareto_k, ess_share)
    if declined is None:
        assert isinstance(result, Reweighted), result
        assert result.pareto_k == pareto_k and result.ess == pytest.approx(ess_share * 1000)
        assert result.posterior.sizes["chain"] == 2 and result.posterior.sizes["draw"] == 500
    else:
        assert isinstance(result, Declined) and declined in result.reason, result
        assert result.pareto_k == pareto_k


def test_an_update_reweights_the_last_sampled_run_never_a_reweighted_one(tmp_path, priors, monkeypatch):
    """Reweighting a run that was itself reweighted would compound the resampling: the base is
    the newest *sampled* run, however many reweighted runs came after it."""
    from forecast.io import runfiles
    from forecast.io.version import code_version
    from forecast.updating.pipeline import _try_incremental

    settings = _settings()
    common = dict(priors_hash=priors.hash, code_version=code_version(), seed=settings.seed, draws=settings.draws,
                  tune=settings.tune, chains=settings.chains)
    sampled = _run("r1-sampled", created_at="2026-01-01T00:00:00+00:00",
                   diagnostics={"method": "sampled", "target_accept": TARGET_ACCEPT}, **common)
    reweighted = _run("r2-reweighted", created_at="2026-01-02T00:00:00+00:00",
                      diagnostics={"method": "reweighted", "base_run": "r1-sampled", "target_accept": TARGET_ACCEPT}, **common)
    workspace = Workspace(tmp_path / "ws")
    for run in (sampled, reweighted):
        workspace.ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=run)
    loaded = []

    def load_posterior(path, run):
        loaded.append(run.run_id)
        raise ForecastError("stop here: only the choice of base is under test")

    monkeypatch.setattr(runfiles, "load_posterior", load_posterior)
    events = read_events(EXAMPLE, priors).events
    messages = []
    assert _try_incremental(workspace, build_dataset(events, priors, AS_OF), priors, settings, common["code_version"], events,
                            messages.append) is None
    assert loaded == ["r1-sampled"]
    assert "the posterior file of run r1-sampled cannot be read" in messages[-1]


def test_the_guided_weight_correction_is_the_exact_likelihood_of_the_new_readings():
    """nu huge: the Kalman proposal is the exact posterior of the new weeks given each draw, so the
    correction p(path | last) p(y | path) / q(path) is p(y | last level, volatility, scale) for
    every path: a Gaussian density computed here independently. Draws differ in level,
    volatility, noise and grade multipliers, so no term of the correction cancels between them."""
    from forecast.inference.incremental import _extend
    from forecast.model.kalman_path import t_reading_precision

    rng = np.random.default_rng(11)
    chains, draws, n = 2, 300, 600
    weeks = [WEEK0 + dt.timedelta(weeks=i) for i in range(3)]
    ds = _posterior(["a", "b"], weeks, ["x"], chains=chains, draws=draws, seed=3)
    last = rng.normal(0.5, 0.6, (n, 2))
    volatility = rng.uniform(0.15, 0.5, (n, 2))
    noise = rng.uniform(0.3, 0.8, n)
    reliability, credibility = rng.uniform(0.7, 1.6, (n, 6)), rng.uniform(0.7, 1.6, (n, 6))
    ds["theta"].values[..., -1] = last.reshape(chains, draws, 2)
    ds["volatility"].values[:] = volatility.reshape(chains, draws, 2)
    ds["noise"].values[:] = noise.reshape(chains, draws)
    ds["nu"].values[:] = 1e7
    ds["reliability_multiplier"].values[:] = reliability.reshape(chains, draws, 6)
    ds["credibility_multiplier"].values[:] = credibility.reshape(chains, draws, 6)
    readings = Signals(factor=np.array([0, 0, 1, 0]), week=np.array([0, 1, 1, 2]), value=np.array([1.4, 0.2, -0.8, 1.9]),
                       reliability=np.array([1, 3, 0, 2]), credibility=np.array([2, 0, 4, 1]))
    new_weeks = [weeks[-1] + dt.timedelta(weeks=i) for i in (1, 2, 3)]
    _, correction = _extend(ds, new_weeks, np.random.default_rng(5), readings)

    # log N(y; last, volatility^2 min(w_i, w_j) + diag(sd_i^2)) for each draw and factor, w counted from the last week.
    sd = noise[:, None] * reliability[:, readings.reliability] * credibility[:, readings.credibility]
    sd = 1 / np.sqrt(t_reading_precision(1e7, sd))  # the Gaussian limit of the t reading
    expected = np.zeros(n)
    for k in (0, 1):
        on = readings.factor == k
        steps = readings.week[on] + 1
        cov = volatility[:, k, None, None] ** 2 * np.minimum.outer(steps, steps) + np.stack([np.diag(s**2) for s in sd[:, on]])
        resid = readings.value[on][None, :] - last[:, k, None]
        _, logdet = np.linalg.slogdet(cov)
        quad = np.einsum("di,di->d", resid, np.linalg.solve(cov, resid[..., None])[..., 0])
        expected += -0.5 * (quad + logdet + on.sum() * np.log(2 * np.pi))
    assert np.ptp(expected) > 1.0  # the draws' weights differ: a dropped term would show
    np.testing.assert_allclose(correction, expected, rtol=0, atol=1e-4)


def test_the_guided_weights_average_to_the_marginal_likelihood_of_student_t_readings():
    """Away from the Gaussian limit the proposal is not the posterior, and the weights still
    have to be exact: their mean over guided paths from one draw is p(y | last level), the
    integral of N(theta; last, volatility^2) times the readings' Student-t densities, by
    quadrature here. Two readings of one obstacle in the first new week, 2.5 and 3 scale units
    below the last level: leaving out the t's normalising terms (the proposal's Gaussian
    readings) or counting the readings as one would each move the mean by more than 0.2 nats."""
    from scipy import integrate

    from forecast.inference.incremental import _extend

    values, noise, volatility = np.array([-1.0, -1.3]), 0.6, 0.4
    weeks = [WEEK0 + dt.timedelta(weeks=i) for i in range(3)]
    ds = _posterior(["a", "b"], weeks, ["x"], chains=1, draws=40000, seed=3)
    ds["theta"].values[..., -1] = 0.5
    ds["volatility"].values[:] = volatility
    ds["noise"].values[:] = noise
    ds["nu"].values[:] = 4.0
    ds["reliability_multiplier"].values[:] = 1.0
    ds["credibility_multiplier"].values[:] = 1.0
    readings = Signals(factor=np.array([0, 0]), week=np.array([0, 0]), value=values,
                       reliability=np.array([1, 1]), credibility=np.array([0, 0]))
    _, correction = _extend(ds, [weeks[-1] + dt.timedelta(weeks=1)], np.random.default_rng(5), readings)

    def marginal(density) -> float:
        value, _ = integrate.quad(lambda level: stats.norm.pdf(level, 0.5, volatility) * density(level), -6, 6,
                                  points=[-1.15, 0.5], epsabs=0)
        return np.log(value)

    expected = marginal(lambda level: np.prod(stats.t.pdf(values, 4.0, level, noise)))
    assert abs(expected - marginal(lambda level: np.prod(stats.norm.pdf(values, level, noise)))) > 0.2
    assert abs(expected - marginal(lambda level: stats.t.pdf(values.mean(), 4.0, level, noise))) > 0.2
    top = correction.max()
    assert top + np.log(np.exp(correction - top).mean()) == pytest.approx(expected, abs=0.05)


# --- the counterfactual refit of what moved ------------------------------------------------------


def _explain(priors, monkeypatch, new_readings: list[Event]):
    """explain_run of a run with `new_readings` beyond the example's events, on hand-built draws
    near 1.0 (sd 0.3) with Gaussian readings, with the refit replaced by a fake that records its call."""
    from forecast.explain import what_moved
    from forecast.explain.counterfactual import Counterfactual
    from forecast.io.version import code_version

    before = read_events(EXAMPLE, priors).events
    now = [*before, *new_readings]
    as_of = dt.date(2025, 2, 24)
    data = build_dataset(now, priors, as_of)
    posterior = _posterior(data.factors, data.weeks, data.deals, draws=500, level=1.0, spread=0.3, seed=4)
    posterior["nu"].values[:] = 1e7
    keys = priors.outcomes.keys
    common = dict(priors_hash=priors.hash, code_version=code_version(), seed=7, draws=500, tune=50, chains=2,
                  horizon_weeks=priors.outcomes.horizon_weeks)
    previous = _run("r1", as_of=AS_OF, headline={k: {"p": 0.1 + 0.01 * i} for i, k in enumerate(keys)}, **common)
    run = _run("r2", as_of=as_of, headline={k: {"p": 0.2 + 0.02 * i} for i, k in enumerate(keys)}, **common)
    refits = []
    without = {k: 0.15 + 0.03 * i for i, k in enumerate(keys)}

    def refit(events_before, priors_, as_of_, settings, horizon):
        assert priors_ is priors
        refits.append((list(events_before), as_of_, settings, horizon))
        return Counterfactual(without, passed=False, seconds=12.0)

    monkeypatch.setattr(what_moved, "forecast_without_new_events", refit)
    messages = []
    result = what_moved.explain_run(run, previous, posterior, priors, data, now, before, log=messages.append)
    refits.extend(messages)  # the log line, after the call (if any)
    return result, refits, run, previous, without, before


def test_what_moved_refits_without_the_new_events_when_reweighting_is_unreliable(priors, monkeypatch):
    surprising = [_event(f"x{i}", day=dt.date(2025, 2, 24), factor="territorial_rigidity", signal=-2.5) for i in range(6)]
    result, refits, run, previous, without, before = _explain(priors, monkeypatch, surprising)
    assert len(refits) == 2, "unreliable weights must be replaced by a refit"
    assert refits[1] == (f"what moved: the new events moved the posterior too far to reweight (Pareto k "
                         f"{result.new_information.pareto_k:.2f}); refitting without them")
    events, as_of, settings, horizon = refits[0]
    assert events == before and as_of == run.as_of and horizon == run.horizon_weeks
    assert (settings.draws, settings.tune, settings.chains, settings.seed) == (500, 50, 2, 7)
    assert result.method == "refit" and not result.new_information.reliable
    for key in without:
        assert result.new_information.change[key] == pytest.approx(run.headline[key]["p"] - without[key], abs=1e-12)
        assert result.time_and_other[key] == pytest.approx(without[key] - previous.headline[key]["p"], abs=1e-12)
    assert "refitting the model on the previous run's events" in result.notes[-1]
    assert result.notes[-1].endswith("(12 s). That refit failed its own diagnostics: treat the split as indicative.")


def test_what_moved_keeps_reweighting_when_the_weights_are_reliable(priors, monkeypatch):
    mild = [_event("m1", day=dt.date(2025, 2, 24), factor="territorial_rigidity", signal=1.0, source_reliability="C",
                   info_credibility="3")]
    result, refits, *_ = _explain(priors, monkeypatch, mild)
    assert refits == [] and result.method == "reweighting" and result.new_information.reliable


def test_the_counterfactual_refits_the_previous_events_at_this_runs_as_of_date(priors, monkeypatch):
    from forecast.explain import counterfactual
    from forecast.forecasting.incidence import forecast_table

    fitted = []
    keys = priors.outcomes.keys
    incidence = np.tile(np.linspace(0.1, 0.9, len(keys)), (4, priors.outcomes.forecast_weeks, 1))

    def fit_forecast(data, priors_, settings):
        assert priors_ is priors
        fitted.append((data, settings))
        return None, dataclasses.make_dataclass("D", ["passed"])(True), forecast_table(incidence, keys, incidence)

    monkeypatch.setattr(counterfactual, "fit_forecast", fit_forecast)
    clock = iter([100.0, 112.345])
    monkeypatch.setattr(counterfactual.time, "perf_counter", lambda: next(clock))
    before = read_events(EXAMPLE, priors).events
    later = dt.date(2025, 3, 5)
    result = counterfactual.forecast_without_new_events(before, priors, later, _settings(), 12)
    (data, settings), = fitted
    assert data.as_of == later and data.counts["signals"] == len(before) and settings == _settings()
    assert result.p == pytest.approx(dict(zip(keys, np.linspace(0.1, 0.9, len(keys)))))
    assert result.passed and result.seconds == 12.3


# --- the forecast's first week -------------------------------------------------------------------


class _UnitSteps:
    """A generator whose every standard normal is +1, so the walk's path is known exactly."""

    def standard_normal(self, shape):
        return np.ones(shape)


def test_the_first_forecast_week_is_one_step_of_the_walk_after_the_last_observed_week():
    from forecast.forecasting.incidence import simulate_forward

    # One draw, one factor, one deal: theta after h weeks is 0.5 h, the deal's weekly chance expit(-2 - 0.5 h).
    draws = Draws(theta=np.zeros((1, 1, 2)), baseline=np.array([[-2.0]]), effect=np.array([[[-1.0]]]),
                  volatility=np.array([[0.5]]))
    simulation = simulate_forward(draws, 3, _UnitSteps())
    p = expit(-2.0 - 0.5 * np.arange(1, 4))
    survival = np.cumprod(1 - p)
    np.testing.assert_allclose(simulation.incidence[0, :, 0], np.cumsum(np.r_[1.0, survival[:-1]] * p), rtol=1e-12)
    np.testing.assert_allclose(simulation.incidence[0, :, 1], survival, rtol=1e-12)
    np.testing.assert_allclose(simulation.happens_by[0, :, 0], 1 - np.cumprod(1 - p), rtol=1e-12)
    np.testing.assert_allclose(simulation.happens_by[0, :, 1], survival, rtol=1e-12)
    assert simulation.incidence.shape == simulation.happens_by.shape == (1, 3, 2)


# --- the data hash and "nothing new" --------------------------------------------------------------


def test_a_retraction_reported_by_the_as_of_date_changes_the_data_hash(priors):
    events = read_events(EXAMPLE, priors).events
    retraction = _event("r1", kind="retraction", retracts="seed-07", source_reliability="F", info_credibility="6")
    before = build_dataset(events, priors, AS_OF)
    on_the_day = build_dataset([*events, retraction], priors, AS_OF)  # reported on the as-of date itself
    assert on_the_day.data_hash != before.data_hash and on_the_day.counts["retracted"] == 1
    later = dataclasses.replace(retraction, date=AS_OF + dt.timedelta(days=1), reported=AS_OF + dt.timedelta(days=1))
    assert build_dataset([*events, later], priors, AS_OF).data_hash == before.data_hash  # not known yet


def test_update_with_a_retraction_refits_instead_of_saying_nothing_new(tmp_path, priors, monkeypatch):
    fitted = _fake_fits(monkeypatch)
    workspace = Workspace(tmp_path / "ws")
    first = _update(EXAMPLE, workspace)
    retraction = write_csv(tmp_path / "r.csv", f"r1,{AS_OF},retraction,,,,seed-07,,,mis-coded")
    messages = []
    second = _update(retraction, workspace, messages, refit=True)
    assert second.refitted and not any("nothing new" in m for m in messages), messages
    assert second.run.run_id != first.run.run_id and second.run.data_hash != first.run.data_hash
    assert second.run.counts["retracted"] == 1 and len(fitted) == 2
    assert fitted[1].counts["signals"] == fitted[0].counts["signals"] - 1  # the retracted reading is gone
    # The same file again is nothing new.
    third = _update(retraction, workspace, messages)
    assert not third.refitted and "nothing new" in messages[-1] and len(fitted) == 2


# --- the run folder is published before its ledger row is committed -------------------------------


@pytest.mark.parametrize("failure", ["writing the run folder", "after publishing, before the commit"])
def test_a_failed_store_never_leaves_the_ledger_listing_a_run_whose_folder_is_missing(tmp_path, monkeypatch, failure):
    from forecast.explain import what_moved
    from forecast.updating import pipeline

    _fake_fits(monkeypatch)
    workspace = Workspace(tmp_path / "ws")
    if failure == "writing the run folder":
        def write_what_moved(path, explanation):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(what_moved, "write_what_moved", write_what_moved)
        expected = pytest.raises(ForecastError, match="nothing was stored")
    else:
        def checkpoint(name):
            if name == "store":
                raise KeyboardInterrupt  # as if killed there

        monkeypatch.setattr(pipeline, "checkpoint", checkpoint)
        expected = pytest.raises(KeyboardInterrupt)
    with expected:
        _update(EXAMPLE, workspace)
    missing = [r.run_id for r in workspace.ledger.runs() if not (workspace.root / r.posterior).is_file()]
    assert missing == [], f"the ledger lists runs whose folder is missing: {missing}"
    assert workspace.ledger.runs() == [] and workspace.ledger.events() == []  # nothing committed
    with workspace.locked():  # a later command removes what the failed one published
        pass
    assert not workspace.runs_dir.exists() or [p.name for p in workspace.runs_dir.iterdir()] == []


def test_the_run_folder_is_in_place_when_its_ledger_row_is_committed(tmp_path, monkeypatch):
    _fake_fits(monkeypatch)
    workspace = Workspace(tmp_path / "ws")
    commit = Ledger.commit_update
    seen = []

    def checked(self, **kwargs):
        run = kwargs["run"]
        if run is not None:
            folder = workspace.root / run.posterior
            seen.append((folder.is_file(), (folder.parent / "what-moved.json").is_file()))
        return commit(self, **kwargs)

    monkeypatch.setattr(Ledger, "commit_update", checked)
    result = _update(EXAMPLE, workspace)
    assert seen == [(True, True)]
    assert not (workspace.root / result.run.posterior).parent.joinpath(UNCOMMITTED).exists()  # marked committed


# --- validation edges ------------------------------------------------------------------------------


def test_an_event_dated_today_is_not_in_the_future(tmp_path, priors):
    today = dt.date(2025, 3, 3)
    path = write_csv(tmp_path / "e.csv", f"e1,{today},signal,territorial_rigidity,1.0,,,B,2,today")
    event, = read_events(path, priors, today=today).events
    assert event.date == today and event.reported == today
    tomorrow = write_csv(tmp_path / "f.csv", f"e1,{today + dt.timedelta(days=1)},signal,territorial_rigidity,1.0,,,B,2,x")
    with pytest.raises(InputError, match="in the future"):
        read_events(tomorrow, priors, today=today)


@pytest.mark.parametrize(("value", "accepted"), [("-3", True), ("3", True), ("-3.0", True), ("-3.5", False), ("3.5", False),
                                                 ("-3.0001", False)])
def test_signals_from_minus_3_to_3_inclusive(tmp_path, priors, value, accepted):
    path = write_csv(tmp_path / "e.csv", f"e1,2025-02-18,signal,territorial_rigidity,{value},,,B,2,x")
    if accepted:
        assert read_events(path, priors).events[0].signal == float(value)
    else:
        with pytest.raises(InputError, match=f"from -3 to 3, got '{value}'"):
            read_events(path, priors)


def test_retracting_a_retraction_already_in_the_ledger_is_refused(tmp_path, priors):
    known = {"s1": KnownEvent("h1", "signal"), "r0": KnownEvent("h2", "retraction")}
    path = write_csv(tmp_path / "r.csv", "r1,2025-02-20,retraction,,,,r0,,,undo the undo")
    with pytest.raises(InputError, match="retracts 'r0', which is itself a retraction") as info:
        read_events(path, priors, known)
    assert "line 2" in str(info.value) and "column 7 ('retracts')" in str(info.value)
    ok = write_csv(tmp_path / "s.csv", "r1,2025-02-20,retraction,,,,s1,,,mis-coded")
    assert read_events(ok, priors, known).events[0].retracts == "s1"


# --- what moved: the quiet weeks; signposts: the grade ----------------------------------------------


@pytest.mark.parametrize(("before", "now", "quiet"), [
    (WEEK0 + dt.timedelta(days=9), WEEK0 + dt.timedelta(weeks=4, days=2), 3),  # Wed of week 1 to Wed of week 4
    (WEEK0 + dt.timedelta(days=13), WEEK0 + dt.timedelta(weeks=4), 3),  # Sunday of week 1 to Monday of week 4
    (WEEK0 + dt.timedelta(days=14), WEEK0 + dt.timedelta(weeks=4, days=6), 2),  # Monday of week 2 to Sunday of week 4
    (WEEK0 + dt.timedelta(weeks=4), WEEK0 + dt.timedelta(weeks=4, days=6), 0),  # the same week
])
def test_quiet_weeks_are_those_after_the_previous_as_of_week_up_to_this_one(before, now, quiet):
    from forecast.explain.attribution import attribute

    weeks = [WEEK0 + dt.timedelta(weeks=i) for i in range(5)]
    theta = np.random.default_rng(0).normal(0, 1, 200)
    draws = Draws(theta=np.repeat(theta[:, None, None], 5, axis=2), noise=np.full(200, 0.5), nu=np.full(200, 4.0),
                  reliability=np.ones((200, 6)), credibility=np.ones((200, 6)), baseline=np.full((200, 1), -3.0),
                  effect=np.full((200, 1, 1), -0.5))
    old = [_event("s0", day=WEEK0, factor="f", signal=0.5), _event("d0", kind="outcome", day=WEEK0 + dt.timedelta(days=1),
                                                                   outcome="deal")]
    result = attribute(draws, np.full((200, 2), 0.5), now={"deal": 0.5, "none": 0.5}, previous={"deal": 0.4, "none": 0.6},
                       previous_run="r0", outcome_keys=["deal", "none"], factor_keys=["f"], factor_labels={"f": "F"},
                       weeks=weeks, events_now=old, as_of_now=now, events_before=old, as_of_before=before, mcse=np.zeros(2))
    said = [n for n in result.notes if "observed with no deal" in n]
    if quiet:
        assert said == [f"{quiet} more week(s) observed with no deal since the previous run's as-of date ({before}); each is "
                        "evidence in itself, and the forecast window moved on with them."]
    else:
        assert said == []


def test_a_newly_observed_week_with_a_new_deal_is_not_a_quiet_week():
    from forecast.explain.attribution import attribute

    weeks = [WEEK0 + dt.timedelta(weeks=i) for i in range(5)]
    draws = Draws(theta=np.zeros((200, 1, 5)), noise=np.full(200, 0.5), nu=np.full(200, 4.0), reliability=np.ones((200, 6)),
                  credibility=np.ones((200, 6)), baseline=np.full((200, 1), -3.0), effect=np.full((200, 1, 1), -0.5))
    old = [_event("s0", day=WEEK0, factor="f", signal=0.5)]
    new_deal = dataclasses.replace(_event("d1", kind="outcome", day=WEEK0 + dt.timedelta(weeks=3), outcome="deal"),
                                   reported=WEEK0 + dt.timedelta(weeks=3))
    result = attribute(draws, np.full((200, 2), 0.5), now={"deal": 0.5, "none": 0.5}, previous={"deal": 0.4, "none": 0.6},
                       previous_run="r0", outcome_keys=["deal", "none"], factor_keys=["f"], factor_labels={"f": "F"},
                       weeks=weeks, events_now=[*old, new_deal], as_of_now=WEEK0 + dt.timedelta(weeks=4, days=2),
                       events_before=old, as_of_before=WEEK0 + dt.timedelta(days=9), mcse=np.zeros(2))
    # Weeks 2, 3 and 4 are new; week 3 brought the deal.
    assert [n.split(" more week")[0] for n in result.notes if "observed with no deal" in n] == ["2"]


def _graded_draws(n=4000, seed=2) -> Draws:
    rng = np.random.default_rng(seed)
    level = rng.normal(1.0, 0.5, n)
    theta = np.stack([np.stack([level - 0.1, level], axis=-1), np.zeros((n, 2))], axis=1)  # (n, factors a b, 2 weeks)
    return Draws(theta=theta, baseline=np.full((n, 1), -2.5), effect=np.tile([[-0.8, 0.0]], (n, 1, 1)),
                 volatility=np.full((n, 2), 0.05), noise=np.full(n, 0.5), nu=np.full(n, 4.0),
                 reliability=np.tile([0.6, 0.8, 1.0, 1.4, 2.0, 1.6], (n, 1)),
                 credibility=np.tile([0.5, 0.7, 1.0, 1.3, 1.9, 2.5], (n, 1)))


def test_a_signpost_reading_is_scaled_by_its_own_reliability_and_its_own_credibility():
    from forecast.explain.signposts import hypothetical_signal

    draws = _graded_draws(n=5)
    signal = hypothetical_signal(draws, 0, 2.0, ("A", "5"))  # reliability A (0.6), credibility 5 (1.9)
    assert (signal.reliability[0], signal.credibility[0], signal.week[0], signal.factor[0]) == (0, 4, 1, 0)
    np.testing.assert_allclose(draws.signal_log_likelihood(signal),
                               stats.t.logpdf(2.0, df=4.0, loc=draws.theta[:, 0, -1], scale=0.5 * 0.6 * 1.9), rtol=1e-12)


def test_signposts_weigh_the_draws_by_the_graded_reading_they_name():
    from forecast.explain.signposts import signposts
    from forecast.forecasting.incidence import cumulative_incidence
    from forecast.inference.importance import importance_weights

    draws = _graded_draws()
    incidence = cumulative_incidence(draws, 12, np.random.default_rng(3))
    table = signposts(draws, incidence, ["a", "b"], ["x", "none"], 12, strength=1.5, grade=("D", "2"))
    assert len(table) == 2 * 2 * 2
    for value in (1.5, -1.5):
        w = importance_weights(stats.t.logpdf(value, df=4.0, loc=draws.theta[:, 0, -1], scale=0.5 * 1.4 * 0.7))
        row = table[(table.factor == "a") & (table.signal == value) & (table.outcome == "x")].iloc[0]
        assert row.p_now == pytest.approx(incidence[:, 11, 0].mean(), abs=1e-12)
        assert row.p_after == pytest.approx(w.mean(incidence[:, 11, 0]), abs=1e-12)
        assert row.pareto_k == pytest.approx(w.pareto_k) and row.reliable == w.reliable
    assert table.iloc[0].factor == "a"  # the mover ranks first


# === Part two: what `make mutation` found no fast test holding ======================================


# --- the incremental update's weights, term by term ---------------------------------------------


def test_reweighting_weighs_each_draw_by_exactly_what_is_new(priors, monkeypatch):
    """Against a base run of one week: a reading added and one retracted in that week, a reading
    and a deal in a new week, and a scheduled occasion in each (the old one known before). With
    Gaussian readings and no obstacle effect, each draw's log weight is, up to a constant,

        log t(added) - log t(retracted) + log N(new reading; last level, vol^2 + sd^2)
        + log p(the deal | baseline, the new week's occasions),

    the occasions being the two scheduled ones and the weeks after the base run's deal,

    computed here with scipy, apart from the code."""
    from forecast.inference import importance, incremental

    seen = _log_ratios_seen(monkeypatch)
    rng = np.random.default_rng(8)
    old = dataclasses.replace(_event("sched-old", kind="scheduled", day=dt.date(2025, 2, 18), occasion="orthodox_easter"),
                            reported=dt.date(2025, 2, 10))
    ahead = dataclasses.replace(_event("sched-ahead", kind="scheduled", day=dt.date(2025, 2, 26), occasion="orthodox_easter"),
                                reported=dt.date(2025, 2, 10))  # in the new week, known to the base run
    old_deal = _event("deal-old", kind="outcome", day=dt.date(2025, 2, 19), outcome="energy_food_deal")
    base_events = [*read_events(EXAMPLE, priors).events, old, ahead, old_deal]
    seed07 = next(e for e in base_events if e.event_id == "seed-07")
    added = _event("add-old", day=dt.date(2025, 2, 19), factor="territorial_rigidity", signal=1.2, source_reliability="C",
                   info_credibility="3")
    added = dataclasses.replace(added, reported=dt.date(2025, 2, 22))
    new_reading = _event("new-week", day=dt.date(2025, 2, 24), factor="security_guarantee_gap", signal=2.0,
                         source_reliability="B", info_credibility="2")
    now_events = [*base_events, added, _event("ret", kind="retraction", day=dt.date(2025, 2, 22), retracts="seed-07"),
                  new_reading, _event("deal", kind="outcome", day=dt.date(2025, 2, 26), outcome="local_ceasefire"),
                  _event("sched-new", kind="scheduled", day=dt.date(2025, 2, 27), occasion="orthodox_christmas")]
    data = build_dataset(now_events, priors, dt.date(2025, 2, 27))
    assert [w.isoformat() for w in data.weeks] == ["2025-02-17", "2025-02-24"]

    chains, draws = 2, 1000
    n = chains * draws
    base = _posterior(data.factors, data.weeks[:1], data.deals, chains=chains, draws=draws, seed=9, level=0.5, spread=0.4)
    base["effect"].values[:] = 0.0
    base["baseline"].values[:] = rng.normal(-3.0, 0.5, base["baseline"].shape)
    base["nu"].values[:] = 1e7
    base["noise"].values[:] = 2.0  # readings loose enough that the weights stay reliable
    base["volatility"].values[:] = 0.3
    base["reliability_multiplier"].values[:] = rng.uniform(0.8, 1.3, base["reliability_multiplier"].shape)
    base["credibility_multiplier"].values[:] = rng.uniform(0.8, 1.3, base["credibility_multiplier"].shape)
    occasions = list(priors.outcomes.occasions)
    base["occasion_effect"] = (("chain", "draw", "deal", "occasion"), rng.normal(0.5, 0.5, (chains, draws, len(data.deals),
                                                                                           len(occasions))))
    base = base.assign_coords(occasion=occasions)

    result = incremental.reweight(base, data, base_events, AS_OF, now_events, seed=3)

    d = Draws.from_dataset(base)
    factors = list(data.factors)

    def reading(e, level):
        scale = 2.0 * d.reliability[:, "ABCDEF".index(e.source_reliability)] * d.credibility[:, int(e.info_credibility) - 1]
        return scale, stats.t.logpdf(e.signal, df=1e7, loc=level, scale=scale)

    level0 = d.theta[:, :, 0]
    expected = reading(added, level0[:, factors.index("territorial_rigidity")])[1]
    expected -= reading(seed07, level0[:, factors.index("territorial_rigidity")])[1]
    scale, _ = reading(new_reading, 0.0)
    sd = scale * np.sqrt((1e7 + 3) / (1e7 + 1))
    expected += stats.norm.logpdf(2.0, loc=level0[:, factors.index("security_guarantee_gap")], scale=np.sqrt(0.09 + sd**2))
    # The new week's occasions: the two scheduled, and the weeks after the base run's energy deal.
    eta = d.baseline + sum(d.occasion_effect[:, :, occasions.index(o)]
                           for o in ("orthodox_christmas", "orthodox_easter", "after_energy_food_deal"))
    expected += log_softmax(np.concatenate([np.zeros((n, 1)), eta], axis=1), axis=1)[:, 1 + list(data.deals).index("local_ceasefire")]

    assert len(seen) == 1
    diff = seen[0] - expected
    assert np.ptp(expected) > 1.0 and np.ptp(diff) < 1e-4
    # The draws kept follow the weights: their mean baseline is the weighted one.
    assert isinstance(result, incremental.Reweighted), result
    w = np.exp(seen[0] - seen[0].max())
    w /= w.sum()
    weighted = w @ d.baseline
    kept = result.posterior["baseline"].transpose("chain", "draw", "deal").values.reshape(n, -1).mean(axis=0)
    np.testing.assert_allclose(kept, weighted, atol=0.02)
    assert list(result.posterior["week"].values) == ["2025-02-17", "2025-02-24"]
    assert result.posterior.sizes["chain"] == chains and result.posterior.sizes["draw"] == draws
    assert result.posterior.attrs == base.attrs
    assert result.ess == pytest.approx(1 / np.sum(importance.importance_weights(seen[0]).weights ** 2))
    again = incremental.reweight(base, data, base_events, AS_OF, now_events, seed=3)  # the same seed: the same draws
    xr.testing.assert_identical(again.posterior, result.posterior)


def test_changed_factors_decline(priors):
    from forecast.inference.incremental import Declined, reweight

    events = read_events(EXAMPLE, priors).events
    data = build_dataset(events, priors, AS_OF)
    base = _posterior(["a", "b"], data.weeks, data.deals)
    result = reweight(base, data, events, AS_OF, events, seed=1)
    assert result == Declined("the factors changed")


def test_changed_weeks_decline_with_the_reason(priors):
    from forecast.inference.incremental import Declined, reweight

    events = read_events(EXAMPLE, priors).events
    data = build_dataset(events, priors, AS_OF)
    base = _posterior(data.factors, [dt.date(2025, 2, 10), dt.date(2025, 2, 17)], data.deals)
    assert reweight(base, data, events, AS_OF, events, seed=1) == Declined(
        "the model's weeks changed (an event earlier than the first week, or an earlier as-of date)")


def test_the_walk_carried_forward_keeps_coordinates_and_innovations():
    from forecast.inference.incremental import _extend

    weeks = [dt.date(2025, 2, 17), dt.date(2025, 2, 24)]
    ds = _posterior(["a", "b"], weeks, ["x"], chains=2, draws=3, seed=1)
    ds["innovation"] = (("chain", "draw", "factor", "step"), np.zeros((2, 3, 2, 1)))
    ds = ds.assign_coords(step=["2025-02-24"])
    out, correction = _extend(ds, [dt.date(2025, 3, 3)], np.random.default_rng(0))
    assert list(out["chain"].values) == [0, 1] and list(out["draw"].values) == [0, 1, 2]
    assert list(out["step"].values) == ["2025-02-24", "2025-03-03"] and not correction.any()
    step = (out["theta"].isel(week=-1) - out["theta"].isel(week=-2)) / out["volatility"]
    np.testing.assert_allclose(out["innovation"].isel(step=-1).values, step.transpose(*out["innovation"].isel(step=-1).dims).values)


def test_systematic_resampling_never_indexes_past_the_last_draw():
    from forecast.inference.incremental import _systematic_resample

    weights = np.r_[np.zeros(9), 0.5]  # a cumulative sum short of one (here by a half, in practice by a rounding error)
    chosen = _systematic_resample(weights, np.random.default_rng(0))
    assert chosen.max() == 9 and (chosen == 9).all()


# --- the diagnostics of a reweighted run, the settings a run asked for ----------------------------


def test_a_reweighted_runs_diagnostics_are_stored_rounded_with_their_base():
    from forecast.inference.diagnostics import reweighted_diagnostics

    base = _run("base", chains=2, draws=1000, diagnostics={"r_hat_max": 1.004, "ess_bulk_min": 1500.0, "ess_tail_min": 900.0,
                                                           "divergences": 0, "sampling_seconds": 10.0, "chains": 2,
                                                           "worst": {"r_hat": "noise", "ess_bulk": "lp", "ess_tail": "lp"}})
    d = reweighted_diagnostics(base, pareto_k=0.123456, ess=1234.5678, seconds=1.23456, pareto_k_max=0.66666)
    assert d == {"r_hat_max": 1.004, "ess_bulk_min": pytest.approx(1500 * 1234.5678 / 2000),
                 "ess_tail_min": pytest.approx(900 * 1234.5678 / 2000), "divergences": 0, "sampling_seconds": 1.23,
                 "chains": 2, "worst": {"r_hat": "noise", "ess_bulk": "lp", "ess_tail": "lp"}, "passed": True, "problems": [],
                 "method": "reweighted", "base_run": "base", "pareto_k": 0.123, "weights_ess": 1234.6, "pareto_k_max": 0.667}
    assert "pareto_k_max" not in reweighted_diagnostics(base, pareto_k=0.1, ess=2000.0, seconds=1.0)


@pytest.mark.parametrize(("diagnostics", "expected"), [
    ({"target_accept": 0.95}, (7, 50, 60, 2, 0.95)),
    ({}, (7, 50, 60, 2, 0.8)),  # a run stored before the target was: PyMC's old default
    ({"target_accept": 0.97, "retry": {"requested": {"draws": 25, "tune": 30, "target_accept": 0.9}}}, (7, 25, 30, 2, 0.9)),
])
def test_the_settings_a_run_asked_for_are_those_before_any_retry(diagnostics, expected):
    from forecast.updating.pipeline import requested_settings

    assert requested_settings(_run(seed=7, draws=50, tune=60, chains=2, diagnostics=diagnostics)) == expected


# --- what moved: the parts, their labels and weights -----------------------------------------------


def _draws_with_occasions(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 1.0, (n, 2, 3))
    return Draws(theta=theta, noise=np.full(n, 1.5), nu=np.full(n, 1e7), reliability=np.ones((n, 6)),
                 credibility=np.ones((n, 6)), baseline=rng.normal(-3.0, 0.4, (n, 1)), effect=np.zeros((n, 1, 2)),
                 occasion_effect=rng.normal(0.5, 0.3, (n, 1, 1)))


def test_what_moved_splits_new_information_into_labelled_parts_with_their_own_weights():
    from forecast.explain.attribution import attribute
    from forecast.inference.importance import importance_weights

    weeks = [dt.date(2025, 2, 17) + dt.timedelta(weeks=i) for i in range(3)]
    d = _draws_with_occasions(n=1000)  # 1,000 draws: a Pareto k limit of 2/3, not 0.7
    rng = np.random.default_rng(1)
    headline = np.stack([rng.uniform(0.1, 0.3, d.n_draws)] * 2, axis=1)
    headline[:, 1] = 1 - headline[:, 0]
    ahead = headline[:, ::-1].copy()  # what the previous run's occasions ahead would give
    gone = _event("g1", day=weeks[0], factor="g", signal=0.5)
    old_deal = _event("o0", kind="outcome", day=weeks[0], outcome="deal")
    old_easter = _event("s0", kind="scheduled", day=weeks[0], occasion="easter")
    before = [gone, old_deal, old_easter]
    plus = [_event("f1", day=weeks[1], factor="f", signal=1.0), _event("f2", day=weeks[2], factor="f", signal=-0.5)]
    deal = _event("o1", kind="outcome", day=weeks[2], outcome="deal")
    easter = _event("s1", kind="scheduled", day=weeks[1], occasion="easter")
    now = [*plus, deal, easter, gone, old_deal, old_easter, _event("r1", kind="retraction", day=weeks[2], retracts="g1")]
    result = attribute(d, headline, now={"deal": 0.2, "none": 0.8}, previous={"deal": 0.1}, previous_run="r0",
                       outcome_keys=["deal", "none"], factor_keys=["f", "g"], factor_labels={"f": "F", "g": "G"}, weeks=weeks,
                       events_now=now, as_of_now=weeks[2], events_before=before, as_of_before=weeks[0],
                       mcse=np.array([0.01, 0.02]), occasions=["easter"], headline_before_occasions=ahead)
    assert result.previous_run == "r0" and result.previous_as_of == weeks[0]
    assert result.noise == {"deal": pytest.approx(0.02), "none": pytest.approx(0.04)}
    assert result.total["deal"] == pytest.approx(0.1) and np.isnan(result.total["none"])  # the previous run had no "none"
    assert result.new_information.label == "All new information" and result.new_information.events == 5
    assert [(p.label, p.events) for p in result.parts] == [("Signals on F", 2), ("Signals on G", 1), ("Outcome events", 1),
                                                           ("Scheduled occasions", 1)]
    # One event no longer counted; of the two new weeks one was quiet (the other brought deal o1).
    assert [n.split(" ")[0] for n in result.notes] == ["1", "1"]
    assert result.notes[0] == ("1 event(s) the previous run used are no longer counted (retracted, or a later as-of moved "
                               "them); their share is the change from taking them out.")

    def t(events, factor):
        return sum(stats.norm.logpdf(e.signal, loc=d.theta[:, factor, (e.date - weeks[0]).days // 7], scale=1.5) for e in events)

    def outcome_ll(deal_week: int | None, easter_week: int | None):
        """With the deal and the occasion both runs know of in week 0."""
        total = np.zeros(d.n_draws)
        for w in range(3):
            eta = d.baseline[:, 0] + (d.occasion_effect[:, 0, 0] if w in (0, easter_week) else 0.0)
            logp = log_softmax(np.stack([np.zeros(d.n_draws), eta], axis=1), axis=1)
            total += logp[:, 1] if w in (0, deal_week) else logp[:, 0]
        return total

    def change(log_ratio, per_draw):
        w = importance_weights(log_ratio)
        return 0.2 - w.mean(per_draw[:, 0]), w

    whole, w = change(-t(plus, 0) + t([gone], 1) + outcome_ll(None, None) - outcome_ll(2, 1), ahead)
    assert result.new_information.change["deal"] == pytest.approx(whole, abs=1e-6)  # nu 1e7 against the normal
    assert result.new_information.pareto_k == pytest.approx(w.pareto_k, abs=1e-4)
    assert result.new_information.pareto_k_max == w.limit
    expected = [change(-t(plus, 0), headline)[0], change(t([gone], 1), headline)[0],
                change(outcome_ll(None, 1) - outcome_ll(2, 1), headline)[0],
                change(outcome_ll(2, None) - outcome_ll(2, 1), ahead)[0]]
    assert [p.change["deal"] for p in result.parts] == pytest.approx(expected, abs=1e-6)
    assert result.time_and_other["deal"] == pytest.approx(0.2 - whole - 0.1, abs=1e-6)
    assert [p.pareto_k_max for p in result.parts] == [pytest.approx(2 / 3)] * 4


def test_a_previous_run_on_factors_these_priors_lack_makes_what_moved_unavailable():
    from forecast.explain.attribution import Unavailable, attribute

    weeks = [dt.date(2025, 2, 17)]
    d = _draws_with_occasions(n=10)
    old = [_event("z1", day=weeks[0], factor="zeta", signal=1.0), _event("y1", day=weeks[0], factor="ypsilon", signal=1.0),
           _event("o1", kind="outcome", day=weeks[0], outcome="deal")]
    result = attribute(d, np.full((10, 2), 0.5), now={"deal": 0.5, "none": 0.5}, previous={"deal": 0.5, "none": 0.5},
                       previous_run="r0", outcome_keys=["deal", "none"], factor_keys=["f", "g"], factor_labels={},
                       weeks=weeks, events_now=[], as_of_now=weeks[0], events_before=old, as_of_before=weeks[0],
                       mcse=np.zeros(2))
    assert result == Unavailable("the previous run read factors these priors do not have (ypsilon, zeta)")


def test_what_moved_reads_back_what_it_wrote(tmp_path):
    from forecast.explain.attribution import Attribution, Part, Unavailable
    from forecast.explain.what_moved import FILE, read_what_moved, write_what_moved

    assert read_what_moved(tmp_path, "r9") == Unavailable(
        "attribution not stored with this run; 'forecast explain --run r9' computes it")
    write_what_moved(tmp_path / FILE, None)
    assert (tmp_path / FILE).read_text(encoding="utf-8") == '{\n  "first_run": true\n}'
    assert read_what_moved(tmp_path, "r9") is None
    write_what_moved(tmp_path / FILE, Unavailable("the horizon changed ü"))
    assert "ü" in (tmp_path / FILE).read_text(encoding="utf-8")
    assert read_what_moved(tmp_path, "r9") == Unavailable("the horizon changed ü")
    a = Attribution("r1", dt.date(2025, 3, 1), {"x": 0.1}, Part("All", 2, {"x": 0.05}, 0.31, 0.66), [Part("S", 1, {"x": 0.01}, 0.2)],
                    {"x": 0.05}, {"x": 0.01}, ["n"], "refit")
    write_what_moved(tmp_path / FILE, a)
    assert read_what_moved(tmp_path, "r9") == a
    older = a.to_dict()
    del older["new_information"]["pareto_k_max"]  # a file written before the limit was stored
    assert Attribution.from_dict(older).new_information.pareto_k_max == 0.7
    b = Attribution("r1", dt.date(2025, 3, 1), {"x": 0.1}, None, [], {"x": 0.1}, {"x": 0.0})
    write_what_moved(tmp_path / FILE, b)
    assert read_what_moved(tmp_path, "r9") == b


# --- the workspace lock in a forked child -----------------------------------------------------------


def test_a_forked_child_lets_go_of_the_lock_and_asks_to_die_with_its_parent(tmp_path, monkeypatch):
    from forecast.io import workspace

    calls = []
    monkeypatch.setattr(workspace, "_prctl", lambda: lambda *args: calls.append(args) or 0)
    fd = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT)
    monkeypatch.setattr(workspace, "_HELD", {fd})
    monkeypatch.setattr(workspace, "_PARENT", [os.getppid()])
    try:
        workspace._after_fork_in_child()
        assert calls == [(workspace.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)]
        assert set() == workspace._HELD and os.readlink(f"/proc/self/fd/{fd}") == os.devnull
        # The parent died before the request took effect: the child ends at once.
        monkeypatch.setattr(workspace, "_PARENT", [-1])
        exits = []
        monkeypatch.setattr(workspace.os, "_exit", lambda code: exits.append(code))
        workspace._after_fork_in_child()
        assert exits == [1]
    finally:
        os.close(fd)


def test_before_a_fork_the_parent_is_recorded(monkeypatch):
    from forecast.io import workspace

    monkeypatch.setattr(workspace, "_PARENT", [0])
    workspace._before_fork()
    assert [os.getpid()] == workspace._PARENT


# --- what a user hands over ------------------------------------------------------------------------


def test_inputs_that_are_not_regular_files_or_too_large_are_named(tmp_path, monkeypatch):
    from forecast.io.textfiles import read_input

    with pytest.raises(InputError, match=r"is a character device, not a regular file; expected an events file \(a device or a "
                                         r"pipe may never end, so it is not read\)"):
        read_input(__import__("pathlib").Path(os.devnull), "an events file")
    with pytest.raises(InputError, match="is a folder, expected a crowd file"):
        read_input(tmp_path, "a crowd file")
    with pytest.raises(InputError, match="file not found"):
        read_input(tmp_path / "nope.csv", "an events file")
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * 3000)
    monkeypatch.setenv("FORECAST_MAX_INPUT_MB", "0.001")
    with pytest.raises(InputError) as info:
        read_input(big, "an events file")
    assert str(info.value).endswith("is 2.9 KB, over the 0.001 MB limit for an events file (FORECAST_MAX_INPUT_MB sets "
                                    "another); is it the right file? A long log can be given to update in several files")
    with pytest.raises(InputError) as info:
        read_input(big, "a crowd file")
    assert str(info.value).endswith("over the 0.001 MB limit for a crowd file (FORECAST_MAX_INPUT_MB sets another); is it "
                                    "the right file?")
    assert read_input(big, "a priors file") == b"x" * 3000  # a priors file's limit is fixed
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(InputError) as info:
        read_input(huge, "a priors file")
    assert str(info.value).endswith("is 1.0 MB, over the 1 MB limit for a priors file; is it the right file?")
    for text in ("0", "-1", "inf", "lots"):
        monkeypatch.setenv("FORECAST_MAX_INPUT_MB", text)
        with pytest.raises(InputError, match=f"FORECAST_MAX_INPUT_MB='{text}': expected a size in MB greater than 0"):
            read_input(big, "an events file")
    monkeypatch.setenv("FORECAST_MAX_INPUT_MB", " ")
    assert read_input(big, "an events file") == b"x" * 3000


def test_an_unclosed_quote_is_found_where_it_opens_after_doubled_quotes_and_quoted_newlines():
    from forecast.io.textfiles import _open_quote

    text = 'a,b,c\n1,"x ""y"" z",3\n2,"multi\nline",4\n5,6,"never closed\n7,8,9\n'
    assert _open_quote(text, 2) == (5, 3)
    assert _open_quote(text, 5) == (5, 3)
    assert _open_quote('a,b\n1,2\n', 2) is None
    assert _open_quote('a,b\n', 9) is None  # past the end
    assert _open_quote('a,"b\n', 1) == (1, 2)
    assert _open_quote('a,b"c,"d\n', 1) == (1, 3)  # a quote inside a field does not open one


# --- the ledger, the workspace: what the user is told, and what is read back ------------------------


def test_every_field_of_an_event_survives_the_ledger(tmp_path):
    from forecast.io.ledger import Ledger

    events = [
        dataclasses.replace(_event("o1", kind="outcome", day=dt.date(2025, 2, 18), outcome="local_ceasefire", actor="A",
                                 description="D", source="S", source_reliability="B", info_credibility="3"),
                          reported=dt.date(2025, 2, 19), extras={"url": "https://x"}, line=7),
        _event("s1", kind="scheduled", day=dt.date(2025, 3, 18), occasion="summit"),
        _event("r1", kind="retraction", retracts="o1"),
        _event("g1", factor="territorial_rigidity", signal=-1.5),
    ]
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.commit_update(file="f", file_sha256="s", new_events=events, known_count=0, run=None)
    back = ledger.events()
    assert back == events
    assert [(e.extras, e.line) for e in back] == [(e.extras, e.line) for e in events]  # not part of equality


@pytest.mark.parametrize(("name", "writing", "says"), [
    ("SQLITE_CORRUPT", True, "not a readable forecast ledger (boom): the file is damaged or is not a ledger; restore it from "
                             "a backup, or give --workspace another folder; nothing was changed"),
    ("SQLITE_NOTADB", False, "not a readable forecast ledger (boom)"),
    ("SQLITE_FULL", True, "the disk is full (boom); the ledger is as it was before this command: free some space and run it "
                          "again"),
    ("SQLITE_READONLY", True, "the ledger could not be written (boom); the ledger is as it was before this command"),
    ("SQLITE_BUSY", False, "the ledger could not be read (boom); nothing was changed"),
    (None, False, "the ledger could not be read (boom); nothing was changed"),
])
def test_sqlite_errors_are_said_for_what_they_mean(tmp_path, name, writing, says):
    import sqlite3

    from forecast.io.ledger import ledger_error

    exc = sqlite3.OperationalError("boom")
    if name is not None:
        exc.sqlite_errorname = name
    assert str(ledger_error(tmp_path / "l.sqlite", exc, writing=writing)).startswith(f"{tmp_path / 'l.sqlite'}: {says}")


def test_set_report_names_a_run_the_ledger_lacks(tmp_path):
    from forecast.errors import ForecastError
    from forecast.io.ledger import Ledger

    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run("r1"))
    with pytest.raises(ForecastError, match=r"l.sqlite: no run r2$"):
        ledger.set_report("r2", "reports/x.pdf")
    ledger.set_report("r1", "reports/x.pdf")
    assert ledger.latest_run().report == "reports/x.pdf"


def test_write_atomically_makes_the_folder_and_leaves_no_temporary_file(tmp_path):
    from forecast.io.workspace import WriteFailed, write_atomically

    target = tmp_path / "a" / "b" / "brief.pdf"
    seen = []

    def write(tmp):
        seen.append(tmp)
        __import__("pathlib").Path(tmp).write_bytes(b"pdf")

    write_atomically(target, write)
    assert target.read_bytes() == b"pdf" and os.listdir(target.parent) == ["brief.pdf"]
    tmp = __import__("pathlib").Path(seen[0])
    # Beside the target, in a folder of its own that carries our mark; the file keeps its name and suffix.
    assert tmp.parent.parent == target.parent and tmp.parent.name.startswith(f".partial-{os.getpid()}-") and tmp.name == "brief.pdf"

    def full(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(WriteFailed) as info:
        write_atomically(target, full)
    assert str(info.value) == (f"{target}: could not be written (the disk is full: No space left on device); the file there "
                               "is unchanged")
    assert info.value.path == target and info.value.reason == "the disk is full: No space left on device"
    assert os.listdir(target.parent) == ["brief.pdf"]

    def removed_then_fails(tmp):
        __import__("pathlib").Path(tmp).unlink()
        raise OSError(13, "Permission denied")

    with pytest.raises(WriteFailed, match=r"could not be written \(not writable: Permission denied\)"):
        write_atomically(tmp_path / "new.pdf", removed_then_fails)
    assert not (tmp_path / "new.pdf").exists()


def test_an_output_path_that_is_not_a_file_is_refused_with_a_name_to_use(tmp_path):
    from forecast.errors import ForecastError
    from forecast.io.workspace import check_output_path

    check_output_path(tmp_path / "new.pdf")
    (tmp_path / "old.pdf").write_bytes(b"x")
    check_output_path(tmp_path / "old.pdf")
    with pytest.raises(ForecastError) as info:
        check_output_path(tmp_path)
    assert str(info.value) == (f"{tmp_path}: is a folder, not a regular file; give a file name such as brief.pdf (an existing "
                               "regular file is replaced); nothing was written")
    with pytest.raises(ForecastError) as info:
        check_output_path(__import__("pathlib").Path(os.devnull))
    assert "is a character device, not a regular file; give a file name such as out.pdf" in str(info.value)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(ForecastError, match=r"loop: cannot be written \(.*\); nothing was written"):
        check_output_path(tmp_path / "loop")


@pytest.mark.parametrize(("number", "text", "said"), [
    (28, "No space left on device", "the disk is full: No space left on device"),
    (30, "Read-only file system", "not writable: Read-only file system"),
    (13, "Permission denied", "not writable: Permission denied"),
    (1, "Operation not permitted", "not writable: Operation not permitted"),
    (5, "Input/output error", "Input/output error"),
    (5, None, "[Errno 5] bad"),
])
def test_operating_system_errors_in_words(number, text, said):
    from forecast.io.workspace import _reason

    exc = OSError(number, text) if text else OSError(number, "x")
    if text is None:
        exc.strerror = None
        exc.args = (number, "bad")
        exc = OSError(f"[Errno {number}] bad")
        exc.errno = number
    assert _reason(exc) == said


def test_only_a_real_folder_with_our_mark_for_that_run_is_ours(tmp_path):
    from forecast.io.workspace import UNCOMMITTED, _ours_uncommitted

    ours = tmp_path / "r1"
    ours.mkdir()
    (ours / UNCOMMITTED).write_text("r1", encoding="utf-8")
    assert _ours_uncommitted(ours, "r1")
    assert not _ours_uncommitted(ours, "r2")  # another run's mark
    link = tmp_path / "link"
    link.symlink_to(ours)
    assert not _ours_uncommitted(link, "r1")
    assert not _ours_uncommitted(tmp_path / "none", "r1")
    unmarked = tmp_path / "r3"
    unmarked.mkdir()
    assert not _ours_uncommitted(unmarked, "r3")
    (unmarked / UNCOMMITTED).mkdir()  # a folder, not a mark
    assert not _ours_uncommitted(unmarked, "r3")
    linked_mark = tmp_path / "r4"
    linked_mark.mkdir()
    (linked_mark / UNCOMMITTED).symlink_to(ours / UNCOMMITTED)
    assert not _ours_uncommitted(linked_mark, "r1")
    binary = tmp_path / "r5"
    binary.mkdir()
    (binary / UNCOMMITTED).write_bytes(b"\xff\xfe")
    assert not _ours_uncommitted(binary, "r5")


# --- validation: a column the header lacks, CSV errors ----------------------------------------------


def test_a_row_needing_a_column_the_header_lacks_says_so_and_suggests_the_near_miss(tmp_path, priors):
    from conftest import write_csv

    path = write_csv(tmp_path / "e.csv", "e1,2025-02-18,signal,territorial_rigidity,1.0", header="event_id,date,kind,factor,singal")
    with pytest.raises(InputError) as info:
        read_events(path, priors)
    assert str(info.value).endswith("line 2, column 'signal': a signal row needs a value in 'signal'; the header has no 'signal' "
                                    "column (did you mean 'singal'?)")
    path = write_csv(tmp_path / "f.csv", "e1,2025-02-18,signal,territorial_rigidity,x", header="event_id,date,kind,factor,zzz")
    with pytest.raises(InputError) as info:
        read_events(path, priors)
    assert str(info.value).endswith("a signal row needs a value in 'signal'; the header has no 'signal' column")
    path = write_csv(tmp_path / "g.csv", "e1,2025-02-18,signal,territorial_rigidity", header="event_id,date,kind,factor")
    with pytest.raises(InputError) as info:
        read_events(path, priors)
    assert str(info.value).endswith("a signal row needs a value in 'signal'; the header has no 'signal' column")


def test_csv_errors_name_the_line_the_column_and_the_fix(tmp_path):
    from forecast.io.textfiles import csv_rows

    path = tmp_path / "x.csv"
    _, rows = csv_rows(path, 'a,b,c\n1,2,3\n4,"open,6\n7,8,9\n')
    with pytest.raises(InputError) as info:
        list(rows)
    assert str(info.value) == (f'{path}, line 3, column 2 (\'b\'): a quoted field opens here (") and is never closed, so every '
                               'row after it would be read as its text; close the quote, or write a quote inside a field as '
                               'two ("")')
    _, rows = csv_rows(path, 'a\n1,2,"open\n')
    with pytest.raises(InputError) as info:
        list(rows)
    assert str(info.value).startswith(f"{path}, line 2, column 3: a quoted field opens here")
    _, rows = csv_rows(path, 'a,b\n1,"x"y\n')
    with pytest.raises(InputError) as info:
        list(rows)
    assert str(info.value) == (f"{path}, line 2: not valid CSV: ',' expected after '\"': a quote (\") inside a quoted field "
                               'must be written as two ("")')


def test_psis_rejects_too_few_draws_leaves_a_flat_tail_unsmoothed_and_reads_integers_as_numbers():
    from scipy.special import logsumexp

    from forecast.inference.psis import psis_log_weights

    with pytest.raises(ValueError, match=r"^PSIS needs at least 25 draws$"):
        psis_log_weights(np.zeros(24))
    psis_log_weights(np.arange(25.0))  # 25 draws: a tail of 5
    flat_tail = np.r_[np.arange(200.0), np.full(50, 300.0)]  # 250 draws: a tail of 47, all equal
    log_weights, k = psis_log_weights(flat_tail)
    assert k == np.inf  # nothing to fit: unreliable
    np.testing.assert_allclose(log_weights, flat_tail - logsumexp(flat_tail))
    integers = np.random.default_rng(0).integers(0, 60, 300)
    ours, k = psis_log_weights(integers)
    floats, k_floats = psis_log_weights(integers.astype(float))
    np.testing.assert_array_equal(ours, floats)
    assert k == k_floats


@pytest.mark.parametrize("n", [224, 225, 226])
def test_psis_tail_length_switches_above_225_draws(n):
    from forecast.inference.psis import psis_log_weights

    log_ratios = np.random.default_rng(n).normal(0, 1, n)
    ours, _ = psis_log_weights(log_ratios)
    tail = int(np.floor(3 * np.sqrt(n))) if n > 225 else n // 5
    shift = ours - log_ratios  # one constant (the normalisation) outside the smoothed tail
    order = np.argsort(log_ratios)
    body = shift[order[: n - tail]]
    assert np.ptp(body) < 1e-9
    assert abs(shift[order[n - tail]] - body[0]) > 1e-9  # the smallest of the tail is smoothed


def test_gpd_quantiles_at_the_edges():
    from forecast.inference.psis import _gpd_quantile

    p = np.array([0.1, 0.5])
    assert np.isnan(_gpd_quantile(p, 0.3, 0.0, 1.0)).all() and np.isnan(_gpd_quantile(p, 0.3, -1.0, 1.0)).all()
    np.testing.assert_allclose(_gpd_quantile(p, 0.0, 2.0, 1.0), 1 - 2 * np.log1p(-p))
    np.testing.assert_allclose(_gpd_quantile(p, 1.0, 2.0, 1.0), 1 + 2 * np.expm1(-np.log1p(-p)))
    np.testing.assert_allclose(_gpd_quantile(p, 0.0, 2.0, 1.0), stats.genpareto.ppf(p, 0.0, loc=1.0, scale=2.0))


def test_importance_weights_of_few_draws_and_of_no_information():
    from forecast.inference.importance import importance_weights

    w = importance_weights([0.0, 1.0, 2.0])  # a list, fewer than 100 draws: plain weights
    expected = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(w.weights, expected)
    assert w.ess == pytest.approx(1 / np.sum(expected**2)) and w.pareto_k == np.inf
    big = importance_weights(np.array([1000.0, 1001.0, 999.0]))  # no overflow: taken from the largest
    np.testing.assert_allclose(big.weights, np.exp([0.0, 1.0, -1.0]) / np.exp([0.0, 1.0, -1.0]).sum())
    flat = importance_weights(np.r_[np.full(199, 5.0), 5.0 + 1e-12])
    assert flat.pareto_k == 0.0 and flat.ess == 200.0
    w = importance_weights(np.random.default_rng(0).normal(0, 1, 1000) + 700.0)
    assert np.isfinite(w.weights).all() and w.weights.sum() == pytest.approx(1.0)


def test_the_diagnostics_of_a_sampled_run_say_so():
    from forecast.inference.diagnostics import Diagnostics

    d = Diagnostics(1.0, 500.0, 500.0, 0, 1.0, 2).to_dict()
    assert d["method"] == "sampled" and d["passed"] is True and d["problems"] == []


def test_signposts_rank_by_the_largest_change_then_factor_signal_and_outcome():
    from forecast.explain.signposts import signposts

    draws = Draws(theta=np.zeros((200, 3, 1)), baseline=np.full((200, 1), -2.0), effect=np.zeros((200, 1, 3)),
                  noise=np.full(200, 0.5), nu=np.full(200, 4.0), reliability=np.ones((200, 6)), credibility=np.ones((200, 6)))
    incidence = np.full((200, 1, 2), 0.5)
    table = signposts(draws, incidence, ["b", "a", "c"], ["x", "none"], 1)
    # Nothing moves (flat weights): ties broken by factor, then the positive reading first, then outcome.
    assert list(table.index) == list(range(12)) and list(table.columns) == ["factor", "signal", "outcome", "p_now", "p_after",
                                                                            "change", "pareto_k", "reliable"]
    assert list(zip(table.factor, table.signal, table.outcome))[:6] == [("a", 2.0, "none"), ("a", 2.0, "x"), ("a", -2.0, "none"),
                                                                      ("a", -2.0, "x"), ("b", 2.0, "none"), ("b", 2.0, "x")]
    # Factor 'c' moves the chance (its draws differ): it ranks first, whatever its name.
    moving = np.random.default_rng(0).normal(0, 1, 200)
    draws = Draws(theta=np.stack([np.zeros(200), np.zeros(200), moving], axis=1)[:, :, None], baseline=np.full((200, 1), -2.0),
                  effect=np.zeros((200, 1, 3)), noise=np.full(200, 0.5), nu=np.full(200, 4.0), reliability=np.ones((200, 6)),
                  credibility=np.ones((200, 6)))
    p = 1 / (1 + np.exp(moving))
    incidence = np.stack([p, 1 - p], axis=1)[:, None, :]
    table = signposts(draws, incidence, ["b", "a", "c"], ["x", "none"], 1)
    assert list(table.factor[:4]) == ["c"] * 4


def test_a_refitted_split_keeps_the_part_and_its_limit():
    from forecast.explain.attribution import Attribution, Part

    a = Attribution("r1", dt.date(2025, 3, 1), {"x": 0.1}, Part("All new information", 3, {"x": 0.02}, 0.9, 0.66), [],
                    {"x": 0.08}, {"x": 0.01})
    r = a.refitted({"x": 0.25}, {"x": 0.2}, "refit note")
    assert r.new_information == Part("All new information", 3, {"x": pytest.approx(0.05)}, 0.9, 0.66)
    assert r.method == "refit" and r.notes == ["refit note"] and r.time_and_other == {"x": pytest.approx(0.05)}
    assert a.to_dict()["previous_as_of"] == "2025-03-01"


def test_take_keeps_the_coordinates_and_attributes():
    from forecast.inference.incremental import _take

    ds = _posterior(["a", "b"], [dt.date(2025, 2, 17)], ["x"], chains=2, draws=3)
    ds.attrs = {"run": "r1"}
    ds = ds.transpose("factor", "chain", "week", "draw", ...)
    out = _take(ds, np.array([5, 0, 1, 2, 3, 4]))
    assert out.attrs == {"run": "r1"} and list(out["factor"].values) == ["a", "b"] and list(out["chain"].values) == [0, 1]
    flat = ds["theta"].transpose("chain", "draw", ...).values.reshape(6, 2, 1)
    np.testing.assert_array_equal(out["theta"].transpose("chain", "draw", ...).values.reshape(6, 2, 1), flat[[5, 0, 1, 2, 3, 4]])


# --- storing a run and explaining it -----------------------------------------------------------------


def test_a_stored_run_carries_its_provenance_status_and_what_moved(tmp_path, priors, monkeypatch):
    import json
    import re

    from forecast.explain.attribution import Attribution
    from forecast.explain.what_moved import read_what_moved
    from forecast.updating import pipeline

    _fake_fits(monkeypatch, passed=False)
    stops = []
    monkeypatch.setattr(pipeline, "checkpoint", stops.append)
    workspace = Workspace(tmp_path / "ws")
    first = _update(EXAMPLE, workspace).run
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", first.run_id) and first.created_at.endswith("+00:00")
    assert first.status == "flagged" and first.priors_dir == str(priors.directory) and stops == ["store"]
    assert list(first.factors) == list(priors.factors)
    assert first.factors["territorial_rigidity"]["label"] == priors.factors["territorial_rigidity"].label
    tree = xr.open_datatree(workspace.root / first.posterior, engine="h5netcdf")
    assert json.loads(tree.attrs["priors_json"]) == json.loads(json.dumps(priors.content, default=str))
    more = write_csv(tmp_path / "m.csv", "m1,2025-02-21,signal,domestic_hawkishness,1.0,,,B,2,one more")
    second = _update(more, workspace, refit=True).run
    stored = read_what_moved((workspace.root / second.posterior).parent, second.run_id)
    assert isinstance(stored, Attribution) and stored.previous_run == first.run_id
    assert stored.new_information is not None and stored.new_information.events == 1  # the previous run's view of the log


def test_a_failed_commit_removes_the_folder_it_published(tmp_path, monkeypatch):
    from forecast.errors import ForecastError

    _fake_fits(monkeypatch)
    workspace = Workspace(tmp_path / "ws")

    def commit_update(self, **kwargs):
        raise ForecastError("the ledger could not be written")

    monkeypatch.setattr(Ledger, "commit_update", commit_update)
    with pytest.raises(ForecastError, match="could not be written"):
        _update(EXAMPLE, workspace)
    assert [p.name for p in workspace.runs_dir.iterdir()] == []


def _explained(priors, monkeypatch, *, previous_changes=None, run_changes=None, new=(), old_extra=()):
    """What explain_run hands to `attribute`, with attribute replaced by a spy."""
    from forecast.explain import what_moved
    from forecast.explain.attribution import Attribution
    from forecast.io.version import code_version

    seen = {}

    def spy(draws, headline, **kwargs):
        seen.update(kwargs, draws=draws, headline=headline)
        return Attribution("r1", AS_OF, {}, None, [], {}, {}, notes=["first"])

    monkeypatch.setattr(what_moved, "attribute", spy)
    before = [*read_events(EXAMPLE, priors).events, *old_extra]
    now = [*before, *new]
    data = build_dataset(now, priors, dt.date(2025, 2, 24))
    posterior = _posterior(data.factors, data.weeks, data.deals, draws=100, seed=5)
    rng = np.random.default_rng(6)
    occasions = list(priors.outcomes.occasions)
    posterior["occasion_effect"] = (("chain", "draw", "deal", "occasion"), rng.normal(1.0, 0.5, (2, 100, len(data.deals),
                                                                                              len(occasions))))
    posterior["effect"].values[:] = rng.normal(-0.3, 0.5, posterior["effect"].shape)  # each factor moves the deals its own way
    posterior = posterior.assign_coords(occasion=occasions).isel(factor=[3, 2, 1, 0])  # stored in another order
    common = dict(priors_hash=priors.hash, code_version=code_version(), seed=7, draws=100, tune=50, chains=2,
                  horizon_weeks=priors.outcomes.horizon_weeks)
    keys = priors.outcomes.keys
    previous = _run("r1", **{"as_of": AS_OF, "headline": {k: {"p": 0.1} for k in keys}, **common, **(previous_changes or {})})
    run = _run("r2", **{"as_of": dt.date(2025, 2, 24), "headline": {k: {"p": 0.2} for k in keys}, **common, **(run_changes or {})})
    result = what_moved.explain_run(run, previous, posterior, priors, data, now, before)
    return result, seen, posterior, data, run


def test_what_moved_reads_each_draws_headline_from_the_runs_own_stream(priors, monkeypatch):
    from forecast.forecasting.incidence import cumulative_incidence

    result, seen, posterior, data, run = _explained(priors, monkeypatch)
    assert result.notes == ["first"]  # nothing else changed
    draws = Draws.from_dataset(posterior.sel(factor=list(priors.factors)))
    incidence = cumulative_incidence(draws, priors.outcomes.forecast_weeks, np.random.default_rng([7, 1]), data.occasions_ahead)
    np.testing.assert_allclose(seen["headline"], incidence[:, run.horizon_weeks - 1, :], rtol=1e-12)
    assert seen["headline_before_occasions"] is None and seen["previous_run"] == "r1"
    assert seen["occasions"] == data.occasions and seen["mcse"].shape == (len(priors.outcomes.keys),)
    assert seen["occasion_follows"] == data.occasion_follows and any(seen["occasion_follows"])


def test_what_moved_takes_out_an_occasion_ahead_the_previous_run_did_not_know(priors, monkeypatch):
    from forecast.forecasting.incidence import cumulative_incidence

    summit = _event("s1", kind="scheduled", day=dt.date(2025, 3, 5), occasion="summit")
    summit = dataclasses.replace(summit, reported=dt.date(2025, 2, 23))
    _, seen, posterior, data, run = _explained(priors, monkeypatch, new=[summit])
    draws = Draws.from_dataset(posterior.sel(factor=list(priors.factors)))
    ahead_before = np.zeros_like(data.occasions_ahead)
    expected = cumulative_incidence(draws, run.horizon_weeks, np.random.default_rng([7, 1]), ahead_before)[:, run.horizon_weeks - 1]
    np.testing.assert_allclose(seen["headline_before_occasions"], expected, rtol=1e-12)
    assert not np.array_equal(expected, seen["headline"])
    with_summit = cumulative_incidence(draws, priors.outcomes.forecast_weeks, np.random.default_rng([7, 1]), data.occasions_ahead)
    np.testing.assert_allclose(seen["headline"], with_summit[:, run.horizon_weeks - 1, :], rtol=1e-12)
    # Known before: nothing to take out; nor from the weeks after a deal the previous run knew.
    known = dataclasses.replace(summit, reported=AS_OF)
    deal = _event("d1", kind="outcome", day=dt.date(2025, 2, 18), outcome="local_ceasefire")
    _, seen, _, data, _ = _explained(priors, monkeypatch, old_extra=[known, deal])
    assert data.occasions_ahead[:, list(data.occasions).index("after_local_ceasefire")].any()
    assert seen["headline_before_occasions"] is None
    # One known before, one new: only the new one is taken out.
    later = dataclasses.replace(summit, event_id="s2", date=dt.date(2025, 3, 19))
    _, seen, posterior, data, run = _explained(priors, monkeypatch, old_extra=[known], new=[later])
    ahead_before = data.occasions_ahead.copy()
    ahead_before[(dt.date(2025, 3, 17) - dt.date(2025, 2, 24)).days // 7 - 1] = 0
    draws = Draws.from_dataset(posterior.sel(factor=list(priors.factors)))
    expected = cumulative_incidence(draws, run.horizon_weeks, np.random.default_rng([7, 1]), ahead_before)[:, run.horizon_weeks - 1]
    np.testing.assert_allclose(seen["headline_before_occasions"], expected, rtol=1e-12)


def test_what_moved_is_unavailable_across_a_changed_horizon_or_an_earlier_as_of(priors, monkeypatch):
    from forecast.explain.attribution import Unavailable

    result, *_ = _explained(priors, monkeypatch, previous_changes={"horizon_weeks": 8})
    assert result == Unavailable(f"the headline horizon changed (8 to {priors.outcomes.horizon_weeks} weeks)")
    result, *_ = _explained(priors, monkeypatch, previous_changes={"as_of": dt.date(2025, 2, 28)})
    assert result == Unavailable("this run's as-of date (2025-02-24) is earlier than the previous run's (2025-02-28)")
    result, *_ = _explained(priors, monkeypatch, previous_changes={"as_of": dt.date(2025, 2, 24)})
    assert result.notes == ["first"]  # the same as-of date is fine


def test_what_moved_names_what_else_changed_between_the_runs(priors, monkeypatch):
    from forecast.explain.what_moved import explain_run

    assert explain_run(_run("r2"), None, None, priors, None, [], []) is None
    for changes, says in [
        ({"priors_hash": "other"}, "the priors changed."),
        ({"code_version": "abc"}, "the code changed (abc to "),
        ({"seed": 8}, "the sampler settings changed."), ({"draws": 99}, "the sampler settings changed."),
        ({"tune": 49}, "the sampler settings changed."), ({"chains": 4}, "the sampler settings changed."),
    ]:
        result, *_ = _explained(priors, monkeypatch, previous_changes=changes)
        assert result.notes[0] == "first" and result.notes[-1].startswith("Also in the rest: " + says), result.notes
    result, *_ = _explained(priors, monkeypatch, previous_changes={"priors_hash": "x", "seed": 1})
    assert result.notes[-1] == "Also in the rest: the priors changed; the sampler settings changed."


def test_summary_closes_only_rounding_gaps_between_the_mean_and_its_interval():
    from forecast.forecasting.incidence import _summary

    per_draw = np.zeros((100, 2, 2))
    per_draw[:, 0, 0] = 0.1  # the mean of a hundred 0.1 is a rounding error off 0.1
    per_draw[-1, 1, 1] = 100.0  # one huge draw: the mean (1.0) is truly above the 95 % quantile (0)
    mean, lo, hi = _summary(per_draw)
    assert mean.shape == lo.shape == hi.shape == (2, 2)
    assert lo[0, 0] <= mean[0, 0] <= hi[0, 0]
    assert mean[1, 1] == pytest.approx(1.0) and hi[1, 1] == 0.0 and lo[1, 1] == 0.0
    per_draw[:, 0, 1] = np.linspace(0, 1, 100)
    _, lo, hi = _summary(per_draw)
    assert lo[0, 1] == pytest.approx(0.05) and hi[0, 1] == pytest.approx(0.95)


def test_the_headline_is_the_table_at_the_headline_horizon_with_labels():
    import pandas as pd

    from forecast.forecasting.incidence import headline

    table = pd.DataFrame([{"horizon": h, "outcome": o, "p": 0.1 * h, "lo": 0.0, "hi": 0.5, "happens_by": 0.2 * h,
                           "happens_by_lo": 0.1, "happens_by_hi": 0.9} for h in (1, 2) for o in ("x", "none")])
    assert headline(table, 2, {"x": "X", "none": "None"}) == {
        "x": {"label": "X", "p": 0.2, "lo": 0.0, "hi": 0.5, "happens_by": {"p": 0.4, "lo": 0.1, "hi": 0.9}},
        "none": {"label": "None", "p": 0.2, "lo": 0.0, "hi": 0.5, "happens_by": {"p": 0.4, "lo": 0.1, "hi": 0.9}}}
    old = table.drop(columns=["happens_by", "happens_by_lo", "happens_by_hi"])
    assert headline(old, 1, {"x": "X", "none": "None"})["x"] == {"label": "X", "p": 0.1, "lo": 0.0, "hi": 0.5}


def test_an_empty_ledger_has_no_as_of_date():
    from forecast.model.dataset import default_as_of

    with pytest.raises(InputError, match=r"^the ledger has no events; give an events file first$"):
        default_as_of([])
    assert default_as_of([_event("a", day=dt.date(2025, 2, 3)), _event("b", day=dt.date(2025, 2, 1))]) == dt.date(2025, 2, 3)


def test_the_pareto_k_limit_at_ten_draws_and_above():
    from forecast.inference.importance import pareto_k_limit

    assert pareto_k_limit(5) == 0.0 and pareto_k_limit(10) == 0.0
    assert pareto_k_limit(11) == pytest.approx(1 - 1 / np.log10(11)) and pareto_k_limit(11) > 0.03
    assert pareto_k_limit(10**6) == 0.7


# --- the incremental path as update takes it -----------------------------------------------------------


def _incremental_case(tmp_path, priors, monkeypatch, outcome, status="ok", priors_hash=None):
    """_try_incremental over one stored sampled run (2 chains x 50 draws), its file and reweighting faked."""
    from forecast.inference import incremental
    from forecast.io import runfiles
    from forecast.io.version import code_version
    from forecast.updating.pipeline import _try_incremental

    settings = _settings()
    version = code_version()
    summit = dataclasses.replace(_event("s1", kind="scheduled", day=dt.date(2025, 3, 5), occasion="summit"), reported=AS_OF)
    events = [*read_events(EXAMPLE, priors).events, summit]  # an occasion ahead moves the forecast
    data = build_dataset(events, priors, AS_OF)
    base = _run("r1", status=status, priors_hash=priors_hash or priors.hash, code_version=version, seed=7, draws=50, tune=50,
                chains=2, diagnostics={"target_accept": TARGET_ACCEPT, "r_hat_max": 1.0, "ess_bulk_min": 500.0,  # no "method": an older run
                                       "ess_tail_min": 400.0, "divergences": 0, "chains": 2})
    workspace = Workspace(tmp_path / "ws")
    workspace.ledger.commit_update(file="f", file_sha256="s", new_events=events, known_count=0, run=base)
    later = _event("later", factor="territorial_rigidity", signal=0.5)
    workspace.ledger.commit_update(file="g", file_sha256="t", new_events=[later], known_count=0, run=None)
    posterior = _posterior(data.factors, data.weeks, data.deals, chains=2, draws=50)
    posterior["occasion_effect"] = (("chain", "draw", "deal", "occasion"), np.full((2, 50, len(data.deals), len(data.occasions)), 1.5))
    posterior = posterior.assign_coords(occasion=list(data.occasions))

    def load_posterior(path, run):
        assert path == workspace.root / "runs/r1/posterior.nc" and run.run_id == "r1"
        return xr.DataTree.from_dict({"posterior": posterior})

    monkeypatch.setattr(runfiles, "load_posterior", load_posterior)
    asked = []

    def reweight(base_posterior, data_, events_base, as_of_base, events_now, *, seed):
        assert data_ is data
        xr.testing.assert_identical(base_posterior, posterior)
        asked.append((events_base, as_of_base, events_now, seed))
        return outcome(posterior) if callable(outcome) else outcome

    monkeypatch.setattr(incremental, "reweight", reweight)
    messages = []
    result = _try_incremental(workspace, data, priors, settings, version, events, messages.append)
    return result, messages, asked, events, data


def test_the_incremental_path_reweights_a_passing_run_and_forecasts_from_its_draws(tmp_path, priors, monkeypatch):
    from forecast.inference.fit import forecast_from_posterior
    from forecast.inference.incremental import Reweighted

    result, messages, asked, events, data = _incremental_case(tmp_path, priors, monkeypatch, lambda p: Reweighted(p, 0.31, 80.0))
    trace, diagnostics, table = result
    assert asked == [(events, AS_OF, events, 7)]
    assert diagnostics["method"] == "reweighted" and diagnostics["base_run"] == "r1" and diagnostics["pareto_k"] == 0.31
    assert diagnostics["pareto_k_max"] == round(1 - 1 / np.log10(100), 3) and diagnostics["passed"]
    assert diagnostics["ess_bulk_min"] == pytest.approx(400.0) and diagnostics["ess_tail_min"] == pytest.approx(320.0)
    expected = forecast_from_posterior(trace.posterior.to_dataset(), priors, 7, data.occasions_ahead)
    assert table.equals(expected)
    assert not table.equals(forecast_from_posterior(trace.posterior.to_dataset(), priors, 7, None))  # the occasion counts
    assert messages == ["reweighted run r1's draws by the new events (Pareto k 0.31, 400 effective draws); --refit samples "
                        "afresh"]
    assert 0 <= diagnostics["sampling_seconds"] < 60


def test_the_incremental_path_says_why_it_refits(tmp_path, priors, monkeypatch):
    from forecast.inference.incremental import Declined, Reweighted

    result, messages, *_ = _incremental_case(tmp_path / "a", priors, monkeypatch, lambda p: Reweighted(p, 0.31, 20.0))
    assert result is None and messages == ["refitting: reweighting run r1's draws leaves 100 effective draws (bulk; tail 80), "
                                           "under the limit of 200"]
    result, messages, *_ = _incremental_case(tmp_path / "b", priors, monkeypatch, Declined("the factors changed"))
    assert result is None and messages == ["refitting: the factors changed"]
    result, messages, asked, *_ = _incremental_case(tmp_path / "c", priors, monkeypatch, None, status="flagged")
    assert result is None and asked == [] and messages == [
        "refitting: the last sampled run (r1) failed its diagnostics, so its draws cannot be reweighted"]
    result, messages, asked, *_ = _incremental_case(tmp_path / "d", priors, monkeypatch, None, priors_hash="other")
    assert result is None and asked == [] and messages == [
        "refitting: the last sampled run (r1) used other priors, code or sampler settings"]


def test_the_incremental_path_has_nothing_to_reweight_without_a_run(tmp_path, priors):
    from forecast.updating.pipeline import _try_incremental

    events = read_events(EXAMPLE, priors).events
    messages = []
    assert _try_incremental(Workspace(tmp_path / "ws"), build_dataset(events, priors, AS_OF), priors, _settings(), "v", events,
                            messages.append) is None
    assert messages == []


# --- the dataset: its hash, its encoding, ledger rows the priors do not know ----------------------------


def test_the_data_hash_is_the_documented_digest_and_never_changes_for_the_same_data(priors):
    import hashlib

    from forecast.io.priors import canonical_json

    events = read_events(EXAMPLE, priors).events
    used = sorted((e.event_id, e.content_hash) for e in events)
    expected = hashlib.sha256(canonical_json({"as_of": "2025-02-21", "events": used}).encode()).hexdigest()
    assert build_dataset(events, priors, AS_OF).data_hash == expected
    assert build_dataset(list(reversed(events)), priors, AS_OF).data_hash == expected  # order does not matter


def test_no_signals_still_encode_as_integer_indices():
    from forecast.model.dataset import signal_arrays

    arrays = signal_arrays([], ["a"], dt.date(2025, 2, 17))
    assert {k: v.dtype for k, v in arrays.items()} == {"factor": np.int64, "week": np.int64, "value": np.float64,
                                                      "reliability": np.int64, "credibility": np.int64}


@pytest.mark.parametrize(("event", "says"), [
    (_event("x1", kind="outcome", day=dt.date(2025, 2, 18), outcome="armistice"),
     "event 'x1' in the ledger is an outcome 'armistice', which these priors do not define; add it to outcomes.yaml or "
     "retract the event"),
    (_event("x2", kind="scheduled", day=dt.date(2025, 2, 18), occasion="eclipse"),
     "event 'x2' in the ledger is a scheduled 'eclipse', which these priors do not define; add it to the occasions of "
     "outcomes.yaml or retract the event"),
    (_event("x3", day=dt.date(2025, 2, 18), factor="weather", signal=1.0),
     "event 'x3' in the ledger reads factor 'weather', which these priors do not define; add it to factors.yaml or retract the "
     "event"),
])
def test_ledger_rows_the_priors_do_not_know_are_named(priors, event, says):
    with pytest.raises(InputError) as info:
        build_dataset([event], priors, AS_OF)
    assert str(info.value) == says
    build_dataset([event, _event("r", kind="retraction", retracts=event.event_id)], priors, AS_OF)  # retracted: fine


def test_a_full_dataset_is_marked_as_observed(priors):
    assert build_dataset(read_events(EXAMPLE, priors).events, priors, AS_OF).outcomes_observed is True


def test_the_ledger_returns_every_event_however_many(tmp_path):
    from forecast.io.ledger import Ledger

    ledger = Ledger(tmp_path / "l.sqlite")
    events = [_event(f"e{i:03d}", factor="f", signal=0.1) for i in range(130)]
    ledger.commit_update(file="f", file_sha256="s", new_events=events, known_count=0, run=None)
    assert len(ledger.events()) == 130 and len(ledger.events(up_to_seq=5)) == 5


# --- the workspace: writability, leftovers, who holds the lock ----------------------------------------


def test_a_workspace_that_cannot_take_a_file_is_refused_naming_the_folder(tmp_path, monkeypatch):
    import tempfile

    from forecast.errors import ForecastError

    workspace = Workspace(tmp_path / "ws")
    workspace.runs_dir.mkdir(parents=True)
    probes = []
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        probes.append(kwargs)
        if kwargs.get("dir") == workspace.runs_dir:
            raise OSError(30, "Read-only file system")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(ForecastError) as info:
        workspace.check_writable()
    assert str(info.value) == (f"{workspace.runs_dir}: not writable (Read-only file system); nothing was done, since the "
                               "results could not be stored: make it writable (a read-only mount? chattr +i?), or give "
                               "--workspace another folder")
    assert probes[0] == {"dir": workspace.root, "prefix": ".partial-"} and os.listdir(workspace.root) == ["runs"]


def test_an_unwritable_ledger_is_refused_naming_it(tmp_path):
    from forecast.errors import ForecastError

    workspace = Workspace(tmp_path / "ws")
    workspace.ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=None)
    os.chmod(workspace.ledger.path, 0o444)
    if os.access(workspace.ledger.path, os.W_OK):
        pytest.skip("root writes read-only files")
    with pytest.raises(ForecastError, match=f"^{workspace.ledger.path}: not writable"):
        workspace.check_writable()


def test_leftovers_go_but_what_is_not_ours_stays(tmp_path):
    from forecast.io.workspace import UNCOMMITTED

    workspace = Workspace(tmp_path / "ws")
    workspace.reports_dir.mkdir(parents=True)
    (workspace.reports_dir / ".partial-x.pdf").write_bytes(b"half")  # a user's file: no mark
    (tmp_path / "elsewhere.pdf").write_bytes(b"keep")
    (workspace.reports_dir / ".partial-link.pdf").symlink_to(tmp_path / "elsewhere.pdf")
    (workspace.reports_dir / ".partial-dir").mkdir()
    crashed_write = workspace.reports_dir / ".partial-999999999-abc"  # a pid no process has
    crashed_write.mkdir()
    (crashed_write / UNCOMMITTED).write_text("999999999-abc", encoding="utf-8")
    (crashed_write / "brief.pdf").write_bytes(b"%PDF-half")
    committed = workspace.runs_dir / "r1"
    committed.mkdir(parents=True)
    (committed / UNCOMMITTED).write_text("r1", encoding="utf-8")
    workspace.ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=_run("r1"))
    crashed = workspace.runs_dir / ".partial-r2"
    crashed.mkdir()
    (crashed / UNCOMMITTED).write_text("r2", encoding="utf-8")
    with workspace.locked():
        pass
    assert sorted(p.name for p in workspace.reports_dir.iterdir()) == [".partial-dir", ".partial-link.pdf", ".partial-x.pdf"]
    assert (tmp_path / "elsewhere.pdf").read_bytes() == b"keep"
    assert [p.name for p in workspace.runs_dir.iterdir()] == ["r1"] and not (committed / UNCOMMITTED).exists()
    workspace.mark_committed("r1")  # again: nothing to remove, no error


@pytest.mark.parametrize(("argv", "shown"), [
    (["/x/bin/forecast", "update", "--quiet", "events.csv", "--workspace", "ws"], "forecast update --quiet events.csv --workspace ws"),
    (["forecast", "status"], "forecast status"),
    (["forecast", "update", "my events.csv", "--workspace", "it's"], "forecast update 'my events.csv' --workspace 'it'\"'\"'s'"),
])
def test_the_lock_holder_is_shown_as_the_command_a_user_typed(monkeypatch, argv, shown):
    from forecast.io.lock_holder import command_line

    monkeypatch.setattr("sys.argv", argv)
    assert command_line() == shown



# --- words and edges the second mutation run found unheld ----------------------------------------------


def test_special_files_are_named_for_what_they_are():
    import stat

    from forecast.io import textfiles, workspace

    for kind in (textfiles._kind, workspace._kind):
        assert kind(stat.S_IFCHR) == "a character device" and kind(stat.S_IFBLK) == "a block device"
        assert kind(stat.S_IFIFO) == "a named pipe (FIFO)" and kind(stat.S_IFSOCK) == "a socket"
        assert kind(0) == "a special file"
    assert workspace._kind(stat.S_IFDIR) == "a folder"


def test_other_csv_errors_are_said_with_their_line(tmp_path):
    from forecast.io.textfiles import csv_rows

    path = tmp_path / "x.csv"
    _, rows = csv_rows(path, "a,b\n1,2\n3," + "x" * 200_000 + "\n")
    with pytest.raises(InputError) as info:
        list(rows)
    assert str(info.value) == f"{path}, line 3: not valid CSV: field larger than field limit (131072)"


@pytest.mark.parametrize(("text", "start", "expected"), [
    ('"a,b\n', 1, (1, 1)),  # a quote at the very start
    ('a,b\n1,2\n"x\n', 3, (3, 1)),
    ('a,b\n1,"x "",y\n', 2, (2, 2)),  # a doubled quote does not close the field
    ('a,b\n1,"x """,y\n', 2, None),
    ('a,b\nX"y\n', 2, None),  # a quote inside a field opens nothing
    ('"a\n', 5, None),  # a start past the end
])
def test_the_open_quote_is_found_where_it_opens(text, start, expected):
    from forecast.io.textfiles import _open_quote

    assert _open_quote(text, start) == expected


def test_a_large_input_is_shown_in_the_unit_that_reads_best(tmp_path, monkeypatch):
    from forecast.io.textfiles import read_input

    monkeypatch.setenv("FORECAST_MAX_INPUT_MB", "0.01")
    for size, shown in ((102_000, "99.6 KB"), (100_000, "97.7 KB"), (104_858, "0.1 MB")):
        path = tmp_path / f"{size}.csv"
        path.write_bytes(b"x" * size)
        with pytest.raises(InputError) as info:
            read_input(path, "a crowd file")
        assert str(info.value).startswith(f"{path}: is {shown}, over the 0.01 MB limit"), str(info.value)


def test_a_run_folder_is_never_published_twice(tmp_path):
    from forecast.errors import ForecastError

    workspace = Workspace(tmp_path / "ws")
    workspace.publish_run_files("r1", lambda folder: (folder / "posterior.nc").write_bytes(b"x"))
    with pytest.raises(ForecastError, match="r1 already exists"):
        workspace.publish_run_files("r1", lambda folder: None)
    (workspace.runs_dir / ".partial-r2").mkdir()
    with pytest.raises(ForecastError, match="r2 already exists"):
        workspace.publish_run_files("r2", lambda folder: None)
    assert workspace.posterior_path("r1") == workspace.root / "runs" / "r1" / "posterior.nc"

    def full(folder):
        raise OSError(28, "No space left on device")

    with pytest.raises(ForecastError) as info:
        workspace.publish_run_files("r3", full)
    assert str(info.value) == (f"{workspace.runs_dir / 'r3'}: the run could not be stored (the disk is full: No space left on "
                               "device); nothing was stored, and the ledger is as it was before this update")
    assert not (workspace.runs_dir / ".partial-r3").exists()


def test_a_file_whose_folder_cannot_be_made_is_a_write_failure(tmp_path, monkeypatch):
    import pathlib

    from forecast.io.workspace import WriteFailed, write_atomically

    def mkdir(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    with pytest.raises(WriteFailed) as info:
        write_atomically(tmp_path / "new" / "brief.pdf", lambda tmp: None)
    assert str(info.value).endswith("(the disk is full: No space left on device); nothing was written")


def test_the_lock_waiting_message_goes_to_stderr_escaped(capsys):
    from forecast.io.workspace import _stderr

    _stderr("held by pid 1: forecast update \x1b[31mred")
    err = capsys.readouterr().err
    assert err.startswith("held by pid 1: forecast update ") and "\x1b" not in err and err.endswith("red\n")


def test_update_writes_the_brief_and_keeps_the_run_when_it_fails(tmp_path, monkeypatch):
    from forecast.brief import publish
    from forecast.errors import ForecastError
    from forecast.updating.pipeline import update

    _fake_fits(monkeypatch)
    briefs = []

    def write_report(workspace, run):
        briefs.append((workspace, run.run_id))
        return tmp_path / "brief.pdf"

    monkeypatch.setattr(publish, "write_report", write_report)
    workspace = Workspace(tmp_path / "ws")
    messages = []
    result = update(EXAMPLE, workspace, settings=_settings(), progress=False, log=messages.append)
    assert briefs == [(workspace, result.run.run_id)] and result.report == tmp_path / "brief.pdf"
    assert "writing the brief" in messages and result.report_error is None and result.run.status == "ok"

    def fails(workspace, run):
        raise ForecastError("no fonts")

    monkeypatch.setattr(publish, "write_report", fails)
    more = write_csv(tmp_path / "m.csv", "m1,2025-02-21,signal,domestic_hawkishness,1.0,,,B,2,one more")
    result = update(more, workspace, settings=_settings(), progress=False, log=messages.append, refit=True)
    assert str(result.report_error) == "no fonts" and result.report is None
    assert workspace.ledger.latest_run().run_id == result.run.run_id


def test_writability_is_checked_in_every_folder_that_exists_and_the_ledger(tmp_path, monkeypatch):
    import tempfile

    from forecast.errors import ForecastError

    workspace = Workspace(tmp_path / "ws")
    workspace.reports_dir.mkdir(parents=True)  # runs/ does not exist yet: reports/ is checked all the same
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if kwargs.get("dir") == workspace.reports_dir:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(ForecastError, match=f"^{workspace.reports_dir}: not writable"):
        workspace.check_writable()
    monkeypatch.setattr(tempfile, "mkstemp", real)
    workspace.ledger.commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=None)
    opened = os.open

    def refuse(path, flags, *args):
        if str(path) == str(workspace.ledger.path) and flags & os.O_RDWR:
            raise PermissionError(1, "Operation not permitted")
        return opened(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ForecastError) as info:
        workspace.check_writable()
    assert str(info.value).startswith(f"{workspace.ledger.path}: not writable (Operation not permitted); nothing was done")


def test_occasions_and_outcomes_are_counted_by_week_including_the_first_and_twice_in_one_week():
    from forecast.model.dataset import occasion_arrays, outcome_counts

    weeks = [dt.date(2025, 2, 17), dt.date(2025, 2, 24)]
    sched = [_event(f"s{i}", kind="scheduled", day=day, occasion="summit") for i, day in enumerate(
        [dt.date(2025, 2, 17), dt.date(2025, 2, 18), dt.date(2025, 2, 25), dt.date(2025, 3, 3), dt.date(2025, 3, 4),
         dt.date(2025, 3, 10), dt.date(2025, 3, 17), dt.date(2025, 2, 10)])]
    arrays = occasion_arrays(sched, ["x", "summit"], weeks, 2)
    np.testing.assert_array_equal(arrays["occasion_counts"], [[0, 2], [0, 1]])
    np.testing.assert_array_equal(arrays["occasions_ahead"], [[0, 2], [0, 1]])  # weeks 1 and 2 ahead; week 3 and earlier ignored
    deals = [_event(f"d{i}", kind="outcome", day=day, outcome="b") for i, day in enumerate([dt.date(2025, 2, 17), dt.date(2025, 2, 19)])]
    counts = outcome_counts(deals, weeks, ["a", "b"])
    np.testing.assert_array_equal(counts, [[0, 0, 2], [1, 0, 0]])
    assert counts.dtype == np.int64


def test_what_moved_with_two_deal_types_and_an_occasion_ahead_withdrawn():
    from forecast.explain.attribution import Attribution, attribute

    weeks = [dt.date(2025, 2, 17)]
    n = 200
    rng = np.random.default_rng(3)
    d = Draws(theta=rng.normal(0, 1, (n, 1, 1)), noise=np.full(n, 1.0), nu=np.full(n, 4.0), reliability=np.ones((n, 6)),
              credibility=np.ones((n, 6)), baseline=rng.normal(-3, 0.3, (n, 2)), effect=np.zeros((n, 2, 1)))
    ahead = dataclasses.replace(_event("s9", kind="scheduled", day=dt.date(2025, 3, 20), occasion="summit"),
                                reported=weeks[0])  # outside the weeks, known before, withdrawn since
    deal_b = _event("o1", kind="outcome", day=weeks[0], outcome="b")
    result = attribute(d, np.full((n, 3), 1 / 3), now=dict.fromkeys(["a", "b", "none"], 1 / 3), previous=dict.fromkeys(["a", "b", "none"], 0.3),
                       previous_run="r0", outcome_keys=["a", "b", "none"], factor_keys=["f"], factor_labels={"f": "F"},
                       weeks=weeks, events_now=[deal_b], as_of_now=weeks[0], events_before=[ahead], as_of_before=weeks[0],
                       mcse=np.zeros(3), occasions=["summit"])
    assert isinstance(result, Attribution)
    assert [p.label for p in result.parts] == ["Outcome events", "Scheduled occasions"]



def test_a_lock_timeout_that_is_not_a_number_is_refused(monkeypatch):
    from forecast.io.workspace import lock_timeout

    for text in ("lots", "-1", "inf", "nan"):
        monkeypatch.setenv("FORECAST_LOCK_TIMEOUT", text)
        with pytest.raises(InputError, match=f"FORECAST_LOCK_TIMEOUT='{text}': expected a number of seconds"):
            lock_timeout(None)
    monkeypatch.setenv("FORECAST_LOCK_TIMEOUT", "2.5")
    assert lock_timeout(None) == 2.5 and lock_timeout(0.0) == 0.0
    monkeypatch.setenv("FORECAST_LOCK_TIMEOUT", " ")
    assert lock_timeout(None) is None


def test_a_foreign_folder_listed_first_does_not_stop_the_cleanup(tmp_path, monkeypatch):
    import pathlib

    from forecast.io.workspace import UNCOMMITTED

    workspace = Workspace(tmp_path / "ws")
    workspace.runs_dir.mkdir(parents=True)
    (workspace.runs_dir / "notes").mkdir()  # another tool's
    crashed = workspace.runs_dir / "r2"
    crashed.mkdir()
    (crashed / UNCOMMITTED).write_text("r2", encoding="utf-8")
    listing = pathlib.Path.iterdir

    def foreign_first(self):
        return iter(sorted(listing(self), key=lambda p: p.name != "notes"))

    monkeypatch.setattr(pathlib.Path, "iterdir", foreign_first)
    with workspace.locked():
        pass
    assert sorted(p.name for p in listing(workspace.runs_dir)) == ["notes"]


def test_run_ids_and_times_are_utc_whatever_the_local_zone(tmp_path, monkeypatch):
    import time

    _fake_fits(monkeypatch)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a local date is a day ahead of UTC
    time.tzset()
    try:
        before = dt.datetime.now(dt.UTC)
        run = _update(EXAMPLE, Workspace(tmp_path / "ws")).run
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    stamp = dt.datetime.strptime(run.run_id.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert abs((stamp - before).total_seconds()) < 120
    assert abs((dt.datetime.fromisoformat(run.created_at) - before).total_seconds()) < 120


def test_the_refit_of_what_moved_is_said_during_update(tmp_path, monkeypatch):
    from forecast.explain import what_moved
    from forecast.explain.counterfactual import Counterfactual

    _fake_fits(monkeypatch, nu=1e7)
    monkeypatch.setattr(what_moved, "forecast_without_new_events",
                        lambda events, priors, as_of, settings, horizon: Counterfactual(
                            dict.fromkeys(priors.outcomes.keys, 0.25), True, 1.0))
    workspace = Workspace(tmp_path / "ws")
    _update(EXAMPLE, workspace)
    rows = [f"x{i},2025-02-21,signal,territorial_rigidity,-2.5,,,A,1,collapse {i}" for i in range(6)]
    messages = []
    _update(write_csv(tmp_path / "x.csv", *rows), workspace, messages, refit=True)
    assert any(m.startswith("what moved: the new events moved the posterior too far to reweight") for m in messages), messages


def test_psis_is_the_same_for_log_ratios_shifted_far_from_zero():
    from forecast.inference.psis import psis_log_weights

    log_ratios = np.random.default_rng(5).normal(0, 1, 400)
    ours, k = psis_log_weights(log_ratios)
    shifted, k_shifted = psis_log_weights(log_ratios + 600.0)  # exp(1200) would overflow
    np.testing.assert_allclose(shifted, ours, rtol=0, atol=1e-9)
    assert k_shifted == pytest.approx(k)


def test_the_workspace_option_then_the_environment_then_here(monkeypatch):
    from pathlib import Path

    from forecast.io.workspace import lock_timeout, resolve_workspace

    monkeypatch.delenv("FORECAST_WORKSPACE", raising=False)
    assert resolve_workspace(None) == Path(".") and resolve_workspace("w") == Path("w")
    monkeypatch.setenv("FORECAST_WORKSPACE", "/srv/ws")
    assert resolve_workspace(None) == Path("/srv/ws") and resolve_workspace("w") == Path("w")
    monkeypatch.setenv("FORECAST_LOCK_TIMEOUT", "0")  # do not wait at all
    assert lock_timeout(None) == 0.0


def test_the_lock_holder_is_named_only_when_the_lock_file_says_who(tmp_path):
    from forecast.io.lock_holder import describe_holder

    lock = tmp_path / ".lock"
    assert describe_holder(lock) == "another forecast process"  # no file
    lock.write_bytes(b"\xff\xfe garbage")
    assert describe_holder(lock) == "another forecast process"
    # No flock on the file for the kernel to list: a line is believed while its process lives.
    lock.write_text(f"pid {os.getpid()}: forecast update e.csv, since 10:00:00\n", encoding="utf-8")
    assert describe_holder(lock) == f"pid {os.getpid()}: forecast update e.csv, since 10:00:00"
    lock.write_text("pid 999999999: forecast update e.csv, since 10:00:00\n", encoding="utf-8")  # no such process
    assert describe_holder(lock) == "another forecast process"


def test_writing_to_a_ledger_from_a_newer_forecast_names_the_file(tmp_path):
    import sqlite3

    from forecast.errors import ForecastError

    path = tmp_path / "l.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(ForecastError, match=f"^{path}: ledger schema 99 is newer"):
        Ledger(path).commit_update(file="f", file_sha256="s", new_events=[], known_count=0, run=None)
    # Recording where a run's brief is meets the same refusal, with the same file named.
    with pytest.raises(ForecastError, match=f"^{path}: ledger schema 99 is newer"):
        Ledger(path).set_report("r1", "reports/r1.pdf")


def test_weights_whose_largest_ratios_are_all_equal_are_declined_not_a_crash():
    """A tail with nothing to fit (the top 3√S log ratios tied) gives the raw weights marked
    unreliable, so the update refits; it used to raise 'all tail values are the same'."""
    from forecast.inference.importance import importance_weights

    log_ratios = np.r_[np.zeros(900), np.full(100, -1.0)]
    w = importance_weights(log_ratios)
    assert not w.reliable and w.pareto_k == np.inf
    np.testing.assert_allclose(w.weights, np.exp(log_ratios) / np.exp(log_ratios).sum())


def test_nothing_new_for_the_model_records_the_new_rows_and_returns_the_previous_run(tmp_path, monkeypatch):
    """Rows reported after --as-of change nothing the model sees: no fit, the previous run
    returned as both run and previous, the rows recorded with the file they came from."""
    import shutil
    import sqlite3

    fitted = _fake_fits(monkeypatch)
    workspace = Workspace(tmp_path / "ws")
    priors_dir = tmp_path / "my-priors"
    shutil.copytree(EXAMPLE.parent.parent / "priors", priors_dir)
    first = _update(EXAMPLE, workspace, as_of=AS_OF, priors_dir=priors_dir)
    assert first.run.priors_dir == str(priors_dir) and (first.run.draws, first.run.chains) == (50, 2)
    rows = EXAMPLE.read_text(encoding="utf-8").rstrip("\n").splitlines()
    later = tmp_path / "later.csv"
    later.write_text("\n".join([*rows, f"late-1,{AS_OF},{AS_OF + dt.timedelta(days=3)},signal,territorial_rigidity,"
                                       "1.0,B,2,Kremlin,reported later,a source"]) + "\n", encoding="utf-8")
    messages = []
    second = _update(later, workspace, messages, as_of=AS_OF, priors_dir=priors_dir)
    assert len(fitted) == 1 and not second.refitted
    stored = workspace.ledger.latest_run()
    assert stored.run_id == first.run.run_id and second.run == stored and second.previous == stored
    assert [e.event_id for e in second.new_events] == ["late-1"] and second.known_events == len(rows) - 1
    assert second.warnings == []
    assert messages[0] == f"{later}: {len(rows)} event(s), 1 new, {len(rows) - 1} already in the ledger"
    assert messages[-1] == f"nothing new for the model since run {first.run.run_id}; not refitting"
    with sqlite3.connect(workspace.ledger.path) as conn:
        ingests = conn.execute("SELECT file, rows_new, rows_known FROM ingests ORDER BY ingest_id").fetchall()
    assert ingests[-1] == (str(later), 1, len(rows) - 1)
    assert "late-1" in workspace.ledger.known_events() and workspace.ledger.latest_run() == stored


def test_an_update_as_of_today_is_not_in_the_future(tmp_path, monkeypatch):
    _fake_fits(monkeypatch)
    assert _update(EXAMPLE, Workspace(tmp_path / "ws"), as_of=dt.date.today()).run.as_of == dt.date.today()
    with pytest.raises(InputError, match=r"^--as-of \S+ is in the future; the log can only be complete up to today$"):
        _update(EXAMPLE, Workspace(tmp_path / "ws"), as_of=dt.date.today() + dt.timedelta(days=1))


def test_the_forward_walk_takes_student_t_steps_where_the_walk_has_jumps():
    """Each draw's first-week chance expit(a + b theta) gives back its step exactly; with jumps
    the steps are volatility times a Student-t with the factor's nu, as in the fitted walk."""
    from scipy.special import logit

    from forecast.forecasting.incidence import simulate_forward

    n = 20_000
    draws = Draws(theta=np.zeros((n, 1, 2)), baseline=np.full((n, 1), -2.0), effect=np.full((n, 1, 1), 0.5),
                  volatility=np.full((n, 1), 0.4), step_nu=np.full((n, 1), 1.5))
    p = simulate_forward(draws, 1, np.random.default_rng(8)).incidence[:, 0, 0]
    steps = (logit(p) + 2.0) / 0.5 / 0.4
    assert stats.kstest(steps, stats.t(df=1.5).cdf).pvalue > 1e-3
    assert stats.kstest(steps, stats.norm.cdf).pvalue < 1e-6


def test_an_update_that_fits_returns_its_run_the_previous_one_and_what_was_new(tmp_path, monkeypatch):
    _fake_fits(monkeypatch)
    workspace = Workspace(tmp_path / "ws")
    rows = EXAMPLE.read_text(encoding="utf-8").rstrip("\n").splitlines()
    first = _update(EXAMPLE, workspace, refit=True)
    assert first.refitted and first.previous is None and first.known_events == 0 and first.warnings == []
    assert [e.event_id for e in first.new_events] == [r.split(",")[0] for r in rows[1:]]
    more = tmp_path / "more.csv"
    more.write_text("\n".join([*rows, "m-1,2025-02-21,2025-02-21,signal,territorial_rigidity,1.0,B,2,Kremlin,one more,a source"]) + "\n",
                    encoding="utf-8")
    second = _update(more, workspace, refit=True)
    assert second.refitted and second.previous == workspace.ledger.runs()[0]
    assert second.run.run_id == workspace.ledger.latest_run().run_id != first.run.run_id
    assert [e.event_id for e in second.new_events] == ["m-1"] and second.known_events == len(rows) - 1


# --- update: which path it takes, and what it stores and says ------------------------------------


def test_a_small_addition_is_reweighted_from_the_last_run_and_refit_samples_afresh(tmp_path, monkeypatch):
    """A weak new reading: the update reweights the stored run (no sampling) and stores the
    settings of that run; `refit` samples. Warnings about the file reach the result."""
    fitted = _fake_fits(monkeypatch)
    workspace, settings = Workspace(tmp_path / "ws"), _settings()
    first = _update(EXAMPLE, workspace).run
    extra = write_csv(tmp_path / "x.csv", "x1,2025-02-21,signal,territorial_rigidity,0.1,,,E,5,a weak reading,n",
                      header=HEADER + ",note")
    messages = []
    result = _update(extra, workspace, messages)
    assert len(fitted) == 1, "a reading this weak must be reweighted, not sampled"
    diagnostics = result.run.diagnostics
    assert (diagnostics["method"], diagnostics["base_run"]) == ("reweighted", first.run_id)
    assert diagnostics["target_accept"] == settings.target_accept
    assert (result.run.draws, result.run.tune, result.run.chains) == (settings.draws, settings.tune, settings.chains)
    assert result.warnings == [f"{extra}: kept unknown column(s) 'note' in the ledger as free text"]
    assert result.previous.run_id == first.run_id and [e.event_id for e in result.new_events] == ["x1"]
    assert not any(m.startswith("sampled by hand") for m in messages)
    nothing_new = _update(extra, workspace)
    assert (nothing_new.refitted, nothing_new.warnings) == (False, result.warnings)

    again = write_csv(tmp_path / "y.csv", "y1,2025-02-21,signal,territorial_rigidity,0.2,,,E,5,another weak reading")
    messages = []
    refitted = _update(again, workspace, messages, refit=True, progress=True)
    assert len(fitted) == 2 and refitted.run.diagnostics["method"] == "sampled"
    assert "sampled by hand (with a progress line)" in messages


def test_a_sampled_run_stores_the_settings_the_fit_used_after_a_retry(tmp_path, monkeypatch):
    _fake_fits(monkeypatch, retried=True)
    run = _update(EXAMPLE, Workspace(tmp_path / "ws")).run
    settings = _settings()
    assert (run.tune, run.diagnostics["target_accept"]) == (2 * settings.tune, 0.97)


def test_nothing_new_writes_the_brief_its_run_never_had(tmp_path, monkeypatch):
    """A run stored without a brief (--no-report, or its brief failed) gets one when the same
    log comes again: the brief of that run, not a new run."""
    from forecast.brief import publish

    _fake_fits(monkeypatch)
    written = []

    def write_report(workspace, run):
        written.append((workspace, run.run_id))
        return workspace.root / "brief.pdf"

    monkeypatch.setattr(publish, "write_report", write_report)
    workspace = Workspace(tmp_path / "ws")
    first = _update(EXAMPLE, workspace).run  # report=False
    messages = []
    from forecast.updating.pipeline import update

    result = update(EXAMPLE, workspace, settings=_settings(), progress=False, report=True, log=messages.append)
    assert written == [(workspace, first.run_id)]
    assert (result.run.run_id, result.refitted, result.report) == (first.run_id, False, workspace.root / "brief.pdf")
    assert messages[-1] == "writing the brief"


def test_an_update_that_waits_for_the_lock_says_so(tmp_path, monkeypatch):
    import fcntl

    from forecast.errors import WorkspaceBusy

    _fake_fits(monkeypatch)
    root = tmp_path / "ws"
    root.mkdir()
    workspace = Workspace(root, lock_timeout=0.2)
    messages = []
    with open(root / ".lock", "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process's update, as far as the lock can tell
        with pytest.raises(WorkspaceBusy):
            _update(EXAMPLE, workspace, messages)
    assert len(messages) == 1 and "waiting for it to finish, for at most 0.2 s" in messages[0]


def test_input_the_given_priors_refuse_leaves_no_workspace_behind(tmp_path, priors, monkeypatch):
    """The check before the lock uses the priors the user named, not the shipped ones: events
    that only those priors refuse must fail before the workspace folder or its lock exist."""
    import shutil

    from forecast.errors import InputError
    from forecast.io.priors import default_priors_dir

    _fake_fits(monkeypatch)
    later = tmp_path / "priors"
    shutil.copytree(default_priors_dir(), later)
    outcomes = later / "outcomes.yaml"
    outcomes.write_text(outcomes.read_text(encoding="utf-8").replace("value: 2025-02-17", "value: 2040-01-02", 1),
                        encoding="utf-8")
    root = tmp_path / "ws"
    with pytest.raises(InputError, match="before the priors' start"):
        _update(EXAMPLE, Workspace(root), priors_dir=later)
    assert not root.exists()


def test_the_run_of_a_deal_the_base_run_knew_adds_nothing_to_the_weights(priors, monkeypatch):
    """The base run already knew of a deal, so the week after it was in that deal's run for the
    base run too: a late reading in that week is the only new information, and each draw's log
    weight is that reading's density alone (computed here with scipy)."""
    from forecast.inference import incremental

    seen = _log_ratios_seen(monkeypatch)
    rng = np.random.default_rng(12)
    deal = _event("deal-old", kind="outcome", day=dt.date(2025, 2, 18), outcome="energy_food_deal")
    base_events = [*read_events(EXAMPLE, priors).events, deal]
    late = dataclasses.replace(_event("late", day=dt.date(2025, 2, 25), factor="territorial_rigidity", signal=1.0,
                                      source_reliability="C", info_credibility="3"), reported=dt.date(2025, 2, 26))
    data = build_dataset([*base_events, late], priors, dt.date(2025, 2, 26))
    after = list(data.occasions).index("after_energy_food_deal")
    assert data.occasion_counts[1, after] == 1  # the base run's second week is in the deal's run
    chains, draws = 2, 1000
    base = _posterior(data.factors, data.weeks, data.deals, chains=chains, draws=draws, seed=4, level=0.5, spread=0.4)
    base["nu"].values[:] = 1e7
    base["noise"].values[:] = 2.0
    occasions = list(priors.outcomes.occasions)
    base["occasion_effect"] = (("chain", "draw", "deal", "occasion"),
                               rng.normal(0.5, 1.0, (chains, draws, len(data.deals), len(occasions))))
    base = base.assign_coords(occasion=occasions)

    incremental.reweight(base, data, base_events, dt.date(2025, 2, 25), [*base_events, late], seed=3)

    d = Draws.from_dataset(base)
    level = d.theta[:, list(data.factors).index("territorial_rigidity"), 1]
    expected = stats.norm.logpdf(1.0, loc=level, scale=2.0)
    assert len(seen) == 1 and np.ptp(expected) > 0.1
    assert np.ptp(seen[0] - expected) < 1e-4
