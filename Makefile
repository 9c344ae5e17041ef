# esxmem: top-level build.
#
#   make            build the kernel modules and the userspace parts
#   make check      install missing Debian packages, then run every test
#   make vmtest T=name   run one test-host test (or several: T="a b")
#   make vmshell    interactive shell in the test host
#   make bench      performance figures as "bench: <name> <value> <unit>"
#   make install DESTDIR=/some/root
#
# The modules build against KDIR, by default the build directory of the
# installed Debian kernel (tools/kver.sh); override with KDIR=... KVER=...

BUILD   ?= $(CURDIR)/build
CC      ?= gcc
KVER    ?= $(shell tools/kver.sh)
KDIR    ?= /lib/modules/$(KVER)/build
PREFIX  ?= /usr/local
DESTDIR ?=

WARN     := -Wall -Wextra -Werror
CFLAGS   := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN)
# Test programs may use GNU extensions (inline asm, typeof).
TCFLAGS  := -std=gnu11 -D_GNU_SOURCE -O2 -g $(WARN) -I$(CURDIR) -I$(CURDIR)/tests -I$(CURDIR)/kmod/uapi
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

export BUILD KVER KDIR

.PHONY: all modules userspace deps check _check unit vmtest vmshell bench \
	install clean

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

# check: dependencies first, then a fresh make so that KVER is discovered
# with the kernel packages in place.
check: deps
	@$(MAKE) --no-print-directory _check

_check:
	@tests/check.sh

vmtest: modules userspace vm-programs
	@tests/host/run.sh $(T)

vmshell: modules userspace vm-programs
	@tests/host/run.sh --shell

bench: deps
	@$(MAKE) --no-print-directory modules userspace vm-programs
	@tests/host/run.sh --bench

# --- install ------------------------------------------------------------------

install: modules userspace install-libesxmem install-esxmemd install-esxmemctl
	install -D -m 0644 kmod/esxmem.ko \
		$(DESTDIR)/lib/modules/$(KVER)/updates/esxmem.ko
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER) && ldconfig; fi
	install -D -m 0644 tools/udev/60-esxmem.rules \
		$(DESTDIR)/lib/udev/rules.d/60-esxmem.rules
	install -D -m 0644 doc/ABI/sysfs-kernel-mm-esxmem \
		$(DESTDIR)$(PREFIX)/share/doc/esxmem/ABI/sysfs-kernel-mm-esxmem

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD)
