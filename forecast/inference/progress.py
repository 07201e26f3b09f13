"""The sampler's progress as one short line, readable in an 80-column terminal and in a log.

PyMC's own progress table has a column per statistic and per chain, and cuts its headers to
"Dive…" at 80 columns. This is one line instead, fed by the compiled sampler between blocks of
iterations (or by PyMC's per-draw callback when PyMC samples): on a terminal one line is
rewritten in place a few times a second; elsewhere (a log file, CI) a line is printed at each
quarter, so a log is never flooded.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from pymc.backends.base import IBaseTrace
    from pymc.sampling.parallel import Draw

WIDTH = 79  # never wrap an 80-column terminal
REFRESH_SECONDS = 0.2


class SamplingProgress:
    def __init__(self, chains: int, tune: int, draws: int, stream: TextIO | None = None) -> None:
        self.total = chains * (tune + draws)
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.divergences = 0
        self.started = time.perf_counter()
        self.last_shown = 0.0
        self.quarter_shown = 0

    def __call__(self, trace: IBaseTrace | None = None, draw: Draw | None = None) -> None:
        """PyMC's callback (the PyMC sampler): one call per draw of any chain, tuning included."""
        if draw is not None and not draw.tuning:
            self.divergences += sum(bool(s.get("diverging", False)) for s in _stats(draw))
        self.update(self.done + 1)

    def update(self, done: int, divergences: int | None = None) -> None:
        """The compiled sampler's report: draws done so far over every chain, tuning included."""
        self.done = done
        if divergences is not None:
            self.divergences = divergences
        now = time.perf_counter()
        if self.interactive:
            if now - self.last_shown >= REFRESH_SECONDS or self.done == self.total:
                self.last_shown = now
                self.stream.write("\r" + self.line(now).ljust(WIDTH)[:WIDTH] + ("\n" if self.done >= self.total else ""))
                self.stream.flush()
        else:
            quarter = 4 * self.done // max(self.total, 1)
            if quarter > self.quarter_shown:
                self.quarter_shown = quarter
                self.stream.write(self.line(now) + "\n")
                self.stream.flush()

    def line(self, now: float) -> str:
        share = self.done / max(self.total, 1)
        elapsed = now - self.started
        divergent = f", {self.divergences} divergent" if self.divergences else ""
        line = f"sampling {share:4.0%}  {self.done:,}/{self.total:,} draws{divergent}  {elapsed:.0f} s"
        if 0.05 <= share < 1:  # the first draws are tuning's slowest: no estimate from them
            line += f", ~{elapsed * (1 - share) / share:.0f} s left"
        return line

    def announce(self, chains: int, tune: int, draws: int, threads: int) -> None:
        """One line as sampling starts, so a log shows what is running before its first quarter."""
        at_once = "one at a time" if threads == 1 else f"{threads} at a time"
        self.stream.write(f"sampling {chains} chains of {tune:,} tuning and {draws:,} draws, {at_once}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line if sampling stopped early (an interrupt)."""
        if self.interactive and 0 < self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()


def _stats(draw: Draw) -> list[dict]:
    stats = draw.stats
    return list(stats) if isinstance(stats, list | tuple) else [stats]
