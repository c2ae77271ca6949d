import json
import os
import re
import signal
import subprocess

import pytest

from conftest import CLI, GUEST_PROGRAMS, child_pids, cli, ended, per_cpu_counts, qemu_run_dir


def test_boot_json():
    p = cli("boot", "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["cpus"] == 2
    assert info["kernel_release"].startswith("6.12")
    assert info["qemu_version"] == "10.0.2"
    assert info["icount_at_ready"] > 0 and info["ready_s"] > 0


def test_run_json_runs_a_guest_program():
    p = cli("run", "--json", "--", "/bin/rseq-counter", "2", "1000")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["exit_code"] == 0 and out["icount"] > 0
    assert set(per_cpu_counts(out["stdout"])) == {0, 1}


def test_run_binary_from_the_host(host_programs):
    p = cli("run", "--json", "--binary", str(host_programs["echo_exit"]), "--", "3", "x")
    out = json.loads(p.stdout)
    assert out["stdout"] == "3 x\n"
    assert out["exit_code"] == 3
    assert p.returncode == 3


def test_bad_usage_exits_2():
    p = cli("run", "--json")
    assert p.returncode == 2
    assert "PROGRAM" in p.stderr
    assert cli("frobnicate").returncode == 2


def test_missing_binary_is_bad_usage_found_before_boot():
    p = cli("run", "--binary", "/nonexistent/prog")
    assert p.returncode == 2 and "/nonexistent/prog" in p.stderr
    assert "guest ready" not in p.stderr


@pytest.mark.parametrize("command", [["sweep", "--json"], ["sweep", "--html"],
                                     ["explore", "--depth", "1", "--runs", "1", "--seed", "1",
                                      "--binary", "/bin/true", "--json"]])
def test_a_report_in_no_directory_is_bad_usage_found_before_boot(command, tmp_path):
    report = tmp_path / "absent" / "report"
    p = cli(*command, str(report))
    assert p.returncode == 2, p.stdout + p.stderr
    assert f"{command[-1]} {report}: no directory {report.parent}" in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("command", [["sweep"], ["explore", "--depth", "1", "--runs", "1",
                                                 "--seed", "1"]])
def test_a_program_that_fails_without_events_is_bad_input_with_its_output(command):
    # rseq-counter refuses 0 threads per CPU: exit 2 and its usage line.
    p = cli(*command, "--binary", str(GUEST_PROGRAMS / "rseq-counter"), "--", "0")
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.splitlines()[:2] == [
        "faultline: error: /tmp/rseq-counter fails without any event: it exited 2; its own "
        "check cannot judge the events",
        "usage: rseq-counter [THREADS_PER_CPU>=1 [N>=1]]"]


def test_missing_kernel_is_one_line_naming_it():
    p = cli("boot", "--kernel", "/nonexistent/vmlinux")
    assert p.returncode == 125
    assert p.stderr.splitlines() == ["faultline: error: guest kernel not found: /nonexistent/vmlinux"]


def test_run_as_nobody_unless_root_is_asked_for(host_programs):
    show_file = str(host_programs["show_file"])
    for flags, uid in [([], "65534"), (["--root"], "0")]:
        p = cli("run", "--json", *flags, "--binary", show_file, "--", "/proc/self/status")
        status = json.loads(p.stdout)["stdout"]
        assert re.search(r"^Uid:\s+(\d+)\s", status, re.M).group(1) == uid, p.stderr


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_a_run_with_qemu_and_the_run_directory(signo):
    p = subprocess.Popen([str(CLI), "run", "--", "/bin/hang"], stderr=subprocess.PIPE, text=True)
    try:
        assert "guest ready" in p.stderr.readline()
        (qemu,) = child_pids(p.pid)
        run_dir = qemu_run_dir(qemu)
        assert os.path.isdir(run_dir)
        p.send_signal(signo)
        # Ended by the signal itself, once it has cleaned up.
        assert p.wait(timeout=20) == -signo
        assert not os.path.exists(run_dir)
        assert ended(qemu)
    finally:
        p.kill()
        p.wait()
