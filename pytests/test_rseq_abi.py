"""The extensible rseq ABI in the guest: auxv entries, and cpu_id_start,
cpu_id, node_id, mm_cid kept current as a thread moves between vCPUs
(guest program rseq-abi, one line per check)."""
import pytest

CHECKS = [
    "AT_RSEQ_FEATURE_SIZE", "AT_RSEQ_ALIGN", "glibc registered rseq",
    "on cpu 0 ", "on cpu 1 ", "2 threads on 2 cpus hold distinct mm_cids",
]


@pytest.fixture(scope="module")
def run(machine):
    r = machine.run("/bin/rseq-abi")
    # {check text: "ok" | "FAIL"}: the text carries the values it saw.
    return r, {line.split(": ", 1)[1]: line.split(": ", 1)[0] for line in r.stdout.splitlines()}


def verdict(report, prefix):
    (line,) = [text for text in report if text.startswith(prefix)]
    return report[line], line


@pytest.mark.parametrize("check", CHECKS)
def test_rseq_abi(run, check):
    status, line = verdict(run[1], check)
    assert status == "ok", line


def test_the_program_makes_exactly_these_checks_and_passes(run):
    r, report = run
    assert sorted(verdict(report, check)[1] for check in CHECKS) == sorted(report), r.stdout
    assert not r.signaled and r.exit_code == 0, r.stdout + r.stderr
