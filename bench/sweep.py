#!/usr/bin/python3
"""Sweep benchmark: runs the built-in every-instruction sweep N times
(default 3) in one boot each and prints trials per second; the figure the
sweep itself measures (boot and the baseline run excluded).
usage: sweep.py [--runs N] [KERNEL_BUILD_DIR...]
  KERNEL_BUILD_DIR: what guest-kernel/build.sh OUT leaves (vmlinux,
  initramfs.cpio); default the built tree's. Given two, the runs alternate
  between them so host load falls on each alike: a kernel before and after
  a config change."""
import argparse
import json
import re
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))


def sweep(kernel_dir, out):
    """The sweep's JSON report, or None after printing why it failed."""
    command = [str(BUILD / "bin" / "faultline"), "sweep", "--json", str(out)]
    if kernel_dir:
        command += ["--kernel", str(kernel_dir / "vmlinux"), "--initrd", str(kernel_dir / "initramfs.cpio")]
    p = subprocess.run(command, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout + p.stderr)
        return None
    report = json.loads(out.read_text())
    # A measurement, so in the printed table and not in the report.
    report["trials_per_s"] = float(re.search(r"([\d.]+) trials/s", p.stdout).group(1))
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("kernels", nargs="*", type=pathlib.Path)
    args = parser.parse_args()
    kernels = args.kernels or [None]
    rates = {k: [] for k in kernels}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for kernel in kernels:
                report = sweep(kernel, pathlib.Path(tmp) / "sweep.json")
                if report is None:
                    return 1
                rates[kernel].append(report["trials_per_s"])
                print(f"sweep {i + 1}{'' if kernel is None else f' ({kernel})'}: {len(report['cells'])} "
                      f"trials in {report['program_runs']} program runs, {report['trials_per_s']:.1f} trials/s")
    for kernel in kernels:
        print(f"trials/s median of {args.runs}{'' if kernel is None else f' ({kernel})'}: "
              f"{statistics.median(rates[kernel]):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
