"""The exceptions the CLI turns into exit codes."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class ForecastError(Exception):
    """Base class; exit code 1."""

    exit_code = 1


class InputError(ForecastError):
    """Bad input that the user can fix: exit code 2, nothing written.

    Carries where the problem is (file, line, column) so that the message can
    point at it the way a compiler would.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None, column: str | int | None = None) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.detail}" if prefix else self.detail


class InferenceFailed(ForecastError):
    """The sampler ran but its diagnostics failed: exit code 3, run stored and flagged."""

    exit_code = 3


class WorkspaceBusy(ForecastError):
    """Another process holds the workspace lock and we were told not to wait."""

    exit_code = 1


# Characters a terminal acts on instead of showing: C0 and C1 controls (an escape sequence can
# clear the screen or recolour what follows) and the bidirectional overrides (which reorder it).
_HIDDEN = {*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_KEPT = {"\n", "\t"}


def printable(text: str, *, json: bool = False) -> str:
    """`text` with the characters a terminal would act on written as escapes (`\\x1b`, `\\u202e`;
    `\\u001b` inside JSON), so that input echoed in a message is shown, never obeyed."""
    if text.isprintable() and text.isascii():
        return text

    def shown(char: str) -> str:
        code = ord(char)
        if code not in _HIDDEN or char in _KEPT:
            return char
        return f"\\u{code:04x}" if json or code > 0xFF else f"\\x{code:02x}"

    return "".join(shown(c) for c in text)


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix for a near miss, or a list of the valid values."""
    choices = sorted(choices)
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(f"'{c}'" for c in choices)
