"""Time to render the PDF brief, run by hand:

    .venv/bin/python benchmarks/brief.py [--runs 5] [--cases example,synthetic]

Each run is a cold `forecast report --out FILE` process (imports included) on a stored run; the
script prints the median and every run, with peak memory. Targets (issue 3): example <= 5 s,
5,000 signals over 260 weeks <= 15 s.

`example` is a real fit of examples/events.csv, `synthetic` of the 5,000-signal log of
benchmarks/update.py (about 20 s), both with the default settings (4 chains x 1000 draws).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update import FORECAST, ROOT, measure, synthetic_log


def fit(events: Path, workspace: Path) -> None:
    """A real fit with the default settings, stored without a brief."""
    subprocess.run([FORECAST, "update", str(events), "--workspace", str(workspace), "--quiet", "--no-report"],
                   check=True, capture_output=True)


def report_once(workspace: Path, out: Path) -> tuple[float, int]:
    seconds, peak, _ = measure([FORECAST, "report", "--workspace", str(workspace), "--out", str(out)])
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", default="example,synthetic")
    parser.add_argument("--signals", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=260)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        print(f"forecast report, cold process, {args.runs} runs each")
        for case in args.cases.split(","):
            workspace = scratch / case
            if case == "example":
                fit(ROOT / "examples" / "events.csv", workspace)
            elif case == "synthetic":
                fit(synthetic_log(scratch / "synthetic.csv", args.signals, args.weeks, seed=7), workspace)
            else:
                raise SystemExit(f"unknown case {case!r}")
            results = [report_once(workspace, scratch / f"{case}-{i}.pdf") for i in range(args.runs)]
            seconds = [r[0] for r in results]
            pages = subprocess.run(["pdfinfo", str(scratch / f"{case}-0.pdf")], capture_output=True, text=True).stdout
            pages = next((line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:")), "?")
            print(f"{case:>10}: wall median {statistics.median(seconds):5.1f} s "
                  f"(runs: {', '.join(f'{s:.1f}' for s in seconds)}); peak memory median "
                  f"{statistics.median(r[1] for r in results) / 2**30:.2f} GB; {pages} pages", flush=True)


if __name__ == "__main__":
    main()
