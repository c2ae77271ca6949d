#!/bin/sh
# Build benchmark: the cold build of every layer (empty ccache, fresh build
# tree; downloads reused) and the no-op `make build` on the working tree.
# Prints seconds per step. Takes ~10 minutes on 2 cores.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/faultline-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cache"
ln -s "${FAULTLINE_CACHE:-$HOME/.cache/faultline}/downloads" "$tmp/cache/downloads"
export FAULTLINE_CACHE="$tmp/cache"

step() {
    name=$1; shift
    start=$(date +%s.%N)
    "$@" > "$tmp/$name.log" 2>&1 || { tail -20 "$tmp/$name.log"; exit 1; }
    printf '%-28s %7.1f s\n' "$name" "$(echo "$(date +%s.%N) - $start" | bc)"
}

step "cold: qemu" "$root/qemu-patches/build.sh" "$tmp/build/qemu"
step "cold: guest kernel+initrd" "$root/guest-kernel/build.sh" "$tmp/build/linux"
step "cold: harness" sh -c "cmake -S '$root/harness' -B '$tmp/build/harness' -G Ninja \
    -DPython3_EXECUTABLE=/usr/bin/python3 -DFAULTLINE_BUILD_DIR='$tmp/build' && ninja -C '$tmp/build/harness'"
unset FAULTLINE_CACHE
make -C "$root" build > /dev/null 2>&1
step "no-op: make build" make -C "$root" build
