"""sweep --shard I/N: N machines each sweep a contiguous part of the
instruction rows, and together they give the whole sweep's cells. Each
shard is its own test, so pytest-xdist runs them on separate cores (and,
with --tx ssh=..., on separate hosts)."""
import json

import pytest

import faultline
from conftest import GUEST_PROGRAMS, cli

SHARDS = 3
# Where and when an event fired depends on the other trials of its program
# run, which differ between a shard and the whole sweep; every verdict may not.
RUN_DEPENDENT = ("fired_icount", "vcpu")


def rows_of_the_builtin_sweep():
    binary = str(GUEST_PROGRAMS / "rseq-counter")
    return sum(len(faultline.instructions_of(binary, cs))
               for cs in faultline.rseq_critical_sections(binary))


def cells(report):
    return [{k: v for k, v in c.items() if k not in RUN_DEPENDENT} for c in report["cells"]]


def sweep_json(tmp_path, *args):
    out = tmp_path / "sweep.json"
    p = cli("sweep", "--json", str(out), *args)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    return sweep_json(tmp_path_factory.mktemp("whole"))


@pytest.mark.parametrize("index", range(1, SHARDS + 1))
def test_a_shard_gives_its_rows_of_the_whole_sweep(whole, index, tmp_path):
    part = sweep_json(tmp_path, "--shard", f"{index}/{SHARDS}")
    assert part["shard"] == f"{index}/{SHARDS}"
    rows = rows_of_the_builtin_sweep()
    events = len(faultline.swept_events())
    first, end = rows * (index - 1) // SHARDS, rows * index // SHARDS
    assert cells(part) == cells(whole)[first * events:end * events]


def test_the_union_of_the_shards_is_the_whole_sweep(whole, tmp_path):
    union = []
    for index in range(1, SHARDS + 1):
        union += cells(sweep_json(tmp_path, "--shard", f"{index}/{SHARDS}"))
    assert union == cells(whole)
    assert len(union) == 125


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
