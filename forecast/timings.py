"""Wall time of the phases of one command, for `benchmarks/update.py --phases`.

Recording is always on and costs a list append per phase. With FORECAST_TIMINGS=FILE in the
environment the command line writes them to FILE as JSON when it ends, with the wall-clock time
at which `main` began, so the benchmark can also count the interpreter's start and the imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

ENVIRONMENT = "FORECAST_TIMINGS"
_phases: list[tuple[str, float]] = []


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        _phases.append((name, time.perf_counter() - started))


def record(name: str, seconds: float) -> None:
    _phases.append((name, seconds))


def recorded() -> list[tuple[str, float]]:
    return list(_phases)


def write_if_asked(main_started: float) -> None:
    """Write the phases to $FORECAST_TIMINGS, if set: {"main_started": epoch seconds,
    "main_ended": ..., "phases": [[name, seconds], ...]}."""
    path = os.environ.get(ENVIRONMENT)
    if not path:
        return
    Path(path).write_text(json.dumps({"main_started": main_started, "main_ended": time.time(), "phases": _phases}))
