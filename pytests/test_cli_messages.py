"""The CLI's messages a newcomer meets first. A bad usage says what is wrong
in one line and where the help is; --help is the usage, on stdout."""
import json
import re

import pytest

from conftest import GUEST_PROGRAMS, cli

# Each subcommand as it is typed, and the name its help goes by.
SUBCOMMANDS = [(["boot"], "boot"), (["run"], "run"), (["sweep"], "sweep"),
               (["explore"], "explore"), (["replay"], "replay"),
               (["conformance", "rseq"], "conformance"), (["conformance", "pk"], "conformance")]


@pytest.mark.parametrize("args, name", SUBCOMMANDS, ids=[" ".join(a) for a, _ in SUBCOMMANDS])
def test_an_unknown_option_is_one_line_and_a_pointer_to_the_help(args, name):
    p = cli(*args, "--no-such-option")
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == f"faultline: unknown option '--no-such-option'\nTry 'faultline {name} --help'.\n"


@pytest.mark.parametrize("args, complaint, pointer", [
    (["run"], "run needs a PROGRAM after -- or a --binary", "faultline run --help"),
    (["conformance"], "conformance needs a target (known: rseq, pk, pks)", "faultline conformance --help"),
    (["explore", "--binary", "/bin/true", "--depth", "1"], "explore needs --runs",
     "faultline explore --help"),
    # Found once the command runs, before the boot.
    (["run", "--pk-trace", "/nonexistent/t.jsonl", "--", "/bin/true"],
     "--pk-trace /nonexistent/t.jsonl: cannot write there: No such file or directory",
     "faultline run --help"),
    ([], "no command given", "faultline --help"),
    (["frobnicate"], "unknown command 'frobnicate'", "faultline --help"),
])
def test_every_bad_usage_is_one_line_and_a_pointer_to_the_help(args, complaint, pointer):
    p = cli(*args)
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == f"faultline: {complaint}\nTry '{pointer}'.\n"


@pytest.mark.parametrize("args", [["boot"], ["run"], ["sweep"], ["explore"], ["replay"],
                                  ["conformance"], ["conformance", "pk"]])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_a_subcommands_help_is_its_usage_on_stdout(args, flag):
    p = cli(*args, flag)
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout.startswith(f"usage: faultline {args[0]} ")
    assert "\noptions:\n  --qemu PATH" in p.stdout


def test_help_after_the_double_dash_is_the_programs():
    p = cli("run", "--json", "--", "/bin/rseq-counter", "--help")
    out = json.loads(p.stdout)
    assert out["exit_code"] == 2 and out["stderr"].startswith("usage: rseq-counter")


# The line the guest agent writes when exec fails (guest-kernel/agent/agent.c).
def test_a_program_the_guest_does_not_have_is_named_as_the_guests():
    p = cli("run", "--", "./hello")
    assert p.returncode == 127
    lines = p.stderr.splitlines()
    assert lines[1] == "faultline-agent: exec ./hello: No such file or directory"
    assert lines[-1] == ("faultline: ./hello: no such file in the guest (the path after -- is "
                         "the guest's); to run a program from this host, upload it with "
                         "--binary HOST_PATH")


def test_a_program_exiting_127_itself_gets_no_hint(host_programs):
    p = cli("run", "--binary", str(host_programs["echo_exit"]), "--", "127")
    assert p.returncode == 127
    assert "no such file in the guest" not in p.stderr


def test_a_fail_line_says_how_the_program_ended_first():
    p = cli("sweep", "--binary", str(GUEST_PROGRAMS / "rseq-buggy"), "--events", "preempt")
    assert p.returncode == 1, p.stdout + p.stderr
    fails = [line for line in p.stdout.splitlines() if line.startswith("FAIL ")]
    # The nop after the commit (the schedule is fixed: always just it).
    assert [re.sub(r"0x[0-9a-f]+", "ADDR", line) for line in fails] == [
        "FAIL preempt before ADDR (nop): exited 1; fired=1 observed=abort model=aborts to ADDR"]
