"""The every-instruction sweep through the CLI, as a user runs it."""
import json
import re
from xml.etree import ElementTree

import pytest

import faultline
from conftest import GUEST_PROGRAMS, cli


def sweep(*args):
    return cli("sweep", *args)


def test_builtin_sweep_matches_the_rseq_rule(tmp_path):
    out = tmp_path / "sweep.json"
    html = tmp_path / "sweep.html"
    junit = tmp_path / "sweep.xml"
    p = sweep("--json", str(out), "--html", str(html), "--junit", str(junit))
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(out.read_text())
    cells = report["cells"]
    [suite] = ElementTree.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == \
        (str(len(cells)), "0", "0")
    # The rate is printed; the report holds no timing, so it is the same
    # for the same sweep.
    assert re.search(r"\b125 trials in 5 program runs, 0 failed, 0 findings, \d+\.\d trials/s\n",
                     p.stdout)
    assert "trials_per_s" not in report
    assert {c["event"] for c in cells} == {"preempt", "signal", "migrate", "page_fault",
                                           "page_fault_blocking"}
    assert all(c["fired"] and c["ok"] and c["invariant_ok"] for c in cells)
    # Trials share program runs: one per run group of 8 of the 25 rows, and
    # one more where the program ended before a group's last trials.
    assert report["program_runs"] == 5
    # Four sequences: add, cmpxchg, list push, list pop.
    sequences = {c["cs"] for c in cells}
    assert len(sequences) == 4
    for cs in sequences:
        rows = sorted({c["insn_addr"] for c in cells if c["cs"] == cs})
        assert rows[0] == cs
        # Every instruction of the sequence aborts; the post-commit one
        # commits; a page fault aborts only if handling it blocked, which
        # is allowed inside the sequence only.
        for c in cells:
            if c["cs"] == cs:
                inside = c["insn_addr"] != rows[-1]
                assert c["expected_abort"] == (inside and c["event"] != "page_fault")
                assert c["may_abort"] == (inside and c["event"] == "page_fault")
                assert c["aborted"] == c["expected_abort"] or c["may_abort"]
    assert "<table>" in html.read_text()


def test_commit_before_the_end_fails_exactly_where_the_bug_shows(tmp_path):
    out = tmp_path / "buggy.json"
    p = sweep("--binary", str(GUEST_PROGRAMS / "rseq-buggy"), "--json", str(out))
    assert p.returncode == 1
    cells = json.loads(out.read_text())["cells"]
    failing = {(c["insn_addr"], c["event"]) for c in cells if not c["ok"]}
    # The nop after the committing add, still inside the sequence: a
    # preemption, signal, migration or blocking page fault there aborts it
    # as the rseq rule says, the abort handler retries an add that already
    # happened, and the program's total comes out high. A page fault that
    # does not block does not abort, so that cell passes. Nothing else
    # fails: every event is carried out by the guest, no event in another
    # trial lands the other thread on its nop, and each failing run is
    # replayed one trial per run.
    (after_commit,) = {c["insn_addr"] for c in cells if c["insn"] == "nop"}
    assert failing == {(after_commit, e)
                       for e in ("preempt", "signal", "migrate", "page_fault_blocking")}
    for c in cells:
        # The page_fault column's faults never block here, so none aborts.
        assert c["fired"] and c["aborted"] == c["expected_abort"]
        assert c["invariant_ok"] == ((c["insn_addr"], c["event"]) not in failing)
        if not c["ok"]:
            assert c["outcome"] == "exited 1"
    assert "FAIL" in p.stdout


def test_an_abort_that_leaves_a_busy_mark_livelocks_exactly_before_the_commit(tmp_path):
    """rseq-livelock: the add marks its CPU busy with a store inside the
    sequence and clears it after, and each try spins until its CPU is not
    busy. Preempt, signal, migrate or a blocking fault before the commit
    aborts the add after the mark: that CPU stays busy and the program never
    ends. Nothing else breaks it, and the thread did what the model says in
    every cell: only the program's own end tells. One pinned thread per CPU
    and 1000 updates, so no timer tick is likely to land on the commit in
    the baseline."""
    out = tmp_path / "livelock.json"
    p = sweep("--binary", str(GUEST_PROGRAMS / "rseq-livelock"), "--json", str(out),
              "--", "1", "1000")
    assert p.returncode == 1, p.stdout + p.stderr
    report = json.loads(out.read_text())
    cells = report["cells"]
    (commit,) = {c["insn_addr"] for c in cells if c["insn"].startswith("addq $1")}
    failing = {(c["insn_addr"], c["event"]) for c in cells if not c["ok"]}
    assert failing == {(commit, e) for e in ("preempt", "signal", "migrate", "page_fault_blocking")}
    for c in cells:
        assert c["fired"], c
        if not c["ok"]:
            assert c["observed"] == "abort" and c["model"][0].startswith("aborts to "), c
            assert c["outcome"] == "was killed at the end of its budget"
    assert report["failed"] == 4 and report["reached"] == len(cells) == 130


def test_wrong_signature_before_abort_ip_is_sigsegv_wherever_the_fixup_runs(tmp_path):
    """rseq-bad-signature: the word before each abort handler is 0x53053054,
    not the RSEQ_SIG glibc registered. models/RseqRule (rseq_get_rseq_cs):
    a preemption, a signal or a blocking page fault runs the fixup, which
    checks the signature before it looks at ip, so each is SIGSEGV before
    every instruction, post-commit included (rseq_cs is still set there).
    One vCPU and one worker thread, so no other thread meets an event's
    consequences inside a sequence of its own (there, any abort is death);
    1000 updates, so few timer ticks fall in the run: a tick inside a
    sequence is a preemption too, and would kill the run without events."""
    out = tmp_path / "bad.json"
    p = sweep("--cpus", "1", "--binary", str(GUEST_PROGRAMS / "rseq-bad-signature"),
              "--events", "preempt,signal,page_fault_blocking", "--json", str(out),
              "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(out.read_text())
    cells = report["cells"]
    assert len(cells) == 3 * 25 and report["reached"] == 75 and report["failed"] == 0
    for c in cells:
        assert c["model"] == ["SIGSEGV (signature_mismatch)"], c
        assert c["expected_abort"] is False and c["may_abort"] is False
        if c["reached"]:
            assert c["fired"] and c["ok"] and c["observed"] == "SIGSEGV", c
            assert c["outcome"] == "was killed by signal 11"
    assert p.stdout.count("SIGSEGV") == 75


def test_same_sweep_twice_gives_the_same_cells(tmp_path):
    reports = []
    for name in ("a.json", "b.json"):
        p = sweep("--json", str(tmp_path / name))
        assert p.returncode == 0, p.stdout
        reports.append(json.loads((tmp_path / name).read_text())["cells"])
    assert reports[0] == reports[1]


def test_cells_never_reached_are_not_failures(host_programs, tmp_path):
    out = tmp_path / "unreached.json"
    p = sweep("--binary", str(host_programs["rseq_unreached"]), "--events", "preempt",
              "--budget", "20", "--json", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "reached 0 of 3 cells" in p.stdout
    report = json.loads(out.read_text())
    assert report["reached"] == 0 and report["failed"] == 0
    cells = report["cells"]
    assert len(cells) == 3  # nop, nop, the post-commit ret
    for c in cells:
        assert not c["reached"] and not c["fired"] and c["ok"] is None
        assert c["outcome"] == ("not reached (the section was never entered): the program was "
                                "killed at the end of its budget")


def test_require_coverage_fails_a_sweep_that_reaches_too_little(host_programs):
    p = sweep("--binary", str(host_programs["rseq_unreached"]), "--events", "preempt",
              "--budget", "20", "--require-coverage", "50")
    assert p.returncode == 1, p.stdout + p.stderr
    assert ("faultline: the workload reached 0 of 3 cells, under the 50% --require-coverage "
            "asks for") in p.stderr


def test_events_the_guest_drops_are_not_fired(tmp_path):
    # One vCPU: "the next online CPU" is the one the task is on. QEMU raises
    # every event; the guest moves nothing and says so.
    out = tmp_path / "one-cpu.json"
    p = sweep("--cpus", "1", "--events", "migrate", "--json", str(out))
    assert p.returncode == 1, p.stdout + p.stderr
    cells = json.loads(out.read_text())["cells"]
    assert cells
    for c in cells:
        assert c["raised"] and not c["fired"] and not c["ok"], c
        assert c["guest_status"] == "same-cpu"
        assert c["outcome"].startswith("the guest did not carry the event out (same-cpu)")
    assert "dropped" in p.stdout


def test_a_watch_that_never_ends_has_no_arrival(machine):
    # SIGUSR2 kills the program in the guest's signal delivery: its thread
    # goes neither back to the instruction nor to the abort handler, so the
    # watch records no arrival (a sweep calls that unknown; it skips the
    # column of a signal the program does not catch, test_sweep_real_code).
    binary = GUEST_PROGRAMS / "rseq-counter"
    sequence = faultline.rseq_critical_sections(str(binary))[0]
    process = machine.spawn("/bin/rseq-counter", ["1", "1000"])
    machine.arm([(faultline.Trigger(process, sequence.start), faultline.Event.signal(12),
                  sequence.abort)])
    r = machine.run_spawned()
    assert r.signaled and r.exit_code == 12
    [firing] = machine.firings()
    assert firing.confirmed and firing.rip == sequence.start
    assert firing.next_rip == 0 and firing.next_icount == 0


def test_binary_without_a_critical_section_is_bad_input():
    p = sweep("--binary", str(GUEST_PROGRAMS / "hang"))
    assert p.returncode == 2
    assert "no rseq critical section" in p.stderr


def test_unknown_event_and_missing_binary_are_bad_input():
    assert sweep("--events", "preempt,explode").returncode == 2
    p = sweep("--binary", "/nonexistent/prog")
    assert p.returncode == 2 and "/nonexistent/prog" in p.stderr


def test_sweep_from_python_on_a_booted_machine(machine):
    binary = GUEST_PROGRAMS / "rseq-counter"
    config = faultline.SweepConfig(str(binary), "/bin/rseq-counter", ["1", "1000"])
    config.events = ["page_fault", "migrate"]
    result = faultline.sweep(machine, config)
    sequences = faultline.rseq_critical_sections(str(binary))
    rows = sum(len(faultline.instructions_of(str(binary), cs)) for cs in sequences)
    assert len(result.cells) == rows * 2
    assert result.program_runs < len(result.cells)
    for c in result.cells:
        assert c.fired and c.ok, (hex(c.insn_addr), c.event, c.outcome)
        assert c.may_abort == (c.in_sequence and c.event == "page_fault")
        assert c.expected_abort == (c.in_sequence and c.event == "migrate")
    assert json.loads(result.json())["cells"][0]["insn_addr"] == result.cells[0].insn_addr


def test_sweep_from_python_refuses_bad_input(machine):
    config = faultline.SweepConfig(str(GUEST_PROGRAMS / "hang"), "/bin/hang")
    with pytest.raises(faultline.ConfigError, match="no rseq critical section"):
        faultline.sweep(machine, config)
    config = faultline.SweepConfig(str(GUEST_PROGRAMS / "rseq-counter"), "/bin/rseq-counter")
    config.signo = 0
    icount = machine.icount()
    with pytest.raises(faultline.ConfigError, match=r"signal 0: not a signal number \(1-64\)"):
        faultline.sweep(machine, config)
    assert machine.icount() == icount
