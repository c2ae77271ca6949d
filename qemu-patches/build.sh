#!/bin/sh
# Build qemu-system-x86_64 10.0.2 from Debian's pinned source plus our series.
# usage: build.sh OUT_DIR [nodevice|unpatched]   (leaves OUT_DIR/build/qemu-system-x86_64)
# "nodevice" builds the whole series with the microvm machine alone, none of
# the faultline devices: it proves the stubs for such builds still compile.
# "unpatched" builds the same source with only the build fix (0001) and the
# microvm machine alone, for comparing speed with the fork (bench/slowdown.py).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
variant=${2:-faultline}
cache=${FAULTLINE_CACHE:-$HOME/.cache/faultline}
debian_version='1:10.0.2+ds-2+deb13u1~bpo12+1'
tarball=$cache/downloads/qemu_10.0.2+ds.orig.tar.xz

if [ ! -f "$tarball" ]; then
    mkdir -p "$cache/downloads"
    # apt-get source needs the deb-src entries that mk/deps.sh adds.
    (cd "$cache/downloads" && apt-get source --download-only --tar-only "qemu=$debian_version")
fi
case $variant in
faultline)
    series_dir=$here
    devices=faultline ;;
nodevice)
    series_dir=$here
    devices=microvm ;;
unpatched)
    series_dir=$(mktemp -d)
    trap 'rm -rf "$series_dir"' EXIT
    head -n 1 "$here/series" > "$series_dir/series"
    cp "$here/$(cat "$series_dir/series")" "$series_dir/"
    devices=microvm ;;
*)
    echo "qemu-patches/build.sh: unknown variant '$variant' (faultline, nodevice, unpatched)" >&2
    exit 2 ;;
esac
"$here/../mk/patched-tree.sh" "$tarball" "$series_dir" "$out/src" 1 \
    "$here/../guest-kernel/include/uapi/linux/faultline.h=include/standard-headers/linux/faultline.h"

# What the binary is made from: the series, the ABI header, this script (the
# source version and configure arguments are in it) and the tree's maker;
# nothing more to do when OUT holds that build already.
key=$("$here/../mk/build-cache.sh" key "=$variant" "$series_dir" "$here/build.sh" \
    "$here/../guest-kernel/include/uapi/linux/faultline.h" "$here/../mk/patched-tree.sh")
binary=build/qemu-system-x86_64
"$here/../mk/build-cache.sh" fetch "QEMU in $out" "$key" "$out" $binary && exit 0
mak="$out/src/configs/devices/x86_64-softmmu/microvm.mak"
[ "$devices" != microvm ] || [ -f "$mak" ] || echo 'CONFIG_MICROVM=y' > "$mak"

export CCACHE_DIR="$cache/ccache" CCACHE_BASEDIR="$out" CCACHE_NOHASHDIR=1
# Only what faultline needs: one target, TCG, plugins, the microvm device set
# (patch 0004). Fewer features: a shorter cold build, fewer host libraries.
# Link-time optimization and no checked QOM casts: a boot runs its 86 M
# guest instructions about 10% faster (translation and the TB lookups that
# a boot, each instruction run a few times, spends its host time in).
configure_args="--target-list=x86_64-softmmu --without-default-features \
    --without-default-devices --with-devices-x86_64=$devices \
    --enable-tcg --enable-plugins --enable-fdt=system \
    --disable-docs --disable-install-blobs --disable-werror \
    --enable-lto --disable-qom-cast-debug \
    --python=/usr/bin/python3 --cc=ccache\ gcc --cxx=ccache\ g++ --extra-cflags=-g0"
if [ "$(cat "$out/build/.faultline-configure" 2>/dev/null)" != "$configure_args" ]; then
    rm -rf "$out/build"
    mkdir -p "$out/build"
    (cd "$out/build" && eval ../src/configure "$configure_args" > configure.log 2>&1) \
        || { tail -30 "$out/build/configure.log" >&2; exit 1; }
    echo "$configure_args" > "$out/build/.faultline-configure"
fi
ninja -C "$out/build" qemu-system-x86_64
"$here/../mk/build-cache.sh" store "QEMU in $out" "$key" "$out" $binary
