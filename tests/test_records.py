"""The shipped joint record is the join of its two records (scripts/join_records.py), so a
correction to either record reaches the log every backtest of 2014-2026 reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from forecast.io.events import read_events

ROOT = Path(__file__).resolve().parents[1]


def _join_records():
    spec = importlib.util.spec_from_file_location("join_records", ROOT / "scripts" / "join_records.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_joint_record_is_the_join_of_its_two_records():
    join = _join_records()
    assert (ROOT / "examples" / join.JOINT).read_text(encoding="utf-8") == join.joint_text(), \
        "run scripts/join_records.py after changing either record"


def test_the_joint_record_holds_every_row_of_both_records_once():
    from forecast.io.priors import load_priors

    priors = load_priors(ROOT / "priors-2014")
    join = _join_records()
    parts = [read_events(ROOT / "examples" / name, priors).events for name in join.PARTS]
    joint = read_events(ROOT / "examples" / join.JOINT, priors).events
    assert [e.event_id for e in joint] == [e.event_id for part in parts for e in part]
