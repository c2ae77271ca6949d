"""Events fired before an exact instruction of an rseq critical section,
carried out by the guest kernel, and their effect on the sequence."""
import re
import signal

import pytest

import faultline
from conftest import GUEST_PROGRAMS

COUNTER = GUEST_PROGRAMS / "rseq-counter"
# One pinned thread per vCPU: the only aborts are the ones a test causes.
ARGS = ["1", "2000"]


@pytest.fixture(scope="module")
def sequence():
    """The per-CPU counter's sequence: the one whose commit is an add."""
    (cs,) = [cs for cs in faultline.rseq_critical_sections(str(COUNTER))
             if any(i.text.startswith("addq") for i in faultline.instructions_of(str(COUNTER), cs))]
    return cs


def aborts(stdout):
    return int(re.search(r"^aborts: (\d+)$", stdout, re.M).group(1))


def debugfs(machine, host_programs, name):
    machine.put_file(str(host_programs["show_file"]), "/tmp/show_file")
    # Root: debugfs is root's alone.
    r = machine.run("/tmp/show_file", [f"/sys/kernel/debug/faultline/{name}"], run_as_root=True)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def event_count(machine, host_programs, kind):
    text = debugfs(machine, host_programs, "events")
    return int(re.search(rf"^{kind} (\d+)$", text, re.M).group(1))


def run_with(machine, event, vaddr, hit=3):
    process = machine.spawn("/bin/rseq-counter", ARGS)
    machine.arm([(faultline.Trigger(process, vaddr, hit), event)])
    result = machine.run_spawned()
    return result, machine.firings()


def test_unhandled_signal_kills_the_program_there(machine, sequence):
    r, firings = run_with(machine, faultline.Event.signal(signal.SIGUSR2), sequence.start)
    # No handler for SIGUSR2: the program dies, and that is its outcome.
    assert r.signaled and r.exit_code == signal.SIGUSR2
    assert len(firings) == 1
    assert firings[0].rip == sequence.start
    assert firings[0].vcpu in (0, 1)


def test_handled_signal_inside_the_sequence_aborts_it(machine, sequence):
    r, firings = run_with(machine, faultline.Event.signal(signal.SIGUSR1), sequence.start)
    assert r.exit_code == 0, r.stdout
    assert [(f.rip, f.confirmed, f.status) for f in firings] == [(sequence.start, True, "done")]
    assert "signals handled: 1" in r.stdout
    assert aborts(r.stdout) == 1


def test_preempt_inside_the_sequence_aborts_it(machine, host_programs, sequence):
    before = event_count(machine, host_programs, "preempt")
    runs_before = int(debugfs(machine, host_programs, "preempter_runs"))
    r, firings = run_with(machine, faultline.Event.preempt(), sequence.start)
    assert r.exit_code == 0, r.stdout
    assert aborts(r.stdout) == 1
    assert [(f.rip, f.confirmed) for f in firings] == [(sequence.start, True)]
    assert event_count(machine, host_programs, "preempt") == before + 1
    # Another task (the preempting thread) really ran on that CPU.
    assert int(debugfs(machine, host_programs, "preempter_runs")) == runs_before + 1


def test_preempt_at_post_commit_does_not_abort(machine, sequence):
    r, firings = run_with(machine, faultline.Event.preempt(), sequence.post_commit)
    assert r.exit_code == 0, r.stdout
    assert len(firings) == 1
    assert aborts(r.stdout) == 0


def test_migrate_inside_the_sequence_aborts_it(config, host_programs, sequence):
    # Runs are deterministic: a first boot tells which vCPU hits, a second
    # one migrates from there to the other vCPU.
    with faultline.Machine(config) as m:
        m.boot()
        _, firings = run_with(m, faultline.Event.preempt(), sequence.start)
    target = 1 - firings[0].vcpu
    with faultline.Machine(config) as m:
        m.boot()
        process = m.spawn("/bin/rseq-counter", ARGS)
        m.arm([(faultline.Trigger(process, sequence.start, 3), faultline.Event.migrate(target),
                sequence.abort)])
        r = m.run_spawned()
        (firing,) = m.firings()
        assert firing.vcpu == 1 - target
        assert (firing.confirmed, firing.status) == (True, "done")
        # The moved thread went to its abort handler next.
        assert firing.next_rip == sequence.abort
        assert r.exit_code == 0, r.stdout
        # Exactly that one abort. The thread is away (moved to the target
        # and back, about 170,000 instructions) while the target's pinned
        # thread runs all its adds in one unbroken stretch, and arriving
        # there cuts none of that thread's sequences.
        assert aborts(r.stdout) == 1
        assert "cmpxchg aborts: 0" in r.stdout and "list aborts: 0" in r.stdout
        assert event_count(m, host_programs, "migrate") == 1


def test_trigger_never_reached_fires_nothing(machine, sequence):
    r, firings = run_with(machine, faultline.Event.signal(signal.SIGUSR2), sequence.start, hit=10**9)
    assert r.exit_code == 0 and not r.signaled
    assert firings == []


def test_same_schedule_fires_at_the_same_instruction(config, sequence):
    seen = []
    for _ in range(2):
        with faultline.Machine(config) as m:
            m.boot()
            r, firings = run_with(m, faultline.Event.preempt(), sequence.start, hit=500)
            seen.append((r.stdout, r.icount, [(f.icount, f.vcpu, f.rip) for f in firings]))
    assert seen[0] == seen[1]
    assert seen[0][2], "the trigger did not fire"


def test_migrating_to_a_cpu_the_guest_lacks_is_refused(machine, boot_info, sequence):
    process = machine.spawn("/bin/rseq-counter", ARGS)
    with pytest.raises(faultline.ConfigError, match=f"the guest has {boot_info.cpus} CPUs"):
        machine.arm([(faultline.Trigger(process, sequence.start), faultline.Event.migrate(boot_info.cpus))])
    machine.arm([])
    assert machine.run_spawned().exit_code == 0


PROBE = GUEST_PROGRAMS / "fault-probe"


def run_probe(machine, event):
    process = machine.spawn("/bin/fault-probe")
    read_at = faultline.symbol_address(str(PROBE), "fault_probe_read")
    machine.arm([(faultline.Trigger(process, read_at), event)] if event else [])
    result = machine.run_spawned()
    assert result.exit_code == 0, result.stdout + result.stderr
    faults = int(re.search(r"^minor faults: (\d+)$", result.stdout, re.M).group(1))
    return faults, result.stdout, machine.firings()


def switches(probe_stdout):
    return int(re.search(r"^voluntary switches: (\d+)$", probe_stdout, re.M).group(1))


def test_page_fault_on_the_data_page_faults_and_keeps_its_content(machine, host_programs):
    quiet, out, _ = run_probe(machine, None)
    assert quiet == 0 and "intact: yes" in out
    before = event_count(machine, host_programs, "page_fault")
    page = faultline.symbol_address(str(PROBE), "probe_page")
    faults, out, firings = run_probe(machine, faultline.Event.page_fault(page))
    assert [(f.confirmed, f.status) for f in firings] == [(True, "done")]
    # The read itself took the fault: one more minor fault, same bytes,
    # and it did not sleep.
    assert faults == 1 and switches(out) == 0
    assert "intact: yes" in out
    assert event_count(machine, host_programs, "page_fault") == before + 1


def test_a_blocking_page_fault_is_taken_and_sleeps(machine, host_programs):
    before = event_count(machine, host_programs, "page_fault_blocking")
    page = faultline.symbol_address(str(PROBE), "probe_page")
    faults, out, firings = run_probe(machine, faultline.Event.named("page_fault_blocking", page))
    # Confirmed only once the task slept in the fault.
    assert [(f.confirmed, f.status) for f in firings] == [(True, "done")]
    assert faults == 1 and switches(out) == 1
    assert "intact: yes" in out
    assert event_count(machine, host_programs, "page_fault_blocking") == before + 1


def test_a_blocking_page_fault_inside_the_sequence_aborts_it(machine, sequence):
    r, firings = run_with(machine, faultline.Event.named("page_fault_blocking"), sequence.start)
    assert r.exit_code == 0, r.stdout
    assert [(f.rip, f.confirmed) for f in firings] == [(sequence.start, True)]
    assert aborts(r.stdout) == 1


def test_page_fault_where_nothing_is_mapped_is_dropped_by_the_guest(machine, host_programs):
    # QEMU raises the event; the guest finds no page to fault there, carries
    # nothing out and says so: the firing is not confirmed.
    before = event_count(machine, host_programs, "page_fault")
    faults, out, firings = run_probe(machine, faultline.Event.page_fault(0x10000))
    assert [(f.confirmed, f.status) for f in firings] == [(False, "unmapped")]
    assert faults == 0 and "intact: yes" in out
    assert event_count(machine, host_programs, "page_fault") == before


def test_an_event_none_is_raised_but_never_confirmed(machine):
    # Nothing reaches the guest, so nothing can be confirmed.
    _, _, firings = run_probe(machine, faultline.Event.none())
    assert [(f.confirmed, f.status) for f in firings] == [(False, "")]


def test_page_fault_at_the_trigger_faults_the_instruction_fetch(machine):
    faults, out, firings = run_probe(machine, faultline.Event.page_fault_at_trigger())
    assert len(firings) == 1
    assert faults == 1 and "intact: yes" in out


def test_page_fault_inside_the_sequence_does_not_abort_it(machine, sequence):
    # rseq aborts on preemption, migration and signals; a fault the kernel
    # handles without blocking is none of these.
    r, firings = run_with(machine, faultline.Event.page_fault_at_trigger(), sequence.start)
    assert r.exit_code == 0, r.stdout
    assert [f.rip for f in firings] == [sequence.start]
    assert aborts(r.stdout) == 0


def test_budget_ends_a_program_that_never_ends(machine, host_programs):
    # Sleeping forever: idle guest time is skipped, so this ends at once.
    r = machine.run("/bin/hang", budget_ms=200)
    assert r.timed_out and r.signaled and r.exit_code == signal.SIGKILL
    # Computing forever: guest time runs on the instruction count, 1 ns each.
    machine.put_file(str(host_programs["spin"]), "/tmp/spin")
    r = machine.run("/tmp/spin", budget_ms=50)
    assert r.timed_out and r.exit_code == signal.SIGKILL
    assert 45_000_000 < r.icount < 80_000_000, r.icount
    # The machine goes on serving commands.
    assert machine.run("/bin/rseq-counter", ARGS).exit_code == 0


def test_trigger_never_reached_in_a_program_that_never_ends(machine, host_programs):
    binary = host_programs["rseq_unreached"]
    machine.put_file(str(binary), "/tmp/rseq_unreached")
    process = machine.spawn("/tmp/rseq_unreached", budget_ms=100)
    never_run = faultline.symbol_address(str(binary), "unreached_start")
    machine.arm([(faultline.Trigger(process, never_run), faultline.Event.preempt())])
    r = machine.run_spawned()
    assert r.timed_out
    assert machine.firings() == []


def run_event_probe(machine, host_programs, event):
    binary = host_programs["event_probe"]
    machine.put_file(str(binary), "/tmp/event_probe")
    process = machine.spawn("/tmp/event_probe")
    at = faultline.symbol_address(str(binary), "probe_here")
    machine.arm([(faultline.Trigger(process, at), event)] if event else [])
    r = machine.run_spawned()
    assert r.exit_code == 0, r.stderr
    report = dict(line.split() for line in r.stdout.splitlines())
    return {k: int(v) for k, v in report.items()}, machine.firings()


def test_migrate_moves_the_task_there_and_keeps_its_mask(machine, host_programs, boot_info):
    report, (firing,) = run_event_probe(machine, host_programs, faultline.Event.migrate_away())
    assert (firing.confirmed, firing.status) == (True, "done")
    assert report["before"] == firing.vcpu
    # rseq's cpu_id already names the next CPU when the marked instruction runs.
    assert report["after"] == (firing.vcpu + 1) % boot_info.cpus
    assert report["mask"] == boot_info.cpus


def test_migrate_with_nowhere_to_go_is_dropped_by_the_guest(config, host_programs):
    # One vCPU: the next online CPU is the one the task is on. QEMU raises
    # the event; moving nowhere is no migration, and the guest says so.
    config.cpus = 1
    with faultline.Machine(config) as m:
        m.boot()
        report, (firing,) = run_event_probe(m, host_programs, faultline.Event.migrate_away())
        assert (firing.confirmed, firing.status) == (False, "same-cpu")
        assert report["before"] == report["after"] == 0
        assert event_count(m, host_programs, "migrate") == 0


def test_signal_handler_runs_before_the_instruction(machine, host_programs):
    quiet, _ = run_event_probe(machine, host_programs, None)
    assert quiet["handled"] == 0
    report, firings = run_event_probe(machine, host_programs, faultline.Event.signal(signal.SIGUSR1))
    assert [(f.confirmed, f.status) for f in firings] == [(True, "done")]
    # The marked instruction itself read the flag the handler set.
    assert report["handled"] == 1


ARRIVAL_COUNT_EXECUTIONS = 1_000_000


def count_arrivals(machine, host_programs, mode, hit, watch=False, event=None):
    """Runs arrival_count MODE with a trigger before the HIT-th execution of
    count_here (its process only): its report and the firings."""
    binary = host_programs["arrival_count"]
    machine.put_file(str(binary), "/tmp/arrival_count")
    process = machine.spawn("/tmp/arrival_count", [mode, str(ARRIVAL_COUNT_EXECUTIONS)])
    at = faultline.symbol_address(str(binary), "count_here")
    entry = [faultline.Trigger(process, at, hit), event or faultline.Event.signal(signal.SIGUSR1)]
    if watch:
        entry.append(faultline.symbol_address(str(binary), "after_count"))
    machine.arm([tuple(entry)])
    r = machine.run_spawned()
    assert r.exit_code == 0, r.stdout + r.stderr
    report = dict(line.rsplit(" ", 1) for line in r.stdout.splitlines())
    return {k: int(v) for k, v in report.items()}, machine.firings()


# Each path into count_here: a jump back on its page (chained TBs), a call
# from another page (a TB lookup), and the same page run by a forked child
# in its own address space between the parent's turns on one vCPU. Exits
# before an instruction runs (slice ends, instruction-budget refills) fall
# on count_here again and again in a loop this tight.
@pytest.mark.parametrize("mode", ["same-page", "other-page", "fork"])
def test_a_trigger_fires_before_exactly_the_execution_it_names(machine, host_programs, mode):
    last = ARRIVAL_COUNT_EXECUTIONS
    report, firings = count_arrivals(machine, host_programs, mode, hit=last)
    assert report == {"executions": last, "signalled before": last}
    assert [(f.confirmed, f.status) for f in firings] == [(True, "done")]
    report, firings = count_arrivals(machine, host_programs, mode, hit=last + 1)
    assert report == {"executions": last, "signalled before": 0}
    assert firings == []


def test_a_firing_is_counted_at_the_instruction_before_it_runs(config, host_programs):
    # One vCPU: no other vCPU's instructions between count_here and the next.
    config.cpus = 1
    binary = host_programs["arrival_count"]
    with faultline.Machine(config) as m:
        m.boot()
        # An event that reaches no guest: the thread runs count_here at once,
        # and the watch (armed by the firing, on count_here's own TB) sees it
        # arrive at the next instruction, one instruction later.
        _, (firing,) = count_arrivals(m, host_programs, "same-page", hit=1000, watch=True,
                                      event=faultline.Event.none())
        assert firing.rip == faultline.symbol_address(str(binary), "count_here")
        assert firing.next_rip == faultline.symbol_address(str(binary), "after_count")
        assert firing.next_icount == firing.icount + 1


REP_BYTES = 100_000


def run_rep_string(machine, host_programs, symbol, hit, event):
    """Runs rep_string with a trigger before the HIT-th iteration of its
    fill (fill_here) or scan (scan_here): its report and the firings."""
    binary = host_programs["rep_string"]
    machine.put_file(str(binary), "/tmp/rep_string")
    process = machine.spawn("/tmp/rep_string", [str(REP_BYTES)])
    at = faultline.symbol_address(str(binary), symbol)
    machine.arm([(faultline.Trigger(process, at, hit), event)])
    r = machine.run_spawned()
    assert r.exit_code == 0, r.stdout + r.stderr
    report = dict(line.rsplit(" ", 1) for line in r.stdout.splitlines())
    return {k: int(v) for k, v in report.items()}, machine.firings()


# Each iteration of a string instruction is an execution of it: under
# icount QEMU runs each as a TB execution of its own, chained to the next
# (qemu-patches/0024), and an event before one lands between two of them.
# N iterations are N + 1 executions: the last finds the count at zero and
# goes on to the next instruction.
@pytest.mark.parametrize("hit", [1, 2, 4097, REP_BYTES, REP_BYTES + 1])
def test_a_signal_before_an_iteration_of_a_string_instruction_finds_the_ones_before_done(
        machine, host_programs, hit):
    report, firings = run_rep_string(machine, host_programs, "fill_here", hit,
                                     faultline.Event.signal(signal.SIGUSR1))
    assert report == {"stored": REP_BYTES, "found at": REP_BYTES - 1,
                      "stored when signalled": hit - 1}
    assert [(f.confirmed, f.status) for f in firings] == [(True, "done")]


@pytest.mark.parametrize("symbol", ["fill_here", "scan_here"])
@pytest.mark.parametrize("event", ["preempt", "migrate", "page_fault"])
def test_a_string_instruction_interrupted_midway_finishes_as_if_it_had_not_been(
        machine, host_programs, symbol, event):
    report, firings = run_rep_string(machine, host_programs, symbol, REP_BYTES // 2,
                                     faultline.Event.named(event))
    assert report == {"stored": REP_BYTES, "found at": REP_BYTES - 1,
                      "stored when signalled": -1}
    assert [(f.confirmed, f.status) for f in firings] == [(True, "done")]
    # Beyond its N + 1 executions the instruction has ended.
    _, firings = run_rep_string(machine, host_programs, symbol, REP_BYTES + 2,
                                faultline.Event.named(event))
    assert firings == []
