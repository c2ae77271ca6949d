#!/usr/bin/python3
"""Replay benchmark: sweeps rseq-buggy with reproducers, then replays one
(its preempt finding) N times (default 100) from one snapshot and prints
replays/s and whether every replay fired at the recorded icount, vCPU and
rip with the recorded outcome."""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

BUILD = pathlib.Path(os.environ.get("FAULTLINE_BUILD", pathlib.Path(__file__).resolve().parent.parent / "build"))
sys.path.insert(0, str(BUILD / "python"))
import faultline  # noqa: E402


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        report = pathlib.Path(tmp) / "sweep.json"
        subprocess.run([str(BUILD / "bin" / "faultline"), "sweep", "--events", "preempt",
                        "--binary", str(BUILD / "linux" / "initramfs" / "rseq-buggy"),
                        "--json", str(report), "--repro-dir", str(pathlib.Path(tmp) / "f")],
                       capture_output=True, check=False)
        (path,) = {c["reproducer"] for c in json.loads(report.read_text())["cells"] if c["reproducer"]}
        reproducer = faultline.read_reproducer(path)
        config = reproducer.machine_config(faultline.MachineConfig.defaults())
        with faultline.Machine(config) as m:
            m.boot()
            faultline.prepare_replay(m, reproducer)
            identical = 0
            start = time.perf_counter()
            for _ in range(runs):
                firings, outcome = faultline.replay_once(m, reproducer)
                identical += (firings == reproducer.firings and
                              outcome.text() == reproducer.outcome.text())
            seconds = time.perf_counter() - start
    print(f"{runs} replays of {pathlib.Path(path).name}: {runs / seconds:.1f} replays/s, "
          f"{identical} of {runs} identical to the recording")
    return 0 if identical == runs else 1


if __name__ == "__main__":
    sys.exit(main())
