"""Running the real `forecast` console script in a subprocess, as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import SEED, SLOW_DRAWS, SLOW_TUNE

FORECAST = str(Path(sys.executable).parent / "forecast")
SMALL = ["--draws", str(SLOW_DRAWS), "--tune", str(SLOW_TUNE), "--chains", "4", "--seed", str(SEED)]


def forecast(*args, check=True, env=None, timeout=900) -> subprocess.CompletedProcess:
    result = subprocess.run([FORECAST, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"forecast {' '.join(map(str, args))} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def status(workspace: Path) -> dict:
    return json.loads(forecast("status", "--json", "--workspace", workspace).stdout)
