"""faultline conformance rseq, and kernels under test: the project's kernel
passes; a kernel built with a test-only patch (pytests/kernel-patches/) that
breaks rseq fails, naming what it broke."""
import json
import os
import subprocess
from xml.etree import ElementTree

import pytest

from conftest import BUILD, CLI, ROOT, cli, kernel_under_test_lock

PATCHES = ROOT / "pytests" / "kernel-patches"


def build_kernel_under_test(name, *patches):
    out = BUILD / "kernel-under-test" / name
    env = dict(os.environ, KERNEL_PATCHES=" ".join(str(PATCHES / p) for p in patches))
    # The doc test builds the same directories from its examples.
    with kernel_under_test_lock(name):
        p = subprocess.run([str(ROOT / "guest-kernel" / "build.sh"), str(out)], env=env,
                           capture_output=True, text=True)
    return p, out


@pytest.fixture(scope="module")
def kernel_under_test(request):
    p, out = build_kernel_under_test(request.param, request.param + ".patch")
    assert p.returncode == 0, p.stderr
    return ["--kernel", str(out / "vmlinux"), "--initrd", str(out / "initramfs.cpio")]


def test_the_projects_kernel_passes():
    p = cli("conformance", "rseq")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[-1] == "rseq conformance: 7 of 7 checks passed"


# A kernel that does not restart a sequence on preemption fails the preempt
# and page_fault_blocking columns of every sweep, not signal's, exit 1: the
# README's quick start runs it and the doc test compares its whole table
# and status.


@pytest.mark.parametrize("kernel_under_test", ["rseq-no-restart-on-preempt"], indirect=True)
def test_a_kernel_under_test_loaded_from_the_boot_cache_runs_threads_as_booted(
        kernel_under_test, tmp_path):
    # Two threads on two vCPUs: the loaded machine must go on with the vCPU
    # the saved one would have run next (qemu-patches/0014; this kernel's
    # boot leaves it on the second), or the count differs.
    env = dict(os.environ, FAULTLINE_CACHE=str(tmp_path))
    param_test = ["--", "/selftests/rseq/param_test", "-T", "s", "-t", "2", "-r", "10"]

    def icount(*options):
        p = subprocess.run([str(CLI), "run", "--json", *options, *kernel_under_test, *param_test],
                           env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)["icount"]

    booted = icount("--no-boot-cache")
    assert icount() == booted  # boots and saves
    assert icount() == booted  # loads
    assert len(list((tmp_path / "boot").glob("*.state"))) == 1


@pytest.mark.parametrize("kernel_under_test", ["rseq-post-commit-inside"], indirect=True)
def test_a_kernel_that_counts_post_commit_inside_fails_the_post_commit_rows(
        kernel_under_test, tmp_path):
    p = cli("conformance", "rseq", *kernel_under_test)
    assert p.returncode == 1, p.stdout + p.stderr
    report = tmp_path / "sweep.json"
    junit = tmp_path / "sweep.xml"
    p = cli("sweep", "--json", str(report), "--junit", str(junit), *kernel_under_test)
    assert p.returncode == 1
    sweep = json.loads(report.read_text())
    failed = [c for c in sweep["cells"] if c["reached"] and not c["ok"]]
    # A CI page shows each of them, with the model's answer and the observed one.
    [suite] = ElementTree.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == \
        (str(len(sweep["cells"])), str(len(failed)), "0")
    assert [(case.get("name"), case.find("failure").get("message")) for case in suite
            if case.find("failure") is not None] == [
        (f"{c['event']} before {c['insn_addr']:#x} {c['insn']}",
         f"observed abort, the model says {c['model'][0]}; the program {c['outcome']}")
        for c in failed]
    # Exactly the post-commit rows, for every event that aborts inside.
    assert failed and all(not c["expected_abort"] and not c["may_abort"] and c["aborted"]
                          for c in failed)
    post_commit = {max(c["insn_addr"] for c in sweep["cells"] if c["cs"] == cs)
                   for cs in {c["cs"] for c in sweep["cells"]}}
    assert {(c["insn_addr"], c["event"]) for c in failed} == {
        (addr, e) for addr in post_commit
        for e in ("preempt", "signal", "migrate", "page_fault_blocking")}
    # Each of those aborts where the model says the thread resumes: that
    # alone convicts it, so a run of many trials that broke the program
    # costs a run per such trial, and the others go on together. Each of
    # the 4 run groups holds one post-commit row: a run of its trials that
    # breaks, then the others together again (one group needs one run
    # more): 9 runs of many trials and one per failing cell, not one per
    # trial.
    assert sweep["program_runs"] == 9 + len(failed) == 25


def test_a_kernel_patch_that_does_not_apply_is_named_with_its_hunk(tmp_path):
    # The post-commit patch twice: the second finds its line already changed.
    p, _ = build_kernel_under_test("twice", "rseq-post-commit-inside.patch",
                                   "rseq-post-commit-inside.patch")
    assert p.returncode != 0
    assert "patched-tree: user-2-rseq-post-commit-inside.patch does not apply" in p.stderr
    assert "-	return ip - rseq_cs->start_ip < rseq_cs->post_commit_offset;" in p.stderr
