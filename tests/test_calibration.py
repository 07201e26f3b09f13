"""Simulation-based calibration, reduced (sampling tier). The full run is benchmarks/sbc.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.evaluation.calibration import SbcSettings, run_sbc, uniformity

pytestmark = pytest.mark.slow

REDUCED = SbcSettings(replications=30, n_signals=24, n_weeks=6, draws=300, tune=300, chains=2, ranks_from=39)


@pytest.fixture(scope="module")
def ranks(priors_module):
    return run_sbc(priors_module, REDUCED)


@pytest.fixture(scope="module")
def priors_module():
    from conftest import PRIORS

    from forecast.io.priors import load_priors

    return load_priors(PRIORS)


def test_every_checked_scalar_has_a_rank_per_replication(ranks, priors_module):
    per = ranks.groupby("parameter").size()
    # 4 volatilities, the noise, 3 baselines and 3 x 4 effects.
    k, j = len(priors_module.factors), len(priors_module.outcomes.deals)
    assert (k, j) == (4, 3) and len(per) == k + 1 + j + j * k == 20 and (per == REDUCED.replications).all()
    assert ranks["rank"].between(0, REDUCED.ranks_from).all()


def test_ranks_are_uniform_at_the_1_percent_level(ranks):
    table = uniformity(ranks, bins=4)
    alpha = 0.01 / len(table)  # Bonferroni over the 20 scalars: 1 % for the whole family
    assert (table["p_value"] > alpha).all(), table.to_string()
    assert ranks.groupby("replication")["divergences"].first().mean() < 5


def test_the_uniformity_test_detects_a_biased_sampler():
    """Ranks from a posterior that is systematically too low pile up at the top: rejected."""
    rng = np.random.default_rng(0)
    biased = pd.DataFrame({"parameter": "x", "rank": np.minimum(rng.integers(0, 40, 30) + 15, 39), "L": 39})
    assert uniformity(biased, bins=4)["p_value"].iloc[0] < 0.01 / 20
