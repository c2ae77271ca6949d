"""The upstream candidates' own regression test: the two target/i386 fixes
at the front of the series (qemu-patches/0002, 0003) add
tests/tcg/x86_64/system/pkeys.c to QEMU. Built here with the host gcc from
the patched tree as tests/tcg/x86_64/Makefile.softmmu-target builds it, and
run on build/qemu's qemu-system-x86_64 with QEMU's own devices only: no
faultline device, no guest kernel."""
import subprocess

import pytest

from conftest import BUILD

TCG = BUILD / "qemu" / "src" / "tests" / "tcg"
SYSTEM = TCG / "x86_64" / "system"
QEMU = BUILD / "qemu" / "build" / "qemu-system-x86_64"

# Makefile.softmmu-target's CFLAGS, and tests/tcg/Makefile.target's for
# every system test.
CFLAGS = ["-nostdlib", "-ggdb", "-O0", "-isystem", str(TCG / "minilib"),
          "-ffreestanding", "-fno-stack-protector"]

# boot.S ends a test by writing main's result to isa-debug-exit at 0xf4 when
# it is not 0, then 0x2000 to the PC's ACPI power-off port 0x604. microvm has
# no such port: a second isa-debug-exit there ends QEMU with status
# (0x2000 << 1 | 1) & 0xff = 1 for a test that passed; n failed cases end
# it through the first with 2n + 1.
PASSED = 1


def gcc(*args, cwd):
    subprocess.run(["gcc", *CFLAGS, *args], cwd=cwd, check=True)


@pytest.fixture(scope="module")
def pkeys(tmp_path_factory):
    out = tmp_path_factory.mktemp("pkeys")
    gcc("-Wa,--noexecstack", "-c", str(SYSTEM / "boot.S"), "-o", "boot.o", cwd=out)
    gcc("-c", str(TCG / "minilib" / "printf.c"), "-o", "printf.o", cwd=out)
    gcc(str(SYSTEM / "pkeys.c"), "-o", "pkeys", f"-Wl,-T{SYSTEM / 'kernel.ld'}",
        "-Wl,-melf_x86_64", "-static", "boot.o", "printf.o", "-lgcc", cwd=out)
    console = out / "pkeys.out"
    p = subprocess.run(
        [str(QEMU), "-M", "microvm", "-cpu", "max", "-L", str(BUILD / "firmware"),
         "-display", "none", "-monitor", "none", "-serial", "none",
         "-chardev", f"file,path={console},id=output",
         "-device", "isa-debugcon,chardev=output",
         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4",
         "-device", "isa-debug-exit,iobase=0x604,iosize=0x2",
         "-kernel", str(out / "pkeys")],
        capture_output=True, text=True, timeout=60)
    return p, console.read_text().splitlines()


def test_a_cr4_pke_or_pks_change_applies_at_the_next_access(pkeys):
    _, lines = pkeys
    assert lines[:4] == [
        "CR4.PKE clear, PKRU denies key 1, CPL 0 load: no fault: ok",
        "CR4.PKE set, PKRU denies key 1, CPL 0 load: #PF error code 0x21: ok",
        "CR4.PKS clear, IA32_PKRS denies key 2, CPL 0 load: no fault: ok",
        "CR4.PKS set, IA32_PKRS denies key 2, CPL 0 load: #PF error code 0x21: ok",
    ]


def test_a_user_access_to_a_supervisor_page_pkrs_denies_has_the_pk_flag(pkeys):
    _, lines = pkeys
    assert lines[4:6] == [
        "CR4.PKS set, IA32_PKRS denies key 2, CPL 3 load: #PF error code 0x25: ok",
        "CR4.PKS set, IA32_PKRS allows key 2, CPL 3 load: #PF error code 0x5: ok",
    ]


def test_the_test_passes_and_powers_off(pkeys):
    p, lines = pkeys
    assert lines[6:] == ["PASS"]
    assert (p.returncode, p.stdout, p.stderr) == (PASSED, "", "")
