#!/usr/bin/python3
"""The upstream rseq selftests as sweep targets: each program (and each of
param_test's workloads) swept over its own critical sections with preempt,
signal, migrate and page_fault_blocking. Prints one line per target (cells,
how many the workload reached, failed, program runs, host seconds) and the
total; exits 1 if a target failed or could not be swept.
usage: selftests_sweep.py [--json DIR]"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD",
                                    pathlib.Path(__file__).resolve().parent.parent / "build"))
SELFTESTS = BUILD / "linux" / "initramfs" / "selftests" / "rseq"
EVENTS = "preempt,signal,migrate,page_fault_blocking"
# (program, its arguments): param_test's workloads as run_param_test.sh
# names them (spinlock, list, buffer, memcpy, increment), with two threads
# and few repetitions: a sweep runs the program once per batch of trials.
TARGETS = [("param_test", ["-T", t, "-t", "2", "-r", "10"]) for t in "slbmi"] + [
    ("param_test_compare_twice", ["-T", "s", "-t", "2", "-r", "10"]),
    ("basic_percpu_ops_test", []),
]


def sweep(program, args, report):
    started = time.monotonic()
    p = subprocess.run([str(BUILD / "bin" / "faultline"), "sweep", "--binary",
                        str(SELFTESTS / program), "--events", EVENTS, "--json", str(report),
                        "--", *args], capture_output=True, text=True)
    return p, time.monotonic() - started


def main():
    keep = pathlib.Path(sys.argv[2]) if sys.argv[1:2] == ["--json"] else None
    failed_targets = 0
    total = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        out = keep or pathlib.Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        print(f"{'target':<42} {'cells':>6} {'reached':>8} {'failed':>7} {'runs':>5} {'s':>6}")
        for program, args in TARGETS:
            name = " ".join([program, *args])
            report = out / (name.replace(" ", "_") + ".json")
            p, seconds = sweep(program, args, report)
            if p.returncode not in (0, 1) or not report.exists():
                print(f"{name:<42} could not be swept (exit {p.returncode}):\n{p.stderr}")
                failed_targets += 1
                continue
            r = json.loads(report.read_text())
            print(f"{name:<42} {len(r['cells']):>6} {r['reached']:>8} {r['failed']:>7} "
                  f"{r['program_runs']:>5} {seconds:>6.1f}")
            for note in r["notes"]:
                print(f"{'':<42} note: {note}")
            failed_targets += p.returncode != 0
    print(f"total {time.monotonic() - total:.1f} s, {failed_targets} target(s) failed")
    return 1 if failed_targets else 0


if __name__ == "__main__":
    sys.exit(main())
