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
# The exactly checked vectors, the memory under them and so their results
# depend on the seed alone: the same on every run, on either kernel.
EXACTLY_CHECKED_SEED_1 = ("cpu_opv exactly checked: 0=5917 1=815 2=486 3=288 4=145 "
                          "EAGAIN=230 EFAULT=684 EINVAL=27 (8592)")


@pytest.fixture(scope="module")
def debug_machine():
    config = faultline.MachineConfig.defaults()
    config.kernel = str(DEBUG_BUILD / "bzImage")
    config.initrd = str(DEBUG_BUILD / "initramfs.cpio")
    # Every message on the console, not only warnings and worse. The pkey
    # watchdog runs every millisecond, racing the fuzzer's pkey_set calls.
    config.kernel_args = ["ignore_loglevel", "pkey_watchdog_ms=1"]
    config.boot_timeout_s = 300
    config.command_timeout_s = 1800
    with faultline.Machine(config) as m:
        m.boot()
        yield m


def run_clean(machine, program, args, run_as_root=False):
    """Runs program; its result and what the console printed meanwhile."""
    before = len(machine.console())
    r = machine.run(program, args, run_as_root=run_as_root)
    printed = machine.console()[before:]
    assert faultline.kernel_reports(printed) == [], printed[-6000:]
    return r


def test_the_checkers_are_on(debug_machine):
    console = debug_machine.console()
    assert "KernelAddressSanitizer initialized" in console
    assert "Lock dependency validator" in console


def test_boot_reports_nothing(debug_machine):
    console = debug_machine.console()
    assert debug_machine.kernel_reports() == [], console[-6000:]


# The first two as root: CPU hotplug through sysfs, the watchdog in debugfs.
@pytest.mark.parametrize("program, args, run_as_root", [
    ("/bin/cpu-opv", ["offline"], True),
    ("/bin/pkey-syscalls", ["watchdog"], True),
    ("/bin/cpu-op-counter", ["2", "100000", "1", "2", "100"], False),
], ids=["cpu-opv", "pkey-syscalls", "cpu-op-counter"])
def test_checks_under_the_debug_kernel(debug_machine, program, args, run_as_root):
    r = run_clean(debug_machine, program, args, run_as_root)
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
    # A quarter of the cpu_opv calls were also checked exactly against the
    # user-space model (cpu-op-model.c): each outcome came up, none mismatched.
    exact = re.search(r"^cpu_opv exactly checked: (.*) \((\d+)\)$", r.stdout, re.M)
    assert exact and int(exact.group(2)) > 0, r.stdout
    for outcome in [r"\b0=", r"\b[1-9]\d*=", r"\bEINVAL=", r"\bEFAULT=", r"\bEAGAIN="]:
        assert re.search(outcome, exact.group(1)), exact.group(0)
    assert re.search(r"^mismatches: 0$", r.stdout, re.M), r.stdout
    if (CALLS, SEED) == (100000, 1):
        assert exact.group(0) == EXACTLY_CHECKED_SEED_1


def test_threads_exiting_under_the_watchdog(debug_machine):
    # The watchdog's tick queues its check as task work on whatever thread it
    # finds in user mode or a system call; a thread in exit() before
    # PF_EXITING is set runs that work from exit_task_work(), after exit_mm().
    # Three guest seconds of nothing but thread start and exit, ticks at 1 ms.
    r = run_clean(debug_machine, "/bin/thread-churn", ["3000"])
    assert r.exit_code == 0, r.stdout + r.stderr
    assert int(re.search(r"^threads (\d+)$", r.stdout, re.M).group(1)) > 0
