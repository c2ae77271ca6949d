"""The extensible rseq ABI in the guest: auxv entries, and cpu_id_start,
cpu_id, node_id, mm_cid kept current as a thread moves between vCPUs
(guest program rseq-abi, one line per check)."""
import pytest


@pytest.fixture(scope="module")
def report(machine):
    r = machine.run("/bin/rseq-abi")
    assert not r.signaled and r.exit_code in (0, 1), r.stderr
    return {line.split(": ", 1)[1]: line.split(": ", 1)[0] for line in r.stdout.splitlines()}


def verdict(report, prefix):
    (line,) = [text for text in report if text.startswith(prefix)]
    return report[line], line


@pytest.mark.parametrize("check", [
    "AT_RSEQ_FEATURE_SIZE", "AT_RSEQ_ALIGN", "glibc registered rseq",
    "on cpu 0 ", "on cpu 1 ", "2 threads on 2 cpus hold distinct mm_cids",
])
def test_rseq_abi(report, check):
    status, line = verdict(report, check)
    assert status == "ok", line
