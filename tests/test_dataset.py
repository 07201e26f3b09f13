"""Which events count, and how they become weeks and arrays."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from forecast.errors import InputError
from forecast.io.events import Event
from forecast.model.dataset import build_dataset, monday

D = dt.date


def ev(event_id, day, kind="signal", factor="territorial_rigidity", signal=1.0, outcome=None, retracts=None, reported=None, grade=("B", "2")):
    return Event(event_id=event_id, kind=kind, date=day, reported=reported or day,
                 factor=factor if kind == "signal" else None, signal=signal if kind == "signal" else None,
                 outcome=outcome, retracts=retracts, source_reliability=grade[0], info_credibility=grade[1],
                 actor="", description="", source="")


def test_weeks_run_from_start_monday_to_as_of_week(priors):
    data = build_dataset([ev("a", D(2025, 3, 5))], priors, as_of=D(2025, 3, 12))
    assert data.weeks[0] == D(2025, 2, 17) and data.weeks[-1] == D(2025, 3, 10)
    assert all(w.weekday() == 0 for w in data.weeks) and data.n_weeks == 4
    assert data.signal_week.tolist() == [2]


def test_an_earlier_event_moves_the_start(priors):
    data = build_dataset([ev("a", D(2025, 1, 1)), ev("b", D(2025, 2, 20))], priors, as_of=D(2025, 2, 21))
    assert data.weeks[0] == monday(D(2025, 1, 1)) == D(2024, 12, 30)
    assert data.signal_week.tolist() == [0, 7]


def test_as_of_hides_later_reports_and_retractions_apply(priors):
    events = [
        ev("a", D(2025, 2, 18)),
        ev("b", D(2025, 2, 18), reported=D(2025, 3, 1)),  # known only from March
        ev("c", D(2025, 2, 19)),
        ev("r", D(2025, 2, 20), kind="retraction", retracts="c"),
        ev("r2", D(2025, 2, 20), kind="retraction", retracts="a", reported=D(2025, 3, 2)),
    ]
    early = build_dataset(events, priors, as_of=D(2025, 2, 21))
    assert early.counts == {"total": 1, "signals": 1, "outcomes": 0, "retracted": 1}
    late = build_dataset(events, priors, as_of=D(2025, 3, 3))
    assert late.counts == {"total": 1, "signals": 1, "outcomes": 0, "retracted": 2}  # only b is left
    assert early.data_hash != late.data_hash


def test_outcome_counts_mark_every_other_week_as_none(priors):
    events = [
        ev("o1", D(2025, 2, 26), kind="outcome", outcome="local_ceasefire"),
        ev("o2", D(2025, 2, 27), kind="outcome", outcome="energy_food_deal"),
        ev("o3", D(2025, 3, 12), kind="outcome", outcome="energy_food_deal"),
    ]
    data = build_dataset(events, priors, as_of=D(2025, 3, 14))
    np.testing.assert_array_equal(data.outcome_counts, [[1, 0, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]])


def test_grades_become_indices(priors):
    data = build_dataset([ev("a", D(2025, 2, 18), grade=("A", "1")), ev("b", D(2025, 2, 18), grade=("F", "6"))], priors, as_of=D(2025, 2, 18))
    assert data.signal_reliability.tolist() == [0, 5] and data.signal_credibility.tolist() == [0, 5]


def test_ledger_event_for_a_factor_the_priors_lack(priors):
    with pytest.raises(InputError, match="factor 'old_factor', which these priors do not define"):
        build_dataset([ev("a", D(2025, 2, 18), factor="old_factor")], priors, as_of=D(2025, 2, 18))


def test_as_of_before_the_first_week(priors):
    with pytest.raises(InputError, match="before the model's first week"):
        build_dataset([ev("a", D(2025, 2, 18))], priors, as_of=D(2024, 1, 1))
