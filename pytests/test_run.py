import subprocess

import pytest

import faultline
from conftest import child_pids, ended, fnv1a64, per_cpu_counts, python_script


def test_rseq_counter_passes_on_every_vcpu(machine, boot_info):
    r = machine.run("/bin/rseq-counter", ["2", "20000"])
    assert r.exit_code == 0 and not r.signaled, r.stdout + r.stderr
    counts = per_cpu_counts(r.stdout)
    assert sorted(counts) == list(range(boot_info.cpus))
    # Each vCPU has a pinned thread, so each ran the sequence at least that often.
    assert all(n >= 20000 for n in counts.values())
    assert sum(counts.values()) == 2 * boot_info.cpus * 20000
    assert r.icount > 0


def test_run_returns_stdout_stderr_and_exit_code(machine):
    r = machine.run("/bin/rseq-counter", ["0"])
    assert r.exit_code == 2
    assert "usage: rseq-counter" in r.stderr
    assert r.stdout == ""


def test_missing_guest_program_is_exit_127_with_reason(machine):
    r = machine.run("/bin/no-such-program")
    assert r.exit_code == 127
    assert "No such file" in r.stderr


def test_guest_icount_advances_with_work(machine):
    before = machine.icount()
    r = machine.run("/bin/rseq-counter", ["1", "5000"])
    after = machine.icount()
    assert after - before >= r.icount > 0


def test_uploaded_binary_runs(machine, host_programs):
    machine.put_file(str(host_programs["echo_exit"]), "/tmp/echo_exit")
    r = machine.run("/tmp/echo_exit", ["7", "hello world"])
    assert r.exit_code == 7
    assert r.stdout == "7 hello world\n"


def test_put_writes_bytes_exactly(machine, host_programs):
    data = bytes(range(256)) * 4096 + b"\0tail"
    machine.put("/tmp/blob", data, 0o644)
    machine.put_file(str(host_programs["fnv_file"]), "/tmp/fnv_file")
    r = machine.run("/tmp/fnv_file", ["/tmp/blob"])
    assert r.stdout == f"{len(data)} {fnv1a64(data):x}\n"


@pytest.mark.parametrize("data_writes", [0, 100, 5000])
def test_code_a_program_rewrites_runs_as_rewritten(machine, host_programs, data_writes):
    # Code rewritten byte by byte, with no data written beside it, with
    # enough that QEMU drops all the page's translations at once in each
    # round (qemu-patches/0021), and with the page written all over.
    machine.put_file(str(host_programs["code_rewrite"]), "/tmp/code_rewrite")
    r = machine.run("/tmp/code_rewrite", ["300", str(data_writes)])
    assert (r.exit_code, r.stdout) == (0, "300 rounds ok\n")


def test_upload_of_missing_host_file_names_it(machine):
    try:
        machine.put_file("/nonexistent/prog", "/tmp/prog")
    except faultline.FileMissing as e:
        assert e.path == "/nonexistent/prog"
    else:
        raise AssertionError("no FileMissing")


def test_pause_holds_the_guest_still_and_resume_lets_it_finish(machine):
    # Floating threads too: the pause lands on a host-timed instruction, and
    # the program must not care.
    machine.start("/bin/rseq-counter", ["2", "200000"])
    machine.pause()
    assert machine.paused
    first = machine.icount()
    second = machine.icount()
    assert first == second
    machine.resume()
    r = machine.wait()
    assert r.exit_code == 0, r.stdout
    assert machine.icount() > first


def test_wait_while_paused_is_refused(machine):
    machine.start("/bin/rseq-counter", ["1", "1000"])
    machine.pause()
    try:
        machine.wait()
    except faultline.ConfigError:
        pass
    else:
        raise AssertionError("wait() while paused did not raise")
    machine.resume()
    assert machine.wait().exit_code == 0


def ids_of(status):
    """Uid, Gid and Groups of a /proc/PID/status."""
    fields = dict(line.split(":", 1) for line in status.splitlines())
    return tuple(fields[k].split() for k in ("Uid", "Gid", "Groups"))


def test_programs_run_as_nobody_unless_asked_for_root(machine, host_programs):
    machine.put_file(str(host_programs["show_file"]), "/tmp/show_file")
    r = machine.run("/tmp/show_file", ["/proc/self/status"])
    assert ids_of(r.stdout) == (["65534"] * 4, ["65534"] * 4, [])
    r = machine.run("/tmp/show_file", ["/proc/self/status"], run_as_root=True)
    assert ids_of(r.stdout) == (["0"] * 4, ["0"] * 4, [])


def test_a_spawned_program_runs_as_nobody_too(machine, host_programs):
    machine.put_file(str(host_programs["show_file"]), "/tmp/show_file")
    machine.spawn("/tmp/show_file", ["/proc/self/status"])
    assert ids_of(machine.run_spawned().stdout)[0] == ["65534"] * 4


BOOTED_IN_A_THREAD = """
import os, sys, threading
import faultline

m = faultline.Machine()
booting = threading.Thread(target=m.boot)
booting.start()
booting.join()
print(m.run("/bin/rseq-counter", ["1", "100"]).exit_code, flush=True)
sys.stdin.readline()
os._exit(0)  # no shutdown: QEMU has to end with the process all the same
"""


def test_a_machine_outlives_the_thread_that_booted_it():
    p = python_script(BOOTED_IN_A_THREAD, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == "0\n"
        (qemu,) = child_pids(p.pid)
        p.stdin.write("\n")
        p.stdin.flush()
        assert p.wait(timeout=30) == 0
        assert ended(qemu)
    finally:
        p.kill()
        p.wait()
