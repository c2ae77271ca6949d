#!/usr/bin/python3
"""`faultline conformance pk` wall time (target: 60 s), boot included: runs
the CLI N times (default 3) and prints each run's host seconds and its
summary line, then the median."""
import os
import pathlib
import statistics
import subprocess
import sys
import time

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    times = []
    for i in range(runs):
        start = time.monotonic()
        p = subprocess.run([str(BUILD / "bin" / "faultline"), "conformance", "pk"],
                           capture_output=True, text=True)
        times.append(time.monotonic() - start)
        summary = p.stdout.splitlines()[-1] if p.stdout else p.stderr.strip()
        print(f"run {i + 1}: {times[-1]:.1f} s, exit {p.returncode}: {summary}")
        if p.returncode != 0:
            return 1
    print(f"conformance pk median of {runs}: {statistics.median(times):.1f} s "
          f"(min {min(times):.1f}, max {max(times):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
