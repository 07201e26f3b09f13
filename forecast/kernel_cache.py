"""Where numba keeps the compiled kernels: one directory per version of the kernels' sources.

numba's on-disk cache checks each function against its own file only. A kernel that calls a
kernel of another file (the sampler's leapfrog calls the model's log density) is cached with the
callee compiled into it, and after the callee's file changes the caller's cache still loads: the
sampler would run the old density against the new model's coordinates, silently. Naming the
cache directory by a hash of every kernel-bearing file (and numba's version) gives any change to
any of them a fresh directory, so nothing stale can load.

Every kernel is compiled by `kernel` below, which every kernel module imports before it defines
one: numba picks a function's cache directory when the decorator runs, from
`numba.config.CACHE_DIR`.

The base directory is FORECAST_KERNEL_CACHE if set, else NUMBA_CACHE_DIR, else the user's cache
(XDG_CACHE_HOME, or ~/.cache) under `forecast/`. A directory of older sources is left where it
is (a later checkout of them may want it back); removing them is safe at any time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numba

PACKAGE = Path(__file__).resolve().parent


def sources_hash(package: Path = PACKAGE) -> str:
    """A hash of every module of the package that holds kernels (those that compile with `kernel`
    or use numba directly: a kernel can only call kernels, so they all live there), of this
    module (it says how they compile), and of numba's version."""
    digest = hashlib.sha256(numba.__version__.encode())
    for path in sorted(package.rglob("*.py")):
        text = path.read_bytes()
        if b"numba" in text or b"kernel_cache" in text:
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


def kernel(function: Callable) -> Callable:
    """numba's nopython compile of `function`, cached in this version's directory, without the GIL.

    `error_model="numpy"`: a division by zero gives inf or nan, as numpy's does, instead of
    raising. A trajectory that reaches an extreme point (a reading's precision of exp(-800), say)
    then finds a log density of -inf or nan there, which NUTS counts as a divergence and moves on
    from, as Stan and PyMC do; numba's default ("python") raised ZeroDivisionError from inside the
    compiled loop and ended the whole fit."""
    return numba.njit(cache=True, nogil=True, error_model="numpy")(function)
