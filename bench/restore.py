#!/usr/bin/python3
"""In-memory restore benchmark (2 vCPUs, 256 MiB, TCG + icount): snapshots
the booted, parked machine, then N times (default 100) runs a program and
restores. Prints the median host time of the QMP command faultline-restore
alone (a QEMU driven over QMP here, the mailbox spoken by hand) and of
Machine.restore(), the pages each copied back, and the run + restore cycle
rate against a boot per run, and how much QEMU's resident memory grows over
2,000 restores (after 200 to settle)."""
import base64
import os
import pathlib
import statistics
import struct
import subprocess
import sys
import tempfile
import time

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))
sys.path.insert(0, str(BUILD / "python"))
import faultline  # noqa: E402

PROGRAM = ("/bin/rseq-counter", ["1", "1000"])
MAILBOX = "/machine/peripheral/mailbox"


def ms(seconds):
    return f"{seconds * 1e3:.2f} ms"


def summary(label, seconds):
    return (f"{label}: median {ms(statistics.median(seconds))} "
            f"(min {ms(min(seconds))}, max {ms(max(seconds))})")


class RawGuest:
    """The harness's QEMU and guest, driven over QMP alone: the agent's
    messages (linux/faultline.h framing) put in the mailbox by hand."""

    def __init__(self, run_dir):
        config = faultline.MachineConfig.defaults()
        config.run_dir = run_dir
        self.proc = subprocess.Popen(faultline.qemu_command_line(config))
        self.qmp = faultline.QmpClient()
        self.qmp.connect(f"{run_dir}/qmp.sock")
        self.handshakes = 0
        self.command(["secret", "bench"])

    def command(self, fields):
        """Sends fields, lets the guest go, waits for it to park again."""
        message = struct.pack("<I", len(fields)) + b"".join(
            struct.pack("<I", len(f.encode())) + f.encode() for f in fields)
        self.qmp.execute("qom-set", {"path": MAILBOX, "property": "inbox",
                                     "value": base64.b64encode(message).decode()})
        self.qmp.execute("cont")
        while (self.qmp.execute("qom-get", {"path": MAILBOX, "property": "handshakes"})
               == self.handshakes or self.qmp.execute("query-status")["running"]):
            time.sleep(0.001)
        self.handshakes += 1

    def close(self):
        self.qmp.close()
        self.proc.kill()
        self.proc.wait()


def raw_qmp_restores(runs):
    with tempfile.TemporaryDirectory(prefix="faultline-bench-") as run_dir:
        guest = RawGuest(run_dir)
        try:
            guest.qmp.execute("faultline-snapshot")
            times, pages = [], set()
            for _ in range(runs):
                guest.command(["run", "0", "nobody", PROGRAM[0], *PROGRAM[1]])
                start = time.perf_counter()
                reply = guest.qmp.execute("faultline-restore")
                times.append(time.perf_counter() - start)
                pages.add(reply["pages"])
                guest.handshakes -= 1  # the mailbox's count came back with the rest
            return times, pages
        finally:
            guest.close()


def harness_restores(runs):
    with faultline.Machine(faultline.MachineConfig.defaults()) as m:
        boot = m.boot()
        start = time.perf_counter()
        m.snapshot()
        snapshot_s = time.perf_counter() - start
        times, pages, icounts = [], set(), set()
        cycle_start = time.perf_counter()
        for _ in range(runs):
            icounts.add(m.run(*PROGRAM).icount)
            start = time.perf_counter()
            pages.add(m.restore())
            times.append(time.perf_counter() - start)
        cycles_per_s = runs / (time.perf_counter() - cycle_start)
        idle = []
        for _ in range(runs):
            start = time.perf_counter()
            m.restore()
            idle.append(time.perf_counter() - start)
        return boot.ready_s, snapshot_s, times, pages, icounts, cycles_per_s, idle


def qemu_rss_kib(run_dir):
    """VmRSS of the QEMU whose QMP socket is in run_dir."""
    for proc in pathlib.Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"{run_dir}/qmp.sock".encode() in (proc / "cmdline").read_bytes():
                status = (proc / "status").read_text()
                return int(status.split("VmRSS:")[1].split()[0])
        except OSError:
            pass  # ended meanwhile
    raise RuntimeError(f"no QEMU with its QMP socket in {run_dir}")


def restore_memory_growth(settle=200, restores=2000):
    """KiB of QEMU's resident memory gained over `restores` restores. Each
    load of the mailbox's state once allocated its buffers anew and leaked
    the old ones: 5,292 KiB over 2,000."""
    with tempfile.TemporaryDirectory(prefix="faultline-bench-") as run_dir:
        config = faultline.MachineConfig.defaults()
        config.run_dir = run_dir
        with faultline.Machine(config) as m:
            m.boot()
            m.snapshot()
            for _ in range(settle):
                m.restore()
            before = qemu_rss_kib(run_dir)
            for _ in range(restores):
                m.restore()
            return qemu_rss_kib(run_dir) - before, restores


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    program = " ".join([PROGRAM[0], *PROGRAM[1]])
    qmp_times, qmp_pages = raw_qmp_restores(runs)
    ready_s, snapshot_s, times, pages, icounts, cycles_per_s, idle = harness_restores(runs)
    print(f"snapshot (256 MiB, 2 vCPUs): {ms(snapshot_s)}")
    print(summary(f"QMP faultline-restore after {program}, {runs} runs", qmp_times)
          + f"; pages copied back: {sorted(qmp_pages)}")
    print(summary(f"Machine.restore() after {program}, {runs} runs", times)
          + f"; pages copied back: {sorted(pages)}")
    print(summary("Machine.restore() with nothing run since", idle))
    print(f"run + restore cycles: {cycles_per_s:.1f}/s (a boot per run: {1 / ready_s:.2f}/s, "
          f"ready in {ready_s:.3f} s)")
    print(f"program icount: {'identical' if len(icounts) == 1 else 'DIFFERS'}: {sorted(icounts)}")
    growth_kib, restores = restore_memory_growth()
    print(f"QEMU resident memory over {restores} restores: {growth_kib:+d} KiB")
    return 0 if len(icounts) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
