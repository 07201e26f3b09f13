"""Decision rules with tests that fail when they break (issue 12, last part).

Each test pins one rule that decides what the user is told, against an exact answer, and was
seen to fail with the rule broken by a one-line edit (docs/MUTATION.md lists the edits). No test
here samples: fits are replaced by draws built by hand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno

import numpy as np
import pytest
import xarray as xr
from conftest import EXAMPLE, write_csv
from scipy import stats
from scipy.special import expit
from test_ledger import _run

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES
from forecast.errors import ForecastError, InputError
from forecast.io.events import Event, KnownEvent, read_events
from forecast.io.ledger import Ledger
from forecast.io.workspace import UNCOMMITTED, Workspace
from forecast.model.dataset import build_dataset
from forecast.model.draws import Draws, Signals

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


def _fake_fits(monkeypatch) -> list:
    """Replace the sampler in `update` by draws built by hand; returns the datasets it was asked to fit."""
    from forecast.inference.fit import forecast_from_posterior
    from forecast.updating import pipeline

    fitted = []

    def fit_checked(data, priors, settings, *, progress=False, log=lambda message: None):
        fitted.append(data)
        posterior = _posterior(data.factors, data.weeks, data.deals, chains=settings.chains, draws=settings.draws)
        table = forecast_from_posterior(posterior, priors, settings.seed, data.occasions_ahead)
        diagnostics = {"r_hat_max": 1.0, "ess_bulk_min": 400.0, "ess_tail_min": 400.0, "divergences": 0,
                       "sampling_seconds": 0.0, "chains": settings.chains, "passed": True, "problems": [],
                       "method": "sampled", "target_accept": settings.target_accept}
        return xr.DataTree.from_dict({"posterior": posterior}), diagnostics, table, settings

    monkeypatch.setattr(pipeline, "fit_checked", fit_checked)
    return fitted


def _settings():
    from forecast.inference.fit import FitSettings

    return FitSettings(draws=50, tune=50, chains=2, seed=7)


def _update(path, workspace, messages=None, **options):
    from forecast.updating.pipeline import update

    log = messages.append if messages is not None else (lambda message: None)
    return update(path, workspace, settings=_settings(), progress=False, report=False, log=log, **options)


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
    sampled = _run("r1-sampled", created_at="2026-01-01T00:00:00+00:00", diagnostics={"method": "sampled", "target_accept": 0.9},
                   **common)
    reweighted = _run("r2-reweighted", created_at="2026-01-02T00:00:00+00:00",
                      diagnostics={"method": "reweighted", "base_run": "r1-sampled", "target_accept": 0.9}, **common)
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
        refits.append((list(events_before), as_of_, settings, horizon))
        return Counterfactual(without, passed=False, seconds=12.0)

    monkeypatch.setattr(what_moved, "forecast_without_new_events", refit)
    result = what_moved.explain_run(run, previous, posterior, priors, data, now, before)
    return result, refits, run, previous, without, before


def test_what_moved_refits_without_the_new_events_when_reweighting_is_unreliable(priors, monkeypatch):
    surprising = [_event(f"x{i}", day=dt.date(2025, 2, 24), factor="territorial_rigidity", signal=-2.5) for i in range(6)]
    result, refits, run, previous, without, before = _explain(priors, monkeypatch, surprising)
    assert len(refits) == 1, "unreliable weights must be replaced by a refit"
    events, as_of, settings, horizon = refits[0]
    assert events == before and as_of == run.as_of and horizon == run.horizon_weeks
    assert (settings.draws, settings.tune, settings.chains, settings.seed) == (500, 50, 2, 7)
    assert result.method == "refit" and not result.new_information.reliable
    for key in without:
        assert result.new_information.change[key] == pytest.approx(run.headline[key]["p"] - without[key], abs=1e-12)
        assert result.time_and_other[key] == pytest.approx(without[key] - previous.headline[key]["p"], abs=1e-12)
    assert "refitting the model on the previous run's events" in result.notes[-1]
    assert "(12 s)" in result.notes[-1] and "treat the split as indicative" in result.notes[-1]


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
        fitted.append((data, settings))
        return None, dataclasses.make_dataclass("D", ["passed"])(True), forecast_table(incidence, keys, incidence)

    monkeypatch.setattr(counterfactual, "fit_forecast", fit_forecast)
    before = read_events(EXAMPLE, priors).events
    later = dt.date(2025, 3, 5)
    result = counterfactual.forecast_without_new_events(before, priors, later, _settings(), 12)
    (data, settings), = fitted
    assert data.as_of == later and data.counts["signals"] == len(before) and settings == _settings()
    assert result.p == pytest.approx(dict(zip(keys, np.linspace(0.1, 0.9, len(keys)))))
    assert result.passed and result.seconds >= 0


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
