"""Protection-key events as QEMU records them (qemu-patches/0013): every
PKRU and IA32_PKRS write and every page fault a protection key caused, read
with Machine.trace_pk / pk_events and `faultline run --pk-trace`.

/bin/pk-events sequence (guest-kernel/programs/pk-events.c) makes a known
series of them: the list is checked record by record, the kernel's own
writes by the function of vmlinux they come from."""
import bisect
import functools
import json
import os
import re
import subprocess
import time

import pytest

import faultline
from conftest import BUILD, GUEST_PROGRAMS, cli

PROGRAM = GUEST_PROGRAMS / "pk-events"
VMLINUX = BUILD / "linux" / "vmlinux"
# Linux's init_pkru_value: every key but 0 access-disabled.
DEFAULT_PKRU = 0x55555554
# #PF error code bits.
P, W, U, PK = 0x1, 0x2, 0x4, 0x20
KERNEL_HALF = 0xFFFF800000000000


@functools.cache
def kernel_functions():
    """(sorted addresses, names) of vmlinux's text symbols."""
    out = subprocess.run(["nm", "-n", str(VMLINUX)], capture_output=True, text=True,
                         check=True).stdout
    symbols = [(int(a, 16), n) for a, t, n in re.findall(r"^(\w+) ([tTwW]) (\S+)$", out, re.M)]
    return [a for a, _ in symbols], [n for _, n in symbols]


def kernel_function(rip):
    addrs, names = kernel_functions()
    return names[bisect.bisect_right(addrs, rip) - 1]


@functools.cache
def program_symbols():
    """{address: name} of pk-events' labelled instructions."""
    return {faultline.symbol_address(str(PROGRAM), name): name
            for name in ("pk_wrpkru", "pk_read", "pk_write", "pk_xrstor")}


def where(event):
    """The program's symbol for a user rip, the kernel function for a kernel one."""
    if event["rip"] >= KERNEL_HALF:
        return kernel_function(event["rip"]).split(".")[0]
    return program_symbols().get(event["rip"], hex(event["rip"]))


def traced_sequence(kinds=None, cr3=lambda process: process.cr3):
    """A fresh guest runs pk-events sequence with the trace on (kinds None:
    off): its result and the records, as the CLI writes them."""
    with faultline.Machine() as m:
        m.boot()
        process = m.spawn("/bin/pk-events", ["sequence"])
        if kinds is not None:
            m.trace_pk(kinds, cr3(process))
        r = m.run_spawned()
        return r, process, [e.json() for e in m.pk_events()]


def printed(stdout):
    pkey = int(re.search(r"^pkey (\d+)$", stdout, re.M).group(1))
    page = int(re.search(r"^page (0x[0-9a-f]+)$", stdout, re.M).group(1), 16)
    return pkey, page


def expected_sequence(stdout):
    """What the sequence must record, derived from what it does and from
    Linux 6.12's signal path: delivery opens every key (sig_prepare_pkru,
    write_pkru 0) for the frame, then gives the handler the default PKRU
    (fpu__clear_user_states); sigreturn's XRSTOR loads the frame's PKRU, the
    one the fault happened under."""
    pkey, page = printed(stdout)
    shift = 2 * pkey
    open_ = DEFAULT_PKRU & ~(3 << shift)
    no_access = open_ | 1 << shift
    no_write = open_ | 2 << shift

    def fault(at, access, pkr):
        code = PK | U | P | (W if access == "write" else 0)
        return {"kind": "pk_fault", "at": at, "cpl": 3, "addr": page, "error_code": code,
                "pkey": pkey, "access": access, "pkr": pkr}

    def signal(pkru):
        return [{"kind": "wrpkru", "at": "write_pkru", "cpl": 0, "old": pkru, "value": 0},
                {"kind": "wrpkru", "at": "fpu__clear_user_states", "cpl": 0, "old": 0,
                 "value": DEFAULT_PKRU},
                {"kind": "xrstor_pkru", "at": "__fpu_restore_sig", "cpl": 0,
                 "old": DEFAULT_PKRU, "value": pkru}]

    return [
        # pkey_alloc(0, 0): the new key open
        {"kind": "wrpkru", "at": "arch_set_user_pkey_access", "cpl": 0,
         "old": DEFAULT_PKRU, "value": open_},
        {"kind": "wrpkru", "at": "pk_wrpkru", "cpl": 3, "old": open_, "value": no_access},
        fault("pk_read", "read", no_access), *signal(no_access),
        # sys_pkey_set(key, PKEY_DISABLE_WRITE)
        {"kind": "wrpkru", "at": "arch_set_user_pkey_access", "cpl": 0,
         "old": no_access, "value": no_write},
        fault("pk_write", "write", no_write), *signal(no_write),
        {"kind": "wrpkru", "at": "pk_wrpkru", "cpl": 3, "old": no_write, "value": open_},
    ]


LEFT_TO_THE_RUN = ("icount", "vcpu", "cr3", "rip")


def comparable(events):
    """The records without what the expectation leaves to the run, and with
    where each happened for its rip: the program's label (the exact address)
    or the kernel function."""
    return [{"at": where(e), **{k: v for k, v in e.items() if k not in LEFT_TO_THE_RUN}}
            for e in events]


@pytest.fixture(scope="module")
def traced():
    return traced_sequence(faultline.pk_event_kinds())


def test_the_sequence_records_exactly_its_writes_and_faults(traced):
    r, process, events = traced
    assert r.exit_code == 0, r.stdout + r.stderr
    assert comparable(events) == expected_sequence(r.stdout)
    assert {e["cr3"] for e in events} == {process.cr3}
    icounts = [e["icount"] for e in events]
    assert icounts == sorted(icounts) and len(set(icounts)) == len(icounts)


def test_a_fault_is_where_the_program_saw_it(traced):
    r, _, events = traced
    faults = [e for e in events if e["kind"] == "pk_fault"]
    seen = re.findall(r"^fault (\w+) pkey (\d+) addr (0x[0-9a-f]+) code (\d+)$", r.stdout, re.M)
    # si_code 4: SEGV_PKUERR, with the key and address the record gives.
    assert [(f["access"], f["pkey"], f["addr"], 4) for f in faults] == \
        [(a, int(k), int(addr, 16), int(code)) for a, k, addr, code in seen]


def test_the_same_run_twice_records_the_same_list(traced):
    _, _, events = traced
    assert traced_sequence(faultline.pk_event_kinds())[2] == events


def test_recording_does_not_change_what_the_guest_executes(traced):
    r, _, _ = traced
    untraced, _, events = traced_sequence(None)
    assert events == []
    assert (untraced.icount, untraced.stdout) == (r.icount, r.stdout)


def test_a_kind_filter_keeps_exactly_those_records(traced):
    _, _, events = traced
    kinds = ["pk_fault", "xrstor_pkru"]
    assert traced_sequence(kinds)[2] == [e for e in events if e["kind"] in kinds]


def test_an_address_space_filter_leaves_out_other_address_spaces(traced):
    _, _, events = traced
    assert traced_sequence(faultline.pk_event_kinds(), lambda p: p.cr3 + 0x1000)[2] == []
    everywhere = traced_sequence(faultline.pk_event_kinds(), lambda p: None)[2]
    assert [e for e in everywhere if e["cr3"] == events[0]["cr3"]] == events


def test_an_xrstor_of_pkru_in_its_init_state_records_a_load_of_0():
    with faultline.Machine() as m:
        m.boot()
        process = m.spawn("/bin/pk-events", ["xrstor-init"])
        m.trace_pk(["wrpkru", "xrstor_pkru"], process.cr3)
        r = m.run_spawned()
        events = [e.json() for e in m.pk_events()]
    assert r.exit_code == 0, r.stdout + r.stderr
    assert comparable(events) == [
        {"kind": "wrpkru", "at": "pk_wrpkru", "cpl": 3, "old": DEFAULT_PKRU, "value": 0x55555550},
        {"kind": "xrstor_pkru", "at": "pk_xrstor", "cpl": 3, "old": 0x55555550, "value": 0}]


def test_stopping_keeps_what_was_recorded_and_records_no_more(machine):
    machine.trace_pk(["wrpkru"])
    machine.run("/bin/pk-events", ["loop", "3"])
    machine.trace_pk([])
    machine.run("/bin/pk-events", ["loop", "5"])
    user = [e for e in machine.pk_events() if e.cpl == 3]
    assert [e.old ^ e.value for e in user] == [0xc] * 6
    assert machine.pk_events() == []


def test_an_unknown_kind_is_refused(machine):
    with pytest.raises(faultline.ConfigError, match="unknown protection-key event kind 'rdpkru'"):
        machine.trace_pk(["wrpkru", "rdpkru"])


def test_the_cli_writes_the_programs_records_one_json_object_a_line(tmp_path, traced):
    _, _, events = traced
    out = tmp_path / "t.jsonl"
    p = cli("run", "--pk-trace", str(out), "--", "/bin/pk-events", "sequence")
    assert p.returncode == 0, p.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == events
    assert os.listdir(tmp_path) == ["t.jsonl"]


def test_the_cli_traces_an_uploaded_binary_and_its_kinds(tmp_path):
    out = tmp_path / "t.jsonl"
    p = cli("run", "--pk-trace", str(out), "--pk-kinds", "wrpkru,pk_fault",
            "--binary", str(PROGRAM), "--", "sequence")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert comparable(lines) == [e for e in expected_sequence(p.stdout)
                                 if e["kind"] in ("wrpkru", "pk_fault")]


def test_the_cli_refuses_an_unknown_kind_before_boot(tmp_path):
    out = tmp_path / "t.jsonl"
    p = cli("run", "--pk-trace", str(out), "--pk-kinds", "wrpkru,pkru", "--", "/bin/true")
    assert p.returncode == 2
    assert "unknown protection-key event kind 'pkru'" in p.stderr
    assert "guest ready" not in p.stderr and os.listdir(tmp_path) == []


def test_the_usage_names_the_kinds_recorded_by_default():
    assert faultline.pk_event_kinds() == ["wrpkru", "xrstor_pkru", "pkrs_write", "pk_fault"]
    assert ("  --pk-kinds KIND,...   run: which of "
            "wrpkru,xrstor_pkru,pkrs_write,pk_fault,page_fault\n"
            "                (default all: wrpkru,xrstor_pkru,pkrs_write,pk_fault;\n"
            "                page_fault only when named)\n") in cli("--help").stdout


def test_the_cli_refuses_an_unwritable_trace_before_boot(tmp_path):
    p = cli("run", "--pk-trace", str(tmp_path / "absent" / "t.jsonl"), "--", "/bin/true")
    assert p.returncode == 2
    assert f"--pk-trace {tmp_path}/absent/t.jsonl: cannot write there" in p.stderr
    assert "guest ready" not in p.stderr


def test_a_failed_run_leaves_no_half_written_trace(tmp_path):
    out = tmp_path / "t.jsonl"
    out.write_text("earlier\n")
    p = cli("run", "--pk-trace", str(out), "--", "/bin/absent")
    assert p.returncode == 125, p.stderr
    assert out.read_text() == "earlier\n" and os.listdir(tmp_path) == ["t.jsonl"]


def denies(pkr, pkey, access):
    """Whether PKRU value pkr denies a user access to a page with pkey."""
    bits = pkr >> (2 * pkey)
    return bool(bits & 1) or (access == "write" and bool(bits & 2))


@pytest.fixture(scope="module")
def protection_keys_traced():
    """The upstream protection_keys suite (as test_selftests runs it) with
    every kind traced in every address space: it forks."""
    with faultline.Machine() as m:
        m.boot()
        m.trace_pk(faultline.pk_event_kinds())
        r = m.run("/selftests/mm/protection_keys_64", budget_ms=60_000, run_as_root=True)
        return r, [e.json() for e in m.pk_events()]


def test_protection_keys_passes_with_tracing_on(protection_keys_traced):
    r, _ = protection_keys_traced
    assert r.exit_code == 0 and "done (all tests OK)" in r.stdout, r.stdout[-2000:]


def test_every_user_pk_fault_of_protection_keys_is_one_its_pkru_explains(protection_keys_traced):
    _, events = protection_keys_traced
    faults = [e for e in events if e["kind"] == "pk_fault" and e["cpl"] == 3]
    assert faults
    for f in faults:
        assert f["error_code"] == PK | U | P | (W if f["access"] == "write" else 0), f
        assert denies(f["pkr"], f["pkey"], f["access"]), f


def test_every_user_pk_fault_of_protection_keys_gets_its_signal(protection_keys_traced):
    """Its handler sees SEGV_PKUERR (any other code ends the suite) and zeroes
    PKRU in the signal frame: in its address space, each CPL 3 fault is
    followed by a signal delivery (Linux opens every key for the frame:
    write_pkru 0) whose sigreturn loads PKRU 0.

    Not every SEGV_PKUERR has a pk_fault: Linux also reports one for a fault
    on a page not yet present in a VMA whose key denies the access
    (bad_area_access_from_pkeys), where the CPU never checked a key."""
    _, events = protection_keys_traced
    by_space = {}
    for e in events:
        by_space.setdefault(e["cr3"], []).append(e)
    faults = 0
    for space in by_space.values():
        for i, e in enumerate(space):
            if e["kind"] == "pk_fault" and e["cpl"] == 3:
                faults += 1
                delivery, restore = space[i + 1:i + 4:2]
                assert (delivery["kind"], where(delivery), delivery["value"]) == \
                    ("wrpkru", "write_pkru", 0), (e, delivery)
                assert (restore["kind"], where(restore), restore["value"]) == \
                    ("xrstor_pkru", "__fpu_restore_sig", 0), (e, restore)
    assert faults > 0


@pytest.fixture
def qemu(tmp_path):
    from test_qmp import Qemu
    q = Qemu(tmp_path)
    yield q
    q.close()


@pytest.mark.parametrize("arguments, error", [
    ({"kinds": []}, "kinds is empty: nothing would be recorded"),
    ({"limit": 0}, "limit must be 1 to 4194304"),
    ({"limit": 4194305}, "limit must be 1 to 4194304"),
])
def test_qemu_refuses_a_trace_that_records_nothing_or_too_much(qemu, arguments, error):
    with pytest.raises(faultline.QmpError, match=error):
        qemu("faultline-pk-trace", enable=True, **arguments)


def test_records_past_the_limit_are_counted_as_lost_never_dropped_silently(qemu):
    """Three seconds of boot with a limit of 1: the kernel writes PKRU more
    often than that (it sets up the FPU, and execs the agent)."""
    qemu("faultline-pk-trace", enable=True, limit=1)
    qemu("cont")
    time.sleep(3)
    qemu("stop")
    first = qemu("query-faultline-pk-events")
    assert len(first["events"]) == 1 and first["lost"] > 0, first
    assert qemu("query-faultline-pk-events") == {"events": [], "lost": 0}
