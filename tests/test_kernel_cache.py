"""The compiled kernels' cache is named by their sources, so an edited callee never loads stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import forecast
from forecast import kernel_cache


def _copy(tmp_path: Path) -> Path:
    package = tmp_path / "forecast"
    shutil.copytree(Path(forecast.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__", "data"))
    return package


def test_editing_any_kernel_file_names_a_new_cache_and_other_files_do_not(tmp_path):
    package = _copy(tmp_path)
    before = kernel_cache.sources_hash(package)
    assert before == kernel_cache.sources_hash(Path(forecast.__file__).parent)
    density = package / "model" / "density.py"
    density.write_text(density.read_text() + "\n# an edit to the density, which the sampler's kernels compile in\n")
    after = kernel_cache.sources_hash(package)
    assert after != before
    readme = package / "brief" / "layout.py"
    if not readme.exists():
        readme = next(p for p in (package / "brief").glob("*.py") if b"numba" not in p.read_bytes())
    readme.write_text(readme.read_text() + "\n# no kernel here\n")
    assert kernel_cache.sources_hash(package) == after


def test_the_kernels_are_cached_in_the_directory_of_their_sources(monkeypatch, tmp_path):
    from forecast.inference import nuts
    from forecast.model import density

    for kernel in (density.log_density, nuts.leapfrog):
        assert Path(kernel._cache._cache_path).is_relative_to(kernel_cache.CACHE_DIRECTORY)
    assert kernel_cache.CACHE_DIRECTORY.name == f"kernels-{kernel_cache.sources_hash()}"
    monkeypatch.setenv("FORECAST_KERNEL_CACHE", str(tmp_path))
    assert kernel_cache.directory().parent == tmp_path
