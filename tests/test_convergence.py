"""Our R-hat, bulk and tail ESS and MCSE are ArviZ's, to rounding, on awkward draws too."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from arviz_stats import ess, mcse, rhat
from scipy.stats import rankdata

from forecast.inference.convergence import _average_ranks, convergence, ess_bulk, ess_tail, mcse_mean
from forecast.inference.convergence import rhat as our_rhat


@pytest.fixture(scope="module")
def draws():
    rng = np.random.default_rng(11)
    x = np.cumsum(rng.normal(size=(4, 400, 8)), axis=1) * 0.05 + rng.normal(size=(4, 400, 8))
    x[..., 1] = np.round(x[..., 1])  # heavy ties
    x[1, :, 2] += 0.8  # one chain elsewhere: R-hat well above 1
    x[..., 3] = rng.standard_t(2, size=(4, 400))  # heavy tails
    x[..., 4] = np.exp(x[..., 4])  # skewed
    x[..., 5] = np.cumsum(rng.normal(size=(4, 400)), axis=1)  # a random walk: tiny ESS
    return x


def test_equal_to_arviz(draws):
    ds = xr.Dataset({"x": (("chain", "draw", "v"), draws)})
    np.testing.assert_allclose(our_rhat(draws), rhat(ds)["x"].values, rtol=1e-12)
    np.testing.assert_allclose(ess_bulk(draws), ess(ds, method="bulk")["x"].values, rtol=1e-10)
    np.testing.assert_allclose(ess_tail(draws), ess(ds, method="tail", prob=0.05)["x"].values, rtol=1e-10)
    np.testing.assert_allclose(mcse_mean(draws), mcse(ds, method="mean")["x"].values, rtol=1e-10)
    r_hat, bulk, tail = convergence(draws)
    np.testing.assert_array_equal(r_hat, our_rhat(draws))
    np.testing.assert_array_equal(bulk, ess_bulk(draws))
    np.testing.assert_array_equal(tail, ess_tail(draws))
    assert r_hat[2] > 1.1 and bulk[5] < 50  # the bad columns are seen as bad


def test_constant_draws_count_as_independent():
    x = np.ones((4, 100, 1))
    assert ess_bulk(x)[0] == 400


def test_average_ranks_equal_scipy():
    rng = np.random.default_rng(2)
    for rows in (rng.normal(size=(3, 50)), rng.integers(0, 4, (5, 40)).astype(float), np.ones((2, 7))):
        np.testing.assert_array_equal(_average_ranks(rows), rankdata(rows, axis=1))
