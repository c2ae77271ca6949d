"""The injection device's QMP interface and vmstate, on the harness's QEMU
with one vCPU (the VM does not run: arming and migration happen while it is
stopped)."""
import subprocess
import time

import pytest

import faultline


def qemu_argv(run_dir):
    """The harness's command line (qemu_command_line), one vCPU, files in run_dir."""
    config = faultline.MachineConfig.defaults()
    config.cpus = 1
    config.run_dir = str(run_dir)
    return faultline.qemu_command_line(config)


class Qemu:
    def __init__(self, run_dir, *extra):
        self.proc = subprocess.Popen([*qemu_argv(run_dir), *extra], stderr=subprocess.PIPE,
                                     text=True)
        self.qmp = faultline.QmpClient()
        try:
            self.qmp.connect(f"{run_dir}/qmp.sock")
        except BaseException:
            self.close()
            raise

    def __call__(self, command, **arguments):
        return self.qmp.execute(command, arguments or None)

    def close(self):
        self.qmp.close()
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def qemu(tmp_path):
    q = Qemu(tmp_path)
    yield q
    q.close()


SCHEDULE = [{"vaddr": 0x401000, "event": "preempt", "watch": 0x48A000},
            {"vaddr": 0x401010, "hit": 7, "event": "signal", "arg": 10, "cr3": 0x5000}]


def test_arm_query_disarm(qemu):
    assert qemu("query-faultline") == {"pending": 0, "firings": []}
    qemu("faultline-arm", cr3=0x1234000, entries=SCHEDULE)
    assert qemu("query-faultline") == {"pending": 2, "firings": []}
    qemu("faultline-disarm")
    assert qemu("query-faultline")["pending"] == 0


@pytest.mark.parametrize("entry, error", [
    ({"vaddr": 0x401000, "event": "signal"}, "signal needs an arg"),
    ({"vaddr": 0x401000, "hit": 0, "event": "preempt"}, "hit counts from 1"),
    ({"vaddr": 0x401000, "event": "preempt", "watch": 0x401000}, "watch must be another address"),
    ({"vaddr": 0x401000, "event": "explode"}, "explode"),
    # The machine has one vCPU: nothing could ever move a task to CPU 1.
    ({"vaddr": 0x401000, "event": "migrate", "arg": 1}, "migrate to CPU 1: the machine has 1 vCPU"),
    ({"vaddr": 0x401000, "event": "signal", "arg": 0}, "signal 0: not a signal number"),
    ({"vaddr": 0x401000, "event": "signal", "arg": 65}, "signal 65: not a signal number"),
])
def test_bad_entries_are_refused_and_change_nothing(qemu, entry, error):
    qemu("faultline-arm", cr3=0, entries=SCHEDULE)
    with pytest.raises(faultline.QmpError, match=error):
        qemu("faultline-arm", cr3=0, entries=[entry])
    assert qemu("query-faultline")["pending"] == 2


@pytest.mark.parametrize("kind", faultline.event_kinds(), ids=lambda k: k.name)
def test_every_event_of_the_shared_table_is_armed_by_its_qmp_name(qemu, kind):
    entry = {"vaddr": 0x401000, "event": kind.qmp_name}
    if not kind.fires_at_user:
        entry["kernel"] = True
    if kind.takes_arg and kind.sweep_arg(10) != 2**64 - 1:
        entry["arg"] = kind.sweep_arg(10)
    qemu("faultline-arm", cr3=0x1234000, entries=[entry])
    assert qemu("query-faultline") == {"pending": 1, "firings": []}


def test_arming_a_running_vm_is_refused(qemu):
    qemu("cont")
    with pytest.raises(faultline.QmpError, match="only while the VM is stopped"):
        qemu("faultline-arm", cr3=0, entries=SCHEDULE)


def test_disarming_a_running_vm_is_refused_and_keeps_the_schedule(qemu):
    qemu("faultline-arm", cr3=0, entries=SCHEDULE)
    qemu("cont")
    with pytest.raises(faultline.QmpError, match="only while the VM is stopped"):
        qemu("faultline-disarm")
    qemu("stop")
    assert qemu("query-faultline")["pending"] == len(SCHEDULE)


def test_device_needs_icount(tmp_path):
    argv = qemu_argv(tmp_path)
    at = argv.index("-icount")
    del argv[at:at + 2]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "faultline-inject needs -icount" in p.stderr


def migration_end(qemu):
    """query-migrate once the migration completed or failed."""
    for _ in range(500):
        status = qemu("query-migrate")
        if status.get("status") in ("completed", "failed"):
            return status
        time.sleep(0.01)
    pytest.fail(f"migration still {status.get('status')} after 5 s")


def wait_for_migration(qemu):
    status = migration_end(qemu)
    assert status["status"] == "completed", status


def test_schedule_survives_migration(qemu, tmp_path):
    qemu("faultline-arm", cr3=0x1234000, entries=SCHEDULE)
    qemu("migrate", uri=f"file:{tmp_path}/state")
    wait_for_migration(qemu)
    qemu.close()
    loaded = Qemu(tmp_path, "-incoming", "defer")
    try:
        loaded("migrate-incoming", uri=f"file:{tmp_path}/state")
        wait_for_migration(loaded)
        assert loaded("query-faultline") == {"pending": 2, "firings": []}
    finally:
        loaded.close()


def section_fields(stream):
    """Offset of the injection device's first field in a migration stream:
    past its section header (idstr length, idstr, instance id, version)."""
    header = b"\x10faultline-inject"
    at = stream.index(header)
    assert stream.count(header) == 1
    return at + len(header) + 8


ENTRY_SIZE = 40  # vaddr, cr3, hit, event, arg, watch


@pytest.mark.parametrize("what, offset, value", [
    ("entry count", 0, -1),
    ("entry count past the limit", 0, 1 << 24),
    ("event kind", 4 + 20, 99),
    ("hit", 4 + 16, 0),
    ("migrate target", 4 + ENTRY_SIZE + 20, None),
    ("fired entry index", 4 + 2 * ENTRY_SIZE, 3),
])
def test_a_state_out_of_range_is_refused(qemu, tmp_path, what, offset, value):
    qemu("faultline-arm", cr3=0x1234000, entries=SCHEDULE)
    qemu("migrate", uri=f"file:{tmp_path}/state")
    wait_for_migration(qemu)
    qemu.close()
    stream = bytearray((tmp_path / "state").read_bytes())
    at = section_fields(stream) + offset
    if value is None:
        # Entry 1 becomes a migration to CPU 5 (an entry keeps the event's
        # code from linux/faultline.h).
        migrate = next(k.code for k in faultline.event_kinds() if k.name == "migrate")
        stream[at:at + 4] = migrate.to_bytes(4, "big")
        stream[at + 4:at + 12] = (5).to_bytes(8, "big")
    else:
        stream[at:at + 4] = (value & 0xFFFFFFFF).to_bytes(4, "big")
    (tmp_path / "bad").write_bytes(stream)
    loaded = Qemu(tmp_path, "-incoming", "defer")
    try:
        loaded("migrate-incoming", uri=f"file:{tmp_path}/bad", **{"exit-on-error": False})
        assert migration_end(loaded)["status"] == "failed", what
        # Refused, not half trusted: the device keeps an empty schedule.
        assert loaded("query-faultline") == {"pending": 0, "firings": []}
    finally:
        loaded.close()
    assert "faultline-inject" in loaded.proc.stderr.read()
