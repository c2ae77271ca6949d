#!/usr/bin/python3
"""Exploration benchmark: `faultline explore` of rseq-fallback at depth 2
(seed 1, preempt and migrate) N times (default 3), each in one boot. Prints
the runs per second explore measures (its runs only: boot, baseline and
minimization excluded) and the host time from the command's start to the
end of run 82, the first that breaks the program (boot and the
minimization of that run included)."""
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))


def explore(out, runs):
    started = time.monotonic()
    p = subprocess.run([str(BUILD / "bin" / "faultline"), "explore", "--binary",
                        str(BUILD / "linux" / "initramfs" / "rseq-fallback"), "--events",
                        "preempt,migrate", "--depth", "2", "--seed", "1", "--runs", str(runs),
                        "--json", str(out)], capture_output=True, text=True)
    seconds = time.monotonic() - started
    if p.returncode != 1:
        sys.exit(p.stdout + p.stderr)
    report = json.loads(out.read_text())
    # A measurement, so in the printed totals and not in the report.
    report["runs_per_s"] = float(re.search(r"([\d.]+) runs/s", p.stdout).group(1))
    return report, seconds


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rates, to_find = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            report, _ = explore(pathlib.Path(tmp) / "a.json", 200)
            rates.append(report["runs_per_s"])
            _, seconds = explore(pathlib.Path(tmp) / "b.json", 83)
            to_find.append(seconds)
            print(f"round {i + 1}: 200 runs at {report['runs_per_s']:.1f} runs/s, "
                  f"{report['failed_runs']} failed, {len(report['findings'])} findings, "
                  f"{report['program_runs']} program runs; first finding (run 82) after "
                  f"{seconds:.2f} s")
    print(f"runs/s median of {repeats}: {statistics.median(rates):.1f}; time to the first "
          f"finding median {statistics.median(to_find):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
