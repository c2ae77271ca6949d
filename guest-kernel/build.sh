#!/bin/sh
# Build the faultline guest kernel (Linux 6.12 from Debian's linux-source-6.12,
# the version patches/base-version pins) and its initramfs.
# usage: [KERNEL_PATCHES="a.patch b.patch"] build.sh OUT_DIR [debug]
#   KERNEL_PATCHES: a kernel under test, the user's patches applied (in that
#   order) on top of the series; only what they change is rebuilt
#   leaves OUT_DIR/vmlinux (booted at its PVH entry), OUT_DIR/initramfs.cpio
#   debug: the debug flavour, faultline-debug.config on top (KASAN, lockdep...),
#   leaves OUT_DIR/bzImage instead: a KASAN kernel entered at its PVH entry
#   runs instrumented code (memcmp in the hypervisor CPUID probe) before KASAN
#   has its shadow and triple-faults; through the decompressor it does not.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
fragments="$here/faultline.config"
image=vmlinux
case ${2:-} in
    '') ;;
    debug) fragments="$fragments $here/faultline-debug.config" image=bzImage ;;
    *) echo "guest-kernel: unknown flavour '$2' (known: debug)" >&2; exit 2 ;;
esac
cache=${FAULTLINE_CACHE:-$HOME/.cache/faultline}
tarball=$("$here/linux-source.sh")

series_dir=$here/patches
if [ -n "${KERNEL_PATCHES:-}" ]; then
    series_dir=$(mktemp -d)
    trap 'rm -rf "$series_dir"' EXIT
    cp "$here/patches/series" "$here/patches/"*.patch "$series_dir/"
    n=0
    for p in $KERNEL_PATCHES; do
        [ -f "$p" ] || { echo "guest-kernel: KERNEL_PATCHES: $p: no such file" >&2; exit 2; }
        n=$((n + 1))
        cp "$p" "$series_dir/user-$n-$(basename "$p")"
        echo "user-$n-$(basename "$p")" >> "$series_dir/series"
    done
fi
"$here/../mk/patched-tree.sh" "$tarball" "$series_dir" "$out/src" 1 \
    "$here/include/uapi/linux/faultline.h=include/uapi/linux/faultline.h"

# Everything the kernel and its initramfs are made from: the series with the
# user's patches, the configs, the agent and programs, these scripts (the
# tarball is pinned by patches/base-version, inside guest-kernel/); nothing
# more to do when OUT holds that build already.
artifacts="$image initramfs.cpio initramfs kernel-release"
key=$("$here/../mk/build-cache.sh" key "=${2:-}" "$here" "$series_dir" "$here/../mk/patched-tree.sh")
"$here/../mk/build-cache.sh" fetch "the kernel in $out" "$key" "$out" $artifacts && exit 0

export CCACHE_DIR="$cache/ccache" CCACHE_BASEDIR="$out" CCACHE_NOHASHDIR=1
# Fixed build identity: the same sources give the same kernel, byte for byte.
export KBUILD_BUILD_TIMESTAMP='2025-01-01' KBUILD_BUILD_USER=faultline KBUILD_BUILD_HOST=faultline \
    KBUILD_BUILD_VERSION=1
kmake() { make -s -C "$out/src" O="$out/obj" CC="ccache gcc" "$@"; }

mkdir -p "$out/obj"
want=$(cat $fragments "$out/src/.faultline-stamp" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/obj/.faultline-config" 2>/dev/null)" != "$want" ]; then
    kmake tinyconfig
    "$out/src/scripts/kconfig/merge_config.sh" -m -O "$out/obj" "$out/obj/.config" $fragments > /dev/null
    kmake olddefconfig
    # merge_config only warns when Kconfig drops an option: make it an error.
    missing=$(cat $fragments | grep -E '^CONFIG_[A-Z0-9_]+=' | while read -r line; do
        grep -qx "$line" "$out/obj/.config" || echo "$line"; done)
    [ -z "$missing" ] || { echo "guest-kernel: options not taken by Kconfig:" $missing >&2; exit 1; }
    echo "$want" > "$out/obj/.faultline-config"
fi
kmake -j"$(nproc)" $image
built=$out/obj/vmlinux
[ $image = vmlinux ] || built=$out/obj/arch/x86/boot/$image
cp "$built" "$out/$image.tmp" && mv "$out/$image.tmp" "$out/$image"
kmake kernelrelease > "$out/kernel-release"

kmake headers_install INSTALL_HDR_PATH="$out/headers"
make -s -C "$here/initramfs" OUT="$out/initramfs" GEN_INIT_CPIO="$out/obj/usr/gen_init_cpio" \
    HEADERS="$out/headers" SELFTESTS="$out/src/tools/testing/selftests"
"$here/../mk/build-cache.sh" store "the kernel in $out" "$key" "$out" $artifacts
