#!/usr/bin/python3
"""What uploading a program's closure costs: the C++ test program
(guest-kernel/programs/uploaded/closure/threads.cpp, g++ -O2 -pthread) and
the libraries it brings (libstdc++, libm, libgcc_s), each put in a booted
guest N times: host seconds per file and for the whole closure (median),
the bytes, and the guest instructions a put takes. A put is one mailbox
message: a file the harness writes and the mailbox device reads
(qemu-patches/0019), then the agent reads it a byte per port read (rep
insb) and writes the file.
usage: upload.py [--repeat N]"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", ROOT / "build"))
sys.path.insert(0, str(BUILD / "python"))
import faultline  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        program = pathlib.Path(out) / "threads"
        subprocess.run(["g++", "-O2", "-pthread", "-o", str(program),
                        str(ROOT / "guest-kernel" / "programs" / "uploaded" / "closure" /
                            "threads.cpp")], check=True)
        t0 = time.perf_counter()
        uploads = faultline.program_closure(str(program), "/tmp/threads")
        closure_s = time.perf_counter() - t0
        size = {u.guest_path: os.path.getsize(u.host_path) for u in uploads}
        with faultline.Machine(faultline.MachineConfig.defaults()) as m:
            m.boot()
            seconds = {u.guest_path: [] for u in uploads}
            icounts = {}
            totals = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                for u in uploads:
                    before_icount = m.icount()
                    before = time.perf_counter()
                    m.put_file(u.host_path, u.guest_path, u.mode)
                    seconds[u.guest_path].append(time.perf_counter() - before)
                    icounts[u.guest_path] = m.icount() - before_icount
                totals.append(time.perf_counter() - start)
            r = m.run("/tmp/threads", ["2"])
            assert r.exit_code == 0, r.stderr
    print(f"closure found in {closure_s * 1000:.1f} ms (before the boot)")
    print(f"{'guest path':42} {'bytes':>9} {'s':>7} {'MB/s':>6} {'guest insns':>12}")
    for path, times in seconds.items():
        s = statistics.median(times)
        print(f"{path:42} {size[path]:9} {s:7.3f} {size[path] / s / 1e6:6.1f} {icounts[path]:12}")
    total = statistics.median(totals)
    print(f"{'whole closure':42} {sum(size.values()):9} {total:7.3f} "
          f"{sum(size.values()) / total / 1e6:6.1f}   (median of {args.repeat})")


if __name__ == "__main__":
    main()
