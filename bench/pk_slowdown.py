#!/usr/bin/python3
"""Protection-key slowdown benchmark: what recording PK events
(qemu-patches/0013) costs, on a workload made of PKRU writes: `pk-events loop
N` (guest-kernel/programs/pk-events.c, 2N WRPKRUs, each flipping a key's
bits) run as the guest's init, as bench/slowdown.py runs its rseq workload
(the same machine, timing and interleaving; the unpatched QEMU is built on
first use).

Setups: the same QEMU 10.0.2 source without the patches; the faultline QEMU
with the trace off (the default); and with it on, every kind, every address
space, a limit above the 2N records it keeps.

usage: pk_slowdown.py [N (500000)] [RUNS (3)]"""
import sys

from slowdown import PATCHED, UNPATCHED, build_unpatched, compare

# faultline-pk-trace's largest limit: every record of the default run is kept.
TRACE_LIMIT = 1 << 22


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if 2 * n > TRACE_LIMIT:
        sys.exit(f"pk_slowdown.py: at most {TRACE_LIMIT // 2} iterations, or records are lost")
    build_unpatched()
    trace_on = {"enable": True, "limit": TRACE_LIMIT}
    setups = [
        ("unpatched QEMU", UNPATCHED, {"faultline_devices": False}),
        ("faultline QEMU, PK trace off", PATCHED, {}),
        ("faultline QEMU, PK trace on", PATCHED,
         {"commands": [("faultline-pk-trace", trace_on)]}),
    ]
    compare(setups, lambda k: ["/bin/pk-events", "loop", str(k)], n, runs,
            f"pk-events loop {n} ({2 * n} WRPKRUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
