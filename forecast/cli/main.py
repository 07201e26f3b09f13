"""The `forecast` command line. Exit codes: 0 ok, 2 bad input, 3 diagnostics failed, 1 otherwise."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from forecast.conventions import DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TUNE, TARGET_ACCEPT
from forecast.errors import ForecastError, InferenceFailed, InputError, printable
from forecast.timings import write_if_asked as write_timings_if_asked

if TYPE_CHECKING:
    from collections.abc import Callable

    from forecast.inference.fit import FitSettings
    from forecast.io.events import Event
    from forecast.io.ledger import RunRecord
    from forecast.io.workspace import Workspace


def main(argv: list[str] | None = None) -> int:
    started = time.time()
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except ForecastError as exc:
        _print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _print("interrupted; the workspace is as it was before this command", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (forecast status | head): nothing more to say, and nothing to say it to.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python flushes stdout at exit; it must not raise again)
        return 0
    finally:
        write_timings_if_asked(started)


def _print(text: object, *, file: TextIO | None = None, flush: bool = False, json: bool = False) -> None:
    """print(), with what the input put into the text shown rather than obeyed by the terminal."""
    print(printable(str(text), json=json), file=file, flush=flush)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forecast", description="Bayesian forecaster for the Russia-Ukraine ceasefire negotiations.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cluster_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="local workers fitting at once (default: one per core; 1: in this process); the scores do not "
                            "depend on it")
        p.add_argument("--cluster", metavar="tcp://HOST:8786",
                       help="run on this dask scheduler's workers instead (default: $FORECAST_CLUSTER, else local workers)")

    def fit_options(p: argparse.ArgumentParser, priors: bool = True) -> None:
        if priors:
            p.add_argument("--priors", type=Path, metavar="DIR", help="priors folder (default: the bundled priors)")
        p.add_argument("--draws", type=int, default=DEFAULT_DRAWS, help=f"posterior draws per chain (default {DEFAULT_DRAWS})")
        p.add_argument("--tune", type=int, default=DEFAULT_TUNE, help=f"tuning steps per chain (default {DEFAULT_TUNE})")
        p.add_argument("--chains", type=int, default=DEFAULT_CHAINS, help=f"chains (default {DEFAULT_CHAINS})")
        p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
        p.add_argument("--target-accept", type=float, default=TARGET_ACCEPT, metavar="P",
                       help=f"NUTS's target acceptance, below 1; higher means smaller steps (default {TARGET_ACCEPT})")

    def workspace_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--workspace", metavar="DIR", help="workspace folder (default: $FORECAST_WORKSPACE, else the current folder)")

    def wait_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wait", type=_seconds, metavar="SECONDS",
                       help="while another command holds the workspace, wait at most this long "
                            "(default: $FORECAST_LOCK_TIMEOUT, else without limit)")

    p = commands.add_parser("update", help="validate, ingest, refit, store the run, print the headline")
    p.add_argument("events", type=Path, metavar="EVENTS.csv")
    p.add_argument("--as-of", type=_date, metavar="YYYY-MM-DD",
                   help="take the log as complete up to this date (default: the latest 'reported' date)")
    fit_options(p)
    p.add_argument("--refit", action="store_true", help="sample afresh even when reweighting the last run's draws would do")
    p.add_argument("--no-report", action="store_true", help="do not write the PDF brief (write it later with 'forecast report')")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    workspace_option(p)
    wait_option(p)
    p.set_defaults(handler=_update)

    p = commands.add_parser("validate", help="check an events file as update would; write nothing")
    p.add_argument("events", type=Path, metavar="EVENTS.csv")
    p.add_argument("--priors", type=Path, metavar="DIR", help="priors folder (default: the bundled priors)")
    workspace_option(p)
    p.set_defaults(handler=_validate)

    p = commands.add_parser("report", help="(re)write the PDF brief of a stored run")
    p.add_argument("--run", metavar="ID", help="the run (default: the latest); see 'forecast status --json' or the briefs' stamps")
    p.add_argument("--out", type=Path, metavar="PATH", help="write the PDF here instead of WORKSPACE/reports/ (the ledger is not changed)")
    workspace_option(p)
    wait_option(p)
    p.set_defaults(handler=_report)

    p = commands.add_parser("explain", help="compute and store what moved for a run stored without it")
    p.add_argument("--run", metavar="ID", help="the run (default: the latest)")
    workspace_option(p)
    wait_option(p)
    p.set_defaults(handler=_explain)

    p = commands.add_parser("backtest", help="replay the ledger as known at past dates, refit, and score the forecasts")
    p.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD",
                   help="first origin (default: 4 weeks after the first week with data)")
    p.add_argument("--every", type=_weeks, default=2, metavar="Nw", help="weeks between origins, e.g. 2w (default 2w)")
    p.add_argument("--horizon", type=int, metavar="H", help="weeks ahead to score (default: the priors' headline horizon)")
    cluster_options(p)
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    fit_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    workspace_option(p)
    wait_option(p)
    p.set_defaults(handler=_backtest)

    p = commands.add_parser("sweep", help="backtest several priors side by side, each paired with the first origin by origin")
    p.add_argument("--priors", dest="sweep_priors", type=Path, action="append", metavar="DIR",
                   help="a priors folder; give it twice or more, the first is the reference (default: the defaults)")
    p.add_argument("--grid", metavar="FILE.KEY...=V1,V2",
                   help="variants of one priors folder over one entry, e.g. outcomes.deals.local_ceasefire.baseline.mu=-2.5,-1.9")
    p.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD",
                   help="first origin (default: 4 weeks after the first week with data)")
    p.add_argument("--every", type=_weeks, default=4, metavar="Nw", help="weeks between origins (default 4w)")
    p.add_argument("--horizon", type=_horizons, metavar="H[,H...]", help="weeks ahead to score (default: the priors' headline horizon)")
    cluster_options(p)
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    fit_options(p, priors=False)
    workspace_option(p)
    wait_option(p)
    p.set_defaults(handler=_sweep)

    p = commands.add_parser("agreement", help="how far two codings agree (alpha, the largest differences, each one's forecast)")
    p.add_argument("codings", type=Path, nargs="+", metavar="CODING.csv",
                   help="two events files, or one whose `coder` column names two coders or more")
    p.add_argument("--priors", type=Path, metavar="DIR", help="priors folder for the forecasts (default: the bundled priors)")
    p.add_argument("--window", type=int, default=7, metavar="DAYS", help="days apart two rows may be and still match (default 7)")
    p.add_argument("--as-of", type=_dates, metavar="YYYY-MM-DD[,...]",
                   help="dates to forecast each coding at (default: the latest date both cover); --as-of none skips the fits")
    p.add_argument("--rows", type=int, default=10, help="largest differences to list (default 10)")
    cluster_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_agreement)

    p = commands.add_parser("warm", help="compile the sampler's kernels (or load them from the cache): once per machine")
    p.set_defaults(handler=_warm)

    p = commands.add_parser("compare", help="external forecasts (a crowd, a market) beside the model's, scored the same way")
    p.add_argument("crowd", type=Path, metavar="CROWD.csv",
                   help="columns: date, probability, deadline, match, [resolved, question, source]")
    p.add_argument("--include-loose", action="store_true",
                   help="score loose rows too (a ~ before the match, or a question that resolved against the ledger)")
    p.add_argument("--out", type=Path, metavar="PATH", help="the chart (default: WORKSPACE/reports/compare-<file name>.pdf)")
    workspace_option(p)
    p.set_defaults(handler=_compare)

    p = commands.add_parser("status", help="the latest run's headline")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    workspace_option(p)
    p.set_defaults(handler=_status)

    priors = commands.add_parser("priors", help="work with priors folders").add_subparsers(
        dest="priors_command", required=True, metavar="SUBCOMMAND")
    p = priors.add_parser("check", help="validate a priors folder and show its prior predictive (table and a one-page PDF)")
    p.add_argument("--priors", type=Path, metavar="DIR", help="priors folder (default: the bundled priors)")
    p.add_argument("--out", type=Path, metavar="PATH",
                   help="where to write the PDF (default: WORKSPACE/reports/prior-predictive-<hash>.pdf)")
    p.add_argument("--draws", type=int, default=4000, help="prior draws (default 4000)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    workspace_option(p)
    p.set_defaults(handler=_priors_check)
    p = priors.add_parser("learn", help="a stored run's posterior as a priors folder (each entry widened; docs/MODEL.md)")
    p.add_argument("--run", metavar="ID", help="the run to learn from (default: the latest)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the new priors folder (must not exist yet)")
    p.add_argument("--widen", type=float, default=2.0,
                   help="multiply every learned sd by this (a power prior keeping 1/widen^2 of the run's evidence; default 2)")
    workspace_option(p)
    p.set_defaults(handler=_priors_learn)
    return parser


def _update(args: argparse.Namespace) -> int:
    from forecast.timings import phase

    with phase("imports"):
        from forecast.cli.terminal import run_summary
        from forecast.inference.fit import FitSettings
        from forecast.io.workspace import Workspace, resolve_workspace
        from forecast.updating.pipeline import update

    log = (lambda message: None) if args.quiet else (lambda message: _print(message, file=sys.stderr, flush=True))
    settings = FitSettings(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed, target_accept=args.target_accept)
    result = update(args.events, Workspace(resolve_workspace(args.workspace), lock_timeout=args.wait), priors_dir=args.priors,
                    as_of=args.as_of, settings=settings, progress=not args.quiet, log=log, report=not args.no_report,
                    refit=args.refit)
    for warning in result.warnings:
        _print(f"warning: {warning}", file=sys.stderr)
    with phase("summary"):
        _print(run_summary(result.run, result.previous if result.refitted else _previous_of(args, result.run)))
    if result.report is not None:
        _print(f"\nBrief: {result.report}")
    if result.report_error is not None:
        if result.run.status != "ok":
            _print(f"warning: run {result.run.run_id} is also flagged: its diagnostics failed", file=sys.stderr)
        raise result.report_error
    if result.run.status != "ok":
        raise InferenceFailed(f"run {result.run.run_id} is stored but flagged: its diagnostics failed")
    return 0


def _previous_of(args: argparse.Namespace, run: RunRecord) -> RunRecord | None:
    from forecast.io.workspace import Workspace, resolve_workspace

    runs = Workspace(resolve_workspace(args.workspace)).ledger.runs()
    index = [r.run_id for r in runs].index(run.run_id)
    return runs[index - 1] if index > 0 else None


def _chosen_run(option: str | None, runs: list[RunRecord]) -> RunRecord:
    """The run named by --run (an id or a unique prefix), else the latest."""
    if option is None:
        return runs[-1]
    matches = [r for r in runs if r.run_id == option] or [r for r in runs if r.run_id.startswith(option)]
    if len(matches) != 1:
        from forecast.errors import InputError, did_you_mean

        what = "is ambiguous" if matches else "is not a run in this workspace"
        raise InputError(f"--run {option} {what}; {did_you_mean(option, [r.run_id for r in runs])}")
    return matches[0]


def _explain(args: argparse.Namespace) -> int:
    from forecast.updating.explain_stored import explain_stored_run

    workspace, runs = _workspace_with_runs(args.workspace, args.wait)
    run = _chosen_run(args.run, runs)
    log = lambda message: _print(message, file=sys.stderr, flush=True)
    with workspace.locked(announce=log):
        explanation = explain_stored_run(workspace, run, log)
    what = ("a first run: nothing to compare with" if explanation is None
            else getattr(explanation, "reason", None) or f"split computed ({explanation.method})")
    _print(f"run {run.run_id}: what moved stored ({what}); 'forecast report --run {run.run_id}' re-renders its brief")
    return 0


def _report(args: argparse.Namespace) -> int:
    from forecast.brief.publish import write_report

    workspace, runs = _workspace_with_runs(args.workspace, args.wait)
    if args.out is not None:
        _check_out(args.out)
        path = write_report(workspace, _chosen_run(args.run, runs), out=args.out)
    else:
        with workspace.locked():
            # Chosen under the lock: an update that held it may have added the run to render.
            path = write_report(workspace, _chosen_run(args.run, workspace.ledger.runs()))
    _print(path)
    return 0


def resolve_workspace_or_fail(option: str | None) -> Path:
    from forecast.io.workspace import resolve_workspace

    root = resolve_workspace(option)
    if not root.is_dir():
        raise ForecastError(f"{root}: no such workspace folder, so no runs yet; run 'forecast update EVENTS.csv' first")
    return root


def _workspace_with_runs(option: str | None, wait: float | None = None) -> tuple[Workspace, list[RunRecord]]:
    """The workspace and its runs, oldest first; an error if there are none."""
    from forecast.io.workspace import Workspace

    workspace = Workspace(resolve_workspace_or_fail(option), lock_timeout=wait)
    workspace.check_ledger()
    runs = workspace.ledger.runs()
    if not runs:
        raise ForecastError(f"{workspace.root}: no runs yet; run 'forecast update EVENTS.csv' first")
    return workspace, runs


def _backtest(args: argparse.Namespace) -> int:
    import datetime as dt

    from forecast.evaluation.backtest import BacktestSettings, run_backtest, table_text
    from forecast.io.priors import load_priors
    from forecast.io.workspace import write_atomically

    workspace, events, log, fit = _many_fits(args)
    settings = BacktestSettings(start=args.start, every_weeks=args.every, horizon=args.horizon, jobs=_jobs(args),
                                cluster=args.cluster)
    result = run_backtest(events, load_priors(args.priors), settings, fit, log=log)
    result["created_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = json.dumps(result, indent=2, ensure_ascii=False)
    with workspace.locked(announce=log):
        dated = workspace.latest_backtest.with_name(f"backtest-{result['created_at'][:19].replace(':', '')}.json")
        for path in (dated, workspace.latest_backtest):
            write_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    if args.json:
        _print(text, json=True)
    else:
        _print(table_text(result) + f"\n\nSaved: {dated}")
    return 0


def _many_fits(args: argparse.Namespace) -> tuple[Workspace, list[Event], Callable[[str], None], FitSettings]:
    """What a backtest or a sweep starts from: the workspace (checked writable before hours of
    fits, not after them), its ledger's events, the progress log and the fit settings."""
    from forecast.inference.fit import FitSettings
    from forecast.io.workspace import Workspace

    workspace = Workspace(resolve_workspace_or_fail(args.workspace), lock_timeout=args.wait)
    workspace.check_ledger()
    workspace.check_writable()
    events = workspace.ledger.events()
    if not events:
        raise ForecastError(f"{workspace.root}: the ledger has no events; run 'forecast update EVENTS.csv' first")
    log = (lambda message: None) if args.quiet else (lambda message: _print(message, file=sys.stderr, flush=True))
    fit = FitSettings(draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed, target_accept=args.target_accept)
    return workspace, events, log, fit


def _jobs(args: argparse.Namespace) -> int:
    from forecast.evaluation.engine import default_jobs

    return default_jobs() if args.jobs is None else args.jobs


def _sweep(args: argparse.Namespace) -> int:
    import datetime as dt

    from forecast.evaluation.backtest import BacktestSettings
    from forecast.evaluation.engine import Engine
    from forecast.evaluation.sweep import Variant, grid_variants, run_sweep, table_text
    from forecast.io.priors import load_priors
    from forecast.io.workspace import write_atomically

    folders = args.sweep_priors or [None]
    if args.grid and len(folders) > 1:
        raise InputError("give either several --priors or one --priors with a --grid, not both")
    if args.grid:
        variants = grid_variants(load_priors(folders[0]), args.grid)
    else:
        loaded = [load_priors(folder) for folder in folders]
        variants = [Variant(str(folder) if folder is not None else "priors", priors) for folder, priors in zip(folders, loaded)]
    workspace, events, log, fit = _many_fits(args)
    settings = BacktestSettings(start=args.start, every_weeks=args.every, jobs=_jobs(args), cluster=args.cluster)
    horizons = args.horizon or [variants[0].priors.outcomes.horizon_weeks]
    with Engine(jobs=settings.jobs, cluster=settings.cluster, log=log) as engine:
        result = run_sweep(events, variants, settings, fit, horizons, engine=engine, log=log)
    result["created_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = json.dumps(result, indent=2, ensure_ascii=False)
    with workspace.locked(announce=log):
        path = workspace.latest_backtest.with_name(f"sweep-{result['created_at'][:19].replace(':', '')}.json")
        write_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    if args.json:
        _print(text, json=True)
    else:
        _print(table_text(result) + f"\n\nSaved: {path}")
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from forecast.evaluation.agreement import (
        POOLED,
        ForecastTask,
        agreement,
        forecast_coding,
        over_span,
        split_by_coder,
        table_text,
        to_dict,
    )
    from forecast.evaluation.engine import Engine
    from forecast.evaluation.pooling import pool_codings
    from forecast.inference.fit import FitSettings
    from forecast.io.events import read_events
    from forecast.io.priors import load_priors

    priors = load_priors(args.priors)
    if len(args.codings) == 2:
        if args.codings[0].stem == args.codings[1].stem:
            raise InputError(f"the two codings need different file names to tell them apart, got {args.codings[0].name} twice")
        codings = {path.stem: read_events(path, priors).events for path in args.codings}
        pooled = pool_codings(*codings.values(), names=tuple(codings))
    elif len(args.codings) == 1:
        pooled = read_events(args.codings[0], priors).events
        codings = split_by_coder(pooled)
        if len(codings) < 2:
            raise InputError(f"{args.codings[0]}: its rows name one coder; give two files, or a file whose 'coder' column "
                             "names two coders or more")
        codings = {f"coder {name or '(default)'}": events for name, events in list(codings.items())[:2]}
    else:
        raise InputError("give two events files, or one with a 'coder' column")
    if args.window < 0:
        raise InputError(f"--window must be 0 days or more, got {args.window}")
    names = tuple(codings)
    result = agreement(*codings.values(), names=names, factors=list(priors.factors), window=args.window)
    dates = ([result.span[1]] if result.span and result.span[0] <= result.span[1] else []) if args.as_of is None else args.as_of
    if result.span is None or result.span[0] > result.span[1]:
        raise InputError("the two codings cover no dates in common: there is nothing to compare")
    for as_of in dates:
        if not result.span[0] <= as_of <= result.span[1]:
            raise InputError(f"--as-of {as_of} is outside the dates both codings cover ({result.span[0]} to {result.span[1]})")
    fitted = {name: over_span(events, priors, result.span) for name, events in {**codings, POOLED: pooled}.items()}
    tasks = [ForecastTask(name, tuple(events), cut_priors, as_of, FitSettings(cores=1))
             for as_of in dates for name, (events, cut_priors) in fitted.items()]
    log = lambda message: None
    if tasks:
        with Engine(jobs=_jobs(args), cluster=args.cluster, log=log) as engine:
            forecasts = list(engine.map(forecast_coding, tasks))
    else:
        forecasts = []
    if args.json:
        _print(json.dumps(to_dict(result, forecasts), indent=2, ensure_ascii=False), json=True)
    else:
        _print(table_text(result, forecasts, priors.outcomes.labels, {k: f.label for k, f in priors.factors.items()}, args.rows))
    return 0


def _dates(text: str) -> list[dt.date]:
    if text.strip().lower() == "none":
        return []
    return [_date(part.strip()) for part in text.split(",")]


def _warm(args: argparse.Namespace) -> int:
    from forecast.evaluation.worker_setup import warm

    seconds = warm()
    _print(f"the sampler's kernels are compiled and cached ({seconds:.1f} s)")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from forecast.evaluation.compare import compare, read_crowd, table_text, write_chart

    if args.out is not None:
        _check_out(args.out)
    workspace, runs = _workspace_with_runs(args.workspace)
    out = args.out
    if out is None:  # checked too: a read-only workspace is said before the comparison, not after it
        out = workspace.reports_dir / f"compare-{args.crowd.stem}.pdf"
        _check_out(out)
    compared = compare(workspace, read_crowd(args.crowd, list(runs[-1].headline), runs_from=min(r.as_of for r in runs)))
    _print(table_text(compared, args.include_loose))
    _print(f"\nChart: {write_chart(compared, out, args.include_loose)}")
    return 0


def _check_out(path: Path) -> None:
    """Refuse a bad output before any work: a device, a pipe, a folder, a name that cannot be, a
    folder that cannot be written."""
    from forecast.io.workspace import check_output_writable

    check_output_writable(path)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds (0 or more), got '{text}'")
    return value


def _horizons(text: str) -> list[int]:
    try:
        return [int(h) for h in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected weeks such as 4 or 4,12, got {text!r}") from None


def _weeks(text: str) -> int:
    value = text[:-1] if text.lower().endswith("w") else text
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of weeks such as 2w, got '{text}'") from None


def _validate(args: argparse.Namespace) -> int:
    from forecast.cli.terminal import plural
    from forecast.io.workspace import Workspace, resolve_workspace
    from forecast.updating.pipeline import validate

    parsed, _ = validate(args.events, Workspace(resolve_workspace(args.workspace)), args.priors)
    for warning in parsed.warnings:
        _print(f"warning: {warning}", file=sys.stderr)
    shown = ("signal", "outcome", "retraction", *(("scheduled",) if any(e.kind == "scheduled" for e in parsed.events) else ()))
    kinds = {k: sum(e.kind == k for e in parsed.events) for k in shown}
    counts = ", ".join(plural(kinds[k], "scheduled occasion" if k == "scheduled" else k) for k in shown)
    _print(f"{args.events}: OK, {plural(len(parsed.events), 'event')} ({counts})")
    return 0


def _status(args: argparse.Namespace) -> int:
    from forecast.cli.terminal import run_summary, status_json

    _, runs = _workspace_with_runs(args.workspace)
    if args.json:
        _print(json.dumps(status_json(runs[-1]), indent=2, ensure_ascii=False), json=True)
    else:
        _print(run_summary(runs[-1], runs[-2] if len(runs) > 1 else None))
    return 0


def _priors_check(args: argparse.Namespace) -> int:
    from forecast.errors import InputError
    from forecast.evaluation.priors_check import check_priors, headline_text, write_check_pdf
    from forecast.io.priors import load_priors
    from forecast.io.workspace import Workspace, resolve_workspace

    if args.draws < 100:
        raise InputError(f"--draws must be at least 100, got {args.draws}")
    out = args.out
    if out is None:  # its name holds the priors' hash: read them (quick) to check it before the draws
        out = Workspace(resolve_workspace(args.workspace)).reports_dir / f"prior-predictive-{load_priors(args.priors).hash[:12]}.pdf"
    _check_out(out)
    priors, predictive = check_priors(args.priors, seed=args.seed, draws=args.draws)
    _print(headline_text(priors, predictive))
    _print(f"\nCharts: {write_check_pdf(priors, predictive, out)}")
    return 0


def _priors_learn(args: argparse.Namespace) -> int:
    from forecast.evaluation.priors_learn import learned_content, posterior_of, summary_rows
    from forecast.io.priors import write_priors
    from forecast.io.runfiles import load_posterior, stored_priors
    from forecast.io.workspace import Workspace

    if args.out.exists():
        raise InputError(f"{args.out} already exists; give a new folder (nothing is overwritten)")
    _check_out(args.out / "factors.yaml")
    workspace = Workspace(resolve_workspace_or_fail(args.workspace))
    workspace.check_ledger()
    runs = workspace.ledger.runs()
    if not runs:
        raise ForecastError(f"{workspace.root}: no runs yet; run 'forecast update EVENTS.csv' first")
    run = _chosen_run(args.run, runs)
    if run.diagnostics.get("method") == "reweighted":
        raise InputError(f"run {run.run_id} was made by reweighting run {run.diagnostics.get('base_run')}'s draws; learn from a "
                         "sampled run (forecast update --refit makes one)")
    tree = load_posterior(workspace.posterior_path(run.run_id), run)
    priors = stored_priors(tree, run)
    content = learned_content(priors, posterior_of(tree), run, args.widen)
    try:
        learned = write_priors(content, args.out)
    except BaseException:
        import shutil

        shutil.rmtree(args.out, ignore_errors=True)  # the folder this command made (it did not exist) and could not fill
        raise
    width = max(len(name) for name, _, _ in summary_rows(priors, learned))
    _print(f"Priors learned from run {run.run_id} (as of {run.as_of}), every sd widened x{args.widen:g}: {args.out}\n")
    for name, before, after in summary_rows(priors, learned):
        _print(f"  {name:<{width}}  {before:<34} -> {after}")
    _print(f"\nCheck them with: forecast priors check --priors {args.out}")
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got '{text}'") from None


def _version() -> str:
    from forecast import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
