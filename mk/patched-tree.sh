#!/bin/sh
# Unpack a source tarball and apply a quilt-style series on top, once.
# usage: patched-tree.sh TARBALL SERIES_DIR DEST [STRIP_COMPONENTS]
# Nothing happens while the stamp (a hash of tarball and patches) matches. When
# it does not, the tree is rebuilt beside DEST and synced onto it by content,
# so files a patch did not touch keep their mtimes and the build stays
# incremental.
set -eu
tarball=$1 series_dir=$2 dest=$3 strip=${4:-1}
[ -f "$tarball" ] || { echo "patched-tree: missing $tarball" >&2; exit 1; }
want=$( { ls -l --time-style=+%s "$tarball"; while read -r p; do
            case $p in ''|'#'*) continue;; esac; cat "$series_dir/$p"; done < "$series_dir/series"; } \
        | sha256sum | cut -d' ' -f1)
if [ -f "$dest/.faultline-stamp" ] && [ "$(cat "$dest/.faultline-stamp")" = "$want" ]; then
    exit 0
fi
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
tar xf "$tarball" -C "$dest.tmp" --strip-components="$strip"
while read -r p; do
    case $p in ''|'#'*) continue;; esac
    patch -s -p1 -d "$dest.tmp" < "$series_dir/$p" || { echo "patched-tree: $p does not apply" >&2; exit 1; }
done < "$series_dir/series"
echo "$want" > "$dest.tmp/.faultline-stamp"
if [ -d "$dest" ]; then
    rsync -rlc --delete "$dest.tmp/" "$dest/"
    rm -rf "$dest.tmp"
else
    mv "$dest.tmp" "$dest"
fi
