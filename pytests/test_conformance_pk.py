"""faultline conformance pk: QEMU's access-rights and protection-key check
against models/ PkCheck over every case the guest can set up, each run for
real (CPL 3 by /bin/pk-conformance, CPL 0 by the kernel's debugfs
pks/conformance), QEMU's page-fault records the answer."""
import os

from conftest import cli


def test_an_unknown_target_is_refused_naming_the_known_ones():
    p = cli("conformance", "foo")
    assert p.returncode == 2
    assert "unknown conformance target 'foo' (known: rseq, pk)" in p.stderr
    p = cli("conformance")
    assert p.returncode == 2 and "(known: rseq, pk)" in p.stderr


def test_a_json_file_in_no_directory_is_refused_before_boot(tmp_path):
    p = cli("conformance", "pk", "--json", str(tmp_path / "absent" / "pk.json"))
    assert p.returncode == 2
    assert f"--json {tmp_path}/absent/pk.json: no directory {tmp_path}/absent" in p.stderr
    assert "guest ready" not in p.stderr and os.listdir(tmp_path) == []
