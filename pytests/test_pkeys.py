"""pkey_get/pkey_set (guest-kernel/patches/0002) and the pkey watchdog
(0003), checked from inside the guest by /bin/pkey-syscalls: one pytest
result per check it makes."""
import pytest

from conftest import check_report, read_on_a_fresh_boot

CHECKS = [
    "get_allocated_key", "get_key_0", "get_unallocated_key_ebadf", "set_unallocated_key_ebadf",
    "get_negative_key_einval", "get_key_16_einval", "set_key_16_einval", "get_flags_einval",
    "set_flags_einval", "set_unknown_rights_einval", "round_trip_against_rdpkru",
    "get_sees_wrpkru", "access_allowed", "disable_access_faults_pkuerr",
    "disable_write_faults_writes_only", "access_allowed_again", "calls_do_not_wait_for_mmap_lock",
]
WATCHDOG_CHECKS = [
    "watchdog_switch", "rogue_wrpkru_took_effect", "watchdog_resets_unallocated_key",
    "watchdog_counts_resets", "watchdog_leaves_allocated_key", "watchdog_closes_freed_key",
    "watchdog_closes_key_freed_by_another_thread", "watchdog_after_cpu_hotplug",
]


@pytest.fixture(scope="module")
def report(pk_machine):
    # Root: it switches the watchdog in debugfs and takes CPU 1 offline in sysfs.
    return check_report(pk_machine, "/bin/pkey-syscalls", ["watchdog"], run_as_root=True)


@pytest.mark.parametrize("name", CHECKS + WATCHDOG_CHECKS)
def test_check(report, name):
    _, lines = report
    assert lines.get(name) == "ok", lines.get(name, "not reported")


def test_the_program_reports_exactly_these_checks(report):
    r, lines = report
    assert sorted(lines) == sorted(CHECKS + WATCHDOG_CHECKS), r.stdout
    assert r.exit_code == 0


@pytest.mark.parametrize("kernel_args, expected", [([], "0"), (["pkey_watchdog_ms=7"], "7")])
def test_watchdog_is_off_unless_the_command_line_turns_it_on(host_programs, kernel_args,
                                                            expected):
    ms = read_on_a_fresh_boot(host_programs, kernel_args, "/sys/kernel/debug/x86/pkey_watchdog_ms")
    assert ms.strip() == expected
