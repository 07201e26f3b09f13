"""The building blocks of the brief's pages: A4 geometry, styles, text that renders in any
language, tables (one per page for long ones), charts as images, the numbered footer, and the
number formats. `brief_pdf.py` composes the sections from these.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Image, LongTable, PageBreak, Paragraph, Table, TableStyle

from forecast.brief.fonts import BASE, BASE_BOLD, FontSet
from forecast.brief.textblock import TextBlock

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from forecast.io.ledger import RunRecord

MARGIN = 15 * mm
WIDTH = A4[0] - 2 * MARGIN  # 180 mm of text width
INCH = 72.0
RED = colors.HexColor("#b2182b")
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#bbbbbb")
HEADER_FILL = colors.HexColor("#eef2f7")
rl_config.useA85 = 0  # binary image streams: smaller files, and no pure-Python ASCII85 pass
CHART_DPI = 150  # sharp on paper; 200 costs a third more time for no visible gain at A4

class Styles:
    def __init__(self) -> None:
        # reportlab's default wrapping breaks CJK text between characters and Latin text at
        # spaces; its "CJK" mode would also split Latin words anywhere.
        base = dict(fontName=BASE, alignment=TA_LEFT)
        self.body = ParagraphStyle("body", fontSize=9, leading=12, spaceAfter=4, **base)
        self.small = ParagraphStyle("small", fontSize=7.5, leading=9.5, **base)
        self.note = ParagraphStyle("note", fontSize=7.5, leading=9.5, textColor=GREY, spaceAfter=3, **base)
        self.cell = ParagraphStyle("cell", fontSize=7.5, leading=9, **base)
        self.cell_bold = ParagraphStyle("cellb", fontSize=7.5, leading=9, **{**base, "fontName": BASE_BOLD})
        self.big = ParagraphStyle("big", fontSize=15, leading=18, **{**base, "fontName": BASE_BOLD})
        self.title = ParagraphStyle("title", fontSize=16, leading=20, spaceAfter=2, **{**base, "fontName": BASE_BOLD})
        self.subtitle = ParagraphStyle("subtitle", fontSize=8.5, leading=11, textColor=GREY, spaceAfter=6, **base)
        self.h1 = ParagraphStyle("h1", fontSize=12.5, leading=15, spaceBefore=8, spaceAfter=4, **{**base, "fontName": BASE_BOLD})
        self.h2 = ParagraphStyle("h2", fontSize=9.5, leading=12, spaceBefore=5, spaceAfter=3, **{**base, "fontName": BASE_BOLD})
        self.banner = ParagraphStyle("banner", fontSize=9, leading=12, textColor=colors.white, **{**base, "fontName": BASE_BOLD})
        self.banner_body = ParagraphStyle("bannerb", fontSize=8, leading=10.5, textColor=colors.white, **base)


class Layout:
    """Paragraphs and tables; `text` escapes and splits runs by font so any language renders."""

    def __init__(self, fonts: FontSet) -> None:
        self.fonts = fonts
        self.s = Styles()

    def text(self, value: str, style: ParagraphStyle | None = None) -> TextBlock:
        """Text that is not ours (or holds something that is), drawn as written (`TextBlock`)."""
        return TextBlock(value, style or self.s.body, self.fonts)

    def rich(self, markup: str, style: ParagraphStyle | None = None) -> Paragraph:
        """A paragraph from markup we wrote ourselves; user text inside goes through `esc`."""
        return Paragraph(markup, style or self.s.body)

    def esc(self, value: str) -> str:
        return self.fonts.markup(value)

    def cell[T](self, value: T, style: ParagraphStyle | None = None) -> TextBlock | T:
        """Text that may need wrapping or another font becomes a `TextBlock` at most
        `CELL_HEIGHT` high (longer text is cut, with a mark that says how long it was: a row
        taller than a page would stop the whole brief); a short ASCII cell stays a plain string,
        which a 5,000-row event log draws several times faster."""
        if isinstance(value, str) and (style is not None or not value.isascii() or len(value) > 12 or not value.isprintable()):
            return TextBlock(value, style or self.s.cell, self.fonts, max_height=CELL_HEIGHT)
        return value

    def table(
        self, rows: list[list], widths_mm: list[float], *,
        header: bool = True, extra: Iterable[tuple] = (), cells: Sequence[list] | None = None,
    ) -> Table:
        """A styled table; `cells`, if given, are the body rows already made into cells."""
        if header:
            rows = [[_breakable(v, w * mm - 4) if isinstance(v, str) else v for v, w in zip(rows[0], widths_mm)], *rows[1:]]
        data = [[self.cell(v, self.s.cell_bold if header and i == 0 else None) for v in row] for i, row in enumerate(rows)]
        if cells is not None:
            data = [data[0], *cells] if header else list(cells)
        style = [
            ("FONTNAME", (0, 0), (-1, -1), BASE),
            ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ]
        if header:
            style += [("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL)]
        style += list(extra)
        cls = LongTable if len(rows) > 40 else Table
        t = cls(data, colWidths=[w * mm for w in widths_mm], repeatRows=1 if header else 0, hAlign="LEFT")
        t.setStyle(TableStyle(style))
        return t

    def paged_table(self, header: list[str], rows: list[list], shaded: list[bool], widths_mm: list[float],
                     first_page_used: float) -> list:
        """A long table as one table per page, each with its header.

        reportlab re-measures every remaining row each time it splits one long table across a
        page, which grows with the square of its length. Measuring the
        whole table once and cutting the pages here keeps it linear. `first_page_used` is the
        height (pt) taken above the table on its first page.
        """
        # The frame's height: the page less its margins and the frame's own 6 pt paddings, less 4 pt spare.
        frame = A4[1] - 2 * MARGIN - 4 * mm - 12 - 4
        cells = [[self.cell(v) for v in row] for row in rows]
        whole = self.table([header, *rows], widths_mm, cells=cells)
        whole.wrap(WIDTH, 1e9)
        head, *heights = whole._rowHeights  # measured once, by reportlab itself

        def page(start: int, stop: int) -> Table:
            grey = [n + 1 for n in range(stop - start) if shaded[start + n]]
            styles = [("TEXTCOLOR", (0, n), (-1, n), GREY) for n in grey]
            styles += [("BACKGROUND", (0, n), (-1, n), colors.HexColor("#f4f4f4")) for n in grey]
            return self.table([header, *rows[start:stop]], widths_mm, extra=styles, cells=cells[start:stop])

        out, start, used, room = [], 0, 0.0, frame - first_page_used - head
        for i, height in enumerate(heights):
            if used + height > room and i > start:
                out += [page(start, i), PageBreak()]
                start, used, room = i, 0.0, frame - head
            used += height
        return [*out, page(start, len(rows))]


def numbered_canvas(footer: str, flagged: bool) -> type[rl_canvas.Canvas]:
    """A canvas that holds every page until the end, so each footer can say 'page n of N'."""

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(BASE, 7)
                self.setFillColor(RED if flagged else GREY)
                text = footer + (" · DIAGNOSTICS FAILED" if flagged else "")
                self.drawString(MARGIN, 9 * mm, text)
                self.drawRightString(A4[0] - MARGIN, 9 * mm, f"page {self._pageNumber} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


def image(fig: Figure) -> Image:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=CHART_DPI)
    width_in, height_in = fig.get_size_inches()
    buffer.seek(0)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return Image(buffer, width=width_in * INCH, height=height_in * INCH)


def pct(p: float) -> str:
    return f"{100 * p:.1f} %"


def pts(delta: float) -> str:
    return f"{100 * delta + 0.0:+.1f} pts" if abs(100 * delta) >= 0.05 else "0.0 pts"  # never "-0.0"


def interval(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:+.3f} to {bounds[1]:+.3f}"


def since(previous: RunRecord | None) -> str:
    return "Change since the previous run" if previous is None else f"Change since the run as of {previous.as_of}"


def change(run: RunRecord, previous: RunRecord | None, key: str) -> str:
    if previous is None:
        return "first run"
    if key not in previous.headline:
        return "new path"
    if previous.horizon_weeks != run.horizon_weeks:
        return "horizon changed"
    return pts(run.headline[key]["p"] - previous.headline[key]["p"])


CELL_HEIGHT = 24 * 9.0  # points of text in one table cell at most: 24 lines of the cell style, a third of a page


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def wrap_label(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def _breakable(header: str, width: float) -> str:
    """A column header whose words too wide for the column may break after '/' or '-'
    ("Energy/ food- for- humanitarian"), rather than reportlab cutting them mid-letter."""
    words = header.split(" ")
    for i, word in enumerate(words):
        if stringWidth(word, BASE_BOLD, 7.5) > width:
            words[i] = word.replace("/", "/ ").replace("-", "- ")
    return " ".join(words)


def signed_skill(skill: dict) -> str:
    """A skill score as tables print it: the value and its interval, signed."""
    if skill["value"] is None:
        return "undefined"
    if skill["lo"] is None:
        return f"{skill['value']:+.2f} (no interval)"
    return f"{skill['value']:+.2f} ({skill['lo']:+.2f} to {skill['hi']:+.2f})"
