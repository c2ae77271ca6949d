#!/usr/bin/python3
"""What a guest kernel costs: boot-to-ready (median of N boots, the kernels
interleaved so host load falls on each alike), the instruction count at
ready (the same on every boot, or it says DIFFERS), the size of vmlinux and
of the initramfs, and the guest memory in use at ready (MemTotal -
MemAvailable of /proc/meminfo).
usage: guest_cost.py [--boots N] [KERNEL_BUILD_DIR...]
  KERNEL_BUILD_DIR: what guest-kernel/build.sh OUT leaves (vmlinux,
  initramfs.cpio); default build/linux. Compare two: a kernel before and
  after a config change."""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", ROOT / "build"))
sys.path.insert(0, str(BUILD / "python"))
import faultline  # noqa: E402


def machine_config(kernel_dir):
    config = faultline.MachineConfig.defaults()
    config.kernel = str(kernel_dir / "vmlinux")
    config.initrd = str(kernel_dir / "initramfs.cpio")
    return config


def memory_in_use_kib(kernel_dir, show_file):
    with faultline.Machine(machine_config(kernel_dir)) as m:
        m.boot()
        m.put_file(str(show_file), "/tmp/show_file")
        fields = dict(line.split(":", 1) for line in
                      m.run("/tmp/show_file", ["/proc/meminfo"]).stdout.splitlines())
    kib = {k: int(v.split()[0]) for k, v in fields.items()}
    return kib["MemTotal"] - kib["MemAvailable"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boots", type=int, default=5)
    parser.add_argument("kernels", nargs="*", type=pathlib.Path, default=[BUILD / "linux"])
    args = parser.parse_args()
    times = {k: [] for k in args.kernels}
    counts = {k: set() for k in args.kernels}
    for _ in range(args.boots):
        for kernel in args.kernels:
            with faultline.Machine(machine_config(kernel)) as m:
                info = m.boot()
            times[kernel].append(info.ready_s)
            counts[kernel].add(info.icount_at_ready)
    with tempfile.TemporaryDirectory() as tmp:
        show_file = pathlib.Path(tmp) / "show_file"
        subprocess.run(["gcc", "-static", "-O2", "-o", str(show_file),
                        str(ROOT / "guest-kernel" / "programs" / "uploaded" / "show_file.c")],
                       check=True)
        for kernel in args.kernels:
            seen = sorted(counts[kernel])
            count = f"{seen[0]:,}" if len(seen) == 1 else f"DIFFERS {seen}"
            print(f"{kernel}:")
            print(f"  boot-to-ready median of {args.boots}: {statistics.median(times[kernel]):.3f} s "
                  f"(min {min(times[kernel]):.3f}, max {max(times[kernel]):.3f})")
            print(f"  instructions to ready: {count}")
            print(f"  vmlinux: {(kernel / 'vmlinux').stat().st_size / 2**20:.1f} MiB, initramfs: "
                  f"{(kernel / 'initramfs.cpio').stat().st_size / 2**20:.1f} MiB")
            print(f"  memory in use at ready: {memory_in_use_kib(kernel, show_file) / 1024:.1f} MiB")
    return 0 if all(len(c) == 1 for c in counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
