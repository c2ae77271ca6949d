"""The sweep on code as users build it: gcc's defaults (PIE, dynamic libc),
-static-pie and -static, critical sections in a shared library; cells the
workload never reaches, and a signal the program does not catch."""
import json
import subprocess

import pytest

from conftest import GUEST_PROGRAMS, ROOT, cli

COUNTER = ROOT / "guest-kernel" / "programs" / "rseq-counter.c"
LIB = ROOT / "guest-kernel" / "lib"
BUILDS = {"pie": [], "static-pie": ["-static-pie"], "static": ["-static"]}


def gcc(out, *args):
    subprocess.run(["gcc", "-O2", "-pthread", f"-I{LIB}", "-o", str(out), *map(str, args)],
                   check=True)
    return out


def sweep(tmp_path, name, *args):
    report = tmp_path / f"{name}.json"
    p = cli("sweep", "--json", str(report), *args)
    return p, (json.loads(report.read_text()) if report.exists() else None)


def verdicts(report):
    """Each cell as (its offset in its section, event, aborted): what does
    not depend on where the file was linked or loaded."""
    return sorted((c["insn_addr"] - c["cs"], c["event"], c["aborted"]) for c in report["cells"])


@pytest.fixture(scope="module")
def counters(tmp_path_factory):
    out = tmp_path_factory.mktemp("counters")
    return {name: gcc(out / f"counter-{name}", *flags, COUNTER) for name, flags in BUILDS.items()}


def test_programs_built_any_way_are_judged_alike(counters, tmp_path):
    reports = {}
    for name, binary in counters.items():
        p, reports[name] = sweep(tmp_path, name, "--binary", binary, "--", "1", "1000")
        assert p.returncode == 0, name + p.stdout + p.stderr
        cells = reports[name]["cells"]
        # 25 instructions in four sections, by five events.
        assert len(cells) == 125 and reports[name]["reached"] == 125, name
        assert all(c["ok"] and c["file"] == f"/tmp/counter-{name}" for c in cells), name
        assert "reached 125 of 125 cells" in p.stdout
    assert verdicts(reports["pie"]) == verdicts(reports["static"])
    assert verdicts(reports["static-pie"]) == verdicts(reports["static"])


def test_a_buggy_pie_fails_where_the_static_build_does(tmp_path):
    failing = {}
    for name in ("pie", "static"):
        binary = gcc(tmp_path / f"buggy-{name}", *BUILDS[name], "-DCOMMIT_NOT_LAST", COUNTER)
        p, report = sweep(tmp_path, name, "--binary", binary, "--", "1", "1000")
        assert p.returncode == 1, p.stdout + p.stderr
        failing[name] = sorted((c["insn_addr"] - c["cs"], c["event"])
                               for c in report["cells"] if c["reached"] and not c["ok"])
    assert failing["pie"] == failing["static"]
    assert failing["pie"]


@pytest.fixture(scope="module")
def counter_library(tmp_path_factory):
    """The counter's sections in a shared library, and a PIE that calls it."""
    out = tmp_path_factory.mktemp("library")
    library = gcc(out / "libcounter.so", "-fPIC", "-shared", "-Dmain=rseq_counter_main", COUNTER)
    main = out / "main.c"
    main.write_text("int rseq_counter_main(int argc, char **argv);\n"
                    "int main(int argc, char **argv) { return rseq_counter_main(argc, argv); }\n")
    program = gcc(out / "counter-via-library", main, f"-L{out}", "-lcounter")
    return program, library


def test_a_shared_library_is_swept_where_the_loader_put_it(counter_library, tmp_path):
    program, library = counter_library
    p, report = sweep(tmp_path, "lib", "--binary", program, "--library", library,
                      "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    cells = report["cells"]
    assert len(cells) == 125 and report["reached"] == 125
    assert {c["file"] for c in cells} == {"/lib/x86_64-linux-gnu/libcounter.so"}
    assert all(c["ok"] for c in cells)


def test_a_library_the_program_never_loads_is_named(counters, counter_library, tmp_path):
    _, library = counter_library
    p, _ = sweep(tmp_path, "unloaded", "--binary", counters["pie"], "--library", library,
                 "--", "1", "1000")
    assert p.returncode == 2, p.stdout + p.stderr
    assert ("faultline: error: /lib/x86_64-linux-gnu/libcounter.so is not loaded by the "
            "program (it has no mapping of it)") in p.stderr


def test_a_library_without_critical_sections_is_a_note_not_an_error(counters, tmp_path):
    # librseq.so inlines its sections into the programs: it has none itself.
    library = GUEST_PROGRAMS / "selftests" / "rseq" / "librseq.so"
    p, report = sweep(tmp_path, "none", "--binary", counters["pie"], "--library", library,
                      "--events", "preempt", "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    assert report["notes"] == [f"{library} has no rseq critical section (no __rseq_cs_ptr_array "
                               "section, or an empty one): nothing of it to sweep"]
    assert {c["file"] for c in report["cells"]} == {"/tmp/counter-pie"}


def test_a_signal_the_program_does_not_catch_skips_its_column(tmp_path):
    # The built-in counter handles SIGUSR1, not SIGUSR2.
    p, report = sweep(tmp_path, "sigusr2", "--signal", "12", "--events", "preempt,signal",
                      "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    note = ("the program does not catch signal 12: it was killed by it; the signal column "
            "is skipped (--signal N sends another)")
    assert report["notes"] == [note]
    assert f"note: {note}" in p.stdout
    signal = [c for c in report["cells"] if c["event"] == "signal"]
    preempt = [c for c in report["cells"] if c["event"] == "preempt"]
    assert len(signal) == len(preempt) == 25
    assert all(c["skipped"] and not c["reached"] and c["ok"] is None for c in signal)
    assert all(c["reached"] and c["ok"] for c in preempt)
    assert report["failed"] == 0 and report["reached"] == 25


SELFTESTS = GUEST_PROGRAMS / "selftests" / "rseq"
SELFTEST_EVENTS = "preempt,signal,migrate,page_fault_blocking"


@pytest.mark.parametrize("program, args, reached, notes", [
    # param_test (PIE) with its spinlock workload: the sections it enters.
    ("param_test", ["-T", "s", "-t", "2", "-r", "10"], 72, []),
    # 200 threads on two CPUs; it does not catch SIGUSR1.
    ("basic_percpu_ops_test", [], 66,
     ["the program does not catch signal 10: it was killed by it; the signal column is "
      "skipped (--signal N sends another)"]),
])
def test_the_upstream_selftests_sections_are_judged_right(tmp_path, program, args, reached,
                                                          notes):
    p, report = sweep(tmp_path, program, "--binary", SELFTESTS / program,
                      "--events", SELFTEST_EVENTS, "--", *args)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (report["reached"], report["failed"], report["notes"]) == (reached, 0, notes)
