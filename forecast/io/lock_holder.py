"""Who holds the workspace lock, for the message of a command that has to wait for it.

A command that takes the lock writes one line into the lock file ("pid 123: forecast update
'my events.csv', since 10:00:00") and clears it when it lets go. The line can still be stale: a
holder killed before it could clear it, and then a new holder that could not write its own (a
full disk) or has not yet. So the line is believed only if the kernel lists its process as the
lock's holder (/proc/locks); otherwise the process the kernel lists is named, with its command
line. Where the kernel does not say (not Linux, a holder in another pid namespace), a line whose
process is alive is believed.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from pathlib import Path

UNKNOWN = "another forecast process"
_LINE = re.compile(r"^pid (\d+): ")


def holder_line() -> str:
    """The line this process writes into the lock file once it holds the lock."""
    return f"pid {os.getpid()}: {command_line()}, since {time.strftime('%H:%M:%S')}\n"


def command_line(argv: list[str] | None = None) -> str:
    """The command as it was typed, shell-quoted so that it can be told apart and pasted back:
    forecast update 'my events.csv' --workspace ws (options and their values included)."""
    argv = sys.argv if argv is None else argv
    return shlex.join(["forecast", *argv[1:]])


def describe_holder(lock_file: Path) -> str:
    """Who holds the lock on `lock_file`: 'pid N: COMMAND[, since HH:MM:SS]', or UNKNOWN."""
    try:
        text = lock_file.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    match = _LINE.match(text)
    pid = int(match.group(1)) if match else None
    holders = _flock_holders(lock_file)
    if holders:
        if pid in holders:
            return text
        holder = min(holders)
        return f"pid {holder}: {_process_command(holder)}"
    if pid is not None and process_alive(pid):
        return text
    return UNKNOWN


def _flock_holders(path: Path) -> set[int]:
    """The pids the kernel lists as holding an flock on `path` (empty if it lists none or cannot
    be read). A line of /proc/locks: '1: FLOCK  ADVISORY  WRITE 8819 fe:00:2147340 0 EOF'; a
    process blocked waiting for the lock has '->' before FLOCK, and a pid of 0 is one the kernel
    cannot show in this namespace."""
    try:
        info = path.stat()
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    pids = set()
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted and fields[4].isdigit() and fields[4] != "0":
            pids.add(int(fields[4]))
    return pids


def _process_command(pid: int) -> str:
    """A process's command line, shell-quoted; 'forecast ...' when it runs the forecast script."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", errors="replace").split("\0")[:-1]
    except OSError:
        return "a process whose command line cannot be read"
    for i, word in enumerate(argv):
        if Path(word).name == "forecast":
            return command_line(argv[i:])
    return shlex.join(argv)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
