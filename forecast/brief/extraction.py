"""What a reader that copies text out of the brief gets back (pdftotext, a PDF viewer's copy).

Two things decide it: the ToUnicode map of each embedded font, which says which characters each
drawn glyph stands for, and /ActualText, which says what a run of glyphs stands for as a whole.

reportlab writes that map with one 4-digit hex code a glyph, so a character beyond U+FFFF (an
emoji, U+1F600) comes back as the wrong one (U+1F60): PDF wants it as a UTF-16 pair. And Arabic is
drawn in its joined presentation forms (`brief/bidi.py`), which would come back as those forms
instead of the letters that were written. `install()` replaces reportlab's writer with one that
writes UTF-16 and maps a presentation form to its letters (NFKC). A ligature of several letters
(lam-alef) is drawn in a right-to-left run in drawing order, which readers reverse, so its
letters are written reversed too and come back in reading order.
"""

from __future__ import annotations

import unicodedata

LRM = "\u200e"  # LEFT-TO-RIGHT MARK: invisible, strongly left to right
_PRESENTATION = ((0xFB50, 0xFDFF), (0xFE70, 0xFEFF), (0xFB1D, 0xFB4F))


def text_of(code: int) -> str:
    """The text a glyph drawn for the character `code` stands for."""
    char = chr(code)
    if _presentation(code):
        letters = unicodedata.normalize("NFKC", char).replace(" ", "")  # isolated harakat forms carry a space
        return letters[::-1] if len(letters) > 1 and unicodedata.bidirectional(char) in ("R", "AL") else letters or char
    return char


def actual_text(line: str) -> str:
    """The /ActualText of a line that holds right-to-left letters, `line` in reading order.

    Readers such as poppler (pdftotext, Evince) take glyphs drawn right to left to be in drawing
    order, as almost every PDF draws them, and reverse each right-to-left section of a line
    themselves: a section starts at a right-to-left letter and runs on over spaces and
    punctuation until a left-to-right letter or a digit. They treat /ActualText the same way. So
    the text given here is the line with each right-to-left segment (from a right-to-left letter
    to the last one before a left-to-right letter or a digit) reversed, and followed by an LRM,
    which ends the reader's section there instead of taking in the space or bracket after it.
    The reader's reversal then gives back the line as written, brackets as typed, an LRM after
    each right-to-left segment. Arabic in presentation forms is given as its letters."""
    text = unicodedata.normalize("NFKC", line) if any(_presentation(ord(c)) for c in line) else line
    out: list[str] = []
    segment: list[str] = []  # the right-to-left segment being read, and what follows its last letter
    tail: list[str] = []
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL") or (kind == "NSM" and segment and not tail):
            segment += [*tail, char]
            tail = []
        elif segment and kind not in ("L", "EN", "AN"):
            tail.append(char)
        else:
            if segment:
                out += [*reversed(segment), LRM, *tail]
                segment, tail = [], []
            out.append(char)
    if segment:
        out += [*reversed(segment), LRM, *tail]
    return "".join(out)


def _presentation(code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in _PRESENTATION)


def _utf16_hex(text: str) -> str:
    data = text.encode("utf-16-be", "surrogatepass")
    return data.hex().upper()


def to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab's `makeToUnicodeCMap`, with each glyph's text written as UTF-16 (see above)."""
    return "\n".join([
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo",
        f"<< /Registry ({fontname})",
        f"/Ordering ({fontname})",
        "/Supplement 0",
        ">> def",
        f"/CMapName /{fontname} def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange",
        f"{len(subset)} beginbfchar",
        *(f"<{i:02X}> <{_utf16_hex(text_of(code))}>" for i, code in enumerate(subset)),
        "endbfchar",
        "endcmap",
        "CMapName currentdict /CMap defineresource pop",
        "end",
        "end",
    ])


def install() -> None:
    """Make reportlab write every ToUnicode map this way (its TrueType fonts look the writer up
    by name when a document is saved)."""
    from reportlab.pdfbase import ttfonts

    ttfonts.makeToUnicodeCMap = to_unicode_cmap
