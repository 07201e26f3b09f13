"""Text in any script: runs split by the font that has the glyphs, nothing drawn as a box."""

from __future__ import annotations

import pytest

from forecast.brief.fonts import BASE, brief_fonts

# One letter of each script the brief must print as text (scripts/system-packages installs the
# fonts), with what reportlab must do with its run.
SCRIPTS = {"Hebrew": "א", "Arabic": "ب", "Thai": "ก", "Devanagari": "क", "CJK": "中", "emoji": "😀", "dove": "🕊"}


def test_markup_escapes_and_switches_font_for_cjk_only():
    fonts = brief_fonts()
    cjk = fonts.font_of("中")
    assert cjk not in (None, BASE), "no CJK font found: run scripts/system-packages"
    out = fonts.markup("Путин & <Trump> 普京表示 ok\nnext")
    assert out == f'Путин &amp; &lt;Trump&gt; <font name="{cjk}">普京表示</font> ok<br/>next'
    assert fonts.font_of("Ж") == BASE


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_of_the_issue_has_a_font(script):
    fonts = brief_fonts()
    assert fonts.font_of(SCRIPTS[script]) is not None, f"no font for {script}: run scripts/system-packages"


def test_devanagari_and_thai_are_shaped_and_nothing_else_is():
    fonts = brief_fonts()
    assert {fonts.font_of("क"), fonts.font_of("ก")} == set(fonts.shaped)
    from reportlab.pdfbase.pdfmetrics import getFont

    # reportlab's own paragraphs must never shape: HarfBuzz would reverse right-to-left text
    # that is already in drawing order.
    assert not getFont(BASE).shapable and not getFont(fonts.font_of("中")).shapable


def test_a_character_no_font_has_is_shown_as_its_code_point_and_counted():
    fonts = brief_fonts()
    fonts.missing.clear()
    assert fonts.font_of("\u13a0") is None  # a Cherokee letter: in none of the fonts we install
    assert fonts.markup("letter \u13a0") == "letter [U+13A0]"
    assert fonts.missing == {"\u13a0"}
    # A control character is shown the same way, but no font could draw it: not counted.
    assert fonts.runs("bell\x07") == [(BASE, "bell[U+0007]")]
    assert fonts.missing == {"\u13a0"}
    fonts.missing.clear()


def test_format_characters_are_not_drawn():
    fonts = brief_fonts()
    # Joiners, marks of direction, the soft hyphen and variation selectors steer the layout.
    assert fonts.runs("a\u200db\u200ec\u00add\ufe0fe\u2066f") == [(BASE, "abcdef")]


def test_fonts_named_in_the_environment_come_first_and_missing_ones_are_skipped(tmp_path, monkeypatch):
    import os

    from forecast.brief.fonts import KNOWN_FALLBACKS, fallback_font_candidates

    mine = tmp_path / "mine.ttf"
    mine.write_bytes(b"not really a font")  # a candidate only; brief_fonts() skips what it cannot load
    known = next(path for path in KNOWN_FALLBACKS if os.path.isfile(path))
    monkeypatch.setenv("FORECAST_FONTS", f"{tmp_path / 'missing.ttf'}:{mine}:{known}")
    candidates = [path for path, _ in fallback_font_candidates()]
    assert candidates[0] == str(mine)
    assert str(tmp_path / "missing.ttf") not in candidates
    assert candidates.count(known) == 1  # listed once, however often named


def test_a_bold_cell_keeps_letters_the_bold_face_has_in_bold():
    from forecast.brief.fonts import BASE_BOLD

    fonts = brief_fonts()
    assert fonts.runs("Négociations 停火", BASE_BOLD) == [(BASE_BOLD, "Négociations "), (fonts.font_of("停"), "停火")]
