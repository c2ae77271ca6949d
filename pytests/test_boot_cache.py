"""The boot cache (harness/include/faultline/machine/boot_cache.hpp): the
state at ready saved once, loaded by later processes instead of a boot, the
guest going on from it instruction for instruction as from a boot; damaged
files rebuilt, never trusted."""
import json
import os
import pathlib
import subprocess
import time

import faultline
import pytest

from conftest import CLI


def machine_config(cache_dir, **fields):
    config = faultline.MachineConfig.defaults()
    config.boot_cache_dir = str(cache_dir)
    for name, value in fields.items():
        setattr(config, name, value)
    return config


def boot_and_run(config, program="/bin/rseq-counter", args=("2", "3000")):
    """BootInfo, and the program's result, from one machine."""
    with faultline.Machine(config) as m:
        info = m.boot()
        return info, m.run(program, list(args))


def state_files(cache_dir):
    return sorted(pathlib.Path(cache_dir).glob("*.state"))


def cli_with_cache(cache_dir, *args):
    env = dict(os.environ, FAULTLINE_CACHE=str(cache_dir))
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=600, env=env)


def test_the_second_boot_loads_the_first_ones_state_and_the_guest_runs_the_same(tmp_path):
    first, first_run = boot_and_run(machine_config(tmp_path))
    assert not first.from_boot_cache and first.boot_cache_note == ""
    [state] = state_files(tmp_path)
    saved = state.stat().st_mtime_ns
    second, second_run = boot_and_run(machine_config(tmp_path))
    assert second.from_boot_cache and second.boot_cache_note == ""
    assert state_files(tmp_path) == [state] and state.stat().st_mtime_ns > saved  # marked used
    booted, booted_run = boot_and_run(machine_config(""))
    assert not booted.from_boot_cache
    for info in (first, second):
        assert (info.icount_at_ready, info.cpus, info.kernel_release) == \
            (booted.icount_at_ready, booted.cpus, booted.kernel_release)
    for run in (first_run, second_run):
        assert (run.exit_code, run.stdout, run.icount) == \
            (booted_run.exit_code, booted_run.stdout, booted_run.icount)


def sweep_report(cache_dir, *options):
    out = pathlib.Path(cache_dir).parent / f"sweep-{time.monotonic_ns()}.json"
    p = cli_with_cache(cache_dir, "sweep", *options, "--json", str(out))
    assert p.returncode == 0, p.stderr
    return json.loads(out.read_text())


def test_a_sweep_from_the_loaded_state_gives_every_cell_and_firing_icount_of_a_booted_one(tmp_path):
    cache = tmp_path / "cache"
    booted = sweep_report(cache, "--no-boot-cache")
    assert not (cache / "boot").exists()
    filled = sweep_report(cache)
    loaded = sweep_report(cache)
    assert len(state_files(cache / "boot")) == 1
    assert len(booted["cells"]) == 125 and all(c["fired_icount"] for c in booted["cells"])
    assert filled == booted
    assert loaded == booted


def damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[:len(data) // 2]))
    else:
        data[len(data) - 4096] ^= 0x40  # a byte of guest memory near the end
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_a_damaged_state_is_rebuilt_with_one_line_saying_so(tmp_path, how):
    boot_and_run(machine_config(tmp_path))
    [state] = state_files(tmp_path)
    damage(state, how)
    info, run = boot_and_run(machine_config(tmp_path))
    assert not info.from_boot_cache
    assert info.boot_cache_note == \
        f"boot cache: {state} is damaged (its SHA-256 differs); booted, saving it again"
    assert run.exit_code == 0
    again, _ = boot_and_run(machine_config(tmp_path))
    assert again.from_boot_cache and again.boot_cache_note == ""


def test_a_state_cut_inside_its_header_is_truncated(tmp_path):
    boot_and_run(machine_config(tmp_path))
    [state] = state_files(tmp_path)
    state.write_bytes(state.read_bytes()[:1000])
    info, _ = boot_and_run(machine_config(tmp_path))
    assert info.boot_cache_note == f"boot cache: {state} is truncated; booted, saving it again"


def test_the_state_of_another_configuration_is_not_loaded(tmp_path):
    boot_and_run(machine_config(tmp_path))
    [two_cpu_state] = state_files(tmp_path)
    boot_and_run(machine_config(tmp_path, cpus=1))
    [one_cpu_state] = [s for s in state_files(tmp_path) if s != two_cpu_state]
    # The 1-vCPU state under the name of the 2-vCPU configuration.
    two_cpu_state.write_bytes(one_cpu_state.read_bytes())
    info, run = boot_and_run(machine_config(tmp_path))
    assert info.boot_cache_note == \
        f"boot cache: {two_cpu_state} is of another machine configuration; booted, saving it again"
    assert info.cpus == 2 and run.exit_code == 0


def test_the_cli_says_why_it_cannot_save_and_still_works(tmp_path):
    (tmp_path / "file").write_text("a file where the cache directory would go")
    p = cli_with_cache(tmp_path / "file", "run", "--", "/bin/rseq-counter", "1", "1000")
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stderr.splitlines() if "boot cache" in line]
    assert len(lines) == 1
    assert lines[0].startswith(
        f"faultline: boot cache: not saved, the next command boots too: cannot create "
        f"{tmp_path}/file/boot: ")


def test_no_boot_cache_neither_loads_nor_saves(tmp_path):
    p = cli_with_cache(tmp_path, "run", "--no-boot-cache", "--", "/bin/rseq-counter", "1", "1000")
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "boot").exists()
    cli_with_cache(tmp_path, "run", "--", "/bin/rseq-counter", "1", "1000")
    [state] = state_files(tmp_path / "boot")
    state.write_bytes(b"not a state")
    p = cli_with_cache(tmp_path, "run", "--no-boot-cache", "--", "/bin/rseq-counter", "1", "1000")
    assert p.returncode == 0 and "boot cache" not in p.stderr, p.stderr
    assert state.read_bytes() == b"not a state"


def test_two_processes_filling_the_cache_at_once_leave_one_whole_state(tmp_path):
    env = dict(os.environ, FAULTLINE_CACHE=str(tmp_path))
    both = [subprocess.Popen([str(CLI), "run", "--", "/bin/rseq-counter", "1", "1000"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    for p in both:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0 and "boot cache" not in err, err
    assert len(state_files(tmp_path / "boot")) == 1
    assert not list((tmp_path / "boot").glob("*.tmp"))
    info, _ = boot_and_run(machine_config(tmp_path / "boot"))
    assert info.from_boot_cache and info.boot_cache_note == ""


def test_saving_keeps_the_sixteen_states_used_last_and_drops_abandoned_files(tmp_path):
    old = time.time() - 7200
    for k in range(20):
        f = tmp_path / f"{k:064x}.state"
        f.write_bytes(b"an older configuration's state")
        os.utime(f, (old + k, old + k))
    abandoned = tmp_path / "x.state.1234.tmp"
    abandoned.write_bytes(b"half a state")
    os.utime(abandoned, (old, old))
    boot_and_run(machine_config(tmp_path))
    kept = {f.name for f in state_files(tmp_path)}
    assert len(kept) == 16
    # The one just saved, and the fifteen most recently used of the others.
    recent = {f"{k:064x}.state" for k in range(5, 20)}
    [saved] = kept - recent
    assert recent <= kept
    assert (tmp_path / saved).read_bytes().startswith(b"faultline-boot-state 1\n")
    assert not abandoned.exists()


def test_the_boot_console_is_kept_with_the_state(tmp_path):
    config = machine_config(tmp_path, kernel_args=["loglevel=7"])
    with faultline.Machine(config) as m:
        m.boot()
        booted_console = m.console()
    with faultline.Machine(config) as m:
        info = m.boot()
        assert info.from_boot_cache
        assert m.console() == booted_console
    assert "Linux version" in booted_console
