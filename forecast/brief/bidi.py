"""Right-to-left text (Hebrew, Arabic) for the brief: reordered for drawing, Arabic letters joined.

reportlab and matplotlib draw the characters of a line left to right in the order they are
stored, and one glyph per character. Hebrew and Arabic are stored in reading order, right to
left, so they would come out reversed; Arabic letters would also stand apart in their isolated
forms instead of joining. `visual(line)` returns the line in drawing order with Arabic letters
in their joined (presentation) forms, which is what those libraries can draw.

What it does, in the Unicode Bidirectional Algorithm's terms (UAX #9), for one line:

* the paragraph direction from the first strong character (P2, P3);
* the weak types: marks take their base's type, European digits after Arabic letters are
  Arabic numbers, separators between digits join them, currency and percent signs go with their
  digits (W1-W7);
* neutrals (spaces, punctuation) between two runs of one direction take it, others the
  paragraph's (N1, N2); the implicit levels (I1, I2);
* reversal of each run from the highest level down (L2), and mirrored brackets in right-to-left
  runs (L4, for the pairs in `_MIRROR`).

What it does not do: explicit embeddings, overrides and isolates (the control characters
U+202A-U+202E and U+2066-U+2069 are ignored: the CLI shows them as escapes, and the brief draws
the text as if they were absent); bracket pairs (N0); placing Arabic vowel marks over their
letters (they follow the letter, as drawn by the font); ligatures beyond lam-alef; letters of
scripts other than Hebrew and Arabic (Syriac, Thaana, N'Ko are reordered but not shaped).
Lines are reordered one at a time, so a paragraph must be wrapped before it is reordered
(`wrap_logical`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")

# Arabic letters: (isolated, final, initial, medial) presentation forms; a right-joining letter
# (it joins the letter before it, never the one after) has no initial or medial form.
_FORMS: dict[str, tuple[str, ...]] = {
    "\u0621": ("\ufe80",),
    "\u0622": ("\ufe81", "\ufe82"), "\u0623": ("\ufe83", "\ufe84"), "\u0624": ("\ufe85", "\ufe86"),
    "\u0625": ("\ufe87", "\ufe88"), "\u0626": ("\ufe89", "\ufe8a", "\ufe8b", "\ufe8c"), "\u0627": ("\ufe8d", "\ufe8e"),
    "\u0628": ("\ufe8f", "\ufe90", "\ufe91", "\ufe92"), "\u0629": ("\ufe93", "\ufe94"),
    "\u062a": ("\ufe95", "\ufe96", "\ufe97", "\ufe98"), "\u062b": ("\ufe99", "\ufe9a", "\ufe9b", "\ufe9c"),
    "\u062c": ("\ufe9d", "\ufe9e", "\ufe9f", "\ufea0"), "\u062d": ("\ufea1", "\ufea2", "\ufea3", "\ufea4"),
    "\u062e": ("\ufea5", "\ufea6", "\ufea7", "\ufea8"), "\u062f": ("\ufea9", "\ufeaa"), "\u0630": ("\ufeab", "\ufeac"),
    "\u0631": ("\ufead", "\ufeae"), "\u0632": ("\ufeaf", "\ufeb0"),
    "\u0633": ("\ufeb1", "\ufeb2", "\ufeb3", "\ufeb4"), "\u0634": ("\ufeb5", "\ufeb6", "\ufeb7", "\ufeb8"),
    "\u0635": ("\ufeb9", "\ufeba", "\ufebb", "\ufebc"), "\u0636": ("\ufebd", "\ufebe", "\ufebf", "\ufec0"),
    "\u0637": ("\ufec1", "\ufec2", "\ufec3", "\ufec4"), "\u0638": ("\ufec5", "\ufec6", "\ufec7", "\ufec8"),
    "\u0639": ("\ufec9", "\ufeca", "\ufecb", "\ufecc"), "\u063a": ("\ufecd", "\ufece", "\ufecf", "\ufed0"),
    "\u0641": ("\ufed1", "\ufed2", "\ufed3", "\ufed4"), "\u0642": ("\ufed5", "\ufed6", "\ufed7", "\ufed8"),
    "\u0643": ("\ufed9", "\ufeda", "\ufedb", "\ufedc"), "\u0644": ("\ufedd", "\ufede", "\ufedf", "\ufee0"),
    "\u0645": ("\ufee1", "\ufee2", "\ufee3", "\ufee4"), "\u0646": ("\ufee5", "\ufee6", "\ufee7", "\ufee8"),
    "\u0647": ("\ufee9", "\ufeea", "\ufeeb", "\ufeec"), "\u0648": ("\ufeed", "\ufeee"), "\u0649": ("\ufeef", "\ufef0"),
    "\u064a": ("\ufef1", "\ufef2", "\ufef3", "\ufef4"),
    # Persian and Urdu letters
    "\u067e": ("\ufb56", "\ufb57", "\ufb58", "\ufb59"), "\u0686": ("\ufb7a", "\ufb7b", "\ufb7c", "\ufb7d"),
    "\u0698": ("\ufb8a", "\ufb8b"), "\u06a9": ("\ufb8e", "\ufb8f", "\ufb90", "\ufb91"),
    "\u06af": ("\ufb92", "\ufb93", "\ufb94", "\ufb95"), "\u06cc": ("\ufbfc", "\ufbfd", "\ufbfe", "\ufbff"),
}
_TATWEEL = "\u0640"  # joins on both sides, has no forms of its own
# Lam followed by an alef: one ligature, (isolated, final).
_LAM_ALEF = {"\u0622": ("\ufef5", "\ufef6"), "\u0623": ("\ufef7", "\ufef8"), "\u0625": ("\ufef9", "\ufefa"),
             "\u0627": ("\ufefb", "\ufefc")}
_MIRROR = dict(zip("()[]{}<>«»‹›", ")(][}{><»«›‹"))
_STRONG_R = {"R", "AL"}
_NEUTRAL = {"B", "S", "WS", "ON", "BN", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def has_rtl(text: str) -> bool:
    return not text.isascii() and _RTL.search(text) is not None


def visual(line: str) -> str:
    """One line of text in drawing order (left to right), Arabic letters joined."""
    if not has_rtl(line):
        return line
    chars = list(shape_arabic(line))
    types = _resolved_types(chars)
    base = next((1 if t in _STRONG_R else 0 for t in types if t in ("L", "R", "AL")), 0)
    levels = _levels(types, base)
    order = list(range(len(chars)))
    for level in range(max(levels), 0, -1):  # L2: reverse every run at this level or above
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                i = j
            else:
                i += 1
    return "".join(_MIRROR.get(chars[i], chars[i]) if levels[i] % 2 else chars[i] for i in order)


def shape_arabic(text: str) -> str:
    """Arabic letters in the forms that join them to their neighbours, in logical order."""
    if not any(c in _FORMS for c in text):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char not in _FORMS:
            out.append(char)
            i += 1
            continue
        before = _neighbour(text, i, -1)
        joins_before = before is not None and _joins_forward(before) and len(_FORMS[char]) > 1
        after_index = _neighbour_index(text, i, 1)
        after = text[after_index] if after_index is not None else None
        if char == "\u0644" and after in _LAM_ALEF:  # lam-alef: one glyph, joined only to what comes before
            out.append(_LAM_ALEF[after][1 if joins_before else 0])
            out.extend(text[i + 1: after_index])  # marks between them
            i = after_index + 1
            continue
        forms = _FORMS[char]
        joins_after = len(forms) == 4 and after is not None and ((after in _FORMS and len(_FORMS[after]) > 1) or after == _TATWEEL)
        if joins_before and joins_after:
            out.append(forms[3])
        elif joins_before:
            out.append(forms[1])
        elif joins_after:
            out.append(forms[2])
        else:
            out.append(forms[0])
        i += 1
    return "".join(out)


def _joins_forward(char: str) -> bool:
    return char == _TATWEEL or len(_FORMS.get(char, ())) == 4


def _neighbour_index(text: str, i: int, step: int) -> int | None:
    """The nearest character from i in direction `step` that is not a vowel mark (marks are
    transparent to joining)."""
    j = i + step
    while 0 <= j < len(text) and unicodedata.category(text[j]) == "Mn":
        j += step
    return j if 0 <= j < len(text) else None


def _neighbour(text: str, i: int, step: int) -> str | None:
    j = _neighbour_index(text, i, step)
    return None if j is None else text[j]


def _resolved_types(chars: list[str]) -> list[str]:
    """Bidi types after the weak rules W1-W7: L, R, EN, AN or a neutral."""
    types = [unicodedata.bidirectional(c) or "L" for c in chars]
    strong = "sos"
    for i, t in enumerate(types):
        if t == "NSM":  # W1
            types[i] = t = types[i - 1] if i and types[i - 1] not in _NEUTRAL else "ON"
        if t in ("L", "R", "AL"):
            strong = t
        elif t == "EN" and strong == "AL":  # W2
            types[i] = "AN"
    types = ["R" if t == "AL" else t for t in types]  # W3
    for i in range(1, len(types) - 1):  # W4
        if types[i] == "ES" and types[i - 1] == types[i + 1] == "EN":
            types[i] = "EN"
        elif types[i] == "CS" and types[i - 1] == types[i + 1] and types[i - 1] in ("EN", "AN"):
            types[i] = types[i - 1]
    for i, t in enumerate(types):  # W5: terminators next to European digits
        if t == "ET":
            j = i
            while j < len(types) and types[j] == "ET":
                j += 1
            k = i
            while k > 0 and types[k - 1] == "ET":
                k -= 1
            if (j < len(types) and types[j] == "EN") or (k > 0 and types[k - 1] == "EN"):
                types[i] = "EN"
    types = ["ON" if t in ("ES", "ET", "CS") else t for t in types]  # W6
    strong = "sos"
    for i, t in enumerate(types):  # W7
        if t in ("L", "R"):
            strong = t
        elif t == "EN" and strong == "L":
            types[i] = "L"
    return types


def _levels(types: list[str], base: int) -> list[int]:
    """Embedding levels after the neutral (N1, N2) and implicit (I1, I2) rules."""
    direction = ["R" if t in ("R", "EN", "AN") else t for t in types]  # for N1, numbers count as R
    edge = "R" if base else "L"
    resolved = list(types)
    i = 0
    while i < len(types):
        if direction[i] in ("L", "R"):
            i += 1
            continue
        j = i
        while j < len(types) and direction[j] not in ("L", "R"):
            j += 1
        before = direction[i - 1] if i > 0 else edge
        after = direction[j] if j < len(types) else edge
        fill = before if before == after else edge
        for k in range(i, j):
            resolved[k] = fill
        i = j
    levels = []
    for t in resolved:
        if base % 2 == 0:
            levels.append(base + (1 if t == "R" else 2 if t in ("AN", "EN") else 0))
        else:
            levels.append(base + (1 if t in ("L", "EN", "AN") else 0))
    return levels


def wrap_logical(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """`text` broken into lines no wider than `width` (as `measure` says), at spaces where it can
    and inside a word only where a word is wider than a line; in reading order."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if measure(candidate) <= width or (not line and measure(word) <= width):
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            while measure(word) > width and len(word) > 1:  # a word wider than the line: cut it
                cut = max(1, len(word) - 1)
                while cut > 1 and measure(word[:cut]) > width:
                    cut = cut * 3 // 4 if cut > 8 else cut - 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines
