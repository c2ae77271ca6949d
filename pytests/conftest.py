"""Fixtures for the system tests: the built faultline package, a guest
booted once per session (per xdist worker), and the check that every test
leaves no kernel report (WARNING, BUG, Oops, KASAN, lockdep, RCU stall...)
on the console of any machine it used."""
import contextlib
import fcntl
import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import weakref

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", ROOT / "build"))
sys.path.insert(0, str(BUILD / "python"))

import faultline  # noqa: E402


class Machine(faultline.Machine):
    """faultline.Machine, remembered so that every test is checked for the
    kernel reports its machines' consoles gained (no_kernel_report)."""
    # Made during the running test: held until it has been checked, so a
    # machine shut down inside the test is still read.
    made_in_test = []
    # Every machine still alive, with how many of its reports a test has answered for.
    reports_checked = weakref.WeakKeyDictionary()

    def __init__(self, config=None):
        super().__init__(config)
        Machine.made_in_test.append(self)
        Machine.reports_checked[self] = 0


# Tests say faultline.Machine(...), as users do; each one they make is known.
faultline.Machine = Machine


@pytest.fixture(autouse=True)
def no_kernel_report(request):
    """Fails a test during which a guest kernel reported a bug in itself,
    on the session machine or on one the test booted. Tests that make the
    kernel panic on purpose are marked kernel_report_expected."""
    yield
    new = []
    for m in list(Machine.reports_checked):
        reports = m.kernel_reports()
        new += reports[Machine.reports_checked[m]:]
        Machine.reports_checked[m] = len(reports)
    Machine.made_in_test.clear()
    if new and not request.node.get_closest_marker("kernel_report_expected"):
        pytest.fail("kernel report on the guest console:\n" + "\n".join(new), pytrace=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "kernel_report_expected: the test makes the guest kernel "
                            "report (panic) on purpose")


# Modules whose tests share module fixtures that run the emulator (a sweep,
# a whole suite): under make's --dist loadgroup one worker runs each of
# them, so a fixture runs once rather than once a worker.
SHARED_FIXTURE_MODULES = {"test_closure", "test_conformance_pk", "test_explore", "test_minimize",
                          "test_pk_events", "test_shard", "test_sweep_real_code"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__ in SHARED_FIXTURE_MODULES:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))

CLI = BUILD / "bin" / "faultline"


def cli(*args, timeout=600):
    """Runs build/bin/faultline as a user does. The CLI prints every kernel
    report of its machine on stderr; like no_kernel_report, none may come."""
    p = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=timeout)
    assert "faultline: kernel report:" not in p.stderr, p.stderr
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def replay_in_gdb(reproducer, *commands, options=()):
    """`faultline replay REPRODUCER --gdb PORT [OPTIONS]`, then Debian's gdb
    in batch mode runs the script it wrote and then commands: gdb's result,
    and the replay's exit code and stderr."""
    port = free_port()
    replay = subprocess.Popen([str(CLI), "replay", str(reproducer), "--gdb", str(port), *options],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        err = ""
        for line in replay.stderr:
            err += line
            if "gdbstub listens" in line:
                break
        args = ["gdb", "-nx", "-batch", "-x", f"{reproducer}.gdb"]
        for command in commands:
            args += ["-ex", command]
        gdb = subprocess.run(args, capture_output=True, text=True, timeout=120)
        err += replay.stderr.read()
        replay.wait(timeout=120)
    finally:
        replay.kill()
    assert "faultline: kernel report:" not in err, err
    return gdb, replay.returncode, err


# Host copies of the programs in the guest's /bin.
GUEST_PROGRAMS = BUILD / "linux" / "initramfs"


@pytest.fixture(scope="session")
def booted():
    with faultline.Machine(faultline.MachineConfig.defaults()) as machine:
        yield machine, machine.boot()


@pytest.fixture(scope="session")
def machine(booted):
    return booted[0]


@pytest.fixture(scope="session")
def boot_info(booted):
    return booted[1]


@pytest.fixture(scope="session")
def precise_xinuse_machine():
    """A guest whose vCPUs report an XSAVE component in its initial
    configuration (PKRU 0, XMM/YMM 0) as not in use, as some CPUs do
    (MachineConfig.precise_xinuse, qemu-patches/0018)."""
    config = faultline.MachineConfig.defaults()
    config.precise_xinuse = True
    with faultline.Machine(config) as m:
        m.boot()
        yield m


@pytest.fixture(scope="module", params=["all_in_use", "precise_xinuse"])
def pk_machine(request):
    """The session machine, whose vCPUs report every XSAVE component in use,
    and one with precise XINUSE: the protection-key suites run on both, since
    code that saves PKRU with XSAVE sees XSTATE_BV[9] clear only on the second."""
    name = "machine" if request.param == "all_in_use" else "precise_xinuse_machine"
    return request.getfixturevalue(name)


@pytest.fixture
def config():
    return faultline.MachineConfig.defaults()


def per_cpu_counts(stdout):
    """{cpu: increments} from rseq-counter's report."""
    return {int(c): int(n) for c, n in re.findall(r"^cpu (\d+): (\d+) increments", stdout, re.M)}


def check_report(machine, program, args, run_as_root=False):
    """Runs a guest check program (guest-kernel/lib/checks.h): its
    result and {check: "ok" | "FAIL why"}."""
    r = machine.run(program, args, run_as_root=run_as_root)
    return r, dict(line.split(": ", 1) for line in r.stdout.splitlines())


UPLOADED_PROGRAMS = ROOT / "guest-kernel" / "programs" / "uploaded"


@pytest.fixture(scope="session")
def host_programs(tmp_path_factory):
    """Users' own static x86_64 programs (guest-kernel/programs/uploaded/*.c),
    built on the host the way a user would: {name: path}."""
    out = tmp_path_factory.mktemp("programs")
    built = {}
    for src in sorted(UPLOADED_PROGRAMS.glob("*.c")):
        binary = out / src.stem
        subprocess.run(["gcc", "-static", "-O2", "-o", str(binary), str(src)], check=True)
        built[src.stem] = binary
    return built


def read_on_a_fresh_boot(host_programs, kernel_args, guest_path):
    """Boots a guest with these kernel arguments and returns what a
    root-only file (debugfs) says then."""
    config = faultline.MachineConfig.defaults()
    config.kernel_args = kernel_args
    with faultline.Machine(config) as m:
        m.boot()
        m.put_file(str(host_programs["show_file"]), "/tmp/show_file")
        return m.run("/tmp/show_file", [guest_path], run_as_root=True).stdout


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def python_script(source, **popen):
    """Starts this Python on source, with the faultline package importable."""
    env = dict(os.environ, PYTHONPATH=str(BUILD / "python"))
    return subprocess.Popen([sys.executable, "-c", source], env=env, text=True, **popen)


def stat_fields(pid):
    """/proc/PID/stat after the command name: state, ppid, ..."""
    return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def child_pids(pid):
    """The processes whose parent is pid (the QEMU of a harness process)."""
    children = []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(stat_fields(entry.name)[1]) == pid:
                children.append(int(entry.name))
        except OSError:
            pass  # ended meanwhile
    return children


def qemu_run_dir(pid):
    """The run directory a harness gave the QEMU process pid (its QMP socket's)."""
    argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    socket = re.search(r"^unix:(.*)/qmp.sock,", "\n".join(argv), re.M)
    return socket.group(1)


def ended(pid, within_s=10):
    """Whether pid exits within within_s seconds (a zombie has: nothing of it runs)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if stat_fields(pid)[0] in ("Z", "X"):
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def kernel_under_test_lock(name):
    """Held by a test while it builds (or may build) build/kernel-under-test/NAME,
    so two xdist workers never build one directory at once."""
    lock = BUILD / "kernel-under-test" / f"{name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield
