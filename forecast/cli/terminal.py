"""What the CLI prints: the headline table, the factor table, and the status JSON."""

from __future__ import annotations

from forecast.io.ledger import RunRecord


def status_json(run: RunRecord) -> dict:
    """The object `forecast status --json` prints (docs/FORMATS.md)."""
    d = run.diagnostics
    return {
        "run_id": run.run_id,
        "as_of": run.as_of.isoformat(),
        "horizon_weeks": run.horizon_weeks,
        # As before "happens by" was stored: {label, p, lo, hi}; the at-least-once chances follow.
        "outcomes": {k: {f: v for f, v in o.items() if f != "happens_by"} for k, o in run.headline.items()},
        "happens_by": run.happens_by,
        "factors": run.factors,
        "events": run.counts,
        "diagnostics": {
            "r_hat_max": d["r_hat_max"],
            "ess_bulk_min": d["ess_bulk_min"],
            "divergences": d["divergences"],
            "sampling_seconds": d["sampling_seconds"],
        },
        "status": run.status,
        "report": run.report,
    }


def run_summary(run: RunRecord, previous: RunRecord | None) -> str:
    """The headline and factor tables, with the change since `previous` where there is one."""
    lines = [
        f"Run {run.run_id}, as of {run.as_of} "
        f"({plural(run.counts['signals'], 'signal')}, {plural(run.counts['outcomes'], 'outcome')}, "
        f"{run.counts['retracted']} retracted)",
        "",
        f"Chance of each path within {run.horizon_weeks} weeks (posterior mean; 5-95 % interval of that chance across draws)",
    ]
    rows = [("Outcome", "P", "5-95 %", "Change")]
    for key, o in run.headline.items():
        rows.append((o["label"], _pct(o["p"]), f"{_pct(o['lo'])} to {_pct(o['hi'])}", _change_pts(run, previous, key)))
    lines += _table(rows)
    lines += ["", f"Chance each kind of deal starts at least once within {run.horizon_weeks} weeks, whatever comes first"]
    if run.happens_by is None:
        lines += ["  (not stored with this run: it was made before runs kept it; a new update adds it)"]
    else:
        rows = [("Deal", "At least once", "5-95 %")]
        for o in run.happens_by.values():
            rows.append((o["label"], _pct(o["p"]), f"{_pct(o['lo'])} to {_pct(o['hi'])}"))
        lines += _table(rows)
    lines += ["", "Obstacle levels in the as-of week (0 = ordinary, +3 = strongest)"]
    rows = [("Factor", "Mean", "SD", "Change")]
    for key, f in run.factors.items():
        before = previous.factors.get(key) if previous else None
        change = f"{f['mean'] - before['mean']:+.2f}" if before else "new"
        rows.append((f["label"], f"{f['mean']:+.2f}", f"{f['sd']:.2f}", change))
    lines += _table(rows)
    d = run.diagnostics
    lines += [
        "",
        f"Diagnostics: R-hat max {d['r_hat_max']:.3f}, bulk ESS min {d['ess_bulk_min']:.0f}, "
        f"tail ESS min {d['ess_tail_min']:.0f}, {d['divergences']} divergences, sampling {d['sampling_seconds']:.1f} s",
    ]
    if "retry" in d:
        lines += [f"Retried once with safer settings (target acceptance {d['target_accept']}, {run.tune} tuning and "
                  f"{run.draws} draws a chain): the first fit failed ({d['retry']['reason']})"]
    if d.get("method") == "reweighted":
        lines += [f"Reweighted run {d['base_run']}'s draws by the new events: Pareto k {d['pareto_k']:.2f}, weights worth "
                  f"{d['weights_ess']:.0f} of {run.chains * run.draws} draws (R-hat and divergences above are that run's, "
                  "each ESS what both weightings leave; --refit samples afresh)"]
    if run.status != "ok":
        lines += ["WARNING: diagnostics failed; do not rely on these numbers until a refit passes:"]
        lines += [f"  - {p}" for p in d["problems"]]
    return "\n".join(lines)


def _change_pts(run: RunRecord, previous: RunRecord | None, key: str) -> str:
    if previous is None or key not in previous.headline:
        return "first run" if previous is None else "new"
    if previous.horizon_weeks != run.horizon_weeks:
        return "horizon changed"
    delta = 100 * (run.headline[key]["p"] - previous.headline[key]["p"])
    return f"{delta:+.1f} pts" if abs(delta) >= 0.05 else "0.0 pts"  # never "-0.0"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _pct(p: float) -> str:
    return f"{100 * p:.1f} %"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        out.append("  " + "  ".join(cells))
        if n == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out
