"""The files of one run: `posterior.nc` (ArviZ DataTree, netCDF) with its provenance.

The posterior file carries the run id and the data, priors and code hashes as attributes, and
a `forecast` group with the forecast table by horizon and outcome (the first deal's chance `p`,
`lo`, `hi`, and the at-least-once chance `happens_by`, `happens_by_lo`, `happens_by_hi`), so a
brief can be re-rendered, and a crowd compared, from the file alone. Loading refuses a file whose hashes do not match its ledger row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import xarray as xr

from forecast.conventions import HORIZON, OUTCOME
from forecast.errors import ForecastError
from forecast.io.ledger import RunRecord
from forecast.io.priors import Priors, parse_priors

# The run attributes every posterior file carries (and that loading checks against the ledger).
PROVENANCE = ("run_id", "as_of", "data_hash", "priors_hash", "code_version", "seed")


def forecast_dataset(table: pd.DataFrame) -> xr.Dataset:
    """The long forecast table (horizon, outcome, p, lo, hi) as a Dataset over (horizon, outcome)."""
    return table.set_index([HORIZON, OUTCOME]).to_xarray()


def write_posterior(path: Path, trace: xr.DataTree, forecast: pd.DataFrame, provenance: dict, priors_content: dict) -> None:
    tree = trace.copy()
    tree["forecast"] = xr.DataTree(forecast_dataset(forecast))
    tree.attrs = {
        **{k: str(v) for k, v in provenance.items()},
        # In file order, not sorted: the order of factors and deal types is the order of every table.
        "priors_json": json.dumps(priors_content, default=str, ensure_ascii=False),
    }
    for node in tree.subtree:
        # netCDF attributes cannot hold Python lists; ArviZ puts `sample_dims` there.
        node.attrs = {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in node.attrs.items()}
    # Built in memory, then written by Python: HDF5 writing straight to a full disk reports the
    # error and then crashes the process when it closes the file.
    content = tree.to_netcdf(None, engine="h5netcdf")
    with open(path, "wb") as handle:
        handle.write(content)


def load_posterior(path: Path, run: RunRecord) -> xr.DataTree:
    """Open a run's posterior, refusing it if its provenance does not match the ledger."""
    if not path.is_file():
        raise ForecastError(f"{path}: the posterior file of run {run.run_id} is missing")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            tree = tree.load()
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:  # h5py and h5netcdf on a damaged file
        raise PosteriorUnreadable(f"{path}: the posterior file of run {run.run_id} cannot be read ({_first_line(exc)}): it is "
                                  "truncated or damaged") from None
    expected = {"run_id": run.run_id, "data_hash": run.data_hash, "priors_hash": run.priors_hash, "seed": str(run.seed)}
    for key, value in expected.items():
        if tree.attrs.get(key) != value:
            raise ForecastError(
                f"{path}: {key} is {tree.attrs.get(key)!r} but the ledger says {value!r} for run {run.run_id}; "
                "the file was replaced or corrupted, refusing to use it"
            )
    return tree


class PosteriorUnreadable(ForecastError):
    """A run's posterior file exists but cannot be read back."""


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


def stored_priors(tree: xr.DataTree, run: RunRecord) -> Priors:
    """The priors a run was fitted with, from the copy in its posterior file (the folder may have
    changed since), checked against the run's priors hash."""
    priors = parse_priors(json.loads(tree.attrs["priors_json"]), run.priors_dir)
    if priors.hash != run.priors_hash:
        raise ForecastError(f"run {run.run_id}: the priors stored in its posterior file hash to {priors.hash[:12]}, "
                            f"not {run.priors_hash[:12]} as the ledger says; refusing to use them")
    return priors


def stored_forecast(tree: xr.DataTree, outcome_keys: list[str]) -> pd.DataFrame:
    """The forecast table a run stored (horizon, outcome, p, lo, hi, and happens_by, _lo, _hi if
    the run kept them), outcomes in `outcome_keys` order (netCDF keeps coordinates sorted, not in
    the priors' order)."""
    table = tree["forecast"].to_dataset().to_dataframe().reset_index()
    rank = {key: i for i, key in enumerate(outcome_keys)}
    return (table.assign(_rank=table[OUTCOME].map(rank)).sort_values([HORIZON, "_rank"])
            .drop(columns="_rank").reset_index(drop=True))
