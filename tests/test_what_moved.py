"""What moved is computed by `update` and stored with the run; a brief only reads it.

Two small real fits of the example (the second with one new reading). The briefs rendered
from them never sample and never write into a run folder; a run stored without its
explanation says so in its brief, and `forecast explain` computes and stores it.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest
from brief_helpers import pdf_text
from conftest import EXAMPLE, snapshot, write_csv

from forecast.brief.publish import write_report
from forecast.explain.attribution import Attribution, Part, Unavailable
from forecast.explain.what_moved import FILE, read_what_moved
from forecast.inference.fit import FitSettings
from forecast.io.version import library_versions
from forecast.io.workspace import LEDGER_FILE, Workspace
from forecast.updating.explain_stored import explain_stored_run
from forecast.updating.pipeline import update

TINY = FitSettings(draws=60, tune=60, chains=2, seed=7)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("moved")
    workspace = Workspace(root / "ws")
    quiet = dict(settings=TINY, progress=False, log=lambda m: None, report=False)
    update(EXAMPLE, workspace, **quiet)
    more = write_csv(root / "more.csv", "m1,2025-02-24,signal,domestic_hawkishness,1.0,,,B,2,a week later")
    update(more, workspace, **quiet)
    return workspace


def _folder(workspace: Workspace, run):
    return (workspace.root / run.posterior).parent


def test_update_stores_what_moved_with_each_run(two_runs):
    first, second = two_runs.ledger.runs()
    assert json.loads((_folder(two_runs, first) / FILE).read_text()) == {"first_run": True}
    stored = read_what_moved(_folder(two_runs, second), second.run_id)
    assert isinstance(stored, Attribution) and stored.previous_run == first.run_id
    # The total is exactly the change of the stored headlines.
    for key, change in stored.total.items():
        assert change == pytest.approx(second.headline[key]["p"] - first.headline[key]["p"], abs=1e-12)
    assert stored.new_information is not None and stored.new_information.events == 1


# Every way a draw could be made: PyMC's sampling entry points, and our compiled sampler's one
# entry (inference/chains.py; `sample` in inference/sampler.py reaches it).
SAMPLING_ENTRY_POINTS = ("pymc.sample", "pymc.sampling.mcmc.sample", "pymc.sample_prior_predictive",
                         "pymc.sample_posterior_predictive", "forecast.inference.chains.run_chains",
                         "forecast.inference.sampler.run_chains")
# The modules that make draws. (The brief may load numba: it ranks stored draws for R-hat.)
SAMPLER_MODULES = ("forecast.inference.sampler", "forecast.inference.chains", "forecast.inference.nuts",
                   "forecast.inference.adaptation", "forecast.inference.pymc_sampler")


def test_a_brief_never_samples_and_never_writes_into_a_run_folder(two_runs, tmp_path, monkeypatch):
    def no_sampling(*args, **kwargs):
        raise AssertionError("a brief must not sample")

    for name in SAMPLING_ENTRY_POINTS:
        monkeypatch.setattr(name, no_sampling)
    runs_before = snapshot(two_runs.runs_dir)
    second = two_runs.ledger.latest_run()
    text = pdf_text(write_report(two_runs, second, out=tmp_path / "out.pdf"))
    with two_runs.locked():
        write_report(two_runs, second)
    assert snapshot(two_runs.runs_dir) == runs_before
    stored = read_what_moved(_folder(two_runs, second), second.run_id)
    assert f"Since run {stored.previous_run}" in text


def test_a_brief_is_rendered_by_a_process_that_never_loads_a_sampler(two_runs, tmp_path):
    """Stronger than any patched name: `forecast report` in its own process, and afterwards none
    of PyMC, PyTensor or our sampler's modules is in sys.modules, so nothing could sample."""
    script = (
        "import sys\n"
        "from forecast.cli.main import main\n"
        f"code = main(['report', '--workspace', {str(two_runs.root)!r}, '--out', {str(tmp_path / 'p.pdf')!r}])\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in ('pymc', 'pytensor') or m in {SAMPLER_MODULES!r}))\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.pdf").stat().st_size > 10_000
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_run_stored_without_its_explanation_says_how_to_get_it(two_runs, tmp_path):
    second = two_runs.ledger.latest_run()
    path = _folder(two_runs, second) / FILE
    original = json.loads(path.read_text())
    path.unlink()
    text = pdf_text(write_report(two_runs, second, out=tmp_path / "old.pdf"))
    assert f"forecast explain --run {second.run_id}" in text.replace("\n", " ")
    with two_runs.locked():
        explain_stored_run(two_runs, second, log=lambda m: None)
    # The same numbers update stored; a refit's note says how long it took, which may differ.
    def same_but_timing(explanation: dict) -> dict:
        return {**explanation, "notes": [re.sub(r"\(\d+ s\)", "(N s)", n) for n in explanation.get("notes", [])]}

    assert same_but_timing(json.loads(path.read_text())) == same_but_timing(original)


def test_explanations_survive_their_round_trip_through_json():
    a = Attribution(previous_run="r1", previous_as_of=__import__("datetime").date(2025, 3, 1), total={"x": 0.1},
                    new_information=Part("All new information", 2, {"x": 0.05}, 0.31), parts=[Part("Signals", 2, {"x": 0.05}, 0.2)],
                    time_and_other={"x": 0.05}, noise={"x": 0.01}, notes=["n"], method="refit")
    assert Attribution.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert Unavailable("why").to_dict() == {"unavailable": "why"}


def test_the_stamp_names_the_libraries_the_run_was_made_with_not_those_installed(two_runs, tmp_path):
    run = two_runs.ledger.latest_run()
    assert run.diagnostics["libraries"] == library_versions()
    # The same run, as if made with other libraries: its brief names those, whatever is installed now.
    copy = tmp_path / "ws"
    shutil.copytree(two_runs.root, copy)
    made_with = {**run.diagnostics["libraries"], "numpy": "1.26.4", "numba": "0.59.0"}
    with sqlite3.connect(copy / LEDGER_FILE) as conn:
        conn.execute("UPDATE runs SET diagnostics = ? WHERE run_id = ?",
                     (json.dumps({**run.diagnostics, "libraries": made_with}), run.run_id))
    conn.close()
    moved = Workspace(copy)
    text = " ".join(pdf_text(write_report(moved, moved.ledger.latest_run(), out=tmp_path / "b.pdf")).split())
    assert "numpy 1.26.4, numba 0.59.0" in text and f"numpy {library_versions()['numpy']}" not in text


def test_no_chart_of_the_brief_searches_for_its_legends_place(two_runs, tmp_path, monkeypatch):
    """matplotlib's loc="best" searches the axes for the emptiest corner and warns when that takes
    over a second, which it does on a busy machine: a warning on the analyst's terminal (and, in
    the tests, a failed brief). Every legend of the brief has a fixed place."""
    from matplotlib.legend import Legend

    def searched(self, *args, **kwargs):
        raise AssertionError("a legend with loc='best'")

    monkeypatch.setattr(Legend, "_find_best_position", searched)
    assert write_report(two_runs, two_runs.ledger.latest_run(), out=tmp_path / "legends.pdf").exists()
