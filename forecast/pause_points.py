"""Test hooks: named points where the crash tests can stop a real process."""

from __future__ import annotations

import os
import sys
import time


def checkpoint(name: str) -> None:
    """Test hook for the crash tests: FORECAST_PAUSE_AT=<name> stops here until killed."""
    if os.environ.get("FORECAST_PAUSE_AT") == name:
        print(f"paused at {name}", file=sys.stderr, flush=True)
        time.sleep(3600)
