#!/usr/bin/python3
"""Sweep benchmark: runs the built-in every-instruction sweep N times
(default 3) in one boot each and prints trials per second; the figure the
sweep itself measures (boot and the baseline run excluded)."""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            out = pathlib.Path(tmp) / f"sweep{i}.json"
            p = subprocess.run([str(BUILD / "bin" / "faultline"), "sweep", "--json", str(out)],
                               capture_output=True, text=True)
            if p.returncode != 0:
                print(p.stdout + p.stderr)
                return 1
            report = json.loads(out.read_text())
            rates.append(report["trials_per_s"])
            print(f"sweep {i + 1}: {len(report['cells'])} trials in {report['program_runs']} program runs, "
                  f"{report['trials_per_s']:.1f} trials/s")
    print(f"trials/s median of {runs}: {statistics.median(rates):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
