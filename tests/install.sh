#!/bin/sh
# make install DESTDIR=... puts every installed file where the system
# expects it, and nothing outside DESTDIR; the module's DKMS source tree
# builds on its own, as DKMS builds it; make uninstall DESTDIR=... leaves
# nothing behind.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
: "${KVER:=$("$top/tools/kver.sh")}"
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

version=$(sed -n 's/^VERSION := //p' "$top/Makefile")
src=usr/src/esxmem-$version

make -C "$top" --no-print-directory install DESTDIR="$dest" PREFIX=/usr >/dev/null
status=0
for f in \
	"$src/dkms.conf" "$src/Kbuild" "$src/kmod/Kbuild" "$src/kmod/main.c" \
	"$src/kmod/uapi/esxmem.h" \
	usr/include/esxmem/esxmem.h \
	lib/udev/rules.d/60-esxmem.rules \
	usr/share/doc/esxmem/ABI/sysfs-kernel-mm-esxmem \
	usr/include/esxmem/libesxmem.h \
	usr/lib/libesxmem.so.0.1.0 \
	usr/lib/pkgconfig/libesxmem.pc \
	usr/sbin/esxmemd \
	usr/sbin/esxmemctl \
	usr/share/man/man8/esxmemctl.8 \
	usr/share/man/man8/esxmemd.8 \
	usr/share/doc/esxmem/README.md \
	etc/esxmem/esxmemd.json.example \
	lib/systemd/system/esxmemd.service; do
	if [ ! -s "$dest/$f" ]; then
		echo "install: missing $f"
		status=1
	fi
done
grep -q "^PACKAGE_VERSION=\"$version\"$" "$dest/$src/dkms.conf" ||
	{ echo "install: dkms.conf does not name version $version"; status=1; }
# As DKMS does (dkms.conf's MAKE), in a copy: the tree must be complete
# and build for each supported kernel ($KVER2: check.sh's second one).
for k in "$KVER" ${KVER2:-}; do
	build=$(mktemp -d)
	cp -a "$dest/$src/." "$build/"
	if make -C "/lib/modules/$k/build" M="$build" W=1 modules >"$build/log" 2>&1; then
		modinfo -F description "$build/kmod/esxmem.ko" | grep -q ESX ||
			{ echo "install: the DKMS-built esxmem.ko for $k has no description"; status=1; }
		modinfo -F vermagic "$build/kmod/esxmem.ko" | grep -q "^$k " ||
			{ echo "install: the DKMS-built esxmem.ko is not for $k"; status=1; }
		[ ! -e "$build/guest-balloon" ] && [ ! -e "$build/guest-balloon.ko" ] ||
			{ echo "install: the DKMS tree holds the guest driver"; status=1; }
		echo "install: the DKMS tree builds for $k"
	else
		tail -n 20 "$build/log"
		echo "install: the DKMS source tree does not build for $k"
		status=1
	fi
	rm -rf "$build"
done
[ -L "$dest/usr/lib/libesxmem.so.0" ] || { echo "install: libesxmem.so.0 link missing"; status=1; }
objdump -p "$dest/usr/lib/libesxmem.so.0.1.0" | grep -q 'SONAME *libesxmem.so.0$' ||
	{ echo "install: libesxmem has no soname libesxmem.so.0"; status=1; }
PKG_CONFIG_PATH="$dest/usr/lib/pkgconfig" pkg-config --cflags libesxmem | grep -q -- '-I/usr/include' ||
	{ echo "install: libesxmem.pc does not resolve"; status=1; }
grep -q '^ExecStart=/usr/sbin/esxmemd$' "$dest/lib/systemd/system/esxmemd.service" ||
	{ echo "install: esxmemd.service does not start /usr/sbin/esxmemd"; status=1; }
LD_LIBRARY_PATH="$dest/usr/lib" "$dest/usr/sbin/esxmemd" --check-config -c "$dest/etc/esxmem/esxmemd.json.example" >/dev/null ||
	{ echo "install: esxmemd refuses its example configuration"; status=1; }
"$dest/usr/sbin/esxmemctl" --help | grep -q 'esxmemctl \[-s SOCKET\]' ||
	{ echo "install: esxmemctl --help does not work"; status=1; }
man -l "$dest/usr/share/man/man8/esxmemd.8" >/dev/null 2>&1 || ! command -v man >/dev/null ||
	{ echo "install: esxmemd.8 does not format"; status=1; }

make -C "$top" --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null
left=$(find "$dest" ! -type d)
[ -z "$left" ] || { echo "install: make uninstall left: $left"; status=1; }
[ $status -eq 0 ] && echo "install: ok"
exit $status
