"""Reading the PDFs we write back as text, as an analyst's tools would."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from forecast.brief.pdf import HEADINGS as SECTIONS

# The seven parts of the brief (docs/BRIEF.md), numbered in order, and the stamp.
assert [h.split(".")[0] for h in SECTIONS] == [str(i) for i in range(1, 8)]
HEADINGS = (*SECTIONS, "Reproducibility stamp")


def pdf_text(path: Path) -> str:
    """The text of a PDF, with runs of whitespace collapsed (pdftotext keeps the layout's breaks)."""
    raw = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", " ", raw)


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


def pdf_text_unwrapped(path: Path) -> str:
    """The text in drawing order with every space and line break removed: a wrapped CJK
    sentence (which has no spaces of its own) reads back whole."""
    raw = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", "", raw)


def event_log_pdf(path: Path, texts: list[tuple[str, str, str]], fonts=None, event_ids: list[str] | None = None) -> Path:
    """Only the brief's event log (section 7's table, drawn by the brief's own code) for signals
    whose (actor, description, source) are `texts`: a brief's user text without a fit."""
    import datetime as dt
    from types import SimpleNamespace

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    from forecast.brief.content import LoggedEvent
    from forecast.brief.fonts import brief_fonts
    from forecast.brief.layout import MARGIN
    from forecast.brief.pdf import _Writer
    from forecast.io.events import Event

    day = dt.date(2025, 3, 3)
    ids = event_ids or [f"e{i}" for i in range(len(texts))]
    log = [LoggedEvent(Event(ids[i], "signal", day, day, "territorial_rigidity", 1.0, None, None, "B", "2", *text), "used", "")
           for i, text in enumerate(texts)]
    brief = SimpleNamespace(log=log, factor_labels={"territorial_rigidity": "Territorial rigidity"}, labels={})
    story = _Writer(brief, fonts or brief_fonts()).event_log()[1:]  # without the page break before it
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN + 4 * mm)  # as render_brief
    doc.build(story)
    return path


# Marks of direction: pdftotext's around right-to-left runs (U+202A-U+202E), the brief's LRM
# after each (brief/extraction.py); not part of the text.
DIRECTION_MARKS = re.compile("[\u200e\u200f\u202a-\u202e]")


def read_back(path: Path) -> str:
    """What pdftotext gives back, as an analyst would copy it: marks of direction removed and
    runs of whitespace collapsed."""
    raw = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", " ", DIRECTION_MARKS.sub("", raw))
