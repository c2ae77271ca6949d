"""Protection keys for supervisor pages in the guest kernel
(guest-kernel/patches/0006-0012): the kernel's own cases (debugfs pks/test)
run by /bin/pks-selftest, one pytest result each, on a boot of their own
(one case oopses a kernel thread on purpose); the kernel reports of that
run are exactly the ones its cases make."""
import re
import subprocess

import pytest

import faultline
from conftest import CLI, Machine, check_report, read_on_a_fresh_boot

CASES = [
    "default_rights_on_every_cpu", "noaccess_blocks_read_and_write",
    "readonly_blocks_write_allows_read", "unprotect_reprotect",
    "per_task_rights_survive_context_switch", "interrupt_runs_with_default_rights",
    "softirq_runs_with_default_rights", "kmap_opens_for_the_mapping_context",
    "kmap_concurrent", "strict_kmapped_page_denies_other_contexts",
    "relaxed_unmapped_page_dies", "fault_on_unmapped_page_of_a_mapped_key_dies",
    "relaxed_opens_for_the_faulting_context_only", "irq_kunmap_keeps_what_the_irq_opened",
    "kunmap_in_another_task_keeps_its_rights",
    "exception_rights_are_its_own", "temporary_opening_ends_at_any_switch",
    "compound_page_is_one_unit", "kmap_at_publication_is_counted",
    "kmap_in_a_release_window_keeps_the_page", "release_twice_at_once",
    "freed_key_is_closed_everywhere", "nmi_int3_debug_run_with_the_default",
    "cpu_hotplug_gives_the_default_back", "softirqs_run_with_the_default_either_way",
    "syscalls_keep_the_tasks_rights", "return_to_user_drops_a_temporary_opening",
    "child_does_not_inherit_an_opened_key", "strict_fault_oopses",
]
# The run's kernel reports, in order: one warning per relaxed case that
# reaches a page kmapped elsewhere (each with a key of its own: once per
# key; a page nobody mapped dies quietly through the exception tables),
# then the strict case's oops.
RELAXED_WARNING = r"WARNING: CPU: \d+ PID: \d+ at \S*arch/x86/mm/pks\.c:\d+ pks_fault\+0x[0-9a-f]+/0x[0-9a-f]+"
STRICT_BUG = r"BUG: unable to handle page fault for address: (?P<address>[0-9a-f]{16})"
EXPECTED_REPORTS = [
    RELAXED_WARNING,
    RELAXED_WARNING,
    RELAXED_WARNING,
    STRICT_BUG,
    r"Oops: Oops: 0021 \[#1\] PREEMPT SMP",
]


# The whole run is 24 M guest instructions, seconds; a minute on a loaded host.
SELFTEST_TIMEOUT_S = 60


def reports_match(reports):
    return len(reports) == len(EXPECTED_REPORTS) and all(
        re.search(want, line) for want, line in zip(EXPECTED_REPORTS, reports))


@pytest.fixture(scope="module")
def selftest():
    """The whole run on a fresh guest: (result, {case: verdict}, kernel
    reports, console, machine)."""
    config = faultline.MachineConfig.defaults()
    config.command_timeout_s = SELFTEST_TIMEOUT_S
    with faultline.Machine(config) as m:
        m.boot()
        r, lines = check_report(m, "/bin/pks-selftest", [], run_as_root=True)
        reports = m.kernel_reports()
        # Answered for by test_kernel_reports_are_the_relaxed_warnings_and_the_oops.
        Machine.reports_checked[m] = len(reports)
        yield r, lines, reports, m.console(), m


@pytest.mark.parametrize("name", CASES)
def test_case(selftest, name):
    _, lines, _, _, _ = selftest
    assert lines.get(name) == "ok", lines.get(name, "not reported")


def test_mode_refuses_unknown_names(selftest):
    _, lines, _, _, _ = selftest
    assert lines.get("mode_refuses_unknown_names") == "ok"


def test_the_program_reports_exactly_these_cases(selftest):
    r, lines, _, _, _ = selftest
    assert list(lines) == ["mode_refuses_unknown_names"] + CASES, r.stdout
    assert r.exit_code == 0


def test_kernel_reports_are_the_relaxed_warnings_and_the_oops(selftest):
    _, _, reports, _, _ = selftest
    assert reports_match(reports), "\n".join(reports)


def test_strict_oops_names_the_key_and_the_address(selftest):
    _, _, reports, console, _ = selftest
    bug = re.search(STRICT_BUG, reports[EXPECTED_REPORTS.index(STRICT_BUG)])
    named = re.findall(r"pks: read of ([0-9a-f]{16}) denied by key (\d+) \(PKRS ([0-9a-f]{8})\)",
                       console)
    # A kthread of its own: the default rights, every key but 0 closed.
    assert named == [(bug.group("address"), named[0][1], "55555554")], console
    assert 1 <= int(named[0][1]) <= 15
    assert "#PF: error_code(0x0021) - protection keys violation" in console


def test_relaxed_mode_warns_once_per_key(selftest):
    _, _, _, console, _ = selftest
    warned = re.findall(r"pks: relaxed mode: (read|write) of [0-9a-f]{16} at \S+ by (.+?) denied by "
                        r"key (\d+) \(PKRS 55555554\), the page is kmapped 1 times elsewhere: "
                        r"key opened for this context until it is left", console)
    # Each relaxed case faults its key from one context or more; one warning
    # each, naming the first: an interrupt, a kernel thread of the case, then
    # the task that writes the case (its syscall).
    assert [access for access, _, _ in warned] == ["read", "read", "read"], console
    assert warned[0][1] == "an interrupt" and re.fullmatch(r"pks_test/\d+", warned[1][1]), console
    assert warned[2][1] == "pks-selftest", console


def test_one_case_by_name(selftest):
    _, _, _, _, m = selftest
    r = m.run("/bin/pks-selftest", ["kmap_opens_for_the_mapping_context"], run_as_root=True)
    assert (r.stdout, r.exit_code) == ("kmap_opens_for_the_mapping_context: ok\n", 0)


def test_an_unknown_case_is_refused(selftest):
    _, _, _, _, m = selftest
    r = m.run("/bin/pks-selftest", ["no_such_case"], run_as_root=True)
    assert (r.stdout, r.exit_code) == ("", 2)


@pytest.mark.parametrize("kernel_args, expected", [([], "strict"), (["pks.mode=relaxed"], "relaxed")])
def test_mode_is_strict_unless_the_command_line_says_relaxed(host_programs, kernel_args,
                                                            expected):
    mode = read_on_a_fresh_boot(host_programs, kernel_args, "/sys/kernel/debug/pks/mode")
    assert mode == expected + "\n"


def test_the_cli_runs_every_case_as_a_user_does():
    # No --root: the program is set-user-ID root, as debugfs needs.
    p = subprocess.run([str(CLI), "run", "--timeout", str(SELFTEST_TIMEOUT_S), "--",
                        "/bin/pks-selftest"],
                       capture_output=True, text=True, timeout=SELFTEST_TIMEOUT_S + 60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == [f"{name}: ok" for name in ["mode_refuses_unknown_names"] + CASES]
    reports = re.findall(r"^faultline: kernel report: (.*)$", p.stderr, re.M)
    assert reports_match(reports), p.stderr


# The fault cases as QEMU saw them: every supervisor access a key denied is
# one pk_fault at CPL 0 with U/S=0, PK=1, P=1 and W/R as the access, on the
# case's page, and the PKRS the check used denies it.
PF_P, PF_W, PF_U, PF_PK = 0x1, 0x2, 0x4, 0x20
FAULT_CASES = {
    # case: the accesses it makes that a key denies, in order
    "noaccess_blocks_read_and_write": ["read", "write"],
    "readonly_blocks_write_allows_read": ["write"],
    "unprotect_reprotect": ["read", "write"],
}


@pytest.fixture(scope="module")
def traced():
    with faultline.Machine(faultline.MachineConfig.defaults()) as m:
        m.boot()
        yield m


@pytest.mark.parametrize("case", FAULT_CASES)
def test_each_denied_access_is_one_supervisor_pk_fault(traced, case):
    traced.trace_pk(["pk_fault", "pkrs_write"])
    r = traced.run("/bin/pks-selftest", [case], run_as_root=True)
    assert r.exit_code == 0, r.stdout + r.stderr
    events = traced.pk_events()
    traced.trace_pk([])
    faults = [e for e in events if e.kind == "pk_fault"]
    assert [e.access for e in faults] == FAULT_CASES[case]
    for e in faults:
        want = PF_P | PF_PK | (PF_W if e.access == "write" else 0)
        assert (e.cpl, e.error_code, e.error_code & PF_U) == (0, want, 0), hex(e.error_code)
        assert 1 <= e.pkey <= 15
        ad, wd = 1 << (2 * e.pkey), 1 << (2 * e.pkey + 1)
        assert e.pkr & (ad if e.access == "read" else ad | wd)
    # All on the one page the case protects, by one key.
    assert len({e.addr >> 12 for e in faults}) == 1 and len({e.pkey for e in faults}) == 1
    # The rights changes the case made reached the register.
    assert any(e.kind == "pkrs_write" for e in events)
