"""What every brief says about the record's backtest (brief/record_evidence.py): the shipped
summary is the table of docs/SKILL.md, and the words follow the verdicts, never flattering them."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from forecast.brief.record_evidence import load_record_evidence, record_evidence_text

SKILL = Path(__file__).resolve().parents[1] / "docs" / "SKILL.md"
ROWS = {"obstacles off": "obstacles_off", "climatology": "climatology", "priors alone": "prior", "uniform": "uniform"}


def _readme_table() -> dict[str, dict[str, list[str]]]:
    """{horizon: {method: [Brier, log, Brier skill, log skill]}} from the skill table of docs/SKILL.md."""
    section = SKILL.read_text(encoding="utf-8").split("## The table every brief quotes", 1)[1].split("\n## ", 1)[0]
    table, horizon = {}, None
    for line in section.splitlines():
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


def test_the_shipped_summary_is_the_readmes_table():
    summary, table = load_record_evidence(), _readme_table()
    assert summary is not None and set(table) == set(summary["horizons"]) == {"4", "12"}
    for horizon, rows in table.items():
        h = summary["horizons"][horizon]
        for method, cells in rows.items():
            assert cells[:2] == [f"{h['scores'][method]['brier']:.3f}", f"{h['scores'][method]['log']:.3f}"], (horizon, method)
            if method != "model":
                assert cells[2:] == [_skill(h["skill"][method]["brier"]), _skill(h["skill"][method]["log"])], (horizon, method)
        assert f"{horizon} weeks, {h['origins']} origins" in SKILL.read_text(encoding="utf-8")
        assert h["flagged_fits"] == 0


def _with_verdicts(verdicts: dict[tuple[str, str], str]) -> dict:
    """The shipped summary with the obstacles-off verdicts replaced: {(horizon, score): verdict}."""
    summary = copy.deepcopy(load_record_evidence())
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
    assert f"(above 0 is better, 90 % interval in brackets) was: {figures}. So".replace("-", "−") in text
    assert "(21 Mar 2022 to 11 May 2026, origins every 4 weeks, priors written as of February 2022)" in text


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
    summary["horizons"]["12"]["skill"]["obstacles_off"]["log"] |= {"lo": None, "hi": None, "verdict": "no clear difference"}
    assert "log +0.04 (no interval)" in record_evidence_text(summary)
