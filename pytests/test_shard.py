"""sweep --shard I/N and faultline merge: N machines each sweep a
contiguous part of the run groups (8 instruction rows each, which no
program run crosses), so each shard's cells are the whole sweep's, firing
icounts included, and merging the shards' reports writes the whole sweep's
JSON, HTML and JUnit byte for byte. Each shard is its own test, so
pytest-xdist runs them on separate cores (and, with --tx ssh=..., on
separate hosts)."""
import json
import re

import pytest

import faultline
from conftest import GUEST_PROGRAMS, cli

SHARDS = 3
ROWS_PER_RUN_GROUP = 8
REPORTS = ("--json", "sweep.json"), ("--html", "sweep.html"), ("--junit", "sweep.xml")


def rows_of_the_builtin_sweep():
    binary = str(GUEST_PROGRAMS / "rseq-counter")
    return sum(len(faultline.instructions_of(binary, cs))
               for cs in faultline.rseq_critical_sections(binary))


def sweep_reports(directory, *args, command="sweep", status=0):
    """Runs the command writing every report into directory; returns its
    stdout and the reports' bytes, by option."""
    directory.mkdir(exist_ok=True)
    options = [a for flag, name in REPORTS for a in (flag, str(directory / name))]
    p = cli(command, *args, *options)
    assert p.returncode == status, p.stdout + p.stderr
    return p.stdout, {flag: (directory / name).read_bytes() for flag, name in REPORTS}


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    return sweep_reports(tmp_path_factory.mktemp("whole"))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    return [sweep_reports(tmp / str(i), "--shard", f"{i}/{SHARDS}") for i in range(1, SHARDS + 1)]


def shard_files(tmp_path, shards, indexes):
    paths = []
    for i in indexes:
        path = tmp_path / f"shard{i}.json"
        path.write_bytes(shards[i - 1][1]["--json"])
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("index", range(1, SHARDS + 1))
def test_a_shard_gives_its_run_groups_of_the_whole_sweep(whole, index, tmp_path):
    _, part = sweep_reports(tmp_path, "--shard", f"{index}/{SHARDS}")
    part, whole_report = json.loads(part["--json"]), json.loads(whole[1]["--json"])
    assert part["shard"] == f"{index}/{SHARDS}"
    groups = -(-rows_of_the_builtin_sweep() // ROWS_PER_RUN_GROUP)
    first = groups * (index - 1) // SHARDS * ROWS_PER_RUN_GROUP
    end = min(groups * index // SHARDS * ROWS_PER_RUN_GROUP, rows_of_the_builtin_sweep())
    events = len(faultline.swept_events())
    # Every field of every cell, where and when its event fired included.
    assert part["cells"] == whole_report["cells"][first * events:end * events]
    assert part["cells"]


def test_three_shards_merged_are_the_whole_sweep_byte_for_byte(whole, shards, tmp_path):
    whole_stdout, whole_reports = whole
    # Given in any order.
    paths = shard_files(tmp_path, shards, (3, 1, 2))
    stdout, merged = sweep_reports(tmp_path / "merged", *paths, command="merge")
    assert merged == whole_reports
    assert len(json.loads(merged["--json"])["cells"]) == 125
    # The table too, but for the rate: a merge measures none.
    assert stdout == re.sub(r", [\d.]+ trials/s\n", "\n", whole_stdout)


def test_merge_from_python_is_the_whole_sweep(whole, shards, tmp_path):
    merged = faultline.merge_sweep_shards(shard_files(tmp_path, shards, (1, 2, 3)))
    assert (merged.shard, len(merged.cells), merged.trials_per_s) == ("1/1", 125, 0)
    assert merged.json().encode() == whole[1]["--json"]
    assert merged.junit("faultline sweep /bin/rseq-counter").encode() == whole[1]["--junit"]


def other_program_shard(tmp_path):
    """Shard 2/3 of the same program, uploaded with other arguments."""
    out = tmp_path / "other.json"
    p = cli("sweep", "--binary", str(GUEST_PROGRAMS / "rseq-counter"), "--shard", "2/3",
            "--json", str(out), "--", "1", "999")
    assert p.returncode == 0, p.stdout + p.stderr
    return str(out)


@pytest.mark.parametrize("case", ["none", "not json", "not a report", "truncated", "twice",
                                  "missing", "two splits", "two programs", "unreadable"])
def test_merge_refuses_what_is_not_one_whole_sweep(shards, tmp_path, case):
    one, two, three = shard_files(tmp_path, shards, (1, 2, 3))
    garbage = tmp_path / "garbage.json"
    if case == "none":
        args, message = [], "faultline: merge needs the shards' JSON reports"
    elif case == "not json":
        garbage.write_text("cells\n")
        args, message = [one, str(garbage)], f"{garbage}: not a faultline sweep report: "
    elif case == "not a report":
        garbage.write_text('{"cells": []}\n')
        args, message = [str(garbage)], (f'{garbage}: not a faultline sweep report: not a report '
                                         'of faultline sweep (its "report" is not "faultline '
                                         'sweep")')
    elif case == "truncated":
        garbage.write_bytes(shards[0][1]["--json"][:4000])
        args, message = [str(garbage), two, three], f"{garbage}: not a faultline sweep report: "
    elif case == "twice":
        args, message = [one, two, two, three], f"shard 2/3 is given twice: {two} and {two}"
    elif case == "missing":
        args, message = [three, one], "shard 2/3 missing: the union would not be the whole sweep"
    elif case == "two splits":
        whole_json = tmp_path / "whole.json"
        p = cli("sweep", "--json", str(whole_json))
        assert p.returncode == 0, p.stderr
        args, message = [one, str(whole_json)], \
            f"{one} is shard 1/3 and {whole_json} shard 1/1: shards of different splits"
    elif case == "two programs":
        other = other_program_shard(tmp_path)
        args, message = [one, other, three], \
            f'shards of different sweeps: sweep/args/1 is "1000" in {one} and "999" in {other}'
    else:
        args, message = [one, two, str(tmp_path / "absent.json")], \
            f"{tmp_path / 'absent.json'}: cannot be read"
    merged = tmp_path / "merged.json"
    p = cli("merge", *args, "--json", str(merged))
    assert p.returncode == 2, p.stdout + p.stderr
    assert message in p.stderr
    assert p.stdout == ""
    assert not merged.exists() and not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("shard, message", [
    ("4/3", "--shard '4/3': I must be from 1 to N"),
    ("0/3", "--shard '0/3': I must be from 1 to N"),
    ("1/0", "--shard '1/0': N must be at least 1"),
    ("1-3", "--shard '1-3': expected I/N, e.g. 2/3"),
    ("a/3", "--shard 'a/3': expected I/N, e.g. 2/3"),
])
def test_bad_shards_are_named(shard, message):
    p = cli("sweep", "--shard", shard)
    assert p.returncode == 2, p.stdout + p.stderr
    assert message in p.stderr


def test_merge_takes_no_machine_options(tmp_path):
    p = cli("merge", str(tmp_path / "a.json"), "--cpus", "3")
    assert p.returncode == 2
    assert "merge takes the shards' reports, --json, --html, --junit and --require-coverage, " \
        "not --cpus" in p.stderr
