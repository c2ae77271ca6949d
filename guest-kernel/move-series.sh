#!/bin/sh
# Move the guest-kernel patch series to another linux-source-6.12 version.
# usage: move-series.sh VERSION [PATCH_DIR]
# Each patch, in series order, is applied to that version's files (patch's
# fuzz finds hunks whose lines moved) and its diff written anew against
# them, its message kept as written, so the series applies exactly; then
# PATCH_DIR/base-version pins VERSION and its tarball's sha256. A patch that
# does not apply stops the move, naming it and its refused hunks, and
# PATCH_DIR is left as it was. Only the files the series reads are unpacked.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: move-series.sh VERSION [PATCH_DIR]" >&2; exit 2; }
version=$1
patches=$(cd "${2:-$here/patches}" && pwd)
tarball=$("$here/linux-source.sh" "$version" -)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
series=$(grep -v -e '^#' -e '^$' "$patches/series")

for p in $series; do sed -n 's|^--- a/||p' "$patches/$p"; done | cut -f1 | sort -u \
    | sed 's|^|linux-source-6.12/|' > "$work/files"
mkdir "$work/tree" "$work/out"
# A file the new version lacks is not an error here: the patch that reads it
# fails below and names it.
tar xJf "$tarball" -C "$work/tree" --strip-components=1 -T "$work/files" 2> /dev/null || true

cd "$work/tree"
git init -q
git add -A
git -c user.name=faultline -c user.email=faultline@localhost commit -q -m "$version"
for p in $series; do
    if ! patch -p1 --no-backup-if-mismatch < "$patches/$p" > "$work/patch.log" 2>&1; then
        echo "move-series: $p does not apply to linux-source-6.12 $version:" >&2
        sed 's/^/  /' "$work/patch.log" >&2
        find . -name '*.rej' -exec cat {} + >&2
        echo "Rebase that patch by hand on $version (guest-kernel/README.md), then move again." >&2
        exit 1
    fi
    git add -A
    sed '/^---$/q' "$patches/$p" > "$work/out/$p"
    # The series' own form, so a move changes only what moved: the files in
    # the patch's order, plain unified diffs (no git extended headers, no
    # function names after the hunk ranges).
    sed -n -e 's|^--- a/||p' -e 's|^+++ b/||p' "$patches/$p" | cut -f1 | awk '!seen[$0]++' \
        | while read -r file; do git diff --cached --no-color -- "$file"; done \
        | grep -v -e '^diff --git ' -e '^index ' -e '^new file mode ' -e '^deleted file mode ' \
        | sed 's/^\(@@ [^@]* @@\).*/\1/' >> "$work/out/$p"
    git -c user.name=faultline -c user.email=faultline@localhost commit -q -m "$p"
done
cp "$work/out/"* "$patches/"
printf '%s %s\n' "$version" "$(sha256sum "$tarball" | cut -d' ' -f1)" > "$patches/base-version"
echo "move-series: the series now applies exactly to linux-source-6.12 $version ($patches/base-version)"
