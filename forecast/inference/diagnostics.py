"""The diagnostics a run stores: the sampler's, or those of a run made by reweighting.

Kept apart from `inference.py` so that reading or reweighting a run never imports PyMC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from forecast.conventions import DIVERGENCES_MAX, ESS_PER_CHAIN_MIN, RHAT_MAX

if TYPE_CHECKING:
    from forecast.io.ledger import RunRecord


@dataclass(frozen=True)
class Diagnostics:
    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    sampling_seconds: float
    chains: int
    # The quantity behind each figure above: {"r_hat", "ess_bulk", "ess_tail": its name}, empty
    # when the sampler did not say (runs stored before it did).
    worst: dict[str, str] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """Plain-language failures; empty when the run can be trusted."""
        found = []
        ess_min = ESS_PER_CHAIN_MIN * self.chains
        if not self.r_hat_max <= RHAT_MAX:
            found.append(f"R-hat {self.r_hat_max:.3f} > {RHAT_MAX}{self._of('r_hat')}: the chains disagree, so the "
                         "posterior is not yet reliable")
        if not self.ess_bulk_min >= ess_min:
            found.append(f"bulk ESS {self.ess_bulk_min:.0f} < {ess_min}{self._of('ess_bulk')}: too few effective draws "
                         "for stable means")
        if not self.ess_tail_min >= ess_min:
            found.append(f"tail ESS {self.ess_tail_min:.0f} < {ess_min}{self._of('ess_tail')}: the 5-95 % intervals are "
                         "unstable")
        if self.divergences > DIVERGENCES_MAX:
            found.append(f"{self.divergences} divergent transitions: the sampler missed part of the posterior")
        return found

    def _of(self, measure: str) -> str:
        return f" on {self.worst[measure]}" if measure in self.worst else ""

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed, "problems": self.problems, "method": "sampled"}


def reweighted_diagnostics(base: RunRecord, pareto_k: float, ess: float, seconds: float,
                           pareto_k_max: float | None = None) -> dict:
    """The diagnostics of a run made by reweighting `base` (a sampled RunRecord): the sampler's
    R-hat and divergences are the base run's, and each ESS is what both weightings leave of the N
    draws, ESS_weights * ESS_base / N: the weights keep ESS_weights / N of draws that were worth
    ESS_base / N each. The same limits apply to it."""
    d = base.diagnostics
    draws = base.chains * base.draws
    share = ess / draws
    diagnostics = Diagnostics(
        r_hat_max=d["r_hat_max"], ess_bulk_min=d["ess_bulk_min"] * share, ess_tail_min=d["ess_tail_min"] * share,
        divergences=d["divergences"], sampling_seconds=round(seconds, 2), chains=d["chains"], worst=d.get("worst", {}),
    )
    out = {**diagnostics.to_dict(), "method": "reweighted", "base_run": base.run_id,
           "pareto_k": round(pareto_k, 3), "weights_ess": round(ess, 1)}
    if pareto_k_max is not None:
        out["pareto_k_max"] = round(pareto_k_max, 3)
    return out
