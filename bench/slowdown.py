#!/usr/bin/python3
"""Slowdown benchmark: the faultline QEMU against the same QEMU 10.0.2 source
without its patches (built on first use: qemu-patches/build.sh OUT unpatched),
on the same icount workload, the built-in rseq-counter run as the guest's init.

Boot differs between the two (the fork reports TSC and APIC rates in CPUID
0x15, so the guest skips a busy-wait calibration), so the workload's time is
taken as the difference between a long run and a one-update run of the same
binary. The host is noisy (the same run varies by a second), so the three
setups take turns, RUNS rounds of each, and each time is the fastest of its
RUNS. Prints host seconds and the ratios to the unpatched QEMU of the
faultline QEMU with nothing armed and with one trigger armed on the
workload's hottest instruction (the start of the per-CPU add's sequence,
which every thread loops through, about 8 million executions):
  - in another address space (CR3 0): what arming costs the code it does
    not count, here the whole workload;
  - in the workload's own address space, at a hit count it never reaches
    (2^32 - 1): every execution is an arrival the device counts, the case
    a sweep's trigger is in. The workload's page-table root is read once
    from a run stopped while a vCPU is in user mode (PID 1 and its threads
    are the only user-mode code), and checked there by a trigger that
    fires; boot is deterministic, so it is the same in every run;
  - a kernel trigger at irqentry_enter, counted in every address space and
    never firing: every interrupt's entry is an arrival, and the kernel
    code sharing its page runs in TBs that end before the hook.

usage: slowdown.py [UPDATES (2000000)] [RUNS (3)]"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", ROOT / "build"))
PATCHED = BUILD / "qemu" / "build" / "qemu-system-x86_64"
UNPATCHED = BUILD / "qemu-unpatched" / "build" / "qemu-system-x86_64"
COUNTER = BUILD / "linux" / "initramfs" / "rseq-counter"
VMLINUX = BUILD / "linux" / "vmlinux"
sys.path.insert(0, str(BUILD / "python"))
import faultline  # noqa: E402

def qemu_argv(qemu, run_dir, init, faultline_devices):
    """The harness's machine (qemu_command_line) with 1 GiB and the workload
    (init: the guest program and its arguments) as init: when it exits the
    kernel panics, reboots at once by a triple fault (microvm has no reset
    register), and -no-reboot ends QEMU."""
    config = faultline.MachineConfig.defaults()
    config.qemu = str(qemu)
    config.cpus = 2
    config.memory_mib = 1024
    config.run_dir = str(run_dir)
    # norandmaps: the workload's stack and mappings at the same addresses in
    # every setup. Randomized, their place followed the guest's random
    # stream, which the faultline driver's start moves; in QEMU's
    # direct-mapped TLB some places make the hot pages evict each other,
    # and one setup ran 12% slower for the same instruction count.
    config.kernel_args = ["panic=-1", "reboot=t", "norandmaps", f"rdinit={init[0]}", "--",
                          *init[1:]]
    argv = faultline.qemu_command_line(config) + ["-no-reboot"]
    if faultline_devices:
        return argv
    # The unpatched QEMU has neither the mailbox nor the injection device.
    devices = {i for i in range(1, len(argv))
               if argv[i - 1] == "-device" and argv[i].startswith("faultline-")}
    return [arg for i, arg in enumerate(argv) if i not in devices and i + 1 not in devices]


def run_once(qemu, init, commands=(), faultline_devices=True):
    """Host seconds from 'cont' to QEMU's exit; commands: (QMP command,
    arguments) pairs run before it."""
    with tempfile.TemporaryDirectory() as run_dir:
        proc = subprocess.Popen(qemu_argv(qemu, run_dir, init, faultline_devices),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        qmp = faultline.QmpClient()
        qmp.connect(f"{run_dir}/qmp.sock")
        for command, arguments in commands:
            qmp.execute(command, arguments)
        # A blocking wait: Popen.wait(timeout) polls every 50 ms, coarser
        # than the differences measured here.
        watchdog = threading.Timer(600, proc.kill)
        watchdog.start()
        started = time.monotonic()
        qmp.execute("cont")
        proc.wait()
        elapsed = time.monotonic() - started
        watchdog.cancel()
        qmp.close()
        console = pathlib.Path(run_dir, "console.log").read_text(errors="replace")
        # PID 1's exit status is in the panic it causes: 0 is a clean run.
        if "Attempted to kill init! exitcode=0x00000000" not in console:
            raise RuntimeError(f"{qemu}: the workload did not finish cleanly:\n{console[-2000:]}"
                               f"{proc.stderr.read().decode()[-2000:]}")
        return elapsed


def workload_cr3(init, hot):
    """The page-table root of the workload run as init: sampled with the VM
    stopped until a vCPU is at CPL 3, then checked by arming a trigger at
    HOT in it that must fire."""
    with tempfile.TemporaryDirectory() as run_dir:
        proc = subprocess.Popen(qemu_argv(PATCHED, run_dir, init, True),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        qmp = faultline.QmpClient()
        qmp.connect(f"{run_dir}/qmp.sock")
        try:
            qmp.execute("cont")
            cr3s = set()
            while not cr3s:
                time.sleep(0.02)
                qmp.execute("stop")
                registers = qmp.execute("human-monitor-command",
                                        {"command-line": "info registers -a"})
                cr3s = {int(m.group(1), 16) for cpu in registers.split("CPU#")
                        if " CPL=3 " in cpu
                        for m in [re.search(r"CR3=([0-9a-f]+)", cpu)]}
                qmp.execute("cont")
            (cr3,) = cr3s
            qmp.execute("stop")
            qmp.execute("faultline-arm",
                        {"cr3": cr3, "entries": [{"vaddr": hot, "hit": 1000, "event": "none"}]})
            qmp.execute("cont")
            time.sleep(0.2)
            qmp.execute("stop")
            if not qmp.execute("query-faultline")["firings"]:
                raise RuntimeError(f"CR3 {cr3:#x} seen at CPL 3 is not the workload's: "
                                   "a trigger there did not fire")
            return cr3
        finally:
            qmp.close()
            proc.kill()
            proc.wait()


def compare(setups, init_of, n, runs, what):
    """Times each setup (name, QEMU, run_once arguments) on init_of(n) and
    init_of(1), RUNS rounds taking turns, and prints each workload time (the
    fastest long run minus the fastest one-iteration run) and its ratio to
    the first setup's."""
    times = {(name, k): [] for name, _, _ in setups for k in (n, 1)}
    for _ in range(runs):
        for name, qemu, kw in setups:
            for k in (n, 1):
                times[name, k].append(run_once(qemu, init_of(k), **kw))
    print(f"workload: {what} as init, 2 vCPUs, -icount shift=0; "
          f"fastest of {runs}, setups interleaved")
    base = None
    for name, _, _ in setups:
        long, short = min(times[name, n]), min(times[name, 1])
        base = base or long - short
        print(f"{name:34} workload {long - short:6.2f} s (run {long:6.2f} s - one-iteration run "
              f"{short:5.2f} s)  x{(long - short) / base:.2f}")


def build_unpatched():
    if not UNPATCHED.exists():
        subprocess.run([str(ROOT / "qemu-patches" / "build.sh"), str(BUILD / "qemu-unpatched"),
                        "unpatched"], check=True)


def main():
    updates = int(sys.argv[1]) if len(sys.argv) > 1 else 2000000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    build_unpatched()
    # The per-CPU add's sequence: its page holds the loops every thread runs.
    (hot,) = [cs.start for cs in faultline.rseq_critical_sections(str(COUNTER))
              if any(i.text.startswith("addq")
                     for i in faultline.instructions_of(str(COUNTER), cs))]
    init_of = lambda n: ["/bin/rseq-counter", "2", str(n)]  # noqa: E731
    elsewhere = {"cr3": 0, "entries": [{"vaddr": hot, "event": "none"}]}
    counted = {"cr3": workload_cr3(init_of(updates), hot),
               "entries": [{"vaddr": hot, "hit": 2**32 - 1, "event": "none"}]}
    in_kernel = {"cr3": 0, "entries": [{"vaddr": faultline.symbol_address(str(VMLINUX),
                                                                          "irqentry_enter"),
                                        "hit": 2**32 - 1, "event": "none", "kernel": True}]}
    setups = [
        ("unpatched QEMU", UNPATCHED, {"faultline_devices": False}),
        ("faultline QEMU, nothing armed", PATCHED, {}),
        ("armed, another address space", PATCHED,
         {"commands": [("faultline-arm", elsewhere)]}),
        ("armed, the workload's, never fires", PATCHED,
         {"commands": [("faultline-arm", counted)]}),
        ("armed in the kernel, never fires", PATCHED,
         {"commands": [("faultline-arm", in_kernel)]}),
    ]
    compare(setups, init_of, updates, runs, f"rseq-counter 2 {updates}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
