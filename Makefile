# esxmem: top-level build.
#
#   make            build the kernel modules and the userspace parts
#   make check      install missing Debian packages, then run every test
#   make vmtest T=name   run one test-host test (or several: T="a b")
#   make vmshell    interactive shell in the test host
#   make bench      performance figures as "bench: <name> <value> <unit>"
#   make soak       every mechanism of the module at once, with guests and
#                   host workers, every page read checked, for SOAK_SECS
#                   seconds (default 300); not part of "make check"
#   make demo       the demo: real guests on esxmem, shown live, with a report
#   make install    the module (registered with DKMS), the daemon and its
#                   systemd unit, the CLI, the library, the udev rule and
#                   the man pages; DESTDIR=/some/root stages them instead
#   make uninstall  removes them (the configuration in /etc/esxmem stays)
#
# The modules build against KDIR, by default the build directory of the
# installed Debian kernel (tools/kver.sh); override with KDIR=... KVER=...

BUILD   ?= $(CURDIR)/build
CC      ?= gcc
KVER    ?= $(shell tools/kver.sh)
KDIR    ?= /lib/modules/$(KVER)/build
PREFIX  ?= /usr/local
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=
# The release; DKMS keeps the module's source under /usr/src/esxmem-$(VERSION).
VERSION := 0.1.0
DKMS_SRC = $(DESTDIR)/usr/src/esxmem-$(VERSION)

WARN     := -Wall -Wextra -Werror
CFLAGS   := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN)
# Test programs may use GNU extensions (inline asm, typeof).
TCFLAGS  := -std=gnu11 -D_GNU_SOURCE -O2 -g $(WARN) -I$(CURDIR) -I$(CURDIR)/tests -I$(CURDIR)/kmod/uapi
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

export BUILD KVER KDIR

.PHONY: all modules userspace deps check _check unit vmtest vmshell bench soak demo \
	install install-module uninstall uninstall-module clean

all: modules userspace

deps:
	@tools/deps.sh

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 KCFLAGS=-Werror modules

# --- userspace -----------------------------------------------------------

include libesxmem/Makefile.inc
include daemon/Makefile.inc
include tools/esxmemctl/Makefile.inc

userspace: libesxmem esxmemd esxmemctl

# --- tests -----------------------------------------------------------------

include tests/unit/Makefile.inc
include tests/vmm/Makefile.inc
include tests/vm/Makefile.inc
include tests/soak/Makefile.inc
include demo/Makefile.inc

# check: dependencies first, then a fresh make so that KVER is discovered
# with the kernel packages in place.
check: deps
	@$(MAKE) --no-print-directory _check

_check:
	@tests/check.sh

vmtest: modules userspace vm-programs demo-programs
	@tests/host/run.sh $(T)

vmshell: modules userspace vm-programs demo-programs
	@tests/host/run.sh --shell

bench: deps
	@$(MAKE) --no-print-directory modules userspace vm-programs demo-programs
	@tests/host/run.sh --bench

# The soak: SOAK_SECS=N sets its length (default 300 s).
soak: deps
	@$(MAKE) --no-print-directory modules userspace vm-programs demo-programs
	@tests/host/run.sh --soak

# The demo's scenarios in the test host, shown live; the report lands in
# build/demo-report/.
demo: deps
	@$(MAKE) --no-print-directory modules userspace vm-programs demo-programs
	@tests/host/run.sh --demo $(T) && demo/report.sh $(BUILD)/demo-report

# --- install ------------------------------------------------------------------

install: userspace install-module install-libesxmem install-esxmemd install-esxmemctl
	install -D -m 0644 tools/udev/60-esxmem.rules \
		$(DESTDIR)/lib/udev/rules.d/60-esxmem.rules
	install -D -m 0644 doc/ABI/sysfs-kernel-mm-esxmem \
		$(DESTDIR)$(PREFIX)/share/doc/esxmem/ABI/sysfs-kernel-mm-esxmem
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/esxmem/README.md
	if [ -z "$(DESTDIR)" ]; then udevadm control --reload 2>/dev/null || true; fi

# The module's source, for DKMS to build for each kernel the host gets;
# with no DESTDIR, registered, built and installed for the running kernel.
install-module:
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/kmod/uapi
	install -m 0644 kmod/Kbuild kmod/*.c kmod/*.h $(DKMS_SRC)/kmod/
	install -m 0644 kmod/uapi/*.h $(DKMS_SRC)/kmod/uapi/
	install -m 0644 tools/dkms/Kbuild $(DKMS_SRC)/Kbuild
	sed 's|@version@|$(VERSION)|g' tools/dkms/dkms.conf.in > $(DKMS_SRC)/dkms.conf
	if [ -z "$(DESTDIR)" ]; then \
		tools/deps.sh dkms && \
		{ dkms remove esxmem/$(VERSION) --all >/dev/null 2>&1 || true; } && \
		dkms add esxmem/$(VERSION) && \
		dkms install esxmem/$(VERSION) -k $(KVER); \
	fi

uninstall: uninstall-module uninstall-libesxmem uninstall-esxmemd uninstall-esxmemctl
	rm -f $(DESTDIR)/lib/udev/rules.d/60-esxmem.rules
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/esxmem

uninstall-module:
	if [ -z "$(DESTDIR)" ] && command -v dkms >/dev/null; then \
		modprobe -r esxmem 2>/dev/null || true; \
		dkms remove esxmem/$(VERSION) --all 2>/dev/null || true; \
	fi
	rm -rf $(DKMS_SRC)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD)
