"""A program brings its libraries: `--binary` uploads the program's
shared-library closure, each library found as this host's dynamic loader
finds it (RPATH, LD_LIBRARY_PATH, RUNPATH with $ORIGIN, ld.so.cache, the
default directories) and put where the guest's loader finds it; `--file`
brings data; bad input stops before the boot with the file named."""
import json
import os
import shutil
import subprocess

import pytest

import faultline
from conftest import ROOT, cli

PROGRAMS = ROOT / "guest-kernel" / "programs" / "uploaded" / "closure"
COUNTER = ROOT / "guest-kernel" / "programs" / "rseq-counter.c"
LIB = ROOT / "guest-kernel" / "lib"
RUNPATH = "-Wl,-rpath,$ORIGIN/../lib"  # Debian's gcc links it as DT_RUNPATH


def cc(out, *args, compiler="gcc"):
    subprocess.run([compiler, "-O2", "-pthread", f"-I{LIB}", "-o", str(out), *map(str, args)],
                   check=True)
    return out


def host_output(program, *args, env=None):
    p = subprocess.run([str(program), *args], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout


def which_library(out, which):
    return cc(out / "libwhich.so", "-fPIC", "-shared", f'-DWHICH="{which}"',
              PROGRAMS / "which.c")


def run_binary(program, *options, args=(), env=None):
    p = subprocess.run([str(ROOT / "build" / "bin" / "faultline"), "run", "--binary",
                        str(program), *map(str, options), "--", *args],
                       capture_output=True, text=True, env=env, timeout=600)
    assert "faultline: kernel report:" not in p.stderr, p.stderr
    return p


@pytest.fixture(scope="module")
def threads(tmp_path_factory):
    return cc(tmp_path_factory.mktemp("cxx") / "threads", PROGRAMS / "threads.cpp",
              compiler="g++")


def test_a_cxx_program_runs_as_on_the_host(threads):
    p = run_binary(threads, args=["4"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == host_output(threads, "4") == (
        "thread 0 returned\ncaught: thread 1 threw\nthread 2 returned\ncaught: thread 3 threw\n"
        "main caught invalid_argument\n")


def test_a_cxx_program_runs_from_python(machine, threads):
    uploads = faultline.program_closure(str(threads), "/tmp/threads-py")
    guest = {u.guest_path: u.mode for u in uploads}
    # libc.so.6 and ld.so are the initramfs's own.
    assert guest == {"/tmp/threads-py": 0o755,
                     "/lib/x86_64-linux-gnu/libstdc++.so.6": 0o644,
                     "/lib/x86_64-linux-gnu/libm.so.6": 0o644,
                     "/lib/x86_64-linux-gnu/libgcc_s.so.1": 0o644}
    for u in uploads:
        machine.put_file(u.host_path, u.guest_path, u.mode)
    r = machine.run("/tmp/threads-py", ["6"])
    assert (r.exit_code, r.stdout) == (0, host_output(threads, "6"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """An installed tree as a project builds it: bin/ and lib/, the programs
    finding their libraries through RUNPATH $ORIGIN/../lib. counter has the
    counter's critical sections inlined from rseq-cs.h; counter-lib calls
    them in lib/libcounter.so; both need lib/libwhich.so, which has none."""
    out = tmp_path_factory.mktemp("tree")
    (out / "bin").mkdir()
    (out / "lib").mkdir()
    which_library(out / "lib", "the tree's own")
    cc(out / "lib" / "libcounter.so", "-fPIC", "-shared", "-Dmain=rseq_counter_main", COUNTER)
    cc(out / "lib" / "libcounter-buggy.so", "-fPIC", "-shared", "-Dmain=rseq_counter_main",
       "-DCOMMIT_NOT_LAST", COUNTER)
    links = [f"-L{out / 'lib'}", RUNPATH]
    # -Dmain for the counter alone: compiled apart from the main calling it.
    counter = cc(out / "counter.o", "-c", "-Dmain=rseq_counter_main", COUNTER)
    cc(out / "bin" / "counter", PROGRAMS / "counter-main.c", counter, *links, "-lwhich")
    cc(out / "bin" / "counter-lib", PROGRAMS / "counter-main.c", *links, "-lcounter",
       "-lwhich")
    cc(out / "bin" / "counter-buggy", PROGRAMS / "counter-main.c", *links, "-lcounter-buggy",
       "-lwhich")
    cc(out / "counter-static", "-static", COUNTER)
    return out


def sweep(tmp_path, name, *args):
    report = tmp_path / f"{name}.json"
    p = subprocess.run([str(ROOT / "build" / "bin" / "faultline"), "sweep", "--json",
                        str(report), *map(str, args)], capture_output=True, text=True,
                       timeout=900)
    assert "faultline: kernel report:" not in p.stderr, p.stderr
    return p, (json.loads(report.read_text()) if report.exists() else None)


def verdicts(report):
    """Each section's cells as (the instruction's index in it, event,
    aborted), the sections in any order: -fPIC and -static pick other
    registers, so instructions have other lengths, not other places."""
    sections = {}
    for c in report["cells"]:
        sections.setdefault(c["cs"], []).append(c)
    out = []
    for cells in sections.values():
        index = {a: i for i, a in enumerate(sorted({c["insn_addr"] for c in cells}))}
        out.append(sorted((index[c["insn_addr"]], c["event"], c["aborted"]) for c in cells))
    return sorted(out)


def test_the_program_finds_its_library_through_runpath_where_the_guest_has_it(tree):
    uploads = faultline.program_closure(str(tree / "bin" / "counter"), "/tmp/counter")
    # $ORIGIN/../lib of /tmp/counter is the guest's /lib.
    assert [(u.host_path, u.guest_path) for u in uploads] == [
        (str(tree / "bin" / "counter"), "/tmp/counter"),
        (str(tree / "lib" / "libwhich.so"), "/lib/libwhich.so")]


def test_sections_inlined_in_a_pie_with_its_own_library_are_swept_with_full_coverage(
        tree, tmp_path):
    p, report = sweep(tmp_path, "inline", "--binary", tree / "bin" / "counter",
                      "--require-coverage", "100", "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    assert (len(report["cells"]), report["reached"], report["failed"]) == (125, 125, 0)
    assert {c["file"] for c in report["cells"]} == {"/tmp/counter"}


def test_sections_in_the_library_give_the_cells_of_the_static_build(tree, tmp_path):
    p, in_library = sweep(tmp_path, "lib", "--binary", tree / "bin" / "counter-lib",
                          "--library", tree / "lib" / "libcounter.so",
                          "--require-coverage", "100", "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    assert {c["file"] for c in in_library["cells"]} == {"/lib/libcounter.so"}
    p, static = sweep(tmp_path, "static", "--binary", tree / "counter-static", "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    assert verdicts(in_library) == verdicts(static)
    assert len(static["cells"]) == 125


def test_a_library_without_sections_is_uploaded_with_a_note(tree, tmp_path):
    p, report = sweep(tmp_path, "note", "--binary", tree / "bin" / "counter",
                      "--library", tree / "lib" / "libwhich.so", "--events", "preempt",
                      "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    note = (f"{tree / 'lib' / 'libwhich.so'} has no rseq critical section (no "
            "__rseq_cs_ptr_array section, or an empty one): nothing of it to sweep")
    assert report["notes"] == [note]
    assert f"note: {note}" in p.stdout
    assert report["reached"] == 25


def test_library_option_of_run_puts_a_library_the_program_links_without_a_path(tmp_path):
    which_library(tmp_path, "given")
    program = cc(tmp_path / "which", PROGRAMS / "which-main.c", f"-L{tmp_path}", "-lwhich")
    p = run_binary(program, "--library", tmp_path / "libwhich.so")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "libwhich.so: given\n"


@pytest.fixture(scope="module")
def search_order(tmp_path_factory):
    """libwhich.so in three directories, a program finding it through
    DT_RPATH and one through DT_RUNPATH; LD_LIBRARY_PATH names the third."""
    out = tmp_path_factory.mktemp("order")
    for name in ("rpath", "runpath", "ld_library_path"):
        (out / name).mkdir()
        which_library(out / name, name)
    source = PROGRAMS / "which-main.c"
    programs = {
        "rpath": cc(out / "with-rpath", source, f"-L{out / 'rpath'}", "-lwhich",
                    f"-Wl,--disable-new-dtags,-rpath,{out / 'rpath'}"),
        "runpath": cc(out / "with-runpath", source, f"-L{out / 'runpath'}", "-lwhich",
                      f"-Wl,--enable-new-dtags,-rpath,{out / 'runpath'}"),
    }
    env = dict(os.environ, LD_LIBRARY_PATH=str(out / "ld_library_path"))
    return programs, env


def test_rpath_comes_before_ld_library_path_and_ld_library_path_before_runpath(search_order):
    programs, env = search_order
    expected = {"rpath": "libwhich.so: rpath\n", "runpath": "libwhich.so: ld_library_path\n"}
    for name, program in programs.items():
        assert host_output(program, env=env) == expected[name]
        p = run_binary(program, env=env)
        assert p.returncode == 0, p.stderr
        assert p.stdout == expected[name], name
        # Without LD_LIBRARY_PATH each finds its own.
        del_env = {k: v for k, v in env.items() if k != "LD_LIBRARY_PATH"}
        assert host_output(program, env=del_env) == f"libwhich.so: {name}\n"


def test_a_candidate_of_the_wrong_class_is_skipped_and_named_when_alone(tmp_path):
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    which_library(good, "good")
    data = bytearray((good / "libwhich.so").read_bytes())
    data[4] = 1  # EI_CLASS: ELFCLASS32
    (bad / "libwhich.so").write_bytes(data)
    program = cc(tmp_path / "which", PROGRAMS / "which-main.c", f"-L{good}", "-lwhich",
                 f"-Wl,-rpath,{bad}:{good}")
    uploads = faultline.program_closure(str(program), "/tmp/which")
    assert [u.host_path for u in uploads] == [str(program), str(good / "libwhich.so")]
    shutil.rmtree(good)
    p = cli("run", "--binary", str(program))
    assert p.returncode == 2
    assert p.stderr.startswith(f"faultline: error: libwhich.so, needed by {program}, not found "
                               f"(searched: {bad}, {good}, ")
    assert (f"; skipped {bad / 'libwhich.so'} (a 32-bit ELF file (ELFCLASS32), not x86_64))"
            in p.stderr)
    p = cli("run", "--binary", str(program), "--library", str(bad / "libwhich.so"))
    assert p.returncode == 2
    assert p.stderr == (f"faultline: error: {bad / 'libwhich.so'}: a 32-bit ELF file "
                        "(ELFCLASS32), not x86_64\n")


@pytest.fixture
def qemu_spy(tmp_path):
    """A --qemu that leaves a mark when started: bad input must stop first."""
    spy = tmp_path / "qemu-spy"
    spy.write_text(f"#!/bin/sh\ntouch {tmp_path / 'qemu-started'}\nexit 1\n")
    spy.chmod(0o755)
    return spy, tmp_path / "qemu-started"


def test_a_missing_library_is_named_with_who_needs_it_before_boot(tmp_path, qemu_spy):
    spy, started = qemu_spy
    lib = tmp_path / "lib"
    lib.mkdir()
    which_library(lib, "gone")
    program = cc(tmp_path / "which", PROGRAMS / "which-main.c", f"-L{lib}", "-lwhich")
    shutil.rmtree(lib)
    for command in ("run", "sweep", "explore"):
        extra = ["--depth", "1", "--runs", "1", "--seed", "1"] if command == "explore" else []
        p = cli(command, "--binary", str(program), "--qemu", str(spy), *extra)
        assert p.returncode == 2, command + p.stderr
        assert p.stderr.startswith(f"faultline: error: libwhich.so, needed by {program}, not "
                                   "found (searched: /etc/ld.so.cache, "), p.stderr
        assert p.stderr.count("\n") == 1
    assert not started.exists()


def test_bad_programs_are_named_before_boot(threads, tmp_path, qemu_spy):
    spy, started = qemu_spy
    data = bytearray(threads.read_bytes())
    aarch64 = tmp_path / "aarch64"
    aarch64.write_bytes(data[:18] + (183).to_bytes(2, "little") + data[20:])
    truncated = tmp_path / "truncated"
    truncated.write_bytes(data[:3000])
    text = tmp_path / "text"
    text.write_text("#!/bin/sh\necho not an ELF file\n")
    cases = {
        aarch64: "an ELF file for another machine (e_machine 183, aarch64), not x86_64",
        truncated: "truncated ELF file: its section header lies past its end (3000 bytes)",
        text: "not an ELF file",
    }
    for program, why in cases.items():
        p = cli("run", "--binary", str(program), "--qemu", str(spy))
        assert (p.returncode, p.stderr) == (2, f"faultline: error: {program}: {why}\n")
    assert not started.exists()


def test_a_closure_larger_than_the_guest_holds_is_refused_before_boot(tmp_path, qemu_spy):
    spy, started = qemu_spy
    big = tmp_path / "big.c"
    big.write_text("char big[40 << 20] = {1};\nconst char *which(void) { return big; }\n")
    cc(tmp_path / "libwhich.so", "-fPIC", "-shared", big)
    program = cc(tmp_path / "which", PROGRAMS / "which-main.c", f"-L{tmp_path}", "-lwhich",
                 RUNPATH.replace("/../lib", ""))
    p = cli("run", "--binary", str(program), "--memory", "64", "--qemu", str(spy))
    assert p.returncode == 2
    assert p.stderr == (f"faultline: error: the files to upload take 40 MiB (the largest "
                        f"{tmp_path / 'libwhich.so'}), more than the guest's file systems hold: "
                        "half of its 64 MiB (--memory)\n")
    assert not started.exists()


def test_data_files_are_read_by_the_program(host_programs, tmp_path, qemu_spy):
    data = tmp_path / "data.txt"
    data.write_text("one\ntwo\n")
    p = cli("run", "--binary", str(host_programs["show_file"]), "--file", str(data),
            "--file", f"{data}:/etc/data", "--", "/tmp/data.txt")
    assert (p.returncode, p.stdout) == (0, "one\ntwo\n"), p.stderr
    p = cli("run", "--binary", str(host_programs["show_file"]), "--file", f"{data}:/etc/data",
            "--", "/etc/data")
    assert (p.returncode, p.stdout) == (0, "one\ntwo\n"), p.stderr
    spy, started = qemu_spy
    other = tmp_path / "other.txt"
    other.write_text("other\n")
    p = cli("run", "--binary", str(host_programs["show_file"]), "--file", f"{data}:/tmp/x",
            "--file", f"{other}:/tmp/x", "--qemu", str(spy))
    assert (p.returncode, p.stderr) == (
        2, f"faultline: error: {data} and {other} would both be /tmp/x in the guest\n")
    p = cli("run", "--binary", str(host_programs["show_file"]), "--file", f"{data}:/opt/x",
            "--qemu", str(spy))
    assert (p.returncode, p.stderr) == (
        2, f"faultline: error: --file {data}:/opt/x: the guest has no directory /opt\n")
    assert not started.exists()


@pytest.fixture(scope="module")
def buggy_library_sweep(tree, tmp_path_factory):
    """The buggy counter's sections in a library of a tree, swept with
    reproducers; its helper library and a data file are brought along."""
    out = tmp_path_factory.mktemp("findings")
    data = out / "data.txt"
    data.write_text("data\n")
    p, report = sweep(out, "buggy", "--binary", tree / "bin" / "counter-buggy",
                      "--library", tree / "lib" / "libcounter-buggy.so", "--events", "preempt",
                      "--file", data, "--repro-dir", out / "findings", "--", "1", "1000")
    assert p.returncode == 1, p.stdout + p.stderr
    (cell,) = [c for c in report["cells"] if not c["ok"]]
    assert cell["file"] == "/lib/libcounter-buggy.so"
    return cell["reproducer"]


def test_a_reproducer_records_every_uploaded_file_and_replays(buggy_library_sweep):
    r = json.loads(open(buggy_library_sweep).read())
    assert r["program"]["guest_path"] == "/tmp/counter-buggy"
    assert [f["guest_path"] for f in r["libraries"]] == ["/lib/libcounter-buggy.so"]
    assert [(u["guest_path"], u["mode"]) for u in r["uploads"]] == [
        ("/lib/libwhich.so", 0o644), ("/tmp/data.txt", 0o644)]
    p = cli("replay", buggy_library_sweep, "--json")
    assert p.returncode == 1, p.stderr
    assert json.loads(p.stdout)["identical"]


def test_a_changed_copy_is_refused_by_name_unless_forced(buggy_library_sweep, tmp_path):
    source = json.loads(open(buggy_library_sweep).read())
    copy_dir = tmp_path / "copy"
    shutil.copytree(os.path.dirname(buggy_library_sweep), copy_dir)
    path = copy_dir / os.path.basename(buggy_library_sweep)
    helper = copy_dir / source["uploads"][0]["copy"]
    helper.write_bytes(helper.read_bytes() + b"\0")  # loads the same
    p = cli("replay", str(path))
    assert p.returncode == 2
    assert (f"faultline: error: {path}: uploads[0].sha256: {helper} has other content than the "
            "sha256 recorded\n") in p.stderr
    p = cli("replay", str(path), "--force", "--json")
    assert p.returncode == 1, p.stderr
    assert f"faultline: warning: {path}: uploads[0].sha256: {helper}" in p.stderr
    assert json.loads(p.stdout)["reproduced"]
