"""The upstream suites nobody on this project wrote: Linux 6.12's rseq and
protection-keys selftests (tools/testing/selftests, built by their own
Makefiles into the guest's /selftests), run inside the guest. The host has
no PKU: these pass only because the guest has it. Every upstream case is its
own result."""
import pytest

import upstream

# run_param_test.sh runs 1000 repetitions and 10000-iteration delay loops;
# under TCG that is hours. The argument sets and thread counts stay theirs.
REPS = 100
LOOPS = 100
# Guest time a run may take before the agent kills it (a hang is a failure).
BUDGET_MS = 60_000
GUEST_CPUS = 2

RSEQ_PROGRAMS = upstream.rseq_programs()
PARAM_CASES = upstream.rseq_param_cases(GUEST_CPUS, REPS, LOOPS)
PROTECTION_KEYS = upstream.pkey_tests_table("protection_keys")
SIGHANDLER_TESTS = upstream.pkey_tests_table("pkey_sighandler_tests")


def outcome(r):
    return f"exit {r.exit_code}{' (signal)' if r.signaled else ''}" \
           f"{' (budget spent)' if r.timed_out else ''}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"


def test_the_guest_has_the_cpus_the_cases_assume(boot_info):
    assert boot_info.cpus == GUEST_CPUS


def test_basic_test(machine):
    r = machine.run("/selftests/rseq/basic_test", budget_ms=BUDGET_MS)
    assert r.exit_code == 0 and not r.signaled, outcome(r)
    assert "testing current cpu" in r.stdout


@pytest.fixture(scope="module")
def percpu_ops(machine):
    return {p: machine.run(f"/selftests/rseq/{p}", budget_ms=BUDGET_MS)
            for p in ("basic_percpu_ops_test", "basic_percpu_ops_mm_cid_test")}


@pytest.mark.parametrize("program", ["basic_percpu_ops_test", "basic_percpu_ops_mm_cid_test"])
@pytest.mark.parametrize("case", ["spinlock", "percpu_list"])
def test_basic_percpu_ops(percpu_ops, program, case):
    # It prints each case's name before running it and aborts on a failure:
    # a case passed when the program completed or went on to the next one.
    r = percpu_ops[program]
    printed = r.stdout.split()
    completed = r.exit_code == 0 and not r.signaled
    assert case in printed, outcome(r)
    assert completed or printed[-1] != case, outcome(r)


@pytest.mark.parametrize("program", [p for p in RSEQ_PROGRAMS if p.startswith("param_test")])
def test_param_test_on_its_own(machine, program):
    # kselftest runs these without arguments too (200 threads, 5000
    # repetitions of the spinlock test): the thread count stays, -r scales.
    r = machine.run(f"/selftests/rseq/{program}", ["-r", str(REPS)], budget_ms=BUDGET_MS)
    assert r.exit_code == 0 and not r.signaled, outcome(r)


@pytest.mark.parametrize("program, args", [c[1:] for c in PARAM_CASES],
                         ids=[c[0] for c in PARAM_CASES])
def test_run_param_test(machine, program, args):
    r = machine.run(program, args, budget_ms=BUDGET_MS)
    assert r.exit_code == 0 and not r.signaled, outcome(r)


def test_every_rseq_program_is_run():
    assert set(RSEQ_PROGRAMS) == {"basic_test", "basic_percpu_ops_test",
                                  "basic_percpu_ops_mm_cid_test"} | {
        p for p in RSEQ_PROGRAMS if p.startswith("param_test")}
    assert len(PARAM_CASES) == 37 * 8 * 4


@pytest.fixture(scope="module")
def protection_keys(pk_machine):
    # Root, as kselftest runs it: otherwise it leaves out its hugetlb test.
    r = pk_machine.run("/selftests/mm/protection_keys_64", budget_ms=BUDGET_MS, run_as_root=True)
    return r, upstream.protection_keys_outcomes(r.stdout, r.exit_code, PROTECTION_KEYS)


# One worker runs the suite once per machine, for all of its cases.
@pytest.mark.xdist_group("protection_keys")
@pytest.mark.parametrize("name", PROTECTION_KEYS)
def test_protection_keys(protection_keys, name):
    r, outcomes = protection_keys
    assert "has pkeys: 1" in r.stdout, outcome(r)
    assert outcomes[name] == "passed", outcome(r)


@pytest.fixture(scope="module")
def sighandler_tests(pk_machine):
    r = pk_machine.run("/selftests/mm/pkey_sighandler_tests_64", budget_ms=BUDGET_MS)
    return r, upstream.tap_outcomes(r.stdout)


@pytest.mark.xdist_group("pkey_sighandler_tests")
@pytest.mark.parametrize("name", SIGHANDLER_TESTS)
def test_pkey_sighandler_tests(sighandler_tests, name):
    r, outcomes = sighandler_tests
    if outcomes.get(name) == "skip":
        pytest.skip(f"{name} skipped itself")
    assert outcomes.get(name) == "ok", outcome(r)


def test_pkey_sighandler_tests_report_their_plan(sighandler_tests):
    r, outcomes = sighandler_tests
    assert f"1..{len(SIGHANDLER_TESTS)}" in r.stdout and r.exit_code == 0, outcome(r)
