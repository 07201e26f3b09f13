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
