#!/bin/sh
# Unpack a source tarball, apply a quilt-style series on top and add files
# (the shared ABI header), once.
# usage: patched-tree.sh TARBALL SERIES_DIR DEST [STRIP_COMPONENTS [FILE=PATH_IN_TREE...]]
# Nothing happens while the stamp (a hash of tarball, patches and added files)
# matches. When it does not, the tree is rebuilt beside DEST and synced onto
# it by content, so files nothing changed keep their mtimes and the build
# stays incremental.
# The tarball is unpacked once, beside it, and every tree starts as a
# hard-linked copy of that one: patch(1) and rsync replace a file they change
# instead of writing through the link, so the kernels under test a test run
# builds cost one source tree of disk, not one each (1.6 GB for Linux).
set -eu
tarball=$1 series_dir=$2 dest=$3 strip=${4:-1}
shift $(($# < 4 ? $# : 4))
[ -f "$tarball" ] || { echo "patched-tree: missing $tarball" >&2; exit 1; }
want=$( { ls -l --time-style=+%s "$tarball"; while read -r p; do
            case $p in ''|'#'*) continue;; esac; cat "$series_dir/$p"; done < "$series_dir/series"
          for added; do echo "$added"; cat "${added%%=*}"; done; } \
        | sha256sum | cut -d' ' -f1)
if [ -f "$dest/.faultline-stamp" ] && [ "$(cat "$dest/.faultline-stamp")" = "$want" ]; then
    exit 0
fi
unpacked=${tarball%.tar*}.unpacked-$strip
tarball_id=$(ls -l --time-style=+%s "$tarball")
(
    flock 9
    if [ "$(cat "$unpacked/.faultline-tarball" 2>/dev/null)" != "$tarball_id" ]; then
        rm -rf "$unpacked" "$unpacked.tmp"
        mkdir -p "$unpacked.tmp"
        tar xf "$tarball" -C "$unpacked.tmp" --strip-components="$strip"
        echo "$tarball_id" > "$unpacked.tmp/.faultline-tarball"
        mv "$unpacked.tmp" "$unpacked"
    fi
) 9> "$unpacked.lock"
rm -rf "$dest.tmp"
# Another filesystem than the cache's cannot share inodes: copy.
cp -al "$unpacked" "$dest.tmp" 2> /dev/null || { rm -rf "$dest.tmp"; cp -a "$unpacked" "$dest.tmp"; }
rm "$dest.tmp/.faultline-tarball"
while read -r p; do
    case $p in ''|'#'*) continue;; esac
    if ! patch -s -N -p1 -d "$dest.tmp" < "$series_dir/$p" >&2; then
        echo "patched-tree: $p does not apply; the hunks refused:" >&2
        find "$dest.tmp" -name '*.rej' -exec cat {} + >&2
        exit 1
    fi
done < "$series_dir/series"
for added; do
    install -D -m 0644 "${added%%=*}" "$dest.tmp/${added#*=}"
done
echo "$want" > "$dest.tmp/.faultline-stamp"
if [ -d "$dest" ]; then
    rsync -rlc --delete "$dest.tmp/" "$dest/"
    rm -rf "$dest.tmp"
else
    mv "$dest.tmp" "$dest"
fi
