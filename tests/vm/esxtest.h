/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers for in-VM tests of esxmem.ko: the device, its stats and sysfs. */
#ifndef ESXMEM_TESTS_ESXTEST_H
#define ESXMEM_TESTS_ESXTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "esxmem.h"

#define ESX_PAGE 4096UL
#define ESX_SYSFS "/sys/kernel/mm/esxmem/"

static inline double esx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * An idle KVM VM, held while a test or bench runs QEMU guests: KVM patches
 * kernel text (the scheduler's preempt-notifier static key) whenever the
 * number of VMs goes from 0 to 1 or back, and the test host's emulator
 * (QEMU 7.2 TCG) now and then keeps executing the breakpoint of such a
 * patch after it is gone, and then spins for ever. With a VM held, QEMU's
 * own VM creation and exit, in the busiest moments, patch nothing. The VM
 * fd, or -errno.
 */
static inline int esx_hold_kvm_vm(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (kvm < 0)
		return -errno;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		vm = -errno;
	close(kvm);
	return vm;
}

/* Polls @cond until it holds or @secs pass; whether it held. */
#define ESX_WAIT_FOR(cond, secs)					\
	({								\
		double _end = esx_now() + (secs);			\
		bool _ok;						\
		while (!(_ok = (cond)) && esx_now() < _end)		\
			usleep(10000);					\
		_ok;							\
	})

/* Opens a new VM memory object; exits the test if that fails. */
static inline int esx_open(void)
{
	int fd = open(ESXMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", ESXMEM_DEVICE_PATH, strerror(errno));
		exit(1);
	}
	return fd;
}

static inline void *esx_map(int fd, size_t pages, off_t offset_pages)
{
	void *p = mmap(NULL, pages * ESX_PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, offset_pages * ESX_PAGE);

	return p == MAP_FAILED ? NULL : p;
}

static inline struct esxmem_vm_stats esx_stats(int fd)
{
	struct esxmem_vm_stats st;

	if (ioctl(fd, ESXMEM_IOC_GET_STATS, &st)) {
		fprintf(stderr, "ESXMEM_IOC_GET_STATS: %s\n", strerror(errno));
		exit(1);
	}
	return st;
}

/* Reads a sysfs file of esxmem as a number; exits the test on failure. */
static inline long esx_sysfs_long(const char *name)
{
	char path[256], buf[64];
	long v;
	FILE *f;

	snprintf(path, sizeof(path), ESX_SYSFS "%s", name);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		fprintf(stderr, "read %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fclose(f);
	v = strtol(buf, NULL, 10);
	return v;
}

static inline void esx_sysfs_string(const char *name, char *buf, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), ESX_SYSFS "%s", name);
	f = fopen(path, "r");
	if (!f || !fgets(buf, (int)len, f)) {
		fprintf(stderr, "read %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/*
 * The value of a sysfs file, as it can be written back: for a choice
 * ("never [always]") the word in brackets.
 */
static inline void esx_sysfs_choice(const char *name, char *buf, size_t len)
{
	char *open, *end;

	esx_sysfs_string(name, buf, len);
	open = strchr(buf, '[');
	end = open ? strchr(open, ']') : NULL;
	if (end) {
		*end = 0;
		memmove(buf, open + 1, strlen(open + 1) + 1);
	}
}

/* Writes @value to a sysfs file of esxmem: 0 or -errno. */
static inline int esx_sysfs_write(const char *name, const char *value)
{
	char path[256];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), ESX_SYSFS "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

static inline int esx_sysfs_write_long(const char *name, long value)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", value);
	return esx_sysfs_write(name, buf);
}

static char esx_sharing_saved[8];
static char esx_sampling_saved[8];
static char esx_reclaim_saved[8];
static pid_t esx_background_pid;

static inline void esx_background_restore(void)
{
	if (getpid() != esx_background_pid)
		return;
	if (esx_sysfs_write("share/enabled", esx_sharing_saved) ||
	    esx_sysfs_write("sample/enabled", esx_sampling_saved) ||
	    esx_sysfs_write("reclaim/enabled", esx_reclaim_saved))
		fprintf(stderr, "could not restore share/, sample/ and reclaim/enabled\n");
}

/*
 * Stops the page-sharing scanner, the idle sampler and the reclaim thread
 * until the test exits, for tests that count a VM's pages or faults
 * exactly: sharing and reclamation (whose emergency path works in the
 * hard and low states) change the page counts, and a sampled page's next
 * touch is a fault of its own. Tests of reclamation turn it on again.
 */
static inline void esx_background_off(void)
{
	esx_sysfs_string("share/enabled", esx_sharing_saved, sizeof(esx_sharing_saved));
	esx_sysfs_string("sample/enabled", esx_sampling_saved, sizeof(esx_sampling_saved));
	esx_sysfs_string("reclaim/enabled", esx_reclaim_saved, sizeof(esx_reclaim_saved));
	esx_background_pid = getpid();
	atexit(esx_background_restore);
	if (esx_sysfs_write("share/enabled", "0") || esx_sysfs_write("sample/enabled", "0") ||
	    esx_sysfs_write("reclaim/enabled", "0")) {
		fprintf(stderr, "cannot stop the sharing scanner, the sampler and reclaim\n");
		exit(1);
	}
}

static char esx_large_saved[16];
static pid_t esx_large_pid;

static inline void esx_large_pages_restore(void)
{
	if (getpid() == esx_large_pid &&
	    esx_sysfs_write("large_pages", esx_large_saved))
		fprintf(stderr, "could not restore large_pages\n");
}

/*
 * Sets large_pages ("always" or "never") until the test exits, for tests
 * whose checks are about 4 KiB pages as such: what a held 4 KiB page does
 * to its neighbours, say. A large page held by someone cannot be broken,
 * so every page in it stays as it is (esxmem_hugepage tests that).
 */
static inline void esx_large_pages(const char *mode)
{
	if (!esx_large_pid) {
		esx_sysfs_choice("large_pages", esx_large_saved, sizeof(esx_large_saved));
		esx_large_pid = getpid();
		atexit(esx_large_pages_restore);
	}
	if (esx_sysfs_write("large_pages", mode)) {
		fprintf(stderr, "cannot set large_pages to %s\n", mode);
		exit(1);
	}
}

static char esx_rate_saved[3][16];
static pid_t esx_rate_pid;

static inline void esx_share_rate_restore(void)
{
	if (getpid() != esx_rate_pid)
		return;
	static const char *const names[] = {
		"share/pages_per_sec", "share/vm_pages_per_sec", "share/break_large",
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		err = esx_sysfs_write(names[i], esx_rate_saved[i]);
		if (err)
			fprintf(stderr, "could not restore %s to %s: %s\n", names[i],
				esx_rate_saved[i], strerror(-err));
	}
}

/*
 * Has the sharing scanner go at the fixed rate of @rate pages a second,
 * per VM as well, until the test exits: tests that wait for merges cannot
 * wait for the scan-time advisor's default pass of an hour. Large pages
 * are broken for sharing in any state meanwhile (share/break_large
 * "always"), as those tests want merges in the high state too.
 */
static inline void esx_share_rate(const char *rate)
{
	if (!esx_rate_pid) {
		esx_sysfs_string("share/pages_per_sec", esx_rate_saved[0],
				 sizeof(esx_rate_saved[0]));
		esx_sysfs_string("share/vm_pages_per_sec", esx_rate_saved[1],
				 sizeof(esx_rate_saved[1]));
		esx_sysfs_choice("share/break_large", esx_rate_saved[2],
				 sizeof(esx_rate_saved[2]));
		esx_rate_pid = getpid();
		atexit(esx_share_rate_restore);
	}
	if (esx_sysfs_write("share/pages_per_sec", rate) ||
	    esx_sysfs_write("share/vm_pages_per_sec", rate) ||
	    esx_sysfs_write("share/break_large", "always")) {
		fprintf(stderr, "cannot set the sharing scanner's rate to %s pages/s\n", rate);
		exit(1);
	}
}

/*
 * The pool's used pages once they have held still for half a second (at
 * most @secs): a test's baseline, taken after what the test before it freed
 * has gone back (frames the sharing scanner frees, pages a pipe held).
 */
static inline long esx_pool_settled(double secs)
{
	double end = esx_now() + secs, still = esx_now();
	long used = esx_sysfs_long("used_pages"), now;

	while (esx_now() < end && esx_now() - still < 0.5) {
		usleep(50000);
		now = esx_sysfs_long("used_pages");
		if (now != used) {
			used = now;
			still = esx_now();
		}
	}
	return used;
}

/*
 * Whether the pool's used pages come back to @used0, or below, within
 * @secs: pages a test freed may go back a moment later (frames the sharing
 * scanner frees, pages a pipe held), and the next test's baseline must not
 * see them go. Below: what an earlier test left went back after this one
 * took its baseline (it once did, by 3 pages), which is no leak of this
 * test's.
 */
static inline bool esx_pool_back(long used0, double secs)
{
	return ESX_WAIT_FOR(esx_sysfs_long("used_pages") <= used0, secs);
}

/*
 * Holds the pool in the soft state, where balloons take memory back: the
 * pool shrunk to 3% free, and the high state only above 90% free, so that
 * balloons go on towards their VMs' targets rather than stopping once the
 * pool is high again. The caller restores pool_pages and
 * state_high_permille. The pool's new size in pages, or -errno.
 */
static inline long esx_pool_hold_soft(void)
{
	long pool;
	int err = esx_sysfs_write("state_high_permille", "900");

	if (err)
		return err;
	pool = esx_sysfs_long("used_pages") * 100 / 97;
	err = esx_sysfs_write_long("pool_pages", pool);
	return err ? err : pool;
}

static inline int esx_punch(int fd, off_t offset, off_t len)
{
	struct esxmem_range r = { .offset = (uint64_t)offset, .length = (uint64_t)len };

	return ioctl(fd, ESXMEM_IOC_PUNCH_HOLE, &r) ? -errno : 0;
}

/* Loads the module at @path with @params; already loaded counts as done. */
static inline int esx_load_module(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret == -EEXIST ? 0 : ret;
}

/*
 * The host's vsock: the core and, for guests under QEMU, vhost-vsock; or,
 * for a driver in the test host itself, the loopback transport.
 */
static inline int esx_load_vsock(bool loopback)
{
	static const char *const core[] = {
		"/lib/modules/host/vsock.ko",
		"/lib/modules/host/vmw_vsock_virtio_transport_common.ko",
	};
	static const char *const vhost[] = {
		"/lib/modules/host/vhost_iotlb.ko",
		"/lib/modules/host/vhost.ko",
		"/lib/modules/host/vhost_vsock.ko",
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(core) / sizeof(core[0]); i++)
		if ((err = esx_load_module(core[i], "")))
			return err;
	if (loopback)
		return esx_load_module("/lib/modules/host/vsock_loopback.ko", "");
	for (i = 0; i < sizeof(vhost) / sizeof(vhost[0]); i++)
		if ((err = esx_load_module(vhost[i], "")))
			return err;
	return 0;
}

#define ESX_QEMU		"/usr/bin/qemu-system-x86_64"
#define ESX_GUEST_KERNEL	"/guest/vmlinuz"
#define ESX_GUEST_INITRD	"/guest/initrd.cpio"

/*
 * Boots the nested Linux guest (ESX_GUEST_KERNEL and ESX_GUEST_INITRD, whose
 * init is tests/host/guest-init) under QEMU/KVM: one vCPU, @mib MiB, kernel
 * arguments "console=ttyS0 panic=-1 @append", its console and QEMU's own
 * messages in the file @console. Its RAM is a file on @mem_path (esxmemfs,
 * a file on it, or ESXMEM_DEVICE_PATH), or QEMU's own with NULL. @extra
 * are further QEMU arguments, NULL-terminated, or NULL. QEMU dies with the
 * caller. Returns its pid, or -1 if it could not fork.
 */
static inline pid_t esx_start_guest(unsigned int mib, const char *append,
				    const char *mem_path, const char *console,
				    const char *const *extra)
{
	char size[16], cmdline[512], memory[256];
	const char *argv[64] = {
		ESX_QEMU, "-accel", "kvm", "-cpu", "host", "-m", size, "-smp", "1",
		"-nographic", "-vga", "none", "-no-reboot",
		"-kernel", ESX_GUEST_KERNEL, "-initrd", ESX_GUEST_INITRD,
		"-append", cmdline,
	};
	size_t n = 19;
	pid_t pid;
	int out, in;

	snprintf(size, sizeof(size), "%u", mib);
	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 panic=-1 %s", append);
	snprintf(memory, sizeof(memory),
		 "memory-backend-file,id=ram0,size=%uM,mem-path=%s,share=on,align=2M", mib,
		 mem_path ? mem_path : "");
	if (mem_path) {
		argv[n++] = "-object";
		argv[n++] = memory;
		argv[n++] = "-machine";
		argv[n++] = "memory-backend=ram0";
	}
	while (extra && *extra && n < sizeof(argv) / sizeof(argv[0]) - 1)
		argv[n++] = *extra++;
	argv[n] = NULL;
	pid = fork();
	if (pid)
		return pid;
	out = open(console, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	in = open("/dev/null", O_RDONLY);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
	execv(ESX_QEMU, (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", ESX_QEMU, strerror(errno));
	_exit(127);
}

/* Starts esxmemd with @conf, its log (standard error) in @log; its pid. */
/*
 * What esxmemd configures in the module, as it was before a test's first
 * daemon: put back when the test ends, so that the next test finds the
 * module's own settings (a daemon leaves its pool, thresholds and sampling
 * in the module when it stops).
 */
static const char *const esx_daemon_knobs[] = {
	"pool_pages", "state_high_permille", "state_soft_permille", "state_hard_permille",
	"state_low_permille", "sample/period_secs", "sample/pages",
};
static char esx_daemon_knobs_saved[sizeof(esx_daemon_knobs) / sizeof(esx_daemon_knobs[0])][32];
static pid_t esx_daemon_knobs_pid;

static inline void esx_daemon_knobs_restore(void)
{
	size_t i;

	if (getpid() != esx_daemon_knobs_pid)
		return;
	/* Thresholds go in one order or the other: each must stay below the last. */
	for (int round = 0; round < 2; round++)
		for (i = 0; i < sizeof(esx_daemon_knobs) / sizeof(esx_daemon_knobs[0]); i++)
			esx_sysfs_write(esx_daemon_knobs[i], esx_daemon_knobs_saved[i]);
}

#define ESX_TINYVMM_ARGS_MAX 32

/*
 * Starts a tinyvmm guest on /dev/esxmem with the arguments that follow
 * (NULL-terminated), its output to @out_fd (-1: none). A test that dies
 * takes its guest along. The guest's pid, or -1 if fork failed.
 */
static inline pid_t esx_start_tinyvmm(int out_fd, ...)
{
	const char *argv[ESX_TINYVMM_ARGS_MAX + 4] = { "tinyvmm", "--fd-path", "/dev/esxmem" };
	int argc = 3;
	va_list ap;
	pid_t pid;

	va_start(ap, out_fd);
	while (argc < ESX_TINYVMM_ARGS_MAX + 3 && (argv[argc] = va_arg(ap, const char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	pid = fork();
	if (pid)
		return pid;
	if (out_fd < 0)
		out_fd = open("/dev/null", O_WRONLY);
	dup2(out_fd, 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	execv("/usr/bin/tinyvmm", (char *const *)argv);
	dprintf(2, "cannot run tinyvmm: %s\n", strerror(errno));
	_exit(127);
}

static inline pid_t esx_start_esxmemd(const char *conf, const char *log, bool debug)
{
	pid_t pid;

	if (!esx_daemon_knobs_pid) {
		for (size_t i = 0; i < sizeof(esx_daemon_knobs) / sizeof(esx_daemon_knobs[0]); i++)
			esx_sysfs_string(esx_daemon_knobs[i], esx_daemon_knobs_saved[i],
					 sizeof(esx_daemon_knobs_saved[i]));
		esx_daemon_knobs_pid = getpid();
		atexit(esx_daemon_knobs_restore);
	}
	pid = fork();

	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/*
		 * A test that stops at a fatal check takes its daemon along:
		 * one left running would manage the next test's VMs.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 2);
		execl("/usr/bin/esxmemd", "esxmemd", "-c", conf, debug ? "-d" : NULL,
		      (char *)NULL);
		dprintf(2, "cannot run esxmemd: %s\n", strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Prints the last @bytes of the file at @path to stderr, under @title. */
static inline void esx_show_tail(const char *path, const char *title, size_t bytes)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size;

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)bytes ? size - (off_t)bytes : 0, SEEK_SET);
	fprintf(stderr, "---- %s (tail) ----\n", title);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stderr);
	fputc('\n', stderr);
	close(fd);
}

/* Whether the file at @path (its first 256 KiB: a guest's console) has @text. */
static inline bool esx_file_has(const char *path, const char *text)
{
	static char buf[1 << 18];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, text) != NULL;
}

/* Whether every byte of [p, p+len) is zero. */
/*
 * A 64-bit mixer (MurmurHash3's finalizer): distinct inputs give unlike
 * outputs, for page contents that no two pages share.
 */
static inline uint64_t esx_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static inline int esx_is_zero(const void *p, size_t len)
{
	const uint64_t *q = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (q[i])
			return 0;
	return 1;
}

#endif
