#!/bin/sh
# The Linux source the patch series is made for, pinned to one Debian package
# version and its tarball's sha256 (patches/base-version): a newer point
# release may not take the series, and would shift every instruction count a
# user compares with CI.
# usage: linux-source.sh [VERSION SHA256]
#   prints the path of the source tarball of linux-source-6.12 VERSION
#   (default: the pinned one), fetched once into ~/.cache/faultline/downloads
#   with `apt-get download` (no mirror is named here) and checked against
#   SHA256 ("-" skips the check, for a version not pinned yet).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
package=linux-source-6.12
if [ $# -ge 1 ]; then
    version=$1 sha=${2:--} what="$package $1"
else
    read -r version sha < "$here/patches/base-version"
    what="$package $version, the version the patch series is made for (patches/base-version),"
fi
cache=${FAULTLINE_CACHE:-$HOME/.cache/faultline}
tarball=$cache/downloads/${package}_$version.tar.xz

if [ ! -f "$tarball" ]; then
    mkdir -p "$cache/downloads"
    tmp=$(mktemp -d "$cache/downloads/.linux-source.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    download() { (cd "$tmp" && apt-get download -q "$package=$version" > /dev/null 2> apt.log); }
    # Package lists older than the pin do not know it yet.
    if ! download && ! { apt-get update -qq 2> /dev/null && download; }; then
        offered=$(apt-cache madison "$package" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -urV | paste -sd' ')
        cat >&2 <<EOF
guest-kernel: $what cannot be downloaded:
$(grep -v unsandboxed "$tmp/apt.log" | sed 's/^/  /')
  The archive offers: ${offered:-nothing (run apt-get update)}
  To move the series to one of them: guest-kernel/move-series.sh VERSION
  (guest-kernel/README.md, "Moving the series to another kernel version").
EOF
        exit 1
    fi
    dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -xO "./usr/src/$package.tar.xz" > "$tmp/source.tar.xz"
    mv "$tmp/source.tar.xz" "$tarball"
fi
if [ "$sha" != - ]; then
    got=$(sha256sum "$tarball" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        echo "guest-kernel: $tarball is not the pinned $package $version (sha256 $got, want $sha): removed, run again to download it" >&2
        rm -f "$tarball"
        exit 1
    fi
fi
echo "$tarball"
