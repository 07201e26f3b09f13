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


KERNEL_FILES = ("kernel_cache.py", "model/density.py", "model/signal_density.py", "model/kalman_path.py",
                "model/prior_density.py", "inference/convergence.py", "inference/adaptation.py",
                "inference/precision_jumps.py", "inference/chains.py", "inference/nuts.py")


def test_editing_any_kernel_file_names_a_new_cache_and_other_files_do_not(tmp_path):
    package = _copy(tmp_path)
    before = kernel_cache.sources_hash(package)
    assert before == kernel_cache.sources_hash(Path(forecast.__file__).parent)
    seen = {before}
    for name in KERNEL_FILES:  # each file of kernels, and the module that says how they compile
        path = package / name
        path.write_text(path.read_text() + f"\n# an edit to {name}\n")
        seen.add(kernel_cache.sources_hash(package))
    assert len(seen) == len(KERNEL_FILES) + 1
    after = kernel_cache.sources_hash(package)
    layout = package / "brief" / "layout.py"
    layout.write_text(layout.read_text() + "\n# no kernel here\n")
    assert kernel_cache.sources_hash(package) == after


def test_every_module_that_defines_a_kernel_is_in_the_list_above():
    package = Path(forecast.__file__).parent
    defining = {str(p.relative_to(package)) for p in package.rglob("*.py") if b"@kernel" in p.read_bytes()}
    assert defining and defining <= set(KERNEL_FILES)


def test_a_kernel_that_divides_by_zero_gives_inf_not_an_exception():
    """A point of a trajectory where the density divides by zero is a divergence for NUTS, not
    the end of the fit (kernel_cache.kernel, error_model="numpy")."""
    import math

    @kernel_cache.kernel
    def ratio(a: float, b: float) -> float:
        return a / b

    assert ratio(1.0, 0.0) == math.inf and math.isnan(ratio(0.0, 0.0))


def test_the_kernels_are_cached_in_the_directory_of_their_sources(monkeypatch, tmp_path):
    from forecast.inference import nuts
    from forecast.model import density

    for kernel in (density.log_density, nuts.leapfrog):
        assert Path(kernel._cache._cache_path).is_relative_to(kernel_cache.CACHE_DIRECTORY)
    assert kernel_cache.CACHE_DIRECTORY.name == f"kernels-{kernel_cache.sources_hash()}"
    monkeypatch.setenv("FORECAST_KERNEL_CACHE", str(tmp_path))
    assert kernel_cache.directory().parent == tmp_path
