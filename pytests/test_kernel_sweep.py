"""Exact events inside kernel code: kernel triggers (counted at CPL 0), the
irq, nmi and preempt events there, what QEMU records for a PKS check, and
`faultline sweep --kernel-function`, with the model's verdicts, on the
project's kernel and on kernels broken on purpose (pytests/kernel-patches)."""
import json
import re
import subprocess
from xml.etree import ElementTree

import pytest

import faultline
from conftest import BUILD, cli, replay_in_gdb
from html_rows import html_rows
from test_conformance import build_kernel_under_test

VMLINUX = str(BUILD / "linux" / "vmlinux")
PKRS_DEFAULT = 0x55555554
# Strict-mode cases that change rights in the task's own context (debugfs
# pks/test, patch 0012): the workload of the rights-change path.
WORKLOAD = ["/bin/pks-selftest", "readonly_blocks_write_allows_read",
            "per_task_rights_survive_context_switch"]


@pytest.fixture(scope="module")
def sites():
    """pks_set_rights (patch 0008): its instructions, where interrupts are
    off (after its cli, through its sti and the instruction after it, the
    STI shadow), and pkrs_write()'s WRMSR inlined into it."""
    (f,) = [f for f in faultline.function_symbols(VMLINUX) if f.name == "pks_set_rights"]
    return faultline.instructions_in(VMLINUX, f.addr, f.addr + f.size)


@pytest.fixture(scope="module")
def pkrs_cache():
    return faultline.symbol_address(VMLINUX, "pkrs_cached")


def run_one(machine, trigger_addr, event, pkrs_cache, every_address_space=False):
    process = machine.spawn(WORKLOAD[0], WORKLOAD[1:], run_as_root=True, at_entry=True)
    trigger = faultline.Trigger.in_kernel(trigger_addr, None if every_address_space else process)
    machine.arm([(trigger, faultline.Event.named(event), 0, pkrs_cache)])
    result = machine.run_spawned()
    return result, machine.firings()


def test_an_nmi_before_a_kernel_instruction_records_the_handler_and_the_return(
        machine, sites, pkrs_cache):
    entry = sites[0].addr
    r, firings = run_one(machine, entry, "nmi", pkrs_cache)
    assert r.exit_code == 0, r.stdout + r.stderr
    (f,) = firings
    assert f.rip == entry and f.confirmed and f.status == "done"
    # The handler runs with the default, read with RDMSR in it.
    assert f.handler_pkrs == PKRS_DEFAULT
    # Control came back to the instruction, with the register and the cache
    # as they were when the NMI came.
    assert f.next_rip == entry and f.next_icount > f.icount
    assert f.next_vcpu == f.vcpu
    assert f.next_pkrs == f.pkrs and f.next_percpu == f.pkrs == f.percpu


def test_the_same_trigger_fires_at_the_same_instruction_count_every_time(
        machine, sites, pkrs_cache):
    machine.snapshot()
    counts = []
    for _ in range(2):
        machine.restore()
        _, (f,) = run_one(machine, sites[0].addr, "irq", pkrs_cache)
        counts.append((f.icount, f.vcpu, f.next_icount, f.next_pkrs))
    assert counts[0] == counts[1]


def test_an_irq_where_interrupts_are_off_waits_and_nothing_returns(machine, sites, pkrs_cache):
    # The instruction after pks_set_rights' cli: the irq is held pending.
    after_cli = sites[[i.text for i in sites].index("cli") + 1].addr
    r, (f,) = run_one(machine, after_cli, "irq", pkrs_cache)
    assert r.exit_code == 0
    assert not f.interrupts_enabled
    # Its handler still ran, later, and answered; no return was watched.
    assert f.status == "done" and f.handler_pkrs == PKRS_DEFAULT
    assert f.next_vcpu is None and f.next_rip == 0


def test_a_preemption_where_interrupts_are_off_says_so(machine, sites, pkrs_cache):
    after_cli = sites[[i.text for i in sites].index("cli") + 1].addr
    _, (f,) = run_one(machine, after_cli, "preempt", pkrs_cache)
    assert f.status == "interrupts-off" and not f.confirmed


def test_a_preemption_where_it_can_be_taken_switches_and_comes_back(machine, sites, pkrs_cache):
    r, (f,) = run_one(machine, sites[0].addr, "preempt", pkrs_cache)
    assert r.exit_code == 0
    assert f.status == "done" and f.next_rip == f.rip and f.next_pkrs == f.pkrs


def test_kernel_and_user_events_fire_only_where_they_can(machine, sites):
    process = machine.spawn(WORKLOAD[0], WORKLOAD[1:], run_as_root=True)
    try:
        with pytest.raises(faultline.QmpError, match="signal fires at user instructions only"):
            machine.arm([(faultline.Trigger.in_kernel(sites[0].addr, process),
                          faultline.Event.signal(10))])
        with pytest.raises(faultline.QmpError, match="irq fires at kernel instructions only"):
            machine.arm([(faultline.Trigger(process, 0x401000), faultline.Event.named("irq"))])
    finally:
        machine.run_spawned()


def sweep_json(tmp_path, *options):
    report = tmp_path / "sweep.json"
    p = cli("sweep", "--kernel-function", "pks_set_rights", "--root", "--json", str(report),
            *options, "--", *WORKLOAD)
    return p, json.loads(report.read_text()) if report.exists() else None


def kernel_grid(html, events):
    """The HTML report's cells by (function+offset, event), and the
    function rows that head each function's instructions."""
    rows = html_rows(html)
    header = next(r for r in rows if [c.text for c in r.cells[:2]] == ["where", "instruction"])
    assert [c.text for c in header.cells[2:]] == events
    grid = {(row.cells[0].text, event): cell.text
            for row in rows[rows.index(header) + 1:] if len(row.cells) == len(events) + 2
            for event, cell in zip(events, row.cells[2:])}
    return grid, [r.cells[0].text for r in rows if r.attrs.get("class") == "fn"]


def where(cell):
    return f"{cell['function']}+{cell['offset']:#x}"


def test_the_sweep_of_the_rights_change_path_passes_on_the_projects_kernel(tmp_path):
    p, report = sweep_json(tmp_path, "--html", str(tmp_path / "sweep.html"))
    assert p.returncode == 0, p.stdout + p.stderr
    cells = report["cells"]
    instructions = len({c["insn_addr"] for c in cells})
    assert len(cells) == 3 * instructions == 279
    assert report["reached"] == 162 and report["failed"] == 0
    by = {(c["insn"], c["event"]): c for c in cells if c["reached"]}
    # Between cli and the instruction after sti, only the NMI is taken.
    assert not by[("wrmsr", "irq")]["taken"] and by[("wrmsr", "irq")]["not_taken_because"] == \
        "interrupts off"
    assert by[("wrmsr", "nmi")]["taken"]
    # An NMI inside pkrs_write(), after its cache store, gives back the
    # value being written (patch 0006's design), and is held to it.
    windows = [c for c in cells if c["reached"] and c["event"] == "nmi"
               and c["interrupted_cache"] != c["interrupted_pkrs"]]
    assert len(windows) == 3 and all(c["ok"] and c["expected_return_pkrs"] == c["interrupted_cache"]
                           for c in windows)
    # A run takes the trials of 8 instructions event by event, and stops
    # after an event whose context came back changed (each window NMI
    # ends its run, so the next meets its instruction as alone): 54 runs
    # for 279 cells, not one a trial.
    assert report["program_runs"] == 54
    # The HTML report: a cell per cell, its word the JSON's verdict.
    grid, functions = kernel_grid((tmp_path / "sweep.html").read_text(), ["preempt", "irq", "nmi"])
    assert functions == [f"pks_set_rights at {cells[0]['insn_addr']:#x}"]
    assert grid == {(where(c), c["event"]): "taken" if c["reached"] and c["taken"]
                    else f"not taken: {c['not_taken_because']}" if c["reached"] else "not reached"
                    for c in cells}


def test_bad_input_is_refused_before_the_boot():
    p = cli("sweep", "--kernel-function", "pks_set_right", "--", "/bin/true")
    assert p.returncode == 2
    assert "no function 'pks_set_right'" in p.stderr and "pks_set_rights" in p.stderr
    p = cli("sweep", "--kernel-function", "pks_set_rights", "--events", "signal", "--",
            "/bin/true")
    assert p.returncode == 2 and "event 'signal' cannot fire at a kernel instruction" in p.stderr
    p = cli("sweep", "--kernel-function", "pks_set_rights")
    assert p.returncode == 2 and "needs a workload" in p.stderr
    p = cli("sweep", "--kernel-function", "pks_set_rights", "--vmlinux", "/nonexistent", "--",
            "/bin/true")
    assert p.returncode == 2 and "vmlinux not found: /nonexistent" in p.stderr
    p = cli("sweep", "--every-address-space")
    assert p.returncode == 2 and "--every-address-space is for a kernel sweep" in p.stderr
    p = cli("sweep", "--kernel-function", "pks_set_rights", "--signal", "12", "--",
            "/bin/true")
    assert p.returncode == 2 and "--signal is for an rseq sweep, not a kernel sweep" in p.stderr


def test_a_stripped_kernel_is_refused(tmp_path):
    stripped = tmp_path / "vmlinux"
    subprocess.run(["strip", "-o", str(stripped), VMLINUX], check=True)
    p = cli("sweep", "--kernel-function", "pks_set_rights", "--vmlinux", str(stripped), "--",
            "/bin/true")
    assert p.returncode == 2 and "no function symbols (a stripped kernel)" in p.stderr


def sweep_kernel_under_test(mutant, tmp_path, *options):
    built, out = build_kernel_under_test(mutant, mutant + ".patch")
    assert built.returncode == 0, built.stderr
    p, report = sweep_json(tmp_path, "--kernel", str(out / "vmlinux"),
                           "--initrd", str(out / "initramfs.cpio"), *options)
    assert p.returncode == 1, p.stdout + p.stderr
    return p, [c for c in report["cells"] if c["reached"] and not c["ok"]]


def test_a_rights_change_with_interrupts_on_fails_the_irq_column(tmp_path):
    p, failed = sweep_kernel_under_test("pks-rights-change-with-interrupts-on", tmp_path,
                                        "--repro-dir", str(tmp_path / "repro"))
    # An irq anywhere from the record's update through pkrs_write() returns
    # with the new rights written; preemption is off there (preempt_disable).
    assert len(failed) == 18
    assert all(c["event"] == "irq" and c["failed_checks"] == ["return-restores"]
               and c["return_pkrs"] != c["interrupted_pkrs"] for c in failed)
    assert "return-restores" in p.stdout
    # Each from its lone run, the first trial of a run of several too.
    assert sorted(c["reproducer"] for c in failed) == \
        sorted(str(f) for f in (tmp_path / "repro").glob("*.json"))


def test_the_projects_kernel_passes_the_second_rights_change_too(tmp_path):
    p, report = sweep_json(tmp_path, "--hit", "2", "--events", "nmi")
    assert p.returncode == 0, p.stdout + p.stderr
    assert report["reached"] == 54 and report["failed"] == 0


def test_an_nmi_entry_that_trusts_the_cache_fails_only_inside_pkrs_write(tmp_path, sites):
    # The second call closes the key again (back to the default): an NMI
    # between the cache store and the WRMSR runs with the key still open.
    # pks-selftest passes on this kernel.
    p, failed = sweep_kernel_under_test("pks-nmi-entry-trusts-the-cache", tmp_path,
                                        "--hit", "2", "--events", "nmi")
    texts = [i.text for i in sites]
    wrmsr = texts.index("wrmsr")
    assert [c["insn_addr"] for c in failed] == [i.addr for i in sites[wrmsr - 2:wrmsr + 1]]
    assert all(c["failed_checks"] == ["handler-default"]
               and c["handler_pkrs"] == c["interrupted_pkrs"] != PKRS_DEFAULT for c in failed)


def test_three_shards_of_a_kernel_sweep_merged_are_the_whole_sweep(tmp_path):
    reports = ("--json", "sweep.json"), ("--html", "sweep.html"), ("--junit", "sweep.xml")

    def run(directory, *args, command="sweep", status=0):
        directory.mkdir()
        p = cli(command, *[a for flag, name in reports for a in (flag, str(directory / name))],
                *args)
        assert p.returncode == status, p.stdout + p.stderr
        return p, {flag: (directory / name).read_bytes()
                   for flag, name in reports if (directory / name).exists()}

    sweep = ["--kernel-function", "pks_set_rights", "--root"]
    whole, whole_reports = run(tmp_path / "whole", *sweep, "--", *WORKLOAD)
    for i in (1, 2, 3):
        run(tmp_path / f"shard{i}", *sweep, "--shard", f"{i}/3", "--", *WORKLOAD)
    shards = [str(tmp_path / f"shard{i}" / "sweep.json") for i in (3, 1, 2)]
    merged, merged_reports = run(tmp_path / "merged", *shards, command="merge")
    assert merged_reports == whole_reports
    assert len(json.loads(merged_reports["--json"])["cells"]) == 279
    # The table too, but for the rate: a merge measures none.
    assert merged.stdout == re.sub(r" \([\d.]+ trials/s\)\n", "\n", whole.stdout, count=1)
    from_python = faultline.merge_kernel_sweep_shards(shards)
    assert json.loads(from_python.json()) == json.loads(whole_reports["--json"])
    # Not the whole sweep: refused, naming what is missing, nothing written.
    p, written = run(tmp_path / "two", *shards[:2], command="merge", status=2)
    assert "shard 2/3 missing" in p.stderr and written == {}
    p, written = run(tmp_path / "mixed", *shards[:2], str(tmp_path / "whole" / "sweep.json"),
                     command="merge", status=2)
    assert "shard 1/1: shards of different splits" in p.stderr and written == {}
    rseq_sweep = tmp_path / "whole-rseq"
    run(rseq_sweep, "--shard", "2/3")
    p, written = run(tmp_path / "with-rseq", shards[1], str(rseq_sweep / "sweep.json"),
                     command="merge", status=2)
    assert "not a faultline sweep --kernel-function report" in p.stderr and written == {}


def conformance_pks(*options):
    p = cli("conformance", "pks", *options)
    return p, [line for line in p.stdout.splitlines() if " FAIL " in line]


# On the project's kernel every check passes, exit 0: docs/protection-keys.md
# runs it and the doc test compares its whole table and status.


@pytest.mark.parametrize("mutant,failing_checks", [
    ("pks-rights-change-with-interrupts-on", {
        "rights change, opening a key": "18 of 147 reached cells failed: irq return-restores",
        "rights change, closing it again":
            "18 of 147 reached cells failed: irq cache-agrees handler-default return-restores"}),
    ("pks-nmi-entry-trusts-the-cache", {
        "rights change, closing it again": "3 of 162 reached cells failed: nmi handler-default",
        "softirq entry and exit": "1 of 168 reached cells failed: nmi handler-default",
        "interrupt entry and exit": "1 of 384 reached cells failed: nmi handler-default"}),
    ("pks-strict-mode-opens-like-relaxed", {
        "pks-selftest, every case": "exited 1; failing: kmap_concurrent, "
        "strict_kmapped_page_denies_other_contexts, kmap_in_a_release_window_keeps_the_page"}),
    ("pks-kunmap-elsewhere-counts-as-the-unmappers", {
        "pks-selftest, every case": "exited 1; failing: kunmap_in_another_task_keeps_its_rights"}),
    ("pks-relaxed-mode-opens-unmapped-pages", {
        "pks-selftest, every case": "exited 1; failing: relaxed_unmapped_page_dies, "
        "fault_on_unmapped_page_of_a_mapped_key_dies"}),
])
def test_conformance_pks_fails_on_a_broken_kernel_naming_what_caught_it(mutant, failing_checks,
                                                                        tmp_path):
    built, out = build_kernel_under_test(mutant, mutant + ".patch")
    assert built.returncode == 0, built.stderr
    junit = tmp_path / "pks.xml"
    p, failing = conformance_pks("--kernel", str(out / "vmlinux"),
                                 "--initrd", str(out / "initramfs.cpio"), "--junit", str(junit))
    assert p.returncode == 1, p.stdout + p.stderr
    # "what: sweep ... FAIL detail", or "what FAIL detail".
    assert {line.split(" FAIL ")[0].split(":")[0].strip(): line.split(" FAIL ")[1].strip()
            for line in failing} == failing_checks
    # The same verdicts for a CI page: a case a check, the detail as the failure's message.
    [suite] = ElementTree.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("9", str(len(failing_checks)))
    assert {case.get("name").split(":")[0]: case.find("failure").get("message")
            for case in suite if case.find("failure") is not None} == failing_checks


def test_a_failing_kernel_cell_is_a_reproducer_that_replays_bit_for_bit(tmp_path):
    mutant = "pks-nmi-entry-trusts-the-cache"
    built, out = build_kernel_under_test(mutant, mutant + ".patch")
    assert built.returncode == 0, built.stderr
    kernel = ["--kernel", str(out / "vmlinux"), "--initrd", str(out / "initramfs.cpio")]
    junit = tmp_path / "sweep.xml"
    p, report = sweep_json(tmp_path, *kernel, "--hit", "2", "--events", "nmi",
                           "--repro-dir", str(tmp_path / "repro"), "--junit", str(junit),
                           "--html", str(tmp_path / "sweep.html"))
    assert p.returncode == 1
    files = sorted((tmp_path / "repro").glob("*.json"))
    assert len(files) == 3
    assert [line.split(": ")[1] for line in p.stdout.splitlines()
            if line.startswith("reproducer: ")] == [str(f) for f in files]
    # The HTML report's failing cells say what the table's FAIL lines say,
    # each with its reproducer.
    grid, _ = kernel_grid((tmp_path / "sweep.html").read_text(), ["nmi"])
    failing = {w: text for (w, _), text in grid.items() if text.startswith("FAIL")}
    table = {line.split(" ")[1]: line.split("]: ", 1)[1] for line in p.stdout.splitlines()
             if line.startswith("FAIL ")}
    assert {w: text.splitlines()[0] for w, text in failing.items()} == \
        {w: f"FAIL handler-default: {why}" for w, why in table.items()}
    assert sorted(text.splitlines()[-1] for text in failing.values()) == \
        [f"reproducer: {f}" for f in files]
    # For a CI page: the FAIL lines of the table, each with its reproducer;
    # the cells not reached skipped.
    [suite] = ElementTree.parse(junit).getroot()
    reached = sum(c["reached"] for c in report["cells"])
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == \
        (str(len(report["cells"])), "3", str(len(report["cells"]) - reached))
    failures = [case.find("failure") for case in suite if case.find("failure") is not None]
    assert [f"FAIL {case.get('name').split(' before ')[1]} [nmi]: {f.get('message')}"
            for case, f in zip([c for c in suite if c.find("failure") is not None], failures)] \
        == [line for line in p.stdout.splitlines() if line.startswith("FAIL ")]
    assert [f.text for f in failures] == [f"reproducer: {f}" for f in files]
    r = cli("replay", str(files[-1]), *kernel)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "handler IA32_PKRS 0x55555558, returned with 0x55555554" in r.stdout
    assert r.stdout.splitlines()[-1] == "reproduced, every firing at its recorded instruction"
    # On the project's kernel the handler gets the default: the fix holds.
    r = cli("replay", str(files[-1]), "--force")
    assert r.returncode == 0
    assert "differs: firing 0: the handler's IA32_PKRS 0x55555554 (recorded: 0x55555558)" \
        in r.stdout
    assert r.stdout.splitlines()[-1] == "not reproduced"
    # Under gdb: a stop at the firing instruction, in the workload's address
    # space at its second execution; a step takes the NMI there, before
    # the instruction, into the kernel's NMI entry.
    (firing,) = json.loads(files[-1].read_text())["expected"]["firings"]
    cell = next(c for c in report["cells"] if c["reproducer"] == str(files[-1]))
    gdb, code, err = replay_in_gdb(files[-1], "info registers rip", "stepi",
                                   "info registers rip", "detach", options=kernel)
    rips = re.findall(r"^rip\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(\S+)", gdb.stdout, re.M)
    assert rips == [(firing["rip"], f"<{cell['function']}+{cell['offset']}>"),
                    (hex(faultline.symbol_address(str(out / "vmlinux"), "asm_exc_nmi")),
                     "<asm_exc_nmi>")], gdb.stdout + gdb.stderr
    assert "schedule entry 1 of 1: nmi before" in err and \
        "hit 2, in kernel code while the program's address space is current" in err
    assert code == 1 and "every firing at its recorded instruction" in err, err


def test_trials_that_fail_only_together_are_a_minimal_finding(tmp_path, host_programs):
    # preemption_budget fails when preempted twice in its loop of getppid():
    # a run of a run group's 8 preemptions breaks it, each alone does not.
    # Delta debugging leaves the group's first two; the cells keep their
    # lone verdicts and say which finding they are in.
    budget = str(host_programs["preemption_budget"])
    sweep = ["--kernel-function", "__x64_sys_getppid", "--events", "preempt",
             "--binary", budget]
    outputs = {flag: tmp_path / name
               for flag, name in (("--json", "sweep.json"), ("--html", "sweep.html"),
                                  ("--junit", "sweep.xml"))}
    p = cli("sweep", *sweep, *[a for flag, path in outputs.items() for a in (flag, str(path))],
            "--repro-dir", str(tmp_path / "repro"), "--", "20")
    assert p.returncode == 1, p.stdout + p.stderr
    report = json.loads(outputs["--json"].read_text())
    cells = report["cells"]
    assert (report["failed"], report["passed"]) == (0, False) and all(c["ok"] for c in cells)
    assert [([where(cells[i]) for i in f["cells"]], f["outcome"]) for f in report["findings"]] == [
        (["__x64_sys_getppid+0x0", "__x64_sys_getppid+0x4"], "exited 1"),
        (["__x64_sys_getppid+0x25", "__x64_sys_getppid+0x27"], "exited 1")]
    first = report["findings"][0]
    assert cells[first["cells"][0]]["outcome"] == (
        "taken, passed; the program exited 0; finding 1: with preempt before "
        "__x64_sys_getppid+0x0, preempt before __x64_sys_getppid+0x4 in one run the program "
        "exited 1")
    assert p.stdout.splitlines()[0].startswith("kernel sweep: 13 cells, 13 reached, 0 failed, "
                                               "2 findings (")
    assert (f"finding 1: 2 trials fail together, none alone ({first['tests']} runs to minimize; "
            "the program exited 1): preempt before __x64_sys_getppid+0x0 (endbr64); preempt "
            "before __x64_sys_getppid+0x4 (pushq %rbx)") in p.stdout.splitlines()
    # One reproducer a finding, shared by its cells; replayed, the program
    # fails again with every firing where it was recorded.
    reproducers = [line.split(": ", 1)[1] for line in p.stdout.splitlines()
                   if line.startswith("reproducer: ")]
    assert len(reproducers) == 2
    assert [cells[i]["reproducer"] for f in report["findings"] for i in f["cells"]] == [
        reproducers[0], reproducers[0], reproducers[1], reproducers[1]]
    replay = cli("replay", reproducers[0])
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "the program exited 1\nreproduced, every firing at its recorded instruction" in replay.stdout
    # The HTML page lists the findings, its cells link to them; JUnit has a
    # failing case each.
    html = outputs["--html"].read_text()
    assert html.count('<tr class="finding" id="finding-') == 2
    assert html.count('<a href="#finding-1">finding 1</a>') == 2
    [suite] = ElementTree.parse(outputs["--junit"]).getroot()
    assert [(case.get("name"), case.find("failure").get("message"))
            for case in suite if case.get("classname") == "findings"] == [
        (f"finding {k}", "2 trials fail together, none alone; the program exited 1")
        for k in (1, 2)]
    # Two shards, each of one run group, merged: the whole sweep, findings
    # renumbered.
    for i in (1, 2):
        shard = cli("sweep", *sweep, "--json", str(tmp_path / f"shard{i}.json"),
                    "--shard", f"{i}/2", "--", "20")
        assert shard.returncode == 1, shard.stdout + shard.stderr
    merged = cli("merge", "--json", str(tmp_path / "merged.json"),
                 *[str(tmp_path / f"shard{i}.json") for i in (2, 1)])
    assert merged.returncode == 1, merged.stdout + merged.stderr
    whole = {k: v for k, v in report.items()}
    for c in whole["cells"]:
        c["reproducer"] = ""
    assert json.loads((tmp_path / "merged.json").read_text()) == whole
