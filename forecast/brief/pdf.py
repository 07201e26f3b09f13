"""Lay out a `Brief` as an A4 PDF (its parts: docs/BRIEF.md).

reportlab does the text, tables and page flow (wrapping, CJK line breaking, embedded font
subsets); matplotlib draws the charts, placed as 150 dpi images. Every number shown is taken
from the `Brief`; nothing here computes a statistic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, SimpleDocTemplate, Spacer, Table, TableStyle

from forecast.brief.content import SIGNPOST_GRADE, SIGNPOST_STRENGTH, Brief
from forecast.brief.fonts import INSTALL_HINT, MONO, FontSet, brief_fonts
from forecast.brief.layout import (
    INCH,
    MARGIN,
    RED,
    RULE,
    WIDTH,
    Layout,
    change,
    clip,
    image,
    interval,
    numbered_canvas,
    pct,
    pts,
    signed_skill,
    since,
    wrap_label,
)
from forecast.brief.record_evidence import record_evidence_text
from forecast.conventions import ESS_PER_CHAIN_MIN, LEGACY_TARGET_ACCEPT, RHAT_MAX
from forecast.explain.attribution import Unavailable
from forecast.explain.contested import Contested
from forecast.inference.importance import pareto_k_limit
from forecast.io.ledger import RunRecord
from forecast.io.workspace import write_atomically

HEADINGS = (
    "1. Headline",
    "2. Probability by horizon and across runs",
    "3. Obstacle trajectories",
    "4. What moved the forecast",
    "5. Signposts",
    "6. Model health",
    "7. Event log and reproducibility stamp",
)


class _Writer(Layout):
    """The seven sections of one brief."""

    def __init__(self, brief: Brief, fonts: FontSet) -> None:
        super().__init__(fonts)
        self.b = brief

    # --- sections ------------------------------------------------------------------------

    def title(self) -> list:
        b, r = self.b, self.b.run
        c = r.counts
        created = dt.datetime.fromisoformat(r.created_at).strftime("%Y-%m-%d %H:%M UTC")
        return [
            self.rich("Russia–Ukraine ceasefire negotiations: forecast brief", self.s.title),
            self.rich(
                f"As of <b>{r.as_of:%d %B %Y}</b> · run {r.run_id} · fitted {created} · "
                f"{c['signals']} signals, {c['outcomes']} outcome events, {c['retracted']} retracted · "
                f"weeks {b.data.weeks[0]} to {b.data.weeks[-1]}", self.s.subtitle),
        ]

    def banner(self) -> list:
        r = self.b.run
        if r.status == "ok":
            return []
        problems = "".join(f"• {self.esc(p)}<br/>" for p in r.diagnostics.get("problems", []))
        body = (
            f"{problems}What it means: the sampler has not described the posterior well enough, so the chances and "
            "ranges in this brief may be wrong in either direction, by more than their ranges show. Do not use them "
            "for a decision. Refit with more tuning and draws (for example <font name='DejaVuSansMono'>--tune 2000 "
            "--draws 2000</font>); section 6 shows which part of the model failed.")
        t = Table([[self.rich("DIAGNOSTICS FAILED: do not rely on these numbers", self.s.banner)],
                   [self.rich(body, self.s.banner_body)]], colWidths=[WIDTH])
        t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), RED), ("LEFTPADDING", (0, 0), (-1, -1), 8),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 8), ("TOPPADDING", (0, 0), (0, 0), 6),
                               ("BOTTOMPADDING", (0, -1), (-1, -1), 7)]))
        return [t, Spacer(1, 6)]

    def headline(self) -> list:
        b, r = self.b, self.b.run
        h = r.horizon_weeks
        end = b.horizon_end
        once = r.happens_by or {}
        rows = [["Path", f"Chance within {h} weeks (to {end:%d %b %Y})", "5–95 % range of that chance", since(b.previous),
                 "At least once (5–95 %)"]]
        for key, o in r.headline.items():
            at_least = once.get(key)
            rows.append([o["label"], self.rich(pct(o["p"]), self.s.big), f"{pct(o['lo'])} to {pct(o['hi'])}",
                         change(r, b.previous, key),
                         f"{pct(at_least['p'])} ({pct(at_least['lo'])} to {pct(at_least['hi'])})" if at_least else "–"])
        out = [self.rich(HEADINGS[0], self.s.h1),
               self.table(rows, [44, 38, 34, 28, 36], extra=[("VALIGN", (0, 1), (-1, -1), "MIDDLE")])]
        out.append(Spacer(1, 4))
        deals = list(b.priors.outcomes.deals)
        for key, o in r.headline.items():
            label = self.esc(o["label"])
            if key in deals:
                sentence = (
                    f"<b>{label}, {pct(o['p'])}</b>: the chance that the first deal reached in the {h} weeks to "
                    f"{end:%d %B %Y} is of this kind")
                sentence += (f"; <b>{pct(once[key]['p'])}</b> that one starts at least once by then, whatever comes "
                             "first." if key in once else ". It does not count this kind of deal if another kind comes first.")
            else:
                sentence = (
                    f"<b>{label}, {pct(o['p'])}</b>: the chance that no deal of any kind begins by {end:%d %B %Y}. "
                    "It does not predict the fighting will outlast that date by any particular amount, nor that talks "
                    "will collapse.")
            out.append(self.rich(sentence))
        first = next(iter(r.headline.values()))
        out.append(self.rich(
            "<b>Reading the ranges.</b> A range is not a range of outcomes. It shows how sure the model is of each "
            f"chance: across the posterior, the chance of {self.esc(first['label'].lower())} lies between "
            f"{pct(first['lo'])} and {pct(first['hi'])} in 90 % of draws. The chance to act on is the central "
            f"{pct(first['p'])}, which already averages over that uncertainty; a wide range means a few new events "
            "could move it a long way. <b>First or at least once.</b> The paths add up to 100 %: each is the "
            "chance that the first deal is of that kind. The at-least-once chance also counts a deal that follows "
            "another kind of deal, so it is the one that answers \"will it happen by then?\" (and the one "
            "<font name='DejaVuSansMono'>forecast compare</font> sets beside a crowd); those need not add up.",
            self.s.note))
        if b.contested is not None:
            out.append(self.rich(f"<b>Contested deals.</b> {self.esc(contested_text(b.contested, r.headline, h))}", self.s.note))
        if b.record_evidence is not None:
            out.append(self.rich(f"<b>Evidence from the record.</b> {self.esc(record_evidence_text(b.record_evidence))}",
                                 self.s.note))
        return out

    def horizon_and_history(self) -> list:
        import matplotlib.pyplot as plt

        from forecast.brief.plots import plot_history, plot_probability_by_horizon

        b = self.b
        fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH / INCH, 2.9), layout="constrained")
        plot_probability_by_horizon(b.table, b.labels, b.run.horizon_weeks, axes=left)
        left.set_title(f"Chance by horizon, from the week of {b.run.as_of}", fontsize=8)
        runs = [{"as_of": r.as_of, "ok": r.status == "ok", "headline": r.headline} for r in b.history
                if r.horizon_weeks == b.run.horizon_weeks]
        plot_history(runs, b.labels, b.run.horizon_weeks, axes=right)
        right.set_title(f"Headline at each run ({len(runs)} run{'s' if len(runs) != 1 else ''})", fontsize=8)
        for ax in (left, right):
            ax.xaxis.label.set_size(7)
            ax.yaxis.label.set_size(7)
            ax.tick_params(labelsize=7)
        return [
            CondPageBreak(90 * mm),
            self.rich(HEADINGS[1], self.s.h1),
            image(fig),
            self.rich("Left: each line is the posterior mean chance that the path is reached within that many weeks, "
                      "with its 5–95 % range shaded; the dotted line marks the headline horizon. Right: the headline "
                      "chance of every stored run at its as-of date, with its range; hollow points are runs whose "
                      "diagnostics failed.", self.s.note),
        ]

    def factors(self) -> list:
        import matplotlib.pyplot as plt

        from forecast.brief.plots import FACTOR_COLOURS, grade_legend_handles, plot_factor_panel

        b = self.b
        keys = list(b.priors.factors)
        n = len(keys)
        ncols = 2
        nrows = -(-n // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH / INCH, 2.35 * nrows + 0.5), layout="constrained",
                                 sharex=True, squeeze=False)
        weeks = list(b.data.weeks)
        signals = pd.DataFrame({
            "date": [e.date for e in b.signals], "value": [e.signal for e in b.signals],
            "reliability": [e.source_reliability for e in b.signals], "credibility": [e.info_credibility for e in b.signals],
            "factor": [e.factor for e in b.signals],
        })
        outcomes = [(e.date, b.labels[e.outcome]) for e in b.outcomes]
        for i, key in enumerate(keys):
            ax = axes[i // ncols][i % ncols]
            plot_factor_panel(b.theta[:, i, :], weeks, b.factor_labels[key], FACTOR_COLOURS[i % len(FACTOR_COLOURS)],
                              signals=signals[signals["factor"] == key] if len(signals) else signals,
                              outcomes=outcomes, axes=ax)
            ax.tick_params(labelsize=6.5)
            if i % ncols:
                ax.set_ylabel("")
        for j in range(n, nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)
        fig.legend(handles=grade_legend_handles(), loc="outside lower center", ncols=9, fontsize=6, frameon=False,
                   handletextpad=0.2, columnspacing=0.8)
        rows = [["Obstacle", "Level in the as-of week (mean)", "5–95 %", "SD", since(b.previous), "Signals"]]
        last = b.theta[:, :, -1]
        for key, f in b.run.factors.items():
            i = keys.index(key)
            lo, hi = np.quantile(last[:, i], [0.05, 0.95])
            before = b.previous.factors.get(key) if b.previous else None
            moved = "first run" if b.previous is None else (f"{f['mean'] - before['mean']:+.2f}" if before else "new")
            rows.append([f["label"], f"{f['mean']:+.2f}", f"{lo:+.2f} to {hi:+.2f}", f"{f['sd']:.2f}", moved,
                         str(int(np.sum(b.data.signal_factor == i)))])
        return [
            PageBreak(),
            self.rich(HEADINGS[2], self.s.h1),
            self.rich("Each obstacle's level by week (−3 gone, 0 ordinary for a negotiation of this kind, +3 at its "
                      "strongest): the line is the posterior median, the bands hold 50 % and 90 % of the posterior. "
                      "Dots are the signals at their week and reading: darker for a more reliable source (Admiralty "
                      "A–F), larger for more credible information (1–6). Red dashed lines are deals"
                      + (" (labelled in the event log when there are many)." if len(b.outcomes) > 8 else "."), self.s.note),
            image(fig),
            Spacer(1, 4),
            self.table(rows, [52, 34, 30, 14, 32, 18]),
            *self._coders(),
        ]

    def _coders(self) -> list:
        """Each coder's house effect on each obstacle, when the log has several coders."""
        b = self.b
        if not b.coder_offsets:
            return []
        coders = sorted({c for c, _ in b.coder_offsets})
        rows = [["Coder", *(b.factor_labels[k] for k in b.priors.factors)]]
        for coder in coders:
            cells = []
            for k in b.priors.factors:
                mean, lo, hi = b.coder_offsets[(coder, k)]
                cells.append(f"{mean:+.2f} ({lo:+.2f} to {hi:+.2f})")
            rows.append([coder or "(default)", *cells])
        return [
            Spacer(1, 4),
            self.rich("Coders' house effects", self.s.h2),
            self.rich("How far each coder's readings sit above (+) or below (−) each obstacle's level, with the 5–95 % "
                      "range: the model reads every reading less its coder's offset, and the offsets sum to zero over the "
                      "coders, so no one coder sets the level (docs/MODEL.md, Coders). An interval away from 0 is a "
                      "coding rule the team reads differently.", self.s.note),
            self.table(rows, [34, *([37] * len(b.priors.factors))]),
        ]

    def what_moved(self) -> list:
        b = self.b
        out = [CondPageBreak(60 * mm), self.rich(HEADINGS[3], self.s.h1)]
        a = b.attribution
        if a is None:
            out.append(self.rich("This is the first run in this workspace: there is no earlier forecast to compare with. "
                                 "From the next update on, this section splits each change into the share of the new "
                                 "events and the share of the passage of time."))
            return out
        if isinstance(a, Unavailable):
            out.append(self.rich(f"The change since run {self.esc(b.previous.run_id)} cannot be attributed: "
                                 f"{self.esc(a.reason)}. The totals are in section 1."))
            return out
        if a.method == "refit":
            how = ("That second number comes from refitting the model without them, on this run's weeks, priors and "
                   "settings: the new events moved the posterior too far for reweighting to follow.")
        else:
            how = ("That second number comes from reweighting this run's posterior draws by the inverse likelihood of "
                   "the new events (Pareto-smoothed importance sampling), rather than from a refit: it is exact in the "
                   "limit, costs no sampling, and stays on this run's weeks and horizon.")
        out.append(self.rich(
            f"Since run {self.esc(a.previous_run)} (as of {a.previous_as_of}). <b>New information</b> is what the "
            "events this run sees, and the previous one did not, did to the forecast: this run's chance, minus the "
            f"chance it gives today without them. {how} <b>Time and other</b> is the rest: weeks that passed without "
            "a deal, the forecast window moving on, and any change of priors, code or settings. The split by group "
            f"below always reweights; Pareto k below {pareto_k_limit(b.run.chains * b.run.draws):.2f} (the limit for this "
            f"run's {b.run.chains * b.run.draws} draws) means that is reliable."))
        keys = list(b.run.headline)
        header = ["Path", f"Previous ({a.previous_as_of})", "This run", "Change", "New information", "Time and other",
                  "Monte Carlo noise"]
        rows = [header]
        for k in keys:
            before = b.previous.headline.get(k)
            rows.append([b.labels[k], pct(before["p"]) if before else "–", pct(b.run.headline[k]["p"]), pts(a.total[k]),
                         pts(a.new_information.change[k]) if a.new_information else "0.0 pts", pts(a.time_and_other[k]),
                         f"± {100 * a.noise[k]:.1f} pts"])
        out.append(self.table(rows, [46, 24, 18, 18, 25, 25, 24]))
        out.append(self.rich("Monte Carlo noise is two standard errors of this run's estimate: changes smaller than it "
                             "are not evidence of anything.", self.s.note))
        if a.new_information is not None:
            parts = [a.new_information, *a.parts]
            rows = [["New information", "Events", *[b.labels[k] for k in keys], "Pareto k"]]
            for p in parts:
                if p is a.new_information and a.method == "refit":
                    k_text = "refit"
                else:
                    k_text = f"{p.pareto_k:.2f}" + ("" if p.reliable else " (unreliable)")
                rows.append([p.label, str(p.events), *[pts(p.change[k]) for k in keys], k_text])
            if len(a.parts) > 1:
                rest = {k: a.new_information.change[k] - sum(p.change[k] for p in a.parts) for k in keys}
                rows.append(["Interaction between the groups", "", *[pts(rest[k]) for k in keys], ""])
            widths = [58, 14, *[(180 - 58 - 14 - 26) / len(keys)] * len(keys), 26]
            out += [Spacer(1, 4), self.table(rows, widths)]
            if any(not p.reliable for p in a.parts):
                out.append(self.rich(
                    f"Rows marked unreliable (Pareto k ≥ {a.parts[0].pareto_k_max:.2f}) moved the posterior further than reweighting "
                    "can follow: read them as indicative only.", self.s.note))
        for note in a.notes:
            out.append(self.text(note, self.s.note))
        rows = [["Obstacle", f"Previous ({a.previous_as_of})", "This run", "Change"]]
        for key, f in b.run.factors.items():
            before = b.previous.factors.get(key)
            rows.append([f["label"], f"{before['mean']:+.2f}" if before else "–", f"{f['mean']:+.2f}",
                         f"{f['mean'] - before['mean']:+.2f}" if before else "new"])
        out += [self.rich("Obstacle levels in each run's as-of week (posterior means)", self.s.h2), self.table(rows, [70, 40, 35, 35])]
        return out

    def signposts(self) -> list:
        b = self.b
        table = b.signposts
        keys = list(b.run.headline)
        grade = "".join(SIGNPOST_GRADE)
        rows = [["", "If the next event were", *[f"Change in {b.labels[k]}" for k in keys], "Pareto k"]]
        order = table.drop_duplicates(["factor", "signal"])[["factor", "signal"]].itertuples(index=False)
        for rank, (factor, value) in enumerate(order, start=1):
            sub = table[(table.factor == factor) & (table.signal == value)].set_index("outcome")
            k = sub["pareto_k"].iloc[0]
            rows.append([str(rank), f"a reading of {value:+.0f} on {b.factor_labels[factor]}",
                         *[pts(sub.loc[o, "change"]) for o in keys], f"{k:.2f}" + ("" if sub["reliable"].iloc[0] else " (unreliable)")])
        widths = [7, 63, *[(180 - 7 - 63 - 22) / len(keys)] * len(keys), 22]
        return [
            CondPageBreak(70 * mm),
            self.rich(HEADINGS[4], self.s.h1),
            self.rich(
                f"What one strong new signal would do to each headline chance: a reading of {SIGNPOST_STRENGTH:+.0f} or "
                f"{-SIGNPOST_STRENGTH:+.0f} on one obstacle (a level on the −3 to +3 scale, not a change), graded "
                f"{grade} (usually reliable source, probably true), dated in the as-of week. Ranked by the largest change. "
                "Computed from this run's posterior by reweighting its draws, without a refit; a reading far from "
                "where the model puts the obstacle now moves it most."),
            self.table(rows, widths),
            *self.occasions_ahead(),
        ]

    def occasions_ahead(self) -> list:
        b = self.b
        deals = list(b.data.deals)
        if not b.occasions_ahead:
            return [Spacer(1, 4), self.rich(
                f"No scheduled occasion is logged inside the forecast window ({b.priors.outcomes.forecast_weeks} weeks). "
                "Holidays, the expiry of a deal in force, announced talks and deadlines move the weekly chances of a deal; "
                "log them as <font name='DejaVuSansMono'>scheduled</font> rows (docs/CODING.md).", self.s.note)]
        rows = [["Date", "Week", "Occasion", *[f"Odds of {b.labels[d]}" for d in deals]]]
        for o in b.occasions_ahead:
            label = b.priors.outcomes.occasions[o.event.occasion].label
            text = label + (f": {o.event.description}" if o.event.description else "")
            rows.append([str(o.event.date), str(o.week), text,
                         *[f"×{m:.1f} ({lo:.1f} to {hi:.1f})" for m, lo, hi in (o.odds[d] for d in deals)]])
        widths = [20, 12, 180 - 32 - 34 * len(deals), *[34] * len(deals)]
        return [
            Spacer(1, 6),
            self.rich("<b>Scheduled occasions ahead.</b> Dates known in advance inside the forecast window (and the "
                      "weeks after a recent deal, where the priors say deals come in runs), and what each does to the "
                      "weekly odds of each deal in its week (posterior mean multiplier, 5–95 % in brackets; ×1.0 is no "
                      "effect). The chances above already include them."),
            self.table(rows, widths),
        ]

    def health(self) -> list:
        b, r = self.b, self.b.run
        d = r.diagnostics
        ess_min = ESS_PER_CHAIN_MIN * r.chains
        verdict = "All diagnostics passed." if r.status == "ok" else "<font color='#b2182b'><b>Diagnostics failed.</b></font>"
        out = [
            PageBreak(),
            self.rich(HEADINGS[5], self.s.h1),
            self.rich(
                f"{verdict} R-hat max {d['r_hat_max']:.3f} (limit {RHAT_MAX}), bulk ESS min {d['ess_bulk_min']:.0f} and "
                f"tail ESS min {d['ess_tail_min']:.0f} (limit {ess_min}: {ESS_PER_CHAIN_MIN} per chain), "
                f"{d['divergences']} divergent transitions (limit 0). {r.chains} chains × {r.draws} draws after "
                f"{r.tune} tuning steps; sampling took {d['sampling_seconds']:.1f} s."),
        ]
        if "retry" in d:
            asked = d["retry"]["requested"]
            out.append(self.rich(
                f"<b>This run is a retry.</b> The first fit with the settings asked for (target acceptance "
                f"{asked['target_accept']}, {asked['tune']} tuning steps, {asked['draws']} draws a chain) failed its "
                f"diagnostics ({self.esc(d['retry']['reason'])}), so the update refitted once with safer settings: "
                f"target acceptance {d['target_accept']}, {r.tune} tuning steps and {r.draws} draws a chain. The "
                "figures above are the retry's.", self.s.note))
        if d.get("method") == "reweighted":
            out.append(self.rich(
                f"<b>This run was not sampled.</b> It reweights the draws of run {self.esc(d['base_run'])} by the "
                f"likelihood of the events new since (Pareto k {d['pareto_k']:.2f}; the weights are worth "
                f"{d['weights_ess']:.0f} of its {r.chains * r.draws} draws) and resamples them. The R-hat and divergences "
                "above are that run's; each ESS is that run's times the weights' share (ESS of the weights / draws), "
                "the draws both leave. The table below is computed on the resampled draws, whose repeats flatter it. "
                "<font name='DejaVuSansMono'>forecast update --refit</font> samples afresh.", self.s.note))
        rows = [["Parameters", "Count", "R-hat max", "Bulk ESS min", "Tail ESS min", "Verdict"]]
        failing = []
        for row in b.convergence.itertuples():
            rows.append([row.parameter, str(row.size), f"{row.r_hat_max:.3f}", f"{row.ess_bulk_min:.0f}",
                         f"{row.ess_tail_min:.0f}", "ok" if row.ok else "FAILS"])
            if not row.ok:
                failing.append(("TEXTCOLOR", (5, len(rows) - 1), (5, len(rows) - 1), RED))
        out.append(self.table(rows, [62, 16, 22, 26, 26, 28], extra=failing))
        out += self._prior_posterior()
        out += self._predictive_checks()
        out += self._backtest()
        return out

    def _backtest(self) -> list:
        import matplotlib.pyplot as plt

        from forecast.brief.plots import plot_backtest_forecasts, plot_reliability

        bt = self.b.backtest
        if bt is None:
            return [self.rich("Backtest", self.s.h2),
                    self.rich("No backtest in this workspace yet: <font name='DejaVuSansMono'>forecast backtest</font> "
                              "replays the ledger as it was known at past dates and scores the forecasts.", self.s.note)]
        labels = bt["outcomes"]
        # Backtests saved before the baselines were named in the file had these three.
        names = bt.get("methods") or {"model": "Model", "base_rate": "Base rate (weekly frequency so far)", "prior": "Priors alone"}
        rows = [["Method", "Brier", "Log", *[f"Brier: {labels[k]}" for k in labels]]]
        for method, s in bt["scores"].items():
            rows.append([names.get(method, method), f"{s['brier']:.3f}", f"{s['log']:.3f}",
                         *[f"{s['per_outcome'][k]['brier']:.3f}" for k in labels]])
        fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH / INCH, 2.8), layout="constrained", width_ratios=[1.3, 1])
        plot_backtest_forecasts(bt["forecasts"], labels, bt["horizon_weeks"], axes=left)
        plot_reliability(bt["reliability"]["model"], labels, axes=right)
        right.set_title("Reliability of the model's forecasts", fontsize=7)
        happened = [f["observed"] for f in bt["forecasts"] if f["method"] == "model"]
        stale = "" if bt["priors_hash"] == self.b.run.priors_hash else (
            " It was run with other priors than this run's; rerun it to score these.")
        return [
            CondPageBreak(110 * mm),
            self.rich("Backtest", self.s.h2),
            self.rich(
                f"From <font name='DejaVuSansMono'>forecast backtest</font> on {bt.get('created_at', '?')[:10]}: "
                f"{len(bt['origins'])} origins from {bt['origins'][0]} to {bt['origins'][-1]}, every {bt['every_weeks']} "
                f"week(s), each forecast from the events reported by then, scored on the {bt['horizon_weeks']} weeks after it "
                f"against the outcomes known on {bt['known_to']} ("
                + ", ".join(f"{self.esc(label)} {happened.count(k)}" for k, label in labels.items())
                + "). Lower scores are better; a model that does not beat the simple baselines adds nothing to them. In "
                "the chart, ▼ above each origin marks the path that happened."
                + stale, self.s.note),
            self.table(rows, [46, 14, 14, *[(180 - 74) / len(labels)] * len(labels)]),
            *self._backtest_skill(bt, names),
            Spacer(1, 4),
            image(fig),
        ]

    def _backtest_skill(self, bt: dict, names: dict[str, str]) -> list:
        """The model's skill against each baseline, with its interval, and the same words as the terminal's."""
        if "skill" not in bt:
            return [Spacer(1, 2), self.rich("This backtest was saved before skill against baselines was computed: rerun "
                                            "<font name='DejaVuSansMono'>forecast backtest</font> to see it.", self.s.note)]

        lo, hi = (round(100 * q) for q in bt["bootstrap"]["interval"])
        rows = [["Baseline", "What it is", "Brier skill", "Log skill"]]
        for baseline, skill in bt["skill"].items():
            rows.append([names.get(baseline, baseline), bt["baselines"][baseline],
                         signed_skill(skill["brier"]), signed_skill(skill["log"])])
        fits = bt["model_fits"]
        return [
            Spacer(1, 4),
            self.rich(
                "Skill of the model against each baseline: 1 − the model's score / the baseline's, above 0 where the model "
                f"does better, with a {hi - lo} % interval over origins (runs of {bt['bootstrap']['block_origins']} "
                f"consecutive origins resampled together, as their windows overlap). The model's forecasts: {fits['sampled']} "
                f"sampled, {fits['reweighted']} reweighted from an earlier origin's fit.", self.s.note),
            self.table(rows, [28, 80, 36, 36]),
            Spacer(1, 2),
            *[self.rich(self.esc(sentence), self.s.note) for sentence in bt["skill_in_words"].values()],
        ]

    def _prior_posterior(self) -> list:
        import matplotlib.pyplot as plt

        from forecast.brief.plots import plot_prior_posterior

        b = self.b
        pairs = b.prior_posterior
        out = [self.rich("Prior against posterior", self.s.h2)]
        if pairs:
            ncols = 5
            nrows = -(-len(pairs) // ncols)
            height = 1.5 * nrows + 0.3
            # A fixed grid rather than constrained layout: the same look, a third of the time.
            fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH / INCH, height), squeeze=False,
                                     gridspec_kw={"left": 0.02, "right": 0.98, "top": 1 - 0.3 / height,
                                                  "bottom": 0.45 / height, "hspace": 1.25, "wspace": 0.12})
            for i, pair in enumerate(pairs):
                plot_prior_posterior(wrap_label(pair.label, 25), pair.prior, pair.posterior, axes=axes[i // ncols][i % ncols])
            for j in range(len(pairs), nrows * ncols):
                axes[j // ncols][j % ncols].set_visible(False)
            handles, names = axes[0][0].get_legend_handles_labels()
            fig.legend(handles, names, loc="lower center", ncols=2, fontsize=7, frameon=False)
            out += [image(fig)]
            rows = [["Parameter", "Prior 5–95 %", "Posterior mean", "Posterior 5–95 %", "Narrowed by"]]
            for p in pairs:
                rows.append([p.label, interval(p.prior_interval), f"{p.posterior_mean:+.3f}",
                             interval(p.posterior_interval), _narrowed(p.narrowing)])
            out.append(self.table(rows, [76, 28, 22, 32, 22]))
            out.append(self.rich("Narrowed by: how much the data shrank the 5–95 % interval (0 % the prior unchanged, 100 % "
                                 "pinned down; below 0 % the posterior is wider than the prior: Monte Carlo noise of a short "
                                 "run, or data at odds with the prior). Near 0 %, that number is the priors speaking; "
                                 "notebooks/02_sensitivity.ipynb shows how much the forecast depends on it.", self.s.note))
        for line in b.fixed_parameters:
            out.append(self.text(line, self.s.note))
        return out

    def _predictive_checks(self) -> list:
        import matplotlib.pyplot as plt

        from forecast.brief.plots import plot_outcome_check, plot_pit

        b = self.b
        check = b.signal_check
        n_checks = len(b.outcome_checks)
        fig = plt.figure(figsize=(WIDTH / INCH, 2.2), layout="constrained")
        left, right = fig.subfigures(1, 2, width_ratios=[1, 1.6])
        if len(check.pit):
            plot_pit(check.pit, axes=left.subplots())
        right_axes = right.subplots(1, n_checks, squeeze=False)[0]
        for ax, c in zip(right_axes, b.outcome_checks):
            plot_outcome_check(wrap_label(c.label, 22), c.observed, c.replicated, axes=ax)
            ax.set_xlabel("")  # one label under the row: four panels leave no room for one each
        right.supxlabel("Weeks with this outcome", fontsize=6)
        out = [CondPageBreak(80 * mm), self.rich("Posterior predictive checks", self.s.h2), image(fig)]
        if len(check.pit):
            out.append(self.rich(
                f"Signals: {100 * check.outside:.0f} % of the {len(check.pit)} observed readings fall outside the 5–95 % "
                "range the fitted model predicts for them; about 10 % is expected of a well-specified model (a little "
                "less in-sample). Many more means the noise is set too low or the coding is inconsistent; the readings "
                "furthest out are below. Student-t readings let the model discount them rather than follow them.",
                self.s.note))
            rows = [["Date", "Obstacle", "Reading", "Grade", "PIT", "Description"]]
            for i in check.most_surprising(min(6, len(check.pit))):
                e = b.signals[i]
                rows.append([str(e.date), b.factor_labels[e.factor], f"{e.signal:+.1f}",
                             e.source_reliability + e.info_credibility, f"{check.pit[i]:.3f}", clip(e.description, 160)])
            out.append(self.table(rows, [19, 34, 14, 11, 12, 90]))
        out.append(self.rich(
            "Outcomes: weeks in which each kind of deal began, observed (red) against the same count in histories "
            "replicated from the posterior (bars). " + "; ".join(
                f"{self.esc(c.label)}: {c.observed} observed, replicated {c.interval[0]}–{c.interval[1]} (90 %), "
                f"two-sided tail probability {c.tail:.2f}" for c in b.outcome_checks)
            + ". A tail probability below 0.05 means the fitted model rarely reproduces the record.",
            self.s.note))
        return out

    def event_log(self) -> list:
        b = self.b
        header = ["Date", "Kind", "Obstacle / outcome", "Reading", "Grade", "Actor · description · source", "Status", "Id"]
        rows, shaded = [], []
        for item in b.log:
            e = item.event
            what = b.factor_labels.get(e.factor, e.factor) if e.kind == "signal" else (
                b.labels.get(e.outcome, e.outcome) if e.kind == "outcome" else "")
            date = str(e.date) if e.reported == e.date else f"{e.date}\nrep. {e.reported}"
            text = " · ".join(t for t in (e.actor, e.description, e.source) if t)
            status = {"used": "used", "retracted": "RETRACTED", "withdrawal": "withdrawal",
                      "after as-of": "not yet known"}[item.status]
            if item.note:
                status += f": {item.note}" if item.status != "retracted" else f" ({item.note.split(':')[0]})"
            ident = e.event_id + (f"\ncoder {e.coder}" if e.coder else "") + ("\ncontested" if e.contested else "")
            rows.append([date, e.kind, what or "", f"{e.signal:+.1f}" if e.signal is not None else "",
                         e.source_reliability + e.info_credibility, text, status, ident])
            shaded.append(item.status in ("retracted", "after as-of"))
        used = sum(item.status == "used" for item in b.log)
        intro = [
            PageBreak(),
            self.rich(HEADINGS[6], self.s.h1),
            self.rich(f"Every row the ledger held for this run, by date: {len(b.log)} rows, {used} used by the model. "
                      "Retracted rows and rows reported after the as-of date are shaded and were not used.", self.s.note),
        ]
        return intro + self.paged_table(header, rows, shaded, [19, 12, 31, 15, 11, 54, 20, 18], first_page_used=60)

    def stamp(self, missing: set[str]) -> list:
        b, r = self.b, self.b.run
        rows = [
            ["Run id", r.run_id], ["As-of date", str(r.as_of)], ["Created", r.created_at],
            ["Data hash (SHA-256)", r.data_hash], ["Priors hash (SHA-256)", r.priors_hash],
            ["Priors folder", r.priors_dir], ["Code version", r.code_version], ["Seed", str(r.seed)],
            ["Sampler", _method(r)], ["Libraries", _libraries(r)],
            ["Posterior file", r.posterior],
            ["Ledger rows seen", "all (run predates the record)" if r.last_event_seq is None else f"events 1 to {r.last_event_seq}"],
            ["Reproduce", _reproduce(r)],
        ]
        data = [[self.rich(f"<b>{k}</b>", self.s.cell), self.text(v, self.s.cell)] for k, v in rows]
        mono = ParagraphStyle("mono", parent=self.s.cell, fontName=MONO, fontSize=7)
        for i, (key, value) in enumerate(rows):
            if key.startswith(("Data hash", "Priors hash", "Reproduce")):
                data[i][1] = self.text(value, mono)
        t = Table(data, colWidths=[38 * mm, WIDTH - 38 * mm], hAlign="LEFT")
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
        out = [Spacer(1, 8), KeepTogether([self.rich("Reproducibility stamp", self.s.h2), t])]
        for note in b.notes:
            out.append(self.text(note, self.s.note))
        if missing:
            shown = ", ".join(f"U+{ord(c):04X}" for c in sorted(missing)[:12])
            out.append(self.text(f"{len(missing)} character(s) in the events have no glyph in the installed fonts and are "
                                 f"shown as code points ({shown}); to draw them, {INSTALL_HINT}.", self.s.note))
        return out


def contested_text(contested: Contested, headline: dict, horizon: int) -> str:
    """The headline as if the contested deals were not deals, in a sentence."""
    ids = ", ".join(contested.events)
    parts = "; ".join(f"{headline[k]['label'].lower()} {pct(p)} (counted: {pct(headline[k]['p'])})"
                      for k, p in contested.p.items() if k in headline)
    how = ("by reweighting this run's draws" if contested.method == "reweighted" else
           "by refitting the model without them" + ("" if contested.passed else ", a fit that failed its diagnostics"))
    return (f"The coders marked {len(contested.events)} deal(s) as contested ({ids}): the table counts them as deals. If "
            f"they were not, the chances within {horizon} weeks would be: {parts}; computed {how}.")


def _narrowed(narrowing: float) -> str:
    """'Narrowed by' as it is, below 0 too (a wider posterior), within what a cell can show."""
    return "below -999 %" if narrowing < -9.99 else f"{100 * narrowing + 0.0:.0f} %"


def _method(r: RunRecord) -> str:
    """How the run's draws were made: sampled, or reweighted from a sampled run."""
    nuts = (f"NUTS, {r.chains} chains × {r.draws} draws, {r.tune} tuning steps, target acceptance "
            f"{r.diagnostics.get('target_accept', LEGACY_TARGET_ACCEPT)}")
    d = r.diagnostics
    if d.get("method") != "reweighted":
        return nuts
    return (f"reweighted (Pareto-smoothed importance sampling) draws of run {d['base_run']}, resampled: no sampler ran for "
            f"this run. Pareto k {d['pareto_k']:.2f}; the weights are worth {d['weights_ess']:.0f} of the "
            f"{r.chains * r.draws} draws. Run {d['base_run']} was sampled by {nuts}")


def _libraries(r: RunRecord) -> str:
    """The library versions stored with the run when it was made (not those installed now)."""
    stored = r.diagnostics.get("libraries")
    if not stored:
        return "not stored: the run was made before runs kept them"
    return ", ".join(f"{name} {v}" for name, v in stored.items())


def _reproduce(r: RunRecord) -> str:
    asked = r.diagnostics.get("retry", {}).get("requested", {})  # a retried run: the options that were asked for
    target = asked.get("target_accept", r.diagnostics.get("target_accept", LEGACY_TARGET_ACCEPT))
    command = (f"forecast update EVENTS.csv --as-of {r.as_of} --seed {r.seed} --draws {asked.get('draws', r.draws)} "
               f"--tune {asked.get('tune', r.tune)} --chains {r.chains} --target-accept {target} --priors {r.priors_dir}")
    d = r.diagnostics
    if d.get("method") != "reweighted":
        return command
    return (f"in a workspace whose last sampled run is {d['base_run']} (made as its own brief's stamp says): {command} "
            "reweights that run's draws again and gives this run's numbers; with --refit it would sample afresh instead")


def render_brief(brief: Brief, path: Path) -> Path:
    """Write the brief to `path` atomically: a temporary file beside it, renamed on success only."""
    import matplotlib.pyplot as plt

    fonts = brief_fonts()
    fonts.missing.clear()
    w = _Writer(brief, fonts)
    story = [*w.title(), *w.banner(), *w.headline(), *w.horizon_and_history(), *w.factors(), *w.what_moved(),
             *w.signposts(), *w.health(), *w.event_log()]
    story += w.stamp(set(fonts.missing))
    footer = f"forecast brief · run {brief.run.run_id} · as of {brief.run.as_of} · data {brief.run.data_hash[:12]}"

    def build(tmp: str) -> None:
        doc = SimpleDocTemplate(tmp, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                                bottomMargin=MARGIN + 4 * mm, title=f"Forecast brief, as of {brief.run.as_of}",
                                author="forecast", subject=f"run {brief.run.run_id}")
        doc.build(story, canvasmaker=numbered_canvas(footer, flagged=brief.run.status != "ok"))

    try:
        return write_atomically(path, build)
    finally:
        plt.close("all")


