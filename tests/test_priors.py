"""The priors loader: defaults are complete and cited; bad folders fail naming file, line and key."""

from __future__ import annotations

import shutil

import pytest
import yaml
from conftest import PRIORS

from forecast.cli.main import main
from forecast.errors import InputError
from forecast.io.priors import load_priors


def test_defaults_load_with_the_design_keys(priors):
    assert list(priors.factors) == ["territorial_rigidity", "security_guarantee_gap", "external_military_aid", "domestic_hawkishness"]
    assert priors.outcomes.keys == ["local_ceasefire", "energy_food_deal", "general_ceasefire", "protracted_war"]
    assert (priors.outcomes.horizon_weeks, priors.outcomes.forecast_weeks) == (12, 52)
    assert priors.outcomes.start.isoformat() == "2025-02-17"


def _entries(node, path=()):
    """Every prior entry (a mapping with 'dist' or 'value') in a parsed YAML document."""
    if isinstance(node, dict):
        if "dist" in node or "value" in node:
            yield path, node
        else:
            for key, value in node.items():
                yield from _entries(value, (*path, key))


@pytest.mark.parametrize("name", ["factors.yaml", "outcomes.yaml", "observation.yaml"])
def test_every_default_entry_has_rationale_and_source(name):
    doc = yaml.safe_load((PRIORS / name).read_text(encoding="utf-8"))
    entries = list(_entries(doc))
    assert entries
    for path, entry in entries:
        assert len(entry.get("rationale", "")) > 10, path
        assert len(entry.get("source", "")) > 5, path


def test_factor_rationales_cite_the_seed_article(priors):
    for factor in priors.factors.values():
        assert "Seed article (2025-02-21)" in factor.initial.source


def test_hash_changes_with_content_only(tmp_path, priors):
    copy = tmp_path / "p"
    shutil.copytree(PRIORS, copy)
    assert load_priors(copy).hash == priors.hash
    text = (copy / "factors.yaml").read_text().replace("mu: 2.5", "mu: 2.4")
    (copy / "factors.yaml").write_text(text)
    assert load_priors(copy).hash != priors.hash


def _broken(tmp_path, name, old, new):
    copy = tmp_path / "priors"
    shutil.copytree(PRIORS, copy)
    text = (copy / name).read_text()
    assert old in text
    (copy / name).write_text(text.replace(old, new, 1))
    return copy


BROKEN = [
    ("factors.yaml", "    volatility:\n", "    volatilty:\n", "unknown key; did you mean 'volatility'?"),
    ("factors.yaml", "kwargs: {mu: 2.5, sigma: 0.5}", "kwargs: {mu: 2.5, sigma: -0.5}", "must be > 0, got -0.5"),
    ("factors.yaml", "dist: LogNormal\n      kwargs: {mu: -2.92, sigma: 0.6}", "dist: Normal\n      kwargs: {mu: 0, sigma: 0.08}", "must be positive"),
    ("factors.yaml", "dist: Normal", "dist: Normall", "did you mean 'Normal'?"),
    ("outcomes.yaml", "      domestic_hawkishness:\n        dist: Normal\n        kwargs: {mu: -0.25", "      domestic_hawkishnes:\n        dist: Normal\n        kwargs: {mu: -0.25", "did you mean 'domestic_hawkishness'?"),
    ("observation.yaml", "  F: {value: 1.6,", "  G: {value: 1.6,", "expected one of: 'A', 'B'"),
    ("outcomes.yaml", "horizon_weeks:\n  value: 12", "horizon_weeks:\n  value: 60", "exceeds forecast_weeks"),
]


@pytest.mark.parametrize(("name", "old", "new", "message"), BROKEN)
def test_broken_priors_name_file_and_key(tmp_path, name, old, new, message):
    folder = _broken(tmp_path, name, old, new)
    with pytest.raises(InputError) as info:
        load_priors(folder)
    text = str(info.value)
    assert str(folder / name) in text and "line " in text and "key '" in text and message in text, text


def _edited(tmp_path, name, edit):
    """A copy of the default priors with `edit(doc)` applied to the parsed `name`."""
    folder = tmp_path / "priors"
    shutil.copytree(PRIORS, folder)
    doc = yaml.safe_load((folder / name).read_text())
    edit(doc)
    (folder / name).write_text(yaml.safe_dump(doc, allow_unicode=True))
    return folder


def test_missing_rationale(tmp_path):
    folder = _edited(tmp_path, "factors.yaml", lambda doc: doc["factors"]["external_military_aid"]["initial"].pop("rationale"))
    with pytest.raises(InputError, match=r"key 'factors.external_military_aid.initial': missing required key 'rationale'"):
        load_priors(folder)


def test_missing_effect_for_a_factor(tmp_path):
    folder = _edited(tmp_path, "outcomes.yaml", lambda doc: doc["deals"]["local_ceasefire"]["effects"].pop("external_military_aid"))
    with pytest.raises(InputError, match=r"deals.local_ceasefire.effects': missing required key 'external_military_aid'"):
        load_priors(folder)


def test_adding_a_factor_is_a_yaml_edit(tmp_path, priors):
    folder = tmp_path / "priors"
    shutil.copytree(PRIORS, folder)
    factors = yaml.safe_load((folder / "factors.yaml").read_text())
    factors["factors"]["energy_leverage"] = factors["factors"]["domestic_hawkishness"]
    (folder / "factors.yaml").write_text(yaml.safe_dump(factors, allow_unicode=True))
    outcomes = yaml.safe_load((folder / "outcomes.yaml").read_text())
    for deal in outcomes["deals"].values():
        deal["effects"]["energy_leverage"] = {"dist": "Normal", "kwargs": {"mu": 0, "sigma": 0.1}, "rationale": "test", "source": "test"}
    (folder / "outcomes.yaml").write_text(yaml.safe_dump(outcomes, allow_unicode=True))
    assert "energy_leverage" in load_priors(folder).factors


def test_bad_priors_through_the_cli(tmp_path, capsys):
    folder = _broken(tmp_path, "observation.yaml", "nu:\n  value: 4", "nu:\n  value: -4")
    assert main(["validate", "examples/events.csv", "--priors", str(folder), "--workspace", str(tmp_path / "ws")]) == 2
    assert "key 'nu.value': must be > 0" in capsys.readouterr().err


def test_invalid_yaml_points_at_the_line(tmp_path):
    folder = _broken(tmp_path, "factors.yaml", "factors:\n", "factors:\n  : : :\n")
    with pytest.raises(InputError, match=r"factors.yaml, line \d+, column \d+: not valid YAML"):
        load_priors(folder)
