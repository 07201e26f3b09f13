"""What every brief says about the record's backtest (brief/record_evidence.py): the shipped
summary is the table of docs/SKILL.md, and the words follow the verdicts, never flattering them."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from forecast.brief.record_evidence import load_record_evidence, record_evidence_text

ROOT = Path(__file__).resolve().parents[1]
SKILL = ROOT / "docs" / "SKILL.md"
# Where the table every brief quotes is printed: {file: the heading of its section}.
TABLES = {SKILL: "## The table every brief quotes", ROOT / "README.md": "## How good is it?"}
ROWS = {"obstacles off": "obstacles_off", "climatology": "climatology", "priors alone": "prior", "uniform": "uniform"}


def _printed_table(path: Path) -> dict[str, dict[str, list[str]]]:
    """{horizon: {method: [Brier, log, Brier skill, log skill]}} from the first table in `path`'s section."""
    section = path.read_text(encoding="utf-8").split(TABLES[path], 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = lines[first:next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))]
    table, horizon = {}, None
    for line in rows:
        if not line.startswith("| ") or line.startswith("| horizon"):
            continue
        cells = [c.strip().strip("*").replace("−", "-") for c in line.strip("|").split("|")]
        if cells[0]:
            horizon = re.match(r"(\d+) weeks", cells[0]).group(1)
        method = "model" if cells[1] == "the model" else ROWS[cells[1]]
        table.setdefault(horizon, {})[method] = cells[2:]
    return table


def _skill(s: dict) -> str:
    return f"{s['value']:+.2f} ({s['lo']:+.2f} to {s['hi']:+.2f})"


@pytest.mark.parametrize("path", list(TABLES), ids=lambda p: p.name)
def test_the_shipped_summary_is_the_printed_table(path):
    summary, table = load_record_evidence(), _printed_table(path)
    assert summary is not None and set(table) == set(summary["horizons"]) == {"4", "12"}
    for horizon, rows in table.items():
        h = summary["horizons"][horizon]
        for method, cells in rows.items():
            assert cells[:2] == [f"{h['scores'][method]['brier']:.3f}", f"{h['scores'][method]['log']:.3f}"], (horizon, method)
            if method != "model":
                assert cells[2:] == [_skill(h["skill"][method]["brier"]), _skill(h["skill"][method]["log"])], (horizon, method)
        assert f"{horizon} weeks, {h['origins']} origins" in path.read_text(encoding="utf-8")


def _with_verdicts(verdicts: dict[tuple[str, str], str]) -> dict:
    """The shipped summary with the obstacles-off verdicts replaced: {(horizon, score): verdict},
    its eras and flagged fits left out (they have tests of their own)."""
    summary = copy.deepcopy(load_record_evidence())
    for h in summary["horizons"].values():
        h["eras"], h["flagged_fits"] = [], 0
    for (horizon, score), verdict in verdicts.items():
        summary["horizons"][horizon]["skill"]["obstacles_off"][score]["verdict"] = verdict
    return summary


ALL = [(h, s) for h in ("4", "12") for s in ("brier", "log")]


def test_the_words_quote_the_figures_of_the_shipped_summary():
    summary = load_record_evidence()
    text = record_evidence_text(summary)
    figures = "; ".join(
        f"at {horizon} weeks ({h['origins']} origins), log {_skill(h['skill']['obstacles_off']['log'])}, "
        f"Brier {_skill(h['skill']['obstacles_off']['brier'])}" for horizon, h in summary["horizons"].items())
    flagged = max(h["flagged_fits"] for h in summary["horizons"].values())
    said = f" ({flagged} of its fits failed their diagnostics)" if flagged else ""
    assert f"(above 0 is better, 90 % interval in brackets) was: {figures}{said}. So".replace("-", "−") in text
    assert "(5 May 2014 to 18 May 2026, origins every 4 weeks, priors written as of April 2014)" in text


def test_a_skill_below_zero_is_written_with_a_minus_sign():
    summary = load_record_evidence()
    summary["horizons"]["4"]["skill"]["obstacles_off"]["log"] |= {"value": -0.02, "lo": -0.05, "hi": -0.01}
    assert "log −0.02 (−0.05 to −0.01)" in record_evidence_text(summary)


WORSE = "There the obstacles made the forecast worse at 12 weeks (log score): weigh the deal rates alone more than these chances. "


@pytest.mark.parametrize(("verdicts", "conclusion"), [
    ({k: "beats" for k in ALL}, "So on the record the obstacles and the readings added skill at every horizon, on both scores."),
    ({("4", "log"): "beats", ("12", "brier"): "beats", ("4", "brier"): "no clear difference",
      ("12", "log"): "no clear difference"},
     "So the record shows them adding skill at 4 weeks (log score) and 12 weeks (Brier score), and does not show it at "
     "4 weeks (Brier score) and 12 weeks (log score): treat their pull on these chances as a judgement the record "
     "supports only in part."),
    ({k: "no clear difference" for k in ALL},
     "So the record does not show that the obstacles add skill: treat their pull on these chances as unproven."),
    ({**{k: "no clear difference" for k in ALL}, ("12", "log"): "loses to"},
     WORSE + "So the record does not show that the obstacles add skill: treat their pull on these chances as unproven."),
    ({**{k: "no clear difference" for k in ALL}, ("4", "log"): "beats", ("12", "log"): "loses to"},
     WORSE + "So the record shows them adding skill at 4 weeks (log score), and does not show it at 4 weeks (Brier "
     "score), 12 weeks (Brier score) and 12 weeks (log score): treat their pull on these chances as a judgement the "
     "record supports only in part."),
])
def test_the_conclusion_follows_the_verdicts(verdicts, conclusion):
    text = record_evidence_text(_with_verdicts(verdicts))
    figures = record_evidence_text(_with_verdicts({})).split(" So ")[0]  # the sentences before any conclusion
    assert text == f"{figures} {conclusion}"


def test_a_summary_without_an_interval_says_so():
    summary = load_record_evidence()
    summary["horizons"]["12"]["skill"]["obstacles_off"]["log"] |= {"value": 0.04, "lo": None, "hi": None,
                                                                   "verdict": "no clear difference"}
    assert "log +0.04 (no interval)" in record_evidence_text(summary)


def test_flagged_fits_are_said_and_only_when_there_are_some():
    summary = _with_verdicts({})
    assert "failed their diagnostics" not in record_evidence_text(summary)
    summary["horizons"]["12"]["flagged_fits"] = 3
    assert "(3 of its fits failed their diagnostics)." in record_evidence_text(summary)


def _era(opened: str | None, origins: int, verdicts: tuple[str, str]) -> dict:
    return {"from": opened, "first_origin": "2014-05-05", "last_origin": "2026-05-18", "origins": origins,
            "skill": {score: {"value": 0.01, "lo": -0.01, "hi": 0.03, "verdict": v} for score, v in zip(("brier", "log"), verdicts)}}


def test_each_era_between_turning_points_is_quoted_with_what_it_shows():
    summary = _with_verdicts({}) | {"turning_points": [{"date": "2022-02-24", "what": "the full-scale invasion"}]}
    for weeks, h in summary["horizons"].items():
        h["eras"] = [_era(None, 100, ("loses to", "loses to")),
                     _era("2022-02-24", 50 + int(weeks), ("beats", "no clear difference") if weeks == "12" else ("no clear difference",) * 2)]
    text = record_evidence_text(summary)
    assert text.startswith(record_evidence_text(_with_verdicts({})) + " Split at the full-scale invasion of 24 Feb 2022. ")
    assert ("Before it, at 4 weeks (100 origins), log +0.01 (−0.01 to +0.03), Brier +0.01 (−0.01 to +0.03); at 12 weeks "
            "(100 origins), log +0.01 (−0.01 to +0.03), Brier +0.01 (−0.01 to +0.03): the obstacles made the forecast "
            "worse at every horizon, on both scores.") in text
    assert text.endswith("Since it, at 4 weeks (54 origins), log +0.01 (−0.01 to +0.03), Brier +0.01 (−0.01 to +0.03); at "
                         "12 weeks (62 origins), log +0.01 (−0.01 to +0.03), Brier +0.01 (−0.01 to +0.03): the obstacles "
                         "added skill at 12 weeks (Brier score).")


def test_several_turning_points_are_named_in_order():
    summary = _with_verdicts({}) | {"turning_points": [{"date": "2015-02-12", "what": "Minsk II"},
                                                       {"date": "2022-02-24", "what": "the full-scale invasion"}]}
    for h in summary["horizons"].values():
        h["eras"] = [_era(None, 10, ("loses to",) * 2), _era("2015-02-12", 90, ("no clear difference",) * 2),
                     _era("2022-02-24", 50, ("beats",) * 2)]
    text = record_evidence_text(summary)
    assert " Split at the record's turning points (Minsk II of 12 Feb 2015 and the full-scale invasion of 24 Feb 2022). " \
        "Before the first, at 4 weeks (10 origins)" in text
    assert "From Minsk II of 12 Feb 2015, at 4 weeks (90 origins)" in text
    assert text.endswith("From the full-scale invasion of 24 Feb 2022, at 4 weeks (50 origins), log +0.01 (−0.01 to "
                         "+0.03), Brier +0.01 (−0.01 to +0.03); at 12 weeks (50 origins), log +0.01 (−0.01 to +0.03), Brier "
                         "+0.01 (−0.01 to +0.03): the obstacles added skill at every horizon, on both scores.")


def test_a_record_without_a_turning_point_has_no_eras_to_quote():
    assert "Split at" not in record_evidence_text(_with_verdicts({}))


def test_the_shipped_summary_quotes_the_joint_records_eras():
    summary = load_record_evidence()
    for h in summary["horizons"].values():
        assert [era["from"] for era in h["eras"]] == [None, "2022-02-24"]
        assert sum(era["origins"] for era in h["eras"]) == h["origins"]
    assert summary["turning_points"] == [{"date": "2022-02-24", "what": "the full-scale invasion"}]
    assert " Split at the full-scale invasion of 24 Feb 2022. Before it, at 4 weeks (102 origins)" in record_evidence_text(summary)
