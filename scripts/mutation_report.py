"""The score of the last `mutmut run`: killed / total (%), then every mutant that was not killed.

Run from the repository root after `mutmut run` (`make mutation` does both). Exits 1 when the
score is under the target, so the target can gate a change.
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
    survivors = [line.strip() for line in listing.splitlines() if line.strip()]
    score = 100.0 * killed / total if total else 0.0
    print(f"mutation score: {killed} / {total} killed ({score:.1f} %); target {TARGET:.0f} %")
    others = {k: v for k, v in stats.items() if k not in ("killed", "total") and v}
    if others:
        print("not killed: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in others.items()))
    if survivors:
        print(f"\n{len(survivors)} mutant(s) not killed ('mutmut show NAME' shows one):")
        for line in survivors:
            print(f"  {line}")
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
