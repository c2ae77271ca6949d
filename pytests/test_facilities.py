"""What a program and its test suite expect of a distribution kernel works
in the guest (guest-kernel/faultline.config, the agent's mounts):
/bin/facilities uses each facility for real as an unprivileged user (data
through the socket, the timer fires, the eventfd counts), one check each."""
import pytest

from conftest import check_report

FACILITIES = [
    "madvise_fadvise_mincore", "epoll", "eventfd", "timerfd", "signalfd", "inotify", "sysv_ipc",
    "posix_mqueue", "unix_sockets", "tcp_ipv4_loopback", "udp_ipv4_loopback",
    "tcp_ipv6_loopback", "udp_ipv6_loopback", "aio", "io_uring", "name_to_handle_at",
    "seccomp_filter", "memfd_seals", "userfaultfd", "membarrier", "ptrace", "process_vm_readv",
    "file_locks", "tmp_is_tmpfs", "dev_shm", "proc_and_sys", "cgroup2", "devices",
]


@pytest.fixture(scope="module")
def checks(machine):
    result, checks = check_report(machine, "/bin/facilities", [])
    assert list(checks) == FACILITIES, result.stdout + result.stderr
    return checks


@pytest.mark.parametrize("facility", FACILITIES)
def test_the_guest_offers(checks, facility):
    assert checks[facility] == "ok"
