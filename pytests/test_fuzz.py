"""Robustness of the guest's own system calls: the debug flavour of the guest
kernel (KASAN, lockdep, atomic-sleep and preemption checks, DEBUG_VM,
DEBUG_RSEQ; guest-kernel/faultline-debug.config) runs their checks and a
bounded random-argument fuzz of pkey_get, pkey_set and cpu_opv. Any report
of the kernel's checkers on the console fails the run that printed it.

FAULTLINE_FUZZ_CALLS (default 100000) and FAULTLINE_FUZZ_SEED (default 1)
set the fuzz; `make fuzz` runs ten times the calls."""
import os
import re

import pytest

import faultline
from conftest import BUILD

DEBUG_BUILD = BUILD / "linux-debug"
CALLS = int(os.environ.get("FAULTLINE_FUZZ_CALLS", "100000"))
SEED = int(os.environ.get("FAULTLINE_FUZZ_SEED", "1"), 0)
# What KASAN, lockdep, the BUG/WARN macros and the oops path print.
REPORT = re.compile(r"BUG:|WARNING:|Oops|KASAN")


@pytest.fixture(scope="module")
def debug_machine():
    config = faultline.MachineConfig.defaults()
    config.kernel = str(DEBUG_BUILD / "bzImage")
    config.initrd = str(DEBUG_BUILD / "initramfs.cpio")
    # The default command line is quiet: let warnings through. The pkey
    # watchdog runs every millisecond, racing the fuzzer's pkey_set calls.
    config.kernel_args = ["ignore_loglevel", "pkey_watchdog_ms=1"]
    config.boot_timeout_s = 300
    config.command_timeout_s = 1800
    with faultline.Machine(config) as m:
        m.boot()
        yield m


def reports(console):
    return [line for line in console.splitlines() if REPORT.search(line)]


def run_clean(machine, program, args):
    """Runs program; its result and what the console printed meanwhile."""
    before = len(machine.console())
    r = machine.run(program, args)
    printed = machine.console()[before:]
    assert reports(printed) == [], printed[-6000:]
    return r


def test_the_checkers_are_on(debug_machine):
    console = debug_machine.console()
    assert "KernelAddressSanitizer initialized" in console
    assert "Lock dependency validator" in console


def test_boot_reports_nothing(debug_machine):
    console = debug_machine.console()
    assert reports(console) == [], console[-6000:]


@pytest.mark.parametrize("program, args", [
    ("/bin/cpu-opv", ["offline"]),
    ("/bin/pkey-syscalls", ["watchdog"]),
    ("/bin/cpu-op-counter", ["2", "100000", "1", "2", "100"]),
], ids=["cpu-opv", "pkey-syscalls", "cpu-op-counter"])
def test_checks_under_the_debug_kernel(debug_machine, program, args):
    r = run_clean(debug_machine, program, args)
    assert r.exit_code == 0, r.stdout + r.stderr


def test_random_arguments(debug_machine):
    r = run_clean(debug_machine, "/bin/syscall-fuzz", [str(CALLS), str(SEED)])
    assert r.exit_code == 0, r.stdout + r.stderr
    made = int(re.search(r"^calls (\d+)", r.stdout, re.M).group(1))
    assert made >= CALLS
    per_call = dict(re.findall(r"^(pkey_get|pkey_set|cpu_opv): .*\((\d+)\)$", r.stdout, re.M))
    assert sorted(per_call) == ["cpu_opv", "pkey_get", "pkey_set"], r.stdout
    # Every call both succeeded and failed: the fuzz reached past the checks.
    for name in per_call:
        line = re.search(rf"^{name}: (.*)$", r.stdout, re.M).group(1)
        assert re.search(r"\b0=\d+", line) and re.search(r"\bE[A-Z]+=\d+", line), line


def test_threads_exiting_under_the_watchdog(debug_machine):
    # The watchdog's tick queues its check as task work on whatever thread it
    # finds in user mode or a system call; a thread in exit() before
    # PF_EXITING is set runs that work from exit_task_work(), after exit_mm().
    # Three guest seconds of nothing but thread start and exit, ticks at 1 ms.
    r = run_clean(debug_machine, "/bin/thread-churn", ["3000"])
    assert r.exit_code == 0, r.stdout + r.stderr
    assert int(re.search(r"^threads (\d+)$", r.stdout, re.M).group(1)) > 0
