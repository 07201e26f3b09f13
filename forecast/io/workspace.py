"""The workspace folder: where the ledger, the run files and the briefs live, and its lock.

Layout: `forecast.sqlite` (the ledger), `runs/<run-id>/posterior.nc`, `reports/`, and a
`.lock` file. Files are published atomically (written beside, fsynced, renamed into place),
so a crash at any point leaves the last good state readable.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from forecast.errors import ForecastError, WorkspaceBusy
from forecast.io.ledger import Ledger

LEDGER_FILE = "forecast.sqlite"
RUNS_DIR = "runs"
REPORTS_DIR = "reports"
BACKTESTS_DIR = "backtests"
LOCK_FILE = ".lock"
POSTERIOR_FILE = "posterior.nc"
_PARTIAL_PREFIX = ".partial-"


def resolve_workspace(option: str | None) -> Path:
    """--workspace, else $FORECAST_WORKSPACE, else the current folder."""
    return Path(option or os.environ.get("FORECAST_WORKSPACE") or ".")


class Workspace:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.ledger = Ledger(self.root / LEDGER_FILE)

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS_DIR

    @property
    def reports_dir(self) -> Path:
        return self.root / REPORTS_DIR

    @property
    def latest_backtest(self) -> Path:
        """The newest `forecast backtest` result (JSON); older ones sit beside it, dated."""
        return self.root / BACKTESTS_DIR / "latest.json"

    def posterior_path(self, run_id: str) -> Path:
        return self.runs_dir / run_id / POSTERIOR_FILE

    @contextmanager
    def locked(self, wait: bool = True, announce: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the workspace lock. A second update waits (saying so) or fails at once."""
        if self.root.exists() and not self.root.is_dir():
            raise ForecastError(f"{self.root}: the workspace must be a folder")
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if not wait:
                    raise WorkspaceBusy(f"{self.root}: another forecast update holds the workspace") from None
                (announce or _stderr)(f"{self.root}: another forecast update is running; waiting for it to finish")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._discard_partial_runs()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def publish_run_files(self, run_id: str, write: Callable[[Path], None]) -> Path:
        """Write a run's files into a hidden folder with `write(folder)`, then rename it into place.

        The ledger row that points at the folder is committed after this returns, so a crash in
        between leaves an unreferenced folder, which the next locked update removes.
        """
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        partial = self.runs_dir / f"{_PARTIAL_PREFIX}{run_id}"
        final = self.runs_dir / run_id
        if final.exists():
            raise ForecastError(f"{final} already exists")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            write(partial)
            for path in partial.iterdir():
                _fsync(path)
            os.rename(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        _fsync(self.runs_dir)
        return final

    def _discard_partial_runs(self) -> None:
        """Remove run folders that no ledger row references, and half-written briefs: leftovers
        of a crashed update."""
        if self.reports_dir.is_dir():
            for child in self.reports_dir.glob(f"{_PARTIAL_PREFIX}*"):
                child.unlink(missing_ok=True)
        if not self.runs_dir.is_dir():
            return
        referenced = {r.run_id for r in self.ledger.runs()}
        for child in self.runs_dir.iterdir():
            if child.is_dir() and child.name not in referenced:
                shutil.rmtree(child, ignore_errors=True)


def write_atomically(path: Path, write: Callable[[str], None]) -> Path:
    """Create or replace the file `path` so that readers see the old file or the whole new one:
    `write(tmp)` fills a temporary file beside it, which is fsynced and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_PARTIAL_PREFIX, suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        _fsync(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a brief is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

