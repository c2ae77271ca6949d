"""Precise XINUSE (qemu-patches/0018, MachineConfig.precise_xinuse, `run
--precise-xinuse`): the vCPUs report an XSAVE component in its initial
configuration as not in use (SDM vol. 1, 13.6), as some CPUs do. /bin/xinuse
sets the vector registers and PKRU, then reads XSTATE_BV from an XSAVE and
an XSAVEOPT of every component, and XGETBV 1. The expected values are
models/XinuseTracker's (models/tests/xinuse_test.cpp) for this XCR0."""
import pytest

from conftest import cli

# Linux 6.12 on -cpu max: x87, SSE, AVX, MPX's BNDREGS and BNDCSR, PKRU.
XCR0 = 0x21f
# Set-up -> the components in use: x87 always (its initial configuration is
# not tracked), PKRU when not 0, SSE when an XMM register is not 0, AVX when
# a YMM upper half is not 0.
PRECISE = {"init": 0x001, "pkru": 0x201, "sse": 0x003, "avx": 0x005}
# Without the property every component is in use but BNDREGS, whose use
# QEMU has always tracked (no MPX instruction ever ran).
ALL_IN_USE = {case: 0x217 for case in PRECISE}


def observed(stdout):
    """{case: (xsave, xsaveopt, xgetbv1)} and the XCR0 line."""
    lines = stdout.splitlines()
    cases = {}
    for line in lines[1:]:
        name, _, xsave, _, xsaveopt, _, xgetbv1 = line.split()
        cases[name] = (int(xsave, 16), int(xsaveopt, 16), int(xgetbv1, 16))
    return lines[0], cases


@pytest.mark.parametrize("flags, expected", [([], ALL_IN_USE), (["--precise-xinuse"], PRECISE)],
                         ids=["all_in_use", "precise_xinuse"])
def test_xstate_bv_after_each_set_up(flags, expected):
    p = cli("run", *flags, "--", "/bin/xinuse")
    assert p.returncode == 0, p.stdout + p.stderr
    xcr0, cases = observed(p.stdout.split("faultline: ")[0])
    assert xcr0 == f"xcr0 {XCR0:#x}"
    assert cases == {case: (v, v, v) for case, v in expected.items()}


def test_wrpkru_0_then_xsave_clears_bit_9_only_with_the_property(machine, precise_xinuse_machine):
    """The case Linux 6.12's signal delivery met: PKRU written 0 right before
    an XSAVE. The session machine and one booted from a MachineConfig."""
    _, all_in_use = observed(machine.run("/bin/xinuse").stdout)
    _, precise = observed(precise_xinuse_machine.run("/bin/xinuse").stdout)
    assert all_in_use["init"][0] & (1 << 9) == 1 << 9
    assert precise["init"][0] & (1 << 9) == 0
    assert precise["pkru"][0] & (1 << 9) == 1 << 9


def test_the_flag_is_documented_and_only_for_run_and_sweep():
    assert "--precise-xinuse" in cli("--help").stdout
    p = cli("boot", "--precise-xinuse")
    assert p.returncode == 2 and "unknown option '--precise-xinuse'" in p.stderr
