#!/bin/sh
# Whole builds kept by what they are made from: a QEMU or kernel build whose
# inputs were built before, in any checkout on this machine, is copied out of
# ~/.cache/faultline/builds instead of being rebuilt. ccache already keeps
# every object, but a kernel or QEMU made entirely of ccache hits still costs
# minutes of preprocessing and linking; a fresh clone and each kernel under
# test a test run builds would pay them again.
# usage: build-cache.sh key ITEM...
#          prints the key: a sha256 over the ITEMs (a file or directory: its
#          files' names and contents, *.md and *.lock left out, and the
#          paths a directory's .build-cache-ignore lists, one a line, which
#          the build does not read; =TEXT: the text) and the versions of the
#          host toolchain and libraries a build is made with
#        build-cache.sh fetch NAME KEY OUT ARTIFACT...
#          exit 0 when OUT holds the build of KEY already (OUT/.faultline-build
#          names it), or after copying the build stored under KEY into OUT;
#          exit 1 when there is none; a damaged one is said, removed and missed
#        build-cache.sh store NAME KEY OUT ARTIFACT...
#          keeps OUT's ARTIFACTs (files or directories) under KEY, and marks
#          OUT as holding it
# NAME only names the build in messages. The same key always gives the same
# bytes (both builds are reproducible: fixed timestamps and paths), so a copy
# is the build it replaces. FAULTLINE_BUILD_CACHE=off builds every time.
set -eu
cache=${FAULTLINE_CACHE:-$HOME/.cache/faultline}/builds
# Least recently used entries beyond this many go: about 25 MB each for a
# kernel and its initramfs, 60 MB for the debug kernel, 40 MB for QEMU.
keep=64
toolchain="gcc-12 g++-12 binutils libc6 libc6-dev linux-libc-dev make libglib2.0-dev \
    libpixman-1-dev libfdt-dev zlib1g-dev meson ninja-build"

# find's arguments that prune what the current directory's
# .build-cache-ignore lists (none without one).
ignored_paths() {
    [ -f .build-cache-ignore ] || return 0
    while read -r path; do
        [ -n "$path" ] && printf -- '-path ./%s -prune -o ' "$path"
    done < .build-cache-ignore
}

digest_items() {
    for item; do
        case $item in
        =*) echo "$item" ;;
        *)
            if [ -d "$item" ]; then
                (cd "$item" && find . $(ignored_paths) -type f ! -name '*.md' ! -name '*.lock' \
                    -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
            else
                sha256sum < "$item"
            fi ;;
        esac
    done
    dpkg-query -W -f='${Package} ${Version}\n' $toolchain 2>/dev/null || true
}

entry_files() {
    (cd "$1" && find . -type f ! -name MANIFEST -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

command=$1
shift
case $command in
key)
    digest_items "$@" | sha256sum | cut -d' ' -f1
    exit 0 ;;
fetch|store) name=$1 key=$2 out=$3; shift 3 ;;
*) echo "build-cache: unknown command '$command' (key, fetch, store)" >&2; exit 2 ;;
esac
built=$out/.faultline-build
off=""
[ "${FAULTLINE_BUILD_CACHE:-on}" != off ] || off=yes
entry=$cache/$key

case $command in
fetch)
    [ -z "$off" ] || exit 1
    holds=yes
    for artifact; do
        [ -e "$out/$artifact" ] || holds=""
    done
    [ "$holds" != yes ] || [ "$(cat "$built" 2>/dev/null)" != "$key" ] || exit 0
    rm -f "$built"
    [ -d "$entry" ] || exit 1
    if [ "$(entry_files "$entry")" != "$(cat "$entry/MANIFEST" 2> /dev/null)" ]; then
        echo "build-cache: the stored build of $name ($key) is damaged: removed, building it" >&2
        rm -rf "$entry"
        exit 1
    fi
    for artifact; do
        mkdir -p "$(dirname "$out/$artifact")"
        rm -rf "$out/$artifact.tmp"
        cp -R "$entry/$artifact" "$out/$artifact.tmp"
        rm -rf "$out/$artifact"
        mv "$out/$artifact.tmp" "$out/$artifact"
    done
    touch "$entry"
    echo "$key" > "$built"
    echo "build-cache: $name from the build cache ($key)" >&2 ;;
store)
    echo "$key" > "$built"
    [ -z "$off" ] || exit 0
    # Unwritable or full: the build is done all the same, only not kept.
    mkdir -p "$cache" 2> /dev/null && tmp=$(mktemp -d "$cache/.store.XXXXXX" 2> /dev/null) || {
        echo "build-cache: $cache is not writable: $name is not kept" >&2; exit 0; }
    if (cd "$out" && cp -R --parents "$@" "$tmp/") 2> /dev/null && entry_files "$tmp" > "$tmp/MANIFEST" \
            && mv -T "$tmp" "$entry" 2> /dev/null; then
        ls -1dt "$cache"/*/ | tail -n +$((keep + 1)) | xargs -r rm -rf
    else
        # Another process stored the same key first, or the disk is full.
        rm -rf "$tmp"
    fi ;;
esac
