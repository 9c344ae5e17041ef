#!/bin/sh
# Builds the test host's initramfs: $ESXTEST_OUT/initrd.cpio (default
# $BUILD/testhost), for Debian kernel $KVER as found under $KROOT (default /),
# with the modules built for it in the tree $ESXMEM_MODULES (default this
# one).
#
# Two concatenated cpio archives (the kernel unpacks both):
#   base.cpio  - busybox, the Debian kernel's KVM and vsock modules (and a
#                RAM disk and ext4, a filesystem that can be frozen), QEMU
#                with its libraries and firmware, and the nested guest's
#                kernel.
#                Rebuilt only when its inputs change.
#   tests.cpio - /init, our modules, the test, bench and soak programs with their
#                libraries, and the nested guest's busybox initramfs (with
#                esxballoon.ko). Rebuilt every run (a second or so).
set -eu

: "${BUILD:?}" "${KVER:?}"
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${KROOT:=/}" "${ESXMEM_MODULES:=$top}"
out=${ESXTEST_OUT:-$BUILD/testhost}
mkdir -p "$out"

KLIB=${KROOT%/}/lib/modules/$KVER
MODDIR=$KLIB/kernel
HOST_MODULES="
	virt/lib/irqbypass.ko
	drivers/crypto/ccp/ccp.ko
	arch/x86/kvm/kvm.ko
	arch/x86/kvm/kvm-amd.ko
	net/vmw_vsock/vsock.ko
	net/vmw_vsock/vmw_vsock_virtio_transport_common.ko
	net/vmw_vsock/vsock_loopback.ko
	drivers/vhost/vhost_iotlb.ko
	drivers/vhost/vhost.ko
	drivers/vhost/vhost_vsock.ko
	mm/zsmalloc.ko
	lib/lz4/lz4_compress.ko
	drivers/block/brd.ko
	drivers/block/loop.ko
	lib/crc16.ko
	crypto/crc32c_generic.ko
	fs/mbcache.ko
	fs/jbd2/jbd2.ko
	fs/ext4/ext4.ko
"
# In load order: guest-init loads them so.
GUEST_MODULES="
	drivers/virtio/virtio_ring.ko
	drivers/virtio/virtio.ko
	drivers/virtio/virtio_pci_legacy_dev.ko
	drivers/virtio/virtio_pci_modern_dev.ko
	drivers/virtio/virtio_pci.ko
	drivers/virtio/virtio_balloon.ko
	net/vmw_vsock/vsock.ko
	net/vmw_vsock/vmw_vsock_virtio_transport_common.ko
	net/vmw_vsock/vmw_vsock_virtio_transport.ko
"
balloon_ko=$ESXMEM_MODULES/guest-balloon/esxballoon.ko
memwork=${MEMWORK:-$BUILD/demo/guest/memwork}

die() {
	echo "mkinitramfs: $*" >&2
	exit 1
}

# copy_elf ROOT FILE [DEST]: FILE into ROOT at DEST (default: same path),
# with every shared library ldd lists, at the same paths.
copy_elf() {
	local root=$1 src=$2 dst=${3:-$2}
	install -D -m 0755 "$src" "$root$dst"
	ldd "$src" 2>/dev/null | awk '/=>/ { print $3 } /^\t\/.*ld-linux/ { print $1 }' |
	while read -r lib; do
		[ -n "$lib" ] && [ -e "$lib" ] || continue
		# Our own libraries (from the build tree, which may lie under
		# /tmp, hidden in the test host) go where init points
		# LD_LIBRARY_PATH.
		case $lib in
		/lib/* | /lib64/* | /usr/lib/*) to=$lib ;;
		*) to=/usr/local/lib/$(basename "$lib") ;;
		esac
		[ -e "$root$to" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$to"
	done
}

make_cpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$2"
}

# copy_module M DIR: kernel module M (a path under $MODDIR, as in the lists
# above) into DIR as NAME.ko. Newer Debian kernels ship modules compressed
# (.ko.xz, .ko.zst): busybox's insmod wants them plain. A module built into
# this kernel (modules.builtin) is left out: there is nothing to load.
# Returns 1 when it was built in.
copy_module() {
	local m=$1 dir=$2 name
	name=$(basename "$m")
	if [ -e "$MODDIR/$m" ]; then
		cp "$MODDIR/$m" "$dir/$name"
	elif [ -e "$MODDIR/$m.xz" ]; then
		xz -dc "$MODDIR/$m.xz" > "$dir/$name"
	elif [ -e "$MODDIR/$m.zst" ]; then
		zstd -qdc "$MODDIR/$m.zst" > "$dir/$name"
	elif grep -qx "kernel/$m" "$KLIB/modules.builtin" 2>/dev/null; then
		return 1
	else
		die "$MODDIR/$m missing: install linux-image-$KVER, or run tools/kimage.sh $KVER"
	fi
}

busybox_root() {
	local root=$1
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/sbin" "$root/dev" "$root/proc" "$root/sys" \
		"$root/tmp" "$root/etc" "$root/root" "$root/usr/bin" "$root/usr/sbin"
	[ -x /bin/busybox ] || die "/bin/busybox missing: install busybox-static (make deps)"
	cp /bin/busybox "$root/bin/busybox"
}

build_base() {
	root=$out/base
	busybox_root "$root"
	mkdir -p "$root/lib/modules/host" "$root/guest"
	for m in $HOST_MODULES; do
		copy_module "$m" "$root/lib/modules/host" || :
	done

	qemu=$(command -v qemu-system-x86_64) ||
		die "qemu-system-x86_64 missing: install qemu-system-x86 (make deps)"
	# QEMU finds its firmware relative to its own path: keep it in /usr/bin.
	copy_elf "$root" "$qemu" /usr/bin/qemu-system-x86_64
	for d in /usr/share/seabios /usr/share/qemu /usr/lib/ipxe/qemu; do
		[ -d "$d" ] && mkdir -p "$root$(dirname "$d")" && cp -a "$d" "$root$d"
	done
	# Keymaps, icons and descriptors are not needed headless.
	rm -rf "$root/usr/share/qemu/keymaps" "$root/usr/share/qemu/firmware" \
		"$root/usr/share/qemu/"*.svg "$root/usr/share/qemu/"*.png

	# The nested guest's kernel: the same Debian kernel. Its initramfs
	# carries our balloon driver, so build_tests makes it.
	cp "${KROOT%/}/boot/vmlinuz-$KVER" "$root/guest/vmlinuz"

	copy_libvirt "$root"
	make_cpio "$root" "$out/base.cpio"
}

# Debian's libvirtd with its QEMU driver, and virsh, for the libvirt test
# (esxmemd_libvirt.sh), which writes the configuration it runs with. No
# network, storage or security drivers: its domains need none.
copy_libvirt() {
	local root=$1 lib=/usr/lib/x86_64-linux-gnu/libvirt
	[ -x /usr/sbin/libvirtd ] && [ -x /usr/bin/virsh ] ||
		die "libvirtd or virsh missing: install libvirt-daemon-system and libvirt-clients (make deps)"
	copy_elf "$root" /usr/sbin/libvirtd
	copy_elf "$root" /usr/bin/virsh
	copy_elf "$root" "$lib/connection-driver/libvirt_driver_qemu.so"
	# libvirtd probes QEMU's TCG too, which Debian builds as a module.
	for m in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-*.so; do
		[ ! -e "$m" ] || copy_elf "$root" "$m"
	done
	mkdir -p "$root/usr/share/libvirt"
	cp -a /usr/share/libvirt/cpu_map "$root/usr/share/libvirt/"
}

# The nested guest's initramfs: busybox, its init, the virtio and vsock
# modules of a guest (listed in load order in /lib/modules/guest/order) and
# esxballoon.ko in /lib/modules/guest; the demo's workload, /bin/memwork.
build_guest_initrd() {
	local groot=$out/guest-root m
	busybox_root "$groot"
	install -m 0755 "$top/tests/host/guest-init" "$groot/init"
	mkdir -p "$groot/lib/modules/guest"
	for m in $GUEST_MODULES; do
		copy_module "$m" "$groot/lib/modules/guest" &&
			basename "$m" >> "$groot/lib/modules/guest/order"
	done
	cp "$balloon_ko" "$groot/lib/modules/guest/"
	[ -x "$memwork" ] || die "$memwork missing: run 'make demo-programs'"
	install -m 0755 "$memwork" "$groot/bin/memwork"
	make_cpio "$groot" "$1"
}

build_tests() {
	root=$out/tests-root
	rm -rf "$root"
	mkdir -p "$root/lib/modules/esxmem" "$root/tests" "$root/bench" "$root/demo" "$root/soak"
	install -m 0755 "$top/tests/host/init" "$root/init"
	for ko in "$ESXMEM_MODULES/kmod/esxmem.ko" "$balloon_ko" \
		"$ESXMEM_MODULES/tests/kmod/esxtest_assign.ko" \
		"$ESXMEM_MODULES/tests/kmod/esxtest_copypark.ko" \
		"$ESXMEM_MODULES/tests/kmod/esxtest_pin.ko"; do
		[ -e "$ko" ] || die "$ko missing: run 'make modules' (for $KVER)"
		cp "$ko" "$root/lib/modules/esxmem/"
	done
	mkdir -p "$root/guest"
	build_guest_initrd "$root/guest/initrd.cpio"
	# Test programs: every executable in $BUILD/tests/vm and every shell
	# test in tests/vm; bench programs likewise from $BUILD/bench.
	for f in "$BUILD"/tests/vm/* "$top"/tests/vm/*.sh; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		case $f in
		*.sh) install -m 0755 "$f" "$root/tests/$(basename "$f")" ;;
		*) copy_elf "$root" "$f" "/tests/$(basename "$f")" ;;
		esac
	done
	for f in "$BUILD"/bench/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		copy_elf "$root" "$f" "/bench/$(basename "$f")"
	done
	for f in "$BUILD"/soak/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		copy_elf "$root" "$f" "/soak/$(basename "$f")"
	done
	for f in "$BUILD"/demo/bin/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		copy_elf "$root" "$f" "/demo/$(basename "$f")"
	done
	install -m 0644 "$top/demo/order" "$root/demo/order"
	for f in "$BUILD"/tests/vmm/tinyvmm "$BUILD"/daemon/esxmemd \
		"$BUILD"/tools/esxmemctl "$top"/tests/host/testlib.sh; do
		[ -f "$f" ] || continue
		case $f in
		*.sh) install -D -m 0644 "$f" "$root/usr/lib/esxmem-test/lib.sh" ;;
		*) copy_elf "$root" "$f" "/usr/bin/$(basename "$f")" ;;
		esac
	done
	make_cpio "$root" "$out/tests.cpio"
}

# The base archive depends on the kernel release and on this script; a stamp
# of those decides whether to rebuild it.
stamp=$(md5sum < "$0" | cut -d' ' -f1)-$KVER-$KROOT
if [ ! -e "$out/base.cpio" ] || [ "$(cat "$out/base.stamp" 2>/dev/null)" != "$stamp" ]; then
	build_base
	echo "$stamp" > "$out/base.stamp"
fi
build_tests
cat "$out/base.cpio" "$out/tests.cpio" > "$out/initrd.cpio"
