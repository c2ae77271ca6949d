"""cpu_opv (guest-kernel/patches/0004) and the cpu-op library, checked from
inside the guest: /bin/cpu-opv's checks, one pytest result each, and the
progress story of /bin/cpu-op-counter, whose rseq fast path falls back to
cpu_opv after N aborts."""
import re
import signal

import pytest

import faultline
from conftest import GUEST_PROGRAMS, check_report

WORD_OPS = ["add_1", "add_2", "add_4", "add_8", "or", "and", "xor", "lshift", "rshift_is_logical",
            "add_leaves_neighbours", "add_word_straddling_pages"]
COMPARE_AND_COPY = [
    "empty_vector", "compare_eq_equal", "compare_eq_differs", "compare_ne_differs",
    "compare_ne_equal", "failed_compare_returns_its_index_plus_1", "memcpy_page_straddling",
    "compare_long_equal", "compare_long_last_byte_differs", "memcpy_zero_length", "barrier",
]
LIBRARY = ["cpu_op_add", "cpu_op_cmpxchg_stores", "cpu_op_cmpxchg_differs",
           "cpu_op_cmpeqv_memcpy_storev", "sixteen_ops"]
LIMITS = ["seventeen_ops_einval", "negative_count_einval", "flags_einval", "unknown_op_einval",
          "memcpy_4097_einval", "compare_4097_einval", "add_length_3_einval",
          "shift_by_width_einval", "vector_of_4216_bytes_runs", "vector_over_4216_bytes_einval"]
FAULTS = ["null_vector_efault", "null_pointer_efault", "unmapped_pointer_efault",
          "write_to_read_only_efault", "read_from_read_only_runs", "fault_runs_nothing",
          "expected_fault_eagain", "expect_fault_on_mapped_memory_runs",
          "expected_fault_on_source_eagain", "pkey_denied_memory_efault"]
CPUS = ["cpu_the_machine_lacks_einval", "cpu_far_out_of_range_einval", "negative_cpu_einval",
        "every_cpu_runs_its_vectors", "affinity_survives",
        "vectors_complete_while_affinity_changes", "affinity_changes_during_vectors_are_kept",
        "affinity_unchanged_while_vectors_run", "cmpxchg_on_fresh_memory_loses_no_store",
        "offline_cpu_runs_vector", "offline_cpu_stays_offline", "cpu_back_online"]
CHECKS = WORD_OPS + COMPARE_AND_COPY + LIBRARY + LIMITS + FAULTS + CPUS

COUNTER = GUEST_PROGRAMS / "cpu-op-counter"


@pytest.fixture(scope="module")
def report(machine):
    # Root: it takes CPU 1 offline and back through sysfs.
    return check_report(machine, "/bin/cpu-opv", ["offline"], run_as_root=True)


@pytest.mark.parametrize("name", CHECKS)
def test_check(report, name):
    _, lines = report
    assert lines.get(name) == "ok", lines.get(name, "not reported")


def test_the_program_reports_exactly_these_checks(report):
    r, lines = report
    assert sorted(lines) == sorted(CHECKS), r.stdout
    assert r.exit_code == 0


def counts(stdout):
    return {k: int(v) for k, v in re.findall(
        r"^(aborts|fallbacks|cpu_opv-only updates|signals handled): (\d+)$", stdout, re.M)}


@pytest.fixture
def fresh_machine():
    """A machine of its own: the counts below depend on the schedule, which
    is the same only after the same boot and the same commands."""
    with faultline.Machine(faultline.MachineConfig.defaults()) as m:
        m.boot()
        yield m


def test_slow_paths_racing_fast_paths_keep_an_exact_total(fresh_machine):
    # Two threads on the rseq fast path, whose sequence spins 100 times
    # between loading the counter and storing it plus one; two more update
    # every CPU through cpu_opv alone for as long as the first two run. A
    # cpu_opv that ran on the wrong CPU, or left a sequence there to commit,
    # loses updates (seen: 12,033 lost with the migration taken out).
    args = ["2", "200000", "1", "2", "100"]
    r = fresh_machine.run("/bin/cpu-op-counter", args)
    assert r.exit_code == 0, r.stdout
    assert "total" in r.stdout and ": ok" in r.stdout
    c = counts(r.stdout)
    # With N = 1 every abort of the fast path is one fallback; the
    # cpu_opv-only threads' updates are the others.
    assert c["fallbacks"] == c["aborts"] + c["cpu_opv-only updates"]
    # The race was run: vectors arriving on a CPU aborted sequences in their
    # window there (how many depends on every instruction of the build).
    assert c["aborts"] > 0 and c["cpu_opv-only updates"] > 0, r.stdout
    # And it is the schedule's: the same boot and run give the same race.
    with faultline.Machine(faultline.MachineConfig.defaults()) as again:
        again.boot()
        r2 = again.run("/bin/cpu-op-counter", args)
    assert (counts(r2.stdout), r2.icount) == (c, r.icount)


@pytest.fixture(scope="module")
def sequence():
    (cs,) = faultline.rseq_critical_sections(str(COUNTER))
    return cs


def hit_sequence(machine, sequence, max_aborts, hits, event):
    """One fast-path thread; event fired at the sequence's first instruction,
    the i-th time at its hits[i]-th execution after the (i-1)-th firing.
    Every firing must send the thread to the abort handler."""
    process = machine.spawn("/bin/cpu-op-counter", ["1", "2000", str(max_aborts)])
    machine.arm([(faultline.Trigger(process, sequence.start, hit), event, sequence.abort)
                 for hit in hits])
    r = machine.run_spawned()
    assert r.exit_code == 0, r.stdout + r.stderr
    assert [f.next_rip for f in machine.firings()] == [sequence.abort] * len(hits)
    return counts(r.stdout)


@pytest.mark.parametrize("event", [faultline.Event.preempt(), faultline.Event.signal(signal.SIGUSR1)],
                         ids=["preempt", "signal"])
def test_an_update_falls_back_after_exactly_n_aborts(fresh_machine, sequence, event):
    # Three firings on consecutive executions hit one update's three
    # attempts: with N = 3 the third abort sends it to cpu_opv; two do not.
    # Nothing else preempts the one thread: the aborts are the firings.
    c = hit_sequence(fresh_machine, sequence, 3, [100, 1, 1], event)
    assert (c["aborts"], c["fallbacks"]) == (3, 1)
    c = hit_sequence(fresh_machine, sequence, 3, [100, 1], event)
    assert (c["aborts"], c["fallbacks"]) == (2, 0)


def test_every_hit_update_completes_through_cpu_opv(fresh_machine, sequence):
    hits = [40] * 40
    c = hit_sequence(fresh_machine, sequence, 1, hits, faultline.Event.preempt())
    # With N = 1 each of the 40 aborts is a fallback: the total (checked by
    # the program) holds only if each of those updates went through cpu_opv.
    assert (c["aborts"], c["fallbacks"]) == (len(hits), len(hits))


def test_sweep_at_every_instruction_keeps_the_total(machine):
    config = faultline.SweepConfig(str(COUNTER), "/bin/cpu-op-counter", ["1", "1000", "1"])
    result = faultline.sweep(machine, config)
    assert result.cells
    for c in result.cells:
        assert c.fired and c.ok, (hex(c.insn_addr), c.event, c.outcome)
