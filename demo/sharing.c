// SPDX-License-Identifier: GPL-2.0
/*
 * Demo scenario "sharing": three identical idle Linux guests, 256 MiB each,
 * boot on esxmem (RAM on esxmemfs) with esxmemd running, on a pool smaller
 * than their combined size. Every two seconds it shows, and records, what
 * each guest consumes and what page sharing has saved: pages mapped to the
 * zero frame and pages backed by a frame shared with identical pages
 * elsewhere. ESX found most of an idle guest's memory shareable; so should
 * this.
 *
 * Runs in the test host (make demo): "sharing [SECONDS]" (default 90).
 * Lines for the viewer start "demo: ";
 * "data: sharing.csv <row>" lines are the report's raw data. Exits non-zero
 * if sharing saved nothing or a guest died.
 */
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>

#define QEMU		"/usr/bin/qemu-system-x86_64"
#define RAMDIR		"/tmp/esxmem-demo"
#define CONF		"/tmp/esxmemd-demo.json"
#define LOG		"/tmp/esxmemd-demo.log"
#define GUESTS		3
#define GUEST_PAGES	65536u		/* 256 MiB each */
#define POOL_PAGES	(GUESTS * GUEST_PAGES * 3 / 4)	/* 576 MiB for 768 */
#define SAMPLE_SECS	2
#define DURATION_SECS	90		/* the guests boot in ~30 s, sharing takes ~30 s */

static const char conf[] =
	"{\"balance_period\": 1, \"pool\": {\"size\": \"576M\"},\n"
	" \"control_socket\": \"/tmp/esxmemd-demo.sock\"}\n";

static pid_t guests[GUESTS], daemon_pid, main_pid;
static struct esxmem *nl;
static char saved_pool[32], saved_share[8];

static void stop_all(void)
{
	int i;

	if (getpid() != main_pid)
		return;
	for (i = 0; i < GUESTS; i++)
		if (guests[i] > 0) {
			kill(guests[i], SIGKILL);
			waitpid(guests[i], NULL, 0);
		}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	umount(RAMDIR);
	/* The pool esxmemd sized, and the scanner, as they were. */
	esx_sysfs_write("pool_pages", saved_pool);
	esx_sysfs_write("share/enabled", saved_share);
}

static pid_t start_guest(int i)
{
	char name[32], console[64];
	pid_t pid = fork();

	if (pid)
		return pid;
	snprintf(name, sizeof(name), "guest=idle%d", i + 1);
	snprintf(console, sizeof(console), "/tmp/idle%d.console", i + 1);
	int out = open(console, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (out < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
	execl(QEMU, QEMU, "-name", name, "-accel", "kvm", "-cpu", "host", "-m", "256",
	      "-smp", "1", "-nographic", "-vga", "none", "-no-reboot",
	      "-kernel", "/guest/vmlinuz", "-initrd", "/guest/initrd.cpio",
	      "-append", "console=ttyS0 guest.work=hold panic=-1",
	      "-object", "memory-backend-file,id=ram0,size=256M,mem-path=" RAMDIR ",share=on",
	      "-machine", "memory-backend=ram0", (char *)NULL);
	_exit(127);
}

static bool alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

static double mib(uint64_t pages)
{
	return pages / 256.0;
}

int main(int argc, char **argv)
{
	long duration = argc > 1 ? strtol(argv[1], NULL, 10) : DURATION_SECS;
	struct esxmem_vm_info *vms;
	uint64_t consumed = 0, zero, shared, frames, saved = 0, first_saved = 0;
	double t0, t;
	size_t n, i;
	FILE *f;
	int g;

	setvbuf(stdout, NULL, _IOLBF, 0);
	REQUIRE(duration >= 30 && duration <= 3600, "usage: sharing [SECONDS, 30..3600]");
	main_pid = getpid();
	esx_sysfs_string("pool_pages", saved_pool, sizeof(saved_pool));
	esx_sysfs_string("share/enabled", saved_share, sizeof(saved_share));
	atexit(stop_all);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE(!mkdir(RAMDIR, 0700) || errno == EEXIST, "mkdir " RAMDIR);
	REQUIRE(!mount("esxmem", RAMDIR, "esxmem", 0, NULL), "mount esxmemfs: %s", strerror(errno));
	f = fopen(CONF, "w");
	REQUIRE(f && fputs(conf, f) >= 0 && !fclose(f), "write " CONF);
	daemon_pid = esx_start_esxmemd(CONF, LOG, false);
	REQUIRE(daemon_pid > 0, "fork");
	printf("demo: == sharing: %d identical idle Linux guests of 256 MiB on a pool of %u MiB ==\n",
	       GUESTS, POOL_PAGES / 256);
	printf("demo: The guests boot the same kernel and initramfs, so much of their memory\n"
	       "demo: is the same: esxmem finds identical pages by content and backs them by\n"
	       "demo: one copy-on-write frame (zero pages by the zero frame). Watch SAVED grow.\n");
	for (g = 0; g < GUESTS; g++)
		guests[g] = start_guest(g);
	printf("data: sharing.csv seconds,consumed_mib,zero_mib,shared_mib,frames_mib,saved_mib\n");
	printf("demo: %6s %12s %10s %12s %10s\n", "TIME", "CONSUMED", "ZERO", "SHARED", "SAVED");
	t0 = esx_now();
	for (t = 0; t <= duration; t = esx_now() - t0) {
		consumed = zero = shared = 0;
		if (!esxmem_vm_list(nl, &vms, &n)) {
			for (i = 0; i < n; i++) {
				consumed += vms[i].consumed_pages;
				zero += vms[i].state_pages[ESXMEM_PAGE_ZERO];
				shared += vms[i].state_pages[ESXMEM_PAGE_SHARED];
			}
			esxmem_vm_list_free(vms, n);
		}
		/* Pages mapped to a shared frame, less the frames themselves. */
		frames = (uint64_t)esx_sysfs_long("share/pages_shared");
		saved = zero + (shared > frames ? shared - frames : 0);
		if (!first_saved && t >= 20)
			first_saved = saved;
		printf("data: sharing.csv %.0f,%.1f,%.1f,%.1f,%.1f,%.1f\n", t, mib(consumed),
		       mib(zero), mib(shared), mib(frames), mib(saved));
		printf("demo: %5.0fs %9.1f MiB %6.1f MiB %8.1f MiB %6.1f MiB\n", t, mib(consumed),
		       mib(zero), mib(shared), mib(saved));
		for (g = 0; g < GUESTS; g++)
			REQUIRE(alive(guests[g]), "guest idle%d died", g + 1);
		usleep(SAMPLE_SECS * 1000000);
	}
	printf("summary: sharing saved_mib %.1f\n", mib(saved));
	/* Of what the guests would consume without sharing. */
	printf("summary: sharing saved_percent %.1f\n",
	       consumed + saved ? 100.0 * saved / (consumed + saved) : 0);
	REQUIRE(saved > GUEST_PAGES / 4, "sharing saved only %.1f MiB", mib(saved));
	REQUIRE(saved >= first_saved, "savings fell: %.1f MiB after 20 s, %.1f MiB at the end",
		mib(first_saved), mib(saved));
	printf("demo: sharing saved %.1f MiB: the guests consume %.1f MiB instead of %.1f MiB.\n",
	       mib(saved), mib(consumed), mib(consumed + saved));
	return 0;
}
