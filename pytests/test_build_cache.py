"""Whole builds kept by what they are made from (mk/build-cache.sh): a kernel
or QEMU built before from the same inputs is copied, byte for byte, instead
of rebuilt; the key moves with every input; a damaged entry is found by its
checksums and rebuilt; an unwritable cache only costs the keeping."""
import os
import shutil
import subprocess

from conftest import BUILD, ROOT

SCRIPT = ROOT / "mk" / "build-cache.sh"


def build_cache(*args, cache, **env):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, FAULTLINE_CACHE=str(cache), **env))


def key(*items, cache):
    p = build_cache("key", *items, cache=cache)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def a_build(out):
    """A build's outputs: a file, a directory, a file below a directory."""
    (out / "initramfs").mkdir(parents=True)
    (out / "build").mkdir()
    (out / "vmlinux").write_bytes(bytes(range(256)) * 64)
    (out / "initramfs" / "init").write_text("agent\n")
    (out / "build" / "qemu-system-x86_64").write_text("qemu\n")
    return ["vmlinux", "initramfs", "build/qemu-system-x86_64"]


def files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_a_stored_build_is_fetched_whole_into_another_directory(tmp_path):
    artifacts = a_build(tmp_path / "built")
    stored = build_cache("store", "the kernel", "k1", tmp_path / "built", *artifacts,
                         cache=tmp_path / "cache")
    assert (stored.returncode, stored.stderr) == (0, "")
    fetched = build_cache("fetch", "the kernel", "k1", tmp_path / "copy", *artifacts,
                          cache=tmp_path / "cache")
    assert fetched.returncode == 0
    assert fetched.stderr == "build-cache: the kernel from the build cache (k1)\n"
    assert files(tmp_path / "copy") == files(tmp_path / "built")
    missed = build_cache("fetch", "the kernel", "k2", tmp_path / "other", *artifacts,
                         cache=tmp_path / "cache")
    assert (missed.returncode, missed.stderr) == (1, "")
    assert not (tmp_path / "other").exists()


def test_a_directory_that_holds_the_build_needs_nothing_and_one_missing_an_output_does(tmp_path):
    artifacts = a_build(tmp_path / "built")
    build_cache("store", "QEMU", "k1", tmp_path / "built", *artifacts, cache=tmp_path / "cache")
    shutil.rmtree(tmp_path / "cache")
    held = build_cache("fetch", "QEMU", "k1", tmp_path / "built", *artifacts, cache=tmp_path / "cache")
    assert (held.returncode, held.stderr) == (0, "")
    other = build_cache("fetch", "QEMU", "k2", tmp_path / "built", *artifacts, cache=tmp_path / "cache")
    assert other.returncode == 1
    build_cache("store", "QEMU", "k1", tmp_path / "built", *artifacts, cache=tmp_path / "cache")
    (tmp_path / "built" / "vmlinux").unlink()
    gone = build_cache("fetch", "QEMU", "k1", tmp_path / "built", *artifacts, cache=tmp_path / "cache")
    assert gone.returncode == 0 and "from the build cache" in gone.stderr
    assert (tmp_path / "built" / "vmlinux").read_bytes() == bytes(range(256)) * 64


def test_the_key_moves_with_every_input_and_only_with_them(tmp_path):
    tree = tmp_path / "tree"
    (tree / "patches").mkdir(parents=True)
    (tree / "patches" / "0001.patch").write_text("one\n")
    (tree / "README.md").write_text("about\n")
    base = key("=debug", tree, cache=tmp_path)
    assert len(base) == 64 and key("=debug", tree, cache=tmp_path) == base
    assert key("=", tree, cache=tmp_path) != base
    (tree / "README.md").write_text("about, reworded\n")
    assert key("=debug", tree, cache=tmp_path) == base
    (tree / "patches" / "0001.patch").write_text("one, changed\n")
    changed = key("=debug", tree, cache=tmp_path)
    assert changed != base
    (tree / "patches" / "0001.patch").rename(tree / "patches" / "0002.patch")
    assert key("=debug", tree, cache=tmp_path) not in (base, changed)


def test_what_a_directorys_ignore_file_lists_is_no_input(tmp_path):
    # guest-kernel/ lists programs/uploaded: programs the tests build on the
    # host, which no kernel or initramfs is made from.
    tree = tmp_path / "tree"
    (tree / "programs" / "uploaded").mkdir(parents=True)
    (tree / "programs" / "agent.c").write_text("int main;\n")
    (tree / ".build-cache-ignore").write_text("programs/uploaded\n")
    base = key(tree, cache=tmp_path)
    (tree / "programs" / "uploaded" / "probe.c").write_text("int probe;\n")
    assert key(tree, cache=tmp_path) == base
    (tree / "programs" / "probe.c").write_text("int probe;\n")
    assert key(tree, cache=tmp_path) != base


def test_a_damaged_entry_is_said_removed_and_missed(tmp_path):
    artifacts = a_build(tmp_path / "built")
    build_cache("store", "QEMU", "k1", tmp_path / "built", *artifacts, cache=tmp_path / "cache")
    entry = tmp_path / "cache" / "builds" / "k1"
    (entry / "vmlinux").write_bytes(b"truncated")
    p = build_cache("fetch", "QEMU", "k1", tmp_path / "copy", *artifacts, cache=tmp_path / "cache")
    assert p.returncode == 1
    assert p.stderr == "build-cache: the stored build of QEMU (k1) is damaged: removed, building it\n"
    assert not entry.exists() and not (tmp_path / "copy").exists()


def test_a_file_added_to_an_entry_is_damage_too(tmp_path):
    artifacts = a_build(tmp_path / "built")
    build_cache("store", "QEMU", "k1", tmp_path / "built", *artifacts, cache=tmp_path / "cache")
    (tmp_path / "cache" / "builds" / "k1" / "initramfs" / "stray").write_text("?")
    p = build_cache("fetch", "QEMU", "k1", tmp_path / "copy", *artifacts, cache=tmp_path / "cache")
    assert p.returncode == 1 and "is damaged" in p.stderr


def test_an_unwritable_cache_keeps_nothing_and_fails_nothing(tmp_path):
    artifacts = a_build(tmp_path / "built")
    (tmp_path / "a-file").write_text("")
    p = build_cache("store", "the kernel", "k1", tmp_path / "built", *artifacts,
                    cache=tmp_path / "a-file" / "cache")
    assert p.returncode == 0
    assert p.stderr == (f"build-cache: {tmp_path}/a-file/cache/builds is not writable: "
                        "the kernel is not kept\n")
    assert files(tmp_path / "built")["vmlinux"] == bytes(range(256)) * 64


def test_two_processes_storing_one_key_leave_one_whole_entry(tmp_path):
    artifacts = a_build(tmp_path / "built")
    stores = [subprocess.Popen([str(SCRIPT), "store", "QEMU", "k1", str(tmp_path / "built"),
                                *artifacts], env=dict(os.environ, FAULTLINE_CACHE=str(tmp_path)))
              for _ in range(4)]
    assert [s.wait() for s in stores] == [0] * 4
    assert sorted(p.name for p in (tmp_path / "builds").iterdir()) == ["k1"]
    p = build_cache("fetch", "QEMU", "k1", tmp_path / "copy", *artifacts, cache=tmp_path)
    assert p.returncode == 0 and files(tmp_path / "copy") == files(tmp_path / "built")


def test_off_builds_every_time(tmp_path):
    artifacts = a_build(tmp_path / "built")
    build_cache("store", "QEMU", "k1", tmp_path / "built", *artifacts, cache=tmp_path / "cache")
    p = build_cache("fetch", "QEMU", "k1", tmp_path / "copy", *artifacts, cache=tmp_path / "cache",
                    FAULTLINE_BUILD_CACHE="off")
    assert p.returncode == 1 and not (tmp_path / "copy").exists()


def test_the_projects_kernel_built_elsewhere_is_a_copy_of_build_linux(tmp_path):
    out = tmp_path / "linux"
    p = subprocess.run([str(ROOT / "guest-kernel" / "build.sh"), str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stderr.splitlines()[-1].startswith(f"build-cache: the kernel in {out} from the build cache (")
    for artifact in ("vmlinux", "initramfs.cpio", "kernel-release", "initramfs/rseq-counter"):
        assert (out / artifact).read_bytes() == (BUILD / "linux" / artifact).read_bytes(), artifact
    again = subprocess.run([str(ROOT / "guest-kernel" / "build.sh"), str(out)],
                           capture_output=True, text=True)
    assert (again.returncode, again.stderr) == (0, "")


def test_an_initramfs_copied_from_elsewhere_lists_its_own_files(tmp_path):
    # A build fetched from the cache holds the file list (cpio.list) of the
    # directory it was made in, by absolute path. Made again in place (a
    # kernel rebuilt after its inputs changed), the archive must be packed
    # from this directory's files: the list is this directory's again.
    out = tmp_path / "initramfs"
    shutil.copytree(BUILD / "linux" / "initramfs", out, symlinks=True)
    listed = (out / "cpio.list").read_text()
    (init,) = [line.split()[2] for line in listed.splitlines() if line.startswith("file /init ")]
    made_in = init.rsplit("/", 1)[0]  # build/linux/initramfs, or where a fetched build was made
    elsewhere = str(tmp_path / "gone" / "initramfs")
    (out / "cpio.list").write_text(listed.replace(made_in, elsewhere))
    p = subprocess.run(["make", "-s", "-C", str(ROOT / "guest-kernel" / "initramfs"), f"OUT={out}",
                        f"{out}/cpio.list"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    listed = (out / "cpio.list").read_text()
    assert elsewhere not in listed and f"file /init {out}/init 0755 0 0" in listed.splitlines()
