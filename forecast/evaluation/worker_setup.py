"""A dask worker's set-up (`dask worker --preload forecast.evaluation.worker_setup`): load the
compiled kernels before the first task, so no task pays for it and a machine whose cache is cold
compiles them once, at the worker's start, rather than inside a timed fit.

numba keeps what it compiles in the kernel cache (kernel_cache.py: FORECAST_KERNEL_CACHE, else
NUMBA_CACHE_DIR, else ~/.cache/forecast); a worker whose cache is warm loads it in a second or
two. docs/SCALING.md says how to warm a cluster's caches.
"""

from __future__ import annotations

from typing import Any


def warm() -> float:
    """Compile, or load from the cache, every kernel a fit uses, by fitting a tiny log: seconds taken."""
    import time

    from forecast.inference.warmup import fit_tiny

    started = time.perf_counter()
    fit_tiny()
    return time.perf_counter() - started


def dask_setup(worker: Any = None) -> None:
    """dask's preload hook."""
    warm()
