"""Fonts for the brief, so that text in any language is drawn as itself and never as boxes.

The base font is DejaVu Sans, which ships inside matplotlib and so is always present; it covers
Latin, Cyrillic and Greek. Chinese, Japanese and Korean come from a system font with TrueType
outlines (reportlab cannot embed CFF outlines): by default Debian's `fonts-wqy-zenhei`, which
`scripts/system-packages` installs; `FORECAST_FONTS` (paths separated by ':') adds others.

Each piece of text is split into runs by which font has the glyph. A character no font has is
written as its code point, `[U+0E01]`, and counted, so the brief can say what it could not draw
instead of printing an empty box.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from forecast.brief.bidi import has_rtl, visual

BASE = "DejaVuSans"
BASE_BOLD = "DejaVuSans-Bold"
BASE_ITALIC = "DejaVuSans-Oblique"
MONO = "DejaVuSansMono"
# Where Debian and other distributions put CJK fonts with TrueType outlines.
KNOWN_FALLBACKS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
CJK_PROBE = "中"  # a fallback font must have at least this
INSTALL_HINT = "install a font that has them (on Debian: apt-get install fonts-wqy-zenhei, or scripts/system-packages)"


@dataclass
class FontSet:
    """The fonts registered with reportlab, in the order they are tried, and what they cover."""

    names: list[str]
    coverage: list[frozenset[int] | dict]
    fallback_files: list[str]
    missing: set[str] = field(default_factory=set)  # characters drawn as code points

    def font_of(self, char: str) -> str | None:
        code = ord(char)
        for name, covered in zip(self.names, self.coverage):
            if code in covered:
                return name
        return None

    def markup(self, text: str, base: str = BASE) -> str:
        """reportlab paragraph markup for `text`: escaped, with a <font> run wherever the
        base font lacks a glyph, and line breaks kept."""
        if text.isascii():
            return escape(text).replace("\n", "<br/>")
        if has_rtl(text):  # Hebrew or Arabic: each line in drawing order, Arabic joined
            text = "\n".join(visual(line) for line in text.split("\n"))
        out: list[str] = []
        current, run = base, []

        def flush() -> None:
            if run:
                chunk = escape("".join(run))
                out.append(chunk if current == base else f'<font name="{current}">{chunk}</font>')
                run.clear()

        for char in text:
            if char == "\n":
                flush()
                out.append("<br/>")
                continue
            name = base if char.isspace() else self.font_of(char)
            if name is None:
                self.missing.add(char)
                name, char = BASE, f"[U+{ord(char):04X}]"
            if name != current:
                flush()
                current = name
            run.append(char)
        flush()
        return "".join(out)


@cache
def brief_fonts() -> FontSet:
    """Register the base fonts and every usable fallback with reportlab (once per process)."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    bundled = matplotlib_font_dir()
    base_fonts = {BASE: "DejaVuSans.ttf", BASE_BOLD: "DejaVuSans-Bold.ttf", BASE_ITALIC: "DejaVuSans-Oblique.ttf",
                  MONO: "DejaVuSansMono.ttf"}
    for name, file in base_fonts.items():
        pdfmetrics.registerFont(TTFont(name, str(bundled / file)))
    # <b> and <i> in paragraphs map through these.
    for bold, italic, face in ((0, 0, BASE), (1, 0, BASE_BOLD), (0, 1, BASE_ITALIC), (1, 1, BASE_BOLD)):
        addMapping(BASE, bold, italic, face)
    base = pdfmetrics.getFont(BASE)
    names, coverage, files = [BASE], [base.face.charToGlyph], []
    for path in fallback_font_candidates():
        name = f"Fallback{len(files)}"
        try:
            font = TTFont(name, path, subfontIndex=0)  # parsed once per process: a CJK font is large
        except (TTFError, OSError, ValueError):
            continue  # CFF outlines, which reportlab cannot embed, or not a font at all
        if ord(CJK_PROBE) not in font.face.charToGlyph:
            continue
        pdfmetrics.registerFont(font)
        for bold, italic in ((0, 0), (1, 0), (0, 1), (1, 1)):
            addMapping(name, bold, italic, name)  # no bold CJK face: bold text stays regular there
        names.append(name)
        coverage.append(font.face.charToGlyph)
        files.append(path)
        break  # one CJK font covers Chinese, Japanese and Korean; more would only cost time
    return FontSet(names, coverage, files)


def matplotlib_font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def fallback_font_candidates() -> Iterator[str]:
    """Possible CJK fonts, best first: $FORECAST_FONTS, the known places, then fontconfig's list
    (asked only if nothing before it exists)."""
    seen = set()

    def fresh(paths: Iterable[str]) -> Iterator[str]:
        for path in paths:
            real = os.path.realpath(path)
            if real not in seen and os.path.isfile(real):
                seen.add(real)
                yield real

    yield from fresh([p for p in os.environ.get("FORECAST_FONTS", "").split(os.pathsep) if p])
    yield from fresh(KNOWN_FALLBACKS)
    yield from fresh(_fontconfig_cjk_files())


def _fontconfig_cjk_files() -> list[str]:
    if shutil.which("fc-list") is None:
        return []
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.strip().rstrip(":") for line in listed.splitlines() if line.strip().endswith((".ttf:", ".ttc:")))


def configure_matplotlib(fonts: FontSet, texts: Iterable[str] = ()) -> None:
    """Let charts fall back to the same CJK fonts when `texts` (the labels the charts will show)
    need them. Only then: a fallback chain makes every text layout in matplotlib twice as slow."""
    import logging

    import matplotlib
    from matplotlib import font_manager

    # CJK fonts often come in one weight (500 for WenQuanYi); matplotlib uses it and says so
    # on every glyph lookup, which is noise for a user.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

    families = ["DejaVu Sans"]
    needed = any(fonts.font_of(c) not in (BASE, None) for text in texts for c in text if not c.isspace())
    for path in fonts.fallback_files if needed else ():
        font_manager.fontManager.addfont(path)
        families.append(font_manager.FontProperties(fname=path).get_name())
    matplotlib.rcParams["font.family"] = families
