"""Chart labels from users (priors labels, crowd questions): drawn as written, nothing from
them reaches the terminal, and a crowd file of hundreds of questions still leaves a chart."""

from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from forecast.brief.chart_text import chart_text
from forecast.brief.plots import LEGEND_QUESTIONS, plot_compare, plot_factor_paths, plot_probability_by_horizon

# Any UserWarning fails a test (pyproject.toml): matplotlib's "Glyph ... missing from font(s)"
# for a control character would reach the analyst's terminal.
ODD_LABELS = {
    "bell": "Local ceasefire\x07 (bell)",
    "escape": "\x1b[31mred\x1b[0m deal",
    "tab": "energy\tdeal\x00",
    "thai": "หยุดยิงในพื้นที่",
    "devanagari": "युद्धविराम",
    "emoji": "ceasefire 🕊",
    "arabic": "وقف إطلاق النار",
    "cjk": "局部停火",
}


def _save(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=40)
    plt.close(fig)
    return out.getvalue()


def test_labels_with_control_characters_and_any_script_draw_without_a_warning():
    table = pd.DataFrame([{"horizon": h, "outcome": k, "p": 0.1 * i, "lo": 0.0, "hi": 0.2} for h in (1, 2, 3)
                          for i, k in enumerate(ODD_LABELS)])
    fig, _ = plot_probability_by_horizon(table, ODD_LABELS, 2)
    assert _save(fig)
    paths = np.zeros((4, len(ODD_LABELS), 5))
    fig, _ = plot_factor_paths(paths, ODD_LABELS, dt.date(2025, 1, 6))  # what `forecast priors check` draws
    assert _save(fig)


def test_control_characters_become_code_points_and_format_characters_go():
    assert chart_text("a\x07b\tc") == "a[U+0007]b c"
    assert chart_text("\x1b[31mred") == "[U+001B][31mred"
    assert chart_text("zero\u200bwidth\u2066 joiner") == "zerowidth joiner"


def test_a_right_to_left_label_is_joined_and_in_drawing_order():
    from forecast.brief.bidi import reshape

    assert chart_text("وقف") == reshape("وقف")[::-1] and chart_text("وقف") != "وقف"[::-1]
    assert chart_text("שלום (עולם)") == "(םלוע) םולש"
    assert chart_text("Local ceasefire") == "Local ceasefire"


def test_a_character_no_font_has_is_its_code_point_in_a_chart():
    assert chart_text("letter \u13a0") == "letter [U+13A0]"


def _compared(n_questions: int, rows_each: int = 3) -> list:
    out = []
    for q in range(n_questions):
        for r in range(rows_each):
            crowd = SimpleNamespace(question=f"Will question number {q} about a local ceasefire resolve yes by then?",
                                    date=dt.date(2025, 1, 6) + dt.timedelta(days=7 * r + q % 5),
                                    probability=(q % 10) / 10, deadline=dt.date(2025, 6, 30), match="local_ceasefire",
                                    match_text="local ceasefire")
            out.append(SimpleNamespace(crowd=crowd, model=0.3, resolved=None, loose="", scored=lambda include_loose=False: True))
    return out


@pytest.mark.parametrize("questions", [3, 300])
def test_a_crowd_file_of_hundreds_of_questions_still_gets_a_readable_chart(questions):
    # As `forecast compare` draws it (evaluation/compare.py, write_chart).
    fig, ax = plt.subplots(figsize=(11, 6.5), layout="constrained")
    plot_compare(_compared(questions), axes=ax)
    fig.canvas.draw()
    named = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert len(named) <= LEGEND_QUESTIONS + 1
    assert any("more questions" in t for t in named) == (questions > LEGEND_QUESTIONS)
    plot_area = ax.get_position()
    assert plot_area.height > 0.5  # the axes keep more than half the figure, whatever the legend holds
    assert _save(fig)


def test_a_title_made_before_its_fonts_were_added_still_finds_them(monkeypatch):
    import matplotlib

    from forecast.brief.plots import plot_factor_panel

    monkeypatch.setitem(matplotlib.rcParams, "font.family", ["sans-serif"])  # as a fresh process starts
    fig, ax = plt.subplots()  # the title's text object is made here, before any label is seen
    weeks = [dt.date(2025, 1, 6) + dt.timedelta(weeks=i) for i in range(4)]
    plot_factor_panel(np.zeros((3, 4)), weeks, "领土僵局 หยุดยิง", "#8c510a", signals=pd.DataFrame(),
                      outcomes=[(weeks[1], "停火")], axes=ax)
    assert _save(fig)  # no "Glyph missing from font(s) DejaVu Sans" warning
