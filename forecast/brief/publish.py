"""Write a run's brief into the workspace (or anywhere), atomically, and record it.

`reports/brief-<as-of>-<run id>.pdf` is the brief of one run; `reports/latest.pdf` is the brief
of the newest run, replaced only once a new brief is complete. A brief that fails part-way
leaves neither a partial file nor a changed `latest.pdf`, and the error names the run so that
`forecast report --run ID` can retry it.
"""

from __future__ import annotations

from pathlib import Path

from forecast.errors import ForecastError
from forecast.io.ledger import RunRecord
from forecast.io.workspace import Workspace, WriteFailed, write_atomically

LATEST = "latest.pdf"


class BriefFailed(ForecastError):
    exit_code = 1


def brief_name(run: RunRecord) -> str:
    return f"brief-{run.as_of}-{run.run_id}.pdf"


def write_report(workspace: Workspace, run: RunRecord, out: Path | None = None) -> Path:
    """Render `run`'s brief. With `out`, write only that file; otherwise write it into the
    workspace's reports/, record it in the ledger, and point latest.pdf at it if `run` is the
    newest run. The caller holds the workspace lock when `out` is None."""
    from forecast.brief.content import collect
    from forecast.brief.pdf import render_brief

    try:
        brief = collect(workspace, run)
        path = render_brief(brief, out if out is not None else workspace.reports_dir / brief_name(run))
    except ForecastError:
        raise
    except Exception as exc:  # anything else is a bug in the brief; the run itself is safe
        raise BriefFailed(f"the brief for run {run.run_id} could not be written ({type(exc).__name__}: {exc}); "
                          f"the run is stored, and 'forecast report --run {run.run_id}' retries the brief") from exc
    if out is not None:
        return path
    workspace.ledger.set_report(run.run_id, str(path.relative_to(workspace.root)))
    latest = workspace.ledger.latest_run()
    if latest is not None and latest.run_id == run.run_id:
        _point_latest_at(path)
    return path


def _point_latest_at(path: Path) -> None:
    """Replace reports/latest.pdf with a copy of `path` in one rename, so a reader never sees a
    half-written latest brief. A copy, not a link: an analyst may annotate or move either.

    If the copy fails, latest.pdf is removed rather than left showing an older run."""
    import shutil

    latest = path.parent / LATEST
    try:
        write_atomically(latest, lambda tmp: shutil.copyfile(path, tmp))
    except WriteFailed as exc:
        try:
            if latest.is_file() and not latest.is_symlink():
                latest.unlink()
            what = "it was removed rather than left showing an older run"
        except OSError:
            what = "it still shows an older run: do not read it as this run's"
        raise BriefFailed(f"{latest}: could not be replaced by this run's brief ({exc.reason}); {what}. "
                          f"The brief itself is complete: {path}") from None
