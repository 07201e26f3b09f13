"""Text for the charts, as matplotlib can draw it: labels from priors files and crowd questions
may hold any script, and any character.

matplotlib draws a string's characters left to right, one glyph each, without shaping, and warns
(on the analyst's terminal) about every character its fonts lack. So a label is put in drawing
order with Arabic joined (`brief/bidi.py`), control and format characters are taken out (a tab or
a newline where the label has one, a code point such as `[U+0007]` for the rest), a character no
installed font has is written as its code point, and the fonts that have the others are added to
matplotlib's fallback list, only when a label needs them (a fallback list makes every text layout
in matplotlib slower). Devanagari is drawn unshaped here: matplotlib has no shaping engine.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from forecast.brief.bidi import visual
from forecast.brief.fonts import BASE, FontSet, brief_fonts, drawn, families


def chart_text(text: str, fonts: FontSet | None = None) -> str:
    """`text` as a chart draws it (see above)."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    fonts = fonts or brief_fonts()
    text = visual(text.replace("\t", " "))  # every line break becomes "\n"
    out = []
    for char in text:
        if char == "\n":
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cs"):
            out.append(f"[U+{ord(char):04X}]")
        elif not drawn(char):
            continue
        elif " " <= char <= "~" or (font := fonts.font_of(char)) == BASE:
            out.append(char)
        elif font is None:
            out.append(f"[U+{ord(char):04X}]")
        else:
            _use(fonts, font)
            out.append(char)
    return "".join(out)


def _use(fonts: FontSet, font: str) -> None:
    """Add the file behind reportlab's `font` to matplotlib's fallback families."""
    import matplotlib

    family = _family(fonts.fallback_files[fonts.names.index(font) - 1])
    current = list(matplotlib.rcParams["font.family"])
    if family not in current:
        matplotlib.rcParams["font.family"] = [*current, family]


@cache
def _family(path: str) -> str:
    import logging

    # CJK fonts often come in one weight (500 for WenQuanYi); matplotlib uses it and logs so on
    # every glyph lookup, which is noise on the analyst's terminal.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    return families([path])[0]
