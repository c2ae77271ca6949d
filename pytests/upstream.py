"""The kernel's own selftests as lists of cases, read from the 6.12 tree the
guest was built from, and their outputs read back as per-case outcomes."""
import re
import shlex

from conftest import BUILD

SELFTESTS = BUILD / "linux" / "src" / "tools" / "testing" / "selftests"


def _bash_array(script, name, nth=0):
    arrays = re.findall(rf"^\s*{name}=\((.*?)^\s*\)", script, re.M | re.S)
    return shlex.split(arrays[nth])


def rseq_param_cases(cpus, reps, loops):
    """run_param_test.sh's runs as (id, program, args): each test type of
    TEST_LIST under each binary of do_tests, with default parameters, loop
    injection at every point, then yield, kill and sleep injection at the
    blocking points. reps and loops replace its REPS and NR_LOOPS (the
    scaling for TCG); its thread count (a multiple of the CPUs) stays."""
    script = (SELFTESTS / "rseq" / "run_param_test.sh").read_text()
    tests = _bash_array(script, "TEST_LIST")
    names = _bash_array(script, "TEST_NAME")
    loop_points = _bash_array(script, "INJECT_LIST", 0)
    blocking_points = _bash_array(script, "INJECT_LIST", 1)
    threads = cpus * int(re.search(r"^NR_THREADS=\$\(\((\d+)\*\$\{NR_CPUS\}\)\)$", script,
                                   re.M).group(1))
    binaries = re.findall(r"^\s*\./(param_test\w*) \$\{TEST_LIST", script, re.M)
    blocking = [shlex.split(m) for m in re.findall(r"^inject_blocking (.*)$", script, re.M)]
    assert tests and len(tests) == len(names) and loop_points and blocking_points
    assert binaries and blocking

    injections = [("default", [])]
    injections += [(f"loop{p}", [f"-{p}", str(loops)]) for p in loop_points]
    for extra in blocking:
        tag = "".join(a.lstrip("-") for a in extra)
        injections += [(f"{tag}-at{p}", [f"-{p}", "-1"] + extra) for p in blocking_points]
    cases = []
    for inject_id, inject_args in injections:
        for test, name in zip(tests, names):
            for binary in binaries:
                args = shlex.split(test) + ["-r", str(reps), "-t", str(threads)] + inject_args
                case_id = f"{binary}/{name.replace(' ', '_')}/{inject_id}"
                cases.append((case_id, f"/selftests/rseq/{binary}", args))
    return cases


def rseq_programs():
    """The rseq Makefile's TEST_GEN_PROGS: what kselftest runs on its own."""
    makefile = (SELFTESTS / "rseq" / "Makefile").read_text()
    programs = re.search(r"^TEST_GEN_PROGS = ((?:.*\\\n)*.*)$", makefile, re.M).group(1)
    return programs.replace("\\\n", " ").split()


def pkey_tests_table(program):
    """The test functions in mm/<program>.c's pkey_tests[] array, in order."""
    source = (SELFTESTS / "mm" / f"{program}.c").read_text()
    table = re.search(r"pkey_tests\[\]\)\([^)]*\) = \{(.*?)\};", source, re.S)
    return re.findall(r"^\s*(test_\w+),?\s*$", table.group(1), re.M)


def protection_keys_outcomes(stdout, exit_code, names):
    """{name: "passed" | "failed" | "not run"} from protection_keys' report.
    It runs the tests in order, many iterations, printing a PASSED line for
    each and aborting at the first failure: the test after the last PASSED
    line is the one that failed."""
    if exit_code == 0 and "done (all tests OK)" in stdout:
        return {name: "passed" for name in names}
    passed = [int(nr) for nr in re.findall(r"^test\s+(\d+) PASSED", stdout, re.M)]
    failing = (passed[-1] + 1) % len(names) if passed else 0
    return {name: "failed" if nr == failing else "passed" if nr in passed else "not run"
            for nr, name in enumerate(names)}


def tap_outcomes(stdout):
    """{name: "ok" | "not ok" | "skip"} from a kselftest TAP report."""
    outcomes = {}
    for status, name, directive in re.findall(r"^(ok|not ok) \d+ (\S+)(.*)$", stdout, re.M):
        outcomes[name] = "skip" if "# SKIP" in directive else status
    return outcomes
