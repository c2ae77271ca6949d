import pathlib
import signal
import subprocess

import pytest

import faultline
from conftest import python_script


@pytest.mark.parametrize("field", ["qemu", "kernel", "initrd"])
def test_missing_file_names_its_path(config, field):
    setattr(config, field, f"/nonexistent/{field}")
    with pytest.raises(faultline.FileMissing) as e:
        faultline.Machine(config).boot()
    assert e.value.path == f"/nonexistent/{field}"
    assert f"/nonexistent/{field}" in str(e.value)


def test_missing_firmware_names_its_path(config):
    config.firmware_dir = "/nonexistent"
    with pytest.raises(faultline.FileMissing) as e:
        faultline.Machine(config).boot()
    assert e.value.path == "/nonexistent/bios-microvm.bin"


def test_missing_pvh_option_rom_names_its_path(config, tmp_path):
    (tmp_path / "bios-microvm.bin").symlink_to(pathlib.Path(config.firmware_dir) / "bios-microvm.bin")
    config.firmware_dir = str(tmp_path)
    with pytest.raises(faultline.FileMissing) as e:
        faultline.Machine(config).boot()
    assert e.value.path == str(tmp_path / "pvh.bin")


@pytest.mark.kernel_report_expected
def test_guest_panic_carries_the_console_tail(config):
    # No init to run: the kernel's own "no working init" panic.
    config.kernel_args = ["rdinit=/no-such-init"]
    m = faultline.Machine(config)
    with pytest.raises(faultline.GuestPanic) as e:
        m.boot()
    assert "Kernel panic - not syncing" in e.value.console_tail
    # The same report is what fails any other test (conftest.no_kernel_report).
    m.shutdown()
    banner, end = m.kernel_reports()
    assert banner.startswith("Kernel panic - not syncing: No working init found.")
    assert end == f"---[ end {banner} ]---"


def test_command_that_never_returns_times_out(config):
    config.command_timeout_s = 3
    with faultline.Machine(config) as m:
        m.boot()
        with pytest.raises(faultline.CommandTimeout):
            m.run("/bin/hang")
        with pytest.raises(faultline.Error, match="unusable"):
            m.run("/bin/rseq-counter")


def test_boot_that_never_gets_ready_times_out(config):
    # An init that never talks to the host: the kernel boots, no agent answers.
    config.kernel_args = ["rdinit=/bin/hang"]
    config.boot_timeout_s = 5
    with pytest.raises(faultline.BootTimeout, match="not ready"):
        faultline.Machine(config).boot()


def test_qemu_refusing_to_start_reports_status_and_stderr(config):
    config.memory_mib = 64 * 1024 * 1024  # 64 TiB: QEMU cannot allocate it
    with pytest.raises(faultline.QemuDied) as e:
        faultline.Machine(config).boot()
    assert "exited with status 1" in e.value.exit_status
    assert e.value.stderr_tail


@pytest.mark.parametrize("cpus", [0, 9])
def test_cpu_count_out_of_range_is_refused(config, cpus):
    config.cpus = cpus
    with pytest.raises(faultline.ConfigError, match="cpus"):
        faultline.Machine(config).boot()


def uploaded(machine, host_programs, name):
    machine.put_file(str(host_programs[name]), f"/tmp/{name}")
    return f"/tmp/{name}"


@pytest.mark.parametrize("how, complaint", [
    ("forge", "without this boot's secret"),
    ("replay", "out of order"),
])
def test_a_handshake_a_program_forges_breaks_the_machine(config, host_programs, how, complaint):
    with faultline.Machine(config) as m:
        m.boot()
        forger = uploaded(m, host_programs, "forge_handshake")
        # The agent's last reply, for the replay: a real run's.
        assert m.run("/bin/rseq-counter", ["1", "10"]).exit_code == 0
        with pytest.raises(faultline.AgentError, match=complaint):
            m.run(forger, [how], run_as_root=True)
        with pytest.raises(faultline.Error, match="unusable"):
            m.run("/bin/rseq-counter", ["1", "10"])


def test_a_program_gets_no_mailbox_ports_by_default(config, host_programs):
    # Its own machine: were the ports reachable, the forgery would derail it.
    with faultline.Machine(config) as m:
        m.boot()
        r = m.run(uploaded(m, host_programs, "forge_handshake"), ["forge"])
        assert r.stderr == "ioperm: Operation not permitted\n"
        # Nor did it inherit the agent's: the first OUT faults.
        assert r.signaled and r.exit_code == signal.SIGSEGV
        assert m.run("/bin/rseq-counter", ["1", "10"]).exit_code == 0


INTERRUPTED_RUN = """
import os, signal, threading, time
import faultline

config = faultline.MachineConfig.defaults()
config.command_timeout_s = 20
with faultline.Machine(config) as m:
    m.boot()
    threading.Timer(1, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    try:
        m.run("/bin/hang")
    except KeyboardInterrupt:
        print("KeyboardInterrupt after", time.monotonic() - start)
    try:
        os.waitpid(-1, os.WNOHANG)
        print("QEMU still a child")
    except ChildProcessError:
        print("no child left")
    try:
        m.run("/bin/hang")
    except faultline.Error as e:
        print(type(e).__name__ + ":", e)
"""


def test_ctrl_c_interrupts_a_run_and_ends_qemu():
    p = python_script(INTERRUPTED_RUN, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=120)
    lines = out.splitlines()
    assert lines and lines[0].startswith("KeyboardInterrupt after"), out + err
    assert 1 <= float(lines[0].split()[-1]) < 2.5
    assert lines[1:] == ["no child left", "Error: machine unusable after an earlier failure; "
                         "shut it down and boot a new one"], out + err
