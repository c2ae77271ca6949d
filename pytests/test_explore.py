"""faultline explore: seeded schedules of several events per run, each failure
shrunk to the events none of which can be left out, and a reproducer for it.
The target, rseq-fallback, has a bug no single event shows: its abort
handler looks the CPU up twice, so a migration inside the handler, after
an event aborted the section, leaves one CPU's slow-path count at +1 and
another's at -1."""
import json
import re
from xml.etree import ElementTree

import pytest

import faultline
from conftest import GUEST_PROGRAMS, cli, replay_in_gdb

PROGRAM = GUEST_PROGRAMS / "rseq-fallback"
(SECTION,) = faultline.rseq_critical_sections(str(PROGRAM))
HANDLER = faultline.abort_handler_of(str(PROGRAM), SECTION)
# The seed and the number of runs that reach its first failing run (82).
SEED = "1"
RUNS = "90"


def explore(*args):
    return cli("explore", "--binary", str(PROGRAM), "--events", "preempt,migrate", *args)


def comparable(report):
    """The report without what may differ between two identical explorations:
    where the reproducers were written (it holds no timing)."""
    report = json.loads(json.dumps(report))
    assert "runs_per_s" not in report
    for finding in report["findings"]:
        del finding["reproducer"]
    return report


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    """RUNS runs at depth 2 from SEED, with reproducers."""
    out = tmp_path_factory.mktemp("explore")
    p = explore("--depth", "2", "--runs", RUNS, "--seed", SEED, "--json", str(out / "a.json"),
                "--repro-dir", str(out / "repro"))
    return p, json.loads((out / "a.json").read_text())


def test_depth_2_finds_the_two_event_bug_with_a_minimal_schedule(explored):
    p, report = explored
    assert p.returncode == 1, p.stdout + p.stderr
    assert (report["first_run"], report["end_run"], report["failed_runs"]) == (0, 90, 2)
    [first, second] = report["findings"]
    # A migration that aborts the section, then one between the handler's
    # two lookups of the CPU; a preemption does the first part as well.
    assert first["run"] == 82 and first["also_runs"] == [] and first["tests"] == 2
    assert first["schedule"] == [
        {"cs": SECTION.start, "insn_addr": SECTION.start, "insn": "cmpl %edi, %fs:4(%rsi)",
         "in_abort_handler": False, "hit": 3, "event": "migrate"},
        {"cs": SECTION.start, "insn_addr": HANDLER[2].addr, "insn": HANDLER[2].text,
         "in_abort_handler": True, "hit": 1, "event": "migrate"}]
    assert second["run"] == 84
    assert [(s["event"], s["insn_addr"], s["hit"]) for s in second["schedule"]] == [
        ("preempt", SECTION.start, 2), ("migrate", HANDLER[3].addr, 1)]
    for finding in report["findings"]:
        assert finding["outcome"] == "exited 1"
        assert [f["status"] for f in finding["firings"]] == ["done", "done"]
        assert "BROKEN" in finding["stdout"]
        # Counted in on one CPU and out on the other.
        assert "1 in the slow path" in finding["stdout"]
        assert "-1 in the slow path" in finding["stdout"]
    assert "finding 1 (run 82): 2 events, none of which can be left out" in p.stdout


def test_each_finding_has_a_reproducer_of_its_minimal_schedule(explored):
    _, report = explored
    for finding in report["findings"]:
        repro = json.loads(open(finding["reproducer"]).read())
        assert repro["program"]["guest_path"] == "/tmp/rseq-fallback"
        assert [(e["event"], int(e["addr"], 16), e["hit"]) for e in repro["schedule"]] == [
            (s["event"], s["insn_addr"], s["hit"]) for s in finding["schedule"]]
        assert [(f["icount"], f["vcpu"], int(f["rip"], 16)) for f in
                repro["expected"]["firings"]] == [
            (f["icount"], f["vcpu"], f["rip"]) for f in finding["firings"]]
        assert repro["expected"]["outcome"] == {"exit_code": 1, "signaled": False,
                                                "timed_out": False}


def test_gdb_stops_at_each_firing_of_the_schedule_in_order(explored):
    _, report = explored
    # A migration at the section's third arrival, then one in the abort
    # handler on the other vCPU: gdb must count arrivals as the trigger does.
    finding = report["findings"][0]
    firings = json.loads(open(finding["reproducer"]).read())["expected"]["firings"]
    gdb, code, err = replay_in_gdb(finding["reproducer"], "info registers rip", "continue",
                                   "info registers rip", "detach")
    output = gdb.stdout + gdb.stderr
    stops = re.findall(r"^faultline: schedule entry (\d+) of (\d+): (\w+) before (0x[0-9a-f]+), "
                       r"hit (\d+)$", gdb.stdout, re.M)
    assert stops == [("1", "2", "migrate", "0x401368", "3"),
                     ("2", "2", "migrate", hex(HANDLER[2].addr), "1")], output
    assert re.findall(r"^rip\s+(0x[0-9a-f]+)", gdb.stdout, re.M) == [f["rip"] for f in firings], output
    # gdb numbers the threads (vCPUs) from 1.
    assert [int(t) - 1 for t in re.findall(r"^Thread (\d+) hit Breakpoint", gdb.stdout, re.M)] == [
        f["vcpu"] for f in firings], output
    assert code == 1, err
    # Stopped and let go, the run is the recorded one.
    assert "under gdb the program exited 1, every firing at its recorded instruction" in err, err


def test_the_same_seed_gives_the_same_schedules_and_findings(explored, tmp_path):
    _, report = explored
    p = explore("--depth", "2", "--runs", RUNS, "--seed", SEED, "--json", str(tmp_path / "b.json"))
    again = json.loads((tmp_path / "b.json").read_text())
    assert comparable(again) == comparable(report), p.stdout


def test_the_python_api_explores_as_the_cli_does(explored, tmp_path):
    """The same exploration from Python, on a machine booted as the CLI
    boots its own: the same report, icounts of every firing included."""
    _, report = explored
    config = faultline.ExploreConfig(str(PROGRAM), "/tmp/rseq-fallback")
    config.events = ["preempt", "migrate"]
    config.depth, config.runs, config.seed = 2, int(RUNS), int(SEED)
    config.repro_dir = str(tmp_path / "repro")
    with faultline.Machine(faultline.MachineConfig.defaults()) as m:
        m.boot()
        m.put_file(str(PROGRAM), "/tmp/rseq-fallback")
        result = faultline.explore(m, config)
    assert comparable(json.loads(result.json())) == comparable(report)
    assert (result.first_run, result.end_run, result.failed_runs, result.program_runs) == (
        0, 90, 2, report["program_runs"])
    assert result.runs_per_s > 0 and result.config.seed == 1
    first = result.findings[0]
    assert (first.run, first.also_runs, first.tests, first.outcome) == (82, [], 2, "exited 1")
    assert [(s.event, s.cs, s.insn_addr, s.insn, s.in_abort_handler, s.hit)
            for s in first.schedule] == [
        ("migrate", SECTION.start, SECTION.start, "cmpl %edi, %fs:4(%rsi)", False, 3),
        ("migrate", SECTION.start, HANDLER[2].addr, HANDLER[2].text, True, 1)]
    assert [(f.icount, f.vcpu, f.rip, f.status) for f in first.firings] == [
        (f["icount"], f["vcpu"], f["rip"], f["status"]) for f in report["findings"][0]["firings"]]
    assert first.stdout == report["findings"][0]["stdout"]
    repro = faultline.read_reproducer(first.reproducer)
    assert repro.firings == first.firings
    assert "finding 1 (run 82): 2 events, none of which can be left out" in result.table()


@pytest.mark.parametrize("field, value, message", [
    ("depth", 0, "depth must be at least 1"),
    ("runs", 0, "runs must be at least 1"),
    ("max_hit", 0, "max hit must be at least 1"),
    ("events", ["preempt", "explode"], "unknown event 'explode'"),
    ("signo", 65, "signal 65: not a signal number \\(1-64\\)"),
    ("host_binary", "/nonexistent/prog", "binary not found: /nonexistent/prog"),
])
def test_the_python_api_refuses_bad_input_before_the_machine_runs(machine, field, value,
                                                                   message):
    config = faultline.ExploreConfig(str(PROGRAM), "/tmp/rseq-fallback")
    setattr(config, field, value)
    icount = machine.icount()
    with pytest.raises(faultline.ConfigError, match=message):
        faultline.explore(machine, config)
    assert machine.icount() == icount


def test_the_python_api_refuses_a_bad_shard():
    config = faultline.ExploreConfig(str(PROGRAM), "/tmp/rseq-fallback")
    with pytest.raises(faultline.ConfigError, match="'4/3': I must be from 1 to N"):
        config.shard = "4/3"


@pytest.mark.parametrize("shard", ["1/3", "2/3", "3/3"])
def test_a_shard_of_the_runs_finds_what_the_whole_does_there(explored, shard, tmp_path):
    _, whole = explored
    p = explore("--depth", "2", "--runs", RUNS, "--seed", SEED, "--shard", shard,
                "--json", str(tmp_path / "s.json"))
    part = json.loads((tmp_path / "s.json").read_text())
    index = int(shard[0])
    assert (part["first_run"], part["end_run"]) == (30 * (index - 1), 30 * index)
    assert part["shard"] == shard
    expected = [f for f in comparable(whole)["findings"]
                if part["first_run"] <= f["run"] < part["end_run"]]
    assert comparable(part)["findings"] == expected
    assert p.returncode == (1 if expected else 0), p.stdout


# One event kind at hit 1: few schedules, so one comes back in a later run,
# here run 84 (shard 2 of 2) shrinks to what run 24 (shard 1) did.
REPEATING = ("--events", "migrate", "--max-hit", "1", "--depth", "2", "--runs", "120",
             "--seed", SEED)


def explore_reports(directory, *args):
    directory.mkdir()
    p = cli("explore", "--binary", str(PROGRAM), *REPEATING, *args, "--json",
            str(directory / "e.json"), "--junit", str(directory / "e.xml"), "--repro-dir",
            str(directory.parent / "repro"))
    assert p.returncode == 1, p.stdout + p.stderr
    return p.stdout, directory / "e.json", directory / "e.xml"


def test_shards_merged_are_the_whole_exploration_a_repeated_finding_once(tmp_path):
    stdout, whole, whole_junit = explore_reports(tmp_path / "whole")
    report = json.loads(whole.read_text())
    assert [(f["run"], f["also_runs"]) for f in report["findings"]] == [
        (24, [84]), (26, []), (37, []), (41, []), (54, []), (59, []), (64, [82])]
    shards = [explore_reports(tmp_path / f"shard{i}", "--shard", f"{i}/2")[1] for i in (1, 2)]
    # Shard 2 alone finds run 84's schedule anew.
    assert [f["run"] for f in json.loads(shards[1].read_text())["findings"]] == [64, 84]
    merged = tmp_path / "merged.json"
    p = cli("merge", str(shards[1]), str(shards[0]), "--json", str(merged), "--junit",
            str(tmp_path / "merged.xml"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert merged.read_bytes() == whole.read_bytes()
    assert (tmp_path / "merged.xml").read_bytes() == whole_junit.read_bytes()
    assert p.stdout == re.sub(r", [\d.]+ runs/s\n", "\n", stdout)
    # One case a run; the runs that broke the check failed, with their finding.
    [suite] = ElementTree.parse(whole_junit).getroot()
    failed = {case.get("name"): case.find("failure").get("message")
              for case in suite if case.find("failure") is not None}
    assert (suite.get("tests"), suite.get("failures")) == ("120", "9")
    assert failed["run 84"] == failed["run 24"] == (
        "finding 1: 2 events, none of which can be left out; the program exited 1")
    py = faultline.merge_explore_shards([str(s) for s in shards])
    assert py.json().encode() == whole.read_bytes()


def test_merge_refuses_an_exploration_with_html_or_a_sweep_among_its_shards(tmp_path):
    _, one, _ = explore_reports(tmp_path / "one", "--shard", "1/2")
    p = cli("merge", str(one), "--html", str(tmp_path / "x.html"))
    assert (p.returncode, p.stderr.splitlines()[0]) == (
        2, "faultline: --html: an exploration has no HTML report")
    sweep = tmp_path / "sweep.json"
    assert cli("sweep", "--events", "preempt", "--json", str(sweep)).returncode == 0
    p = cli("merge", str(one), str(sweep))
    assert p.returncode == 2
    assert p.stderr == (f"faultline: error: {sweep}: not a faultline explore report: not a report "
                        'of faultline explore (its "report" is not "faultline explore")\n')


def test_one_event_per_run_never_breaks_it():
    p = explore("--depth", "1", "--runs", "200", "--seed", SEED)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "200 runs (from run 0 of 200; shard 1/1), seed 1, depth 1: 0 failed, 0 findings" \
        in p.stdout


def test_the_sweep_of_one_event_per_trial_does_not_find_it():
    p = cli("sweep", "--binary", str(PROGRAM))
    assert p.returncode == 0, p.stdout + p.stderr
    assert " 0 failed," in p.stdout


@pytest.mark.parametrize("args, message", [
    (["--depth", "0", "--runs", "1", "--seed", "1"], "--depth must be at least 1"),
    (["--depth", "1", "--runs", "0", "--seed", "1"], "--runs must be at least 1"),
    (["--depth", "1", "--runs", "1", "--seed", "x"], "--seed expects a number, not 'x'"),
    (["--depth", "1", "--runs", "1"], "explore needs --seed"),
    (["--runs", "1", "--seed", "1"], "explore needs --depth"),
    (["--depth", "1", "--runs", "1", "--seed", "1", "--max-hit", "0"],
     "--max-hit must be at least 1"),
    (["--depth", "1", "--runs", "1", "--seed", "1", "--events", "preempt,explode"],
     "unknown event 'explode'"),
    (["--depth", "1", "--runs", "1", "--seed", "1", "--shard", "4/3"],
     "--shard '4/3': I must be from 1 to N"),
])
def test_bad_input_is_named(args, message):
    p = explore(*args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert message in p.stderr


def test_a_binary_without_sections_is_named():
    p = cli("explore", "--binary", str(GUEST_PROGRAMS / "hang"), "--depth", "1", "--runs", "1",
            "--seed", "1")
    assert p.returncode == 2
    assert f"{GUEST_PROGRAMS / 'hang'}: no rseq critical section" in p.stderr


def test_a_finding_records_and_replays_where_the_thread_went_at_each_firing(explored):
    # The guest carried out both migrations ("done") and the program ran to
    # its end, so the thread went one way at each: into the abort handler
    # after the first (it lands inside the section), on in the handler after
    # the second. Neither the reproducer nor its replay may leave that
    # unknown; "went neither way" is what a sweep says of a thread watched
    # that never came back.
    _, report = explored
    finding = report["findings"][0]
    repro = json.loads(open(finding["reproducer"]).read())
    assert [f["aborted"] for f in repro["expected"]["firings"]] == [True, False]
    p = cli("replay", finding["reproducer"])
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.findall(r"^fired at icount \d+ on vCPU \d, rip 0x[0-9a-f]+: (.*)$", p.stdout,
                      re.M) == ["aborted (guest: done)", "did not abort (guest: done)"], p.stdout
