"""The notebooks run as part of the suite, so they cannot rot. Committed notebooks carry no outputs."""

from __future__ import annotations

import os

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOKS = ROOT / "notebooks"


def execute(name: str, tmp_path, monkeypatch, **env) -> nbformat.NotebookNode:
    # The kernel starts in tmp_path: a relative PYTHONPATH (such as '.') would no longer name this
    # checkout, and the kernel would import whatever `forecast` the environment has installed.
    path = os.pathsep.join([str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
    for key, value in {"NOTEBOOK_OUT": str(tmp_path / "out"), "PYTHONPATH": path, **env}.items():
        monkeypatch.setenv(key, value)  # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", ["01_prior_tuning.ipynb", "02_sensitivity.ipynb"])
def test_committed_notebooks_have_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def test_prior_tuning_notebook(tmp_path, monkeypatch):
    nb = execute("01_prior_tuning.ipynb", tmp_path, monkeypatch, NOTEBOOK_DRAWS="1000")
    text = outputs_text(nb)
    assert "Prior predictive: chance of each path within 12 weeks" in text
    assert "implied first-week chance" in text
    out = tmp_path / "out"
    assert {"factors.yaml", "outcomes.yaml", "observation.yaml", "prior-predictive.pdf"} <= {p.name for p in out.iterdir()}
    from forecast.io.priors import load_priors

    tuned = load_priors(out).outcomes.deals["energy_food_deal"].baseline
    assert tuned.dist == "Normal" and "maxent" in tuned.rationale
    # The elicited statement is a weekly chance between 1/200 and 1/20: log-odds between -5.29 and -2.94.
    assert -4.6 < tuned.kwargs["mu"] < -1.5 and 0.5 < tuned.kwargs["sigma"] < 0.9


@pytest.mark.slow
def test_sensitivity_notebook(tmp_path, monkeypatch):
    nb = execute("02_sensitivity.ipynb", tmp_path, monkeypatch, NOTEBOOK_DRAWS="500", NOTEBOOK_TUNE="500")
    text = outputs_text(nb)
    for name in ("default", "optimist", "pessimist", "pool"):
        assert name in text
    assert "Local ceasefire" in text
