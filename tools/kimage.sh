#!/bin/sh
# "tools/kimage.sh RELEASE": prints the root under which the test host finds
# Debian kernel RELEASE's image (boot/vmlinuz-RELEASE) and modules
# (lib/modules/RELEASE): "/" when that kernel is installed. Otherwise it
# fetches the kernel's package, linux-image-RELEASE, and unpacks it under
# $BUILD/kernels/RELEASE without installing it, so that testing on a second
# kernel leaves the build machine's boot setup as it was.
set -eu
rel=${1:?usage: tools/kimage.sh RELEASE}
if [ -r "/boot/vmlinuz-$rel" ] && [ -d "/lib/modules/$rel/kernel" ]; then
	echo /
	exit 0
fi
top=$(cd "$(dirname "$0")/.." && pwd)
: "${BUILD:=$top/build}"
root=$BUILD/kernels/$rel
if [ -r "$root/boot/vmlinuz-$rel" ] && [ -d "$root/lib/modules/$rel/kernel" ]; then
	echo "$root"
	exit 0
fi
pkg=linux-image-$rel
dl=$BUILD/kernels/.download
rm -rf "$dl" "$root"
mkdir -p "$dl"
fetch() { (cd "$dl" && apt-get download -q "$pkg") >"$dl/log" 2>&1; }
if ! fetch; then
	# A package list too old to know the package: refresh it, as root.
	if [ "$(id -u)" = 0 ]; then
		apt-get update -q >>"$dl/log" 2>&1 || :
	fi
	if ! fetch; then
		tail -n 5 "$dl/log" >&2
		echo "kimage: could not download $pkg (log: $dl/log); check 'apt-cache policy $pkg', or install it with apt-get" >&2
		exit 1
	fi
fi
mkdir -p "$root.new"
dpkg-deb -x "$dl/$pkg"_*.deb "$root.new"
mv "$root.new" "$root"
rm -rf "$dl"
echo "$root"
