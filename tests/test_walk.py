"""The obstacles' walk (model/walk.py): Student-t steps from a Gamma scale mixture, the same in
the PyMC model, the forward simulation and the priors; Gaussian steps without 'jumps'."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from forecast.errors import InputError
from forecast.io.priors import NO_JUMPS, Jumps, load_priors
from forecast.model.walk import draw_steps

NU = 1.75


def test_steps_are_student_t_with_the_factors_nu_and_the_volatility_as_scale():
    volatility = np.array([0.05, 0.2])
    steps = draw_steps(volatility, np.array([NU, NU]), 20_000, np.random.default_rng(1))
    for k, scale in enumerate(volatility):
        assert stats.kstest(steps[k], stats.t(NU, scale=scale).cdf).pvalue > 0.01
        # A Gamma with scale nu/2 where its rate is meant (steps far too wide or narrow) fails:
        assert stats.kstest(steps[k], stats.t(NU, scale=scale * 1.5).cdf).pvalue < 1e-6


def test_without_jumps_the_walk_is_gaussian_and_draws_what_it_always_did():
    volatility = np.array([0.05, 0.2])
    steps = draw_steps(volatility, np.array([np.inf, np.inf]), 6, np.random.default_rng(2))
    np.testing.assert_array_equal(steps, volatility[:, None] * np.random.default_rng(2).standard_normal((2, 6)))
    np.testing.assert_array_equal(draw_steps(volatility, None, 6, np.random.default_rng(2)), steps)


def test_the_pymc_model_draws_the_same_steps(priors):
    from forecast.model.graph import build_model
    from forecast.model.skeleton import skeleton_dataset

    data = dataclasses.replace(skeleton_dataset(priors, n_signals=0, n_weeks=30, rng=np.random.default_rng(0)), outcomes_observed=False)
    priors = dataclasses.replace(priors, factors={k: dataclasses.replace(f, jumps=Jumps(NU, "t", "t"))
                                                  for k, f in priors.factors.items()})
    model = build_model(data, priors)
    prior = pm.sample_prior_predictive(draws=400, model=model, random_seed=3).prior
    theta, volatility = prior["theta"].values, prior["volatility"].values  # (1, D, K, W), (1, D, K)
    standardised = (np.diff(theta, axis=-1) / volatility[..., None]).ravel()
    assert stats.kstest(standardised, stats.t(NU).cdf).pvalue > 0.01
    assert float(prior["step_nu"].values[0, 0, 0]) == NU
    gaussian = dataclasses.replace(priors, factors={k: dataclasses.replace(f, jumps=NO_JUMPS) for k, f in priors.factors.items()})
    prior = pm.sample_prior_predictive(draws=400, model=build_model(data, gaussian), random_seed=3).prior
    standardised = (np.diff(prior["theta"].values, axis=-1) / prior["volatility"].values[..., None]).ravel()
    assert stats.kstest(standardised, stats.norm.cdf).pvalue > 0.01


def _with_jumps(tmp_path: Path, nu: str) -> tuple[Path, str]:
    """The default priors with their commented-out `jumps` blocks switched on, nu as given."""
    folder = tmp_path / "priors"
    shutil.copytree(Path(__file__).resolve().parents[1] / "priors", folder)
    text = (folder / "factors.yaml").read_text(encoding="utf-8").replace("    # jumps:", "    jumps:")
    text = "\n".join(line.replace("    #   ", "      ", 1) if line.startswith("    #   ") else line for line in text.splitlines()) + "\n"
    text = text.replace("nu: 1.75", f"nu: {nu}")
    (folder / "factors.yaml").write_text(text, encoding="utf-8")
    return folder, text


def test_the_default_priors_ship_jumps_switched_off_and_they_parse_when_on(priors, tmp_path):
    assert {k: f.jumps.nu for k, f in priors.factors.items()} == dict.fromkeys(priors.factors, np.inf)
    folder, _ = _with_jumps(tmp_path, "1.75")
    assert {k: f.jumps.nu for k, f in load_priors(folder).factors.items()} == dict.fromkeys(priors.factors, NU)


def test_a_jumps_nu_below_one_is_refused_with_its_line(tmp_path):
    folder, text = _with_jumps(tmp_path, "0.5")
    line = text.splitlines().index("      nu: 0.5") + 1
    with pytest.raises(InputError, match=rf"factors\.yaml, line {line}: .*jumps\.nu.*at least 1"):
        load_priors(folder)


def test_jumps_on_some_factors_only(priors):
    """Heavy-tailed steps for one factor, Gaussian for the rest: only that factor's weeks get a
    precision to sample, and both forms of the model have a finite density."""
    from forecast.model.graph import build_fit_model, build_model
    from forecast.model.skeleton import skeleton_dataset

    first = next(iter(priors.factors))
    priors = dataclasses.replace(priors, factors={k: dataclasses.replace(f, jumps=Jumps(NU, "t", "t")) if k == first else f
                                                  for k, f in priors.factors.items()})
    data = skeleton_dataset(priors, n_signals=30, n_weeks=12, rng=np.random.default_rng(0))
    for build in (build_fit_model, build_model):
        model = build(data, priors)
        assert model.initial_point()["step_precision_heavy_log__"].shape == (1, 11)
        assert np.isfinite(model.compile_logp()(model.initial_point()))
