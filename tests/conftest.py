"""Shared fixtures. Fast tier by default; `--run-slow` adds the sampling tier (real NUTS)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "events.csv"
PRIORS = ROOT / "priors"

# Small but honest draw counts for the sampling tier; the seed is the same everywhere.
SEED = 20250221
SLOW_DRAWS = int(os.environ.get("FORECAST_TEST_DRAWS", "1000"))
SLOW_TUNE = int(os.environ.get("FORECAST_TEST_TUNE", "500"))


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run the sampling tier (real NUTS)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="sampling tier: pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def seed() -> int:
    return SEED


@pytest.fixture
def priors():
    from forecast.io.priors import load_priors

    return load_priors(PRIORS)


@pytest.fixture
def workspace(tmp_path) -> Path:
    return tmp_path / "ws"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def read_only(tmp_path):
    """`read_only(folder)` mounts `folder` read-only over itself (root only) until the test ends."""
    mounted = []

    def mount(folder: Path) -> Path:
        if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode:
            pytest.skip("cannot bind-mount here (needs root)")
        mounted.append(folder)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` (hidden ones too) with the hash of its bytes."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
        for p in sorted(root.rglob("*"))
    }


HEADER = "event_id,date,kind,factor,signal,outcome,retracts,source_reliability,info_credibility,description"


def write_csv(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path
