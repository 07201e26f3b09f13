"""Fonts for the brief, so that text in any script is drawn as itself and never as boxes.

The base font is DejaVu Sans, which ships inside matplotlib and so is always present; it covers
Latin, Cyrillic, Greek, Hebrew and Arabic. Other scripts come from system fonts with TrueType
outlines (reportlab cannot embed CFF outlines, nor draw colour bitmap emoji), which
`scripts/system-packages` installs on Debian: Noto Sans Arabic and Hebrew (letters DejaVu lacks),
Devanagari and Thai (`fonts-noto-core`), a CJK font (`fonts-wqy-zenhei`) and Symbola, a
monochrome font of emoji and symbols (`fonts-symbola`). `FORECAST_FONTS` (paths separated by ':')
adds others, tried first.

Each piece of text is split into runs by which font has the glyph (`FontSet.runs`). A character
no font has is written as its code point, `[U+0E01]`, and counted, so the brief can say what it
could not draw instead of printing an empty box. Devanagari and Thai need shaping (conjuncts,
vowel signs placed before or over their consonant): their fonts are marked `shaped`, and
`brief/textblock.py` shapes their runs with HarfBuzz.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from forecast.brief.bidi import visual

BASE = "DejaVuSans"
BASE_BOLD = "DejaVuSans-Bold"
BASE_ITALIC = "DejaVuSans-Oblique"
MONO = "DejaVuSansMono"
NOTO = "/usr/share/fonts/truetype/noto/"


@dataclass(frozen=True)
class Script:
    """A fallback font for one script: where Debian and others put it, a character it must have,
    and whether its text must be shaped."""

    name: str
    probe: str
    files: tuple[str, ...]
    shaped: bool = False


SCRIPTS = (
    Script("Arabic", "\u0628", (NOTO + "NotoSansArabic-Regular.ttf",)),
    Script("Hebrew", "\u05d0", (NOTO + "NotoSansHebrew-Regular.ttf",)),
    Script("Devanagari", "\u0915", (NOTO + "NotoSansDevanagari-Regular.ttf",
                                    "/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf"), shaped=True),
    Script("Thai", "\u0e01", (NOTO + "NotoSansThai-Regular.ttf",
                              "/usr/share/fonts/truetype/tlwg/Garuda.ttf"), shaped=True),
    Script("CJK", "\u4e2d", ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                             "/usr/share/fonts/truetype/arphic/uming.ttc",
                             "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")),
    Script("emoji", "\U0001f600", ("/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
                                   "/usr/share/fonts/truetype/ancient-scripts/Symbola.ttf")),
)
KNOWN_FALLBACKS = tuple(path for script in SCRIPTS for path in script.files)
CJK_PROBE = "中"
INSTALL_HINT = ("install a font that has them (on Debian: scripts/system-packages, or apt-get install fonts-noto-core "
                "fonts-wqy-zenhei fonts-symbola)")


def drawn(char: str) -> bool:
    """Whether a character is drawn at all: format characters (bidi controls, joiners, the soft
    hyphen) and variation selectors steer the layout and have no glyph of their own."""
    code = ord(char)
    return unicodedata.category(char) != "Cf" and not (0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


@dataclass
class FontSet:
    """The fonts registered with reportlab, in the order they are tried, and what they cover."""

    names: list[str]
    coverage: list[frozenset[int] | dict]
    fallback_files: list[str]
    shaped: frozenset[str] = frozenset()  # fonts whose runs HarfBuzz shapes
    missing: set[str] = field(default_factory=set)  # characters drawn as code points

    def font_of(self, char: str) -> str | None:
        code = ord(char)
        for name, covered in zip(self.names, self.coverage):
            if code in covered:
                return name
        return None

    def runs(self, text: str, base: str = BASE) -> list[tuple[str, str]]:
        """`text` (one line, in drawing order) as (font, characters) runs; spaces in the base font,
        so a line measures the same in reading and in drawing order. A character no font has
        becomes its code point in the base font, and is counted unless it is a control character
        or unassigned (no font could draw those)."""
        out: list[tuple[str, str]] = []
        current, run = base, []
        for char in text:
            if not drawn(char):
                if current in self.shaped:
                    run.append(char)  # HarfBuzz reads joiners (ZWJ, ZWNJ) and selectors itself
                continue
            category = unicodedata.category(char)
            # Some fonts map control characters to glyphs: a control character is never drawn.
            name = base if " " <= char <= "~" else None if category in ("Cc", "Cs") else self.font_of(char)
            if name == BASE and base != BASE and ord(char) in _coverage(base):
                name = base  # é in a bold header stays bold
            if name is None:
                if category not in ("Cc", "Cn", "Cs"):
                    self.missing.add(char)
                name, char = base, f"[U+{ord(char):04X}]"
            if name != current:
                if run:
                    out.append((current, "".join(run)))
                current, run = name, []
            run.append(char)
        if run:
            out.append((current, "".join(run)))
        return out

    def scan(self, text: str) -> None:
        """Count the characters of `text` that no font has, before it is laid out (the stamp
        says how many there were, and the stamp is written before the pages are)."""
        if not text.isascii():
            self.runs("".join(set(text)))

    def markup(self, text: str, base: str = BASE) -> str:
        """reportlab paragraph markup for a short text inside one of the brief's own sentences
        (a label): escaped, in drawing order, with a <font> run wherever the base font lacks a
        glyph, and line breaks kept. Text on its own goes through `brief/textblock.py` instead."""
        if text.isascii() and text.isprintable():
            return escape(text).replace("\n", "<br/>")
        lines = visual(text).split("\n")
        return "<br/>".join("".join(escape(chunk) if name == base else f'<font name="{name}">{escape(chunk)}</font>'
                                    for name, chunk in self.runs(line, base)) for line in lines)


@cache
def _coverage(name: str) -> dict:
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.getFont(name).face.charToGlyph


@cache
def brief_fonts() -> FontSet:
    """Register the base fonts and every usable fallback with reportlab (once per process)."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    from forecast.brief.extraction import install as install_tounicode

    install_tounicode()
    bundled = matplotlib_font_dir()
    base_fonts = {BASE: "DejaVuSans.ttf", BASE_BOLD: "DejaVuSans-Bold.ttf", BASE_ITALIC: "DejaVuSans-Oblique.ttf",
                  MONO: "DejaVuSansMono.ttf"}
    for name, file in base_fonts.items():
        # shapable=False: reportlab's own paragraphs must never shape (HarfBuzz would reverse
        # right-to-left text that is already in drawing order).
        pdfmetrics.registerFont(TTFont(name, str(bundled / file), shapable=False))
    # <b> and <i> in paragraphs map through these.
    for bold, italic, face in ((0, 0, BASE), (1, 0, BASE_BOLD), (0, 1, BASE_ITALIC), (1, 1, BASE_BOLD)):
        addMapping(BASE, bold, italic, face)
    base = pdfmetrics.getFont(BASE)
    names, coverage, files, shaped, done = [BASE], [base.face.charToGlyph], [], set(), set()
    for path, script in fallback_font_candidates():
        if script is not None and script.name in done:
            continue  # one font a script: more would only cost time
        name = f"Fallback{len(files)}"
        try:
            font = TTFont(name, path, subfontIndex=0, shapable=script is not None and script.shaped)
        except (TTFError, OSError, ValueError):
            continue  # CFF outlines, which reportlab cannot embed, or not a font at all
        if script is not None and ord(script.probe) not in font.face.charToGlyph:
            continue
        pdfmetrics.registerFont(font)
        for bold, italic in ((0, 0), (1, 0), (0, 1), (1, 1)):
            addMapping(name, bold, italic, name)  # one face each: bold text stays regular there
        names.append(name)
        coverage.append(font.face.charToGlyph)
        files.append(path)
        if font.shapable:
            shaped.add(name)
        if script is not None:
            done.add(script.name)
    return FontSet(names, coverage, files, frozenset(shaped))


def matplotlib_font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def fallback_font_candidates() -> Iterator[tuple[str, Script | None]]:
    """Fallback fonts, best first, each with the script it is for: every file in
    $FORECAST_FONTS (for no script in particular), then the first file found of each script in
    `SCRIPTS` that exists, and fontconfig's CJK fonts if no known one exists (asked only then)."""
    seen = set()

    def fresh(path: str) -> str | None:
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            return None
        seen.add(real)
        return real

    for path in os.environ.get("FORECAST_FONTS", "").split(os.pathsep):
        if path and (real := fresh(path)):
            yield real, None
    for script in SCRIPTS:
        found = [real for path in script.files if (real := fresh(path))]
        if script.name == "CJK" and not found:
            found = [real for path in _fontconfig_cjk_files() if (real := fresh(path))]
        yield from ((path, script) for path in found)


def _fontconfig_cjk_files() -> list[str]:
    if shutil.which("fc-list") is None:
        return []
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.strip().rstrip(":") for line in listed.splitlines() if line.strip().endswith((".ttf:", ".ttc:")))


def families(paths: Iterable[str]) -> list[str]:
    """The family names of font files, registered with matplotlib's font manager."""
    from matplotlib import font_manager

    names = []
    for path in paths:
        font_manager.fontManager.addfont(path)
        names.append(font_manager.FontProperties(fname=path).get_name())
    return names
