#!/bin/sh
# Install the Debian packages faultline builds and runs with, if any is
# missing. QEMU 10 needs meson >= 1.5 (bookworm-backports) and its source comes
# through deb-src: both are added from the machine's own apt sources, so no
# mirror is named here. The Linux source is not installed: guest-kernel/
# linux-source.sh downloads the version the series is pinned to.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
backports="meson python3-pycotap qemu-system-data"
packages=$(grep -v '^#' "$here/packages.txt" | tr '\n' ' ')

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

# deb-src (for the QEMU source) and bookworm-backports, from the machine's own entries.
src=/etc/apt/sources.list.d/debian.sources
list=/etc/apt/sources.list.d/faultline.sources
need_update=""
if [ ! -f "$list" ]; then
    [ -f "$src" ] || { echo "faultline: $src not found; add deb-src and bookworm-backports by hand" >&2; exit 1; }
    uri=$(awk '/^URIs:/ {print $2; exit}' "$src")
    key=$(awk '/^Signed-By:/ {print $2; exit}' "$src")
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: %s\n\nTypes: deb deb-src\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
        "$uri" "$key" "$uri" "$key" | $sudo tee "$list" > /dev/null
    need_update=yes
fi

missing=""
for p in $backports $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# meson from bookworm itself is too old for QEMU 10.
if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" lt 1.5; then
    missing="$missing meson"
fi
[ -n "$missing" ] || [ -n "$need_update" ] || exit 0

$sudo apt-get update -qq
[ -n "$missing" ] || exit 0
echo "faultline: installing:$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports $backports
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages
