"""Right-to-left text (Hebrew, Arabic, and every script UAX #9 calls right-to-left) put in
drawing order, by the maintained libraries made for it.

reportlab and matplotlib draw a string's characters left to right, one glyph each, in the order
they are stored. Text is stored in reading (logical) order, so Hebrew and Arabic would come out
reversed and Arabic letters unjoined. So:

* `arabic-reshaper` puts Arabic letters in the presentation forms that join them, in reading
  order (joining depends on the neighbours in reading order), vowel marks kept;
* `python-bidi` (the Unicode Bidirectional Algorithm, UAX #9, with bracket pairs, isolates and
  embeddings) resolves each character's embedding level over the whole paragraph, with the
  paragraph's direction from its first strong character (P2, P3);
* each wrapped line is then reordered from those levels (`reorder`, UAX #9 L1-L4).

The last step is written here because python-bidi's `get_display` (the Rust `unicode-bidi`)
does L1 and L2 only: it leaves brackets unmirrored in right-to-left runs, so "(כסף)" would print
as ")ףסכ(", and combining marks before their letters (python-bidi issue 25). Its levels are read
from `get_display(..., debug=True)`, the only way that library gives them; a test holds the
result equal to `get_display` wherever L3 and L4 change nothing.

`brief/textblock.py` wraps a paragraph in reading order and reorders each line with the
paragraph's levels; `visual` does the same for a chart label of one line.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import arabic_reshaper
from bidi import get_base_level, get_display
from bidi.mirror import MIRRORED

# Letters of the right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko, Samaritan, Mandaic
# and their presentation forms; the right-to-left blocks of the supplementary planes), and the
# controls that can make any text right to left: where none is present, nothing moves.
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u200f\u202b\u202e\u2067\U00010800-\U00010fff\U0001e800-\U0001efff]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_LEVEL = re.compile(r"Level\(\s*(\d+),?\s*\)")
# Paragraph separators (bidi class B): a paragraph is resolved on its own.
PARAGRAPH_BREAKS = re.compile("\r\n|[\n\r\x1c-\x1e\x85\u2029]")


@cache
def _reshaper() -> arabic_reshaper.ArabicReshaper:
    # Keep the vowel marks (harakat): they are part of what was written; the default drops them.
    return arabic_reshaper.ArabicReshaper({"delete_harakat": False, "support_ligatures": True})


def has_rtl(text: str) -> bool:
    return not text.isascii() and _RTL.search(text) is not None


def reshape(text: str) -> str:
    """Arabic letters in the forms that join them, in reading order (other text unchanged)."""
    return _reshaper().reshape(text) if _ARABIC.search(text) else text


def levels(paragraph: str, rtl: bool | None = None) -> tuple[bool, list[int]]:
    """Whether the paragraph runs right to left (its first strong character, UAX #9 P2 and P3,
    unless `rtl` says), and each character's embedding level (UAX #9 up to I2). `paragraph`
    holds no paragraph separator."""
    if not has_rtl(paragraph) and not rtl:
        return False, [0] * len(paragraph)
    if rtl is None:
        rtl = get_base_level(paragraph) == 1
    info = get_display(paragraph, base_dir="R" if rtl else "L", debug=True)
    resolved = info.split("\n    levels: [", 1)[1].split("\n    ]", 1)[0]  # the Rust Debug form of BidiInfo
    per_byte = [int(level) for level in _LEVEL.findall(resolved)]
    per_char, offset = [], 0
    for char in paragraph:
        per_char.append(per_byte[offset])
        offset += len(char.encode("utf-8"))
    return rtl, per_char


def reorder(line: str, line_levels: list[int], rtl: bool) -> str:
    """One line of a paragraph in drawing order, from its characters' levels: trailing spaces at
    the paragraph's level (L1), runs reversed from the highest level down (L2), combining marks
    after their letter (L3), brackets and other mirrored characters mirrored where they run right
    to left (L4)."""
    base = 1 if rtl else 0
    if not any(line_levels):
        return line
    chars = list(line)
    lv = list(line_levels)
    i = len(chars)
    while i and unicodedata.bidirectional(chars[i - 1]) in ("WS", "S", "B", "BN", "LRI", "RLI", "FSI", "PDI", ""):
        i -= 1
        lv[i] = base
    order = list(range(len(chars)))
    for level in range(max(lv), 0, -1):
        n = 0
        while n < len(order):
            if lv[order[n]] >= level:
                m = n
                while m < len(order) and lv[order[m]] >= level:
                    m += 1
                order[n:m] = order[n:m][::-1]
                n = m
            else:
                n += 1
    out = [MIRRORED.get(chars[k], chars[k]) if lv[k] % 2 else chars[k] for k in order]
    return _marks_after_their_base(out, [lv[k] for k in order])


def _marks_after_their_base(visual: list[str], visual_levels: list[int]) -> str:
    """L3: in a reversed (odd-level) run each combining mark now stands before its letter; put it
    back after, where a font draws it over the letter."""
    out: list[str] = []
    marks: list[str] = []
    for char, level in zip(visual, visual_levels):
        if level % 2 and unicodedata.category(char) in ("Mn", "Me"):
            marks.append(char)
            continue
        out.append(char)
        if marks:
            out.extend(reversed(marks))
            marks.clear()
    out.extend(marks)
    return "".join(out)


def visual(text: str) -> str:
    """A short text (a chart label, perhaps wrapped) reshaped and in drawing order, every line
    with the direction of the text's first strong character."""
    if not has_rtl(text):
        return text
    rtl = get_base_level(PARAGRAPH_BREAKS.sub(" ", text)) == 1
    return "\n".join(reorder(shaped, levels(shaped, rtl)[1], rtl)
                     for shaped in (reshape(line) for line in PARAGRAPH_BREAKS.split(text)))
