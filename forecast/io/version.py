"""Which code produced a run: stored with every run, and part of what makes two runs comparable.

Two runs share draws (the "nothing new" short-cut, the incremental update) only when their code
versions are equal, so the version must change whenever the code does:

* in a git checkout, the package version and the commit, `0.1.0+g1a2b3c4d5e6f`; with edits not
  yet committed, also a hash of the package's source files, `0.1.0+g1a2b3c4d5e6f.dirty.89ab...`,
  so that two different sets of edits are two versions;
* anywhere else (an installed wheel, a copied folder), the package version and that hash,
  `0.1.0+src.89abcdef0123`: the bare package version would let edited code reuse old draws.
"""

from __future__ import annotations

import hashlib
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from forecast import __version__

PACKAGE = Path(__file__).resolve().parents[1]

# The libraries whose versions can change a run's numbers: the compiled density and sampler
# (numba, numpy), PyMC's sampler for bounded priors (pymc, pytensor), the special functions
# (scipy) and the stored draws (xarray).
LIBRARIES = ("numpy", "numba", "scipy", "pymc", "pytensor", "xarray")


def code_version() -> str:
    """The package version, plus the git commit (and the source hash if edited) in a checkout,
    or the source hash elsewhere."""
    root = PACKAGE.parent
    if not (root / ".git").exists():
        return f"{__version__}+src.{source_hash()}"
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "forecast", "priors"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"{__version__}+src.{source_hash()}"
    return f"{__version__}+g{sha}{f'.dirty.{source_hash()}' if dirty else ''}"


def source_hash() -> str:
    """SHA-256 (first 12 hex digits) over the package's Python files: their paths and contents."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def library_versions() -> dict[str, str]:
    """The installed versions of `LIBRARIES`, read from their metadata (importing PyMC to ask
    would cost seconds); stored with every run, so its stamp names what made it."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found
