#!/usr/bin/python3
"""Boot-to-ready benchmark: boots the default guest N times (default 5) and
prints host seconds to "ready", the median, and the guest instruction count
at ready (which must be the same every time)."""
import os
import pathlib
import statistics
import sys

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))
sys.path.insert(0, str(BUILD / "python"))
import faultline  # noqa: E402


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times, counts = [], set()
    for i in range(runs):
        with faultline.Machine(faultline.MachineConfig.defaults()) as m:
            info = m.boot()
        times.append(info.ready_s)
        counts.add(info.icount_at_ready)
        print(f"boot {i + 1}: ready in {info.ready_s:.3f} s at instruction {info.icount_at_ready}")
    print(f"boot-to-ready median of {runs}: {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f})")
    print(f"icount_at_ready: {'identical' if len(counts) == 1 else 'DIFFERS'}: {sorted(counts)}")
    return 0 if len(counts) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
