"""Reproducer files from a failing sweep, and `faultline replay`: a finding
handed over as a file, replayed instruction for instruction."""
import json
import pathlib
import re
import shutil

import pytest

import faultline
from conftest import BUILD, GUEST_PROGRAMS, cli, replay_in_gdb
from html_rows import grid_cells, html_rows

BUGGY = GUEST_PROGRAMS / "rseq-buggy"
# rseq-buggy's failing cells (test_sweep.py): its after-commit nop, for
# every event that aborts there.
FAILING_EVENTS = ("preempt", "signal", "migrate", "page_fault_blocking")


@pytest.fixture(scope="module")
def buggy_sweep(tmp_path_factory):
    """rseq-buggy swept with reproducers: the sweep's JSON and the directory
    (its HTML report is beside the directory)."""
    out = tmp_path_factory.mktemp("repro")
    p = cli("sweep", "--binary", str(BUGGY), "--events", ",".join(FAILING_EVENTS),
            "--json", str(out / "sweep.json"), "--html", str(out / "sweep.html"),
            "--repro-dir", str(out / "findings"))
    assert p.returncode == 1, p.stdout + p.stderr
    return json.loads((out / "sweep.json").read_text()), out / "findings"


def reproducer_of(sweep, event):
    (cell,) = [c for c in sweep["cells"] if not c["ok"] and c["event"] == event]
    return cell


def replay(path, *args):
    p = cli("replay", str(path), "--json", *args)
    return p, (json.loads(p.stdout) if p.stdout.strip() else None)


def test_each_failing_cell_has_its_own_reproducer(buggy_sweep):
    sweep, findings = buggy_sweep
    failing = [c for c in sweep["cells"] if not c["ok"]]
    assert sorted(c["event"] for c in failing) == sorted(FAILING_EVENTS)
    assert all(c["reproducer"] is None for c in sweep["cells"] if c["ok"])
    paths = {c["reproducer"] for c in failing}
    assert len(paths) == len(FAILING_EVENTS)
    assert sorted(p.name for p in findings.glob("*.json")) == sorted(
        pathlib.Path(p).name for p in paths)
    for cell in failing:
        r = json.loads(open(cell["reproducer"]).read())
        (entry,) = r["schedule"]
        assert entry["file"] == "/tmp/rseq-buggy"
        assert int(entry["addr"], 16) == cell["insn_addr"]
        assert entry["event"] == cell["event"]
        assert entry["hit"] == 1
        assert r["expected"]["outcome"] == {"exit_code": 1, "signaled": False, "timed_out": False}
        (firing,) = r["expected"]["firings"]
        assert firing["aborted"] is True
        # The program's copy beside the file is the program swept.
        assert (findings / r["program"]["copy"]).read_bytes() == BUGGY.read_bytes()
    # One copy serves them all.
    assert len([p for p in findings.iterdir() if p.suffix != ".json"]) == 1


def test_the_html_report_names_each_failing_cells_reproducer(buggy_sweep):
    sweep, findings = buggy_sweep
    html = (findings.parent / "sweep.html").read_text()
    grid = grid_cells(html)
    assert len(grid) == len(sweep["cells"])
    for c in sweep["cells"]:
        extra = [] if c["ok"] else [f"reproducer: {c['reproducer']}"]
        assert grid[(c["insn_addr"], c["event"])].text.split("\n")[1:] == extra
    # No set of trials fails only together here.
    assert [r for r in html_rows(html) if r.attrs.get("class") == "finding"] == []


def edited(source, directory, edit):
    """A copy of a reproducer, edited, with its program copy beside it."""
    r = json.loads(open(source).read())
    shutil.copy(pathlib.Path(source).parent / r["program"]["copy"], directory)
    edit(r)
    path = directory / "edited.json"
    path.write_text(json.dumps(r))
    return path


@pytest.mark.parametrize("event", FAILING_EVENTS)
def test_replay_reproduces_the_failure_at_the_recorded_instructions(buggy_sweep, event):
    sweep, _ = buggy_sweep
    path = reproducer_of(sweep, event)["reproducer"]
    recorded = json.loads(open(path).read())["expected"]
    p, result = replay(path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert result["reproduced"] and result["identical"]
    assert result["differences"] == []
    assert result["outcome"] == recorded["outcome"]
    assert [(f["icount"], f["vcpu"], hex(f["rip"])) for f in result["firings"]] == [
        (f["icount"], f["vcpu"], f["rip"]) for f in recorded["firings"]]


def test_replays_from_one_snapshot_fire_at_the_same_instructions(buggy_sweep):
    """Every replay restores the same snapshot, so any difference between
    them (a host-timed interrupt, state one replay leaves for the next)
    would show at the first one that differs; the recorded run itself was
    one more such run, in another process. 20 repetitions compare the exact
    icount, vCPU and rip of each firing; bench/replay.py runs 100."""
    sweep, _ = buggy_sweep
    reproducer = faultline.read_reproducer(reproducer_of(sweep, "migrate")["reproducer"])
    config = reproducer.machine_config(faultline.MachineConfig.defaults())
    with faultline.Machine(config) as m:
        m.boot()
        faultline.prepare_replay(m, reproducer)
        for _ in range(20):
            firings, outcome = faultline.replay_once(m, reproducer)
            assert firings == reproducer.firings
            assert outcome.text() == "exited 1"


def test_a_run_that_differs_is_not_reproduced_and_says_how(buggy_sweep, tmp_path):
    sweep, _ = buggy_sweep
    cell = reproducer_of(sweep, "preempt")

    # The sequence's first instruction: the preemption aborts there as the
    # rule says, the add is retried before it happened, the total is right.
    def first_instruction(r):
        r["schedule"][0]["addr"] = hex(cell["cs"])
    path = edited(cell["reproducer"], tmp_path, first_instruction)
    p, result = replay(path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not result["reproduced"]
    assert result["outcome"] == {"exit_code": 0, "signaled": False, "timed_out": False}
    assert result["differences"][0] == "outcome: the program exited 0 (recorded: exited 1)"
    assert result["differences"][1].startswith("firing 0: icount ")
    text = cli("replay", str(path))
    assert text.returncode == 0
    assert "not reproduced" in text.stdout


def test_bad_files_are_bad_input_naming_the_field(buggy_sweep, tmp_path):
    sweep, _ = buggy_sweep
    source = reproducer_of(sweep, "signal")["reproducer"]

    def unknown_event(r):
        r["schedule"][0]["event"] = "reboot"
    path = edited(source, tmp_path, unknown_event)
    p = cli("replay", str(path))
    assert p.returncode == 2
    assert "schedule[0].event: unknown event 'reboot'" in p.stderr
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    p = cli("replay", str(path))
    assert p.returncode == 2
    assert "not complete JSON" in p.stderr


def test_a_program_missing_beside_the_file_is_bad_input(buggy_sweep, tmp_path):
    sweep, _ = buggy_sweep
    source = reproducer_of(sweep, "signal")["reproducer"]
    alone = tmp_path / "alone.json"
    shutil.copy(source, alone)
    p = cli("replay", str(alone))
    assert p.returncode == 2
    assert "program.copy" in p.stderr and "no such file beside the reproducer" in p.stderr


def test_another_kernel_is_named_and_stops_the_replay_unless_forced(buggy_sweep, tmp_path):
    sweep, _ = buggy_sweep
    path = reproducer_of(sweep, "signal")["reproducer"]
    # The same kernel with one byte more after its ELF image: another file,
    # which boots the same.
    other = tmp_path / "vmlinux"
    other.write_bytes((BUILD / "linux" / "vmlinux").read_bytes() + b"\0")
    p = cli("replay", str(path), "--kernel", str(other))
    assert p.returncode == 2
    assert f"kernel: {other} has sha256" in p.stderr
    assert "qemu" not in p.stderr and "initrd" not in p.stderr
    p, result = replay(path, "--kernel", str(other), "--force")
    assert p.returncode == 1, p.stderr
    assert result["identical"]


def test_gdb_stops_at_the_firing_instruction_and_steps_into_the_abort_handler(buggy_sweep):
    sweep, _ = buggy_sweep
    path = reproducer_of(sweep, "preempt")["reproducer"]
    r = json.loads(open(path).read())
    (firing,) = r["expected"]["firings"]
    abort_handler = r["schedule"][0]["watch"]  # rseq-buggy is not PIE: its own addresses
    gdb, code, err = replay_in_gdb(path, "info registers rip", f"tbreak *{abort_handler}",
                                   "continue", "info registers rip", "detach")
    rips = re.findall(r"^rip\s+(0x[0-9a-f]+)", gdb.stdout, re.M)
    assert rips == [firing["rip"], abort_handler], gdb.stdout + gdb.stderr
    assert code == 1, err
    assert "under gdb the program exited 1" in err
