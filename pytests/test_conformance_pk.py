"""faultline conformance pk: QEMU's access-rights and protection-key check
against models/ PkCheck over every case the guest can set up, each run for
real (CPL 3 by /bin/pk-conformance, CPL 0 by the kernel's debugfs
pks/conformance), QEMU's page-fault records the answer."""
import json
import os
from xml.etree import ElementTree

import pytest

from conftest import cli

CASES = 196608
# Per CPL the 1536 register settings of each of the 64 pages (U/S × R/W × key).
# Not covered at CPL 0: under CR4.PKS a PKRS closing key 0 (AD, or WD with
# CR0.WP): on the 4 key-0 pages, 3 kinds × SMAP × AC × PKE × every PKRU, 3 of
# 4 PKRS settings when WP = 1, 2 of 4 when WP = 0.
NOT_COVERED_CPL0 = 4 * (3 * 2 * 2 * 2) * (3 + 2) * 4
# At CPL 3 only WP = SMAP = PKE = PKS = 1, and no PKRS closing key 0.
COVERED_CPL3 = 64 * 3 * 2 * 4 * 4 - 4 * 3 * 3 * 2 * 4
NOT_COVERED = NOT_COVERED_CPL0 + (CASES // 2 - COVERED_CPL3)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pk") / "pk.json"
    p = cli("conformance", "pk", "--json", str(out), "--junit", str(out.with_suffix(".xml")))
    return p, json.loads(out.read_text()) if out.exists() else None, out.with_suffix(".xml")


def test_junit_has_a_passed_case_a_row_of_the_table(run):
    p, _, junit = run
    assert p.returncode == 0, p.stdout + p.stderr
    [suite] = ElementTree.parse(junit).getroot()
    kinds = ["read", "write", "instruction_fetch"]
    assert [case.get("name") for case in suite] == [f"cpl {cpl} {kind}" for cpl in (0, 3)
                                                    for kind in kinds]
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "0")


def test_every_case_agrees_with_the_model(run):
    p, report, _ = run
    assert p.returncode == 0, p.stdout + p.stderr
    assert report["mismatches"] == []
    assert (report["cases"], report["not_covered"]) == (CASES, NOT_COVERED)
    assert report["covered"] == CASES - NOT_COVERED == 102240
    assert p.stdout.splitlines()[-1].startswith(
        f"pk conformance: {CASES} cases, {CASES - NOT_COVERED} covered, "
        f"{NOT_COVERED} not covered, 0 mismatches (")


def test_the_table_and_json_give_each_cpl_and_access_its_row(run):
    p, report, _ = run
    rows = {(r["cpl"], r["access"]): r for r in report["rows"]}
    assert sorted(rows) == [(cpl, a) for cpl in (0, 3)
                            for a in sorted(["read", "write", "instruction_fetch"])]
    for r in report["rows"]:
        assert r["cases"] == CASES // 6
        assert r["covered"] + r["not_covered"] == r["cases"]
        assert r["allowed"] + r["faulted"] == r["covered"]
        assert r["mismatches"] == 0
    # The exact answers of this QEMU (qemu-patches/0002, 0003 and 0017) and kernel.
    assert [(r["allowed"], r["faulted"]) for r in report["rows"]] == [
        (21260, 10868), (15115, 17013), (16064, 16064), (488, 1464), (122, 1830), (976, 976)]
    assert p.stdout.splitlines()[0].split()[:3] == ["cpl", "access", "cases"]


def test_each_not_covered_case_says_why(run):
    _, report, _ = run
    assert sum(report["not_covered_why"].values()) == NOT_COVERED
    assert report["not_covered_why"][
        "CPL 0 under CR4.PKS with a PKRS that forbids writing the kernel stack (key 0)"] == \
        NOT_COVERED_CPL0




def test_an_unknown_target_is_refused_naming_the_known_ones():
    p = cli("conformance", "foo")
    assert p.returncode == 2
    assert "unknown conformance target 'foo' (known: rseq, pk, pks)" in p.stderr
    p = cli("conformance")
    assert p.returncode == 2 and "(known: rseq, pk, pks)" in p.stderr


def test_a_json_file_in_no_directory_is_refused_before_boot(tmp_path):
    p = cli("conformance", "pk", "--json", str(tmp_path / "absent" / "pk.json"))
    assert p.returncode == 2
    assert f"--json {tmp_path}/absent/pk.json: no directory {tmp_path}/absent" in p.stderr
    assert "guest ready" not in p.stderr and os.listdir(tmp_path) == []
