"""Text that came from a user (an event's description, a priors path, a note naming a label),
laid out and drawn so that it reads as written, in any script, and can never break the brief.

reportlab's Paragraph wraps the string it is given; right-to-left text must be wrapped in
reading order and only then reordered, line by line, with its paragraph's direction, and
Devanagari must be shaped and still copy out as the letters that were typed. So this flowable
does the layout itself, with reportlab's own measurements:

* a paragraph is reshaped (Arabic), its embedding levels resolved, and its direction taken from
  its first strong character (`brief/bidi.py`); right-to-left paragraphs are set flush right;
* it is broken into lines in reading order: at spaces, between CJK characters, and inside a
  word only where the word alone is wider than the line; each piece is measured as it is drawn
  (the width of each font run's glyphs, HarfBuzz's advances for shaped runs);
* each line is reordered for display from the paragraph's levels, split into font runs
  (`brief/fonts.py`), and drawn; a shaped run is wrapped in marked content whose /ActualText is
  the run as typed, so a reader copying it gets the letters back in reading order, not glyphs;
* at most `max_height` points of it are kept: past that it is cut at a line, with the mark
  "… [cut: N characters in all]". A table row can then never be taller than a page, whatever an
  event holds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import ShapedStr, shapeStr
from reportlab.platypus import Flowable

from forecast.brief.bidi import PARAGRAPH_BREAKS, levels, reorder, reshape
from forecast.brief.extraction import actual_text
from forecast.brief.fonts import FontSet

MAX_CHARS = 20_000  # read no further: far more than any cell can show, even of zero-width marks
_OTHER_BREAKS = re.compile("[\x0b\x0c\u2028]")  # vertical tab, form feed, line separator: a new line too
_SPACES = re.compile("[\t\u1680\u2000-\u200a\u205f\u3000]")  # drawn as a space (no-break spaces stay)


@dataclass(frozen=True)
class Line:
    text: str  # in reading order, Arabic reshaped
    levels: list[int]
    rtl: bool


def clean(text: str) -> str:
    """The text as it will be laid out: lone surrogates replaced, tabs and other spaces as a
    space, every line break as a newline."""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8") if any(0xD800 <= ord(c) <= 0xDFFF for c in text) else text
        text = _SPACES.sub(" ", _OTHER_BREAKS.sub("\n", text))
    return PARAGRAPH_BREAKS.sub("\n", text.replace("\t", " "))


def _wide(char: str) -> bool:
    """A character a line may break before or after (CJK ideographs, kana, Hangul)."""
    return unicodedata.east_asian_width(char) in ("W", "F") and unicodedata.category(char).startswith("L")


def pieces(paragraph: str) -> list[str]:
    """The paragraph as pieces a line may break between: words, single spaces, and single wide
    characters (with any marks or closing punctuation that must stay with them)."""
    out: list[str] = []
    word: list[str] = []
    for char in paragraph:
        if char == " ":
            if word:
                out.append("".join(word))
                word = []
            out.append(" ")
        elif _wide(char):
            if word:
                out.append("".join(word))
            word = [char]
            out.append("".join(word))
            word = []
        elif not word and out and out[-1] != " " and (unicodedata.category(char)[0] in "MP" or not unicodedata.category(char)[0].isalnum()):
            out[-1] += char  # a mark or a closing stop after a wide character stays with it
        else:
            word.append(char)
    if word:
        out.append("".join(word))
    return out


class TextBlock(Flowable):
    """User text in `style`'s font and size, wrapped to the width it is given."""

    def __init__(self, text: str, style: ParagraphStyle, fonts: FontSet, max_height: float | None = None,
                 lines: list[Line] | None = None) -> None:
        super().__init__()
        self.text = text
        self.style = style
        self.fonts = fonts
        self.max_height = max_height
        self._fixed = lines  # a part of a split block: its lines, already laid out
        self._laid: tuple[float, list[Line]] | None = None
        self._widths: dict[tuple[str, str], float] = {}
        if lines is None:
            fonts.scan(text[:MAX_CHARS])

    # --- measuring -----------------------------------------------------------------------

    def run_width(self, font: str, chunk: str) -> float:
        size = self.style.fontSize
        key = (font, chunk)
        if key not in self._widths:
            if font in self.fonts.shaped:
                shaped = shapeStr(chunk, font, size)
                self._widths[key] = (sum(d.x_advance for d in shaped.__shapeData__) * size / 1000
                                     if isinstance(shaped, ShapedStr) else stringWidth(chunk, font, size))
            else:
                self._widths[key] = stringWidth(chunk, font, size)
        return self._widths[key]

    def width_of(self, text: str) -> float:
        return sum(self.run_width(font, chunk) for font, chunk in self.fonts.runs(text, self.style.fontName))

    # --- layout --------------------------------------------------------------------------

    @cached_property
    def _source(self) -> tuple[str, bool]:
        """The text to lay out, and whether it was cut before layout for its sheer length."""
        text = self.text if len(self.text) <= MAX_CHARS else self.text[:MAX_CHARS]
        return clean(text), len(self.text) > MAX_CHARS

    def _lay_out(self, width: float, max_lines: int | None) -> tuple[list[Line], bool]:
        """Lines of the text at `width`: no more than `max_lines` + 1 (more cannot be shown), and
        whether there was more text than the lines returned hold."""
        text, cut = self._source
        limit = 10**9 if max_lines is None else max_lines + 1
        lines: list[Line] = []
        for paragraph in text.split("\n"):
            shaped = reshape(paragraph)
            rtl, lv = levels(shaped)
            for begin, end in self._break(shaped, width, limit - len(lines)):
                lines.append(Line(shaped[begin:end], lv[begin:end], rtl))
            if len(lines) >= limit:
                return lines, True
        return lines, cut

    def _break(self, paragraph: str, width: float, limit: int) -> list[tuple[int, int]]:
        """(start, end) of each line of one paragraph, at most `limit` of them: greedy, trailing
        spaces left out, a piece wider than a whole line cut where it fills one."""
        spans: list[tuple[int, int]] = []
        begin = position = end = 0  # the current line's start, the next piece's, the line's text end
        used = 0.0
        for piece in pieces(paragraph):
            if len(spans) >= limit:
                return spans
            if piece == " ":
                if end > begin:
                    used += self.width_of(" ")
                else:
                    begin = position + 1  # no space at the start of a line
                position += 1
                continue
            size = self.width_of(piece)
            if end > begin and used + size > width:
                spans.append((begin, end))
                begin, used = position, 0.0
            if size <= width:
                position += len(piece)
                end, used = position, used + size
                continue
            for chunk in self._split_word(piece, width, limit - len(spans)):
                if end > begin:
                    spans.append((begin, end))
                    begin = position
                position += len(chunk)
                end, used = position, self.width_of(chunk)
        spans.append((begin, max(begin, end)))
        return spans

    def _split_word(self, word: str, width: float, limit: int) -> list[str]:
        """A word wider than a line in chunks that each fit one, cut between characters, never
        before a combining mark; each holds at least one character. After `limit` chunks the
        rest is one chunk: it will not be shown."""
        chunks: list[str] = []
        rest = word
        while rest and len(chunks) < limit:
            fits, step = 0, 1  # the longest prefix that fits: doubling, then bisection
            while fits + step <= len(rest) and self.width_of(rest[: fits + step]) <= width:
                fits += step
                step *= 2
            while step > 1:
                step //= 2
                if fits + step <= len(rest) and self.width_of(rest[: fits + step]) <= width:
                    fits += step
            fits = max(fits, 1)
            while fits < len(rest) and unicodedata.category(rest[fits])[0] == "M":
                fits += 1  # keep marks with their letter
            chunks.append(rest[:fits])
            rest = rest[fits:]
        return [*chunks, rest] if rest else chunks

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if self._fixed is not None:
            self._lines = self._fixed
        elif self._laid is None or self._laid[0] != availWidth:
            self._laid = (availWidth, self._fit(availWidth))
            self._lines = self._laid[1]
        else:
            self._lines = self._laid[1]
        self.width = availWidth
        self.height = len(self._lines) * self.style.leading
        return availWidth, self.height

    def _fit(self, width: float) -> list[Line]:
        """The lines to draw: all of them, or as many as `max_height` holds with the mark of a cut."""
        leading = self.style.leading
        max_lines = None if self.max_height is None else max(1, int(self.max_height // leading))
        lines, cut = self._lay_out(width, max_lines)
        if not cut:
            return lines
        mark = f"… [cut: {len(self.text):,} characters in all]"
        note = [Line(mark[b:e], [0] * (e - b), False) for b, e in self._break(mark, width, 10**9)]
        keep = max(0, (max_lines or len(lines)) - len(note))
        return lines[:keep] + note

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        self.wrap(availWidth, availHeight)
        fit = int(availHeight // self.style.leading)
        if fit <= 0 or fit >= len(self._lines):
            return [] if fit <= 0 else [self]
        first = TextBlock(self.text, self.style, self.fonts, lines=self._lines[:fit])
        rest = TextBlock(self.text, self.style, self.fonts, lines=self._lines[fit:])
        return [first, rest]

    def getSpaceBefore(self) -> float:
        return self.style.spaceBefore

    def getSpaceAfter(self) -> float:
        return self.style.spaceAfter

    def minWidth(self) -> float:
        return max((self.width_of(p) for p in pieces(clean(self.text[:2000])) if p != " "), default=0.0)

    # --- drawing -------------------------------------------------------------------------

    def draw(self) -> None:
        canvas = self.canv
        size, leading = self.style.fontSize, self.style.leading
        canvas.setFillColor(self.style.textColor)
        y = self.height - size
        for line in self._lines:
            runs = self.fonts.runs(reorder(line.text, line.levels, line.rtl), self.style.fontName)
            total = sum(self.run_width(font, chunk) for font, chunk in runs)
            x = self.width - total if line.rtl or self.style.alignment == TA_RIGHT else 0.0
            whole = any(level % 2 for level in line.levels)  # right-to-left letters: the line says what it holds
            if whole:
                canvas.addLiteral(_span(actual_text(line.text)))
            for font, chunk in runs:
                x += self._draw_run(font, chunk, x, y, own_span=not whole)
            if whole:
                canvas.addLiteral("EMC")
            y -= leading

    def _draw_run(self, font: str, chunk: str, x: float, y: float, own_span: bool) -> float:
        canvas = self.canv
        size = self.style.fontSize
        text = canvas.beginText(x, y)
        text.setFont(font, size)
        shaped = font in self.fonts.shaped
        # A shaped run's glyphs are not the letters typed (a conjunct is one glyph, a vowel sign
        # is drawn before its consonant): the run says what it stands for.
        if shaped and own_span:
            canvas.addLiteral(_span(chunk))
        text.textOut(shapeStr(chunk, font, size) if shaped else chunk)
        canvas.drawText(text)
        if shaped and own_span:
            canvas.addLiteral("EMC")
        return self.run_width(font, chunk)


def _span(text: str) -> str:
    """The start of a marked-content span whose /ActualText is `text` (UTF-16, as PDF wants)."""
    return f"/Span <</ActualText <{('\ufeff' + text).encode('utf-16-be', 'surrogatepass').hex().upper()}>>> BDC"
