"""Scheduled occasions: logged ahead, counted in their week, and moving that week's deal odds in
the fit, the forecast and every reweighting."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import HEADER, write_csv

from forecast.errors import InputError
from forecast.forecasting.incidence import cumulative_incidence
from forecast.io.events import read_events
from forecast.model.dataset import build_dataset
from forecast.model.draws import Draws

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
