#!/usr/bin/python3
"""Boot-to-ready benchmark: N rounds (default 5), each a boot of the default
guest and a load of its state from the boot cache (a fresh cache directory
filled first), interleaved; prints host seconds to "ready" of each, their
medians, and the guest instruction count at ready (which must be the same
every time, booted or loaded). Then whole CLI processes, as a user waits
for them: `faultline run` of a short guest program and `faultline sweep`
of the built-in program, booting (--no-boot-cache) and loading."""
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))
sys.path.insert(0, str(BUILD / "python"))
import faultline  # noqa: E402

CLI = BUILD / "bin" / "faultline"
COMMANDS = {
    "run -- /bin/rseq-counter 1 1": ["run", "--", "/bin/rseq-counter", "1", "1"],
    "sweep (built-in program)": ["sweep"],
}


def ready(cache_dir):
    config = faultline.MachineConfig.defaults()
    config.boot_cache_dir = cache_dir
    with faultline.Machine(config) as m:
        info = m.boot()
    if info.boot_cache_note:
        print(info.boot_cache_note)
    return info


def whole_process(args, cache_dir):
    env = dict(os.environ, FAULTLINE_CACHE=cache_dir)
    start = time.monotonic()
    p = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True)
    took = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"faultline {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return took


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as cache:
        ready(cache + "/boot")  # fills it
        booted, loaded, counts = [], [], set()
        for i in range(runs):
            b, l = ready(""), ready(cache + "/boot")
            assert not b.from_boot_cache and l.from_boot_cache
            booted.append(b.ready_s)
            loaded.append(l.ready_s)
            counts |= {b.icount_at_ready, l.icount_at_ready}
            print(f"round {i + 1}: booted in {b.ready_s:.3f} s, loaded in {l.ready_s:.3f} s")
        print(f"boot-to-ready median of {runs}: booted {statistics.median(booted):.3f} s "
              f"(min {min(booted):.3f}, max {max(booted):.3f}), "
              f"loaded {statistics.median(loaded):.3f} s "
              f"(min {min(loaded):.3f}, max {max(loaded):.3f})")
        print(f"icount_at_ready: {'identical' if len(counts) == 1 else 'DIFFERS'}: {sorted(counts)}")
        for name, args in COMMANDS.items():
            whole_process(args, cache)  # the cache is the one filled above
            with_boot, with_load = [], []
            for _ in range(runs):
                with_boot.append(whole_process([args[0], "--no-boot-cache", *args[1:]], cache))
                with_load.append(whole_process(args, cache))
            print(f"faultline {name}, whole process, median of {runs}: booting "
                  f"{statistics.median(with_boot):.3f} s, loading {statistics.median(with_load):.3f} s")
    return 0 if len(counts) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
