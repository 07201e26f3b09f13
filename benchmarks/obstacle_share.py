"""How much the obstacles carry: the effects' posterior against their priors, and the share of
each deal's weekly log-odds, across the record, that comes from the obstacles, the calendar,
the runs of deals and the break. Run by hand:

    .venv/bin/python benchmarks/obstacle_share.py [--record joint|2022] [--as-of YYYY-MM-DD] [--draws 1000]

One fit of the whole record at its defaults (or `--as-of`), then:

1. **Effects b_jk, posterior against prior.** For each deal type and obstacle: the prior's mean
   and sd, the posterior's, the shift of the mean in prior sds, and the posterior sd as a share
   of the prior's (1: the data taught nothing about it; 0.5: it halved the uncertainty).
2. **Where each deal's changes come from.** The weekly log-odds of deal j is
   a_j + sum_k b_jk theta_k(w) + the occasions of week w (scheduled occasions: the calendar;
   the weeks after a deal: the runs; the weeks from a break on: the break). At the posterior
   mean of each part, over the record's weeks: each part's sd over weeks, and its share of the
   variance of the log-odds, cov(part, total) / var(total), so the shares add up to 1. A part
   whose share is near 0 did not move that deal's chance across the record, whatever its size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RECORDS = {"joint": ("history-2014-2026.csv", "priors-2014"), "2022": ("history-2022-2026.csv", "priors-2022")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", choices=tuple(RECORDS), default="joint")
    parser.add_argument("--as-of")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()

    from forecast.evaluation.backtest import _moments
    from forecast.inference.fit import FitSettings, fit_forecast
    from forecast.io.events import read_events
    from forecast.io.priors import load_priors
    from forecast.model.dataset import build_dataset, default_as_of
    from forecast.model.likelihood_on_draws import Draws

    log, folder = RECORDS[args.record]
    priors = load_priors(ROOT / folder)
    events = read_events(ROOT / "examples" / log, priors).events
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else default_as_of(events)
    data = build_dataset(events, priors, as_of)
    trace, diagnostics, _ = fit_forecast(data, priors, FitSettings(draws=args.draws))
    print(f"{log} with {folder}, as of {as_of}: {len(data.weeks)} weeks; fit passed: {diagnostics.passed} "
          f"(R-hat max {diagnostics.r_hat_max:.3f}, bulk ESS min {diagnostics.ess_bulk_min:.0f})\n")
    draws = Draws.from_dataset(trace.posterior.to_dataset())
    deals, factors = list(priors.outcomes.deals), list(priors.factors)

    print("1. Effects b_jk: prior and posterior (mean, sd), the shift in prior sds, posterior sd / prior sd")
    for j, deal in enumerate(deals):
        for k, factor in enumerate(factors):
            prior_mean, prior_var = _moments(priors.outcomes.deals[deal].effects[factor])
            post = draws.effect[:, j, k]
            if prior_var == 0:
                print(f"   {deal:>18} {factor:>24}: fixed at {prior_mean:+.2f}")
                continue
            prior_sd = prior_var ** 0.5
            print(f"   {deal:>18} {factor:>24}: prior {prior_mean:+.2f} ({prior_sd:.2f})  posterior {post.mean():+.2f} "
                  f"({post.std():.2f})  shift {(post.mean() - prior_mean) / prior_sd:+.2f}  sd ratio {post.std() / prior_sd:.2f}")

    print("\n2. Each deal's weekly log-odds across the record, by part: sd over weeks, and share of its variance")
    parts = parts_by_week(draws, data, priors)
    total = sum(parts.values())
    for j, deal in enumerate(deals):
        var = np.var(total[j])
        shares = {name: (np.cov(part[j], total[j])[0, 1] / var if var > 0 else 0.0) for name, part in parts.items()}
        line = ", ".join(f"{name} sd {np.std(part[j]):.2f} share {shares[name]:+.2f}" for name, part in parts.items())
        print(f"   {deal:>18}: total sd {np.sqrt(var):.2f}; {line}")
    return 0


def parts_by_week(draws, data, priors) -> dict[str, np.ndarray]:
    """{part: (deals, weeks)} at the posterior mean: the obstacles' sum_k b_jk theta_k(w), and the
    occasions' effects split into the calendar, the runs of deals and the break."""
    obstacles = np.einsum("djk,dkw->jw", draws.effect, draws.theta) / draws.n_draws
    out = {"obstacles": obstacles}
    counts = data.occasion_counts if data.occasion_counts is not None else np.zeros((len(data.weeks), 0))
    effect = draws.occasion_effect.mean(axis=0) if draws.occasion_effect is not None else np.zeros((obstacles.shape[0], 0))
    follows = (*data.occasion_follows, *(None,) * (len(data.occasions) - len(data.occasion_follows)))
    kinds = {"calendar": [], "runs": [], "break": []}
    for o, name in enumerate(data.occasions):
        kind = "break" if name not in priors.outcomes.occasions else "runs" if follows[o] is not None else "calendar"
        kinds[kind].append(o)
    for kind, columns in kinds.items():
        out[kind] = effect[:, columns] @ counts[:, columns].T if columns else np.zeros_like(obstacles)
    return out


if __name__ == "__main__":
    sys.exit(main())
