#!/bin/sh
# make install DESTDIR=... puts every installed file where the system
# expects it, and nothing outside DESTDIR.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
: "${KVER:=$("$top/tools/kver.sh")}"
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

make -C "$top" --no-print-directory install DESTDIR="$dest" PREFIX=/usr >/dev/null
status=0
for f in \
	"lib/modules/$KVER/updates/esxmem.ko" \
	usr/include/esxmem/esxmem.h \
	lib/udev/rules.d/60-esxmem.rules \
	usr/share/doc/esxmem/ABI/sysfs-kernel-mm-esxmem \
	usr/include/esxmem/libesxmem.h \
	usr/lib/libesxmem.so.0.1.0 \
	usr/lib/pkgconfig/libesxmem.pc \
	usr/sbin/esxmemd \
	usr/sbin/esxmemctl \
	usr/share/man/man8/esxmemctl.8 \
	etc/esxmem/esxmemd.json.example \
	lib/systemd/system/esxmemd.service; do
	if [ ! -s "$dest/$f" ]; then
		echo "install: missing $f"
		status=1
	fi
done
modinfo -F description "$dest/lib/modules/$KVER/updates/esxmem.ko" | grep -q ESX ||
	{ echo "install: installed esxmem.ko has no description"; status=1; }
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
[ $status -eq 0 ] && echo "install: ok"
exit $status
