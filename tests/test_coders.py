"""Coders (issue 29): the coder and contested columns, pooling two codings, their agreement, and
the sampling tier's house effects, single-coder invariance and contested headline."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import xarray as xr
from brief_helpers import pdf_text
from cli_helpers import SMALL, forecast
from conftest import EXAMPLE, HEADER, write_csv

from forecast.errors import InputError
from forecast.evaluation.agreement import POOLED, CodingForecast, agreement, outside_ranges, pooled_outside, split_by_coder
from forecast.evaluation.pooling import pool_codings
from forecast.io.events import Event, read_events
from forecast.io.events_writer import write_events

CODED = HEADER + ",coder,contested,occasion"
DAY = dt.date(2025, 2, 17)  # a Monday


def _event(event_id, days, kind="signal", factor="territorial_rigidity", signal=1.0, outcome=None, retracts=None,
           occasion=None, source="") -> Event:
    date = DAY + dt.timedelta(days=days)
    return Event(event_id=event_id, kind=kind, date=date, reported=date, factor=factor if kind == "signal" else None,
                 signal=signal if kind == "signal" else None, outcome=outcome, retracts=retracts, source_reliability="B",
                 info_credibility="2", actor="", description=event_id, source=source, occasion=occasion)


# --- the columns -----------------------------------------------------------------------------

def test_the_coder_and_contested_columns_are_read(tmp_path, priors):
    path = write_csv(tmp_path / "e.csv", "e1,2025-02-18,signal,territorial_rigidity,2.5,,,B,2,x,Ann,,",
                     "e2,2025-02-19,outcome,,,local_ceasefire,,A,1,x,Bo,yes,", "e3,2025-02-20,outcome,,,local_ceasefire,,A,1,x,,no,",
                     header=CODED)
    events = read_events(path, priors, today=dt.date(2025, 3, 1)).events
    assert [(e.coder, e.contested) for e in events] == [("Ann", False), ("Bo", True), ("", False)]


@pytest.mark.parametrize(("row", "column", "message"), [
    ("e1,2025-02-18,signal,territorial_rigidity,2.5,,,B,2,x,,yes,", "column 12 ('contested')", "only an outcome can be contested"),
    ("e1,2025-02-18,outcome,,,local_ceasefire,,A,1,x,,maybe,", "column 12 ('contested')", "expected 'yes', 'no' or nothing"),
    ("e1,2025-02-18,signal,territorial_rigidity,2.5,,,B,2,x," + "A" * 81 + ",,", "column 11 ('coder')", "at most 80"),
])
def test_a_bad_coder_or_contested_cell_is_named_by_line_and_column(tmp_path, priors, row, column, message):
    path = write_csv(tmp_path / "e.csv", row, header=CODED)
    with pytest.raises(InputError) as error:
        read_events(path, priors, today=dt.date(2025, 3, 1))
    assert "line 2" in str(error.value) and column in str(error.value) and message in str(error.value)


def test_written_events_read_back_the_same(tmp_path, priors):
    events = read_events(EXAMPLE, priors).events
    pooled = pool_codings(events, [dataclasses.replace(e, signal=e.signal - 0.5) for e in events], ("A", "B"))
    write_events(tmp_path / "pooled.csv", pooled)
    again = read_events(tmp_path / "pooled.csv", priors).events
    assert again == pooled


# --- pooling ---------------------------------------------------------------------------------

def test_pooling_marks_coders_logs_a_shared_deal_once_and_contests_a_lone_one():
    first = [_event("r1", 0), _event("d1", 2, kind="outcome", outcome="local_ceasefire"),
             _event("d2", 9, kind="outcome", outcome="energy_food_deal"), _event("s1", 20, kind="scheduled", occasion="easter"),
             _event("r2", 30), _event("d3", 40, kind="outcome", outcome="local_ceasefire")]
    second = [_event("r1", 1, signal=2.0), _event("d9", 3, kind="outcome", outcome="local_ceasefire"),
              _event("d8", 16, kind="outcome", outcome="local_ceasefire"), _event("x8", 17, kind="retraction", retracts="d9"),
              _event("s2", 21, kind="scheduled", occasion="easter"), _event("s3", 25, kind="scheduled", occasion="christmas"),
              _event("r3", 28), _event("d7", 41, kind="outcome", outcome="local_ceasefire")]
    pooled = {e.event_id: e for e in pool_codings(first, second, ("A", "B"))}
    # Readings: both coders', the second's id that the first already uses prefixed with its coder.
    assert (pooled["r1"].coder, pooled["B:r1"].coder, pooled["B:r1"].signal) == ("A", "B", 2.0)
    # d9 is the deal A logged as d1 (same week): logged once, and B's retraction of it goes too.
    assert "d9" not in pooled and "B:d9" not in pooled and "x8" not in pooled
    # A's d2 and B's d8 each stand alone in the dates both cover: contested; so does d1, whose
    # counterpart B withdrew. d3 and d7 are one deal: A's row, not contested.
    assert pooled["d2"].contested and pooled["d8"].contested and pooled["d1"].contested
    assert not pooled["d3"].contested and "d7" not in pooled
    # Occasions: A's Easter, not B's of the next day; B's Christmas (A has none).
    assert "s2" not in pooled and pooled["s3"].coder == "" and pooled["s1"].coder == ""
    assert {e.coder for e in split_by_coder(list(pooled.values()))["B"] if e.kind == "signal"} == {"B"}


def test_a_deal_outside_the_dates_both_cover_is_not_contested():
    first = [_event("r1", 0), _event("d1", 60, kind="outcome", outcome="local_ceasefire")]
    second = [_event("q1", 0), _event("q2", 20)]
    assert not {e.event_id: e for e in pool_codings(first, second, ("A", "B"))}["d1"].contested


# --- agreement -------------------------------------------------------------------------------

def test_agreement_of_a_coding_with_itself_is_perfect(priors):
    events = read_events(EXAMPLE, priors).events
    result = agreement(events, events, ("a", "b"), list(priors.factors))
    assert len(result.pairs) == sum(e.kind == "signal" for e in events) and result.unmatched == (0, 0)
    assert result.alpha_readings == pytest.approx(1.0)
    assert all(p.difference == 0 and p.first is p.second for p in result.pairs)


def test_agreement_finds_the_coding_that_reads_higher_and_names_its_rows(priors):
    events = read_events(EXAMPLE, priors).events
    shifted = [dataclasses.replace(e, event_id="b-" + e.event_id, signal=min(3.0, e.signal + 1.0))
               if e.kind == "signal" and e.factor == "security_guarantee_gap" else e for e in events]
    result = agreement(events, shifted, ("a", "b"), list(priors.factors))
    n, alpha, mean = result.by_factor["security_guarantee_gap"]
    assert n > 5 and 0.5 < mean <= 1.0 and alpha < 1.0
    assert result.by_factor["territorial_rigidity"][2] == 0.0
    top = result.largest(3)
    assert all(p.second.event_id.startswith("b-") and p.difference > 0.5 for p in top)


def test_agreement_compares_deals_week_by_week(priors):
    first = [_event("r1", 0), _event("d1", 8, kind="outcome", outcome="local_ceasefire"), _event("r2", 40)]
    second = [_event("q1", 0), _event("e1", 9, kind="outcome", outcome="local_ceasefire"),
              _event("e2", 22, kind="outcome", outcome="energy_food_deal"), _event("q2", 40)]
    result = agreement(first, second, ("a", "b"), list(priors.factors))
    assert len(result.deals) == 6  # the weeks from the first reading to the last
    [disagreement] = result.deal_disagreements
    assert disagreement.second == "energy_food_deal" and disagreement.first == "no deal" and disagreement.second_event.event_id == "e2"


def _forecast(name, as_of, p, lo, hi) -> CodingForecast:
    return CodingForecast(name, as_of, {"local_ceasefire": (p, lo, hi), "protracted_war": (1 - p, 1 - hi, 1 - lo)}, True)


def test_cells_outside_the_other_codings_range_are_counted():
    day = dt.date(2025, 6, 2)
    forecasts = [_forecast("a", day, 0.30, 0.20, 0.40), _forecast("b", day, 0.45, 0.35, 0.55),
                 _forecast(POOLED, day, 0.37, 0.30, 0.44)]
    assert outside_ranges(forecasts) == [(day, "local_ceasefire"), (day, "protracted_war")]
    assert pooled_outside(forecasts) == []
    forecasts[2] = _forecast(POOLED, day, 0.50, 0.45, 0.55)
    assert pooled_outside(forecasts) == [(day, "local_ceasefire", "a"), (day, "protracted_war", "a")]


def test_forecast_agreement_reports_without_fitting(tmp_path):
    other = tmp_path / "other.csv"
    rows = list(csv.DictReader(EXAMPLE.open(encoding="utf-8")))
    for row in rows:
        row["event_id"] = "o-" + row["event_id"]
        if row["factor"] == "territorial_rigidity":
            row["signal"] = str(max(-3.0, float(row["signal"]) - 1.0))
    with other.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = forecast("agreement", EXAMPLE, other, "--as-of", "none", "--json").stdout
    report = json.loads(out)
    assert report["readings"]["by_factor"]["territorial_rigidity"]["mean_difference"] < -0.5
    assert report["largest"][0]["second"].startswith("o-") and report["forecasts"] == []
    text = forecast("agreement", EXAMPLE, other, "--as-of", "none").stdout
    assert "Krippendorff's alpha (interval)" in text and "o-" in text
    same = forecast("agreement", EXAMPLE, EXAMPLE, "--as-of", "none", check=False)
    assert same.returncode == 2 and "different file names" in same.stderr


# --- the sampling tier -------------------------------------------------------------------------

def _two_coder_log(tmp_path: Path, shift: float, contested: bool) -> Path:
    """The example coded twice: B reads the security-guarantee gap `shift` higher than A."""
    rows = list(csv.DictReader(EXAMPLE.open(encoding="utf-8")))
    out = []
    for row in rows:
        out.append({**row, "coder": "A"})
        signal = float(row["signal"]) + (shift if row["factor"] == "security_guarantee_gap" else 0.0)
        out.append({**row, "event_id": "b-" + row["event_id"], "signal": f"{max(-3.0, min(3.0, signal)):.1f}", "coder": "B"})
    last = max(row["date"] for row in rows)
    out.append({"event_id": "deal-1", "date": last, "reported": last, "kind": "outcome", "outcome": "energy_food_deal",
                "source_reliability": "B", "info_credibility": "2", "description": "a truce one side announced",
                "coder": "A", "contested": "yes" if contested else ""})
    path = tmp_path / "two.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "outcome", "coder", "contested"])
        writer.writeheader()
        writer.writerows(out)
    return path


def _latest_posterior(workspace: Path) -> xr.Dataset:
    runs = sorted((workspace / "runs").iterdir())
    return xr.open_datatree(runs[-1] / "posterior.nc")["posterior"].to_dataset()


@pytest.mark.slow
def test_house_effects_are_learned_shown_in_the_brief_and_a_contested_deal_gives_the_headline_both_ways(tmp_path):
    log = _two_coder_log(tmp_path, shift=1.0, contested=True)
    workspace = tmp_path / "ws"
    forecast("update", log, "--workspace", workspace, *SMALL)
    posterior = _latest_posterior(workspace)
    gap = posterior["coder_offset"].sel(factor="security_guarantee_gap")
    difference = (gap.sel(coder="B") - gap.sel(coder="A")).values.ravel()
    # B reads 1.0 higher: the offsets' difference is near it and well away from 0.
    assert 0.6 < difference.mean() < 1.2 and (difference > 0.2).mean() > 0.95
    # The offsets sum to zero over the coders, on every obstacle.
    assert abs(posterior["coder_offset"].sum("coder")).max() < 1e-9
    run = sorted((workspace / "runs").iterdir())[-1]
    contested = json.loads((run / "contested.json").read_text())
    assert contested["events"] == ["deal-1"]
    text = pdf_text(workspace / "reports" / "latest.pdf")
    assert "Contested deals." in text and "deal-1" in text
    assert "How far each coder's readings sit" in text and "coder B" in text


@pytest.mark.slow
def test_one_named_coder_fits_exactly_as_the_unnamed_log(tmp_path):
    rows = list(csv.DictReader(EXAMPLE.open(encoding="utf-8")))
    named = tmp_path / "named.csv"
    with named.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "coder"])
        writer.writeheader()
        writer.writerows({**row, "coder": "Ann"} for row in rows)
    forecast("update", EXAMPLE, "--workspace", tmp_path / "plain", "--no-report", *SMALL)
    forecast("update", named, "--workspace", tmp_path / "named", "--no-report", *SMALL)
    plain, coded = _latest_posterior(tmp_path / "plain"), _latest_posterior(tmp_path / "named")
    assert "coder_offset" not in coded
    xr.testing.assert_equal(plain["theta"], coded["theta"])
    xr.testing.assert_equal(plain["baseline"], coded["baseline"])
