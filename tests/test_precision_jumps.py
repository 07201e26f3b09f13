"""The sampler's jumps between the explanations of readings that disagree
(inference/precision_jumps.py, model/reading_groups.py).

The sampling tier checks the posterior against exact quadrature on a small log with two modes
(an aid pause in miniature), and that the jumps are what make the chains agree on it.
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pytest
from conftest import SEED
from scipy import stats
from test_dataset import ev

from forecast.inference.precision_jumps import BELIEVED, DOUBTED, SIDE, Groups, flipped, jump
from forecast.inference.sampler import sample
from forecast.io.priors import write_priors
from forecast.model.dataset import build_dataset
from forecast.model.density import compile_density
from forecast.model.reading_groups import LARGEST_GROUP, contested_groups

AID = "external_military_aid"
VOLATILITY, NOISE = 0.65, 0.5


def _fixed_priors(priors, folder):
    """Fixed volatilities and noise, outcome effects 0: each obstacle's posterior is its readings'
    alone, and for two weeks a two-dimensional integral."""
    content = copy.deepcopy(priors.content)
    note = {"rationale": "quadrature check: a fixed parameter", "source": "tests/test_precision_jumps.py"}
    for factor in content["factors.yaml"]["factors"].values():
        factor["volatility"] = {"value": VOLATILITY, **note}
        factor.pop("jumps", None)
    for deal in content["outcomes.yaml"]["deals"].values():
        deal["effects"] = {k: {"value": 0.0, **note} for k in deal["effects"]}
    content["observation.yaml"]["noise"] = {"value": NOISE, **note}
    return write_priors(content, folder)


# The aid pause in miniature: a B1 reading far above in the first week; two B1 readings of the
# pause and a C1 reading of the resumption in the second.
PAUSE = [(0, 2.0, ("B", "1")), (1, -2.0, ("B", "1")), (1, -2.3, ("B", "1")), (1, 0.8, ("C", "1"))]


def _monday(priors) -> dt.date:
    return priors.outcomes.start - dt.timedelta(days=priors.outcomes.start.weekday())


def _pause_data(priors, readings=PAUSE):
    start = _monday(priors)
    events = [ev(f"s{i}", start + dt.timedelta(weeks=week), factor=AID, signal=value, grade=grade)
              for i, (week, value, grade) in enumerate(readings)]
    return build_dataset(events, priors, as_of=start + dt.timedelta(weeks=1, days=3))


def _exact_second_week(priors, readings=PAUSE) -> tuple[float, float]:
    """(mean of the level in the second week, chance that it is below 0) by quadrature."""
    initial = priors.factors[AID].initial.kwargs
    nu = priors.observation.nu.value
    grid = np.linspace(-7.0, 7.0, 1401)
    first, second = np.meshgrid(grid, grid, indexing="ij")
    log_p = stats.norm.logpdf(first, initial["mu"], initial["sigma"]) + stats.norm.logpdf(second - first, 0.0, VOLATILITY)
    for week, value, (reliability, credibility) in readings:
        scale = NOISE * priors.observation.reliability[reliability].value * priors.observation.credibility[credibility].value
        log_p = log_p + stats.t.logpdf(value, nu, first if week == 0 else second, scale)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    return float((p * second).sum()), float(p[:, grid < 0].sum())


# --- the proposal --------------------------------------------------------------------------

def test_a_flip_sends_each_reading_to_the_other_side_and_its_ratio_is_the_way_back_over_the_way_there():
    rng = np.random.default_rng(1)
    # Three believed and one doubted: the sides' normals have different spreads, so the ratio
    # depends on which way each reading goes.
    current = np.array([0.3, -2.5, -1.0, 0.8])
    believed = current > SIDE

    def log_q(to: np.ndarray, came_from: np.ndarray) -> float:
        mean = np.where(came_from > SIDE, DOUBTED[0], BELIEVED[0])
        sd = np.where(came_from > SIDE, DOUBTED[1], BELIEVED[1])
        return float(stats.norm.logpdf(to, mean, sd).sum())

    for _ in range(20):
        new, log_ratio = flipped(current, rng)
        assert log_ratio == pytest.approx(log_q(current, new) - log_q(new, current), abs=1e-12)
    # Over many flips a believed reading's new value follows the doubted side's normal and back,
    # each reading drawn on its own.
    many = np.array([flipped(current, rng)[0] for _ in range(20_000)])
    for i in range(len(current)):
        mean, sd = DOUBTED if believed[i] else BELIEVED
        assert many[:, i].mean() == pytest.approx(mean, abs=0.03)
        assert many[:, i].std() == pytest.approx(sd, rel=0.03)
    assert abs(np.corrcoef(many[:, 0], many[:, 3])[0, 1]) < 0.03


# --- the groups ---------------------------------------------------------------------------

def test_readings_that_disagree_make_groups_of_their_week_and_fortnight(priors):
    data = _pause_data(priors)
    assert [g.tolist() for g in contested_groups(data, priors)] == [[0], [0, 1, 2, 3], [1, 2, 3]]


def test_readings_that_agree_or_sit_far_apart_make_no_group(priors):
    agree = [(0, 2.0, ("B", "1")), (1, 1.6, ("B", "1")), (1, 1.9, ("C", "3"))]
    assert contested_groups(_pause_data(priors, agree), priors) == []
    # An E5 reading is noisy enough to sit 4 points off without disagreeing.
    rumour = [(0, 2.0, ("B", "1")), (1, -2.0, ("E", "5"))]
    assert contested_groups(_pause_data(priors, rumour), priors) == []
    start = _monday(priors)
    far = [ev("a", start, factor=AID, signal=2.0, grade=("A", "1")),
           ev("b", start + dt.timedelta(weeks=12), factor=AID, signal=-2.0, grade=("A", "1"))]
    assert contested_groups(build_dataset(far, priors, as_of=start + dt.timedelta(weeks=12, days=1)), priors) == []
    other = [ev("a", start, factor=AID, signal=2.0, grade=("A", "1")),
             ev("b", start, factor="territorial_rigidity", signal=-2.0, grade=("A", "1"))]
    assert contested_groups(build_dataset(other, priors, as_of=start + dt.timedelta(days=1)), priors) == []


def test_the_walk_and_the_grades_set_how_far_apart_readings_may_sit(priors):
    # Two A1 readings 1.6 apart: a disagreement a week apart, a move the walk allows over 8 weeks.
    week_apart = [(0, 2.0, ("A", "1")), (1, 0.4, ("A", "1"))]
    assert contested_groups(_pause_data(priors, week_apart), priors)
    start = _monday(priors)
    weeks_apart = [ev("a", start, factor=AID, signal=2.0, grade=("A", "1")),
                   ev("b", start + dt.timedelta(weeks=8), factor=AID, signal=0.4, grade=("A", "1"))]
    assert contested_groups(build_dataset(weeks_apart, priors, as_of=start + dt.timedelta(weeks=8, days=1)), priors) == []
    # Improbable news (credibility 5) from a reliable source 2.3 from a B1 reading: within its noise.
    improbable = [(1, 2.0, ("B", "1")), (1, -0.3, ("A", "5"))]
    assert contested_groups(_pause_data(priors, improbable), priors) == []
    confirmed = [(1, 2.0, ("B", "1")), (1, -0.3, ("A", "1"))]
    assert contested_groups(_pause_data(priors, confirmed), priors)


def _two_readings(priors, weeks: tuple[int, int], values: tuple[float, float], grade=("A", "1")):
    start = _monday(priors)
    events = [ev(f"r{i}", start + dt.timedelta(weeks=w), factor=AID, signal=v, grade=grade)
              for i, (w, v) in enumerate(zip(weeks, values))]
    return build_dataset(events, priors, as_of=start + dt.timedelta(weeks=max(weeks), days=1))


def test_readings_are_compared_up_to_eight_weeks_apart_wherever_they_sit(priors):
    # A1 readings 3 points apart: a disagreement even after 8 weeks of the walk; not compared at 9.
    assert [g.tolist() for g in contested_groups(_two_readings(priors, (30, 38), (2.0, -1.0)), priors)] == [[0], [1]]
    assert contested_groups(_two_readings(priors, (30, 39), (2.0, -1.0)), priors) == []
    # Two B1 readings 1.3 apart a fortnight apart: within what the walk and their noise allow.
    assert contested_groups(_two_readings(priors, (30, 32), (2.0, 0.7), ("B", "1")), priors) == []
    assert contested_groups(_two_readings(priors, (30, 30), (2.0, 0.3), ("B", "1")), priors)


def test_a_dense_log_has_no_groups(priors):
    """More than a reading per obstacle-week on average: the fit has no precision per reading, so
    there is nothing to jump in, and the pairs of a dense log are never compared."""
    readings = [(w, 2.0 if i % 2 else -2.0, ("A", "1")) for w in range(4) for i in range(5)]
    start = _monday(priors)
    events = [ev(f"s{j}", start + dt.timedelta(weeks=w), factor=AID, signal=v, grade=g) for j, (w, v, g) in enumerate(readings)]
    dense = build_dataset(events, priors, as_of=start + dt.timedelta(weeks=3, days=1))
    assert len(dense.signal_value) > len(dense.factors) * dense.n_weeks
    assert contested_groups(dense, priors) == []
    sparse = build_dataset(events[:5], priors, as_of=start + dt.timedelta(weeks=3, days=1))
    assert [g.tolist() for g in contested_groups(sparse, priors)] == [[0, 1, 2, 3, 4]]


def test_no_group_is_larger_than_the_limit(priors):
    crowd = [(1, 2.0 if i % 2 else -2.0, ("A", "1")) for i in range(LARGEST_GROUP + 1)]
    groups = contested_groups(_pause_data(priors, crowd), priors)
    assert groups == []  # the one week holds nine readings, too many to flip at once
    assert contested_groups(_pause_data(priors, crowd[:LARGEST_GROUP]), priors)


# --- the step in the sampler ---------------------------------------------------------------

def _sample(data, priors, groups, reading_precisions=None, **settings):
    return sample(compile_density(data, priors, reading_precisions), data, priors, progress=False, reading_groups=groups,
                  **settings)


def test_the_sampler_jumps_only_where_readings_have_precisions_and_groups(priors):
    data = _pause_data(priors)
    groups = contested_groups(data, priors)
    short = {"draws": 40, "tune": 40, "chains": 2, "seed": 1}
    assert _sample(data, priors, groups, **short)[0].sample_stats["precision_jumps_accepted"].values.sum() > 0
    assert _sample(data, priors, [], **short)[0].sample_stats["precision_jumps_accepted"].values.sum() == 0
    # A dense fit has no precision per reading to jump in.
    dense = _sample(data, priors, groups, reading_precisions=False, **short)[0]
    assert dense.sample_stats["precision_jumps_accepted"].values.sum() == 0


@pytest.mark.slow
def test_the_posterior_with_jumps_is_the_exact_one(priors, tmp_path):
    priors = _fixed_priors(priors, tmp_path / "priors")
    data = _pause_data(priors)
    mean, below = _exact_second_week(priors)
    assert 0.2 < below < 0.5  # two modes, neither negligible
    trace, diagnostics = _sample(data, priors, contested_groups(data, priors), draws=2000, tune=1000, chains=4, seed=SEED)
    assert diagnostics.passed, diagnostics.problems
    level = trace.posterior["theta"].sel(factor=AID).isel(week=1).values.ravel()
    n = diagnostics.ess_bulk_min
    assert abs((level < 0).mean() - below) < 4 * np.sqrt(below * (1 - below) / n), ((level < 0).mean(), below)
    assert abs(level.mean() - mean) < 4 * level.std() / np.sqrt(n), (level.mean(), mean)
    assert float(trace.sample_stats["precision_jumps_accepted"].mean()) > 0


@pytest.mark.slow
def test_the_jumps_multiply_the_effective_draws_on_two_modes(priors, tmp_path):
    """What the jumps are for: on the same log NUTS alone crosses between the modes rarely
    (bulk ESS 346 of 4,000 when written, against 3,292 with the jumps)."""
    priors = _fixed_priors(priors, tmp_path / "priors")
    data = _pause_data(priors)
    _, with_jumps = _sample(data, priors, contested_groups(data, priors), draws=1000, tune=500, chains=4, seed=SEED)
    _, without = _sample(data, priors, [], draws=1000, tune=500, chains=4, seed=SEED)
    assert with_jumps.passed, with_jumps.problems
    assert with_jumps.ess_bulk_min > 3 * without.ess_bulk_min


def test_the_draws_with_jumps_do_not_depend_on_how_many_processes_run_the_chains(priors):
    """Each chain's jumps draw from that chain's own stream, as its NUTS does."""
    from forecast.inference.fit import FitSettings, fit_forecast

    data = _pause_data(priors)
    one, two = (fit_forecast(data, priors, FitSettings(draws=30, tune=30, chains=2, seed=3, cores=cores)) for cores in (1, 2))
    assert one[0].sample_stats["precision_jumps_accepted"].values.sum() > 0
    np.testing.assert_array_equal(one[0].posterior["theta"].values, two[0].posterior["theta"].values)


def _exact_draws(density, x: np.ndarray, coordinates: slice, low: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws from the density of two coordinates with the rest of `x` held, by quadrature: the
    density on a grid from `low` to 4 (step 0.05), a cell drawn by its mass, a uniform point in it."""
    spacing = 0.05
    grid = np.arange(low, 4.0, spacing)
    values = np.empty((len(grid), len(grid)))
    point = x.copy()
    for i, a in enumerate(grid):
        for j, b in enumerate(grid):
            point[coordinates] = (a, b)
            values[i, j] = density.log_density(point)
    values = np.exp(values - values.max()).ravel()
    values /= values.sum()
    cells = rng.choice(values.size, size=n, p=values)
    return np.column_stack([grid[cells // len(grid)], grid[cells % len(grid)]]) + rng.uniform(0, spacing, (n, 2))


def test_a_step_leaves_the_readings_precisions_where_the_model_puts_them(priors):
    """The jumps alone, everything but two readings' precisions held: draws from the model's
    conditional density of the two log precisions (by quadrature on a grid), each moved by one
    step of the jumps, are still draws from it. Nothing else moves; the step counts what it
    accepted and returns the log density where it leaves the point."""
    data = _two_readings(priors, (0, 3), (2.0, -1.0), ("B", "1"))
    groups = contested_groups(data, priors)
    assert [g.tolist() for g in groups] == [[0], [1]]
    density = compile_density(data, priors)
    flat = Groups(groups)
    readings = density.layout.reading_precisions
    x = density.centre + np.random.default_rng(3).uniform(-1.0, 1.0, density.centre.size)

    rng = np.random.default_rng(5)
    n = 4000
    exact = _exact_draws(density, x, readings, -12.0, n, rng)
    moved, accepted = np.empty_like(exact), []
    for i in range(n):
        point = x.copy()
        point[readings] = exact[i]
        # Forty proposals: a kernel that is off moves the draws away from the density, step by step.
        log_p, count = jump(point, density.log_density(point), density.structure, flat.members, flat.starts, 40, rng)
        assert log_p == pytest.approx(density.log_density(point), abs=1e-9)
        assert np.array_equal(np.delete(point, np.r_[readings]), np.delete(x, np.r_[readings]))
        assert (count > 0) == (not np.array_equal(point[readings], exact[i]))
        moved[i] = point[readings]
        accepted.append(count)
    assert np.mean(np.array(accepted) > 0) > 0.5 and max(accepted) >= 2
    # The moved draws follow the same density: means and the share doubted within Monte Carlo error.
    error = 4 * exact.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(moved.mean(axis=0) - exact.mean(axis=0)) < error * np.sqrt(2)), (moved.mean(axis=0), exact.mean(axis=0))
    doubted = (exact <= SIDE).mean(axis=0)
    assert np.all(np.abs((moved <= SIDE).mean(axis=0) - doubted) < 4 * np.sqrt(2 * doubted * (1 - doubted) / n))


def test_a_swap_leaves_the_step_precisions_where_the_model_puts_them(priors, tmp_path):
    """The swaps alone, everything but the aid factor's two step precisions held: draws from the
    model's conditional density of the two (a jump between a high reading and a low one, in week 1
    or week 2), each moved by swaps, are still draws from it; a swap without its partner inside the
    weeks moves nothing; and the swaps do move the jump between the weeks."""
    from forecast.inference.precision_jumps import swap_steps

    content = copy.deepcopy(priors.content)
    note = {"rationale": "swap check", "source": "tests/test_precision_jumps.py"}
    for key, factor in content["factors.yaml"]["factors"].items():
        factor["volatility"] = {"value": 0.1, **note}
        factor.pop("jumps", None)
        if key == AID:
            factor["jumps"] = {"nu": 1.5, **note}
    for deal in content["outcomes.yaml"]["deals"].values():
        deal["effects"] = {k: {"value": 0.0, **note} for k in deal["effects"]}
    content["observation.yaml"]["noise"] = {"value": NOISE, **note}
    jumpy = write_priors(content, tmp_path / "priors")
    start = _monday(jumpy)
    events = [ev("hi", start, factor=AID, signal=2.0, grade=("A", "1")),
              ev("lo", start + dt.timedelta(weeks=2), factor=AID, signal=-1.0, grade=("A", "1"))]
    data = build_dataset(events, jumpy, as_of=start + dt.timedelta(weeks=2, days=1))
    density = compile_density(data, jumpy, reading_precisions=False)
    steps = density.layout.step_precisions
    assert steps.stop - steps.start == 2  # the aid factor's steps into weeks 1 and 2
    x = density.centre.copy()

    rng = np.random.default_rng(9)
    n = 4000
    exact = _exact_draws(density, x, steps, -10.0, n, rng)
    moved, accepted = np.empty_like(exact), 0
    for i in range(n):
        point = x.copy()
        point[steps] = exact[i]
        log_p, count = swap_steps(point, density.log_density(point), density.structure, 32, rng)
        assert log_p == pytest.approx(density.log_density(point), abs=1e-9)
        assert np.array_equal(np.delete(point, np.r_[steps]), np.delete(x, np.r_[steps]))
        assert sorted(point[steps]) == sorted(exact[i])  # a permutation, nothing else
        moved[i] = point[steps]
        accepted += count > 0
    assert accepted > n / 10
    # The jump sits in either week (the smaller precision), and the swaps keep the share in each.
    error = 4 * exact.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(moved.mean(axis=0) - exact.mean(axis=0)) < error * np.sqrt(2)), (moved.mean(axis=0), exact.mean(axis=0))
    first = (exact[:, 0] < exact[:, 1]).mean()
    assert 0.2 < first < 0.8
    assert abs((moved[:, 0] < moved[:, 1]).mean() - first) < 4 * np.sqrt(2 * first * (1 - first) / n)
