"""The score of the last `mutmut run`: killed / total (%), then every mutant that was not killed.

Run from the repository root after `mutmut run` (`make mutation` does both). Mutants a stopped
run has not reached yet are counted as not killed, and said apart. Exits 1 when the score is
under the target, so the target can gate a change.
"""

import json
import subprocess
import sys
from pathlib import Path

TARGET = 85.0  # per cent of mutants the fast tier must kill
MUTMUT = [sys.executable, "-m", "mutmut"]


def main() -> int:
    subprocess.run([*MUTMUT, "export-cicd-stats"], check=True, capture_output=True)
    stats = json.loads(Path("mutants/mutmut-cicd-stats.json").read_text())
    total, killed = stats["total"], stats["killed"]
    listing = subprocess.run([*MUTMUT, "results"], check=True, capture_output=True, text=True).stdout
    rows = [line.strip() for line in listing.splitlines() if line.strip()]
    unchecked = [r for r in rows if r.endswith("not checked")]
    alive = [r for r in rows if not r.endswith("not checked")]
    checked = total - len(unchecked)
    score = 100.0 * killed / total if total else 0.0
    print(f"mutation score: {killed} / {total} killed ({score:.1f} %); target {TARGET:.0f} %")
    if unchecked:
        print(f"{len(unchecked)} mutant(s) not run yet ('make mutation' resumes); of the {checked} run, "
              f"{killed} killed ({100.0 * killed / checked:.1f} %)")
    others = {k: v for k, v in stats.items() if k not in ("killed", "total") and v}
    if others:
        print("not killed: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in others.items()))
    if alive:
        print(f"\n{len(alive)} mutant(s) run and not killed ('mutmut show NAME' shows one; docs/MUTATION.md classifies them):")
        for line in alive:
            print(f"  {line}")
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
