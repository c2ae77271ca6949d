"""Snapshot of the booted, parked machine in QEMU's memory and restore in
milliseconds (QMP faultline-snapshot / faultline-restore, Machine.snapshot()
and restore()): a restored machine repeats, instruction for instruction,
what it did after the snapshot."""
import time

import pytest

import faultline
from conftest import GUEST_PROGRAMS
from test_qmp import Qemu

COUNTER = GUEST_PROGRAMS / "rseq-counter"
PROGRAM = ("/bin/rseq-counter", ["1", "1000"])
# Runs that leave the vCPUs, the round-robin scheduler and its kick timer
# elsewhere than PROGRAM does (the agent parked on the other vCPU, a slice
# boundary passed).
OTHER_PROGRAMS = [("/bin/rseq-counter", ["2", "5000"]), ("/bin/rseq-counter", ["2", "50000"]),
                  ("/bin/rseq-counter", ["1", "200000"])]
REPEATS = 5


def outcome(machine, program=PROGRAM):
    """What a run shows: its result, and the instructions from the command
    to the guest parked again (agent, kernel and every vCPU included)."""
    before = machine.icount()
    r = machine.run(*program)
    return (r.exit_code, r.signaled, r.stdout, r.stderr, r.icount, machine.icount() - before)


def fresh_machine(run_dir=None):
    config = faultline.MachineConfig.defaults()
    if run_dir:
        config.run_dir = str(run_dir)
    m = faultline.Machine(config)
    m.boot()
    return m


@pytest.fixture(scope="module")
def snapshotted():
    """A machine snapshotted right after boot, and PROGRAM's outcome as the
    first thing after the snapshot. Each test restores first."""
    with fresh_machine() as m:
        m.snapshot()
        yield m, m.icount(), outcome(m)


def test_a_restored_machine_repeats_a_run_exactly(snapshotted):
    m, icount_at_snapshot, first = snapshotted
    for _ in range(REPEATS):
        m.restore()
        assert m.icount() == icount_at_snapshot
        assert outcome(m) == first
    assert first[0] == 0, first


def test_a_restored_machine_repeats_triggers_and_their_firings(snapshotted):
    m, _, _ = snapshotted
    (cs,) = [cs for cs in faultline.rseq_critical_sections(str(COUNTER))
             if any(i.text.startswith("addq") for i in faultline.instructions_of(str(COUNTER), cs))]
    runs = []
    for _ in range(3):
        m.restore()
        p = m.spawn(*PROGRAM)
        m.arm([(faultline.Trigger(p, cs.start, 3), faultline.Event.preempt(), cs.abort),
               (faultline.Trigger(p, cs.start, 2), faultline.Event.signal(10))])
        r = m.run_spawned()
        firings = [(f.icount, f.vcpu, f.rip, f.next_rip, f.next_icount, f.confirmed, f.status)
                   for f in m.firings()]
        runs.append((r.exit_code, r.stdout, r.icount, firings))
    assert runs[1] == runs[0] and runs[2] == runs[0]
    assert [f[5:] for f in runs[0][3]] == [(True, "done"), (True, "done")]


def test_a_restore_leaves_nothing_of_the_runs_it_undoes(snapshotted):
    """Another program first, then a restore, then PROGRAM: the same as
    PROGRAM on a machine that never ran anything else."""
    m, _, _ = snapshotted
    with fresh_machine() as fresh:
        expected = outcome(fresh)
    after_others = []
    for other in OTHER_PROGRAMS:
        m.restore()
        assert outcome(m, other)[0] == 0
        m.restore()
        after_others.append(outcome(m))
    assert after_others == [expected] * len(OTHER_PROGRAMS)


def test_files_written_after_the_snapshot_are_gone_after_a_restore(snapshotted, host_programs):
    m, _, _ = snapshotted
    m.restore()
    m.put_file(str(host_programs["show_file"]), "/tmp/show_file")
    m.put("/tmp/note", b"written after the snapshot\n", 0o644)
    r = m.run("/tmp/show_file", ["/tmp/note"])
    assert (r.exit_code, r.stdout) == (0, "written after the snapshot\n")
    m.restore()
    m.put_file(str(host_programs["show_file"]), "/tmp/show_file")
    r = m.run("/tmp/show_file", ["/tmp/note"])
    assert (r.exit_code, r.stderr) == (2, "show_file: No such file or directory\n")


def test_code_run_after_the_snapshot_is_not_run_in_place_of_the_restored_code(host_programs):
    """Program A at /tmp/p when the snapshot is taken, B written over it and
    run after: once restored, /tmp/p is A again, and A is what runs, not
    what TCG translated from B in the same pages."""
    with fresh_machine() as m:
        m.put_file(str(host_programs["echo_exit"]), "/tmp/p")
        assert m.run("/tmp/p", ["3", "A"]).exit_code == 3
        m.snapshot()
        for _ in range(2):
            m.put_file(str(host_programs["show_file"]), "/tmp/p")
            r = m.run("/tmp/p", ["3", "A"])
            assert (r.exit_code, r.stdout) == (2, "")
            m.restore()
            r = m.run("/tmp/p", ["3", "A"])
            assert (r.exit_code, r.stdout) == (3, "3 A\n")
            m.restore()


def test_a_restore_abandons_a_started_program(snapshotted):
    m, _, first = snapshotted
    m.restore()
    m.start("/bin/hang")
    time.sleep(0.2)
    m.restore()
    assert outcome(m) == first


def test_a_snapshot_while_a_program_runs_is_refused(snapshotted):
    m, _, _ = snapshotted
    m.restore()
    m.start(*PROGRAM)
    with pytest.raises(faultline.ConfigError, match="snapshot\\(\\) while a guest command runs"):
        m.snapshot()
    m.wait()


def test_restore_without_a_snapshot_is_refused():
    # A machine of its own: the session's may hold a sweep's snapshot.
    with fresh_machine() as m:
        with pytest.raises(faultline.ConfigError, match="restore\\(\\) without a snapshot"):
            m.restore()
        assert m.run(*PROGRAM).exit_code == 0


def test_qmp_restore_without_a_snapshot_and_either_on_a_running_vm_are_refused(tmp_path):
    qemu = Qemu(tmp_path)
    try:
        with pytest.raises(faultline.QmpError, match="faultline-restore: no snapshot"):
            qemu("faultline-restore")
        qemu("cont")
        for command in ("faultline-snapshot", "faultline-restore"):
            with pytest.raises(faultline.QmpError, match=f"{command}: the VM must be stopped"):
                qemu(command)
    finally:
        qemu.close()
