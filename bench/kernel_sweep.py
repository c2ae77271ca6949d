#!/usr/bin/python3
"""The kernel sweep's speed: `faultline sweep --kernel-function
pks_set_rights` over the rights-change workload (docs/protection-keys.md),
N times (default 3); prints each run's trials/s, program runs and whole
process seconds, then the medians. `--conformance` times `faultline
conformance pks` instead (its seven kernel sweeps)."""
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD",
                                    pathlib.Path(__file__).resolve().parent.parent / "build"))
WORKLOAD = ["/bin/pks-selftest", "readonly_blocks_write_allows_read",
            "per_task_rights_survive_context_switch"]


def sweep_once(report):
    start = time.monotonic()
    p = subprocess.run([str(BUILD / "bin" / "faultline"), "sweep", "--kernel-function",
                        "pks_set_rights", "--json", str(report), "--", *WORKLOAD],
                       capture_output=True, text=True)
    seconds = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"the sweep failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    result = json.loads(report.read_text())
    # The table's first line has the rate; the report, the same every run, has no timing.
    rate = float(re.search(r"\(([0-9.]+) trials/s\)", p.stdout.splitlines()[0]).group(1))
    return seconds, rate, result["program_runs"], len(result["cells"])


def conformance_once():
    start = time.monotonic()
    p = subprocess.run([str(BUILD / "bin" / "faultline"), "conformance", "pks"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"conformance pks failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return time.monotonic() - start


def main():
    args = [a for a in sys.argv[1:] if a != "--conformance"]
    runs = int(args[0]) if args else 3
    if "--conformance" in sys.argv:
        times = []
        for i in range(runs):
            times.append(conformance_once())
            print(f"run {i + 1}: conformance pks {times[-1]:.1f} s")
        print(f"median of {runs}: {statistics.median(times):.1f} s")
        return 0
    rates, times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            seconds, rate, program_runs, cells = sweep_once(pathlib.Path(tmp) / "sweep.json")
            rates.append(rate)
            times.append(seconds)
            print(f"run {i + 1}: {cells} cells in {program_runs} program runs, "
                  f"{rate:.1f} trials/s, {seconds:.2f} s")
    print(f"median of {runs}: {statistics.median(rates):.1f} trials/s, "
          f"{statistics.median(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
