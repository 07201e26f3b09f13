"""Where numba keeps the compiled kernels: one directory per version of the kernels' sources.

numba's on-disk cache checks each function against its own file only. A kernel that calls a
kernel of another file (the sampler's leapfrog calls the model's log density) is cached with the
callee compiled into it, and after the callee's file changes the caller's cache still loads: the
sampler would run the old density against the new model's coordinates, silently. Naming the
cache directory by a hash of every kernel-bearing file (and numba's version) gives any change to
any of them a fresh directory, so nothing stale can load.

Every module that defines a cached kernel imports this one first: numba picks a function's cache
directory when the decorator runs, from `numba.config.CACHE_DIR`.

The base directory is FORECAST_KERNEL_CACHE if set, else NUMBA_CACHE_DIR, else the user's cache
(XDG_CACHE_HOME, or ~/.cache) under `forecast/`. A directory of older sources is left where it
is (a later checkout of them may want it back); removing them is safe at any time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

PACKAGE = Path(__file__).resolve().parent


def sources_hash(package: Path = PACKAGE) -> str:
    """A hash of every module of the package that uses numba (a kernel can only call kernels,
    and those live in such modules), and of numba's version."""
    digest = hashlib.sha256(numba.__version__.encode())
    for path in sorted(package.rglob("*.py")):
        text = path.read_bytes()
        if b"numba" in text and path.name != "kernel_cache.py":
            digest.update(str(path.relative_to(package)).encode())
            digest.update(text)
    return digest.hexdigest()[:16]


def base_directory() -> Path:
    for variable in ("FORECAST_KERNEL_CACHE", "NUMBA_CACHE_DIR"):
        if os.environ.get(variable):
            return Path(os.environ[variable])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "forecast"


def directory() -> Path:
    """This version's cache directory."""
    return base_directory() / f"kernels-{sources_hash()}"


CACHE_DIRECTORY = directory()
numba.config.CACHE_DIR = str(CACHE_DIRECTORY)
