"""Where the jobs of many fits run: a dask.distributed cluster (docs/SCALING.md).

A backtest, a sweep of priors, the robustness corpus and simulation-based calibration are each
many independent tasks (a segment of origins, a log, a replication). Each task carries all it
needs, its seed included, so its result does not depend on where or when it runs, nor on how
many workers share the work: the numbers are the same on one worker or sixty-four.

* `--cluster tcp://HOST:8786` (or `FORECAST_CLUSTER`): an existing scheduler and its workers.
* Otherwise `--jobs N` workers of an embedded `LocalCluster` (one process each, one thread each:
  a fit's chains run one after another inside its worker), by default one per core.
* `--jobs 1` without a cluster runs every task here, in this process: no cluster to start, and
  what the tests use when they replace the fits by a formula.

Progress: a task reports each step it finishes (an origin of a segment, say) to the client as an
event on the topic `forecast-progress`, so a long task is not silent; the client prints them as
they come.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from forecast.errors import InputError

CLUSTER_ENV = "FORECAST_CLUSTER"
TOPIC = "forecast-progress"
WORKER_SETUP = "forecast.evaluation.worker_setup"  # `dask worker --preload` it on a cluster too


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def cluster_address(given: str | None) -> str | None:
    """The scheduler to use: `--cluster`, else $FORECAST_CLUSTER, else none (a local cluster)."""
    address = given if given is not None else os.environ.get(CLUSTER_ENV) or None
    if address is not None and "://" not in address:
        raise InputError(f"--cluster must be a scheduler address such as tcp://HOST:8786, got {address!r}")
    return address


def report(message: str) -> None:
    """From inside a task: tell the client a step is done (nothing outside a dask worker)."""
    sink = _inline_sink.get()
    if sink is not None:
        sink(message)
        return
    try:
        from distributed import get_worker
    except ImportError:  # pragma: no cover - distributed is a dependency
        return
    try:
        worker = get_worker()
    except ValueError:  # not in a worker
        return
    worker.log_event(TOPIC, message)


class _InlineSink(threading.local):
    function: Callable[[str], None] | None = None

    def get(self) -> Callable[[str], None] | None:
        return self.function


_inline_sink = _InlineSink()


class Engine:
    """Runs tasks on a cluster, or here with `jobs=1` and no cluster; results in input order."""

    def __init__(self, *, jobs: int | None = None, cluster: str | None = None, log: Callable[[str], None] = lambda m: None,
                 processes: bool = True) -> None:
        self.jobs = default_jobs() if jobs is None else jobs
        self.processes = processes
        if self.jobs < 1:
            raise InputError(f"--jobs must be at least 1, got {self.jobs}")
        self.address = cluster_address(cluster)
        self.log = log
        self._client = None
        self._cluster = None

    @property
    def inline(self) -> bool:
        return self.address is None and self.jobs == 1

    def __enter__(self) -> Engine:
        if self.inline:
            return self
        from distributed import Client, LocalCluster

        if self.address is not None:
            try:
                self._client = Client(self.address, timeout="30s")
            except OSError as exc:
                raise InputError(f"cannot reach the dask scheduler at {self.address}: {exc}") from None
        else:
            # Workers are processes (a fit holds the GIL between its compiled loops) with one thread
            # each, started afresh (dask's default, spawn: forking this process, whose event loop
            # runs in a thread, could deadlock a worker), each warming the compiled kernels as it
            # starts (worker_setup.py). No dashboard. `processes=False` (tests) runs the workers as
            # threads of this process instead.
            self._cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=self.processes,
                                         # No dashboard; its HTTP server (which runs regardless) on a free port,
                                         # so a second job on the machine does not collide with the first.
                                         dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                                         silence_logs=40,
                                         **({"preload": [WORKER_SETUP]} if self.processes else {}))
            self._client = Client(self._cluster)
        self._client.subscribe_topic(TOPIC, lambda event: self.log(event[1]))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    @property
    def workers(self) -> int:
        if self._client is None:
            return 1
        return len(self._client.scheduler_info()["workers"])

    def map(self, function: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """function(item) for each item, yielded in the items' order as they complete."""
        if self._client is None:
            with _inline(self.log):
                for item in items:
                    yield function(item)
            return
        # pure=False: two equal items are two tasks (they are cheap to tell apart, costly to merge).
        futures = self._client.map(function, list(items), pure=False)
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


@contextmanager
def _inline(log: Callable[[str], None]) -> Iterator[None]:
    previous = _inline_sink.function
    _inline_sink.function = log
    try:
        yield
    finally:
        _inline_sink.function = previous
