#!/usr/bin/python3
"""Failing-program sweep benchmark: the sweeps whose runs break the
program, where trials/s was lowest. Prints trials/s,
program runs and failed cells of

  - rseq-buggy (a commit before the end of its sequence), every event;
  - rseq-livelock (an abort before the add's commit leaves its CPU marked
    busy, and every later try there spins: the program never ends), every
    event;
  - the built-in rseq-counter on the kernel that counts the post-commit
    address inside the section (pytests/kernel-patches/
    rseq-post-commit-inside.patch), if built in
    build/kernel-under-test/rseq-post-commit-inside (pytests/test_conformance.py
    builds it; or KERNEL_PATCHES=... guest-kernel/build.sh DIR);

each N times (default 3), median. Run it on two builds (FAULTLINE_BUILD)
to compare."""
import json
import re
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))
POST_COMMIT_KERNEL = BUILD / "kernel-under-test" / "rseq-post-commit-inside"


def sweep(args, tmp, i):
    out = pathlib.Path(tmp) / f"sweep{i}.json"
    p = subprocess.run([str(BUILD / "bin" / "faultline"), "sweep", "--json", str(out), *args],
                       capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(p.stdout + p.stderr)
    report = json.loads(out.read_text())
    # A measurement, so in the printed table and not in the report.
    report["trials_per_s"] = float(re.search(r"([\d.]+) trials/s", p.stdout).group(1))
    return report


def measure(label, args, runs):
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            report = sweep(args, tmp, i)
            rates.append(report["trials_per_s"])
    print(f"{label}: {len(report['cells'])} trials in {report['program_runs']} program runs, "
          f"{report['failed']} failed; trials/s median of {runs}: {statistics.median(rates):.1f} "
          f"(min {min(rates):.1f}, max {max(rates):.1f})")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for program in ("rseq-buggy", "rseq-livelock"):
        measure(program, ["--binary", str(BUILD / "linux" / "initramfs" / program)], runs)
    if (POST_COMMIT_KERNEL / "vmlinux").exists():
        measure("rseq-counter on the post-commit-inside kernel",
                ["--kernel", str(POST_COMMIT_KERNEL / "vmlinux"),
                 "--initrd", str(POST_COMMIT_KERNEL / "initramfs.cpio")], runs)
    else:
        print(f"no kernel under test in {POST_COMMIT_KERNEL}: that sweep left out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
