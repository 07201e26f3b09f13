"""The files of one run: `posterior.nc` (ArviZ DataTree, netCDF) with its provenance.

The posterior file carries the run id and the data, priors and code hashes as attributes, and
a `forecast` group with the cumulative incidence summary, so a brief can be re-rendered from
the file alone. Loading refuses a file whose hashes do not match its ledger row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import xarray as xr

from .conventions import HORIZON, OUTCOME
from .errors import ForecastError
from .ledger import RunRecord

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
        "priors_json": json.dumps(priors_content, sort_keys=True, default=str, ensure_ascii=False),
    }
    for node in tree.subtree:
        # netCDF attributes cannot hold Python lists; ArviZ puts `sample_dims` there.
        node.attrs = {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in node.attrs.items()}
    tree.to_netcdf(path, engine="h5netcdf")


def load_posterior(path: Path, run: RunRecord) -> xr.DataTree:
    """Open a run's posterior, refusing it if its provenance does not match the ledger."""
    if not path.is_file():
        raise ForecastError(f"{path}: the posterior file of run {run.run_id} is missing")
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        tree = tree.load()
    expected = {"run_id": run.run_id, "data_hash": run.data_hash, "priors_hash": run.priors_hash, "seed": str(run.seed)}
    for key, value in expected.items():
        if tree.attrs.get(key) != value:
            raise ForecastError(
                f"{path}: {key} is {tree.attrs.get(key)!r} but the ledger says {value!r} for run {run.run_id}; "
                "the file was replaced or corrupted, refusing to use it"
            )
    return tree
