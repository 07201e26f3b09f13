"""User text in the brief: no event can break it, and every script reads as written.

The event log is rendered on its own, by the brief's own code (`brief_helpers.event_log_pdf`),
so that each case costs a table, not a fit; `tests/test_faults.py` renders whole briefs.
"""

from __future__ import annotations

import re

import pytest
from brief_helpers import event_log_pdf, read_back
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from forecast.brief.fonts import BASE, FontSet, brief_fonts
from forecast.brief.layout import CELL_HEIGHT, Styles
from forecast.brief.textblock import TextBlock

DESCRIPTION_WIDTH = 54 * 72 / 25.4 - 4  # the event log's description column, less its padding (pt)


def cut_note(text: str) -> str:
    return f"[cut: {len(text):,} characters in all]"


def block(text: str, fonts: FontSet | None = None) -> TextBlock:
    """A description cell as the event log makes it, laid out at its column's width."""
    cell = TextBlock(text, Styles().cell, fonts or brief_fonts(), max_height=CELL_HEIGHT)
    cell.wrap(DESCRIPTION_WIDTH, 1e9)
    return cell


def base_only() -> FontSet:
    """The brief's fonts as on a machine with none but the bundled DejaVu Sans: every Thai,
    Devanagari or emoji character becomes its code point, [U+0E2B], eight or nine wide."""
    fonts = brief_fonts()
    return FontSet([BASE], [fonts.coverage[0]], [])


# --- 1. no event breaks the brief -------------------------------------------------------------

# The shapes of issue 28 that made one row taller than a page, each as the event log's text.
SHAPES = {
    "170 short lines": "\n".join(f"line {i}" for i in range(170)),
    "330 Thai characters, no Thai font": "หยุดยิง" * 47 + "ก",
    "330 Devanagari characters, no Devanagari font": "युद्धविराम" * 33,
    "300 emoji no font has": "\U0001fa70" * 300,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_shape_that_once_broke_the_brief_is_cut_by_its_measured_height(tmp_path, shape):
    text = SHAPES[shape]
    fonts = base_only()
    cell = block(text, fonts)
    assert cell.height <= CELL_HEIGHT
    pdf = event_log_pdf(tmp_path / "log.pdf", [("", text, "")], fonts=fonts)  # the brief's own table: it renders
    assert cut_note(text) in read_back(pdf)


def test_the_same_length_of_thai_and_devanagari_is_whole_where_the_fonts_draw_it(tmp_path):
    # Measured, not counted: with their fonts the 330 characters take a few lines, and stay whole.
    for shape in ("330 Thai characters, no Thai font", "330 Devanagari characters, no Devanagari font"):
        text = SHAPES[shape]
        cell = block(text)
        assert cell.height <= 10 * Styles().cell.leading, shape
        assert "cut:" not in read_back(event_log_pdf(tmp_path / "log.pdf", [("", text, "")]))


def test_a_cut_keeps_as_many_lines_as_the_cell_holds():
    text = "\n".join(f"line {i}" for i in range(170))
    lines = [line.text for line in block(text)._lines]
    leading = Styles().cell.leading
    assert len(lines) == int(CELL_HEIGHT // leading)  # a full cell: 23 lines of text, then the mark
    assert lines[:-1] == [f"line {i}" for i in range(len(lines) - 1)]
    assert lines[-1] == "… " + cut_note(text)


def test_a_short_cell_is_not_cut_however_many_characters_it_counts():
    # 900 narrow characters fit in a few lines: the old count of characters cut them.
    text = "i" * 900
    assert "cut:" not in "".join(line.text for line in block(text)._lines)


# Any string: every code point (surrogates, controls, marks, right-to-left, unassigned), short or
# repeated to tens of thousands of characters.
ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=200),
    st.builds(lambda chunk, times: chunk * times, st.text(st.characters(exclude_categories=()), min_size=1, max_size=30),
              st.integers(1, 3000)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(actor=ANY_TEXT, description=ANY_TEXT, source=ANY_TEXT, event_id=ANY_TEXT.filter(bool))
@example(actor="", description="ש" * 60_000, source="", event_id="x" * 5_000)  # longer than anything is read
@example(actor="\u202e" * 500, description="a\u0301" * 20_000, source="\n" * 5_000, event_id="\u0e01\u0e34" * 2_000)
@example(actor="", description="\U0001fa70\u200d" * 10_000, source="(" * 9_000 + "\u05d0", event_id="\ud800")
def test_any_text_in_an_event_renders_in_the_event_log(tmp_path, actor, description, source, event_id):
    pdf = event_log_pdf(tmp_path / "log.pdf", [(actor, description, source)], event_ids=[event_id])
    assert pdf.stat().st_size > 0
    text = " · ".join(t for t in (actor, description, source) if t)
    if len(text) > 10:  # a cell taller than the limit is cut, and says so
        assert block(text).height <= CELL_HEIGHT


# --- 2. every script reads as written ---------------------------------------------------------

WRITTEN = {
    "Hebrew": "הפסקת אש מקומית בזפוריז'יה",
    "Arabic": "وقف إطلاق النار في الرياض",
    "English and Arabic, brackets": "talks in الرياض (Riyadh) on 18 March with ישראל",
    "Hebrew with English in brackets": "שיחות (ceasefire talks) בריאד ב-18 במרץ.",
    "Thai": "การเจรจาสันติภาพ ผู้ใหญ่",
    "Devanagari": "युद्धविराम पर किसी भी शब्द क्षत्रिय",
    "CJK": "外媒周一援引内部人士:特朗普政府或寻求简化版矿产协议",
    "emoji": "ceasefire 🕊 talks 😀 👍",
}


@pytest.fixture(scope="module")
def scripts_pdf(tmp_path_factory):
    return event_log_pdf(tmp_path_factory.mktemp("scripts") / "log.pdf", [("", text, "") for text in WRITTEN.values()])


@pytest.mark.parametrize("script", WRITTEN)
def test_pdftotext_gives_each_script_back_in_reading_order(scripts_pdf, script):
    text = read_back(scripts_pdf)
    written = WRITTEN[script]
    if script == "CJK":  # wrapped between characters: the line break reads back as a space
        assert written in text.replace(" ", "")
    else:
        assert written in text


def test_every_script_is_drawn_as_text_not_code_points(scripts_pdf):
    fonts = brief_fonts()
    fonts.missing.clear()
    for text in WRITTEN.values():
        fonts.scan(text)
    assert not fonts.missing
    assert "[U+" not in read_back(scripts_pdf)


def test_devanagari_is_shaped_and_still_reads_back_as_typed(tmp_path, monkeypatch):
    from reportlab.pdfbase.ttfonts import ShapedStr

    from forecast.brief import textblock

    shaped = []
    original = textblock.shapeStr

    def spy(text, font, size, **kwargs):
        result = original(text, font, size, **kwargs)
        shaped.append((text, result))
        return result

    monkeypatch.setattr(textblock, "shapeStr", spy)
    word = "क्षत्रिय"  # a conjunct (क्ष) and an i-matra drawn before its consonant (रि)
    pdf = event_log_pdf(tmp_path / "log.pdf", [("", word, "")])
    drawn = [result for text, result in shaped if text == word]
    assert drawn and isinstance(drawn[-1], ShapedStr) and len(drawn[-1]) < len(word)  # HarfBuzz made glyphs of letters
    assert word in read_back(pdf)  # and the run says what they stand for (/ActualText)


# --- right to left: python-bidi's levels, reordered line by line ------------------------------

RTL_MIX = st.text(st.sampled_from([*"אבגדה ابتثج abcXYZ 0123.,-:", "\u2067", "\u2069", "\u202b", "\u202c"]), max_size=60)


@settings(max_examples=200, deadline=None)
@given(RTL_MIX)
def test_reordering_from_the_levels_is_python_bidis_wherever_mirroring_and_marks_change_nothing(text):
    from bidi import get_display

    from forecast.brief.bidi import levels, reorder

    rtl, lv = levels(text)
    ours = reorder(text, lv, rtl)
    theirs = get_display(text, base_dir="R" if rtl else "L")
    strip = re.compile("[\u2067\u2069\u202b\u202c]")  # controls: python-bidi keeps some, the brief never draws them
    assert strip.sub("", ours) == strip.sub("", theirs)


def test_brackets_in_right_to_left_runs_are_mirrored():
    from forecast.brief.bidi import visual

    # Drawn left to right: the bracket that opens the Hebrew word stands to its right, facing it.
    assert visual("מחיר (כסף)") == "(ףסכ) ריחמ"
    assert visual("talks in שלום (Riyadh) today") == "talks in םולש (Riyadh) today"


def test_the_issue_example_keeps_its_words_and_brackets_in_place():
    from forecast.brief.bidi import levels, reorder, reshape

    text = reshape("talks in الرياض (Riyadh) on 18 March with ישראל")
    rtl, lv = levels(text)
    drawn = reorder(text, lv, rtl)
    assert not rtl
    assert re.fullmatch(r"talks in \S+ \(Riyadh\) on 18 March with לארשי", drawn)
    assert drawn.split()[2] == reshape("الرياض")[::-1]


def test_a_paragraph_keeps_its_direction_on_every_wrapped_line():
    # A Hebrew paragraph whose second line starts with English words: laid out right to left all
    # the same (its first strong character is Hebrew), as UAX #9 says; taken line by line, that
    # line would run left to right and its words come out in another order.
    from bidi import get_display

    from forecast.brief.bidi import reorder

    text = "שיחות הפסקת האש נמשכו כל הלילה בריאד " + "Riyadh talks resumed ועוד " * 6 + "והסתיימו"
    lines = block(text)._lines
    assert len(lines) >= 2 and all(line.rtl for line in lines)
    english_first = lines[1]
    assert english_first.text.startswith("Riyadh talks resumed ועוד")
    drawn = reorder(english_first.text, english_first.levels, english_first.rtl)
    assert drawn == get_display(english_first.text, base_dir="R") != get_display(english_first.text)
