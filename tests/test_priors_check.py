"""`forecast priors check` and what the default priors imply before any data."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from conftest import PRIORS, snapshot
from test_priors import _broken, _edited

from forecast.cli.main import main
from forecast.forecasting.prior_predictive import prior_predictive


@pytest.fixture(scope="module")
def default_predictive():
    from forecast.io.priors import load_priors

    return prior_predictive(load_priors(PRIORS), draws=4000, seed=20250221)


def test_article_ordering_at_the_headline_horizon(default_predictive):
    """Protracted war the most likely path at 12 weeks; each partial deal plausible but a minority."""
    table = default_predictive.table
    at = table[table.horizon == 12].set_index("outcome")["p"]
    assert at["protracted_war"] > 0.5
    assert at["protracted_war"] > at["local_ceasefire"] + 0.3 and at["protracted_war"] > at["energy_food_deal"] + 0.3
    for deal in ("local_ceasefire", "energy_food_deal"):
        assert 0.05 <= at[deal] <= 0.3, (deal, at[deal])


def test_weekly_base_rate_near_the_2022_2025_record(default_predictive):
    """The priors' rationale: about one partial deal per 155 weeks, so a weekly chance near 1 % now."""
    first_week = default_predictive.incidence[:, 0, :2]
    median = np.median(first_week, axis=0)
    assert np.all((median > 0.003) & (median < 0.02)), median


def test_a_general_ceasefire_is_distant(default_predictive):
    """None in 2022-2026 and the article's 'no breakthrough in the short term': its weekly chance
    now is a small fraction of either partial deal's, and a year gives it a minority chance."""
    keys = list(default_predictive.table.outcome.unique())
    general = keys.index("general_ceasefire")
    weekly = np.median(default_predictive.incidence[:, 0, :3], axis=0)
    assert 0.0003 < weekly[general] < 0.25 * min(np.delete(weekly, general)), weekly
    table = default_predictive.table.set_index(["horizon", "outcome"])
    assert table.loc[(12, "general_ceasefire"), "happens_by"] < 0.05
    assert table.loc[(52, "general_ceasefire"), "happens_by"] < 0.2
    assert table.loc[(52, "general_ceasefire"), "happens_by"] < 0.5 * table.loc[(52, "local_ceasefire"), "happens_by"]


def test_prior_paths_start_at_the_articles_levels(default_predictive):
    start = np.median(default_predictive.factor_paths[:, :, 0], axis=0)
    np.testing.assert_allclose(start, [2.5, 2.0, 1.0, 1.5], atol=0.05)


def test_priors_check_prints_the_headline_and_writes_one_page(tmp_path, capsys):
    out = tmp_path / "check.pdf"
    assert main(["priors", "check", "--draws", "1000", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Prior predictive: chance of each path within 12 weeks" in text and "Protracted war (no deal)" in text
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M) and re.search(r"Page size:\s+841.\d+ x 59\d", info), info


def test_priors_check_default_output_goes_to_the_workspace_reports(tmp_path, capsys):
    assert main(["priors", "check", "--draws", "500", "--workspace", str(tmp_path)]) == 0
    assert len(list((tmp_path / "reports").glob("prior-predictive-*.pdf"))) == 1


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda t: _broken(t, "factors.yaml", "kwargs: {mu: 2.5, sigma: 0.5}", "kwargs: {mu: 2.5, sigma: -0.5}"),
         ["factors.yaml", "key 'factors.territorial_rigidity.initial.kwargs.sigma'", "must be > 0"]),
        (lambda t: _broken(t, "observation.yaml", "\nnoise:\n", "\nnoize:\n"),
         ["observation.yaml", "key 'noize'", "did you mean 'noise'?"]),
        (lambda t: _edited(t, "outcomes.yaml", lambda d: d["deals"]["energy_food_deal"]["effects"].pop("domestic_hawkishness")),
         ["outcomes.yaml", "key 'deals.energy_food_deal.effects'", "missing required key 'domestic_hawkishness'"]),
        (lambda t: _edited(t, "factors.yaml", lambda d: d["factors"]["territorial_rigidity"]["volatility"].pop("source")),
         ["factors.yaml", "key 'factors.territorial_rigidity.volatility'", "missing required key 'source'"]),
    ],
    ids=["negative sigma", "unknown key", "missing factor effect", "missing source"],
)
def test_bad_priors_folder_exit_2_naming_file_and_key(tmp_path, capsys, make, fragments):
    folder = make(tmp_path)
    before = snapshot(tmp_path)
    assert main(["priors", "check", "--priors", str(folder), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    assert snapshot(tmp_path) == before
