"""`forecast update`: validate, ingest, refit, store the run, write the brief. The steps, in order:

1. Load the priors and validate the whole events file against them and the ledger. Any problem
   raises `InputError` here, before anything is written.
2. Take the workspace lock (a second update waits), and validate again: another update may
   have landed while we waited.
3. Build the dataset at the as-of date. Reweight the last sampled run's draws by what is new
   (`inference/incremental.py`) if that is reliable; otherwise fit (`inference/fit.py`). Forecast.
4. Explain what moved since the previous run (`explain/what_moved.py`), refitting without the
   new events if reweighting cannot say.
5. Publish the run folder (posterior and explanation) atomically, then commit the new events
   and the run row in one SQLite transaction. A crash before that commit leaves the ledger as it
   was.
6. Write the brief (`brief/publish.py`), which only reads the stored run. It fails alone: the
   run stays committed.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from forecast.conventions import LEGACY_TARGET_ACCEPT
from forecast.errors import ForecastError, InputError
from forecast.inference.fit import FitSettings, fit_checked, forecast_from_posterior
from forecast.io.events import Event, EventFile, read_events
from forecast.io.ledger import RunRecord
from forecast.io.priors import Priors, load_priors
from forecast.io.version import code_version, library_versions
from forecast.io.workspace import Workspace
from forecast.model.dataset import ModelData, build_dataset, default_as_of
from forecast.pause_points import checkpoint
from forecast.timings import phase

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr


@dataclass
class UpdateResult:
    run: RunRecord
    previous: RunRecord | None
    new_events: list[Event]
    known_events: int
    warnings: list[str] = field(default_factory=list)
    refitted: bool = True
    report: Path | None = None  # the brief written by this update, if any
    report_error: ForecastError | None = None  # why the brief failed; the run is stored regardless


def validate(events_path: Path, workspace: Workspace, priors_dir: Path | None,
             as_of: dt.date | None = None) -> tuple[EventFile, Priors]:
    """`forecast validate`: every check `update` makes of the file, the workspace and the ledger,
    nothing written. (Whether the workspace can be written is checked when update takes the lock.)"""
    parsed, priors = _read(events_path, workspace, priors_dir)
    workspace.check_folder()
    workspace.check_ledger()  # runs beside a missing or empty ledger: update would refuse to start a history
    # The ledger's events too are read against these priors: one of a factor they lack (renamed in
    # new priors) is refused here, as update refuses it, not only once the fit is due.
    known = workspace.ledger.known_events()
    events = workspace.ledger.events() + [e for e in parsed.events if e.event_id not in known]
    build_dataset(events, priors, as_of or default_as_of(events))
    return parsed, priors


def _read(events_path: Path, workspace: Workspace, priors_dir: Path | None) -> tuple[EventFile, Priors]:
    priors = load_priors(priors_dir)
    return read_events(events_path, priors, workspace.ledger.known_events()), priors


def update(
    events_path: Path,
    workspace: Workspace,
    *,
    priors_dir: Path | None = None,
    as_of: dt.date | None = None,
    settings: FitSettings | None = None,
    progress: bool = True,
    report: bool = True,
    refit: bool = False,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True),
) -> UpdateResult:
    if as_of is not None and as_of > dt.date.today():
        raise InputError(f"--as-of {as_of} is in the future; the log can only be complete up to today")
    settings = settings or FitSettings()
    with phase("validate"):
        validate(events_path, workspace, priors_dir, as_of)  # fail on bad input before touching anything

    with workspace.locked(announce=log):
        with phase("read the log and the ledger"):
            parsed, priors = _read(events_path, workspace, priors_dir)  # again: an update may have landed while we waited
            known = workspace.ledger.known_events()
            new = [e for e in parsed.events if e.event_id not in known]
            log(f"{events_path}: {len(parsed.events)} event(s), {len(new)} new, {len(parsed.events) - len(new)} already in the ledger")
            events = workspace.ledger.events() + new
        with phase("dataset"):
            data = build_dataset(events, priors, as_of or default_as_of(events))
        previous = workspace.ledger.latest_run()
        version = code_version()  # two git calls: ask once per update, not per use

        ingest = dict(new_events=new, file=str(events_path), file_sha256=parsed.sha256,
                      known_count=len(parsed.events) - len(new))
        if previous is not None and _same_inputs(previous, data, priors, settings, version):
            # The data the model sees are unchanged: no refit and no new run. Rows that are new
            # but reported after --as-of are still recorded.
            if new:
                workspace.ledger.commit_update(**ingest, run=None)
            log(f"nothing new for the model since run {previous.run_id}; not refitting")
            result = UpdateResult(previous, previous, new, len(known), parsed.warnings, refitted=False)
            if report and previous.report is None:  # e.g. its brief failed or was skipped: write it now
                _brief(workspace, previous, result, log)
            return result

        with phase("reweight the last run"):
            incremental = None if refit else _try_incremental(workspace, data, priors, settings, version, events, log)
        if incremental is not None:
            trace, diagnostics, table = incremental
        else:
            log(f"fitting {data.counts['signals']} signals and {data.counts['outcomes']} outcomes over {data.n_weeks} weeks "
                f"(as of {data.as_of}; {settings.chains} chains x {settings.draws} draws)")
            trace, diagnostics, table, used = fit_checked(data, priors, settings, progress=progress, log=log)
        diagnostics.setdefault("target_accept", settings.target_accept)
        diagnostics["libraries"] = library_versions()
        run = store_run(workspace, data, priors, used if incremental is None else settings, trace, diagnostics, table,
                        ingest=ingest, version=version, events=events, previous=previous, log=log)
        result = UpdateResult(run, previous, new, len(known), parsed.warnings)
        # The run is committed before the brief: a brief that fails costs the brief, not the fit.
        if report:
            _brief(workspace, run, result, log)
    return result


def _brief(workspace: Workspace, run: RunRecord, result: UpdateResult, log: Callable[[str], None]) -> None:
    from forecast.brief.publish import write_report

    log("writing the brief")
    try:
        with phase("brief"):
            result.report = write_report(workspace, run)
    except ForecastError as exc:
        result.report_error = exc


def store_run(
    workspace: Workspace,
    data: ModelData,
    priors: Priors,
    settings: FitSettings,
    trace: xr.DataTree,
    diagnostics: dict,
    table: pd.DataFrame,
    *,
    ingest: dict,
    version: str,
    events: list[Event],
    previous: RunRecord | None,
    log: Callable[[str], None],
) -> RunRecord:
    """Store a run: explain what moved since `previous`, publish the run folder (posterior and
    explanation), then commit its ledger row with the events in `ingest`. `events` is the
    ledger as this run sees it."""
    with phase("imports"):
        from forecast.explain.contested import FILE as CONTESTED
        from forecast.explain.contested import headline_without_contested, write_contested
        from forecast.explain.what_moved import FILE as WHAT_MOVED
        from forecast.explain.what_moved import explain_run, write_what_moved
        from forecast.forecasting.incidence import factor_summary, headline
        from forecast.io.runfiles import PROVENANCE, write_posterior

    posterior = trace.posterior.to_dataset()

    run_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    record = RunRecord(
        run_id=run_id,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        as_of=data.as_of,
        data_hash=data.data_hash,
        priors_hash=priors.hash,
        priors_dir=str(priors.directory),
        code_version=version,
        seed=settings.seed,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        status="ok" if diagnostics["passed"] else "flagged",
        diagnostics=diagnostics,
        headline=headline(table, priors.outcomes.horizon_weeks, priors.outcomes.labels),
        factors=factor_summary(posterior, {k: f.label for k, f in priors.factors.items()}),
        counts=data.counts,
        horizon_weeks=priors.outcomes.horizon_weeks,
        posterior=f"runs/{run_id}/posterior.nc",
        report=None,
    )
    before = workspace.ledger.events(previous.last_event_seq) if previous is not None else []
    with phase("what moved"):
        explanation = explain_run(record, previous, posterior, priors, data, events, before, log=log)
    with phase("contested deals"):
        contested = headline_without_contested(posterior, priors, data, events, settings, settings.seed)
    if contested is not None:
        log(f"contested deals ({', '.join(contested.events)}): the headline without them {contested.method}")
    provenance = {key: getattr(record, key) for key in PROVENANCE}

    def write(folder: Path) -> None:
        write_posterior(folder / "posterior.nc", trace, table, provenance, priors.content)
        write_what_moved(folder / WHAT_MOVED, explanation)
        if contested is not None:
            write_contested(folder / CONTESTED, contested)

    with phase("store the run"):
        workspace.publish_run_files(run_id, write)
    checkpoint("store")
    try:
        workspace.ledger.commit_update(**ingest, run=record)
    except BaseException:
        workspace.discard_uncommitted(run_id)  # the ledger is as it was: so is runs/
        raise
    workspace.mark_committed(run_id)
    return record


def _try_incremental(
    workspace: Workspace,
    data: ModelData,
    priors: Priors,
    settings: FitSettings,
    version: str,
    events: list[Event],
    log: Callable[[str], None],
) -> tuple[xr.DataTree, dict, pd.DataFrame] | None:
    """(trace, diagnostics, table) from reweighting the last sampled run, or None to refit."""
    base = next((r for r in reversed(workspace.ledger.runs()) if r.diagnostics.get("method", "sampled") == "sampled"), None)
    if base is None:
        return None
    if base.status != "ok":
        log(f"refitting: the last sampled run ({base.run_id}) failed its diagnostics, so its draws cannot be reweighted")
        return None
    if (base.priors_hash, base.code_version, *requested_settings(base)) != (priors.hash, version, *_settings_key(settings)):
        log(f"refitting: the last sampled run ({base.run_id}) used other priors, code or sampler settings")
        return None
    # Imported only now: a first update has no base run, and these cost half a second.
    import xarray as xr

    from forecast.conventions import ESS_PER_CHAIN_MIN
    from forecast.inference.diagnostics import reweighted_diagnostics
    from forecast.inference.importance import pareto_k_limit
    from forecast.inference.incremental import Declined, reweight
    from forecast.io.runfiles import load_posterior

    started = time.perf_counter()
    try:
        tree = load_posterior(workspace.root / base.posterior, base)
    except ForecastError as exc:  # damaged, truncated, replaced or gone: its draws cannot be reused
        log(f"refitting: the posterior file of run {base.run_id} cannot be read, so its draws cannot be reweighted "
            f"({exc}); this update samples afresh")
        return None
    result = reweight(tree.posterior.to_dataset(), data, workspace.ledger.events(base.last_event_seq), base.as_of, events,
                      seed=settings.seed)
    if isinstance(result, Declined):
        log(f"refitting: {result.reason}")
        return None
    diagnostics = reweighted_diagnostics(base, result.pareto_k, result.ess, time.perf_counter() - started,
                                         pareto_k_limit(base.chains * base.draws))
    if not diagnostics["passed"]:  # the base run passed: a refit can, where these draws cannot
        log(f"refitting: reweighting run {base.run_id}'s draws leaves {diagnostics['ess_bulk_min']:.0f} effective draws "
            f"(bulk; tail {diagnostics['ess_tail_min']:.0f}), under the limit of {ESS_PER_CHAIN_MIN * base.chains}")
        return None
    log(f"reweighted run {base.run_id}'s draws by the new events (Pareto k {result.pareto_k:.2f}, "
        f"{diagnostics['ess_bulk_min']:.0f} effective draws); --refit samples afresh")
    table = forecast_from_posterior(result.posterior, priors, settings.seed, data.occasions_ahead)
    return xr.DataTree.from_dict({"posterior": result.posterior}), diagnostics, table


def _same_inputs(previous: RunRecord, data: ModelData, priors: Priors, settings: FitSettings, version: str) -> bool:
    return (
        previous.data_hash == data.data_hash
        and previous.priors_hash == priors.hash
        and previous.code_version == version
        and requested_settings(previous) == _settings_key(settings)
    )


def requested_settings(run: RunRecord) -> tuple[int, int, int, int, float]:
    """(seed, draws, tune, chains, target acceptance) that the user asked of `run`: a run that
    was retried with safer settings stores those, and what was asked in its diagnostics."""
    asked = run.diagnostics.get("retry", {}).get("requested", {})
    target = asked.get("target_accept", run.diagnostics.get("target_accept", LEGACY_TARGET_ACCEPT))
    return run.seed, asked.get("draws", run.draws), asked.get("tune", run.tune), run.chains, target


def _settings_key(settings: FitSettings) -> tuple[int, int, int, int, float]:
    return settings.seed, settings.draws, settings.tune, settings.chains, settings.target_accept
