#!/bin/sh
# "tools/kver.sh second": the release of the second kernel esxmem is built
# for, the newest Debian 6.12 kernel with its headers installed (make deps
# installs them); exits 1 when there is none.
if [ "${1:-}" = second ]; then
	for d in $(ls -d /lib/modules/6.12.*+deb12-amd64/build 2>/dev/null | sort -rV); do
		rel=${d#/lib/modules/}
		echo "${rel%/build}"
		exit 0
	done
	echo "kver: no Linux 6.12 headers found; run 'make deps' (installs linux-headers-6.12.*+deb12-amd64)" >&2
	exit 1
fi

# Prints the release of the Debian kernel that the modules build against and
# that the test host boots. The build machine's own kernel is irrelevant: it
# is whatever linux-image-amd64 currently depends on, or failing that the
# newest kernel that has both an image and a build directory.
dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null |
	sed -n 's/^linux-image-\([^ ,]*\).*/\1/p')
if [ -n "$dep" ] && [ -d "/lib/modules/$dep/build" ] && [ -e "/boot/vmlinuz-$dep" ]; then
	echo "$dep"
	exit 0
fi
for d in $(ls -d /lib/modules/*/build 2>/dev/null | sort -rV); do
	rel=${d#/lib/modules/}
	rel=${rel%/build}
	if [ -e "/boot/vmlinuz-$rel" ]; then
		echo "$rel"
		exit 0
	fi
done
echo "kver: no Debian kernel with headers found; run 'make deps' (installs linux-image-amd64 and linux-headers-amd64)" >&2
exit 1
