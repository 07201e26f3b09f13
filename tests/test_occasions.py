"""Scheduled occasions: logged ahead, counted in their week, and moving that week's deal odds in
the fit, the forecast and every reweighting."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from conftest import HEADER, write_csv

from forecast.errors import InputError
from forecast.forecasting.incidence import cumulative_incidence
from forecast.io.events import read_events
from forecast.model.dataset import build_dataset
from forecast.model.likelihood_on_draws import Draws

D = dt.date
TODAY = D(2025, 4, 1)
OCCASION_HEADER = HEADER + ",reported,occasion"


def _read(tmp_path, priors, *rows):
    return read_events(write_csv(tmp_path / "e.csv", *rows, header=OCCASION_HEADER), priors, today=TODAY).events


def test_an_occasion_ahead_is_accepted_with_its_report_date(tmp_path, priors):
    events = _read(tmp_path, priors, "s1,2025-04-20,scheduled,,,,,,,Easter,2025-03-01,orthodox_easter")
    (e,) = events
    assert (e.kind, e.occasion, e.date, e.reported) == ("scheduled", "orthodox_easter", D(2025, 4, 20), D(2025, 3, 1))
    assert e.content["occasion"] == "orthodox_easter"


def test_other_rows_keep_the_content_they_always_had(tmp_path, priors):
    (e,) = _read(tmp_path, priors, "a1,2025-03-01,signal,territorial_rigidity,2.0,,,B,2,x,,")
    assert "occasion" not in e.content  # so every stored data hash stays valid


@pytest.mark.parametrize(("row", "message"), [
    ("s1,2025-04-20,scheduled,,,,,,,x,,orthodox_eastr", "did you mean 'orthodox_easter'?"),
    ("s1,2025-04-20,scheduled,,,,,,,x,,", "needs a value in 'occasion'"),
    ("s1,2028-04-20,scheduled,,,,,,,x,,orthodox_easter", "more than two years ahead"),
    ("s1,2025-04-20,scheduled,,,,,,,x,2025-04-02,orthodox_easter", "in the future"),
    ("a1,2025-04-20,signal,territorial_rigidity,2.0,,,B,2,x,,", "in the future"),
    ("a1,2025-03-20,signal,territorial_rigidity,2.0,,,B,2,x,,orthodox_easter", "belongs to scheduled rows"),
])
def test_bad_occasions_are_named(tmp_path, priors, row, message):
    with pytest.raises(InputError, match=message):
        _read(tmp_path, priors, row)


def test_occasions_are_counted_in_their_week_once_known(tmp_path, priors):
    events = _read(
        tmp_path, priors,
        "a1,2025-02-18,signal,territorial_rigidity,2.0,,,B,2,x,,",
        "s1,2025-02-26,scheduled,,,,,,,in an observed week,2025-02-20,summit",
        "s2,2025-03-19,scheduled,,,,,,,two weeks ahead,2025-02-20,deal_expiry",
        "s3,2025-03-20,scheduled,,,,,,,reported after the as-of date,2025-03-10,victory_day",
        "s4,2026-03-20,scheduled,,,,,,,beyond the forecast,2025-02-20,deadline",
    )
    data = build_dataset(events, priors, D(2025, 3, 5))
    o = list(data.occasions)
    assert data.n_weeks == 3  # scheduled rows never stretch the observed weeks
    assert data.occasion_counts[1, o.index("summit")] == 1 and data.occasion_counts.sum() == 1
    assert data.occasions_ahead[1, o.index("deal_expiry")] == 1  # the week of 17 March: h = 2
    assert data.occasions_ahead.sum() == 1  # s3 not yet reported, s4 beyond forecast_weeks
    assert data.counts["scheduled"] == 3 and data.counts["total"] == 1


def _draws(n=4, boost=0.0, baseline=-3.0):
    return Draws(theta=np.zeros((n, 1, 1)), baseline=np.full((n, 2), baseline), effect=np.zeros((n, 2, 1)),
                 volatility=np.zeros((n, 1)), occasion_effect=np.tile([[boost], [0.0]], (n, 1, 1)))


def test_an_occasion_ahead_moves_only_its_week(priors):
    draws = _draws(boost=2.0)
    ahead = np.zeros((6, 1))
    ahead[2] = 1  # an occasion in week 3
    out = cumulative_incidence(draws, 6, np.random.default_rng(0), ahead)
    quiet = np.exp([0.0, -3.0, -3.0])
    quiet /= quiet.sum()
    busy = np.exp([0.0, -1.0, -3.0])
    busy /= busy.sum()
    survival = [quiet[0], quiet[0] ** 2, quiet[0] ** 2 * busy[0]]
    np.testing.assert_allclose(out[0, :3, 2], survival, rtol=1e-12)
    # First deal in week 3 is the boosted one with busy[1] / busy[0] odds.
    np.testing.assert_allclose(out[0, 2, 0] - out[0, 1, 0], survival[1] * busy[1], rtol=1e-12)
    without = cumulative_incidence(draws, 6, np.random.default_rng(0))
    np.testing.assert_allclose(without[0, :2], out[0, :2], rtol=1e-12)
    assert out[0, 2, 0] > without[0, 2, 0]


def test_a_changed_occasion_is_weighed_by_the_whole_change_of_likelihood():
    draws = _draws(n=3)
    # (draws, deals, occasions): the occasion moves the first deal type by 0.5, 1.5 or 2.5.
    draws = Draws(**{**draws.__dict__, "occasion_effect": np.array([[[0.5], [0.0]], [[1.5], [0.0]], [[2.5], [0.0]]])})
    counts = np.array([[1, 0, 0], [0, 1, 0]])
    with_occasion = np.array([[0.0], [1.0]])
    change = draws.change_log_likelihood([], [], [], D(2025, 1, 6), outcomes_a=(counts, None), outcomes_b=(counts, with_occasion))
    expected = draws.outcome_log_likelihood(counts, with_occasion) - draws.outcome_log_likelihood(counts, None)
    np.testing.assert_allclose(change, expected, rtol=1e-12)
    assert change[2] > change[1] > change[0]  # the deal fell in the occasion's week: larger effects explain it better


# --- the weeks after a deal: occasion types that follow from the outcomes -----------------------


def test_the_weeks_after_a_deal_are_an_occasion_found_from_the_outcomes(tmp_path, priors):
    """`after_local_ceasefire` (8 weeks in the default priors) is 1 in each of the 8 weeks after a
    week with a local ceasefire, once that deal is known; a second deal extends the run rather
    than doubling it; ahead of the as-of week it continues into the forecast window."""
    events = _read(
        tmp_path, priors,
        "a1,2025-01-07,signal,territorial_rigidity,2.0,,,B,2,x,,",
        "d1,2025-01-15,outcome,,,local_ceasefire,,A,1,a truce,,",
        "d2,2025-01-22,outcome,,,local_ceasefire,,A,1,another a week later,,",
        "d3,2025-02-26,outcome,,,energy_food_deal,,A,1,reported after the as-of date,2025-03-20,",
    )
    data = build_dataset(events, priors, D(2025, 3, 5))
    o = list(data.occasions)
    after_local, after_energy = o.index("after_local_ceasefire"), o.index("after_energy_food_deal")
    weeks = [w.isoformat() for w in data.weeks]
    on = [weeks[i] for i in np.flatnonzero(data.occasion_counts[:, after_local])]
    # Deals in the weeks of 13 and 20 January: the 8 weeks after each, as one run of 9 weeks.
    assert on == [w.isoformat() for w in (D(2025, 1, 20) + dt.timedelta(weeks=i) for i in range(9)) if w <= D(2025, 3, 3)]
    assert data.occasion_counts[:, after_local].max() == 1
    ahead = np.flatnonzero(data.occasions_ahead[:, after_local]) + 1
    assert list(ahead) == list(range(1, 9 - len(on) + 1))  # the rest of the run, from the week after the as-of week
    assert not data.occasion_counts[:, after_energy].any() and not data.occasions_ahead[:, after_energy].any()
    assert data.occasion_follows[after_local].deal == "local_ceasefire"
    # Known on 20 March, the energy deal starts its run then.
    later = build_dataset(events, priors, D(2025, 3, 20))
    assert later.occasion_counts[:, after_energy].sum() == 3 and later.occasions_ahead[:, after_energy].sum() == 5
    # A retracted deal takes its weeks with it.
    retraction = dataclasses.replace(events[0], event_id="r1", kind="retraction", factor=None, signal=None,
                                     retracts="d2", date=D(2025, 3, 1), reported=D(2025, 3, 1))
    retracted = [*events, retraction]
    # The same runs from the weekly counts, as simulation-based calibration finds them.
    from forecast.model.dataset import deal_run_counts

    from_counts = deal_run_counts(data.outcome_counts, data.deals, data.occasion_follows)
    assert np.array_equal(from_counts[:, after_local], data.occasion_counts[:, after_local])
    assert not from_counts[:, [i for i, f in enumerate(data.occasion_follows) if f is None]].any()
    without_d2 = build_dataset(retracted, priors, D(2025, 3, 5))
    assert np.array_equal(without_d2.occasion_counts[:, after_local], data.occasion_counts[:, after_local])
    assert without_d2.occasions_ahead[:, after_local].sum() == len(ahead) - 1  # the run ends a week earlier


def test_the_weeks_after_a_deal_are_not_logged_by_hand(tmp_path, priors):
    with pytest.raises(InputError, match=r"e\.csv, line 2, column 12 \('occasion'\): occasion type 'after_local_ceasefire' is not logged: "
                                         r"it is the 8 weeks after each 'local_ceasefire' outcome"):
        _read(tmp_path, priors, "s1,2025-04-20,scheduled,,,,,,,x,,after_local_ceasefire")


@pytest.mark.parametrize(("follows", "message"), [
    ({"deal": "local_ceasfire", "weeks": 8}, "'local_ceasfire' is not a deal type; did you mean 'local_ceasefire'?"),
    ({"deal": "local_ceasefire", "weeks": 0}, "expected a whole number of weeks from 1 to 52, got 0"),
    ({"deal": "local_ceasefire", "weeks": 8.5}, "expected a whole number of weeks from 1 to 52, got 8.5"),
])
def test_a_bad_follows_rule_is_named_in_the_priors(priors, follows, message):
    import copy

    from forecast.io.priors import parse_priors

    content = copy.deepcopy(priors.content)
    rule = content["outcomes.yaml"]["occasions"]["after_local_ceasefire"]["follows"]
    rule.update(follows)
    with pytest.raises(InputError, match=rf"outcomes\.yaml.*occasions.*after_local_ceasefire.*follows.*{message}"):
        parse_priors(content, priors.directory)


def test_simulated_deals_come_in_runs_where_the_priors_say_so(priors):
    """The prior predictive draws outcomes week by week so that a deal raises the odds in the weeks
    after it, as the fitted model reads them: here local ceasefires, rare (e^-5 a week) except
    within 8 weeks of one (+5 on the log-odds)."""
    import xarray as xr

    from forecast.evaluation.simulate import outcomes_in_runs

    n, weeks = 400, 60
    deals, occasions = list(priors.outcomes.deals), list(priors.outcomes.occasions)
    effect = np.zeros((n, len(deals), len(occasions)))
    effect[:, deals.index("local_ceasefire"), occasions.index("after_local_ceasefire")] = 5.0
    baseline = np.full((n, len(deals)), -12.0)
    baseline[:, deals.index("local_ceasefire")] = -5.0
    prior = xr.Dataset({
        "theta": (("draw", "factor", "week"), np.zeros((n, len(priors.factors), weeks))),
        "baseline": (("draw", "deal"), baseline),
        "effect": (("draw", "deal", "factor"), np.zeros((n, len(deals), len(priors.factors)))),
        "occasion_effect": (("draw", "deal", "occasion"), effect),
    })
    drawn = outcomes_in_runs(prior, priors, np.random.default_rng(1))
    assert drawn.shape == (n, weeks, 1 + len(deals)) and (drawn.sum(axis=2) == 1).all()
    local = drawn[:, :, 1 + deals.index("local_ceasefire")]
    lag = np.full(local.shape, 10**6)  # weeks since the draw's latest local ceasefire before each week
    for w in range(1, weeks):
        lag[:, w] = np.where(local[:, w - 1] == 1, 1, lag[:, w - 1] + 1)
    # Up to 8 weeks after a deal the weekly chance is expit(0) = 1/2, from the 9th e^-5 / (1 + e^-5).
    for weeks_since in (1, 8):
        assert local[lag == weeks_since].mean() == pytest.approx(0.5, abs=0.1), weeks_since
    assert local[lag > 8].mean() == pytest.approx(np.exp(-5) / (1 + np.exp(-5)), abs=0.003)


def test_a_ledger_row_of_a_derived_occasion_type_is_refused_word_for_word(tmp_path, priors):
    """A scheduled row logged before the priors made its type follow a deal: named, with what to do."""
    [easter] = _read(tmp_path, priors, "s1,2025-04-20,scheduled,,,,,,,Easter,2025-03-01,orthodox_easter")
    stale = dataclasses.replace(easter, occasion="after_local_ceasefire")
    with pytest.raises(InputError) as refused:
        build_dataset([stale], priors, D(2025, 3, 5))
    assert str(refused.value) == ("event 's1' in the ledger is a scheduled 'after_local_ceasefire', which these priors "
                                  "derive from the outcomes (the weeks after a deal); retract the event")
