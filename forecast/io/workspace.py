"""The workspace folder: where the ledger, the run files and the briefs live, and its lock.

Layout: `forecast.sqlite` (the ledger), `runs/<run-id>/posterior.nc`, `reports/`, and a
`.lock` file. Files are published atomically (written beside, fsynced, renamed into place),
so a crash at any point leaves the last good state readable.

Nothing is deleted that this code cannot prove it wrote and never committed: a run folder carries
a mark (`UNCOMMITTED`, holding its run id) from its first byte until its ledger row is committed,
and only a marked folder that the ledger does not list is a crash's leftover. A folder of another
tool, a runs/ that is a link, or runs that a restored older ledger no longer lists are left alone.
A file is written through a marked folder of its own too (`write_atomically`), so a user's file
that happens to be named `.partial-*` is never taken for a leftover.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from forecast.errors import ForecastError, WorkspaceBusy, printable
from forecast.io.ledger import Ledger
from forecast.io.lock_holder import describe_holder, holder_line, process_alive

LEDGER_FILE = "forecast.sqlite"
RUNS_DIR = "runs"
REPORTS_DIR = "reports"
BACKTESTS_DIR = "backtests"
LOCK_FILE = ".lock"
POSTERIOR_FILE = "posterior.nc"
_PARTIAL_PREFIX = ".partial-"
# Inside a run folder from its creation until its ledger row is committed; holds the run id.
UNCOMMITTED = ".forecast-uncommitted"


LOCK_TIMEOUT_ENV = "FORECAST_LOCK_TIMEOUT"


def lock_timeout(option: float | None) -> float | None:
    """Seconds to wait for the lock: the option, else $FORECAST_LOCK_TIMEOUT, else None (no limit)."""
    if option is not None:
        return option
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        from forecast.errors import InputError

        raise InputError(f"{LOCK_TIMEOUT_ENV}={text!r}: expected a number of seconds (0 or more)")
    return value


def resolve_workspace(option: str | None) -> Path:
    """--workspace, else $FORECAST_WORKSPACE, else the current folder."""
    return Path(option or os.environ.get("FORECAST_WORKSPACE") or ".")


class Workspace:
    def __init__(self, root: str | Path, *, lock_timeout: float | None = None) -> None:
        self.root = Path(root)
        self.ledger = Ledger(self.root / LEDGER_FILE)
        self.lock_timeout = lock_timeout  # seconds a command waits for the lock; None: $FORECAST_LOCK_TIMEOUT

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

    def stored_run_folders(self) -> list[str]:
        """Committed-looking run folders: a posterior file, no mark of an unfinished update."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(child.name for child in self.runs_dir.iterdir()
                      if not child.name.startswith(".") and not child.is_symlink() and child.is_dir()
                      and (child / POSTERIOR_FILE).is_file() and not (child / UNCOMMITTED).exists())

    def check_folder(self) -> None:
        """Refuse a workspace path that names something other than a folder (a folder not yet
        made is fine: the first update makes it)."""
        if self.root.exists() and not self.root.is_dir():
            raise ForecastError(f"{self.root}: the workspace must be a folder")

    def check_ledger(self) -> None:
        """Refuse a workspace whose runs outlived its ledger: without the ledger nothing says
        which runs are real, and a new ledger would start a history beside theirs. An empty
        ledger (0 bytes, or no tables) says no more than a missing one, so it is refused alike."""
        stored = self.stored_run_folders()
        if not stored or self.ledger.has_history():
            return
        runs = (f"{self.root}: {len(stored)} stored run{'s' if len(stored) != 1 else ''} in {RUNS_DIR}/ "
                f"({', '.join(stored[:3])}{', ...' if len(stored) > 3 else ''})")
        if not self.ledger.path.exists():
            raise ForecastError(
                f"{runs} but no ledger ({LEDGER_FILE}); restore {self.ledger.path} from where it was moved or from a "
                "backup, or give --workspace another folder to start afresh; nothing was changed")
        empty = "0 bytes" if self.ledger.path.stat().st_size == 0 else "no tables: schema version 0"
        raise ForecastError(
            f"{runs} but an empty ledger ({LEDGER_FILE}, {empty}), which lists none of them; restore {self.ledger.path} "
            "from a backup, or give --workspace another folder to start afresh; nothing was changed")

    @contextmanager
    def locked(self, wait: bool = True, announce: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the workspace lock. A second command waits, saying which process holds it, for
        at most `lock_timeout` seconds (else $FORECAST_LOCK_TIMEOUT, else without limit), or fails
        at once when told not to wait.

        The lock is an flock on `.lock`, which forked children would share: every child forked
        while it is held lets go of it and dies with its parent (`_after_fork_in_child`), so a
        killed update frees the workspace even while its sampler's workers run."""
        self.check_folder()
        self.check_ledger()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / LOCK_FILE, "a+")  # noqa: SIM115 (closed by the with below)
        except OSError as exc:
            raise ForecastError(f"{self.root}: not writable ({exc.strerror or exc}), so this command cannot take the "
                                "workspace lock; nothing was done: make the folder writable, or give --workspace "
                                "another one") from None
        with handle:
            self._acquire(handle, wait, announce or _stderr)
            _HELD.add(handle.fileno())
            try:
                with suppress(OSError):  # who holds it, for a command that has to wait (a full disk: no one says)
                    os.ftruncate(handle.fileno(), 0)
                    os.write(handle.fileno(), holder_line().encode())
                self.check_ledger()  # again under the lock: the check above may have raced an update
                self.check_writable()
                self._discard_partial_runs()
                yield
            finally:
                _HELD.discard(handle.fileno())
                with suppress(OSError):  # a line left behind would name a process that no longer holds the lock
                    os.ftruncate(handle.fileno(), 0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _acquire(self, handle: IO[str], wait: bool, announce: Callable[[str], None]) -> None:
        if _try_lock(handle):
            return
        holder = describe_holder(self.root / LOCK_FILE)
        if not wait:
            raise WorkspaceBusy(f"{self.root}: another forecast update holds the workspace ({holder})")
        limit = lock_timeout(self.lock_timeout)
        announce(f"{self.root}: another forecast command holds the workspace lock ({holder}); waiting for it to finish"
                 + (f", for at most {limit:g} s" if limit is not None
                    else " (--wait SECONDS or FORECAST_LOCK_TIMEOUT limits the wait)"))
        started = time.monotonic()
        while not _try_lock(handle):
            if limit is not None and time.monotonic() - started >= limit:
                raise WorkspaceBusy(
                    f"{self.root}: gave up after {limit:g} s waiting for the workspace lock, held by "
                    f"{describe_holder(self.root / LOCK_FILE)}; "
                    "nothing was changed. Try again when it has finished, or wait longer with --wait SECONDS "
                    "(FORECAST_LOCK_TIMEOUT)")
            time.sleep(0.1)

    def publish_run_files(self, run_id: str, write: Callable[[Path], None]) -> Path:
        """Write a run's files into a hidden folder with `write(folder)`, then rename it into place.

        The ledger row that points at the folder is committed after this returns, and then
        `mark_committed`; a crash in between leaves a marked folder the ledger does not list,
        which the next locked update removes.
        """
        partial = self.runs_dir / f"{_PARTIAL_PREFIX}{run_id}"
        final = self.runs_dir / run_id
        if final.exists() or partial.exists():
            raise ForecastError(f"{final} already exists")
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            partial.mkdir()
            (partial / UNCOMMITTED).write_text(run_id, encoding="utf-8")
            write(partial)
            for path in partial.iterdir():
                _fsync(path)
            os.rename(partial, final)
            _fsync(self.runs_dir)
        except BaseException as exc:
            shutil.rmtree(partial, ignore_errors=True)
            if isinstance(exc, OSError):
                raise ForecastError(f"{final}: the run could not be stored ({_reason(exc)}); nothing was stored, "
                                    "and the ledger is as it was before this update") from None
            raise
        return final

    def check_writable(self) -> None:
        """Refuse, before any work, a workspace where the results could not be stored: a folder
        that cannot take a new file (read-only, full of inodes), or a ledger that cannot be
        written (read-only or immutable)."""
        for folder in (self.root, self.runs_dir, self.reports_dir, self.root / BACKTESTS_DIR):
            if not folder.is_dir():
                continue
            try:
                fd, probe = tempfile.mkstemp(dir=folder, prefix=_PARTIAL_PREFIX)
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                raise _not_writable(folder, exc) from None
        if self.ledger.path.exists():
            try:
                os.close(os.open(self.ledger.path, os.O_RDWR))
            except OSError as exc:
                raise _not_writable(self.ledger.path, exc) from None

    def mark_committed(self, run_id: str) -> None:
        """The run's ledger row is committed: its folder is no longer a leftover to remove."""
        folder = self.runs_dir / run_id
        with suppress(OSError):  # best effort: the ledger lists the run, so it is kept either way
            (folder / UNCOMMITTED).unlink(missing_ok=True)
            _fsync(folder)

    def discard_uncommitted(self, run_id: str) -> None:
        """Remove a run folder published by this update whose ledger commit failed."""
        for folder in (self.runs_dir / run_id, self.runs_dir / f"{_PARTIAL_PREFIX}{run_id}"):
            if _ours_uncommitted(folder, run_id):
                shutil.rmtree(folder, ignore_errors=True)

    def _discard_partial_runs(self) -> None:
        """Remove the leftovers of a crashed update: run folders that carry our mark of an
        unfinished update and that no ledger row lists, and half-written briefs and backtests."""
        for folder in (self.reports_dir, self.root / BACKTESTS_DIR):
            _discard_partial_writes(folder)
        if not self.runs_dir.is_dir():
            return
        referenced = {r.run_id for r in self.ledger.runs()}
        for child in self.runs_dir.iterdir():
            partial = child.name.startswith(_PARTIAL_PREFIX)
            run_id = child.name.removeprefix(_PARTIAL_PREFIX)
            if not _ours_uncommitted(child, run_id):
                continue
            if partial or run_id not in referenced:
                shutil.rmtree(child, ignore_errors=True)
            else:  # committed, but the process died before it removed the mark
                self.mark_committed(run_id)


def _not_writable(path: Path, exc: OSError) -> ForecastError:
    return ForecastError(f"{path}: not writable ({exc.strerror or exc}); nothing was done, since the results could not be "
                         "stored: make it writable (a read-only mount? chattr +i?), or give --workspace another folder")


def _discard_partial_writes(folder: Path) -> None:
    """Remove what a crashed `write_atomically` left in `folder`: a `.partial-<pid>-<random>/`
    folder with our mark, whose process is gone (a live one, such as a `forecast compare` that
    takes no lock, is still writing). Anything else named `.partial-*` is not ours: it stays."""
    if folder.is_symlink() or not folder.is_dir():
        return
    for child in folder.glob(f"{_PARTIAL_PREFIX}*"):
        token = child.name.removeprefix(_PARTIAL_PREFIX)
        pid = token.split("-", 1)[0]
        if not _ours_uncommitted(child, token) or not pid.isdigit():
            continue
        if not process_alive(int(pid)):
            shutil.rmtree(child, ignore_errors=True)


def _ours_uncommitted(folder: Path, run_id: str) -> bool:
    """A real folder (not a link) carrying our mark for `run_id`."""
    mark = folder / UNCOMMITTED
    if folder.is_symlink() or not folder.is_dir() or mark.is_symlink() or not mark.is_file():
        return False
    try:
        return mark.read_text(encoding="utf-8") == run_id
    except (OSError, UnicodeDecodeError):
        return False


def write_atomically(path: Path, write: Callable[[str], None]) -> Path:
    """Create or replace the file `path` so that readers see the old file or the whole new one:
    `write(tmp)` fills a temporary file beside it, which is fsynced and renamed into place.

    The temporary file lives in a folder of its own, `.partial-<pid>-<random>/`, that carries our
    mark (`UNCOMMITTED`, holding the folder's name after the prefix): that mark, not the name, is
    what lets a later command remove a crash's leftover (`_discard_partial_writes`), so a user's
    own `.partial-*` file is never deleted.

    Only a regular file (or a new path) is written: a device, a pipe or a folder at `path` is
    refused, since renaming onto it would replace it. An operating system error (a full disk, a
    read-only folder) is one `ForecastError` that says nothing was written.
    """
    check_output_path(path)
    folder = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=path.parent, prefix=f"{_PARTIAL_PREFIX}{os.getpid()}-"))
        (folder / UNCOMMITTED).write_text(folder.name.removeprefix(_PARTIAL_PREFIX), encoding="utf-8")
        tmp = folder / path.name  # the final name: a writer may read the format from the suffix
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # an ordinary file, as the umask says
        write(str(tmp))
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if isinstance(exc, OSError):
            raise WriteFailed(path, _reason(exc)) from None
        raise
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return path


class WriteFailed(ForecastError):
    """A file could not be written; whatever was at its path is unchanged."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        previous = "the file there is unchanged" if path.is_file() else "nothing was written"
        super().__init__(f"{path}: could not be written ({reason}); {previous}")


def check_output_path(path: Path) -> None:
    """Refuse an output path that is not a regular file or a new name in a folder."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ForecastError(f"{path}: cannot be written ({_reason(exc)}); nothing was written") from None
    if not stat.S_ISREG(info.st_mode):
        raise ForecastError(f"{path}: is {_kind(info.st_mode)}, not a regular file; give a file name such as "
                            f"{'brief.pdf' if stat.S_ISDIR(info.st_mode) else 'out.pdf'} (an existing regular file is "
                            "replaced); nothing was written")


def check_output_writable(path: Path) -> None:
    """Refuse, before the work that produces it, an output that `write_atomically` could not write:
    what `check_output_path` refuses, and a folder that cannot take a new entry (a read-only mount,
    chattr +i, another user's folder). The folder is probed as the write will use it: a hidden
    folder made there and removed at once. A folder still to be made is probed in the nearest one
    that exists, where it would be made."""
    check_output_path(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=_PARTIAL_PREFIX))
    except OSError as exc:
        raise ForecastError(f"{path}: cannot be written ({_reason(exc)}, in {folder}); nothing was computed or written: "
                            "give --out a writable place") from None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def _reason(exc: OSError) -> str:
    """An OSError in words: 'the disk is full (No space left on device)'."""
    text = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        return f"the disk is full: {text}"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"not writable: {text}"
    return text


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# File descriptors of the workspace locks this process holds.
_HELD: set[int] = set()
_PARENT = [0]  # the pid that forked, recorded just before the fork
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        return False
    return True


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up in the parent: a forked child should not load libraries."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: children are not tied to their parent, but still let go of the lock


def _before_fork() -> None:
    _PARENT[0] = os.getpid()
    _prctl()


def _after_fork_in_child() -> None:
    """In a forked child (PyMC's chain workers): let go of the workspace lock, and die with the
    parent, so that killing an update (even with SIGKILL) frees the workspace."""
    if _HELD:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in _HELD:
            os.dup2(devnull, fd)  # the fd stays valid for the file object that owns it
        os.close(devnull)
        _HELD.clear()
    prctl = _prctl()
    if prctl is not None and prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0 and os.getppid() != _PARENT[0]:
        os._exit(1)  # the parent died before the request took effect


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def _stderr(message: str) -> None:
    print(printable(message), file=sys.stderr, flush=True)

