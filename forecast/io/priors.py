"""Load and validate the priors folder (`factors.yaml`, `outcomes.yaml`, `observation.yaml`).

A distribution is written in pymc-extras `Prior.to_dict()` form, `{dist: Normal, kwargs: {mu: 1,
sigma: 0.5}}`; `{value: 4}` fixes the parameter. Every entry also carries `rationale` and
`source`. Nothing here imports PyMC: `forecast validate` must stay quick, so the distributions
are checked against the table below and only turned into PyMC variables by `forecast.model.graph`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from forecast.conventions import CREDIBILITY_GRADES, RELIABILITY_GRADES
from forecast.errors import InputError, did_you_mean
from forecast.io.priors_yaml import LongInteger, NoAliasDumper, read_yaml

PRIOR_FILES = ("factors.yaml", "outcomes.yaml", "observation.yaml")

# Parameters of each distribution we accept, and which must be strictly positive.
# Support is "real" or "positive"; a positive-only model parameter needs positive support.
_REAL, _POS = "real", "positive"
DISTRIBUTIONS: dict[str, dict[str, Any]] = {
    "Normal": {"params": {"mu": _REAL, "sigma": _POS}, "support": _REAL},
    "StudentT": {"params": {"nu": _POS, "mu": _REAL, "sigma": _POS}, "support": _REAL},
    "HalfNormal": {"params": {"sigma": _POS}, "support": _POS},
    "HalfStudentT": {"params": {"nu": _POS, "sigma": _POS}, "support": _POS},
    "HalfCauchy": {"params": {"beta": _POS}, "support": _POS},
    "LogNormal": {"params": {"mu": _REAL, "sigma": _POS}, "support": _POS},
    "Gamma": {"params": {"alpha": _POS, "beta": _POS}, "support": _POS},
    "InverseGamma": {"params": {"alpha": _POS, "beta": _POS}, "support": _POS},
    "Exponential": {"params": {"lam": _POS}, "support": _POS},
    "Uniform": {"params": {"lower": _REAL, "upper": _REAL}, "support": "bounded"},
    "TruncatedNormal": {
        "params": {"mu": _REAL, "sigma": _POS, "lower": _REAL, "upper": _REAL},
        "optional": {"lower", "upper"},
        "support": "bounded",
    },
}

_ENTRY_KEYS = {"dist", "kwargs", "value", "rationale", "source"}


@dataclass(frozen=True)
class Param:
    """One prior entry: a distribution, or a fixed value, with its justification."""

    dist: str | None
    kwargs: dict[str, float]
    value: float | None
    rationale: str
    source: str

    @property
    def fixed(self) -> bool:
        return self.dist is None

    def to_dict(self) -> dict[str, Any]:
        """The pymc-extras `Prior.to_dict()` form (or `{value: x}`), without the notes."""
        if self.fixed:
            return {"value": self.value}
        return {"dist": self.dist, "kwargs": dict(self.kwargs)}


@dataclass(frozen=True)
class Jumps:
    """How heavy a factor's weekly steps are (model/walk.py): Student-t with `nu` degrees of
    freedom, scaled by the volatility. A fixed number, as for the readings' nu: the few jumps a
    record holds cannot inform it. nu = infinity is the Gaussian walk."""

    nu: float
    rationale: str
    source: str


NO_JUMPS = Jumps(math.inf, "No jumps: Gaussian steps.", "The priors give no 'jumps' for this factor.")


@dataclass(frozen=True)
class Factor:
    key: str
    label: str
    initial: Param
    volatility: Param
    jumps: Jumps = NO_JUMPS
    # A logged break (a `break` row: a change of war): the standard deviation of one extra normal
    # step of this obstacle in the break's week. None: these priors cannot read a break.
    break_step: Param | None = None


@dataclass(frozen=True)
class DealType:
    key: str
    label: str
    baseline: Param
    effects: dict[str, Param]  # factor key -> b_jk
    # A logged break: the change of this deal's baseline log-odds from the break's week on, one
    # draw per break. None: these priors cannot read a break.
    break_shift: Param | None = None


@dataclass(frozen=True)
class Follows:
    """An occasion that no one schedules: the `weeks` weeks after a week in which a deal of type
    `deal` was reached (deals come in runs once a channel works)."""

    deal: str
    weeks: int


@dataclass(frozen=True)
class Occasion:
    """A kind of date known in advance (a holiday, a deal's expiry, an announced summit) on which
    deals are more (or less) likely: its week's log-odds of each deal type move by `effects`.
    With `follows`, its weeks are not logged but follow from the outcomes (`model/dataset.py`)."""

    key: str
    label: str
    effects: dict[str, Param]  # deal key -> the change in that deal's weekly log-odds
    follows: Follows | None = None


@dataclass(frozen=True)
class Outcomes:
    start: dt.date
    horizon_weeks: int
    forecast_weeks: int
    complement_key: str
    complement_label: str
    deals: dict[str, DealType]
    occasions: dict[str, Occasion] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """Deal types then the complement: the order of every outcome table."""
        return [*self.deals, self.complement_key]

    @property
    def labels(self) -> dict[str, str]:
        return {**{k: d.label for k, d in self.deals.items()}, self.complement_key: self.complement_label}


@dataclass(frozen=True)
class Observation:
    noise: Param
    nu: Param
    reliability: dict[str, Param]
    credibility: dict[str, Param]
    # Coders' house effects (docs/MODEL.md, "Coders"): the spread of the coders' offsets around the
    # obstacles' level, pooled over coders. None: these priors read a log of one coder only.
    house_effect: Param | None = None


@dataclass(frozen=True)
class Priors:
    factors: dict[str, Factor]
    outcomes: Outcomes
    observation: Observation
    directory: Path
    content: dict[str, Any] = field(repr=False)  # the parsed YAML, for hashing and storing

    @property
    def breaks(self) -> bool:
        """Whether these priors say what a logged break does (every factor's break_step and every
        deal type's break_shift: parsing allows all or none)."""
        return all(f.break_step is not None for f in self.factors.values())

    @property
    def hash(self) -> str:
        return hashlib.sha256(canonical_json(self.content).encode()).hexdigest()


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and ISO dates: the form every hash is taken over."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_iso)


def _iso(obj: Any) -> str:
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def default_priors_dir() -> Path:
    """The bundled defaults: `priors/` in a source checkout, `forecast/_priors` in a wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "priors", package / "_priors"):
        if (candidate / "factors.yaml").is_file():
            return candidate
    raise InputError("the bundled default priors are missing; pass --priors DIR")


def load_priors(directory: str | Path | None = None) -> Priors:
    directory = Path(directory) if directory is not None else default_priors_dir()
    if not directory.is_dir():
        raise InputError("priors folder not found", path=directory)
    return parse_priors({name: read_yaml(directory / name, PRIOR_FILES) for name in PRIOR_FILES}, directory)


def parse_priors(content: dict[str, Any], directory: str | Path) -> Priors:
    """Priors from parsed YAML content (file name -> mapping), e.g. the copy a run file stores.

    `directory` is where the content came from; errors point into its files where they exist.
    """
    directory = Path(directory)
    factors = _parse_factors(_Doc(directory / "factors.yaml", content["factors.yaml"]))
    outcomes = _parse_outcomes(_Doc(directory / "outcomes.yaml", content["outcomes.yaml"]), factors)
    observation = _parse_observation(_Doc(directory / "observation.yaml", content["observation.yaml"]))
    return Priors(factors, outcomes, observation, directory, content=content)


def write_priors(content: dict[str, Any], directory: str | Path) -> Priors:
    """Write a priors folder (the three files, as parsed YAML content) and load it back.

    Loading validates what was written, so a bad edit fails here, naming file and key. YAML
    comments are not kept: the rationale and source fields are where a prior's reasons live.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in PRIOR_FILES:
        text = yaml.dump(content[name], Dumper=NoAliasDumper, sort_keys=False, allow_unicode=True, width=100)
        (directory / name).write_text(text, encoding="utf-8")
    return load_priors(directory)


# --- reading -------------------------------------------------------------------------------


@dataclass
class _Doc:
    """A parsed YAML file and the means to point at a key in it."""

    path: Path
    data: dict[str, Any]

    def error(self, keypath: tuple, message: str) -> InputError:
        dotted = ".".join(str(k) for k in keypath)
        return InputError(f"key '{dotted}': {message}", path=self.path, line=_line_of(self.path, keypath))


def _line_of(path: Path, keypath: tuple) -> int | None:
    """1-based line of a key path in a YAML file, for error messages (None if not found)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    line = None
    for key in keypath:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if str(key_node.value) == str(key):
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line


def _check_keys(doc: _Doc, keypath: tuple, mapping: Any, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(mapping, dict):
        raise doc.error(keypath, f"expected a mapping with keys {sorted(required)}, got {type(mapping).__name__}")
    for key in mapping:
        if str(key) not in allowed:
            raise doc.error((*keypath, key), f"unknown key; {did_you_mean(str(key), allowed)}")
    for key in sorted(required):
        if key not in mapping:
            raise doc.error(keypath, f"missing required key '{key}'")
    return mapping


def _text(doc: _Doc, keypath: tuple, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise doc.error(keypath, "expected non-empty text")
    return value.strip()


# Every number in the priors lies within these magnitudes. The obstacles live on -3..+3 and the
# deals on the log-odds scale, so anything beyond is a typo, and it breaks the sampler: a noise
# of 1e-300 has no finite density, a scale of 1e300 overflows, an effect of 1e6 divides by zero.
SMALLEST, LARGEST = 1e-3, 1e3
# The Student-t's degrees of freedom are the exception: a huge nu is the Gaussian limit, which
# the exact checks use and which is harmless to the sampler.
NU_LARGEST = 1e9


LABEL_MAX = 80  # a label names a path or an obstacle in tables and charts; reasons go in 'rationale'


def _label(doc: _Doc, keypath: tuple, value: Any) -> str:
    text = _text(doc, keypath, value)
    if len(text) > LABEL_MAX:
        raise doc.error(keypath, f"a label of {len(text)} characters; a label is a name of at most {LABEL_MAX} "
                                 "(it heads tables and charts): put the explanation in 'rationale'")
    return text


def _number(doc: _Doc, keypath: tuple, value: Any, *, positive: bool) -> float:
    # Integers are compared as integers, never converted first: float() of one of 309 digits or
    # more overflows, and one of over 4,300 digits arrives as a LongInteger (priors_yaml.py).
    if isinstance(value, bool) or not isinstance(value, (int, float, LongInteger)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise doc.error(keypath, f"expected a finite number, got {_shown(value)}")
    if positive and (value.negative if isinstance(value, LongInteger) else value <= 0):
        raise doc.error(keypath, f"must be > 0, got {_shown_number(value)}")
    largest = NU_LARGEST if keypath and keypath[0] == "nu" else LARGEST
    if isinstance(value, LongInteger) or abs(value) > largest or (positive and value < SMALLEST):
        span = f"{SMALLEST:g} to {largest:g}" if positive else f"-{largest:g} to {largest:g}"
        raise doc.error(keypath, f"{_shown_number(value)} is outside {span}, the range the model's scales allow "
                                 f"(a positive parameter from {SMALLEST:g} to {largest:g}, any other within ±{largest:g})")
    return float(value)


def _shown_number(value: float | LongInteger) -> str:
    """A number as a message shows it: `1e+06`, or, for an integer too long to read at a glance
    (or to format as a float at all), its length."""
    if isinstance(value, int) and abs(value) >= 10**16:
        return repr(LongInteger(str(value)))
    return repr(value) if isinstance(value, LongInteger) else f"{value:g}"


def _shown(value: Any, width: int = 60) -> str:
    """A value as a message shows it: its repr, cut to `width` characters."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _param(doc: _Doc, keypath: tuple, entry: Any, *, positive: bool) -> Param:
    """One entry: {dist, kwargs, rationale, source} or {value, rationale, source}."""
    entry = _check_keys(doc, keypath, entry, _ENTRY_KEYS, {"rationale", "source"})
    rationale = _text(doc, (*keypath, "rationale"), entry["rationale"])
    source = _text(doc, (*keypath, "source"), entry["source"])
    if ("value" in entry) == ("dist" in entry):
        raise doc.error(keypath, "give either 'dist' with 'kwargs' (a distribution) or 'value' (a fixed number)")
    if "value" in entry:
        if "kwargs" in entry:
            raise doc.error((*keypath, "kwargs"), "'kwargs' goes with 'dist', not with 'value'")
        value = _number(doc, (*keypath, "value"), entry["value"], positive=positive)
        return Param(None, {}, value, rationale, source)

    dist = entry["dist"]
    if dist not in DISTRIBUTIONS:
        raise doc.error((*keypath, "dist"), f"unknown distribution '{dist}'; {did_you_mean(str(dist), DISTRIBUTIONS)}")
    spec = DISTRIBUTIONS[dist]
    kwargs = entry.get("kwargs")
    if kwargs is None:
        raise doc.error(keypath, f"'{dist}' needs 'kwargs' with {sorted(spec['params'])}")
    optional = spec.get("optional", set())
    _check_keys(doc, (*keypath, "kwargs"), kwargs, set(spec["params"]), set(spec["params"]) - optional)
    values = {
        name: _number(doc, (*keypath, "kwargs", name), kwargs[name], positive=spec["params"][name] == _POS)
        for name in kwargs
    }
    if "lower" in values and "upper" in values and not values["lower"] < values["upper"]:
        raise doc.error((*keypath, "kwargs"), f"lower ({values['lower']}) must be below upper ({values['upper']})")
    if positive:
        lower = values.get("lower", -math.inf)
        if spec["support"] == _REAL or (spec["support"] == "bounded" and lower < 0):
            raise doc.error(
                (*keypath, "dist"),
                f"this parameter must be positive, but {dist}{_fmt(values)} puts mass on values <= 0; "
                "use a positive distribution such as HalfNormal, LogNormal or Gamma",
            )
    return Param(dist, values, None, rationale, source)


def _fmt(values: dict[str, float]) -> str:
    return "(" + ", ".join(f"{k}={v:g}" for k, v in values.items()) + ")"


# --- the three files -----------------------------------------------------------------------


def _parse_factors(doc: _Doc) -> dict[str, Factor]:
    _check_keys(doc, (), doc.data, {"factors"}, {"factors"})
    entries = doc.data["factors"]
    if not isinstance(entries, dict) or not entries:
        raise doc.error(("factors",), "expected at least one factor")
    factors = {}
    for key, entry in entries.items():
        key = _identifier(doc, ("factors", key), key)
        entry = _check_keys(doc, ("factors", key), entry, {"label", "initial", "volatility", "jumps", "break_step"},
                            {"label", "initial", "volatility"})
        factors[key] = Factor(
            key=key,
            label=_label(doc, ("factors", key, "label"), entry["label"]),
            initial=_param(doc, ("factors", key, "initial"), entry["initial"], positive=False),
            volatility=_param(doc, ("factors", key, "volatility"), entry["volatility"], positive=True),
            jumps=_jumps(doc, ("factors", key, "jumps"), entry["jumps"]) if "jumps" in entry else NO_JUMPS,
            break_step=_param(doc, ("factors", key, "break_step"), entry["break_step"], positive=True) if "break_step" in entry else None,
        )
    _all_or_none(doc, "factors", {k: f.break_step for k, f in factors.items()}, "break_step")
    return factors


def _all_or_none(doc: _Doc, section: str, entries: dict[str, Param | None], name: str) -> None:
    """A break moves every obstacle and every deal rate: an entry for each, or for none."""
    given = [k for k, v in entries.items() if v is not None]
    if given and len(given) < len(entries):
        missing = next(k for k, v in entries.items() if v is None)
        raise doc.error((section, missing), f"'{name}' is given for {', '.join(given)} but not here: a logged break needs it "
                                            "for every one, or for none")


# Below nu = 1 (the Cauchy) a step has no mean, and the walk ahead scatters so widely that the
# forecast no longer depends on where the obstacles stand.
JUMPS_NU_MIN = 1.0


def _jumps(doc: _Doc, keypath: tuple, entry: Any) -> Jumps:
    """{nu, rationale, source}: the steps' degrees of freedom, a fixed number."""
    entry = _check_keys(doc, keypath, entry, {"nu", "rationale", "source"}, {"nu", "rationale", "source"})
    nu = _number(doc, (*keypath, "nu"), entry["nu"], positive=True)
    if nu < JUMPS_NU_MIN:
        raise doc.error((*keypath, "nu"), f"at least {JUMPS_NU_MIN:g} (the Cauchy), got {nu:g}")
    return Jumps(nu, _text(doc, (*keypath, "rationale"), entry["rationale"]), _text(doc, (*keypath, "source"), entry["source"]))


def _parse_outcomes(doc: _Doc, factors: dict[str, Factor]) -> Outcomes:
    top = {"start", "horizon_weeks", "forecast_weeks", "complement", "deals"}
    _check_keys(doc, (), doc.data, top | {"occasions"}, top)
    start_value = _setting(doc, ("start",), doc.data["start"])
    try:
        start = start_value if isinstance(start_value, dt.date) else dt.date.fromisoformat(str(start_value))
    except ValueError:
        raise doc.error(("start", "value"), f"expected an ISO date (YYYY-MM-DD), got {_shown(start_value)}") from None
    horizon = _weeks(doc, ("horizon_weeks",), _setting(doc, ("horizon_weeks",), doc.data["horizon_weeks"]))
    forecast_weeks = _weeks(doc, ("forecast_weeks",), _setting(doc, ("forecast_weeks",), doc.data["forecast_weeks"]))
    if horizon > forecast_weeks:
        raise doc.error(("horizon_weeks",), f"the headline horizon ({horizon}) exceeds forecast_weeks ({forecast_weeks})")

    fields = {"key", "label", "rationale", "source"}
    complement = _check_keys(doc, ("complement",), doc.data["complement"], fields, fields)
    complement_key = _identifier(doc, ("complement", "key"), complement["key"])

    deals_raw = doc.data["deals"]
    if not isinstance(deals_raw, dict) or not deals_raw:
        raise doc.error(("deals",), "expected at least one deal type")
    deals = {}
    for key, entry in deals_raw.items():
        key = _identifier(doc, ("deals", key), key)
        if key == complement_key:
            raise doc.error(("deals", key), "a deal type cannot share its key with the complement")
        entry = _check_keys(doc, ("deals", key), entry, {"label", "baseline", "effects", "break_shift"}, {"label", "baseline", "effects"})
        effects_raw = _check_keys(doc, ("deals", key, "effects"), entry["effects"], set(factors), set(factors))
        deals[key] = DealType(
            key=key,
            label=_label(doc, ("deals", key, "label"), entry["label"]),
            baseline=_param(doc, ("deals", key, "baseline"), entry["baseline"], positive=False),
            effects={
                f: _param(doc, ("deals", key, "effects", f), effects_raw[f], positive=False) for f in factors
            },
            break_shift=_param(doc, ("deals", key, "break_shift"), entry["break_shift"], positive=False)
            if "break_shift" in entry else None,
        )
    _all_or_none(doc, "deals", {k: d.break_shift for k, d in deals.items()}, "break_shift")
    if deals and (next(iter(deals.values())).break_shift is None) != (next(iter(factors.values())).break_step is None):
        raise doc.error(("deals",), "a logged break needs both every factor's 'break_step' (factors.yaml) and every deal "
                                    "type's 'break_shift' (outcomes.yaml), or neither")
    return Outcomes(
        start=start,
        horizon_weeks=horizon,
        forecast_weeks=forecast_weeks,
        complement_key=complement_key,
        complement_label=_label(doc, ("complement", "label"), complement["label"]),
        deals=deals,
        occasions=_parse_occasions(doc, deals),
    )


def _parse_occasions(doc: _Doc, deals: dict[str, DealType]) -> dict[str, Occasion]:
    """The optional `occasions` section: for each kind of scheduled date, its label and its effect
    on every deal type's weekly log-odds in the week it falls in."""
    raw = doc.data.get("occasions") or {}
    if not isinstance(raw, dict):
        raise doc.error(("occasions",), "expected a mapping of occasion types")
    out = {}
    for key, entry in raw.items():
        key = _identifier(doc, ("occasions", key), key)
        if key in deals:
            raise doc.error(("occasions", key), "an occasion type cannot share its key with a deal type")
        entry = _check_keys(doc, ("occasions", key), entry, {"label", "effects", "follows"}, {"label", "effects"})
        effects = _check_keys(doc, ("occasions", key, "effects"), entry["effects"], set(deals), set(deals))
        out[key] = Occasion(
            key=key,
            label=_text(doc, ("occasions", key, "label"), entry["label"]),
            effects={d: _param(doc, ("occasions", key, "effects", d), effects[d], positive=False) for d in deals},
            follows=_parse_follows(doc, ("occasions", key, "follows"), entry["follows"], deals) if "follows" in entry else None,
        )
    return out


def _parse_follows(doc: _Doc, keypath: tuple, entry: Any, deals: dict[str, DealType]) -> Follows:
    """`follows: {deal, weeks, rationale, source}`: the occasion is the weeks after a deal."""
    keys = {"deal", "weeks", "rationale", "source"}
    entry = _check_keys(doc, keypath, entry, keys, keys)
    if entry["deal"] not in deals:
        raise doc.error((*keypath, "deal"), f"'{entry['deal']}' is not a deal type; {did_you_mean(str(entry['deal']), deals)}")
    weeks = entry["weeks"]
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 52:
        raise doc.error((*keypath, "weeks"), f"expected a whole number of weeks from 1 to 52, got {_shown(weeks)}")
    _text(doc, (*keypath, "rationale"), entry["rationale"])
    _text(doc, (*keypath, "source"), entry["source"])
    return Follows(deal=entry["deal"], weeks=weeks)


def _parse_observation(doc: _Doc) -> Observation:
    top = {"noise", "nu", "reliability", "credibility"}
    _check_keys(doc, (), doc.data, top | {"house_effect"}, top)

    def grades(name: str, valid: tuple[str, ...]) -> dict[str, Param]:
        raw = doc.data[name]
        if isinstance(raw, dict):
            raw = {str(k): v for k, v in raw.items()}
        _check_keys(doc, (name,), raw, set(valid), set(valid))
        return {g: _param(doc, (name, g), raw[g], positive=True) for g in valid}

    return Observation(
        noise=_param(doc, ("noise",), doc.data["noise"], positive=True),
        nu=_param(doc, ("nu",), doc.data["nu"], positive=True),
        reliability=grades("reliability", RELIABILITY_GRADES),
        credibility=grades("credibility", CREDIBILITY_GRADES),
        house_effect=_param(doc, ("house_effect",), doc.data["house_effect"], positive=True) if "house_effect" in doc.data else None,
    )


def _setting(doc: _Doc, keypath: tuple, entry: Any) -> Any:
    """A setting is an entry too ({value, rationale, source}), so that it is justified."""
    entry = _check_keys(doc, keypath, entry, {"value", "rationale", "source"}, {"value", "rationale", "source"})
    _text(doc, (*keypath, "rationale"), entry["rationale"])
    _text(doc, (*keypath, "source"), entry["source"])
    return entry["value"]


def _weeks(doc: _Doc, keypath: tuple, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 520:
        raise doc.error((*keypath, "value"), f"expected a whole number of weeks from 1 to 520, got {_shown(value)}")
    return value


def _identifier(doc: _Doc, keypath: tuple, key: Any) -> str:
    if not isinstance(key, str) or not key.isidentifier():
        raise doc.error(keypath, "keys must be lower-case identifiers such as 'territorial_rigidity'")
    return key
