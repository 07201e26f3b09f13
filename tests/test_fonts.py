"""Text in any language: runs split by the font that has the glyphs, nothing drawn as a box."""

from __future__ import annotations

from forecast.brief.fonts import BASE, brief_fonts


def test_markup_escapes_and_switches_font_for_cjk_only():
    fonts = brief_fonts()
    assert len(fonts.names) >= 2, "no CJK font found: run scripts/system-packages"
    cjk = fonts.names[1]
    out = fonts.markup("Путин & <Trump> 普京表示 ok\nnext")
    assert out == f'Путин &amp; &lt;Trump&gt; <font name="{cjk}">普京表示</font> ok<br/>next'
    assert fonts.font_of("Ж") == BASE and fonts.font_of("中") == cjk


def test_a_character_no_font_has_is_shown_as_its_code_point_and_counted():
    fonts = brief_fonts()
    fonts.missing.clear()
    assert fonts.font_of("\U0001d11e") is None  # a musical symbol: in none of the fonts we install
    assert fonts.markup("clef \U0001d11e") == "clef [U+1D11E]"
    assert fonts.missing == {"\U0001d11e"}
    fonts.missing.clear()


def test_fonts_named_in_the_environment_come_first_and_missing_ones_are_skipped(tmp_path, monkeypatch):
    from forecast.brief.fonts import KNOWN_FALLBACKS, fallback_font_candidates

    mine = tmp_path / "mine.ttf"
    mine.write_bytes(b"not really a font")  # a candidate only; brief_fonts() skips what it cannot load
    monkeypatch.setenv("FORECAST_FONTS", f"{tmp_path / 'missing.ttf'}:{mine}:{KNOWN_FALLBACKS[0]}")
    candidates = list(fallback_font_candidates())
    assert candidates[0] == str(mine)
    assert str(tmp_path / "missing.ttf") not in candidates
    assert candidates.count(KNOWN_FALLBACKS[0]) <= 1  # listed once, however often named
