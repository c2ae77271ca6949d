"""The guest kernel's source is pinned (guest-kernel/patches/base-version):
the exact linux-source-6.12 version the series is made for, checked by its
tarball's sha256; a version the archive lacks stops with what to do, and
moving the series to another version is guest-kernel/move-series.sh."""
import hashlib
import os
import pathlib
import shutil
import subprocess

from conftest import BUILD, ROOT

GUEST_KERNEL = ROOT / "guest-kernel"
PINNED_VERSION, PINNED_SHA256 = (GUEST_KERNEL / "patches" / "base-version").read_text().split()


def run(args, cache, **kw):
    env = dict(os.environ, FAULTLINE_CACHE=str(cache))
    return subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, **kw)


CACHE = pathlib.Path(os.environ.get("FAULTLINE_CACHE", pathlib.Path.home() / ".cache" / "faultline"))


def user_cache(tmp_path):
    """A cache of its own that holds the pinned tarball the build downloaded."""
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    name = f"linux-source-6.12_{PINNED_VERSION}.tar.xz"
    os.symlink(CACHE / "downloads" / name, cache / "downloads" / name)
    return cache


def test_the_kernel_is_built_from_the_pinned_version():
    upstream = PINNED_VERSION.split("-")[0]
    assert (BUILD / "linux" / "kernel-release").read_text().strip() == upstream


def test_a_pinned_version_the_archive_lacks_says_how_to_move(tmp_path):
    tree = tmp_path / "guest-kernel"
    (tree / "patches").mkdir(parents=True)
    shutil.copy(GUEST_KERNEL / "linux-source.sh", tree)
    (tree / "patches" / "base-version").write_text("6.12.1-0~gone " + "0" * 64 + "\n")
    p = run([tree / "linux-source.sh"], tmp_path / "cache")
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert lines[0] == ("guest-kernel: linux-source-6.12 6.12.1-0~gone, the version the patch "
                        "series is made for (patches/base-version), cannot be downloaded:")
    assert lines[1] == "  E: Version '6.12.1-0~gone' for 'linux-source-6.12' was not found"
    assert lines[2].startswith("  The archive offers: ") and PINNED_VERSION in lines[2].split()
    assert lines[3:] == ["  To move the series to one of them: guest-kernel/move-series.sh VERSION",
                         '  (guest-kernel/README.md, "Moving the series to another kernel version").']
    assert list((tmp_path / "cache" / "downloads").iterdir()) == []


def test_a_cached_tarball_that_is_not_the_pinned_one_is_removed(tmp_path):
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    tarball = cache / "downloads" / f"linux-source-6.12_{PINNED_VERSION}.tar.xz"
    tarball.write_bytes(b"truncated")
    p = run([GUEST_KERNEL / "linux-source.sh"], cache)
    assert p.returncode == 1
    assert p.stderr == (f"guest-kernel: {tarball} is not the pinned linux-source-6.12 {PINNED_VERSION} "
                        f"(sha256 {hashlib.sha256(b'truncated').hexdigest()}, "
                        f"want {PINNED_SHA256}): removed, run again to download it\n")
    assert not tarball.exists()


def test_moving_the_series_to_its_own_version_rewrites_nothing(tmp_path):
    patches = tmp_path / "patches"
    shutil.copytree(GUEST_KERNEL / "patches", patches)
    p = run([GUEST_KERNEL / "move-series.sh", PINNED_VERSION, patches], user_cache(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout == (f"move-series: the series now applies exactly to linux-source-6.12 "
                        f"{PINNED_VERSION} ({patches}/base-version)\n")
    for original in (GUEST_KERNEL / "patches").iterdir():
        assert (patches / original.name).read_bytes() == original.read_bytes(), original.name


def test_a_patch_that_does_not_apply_stops_the_move_and_changes_nothing(tmp_path):
    patches = tmp_path / "patches"
    shutil.copytree(GUEST_KERNEL / "patches", patches)
    broken = patches / "0002-x86-pkeys-pkey_get-pkey_set-syscalls.patch"
    # A context line the source does not have: as if upstream had rewritten it.
    text = broken.read_text().replace(" COND_SYSCALL(pkey_free);\n", " COND_SYSCALL(pkey_gone);\n", 1)
    broken.write_text(text)
    before = {f.name: f.read_bytes() for f in patches.iterdir()}
    p = run([GUEST_KERNEL / "move-series.sh", PINNED_VERSION, patches], user_cache(tmp_path))
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert lines[0] == f"move-series: {broken.name} does not apply to linux-source-6.12 {PINNED_VERSION}:"
    assert "  1 out of 1 hunk FAILED -- saving rejects to file kernel/sys_ni.c.rej" in lines
    assert "+COND_SYSCALL(pkey_get);" in lines
    assert lines[-1] == (f"Rebase that patch by hand on {PINNED_VERSION} (guest-kernel/README.md), "
                         "then move again.")
    assert {f.name: f.read_bytes() for f in patches.iterdir()} == before
