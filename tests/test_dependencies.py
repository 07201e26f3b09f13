"""Every runtime dependency declared in pyproject.toml is one the package uses.

A declared dependency that `forecast/` never imports costs every user an install and tells a
reader something false about the code. Those that are loaded by another library, not imported
by us, are named here with the library that loads them.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOADED_BY_ANOTHER = {
    "h5netcdf": "xarray, as the engine io/runfiles.py names for the posterior files",
    "h5py": "h5netcdf, its backend",
    "rl-accel": "reportlab, its compiled text measurement",
    "uharfbuzz": "reportlab, its HarfBuzz shaping of Devanagari and Thai",
    "dask": "distributed, which the engine imports, runs on dask",
}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]}


def _imported_top_level() -> set[str]:
    names = set()
    for path in (ROOT / "forecast").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_declared_dependency_is_imported_by_the_package_or_loaded_by_one_it_imports():
    distributions = {module: {d.lower() for d in dists} for module, dists in packages_distributions().items()}
    used = set().union(*(distributions.get(module, set()) for module in _imported_top_level()))
    unused = _declared() - used - set(LOADED_BY_ANOTHER)
    assert not unused, f"declared in pyproject.toml but never imported by forecast/: {sorted(unused)}"
    # The exceptions stay true: each is still declared.
    assert set(LOADED_BY_ANOTHER) <= _declared()
