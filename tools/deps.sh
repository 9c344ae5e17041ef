#!/bin/sh
# Installs the Debian packages that building and testing esxmem needs,
# and any named as arguments (make install: dkms).
# Quick and silent when everything is present; otherwise installs the
# missing ones with apt-get, as root or through sudo.
set -eu

PACKAGES="
	gcc make libc6-dev pkg-config
	linux-image-amd64 linux-headers-amd64 kmod
	qemu-system-x86 busybox-static cpio
	libnl-3-dev libnl-genl-3-dev libjansson-dev libmicrohttpd-dev
	check libsubunit-dev
	gnuplot-nox
	libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
	$*
"

missing=
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
# The headers of Linux 6.12, the second kernel the modules build for
# (Debian 12 carries it as a second supported kernel): the newest there is.
if ! ls -d /lib/modules/6.12.*+deb12-amd64/build >/dev/null 2>&1; then
	h=$(apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' 2>/dev/null |
		awk '{ print $1 }' | sort -V | tail -n 1)
	[ -n "$h" ] && missing="$missing $h"
fi
# A kernel named with KVER=... (make check KVER=6.12.x): its headers. The
# test host needs its image too, which tools/kimage.sh fetches on its own.
if [ -n "${KVER:-}" ] && [ ! -d "/lib/modules/$KVER/build" ]; then
	missing="$missing linux-headers-$KVER"
fi
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "deps: missing packages:$missing; run 'apt-get install$missing' as root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
}
if ! apt_install >/tmp/esxmem-deps.log 2>&1; then
	$SUDO apt-get update -q >>/tmp/esxmem-deps.log 2>&1 || true
	if ! apt_install >>/tmp/esxmem-deps.log 2>&1; then
		tail -n 20 /tmp/esxmem-deps.log >&2
		echo "deps: could not install:$missing (log: /tmp/esxmem-deps.log); install them by hand with apt-get" >&2
		exit 1
	fi
fi
echo "deps: done"
