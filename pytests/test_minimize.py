"""Trials that break the program's check only together are shrunk by delta
debugging to a finding none of whose trials can be left out; every cell
keeps the verdict of its own lone run. On a kernel where a signal alone
does not restart a section (pytests/kernel-patches), each run the program
did not survive becomes a finding of two trials (a preemption, then a
signal), instead of every trial of those runs failing."""
import json
import pathlib
import re

import pytest

from conftest import GUEST_PROGRAMS, cli, replay_in_gdb
from html_rows import grid_cells, html_rows
from test_conformance import build_kernel_under_test

SIGNAL_KERNEL = "rseq-no-restart-on-signal"
# The program runs delta debugging took for each finding, the first of them
# the failing run's trials together again (3: a run of just the two trials,
# then each alone).
TESTS = [3, 7, 7, 7, 7, 9, 7, 3, 7, 7, 9, 7, 7, 7, 3, 7, 7, 7, 3, 7, 7]
SHARDS = 3


@pytest.fixture(scope="module")
def signal_kernel_sweep(tmp_path_factory):
    p, out = build_kernel_under_test(SIGNAL_KERNEL, SIGNAL_KERNEL + ".patch")
    assert p.returncode == 0, p.stderr
    kernel = ["--kernel", str(out / "vmlinux"), "--initrd", str(out / "initramfs.cpio")]
    tmp = tmp_path_factory.mktemp("signal")
    # Uploaded, as a user's program is: the replay puts it where the sweep did.
    p = cli(*sweep_command(tmp, "sweep", kernel))
    return p, json.loads((tmp / "sweep.json").read_text()), kernel, (tmp / "sweep.html").read_text()


def sweep_command(tmp, name, kernel, *options):
    """The sweep, its reports named name.json and name.html, its
    reproducers in tmp/repro."""
    return ("sweep", "--binary", str(GUEST_PROGRAMS / "rseq-counter"), "--json",
            str(tmp / f"{name}.json"), "--html", str(tmp / f"{name}.html"), "--repro-dir",
            str(tmp / "repro"), *kernel, *options, "--", "1", "1000")


def test_each_run_it_did_not_survive_is_one_minimal_pair_with_a_signal(signal_kernel_sweep):
    p, report, _, _ = signal_kernel_sweep
    assert p.returncode == 1, p.stdout + p.stderr
    cells = report["cells"]
    # Alone, every trial is right: the signal's delivery aborts the section
    # by the preemption it takes.
    assert report["failed"] == 0 and all(c["ok"] for c in cells)
    # A preemption aborts the section, then a signal at the same
    # instruction of the retry does not, and the program is killed.
    findings = report["findings"]
    inside = sorted({c["insn_addr"] for c in cells if c["expected_abort"]})
    assert len(findings) == len(inside) == 21
    for k, f in enumerate(findings):
        first, second = (cells[i] for i in f["cells"])
        assert (first["event"], second["event"]) == ("preempt", "signal")
        assert first["insn_addr"] == second["insn_addr"] == inside[k]
        assert f["outcome"] == "was killed by signal 11"
        assert f"; finding {k + 1}: with preempt before {hex(inside[k])}, signal before " \
            f"{hex(inside[k])} in one run the program was killed by signal 11" in first["outcome"]
    assert [f["tests"] for f in findings] == TESTS
    assert f"125 trials in {report['program_runs']} program runs, 0 failed, 21 findings" \
        in p.stdout


def test_a_finding_replays_as_its_own_reproducer(signal_kernel_sweep):
    _, report, kernel, _ = signal_kernel_sweep
    first_finding = report["findings"][0]["cells"]
    files = {report["cells"][i]["reproducer"] for i in first_finding}
    (path,) = files
    repro = json.loads(open(path).read())
    assert [e["event"] for e in repro["schedule"]] == ["preempt", "signal"]
    p = cli("replay", path, *kernel)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "reproduced, every firing at its recorded instruction" in p.stdout


def test_the_html_report_lists_each_finding_and_links_its_cells_to_it(signal_kernel_sweep):
    _, report, _, html = signal_kernel_sweep
    cells, findings = report["cells"], report["findings"]
    rows = [r for r in html_rows(html) if r.attrs.get("class") == "finding"]
    assert len(rows) == len(findings) == 21
    for k, (row, f) in enumerate(zip(rows, findings)):
        members = [cells[i] for i in f["cells"]]
        (reproducer,) = {c["reproducer"] for c in members}
        assert row.attrs["id"] == f"finding-{k + 1}"
        assert [c.text for c in row.cells] == [str(k + 1), "", f["outcome"], str(f["tests"]),
                                               reproducer]
        assert row.cells[1].items == [
            f"{c['event']} before {hex(c['insn_addr'])} ({c['insn']}) in {c['file']}"
            for c in members]
    # Each cell names the findings it is a member of, and nothing else
    # (no cell fails on its own here).
    grid = grid_cells(html)
    assert len(grid) == len(cells) == 125
    for i, c in enumerate(cells):
        links = [f"#finding-{k + 1}" for k, f in enumerate(findings) if i in f["cells"]]
        cell = grid[(c["insn_addr"], c["event"])]
        assert cell.links == links
        assert cell.text.split("\n")[1:] == [f"finding {link[9:]}" for link in links]


def test_gdb_stops_at_both_firings_at_one_instruction(signal_kernel_sweep):
    _, report, kernel, _ = signal_kernel_sweep
    (path,) = {report["cells"][i]["reproducer"] for i in report["findings"][0]["cells"]}
    firings = json.loads(open(path).read())["expected"]["firings"]
    at = firings[0]["rip"]
    # The preemption sends the thread to the abort handler (its watch);
    # the signal comes at the retry's first arrival at the same instruction.
    gdb, code, err = replay_in_gdb(path, "info registers rip", "continue", "info registers rip",
                                   "detach", options=kernel)
    output = gdb.stdout + gdb.stderr
    stops = re.findall(r"^faultline: schedule entry (\d+) of (\d+): (\w+) before (0x[0-9a-f]+), "
                       r"hit (\d+)$", gdb.stdout, re.M)
    assert stops == [("1", "2", "preempt", at, "1"), ("2", "2", "signal", at, "1")], output
    assert re.findall(r"^rip\s+(0x[0-9a-f]+)", gdb.stdout, re.M) == [at, at], output
    assert [int(t) - 1 for t in re.findall(r"^Thread (\d+) hit Breakpoint", gdb.stdout, re.M)] == [
        f["vcpu"] for f in firings], output
    assert code == 1, err
    assert "under gdb the program was killed by signal 11, every firing at its recorded " \
        "instruction" in err, err


def test_its_shards_merged_are_the_whole_sweep_findings_renumbered(signal_kernel_sweep):
    p, report, kernel, html = signal_kernel_sweep
    # The fixture's directory: its reproducers are in tmp/repro.
    tmp = pathlib.Path(report["cells"][report["findings"][0]["cells"][0]]["reproducer"]).parent.parent
    shards = []
    for i in range(1, SHARDS + 1):
        shard = cli(*sweep_command(tmp, f"shard{i}", kernel, "--shard", f"{i}/{SHARDS}"))
        assert shard.returncode == 1, shard.stdout + shard.stderr
        shards.append(str(tmp / f"shard{i}.json"))
    # Each shard numbers its own findings from 1.
    assert [len(json.loads(open(s).read())["findings"]) for s in shards] == [7, 7, 7]
    merged = cli("merge", *shards, "--json", str(tmp / "merged.json"), "--html",
                 str(tmp / "merged.html"))
    assert merged.returncode == p.returncode == 1, merged.stdout + merged.stderr
    assert (tmp / "merged.json").read_bytes() == (tmp / "sweep.json").read_bytes()
    assert (tmp / "merged.html").read_text() == html
    assert merged.stdout == re.sub(r", [\d.]+ trials/s\n", "\n", p.stdout)
