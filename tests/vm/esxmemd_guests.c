// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd_guests: ballooning end to end, with real Linux guests under QEMU
 * whose RAM is on esxmem (esxmemfs), and esxmemd driving them:
 *
 *  - "alpha" runs esxballoon.ko over vhost-vsock-pci (guest-cid=3);
 *  - "beta" has QEMU's stock virtio-balloon-pci and a QMP socket, and no
 *    esxballoon: the daemon drives it over QMP and QEMU punches the pages
 *    the guest gives up out of its RAM file.
 * Both write 64 MiB and free it again (memory free in the guest, backed on
 * the host). Sharing is off, so that only balloons free memory. With the
 * pool made tight and held in the soft state, each guest's balloon takes
 * memory back towards its target (max 32 MiB): at least 8192 pages of what
 * each guest consumed; alpha's frames become BALLOONED in the module,
 * beta's are punched out of its RAM file. Both guests stay up, with no
 * OOM, and the daemon too.
 */
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>

#define RAMDIR		"/tmp/esxmem-guests"
#define CONF		"/tmp/esxmemd-guests.json"
#define LOG		"/tmp/esxmemd-guests.log"
#define QMP_SOCK	"/tmp/beta.qmp"
#define GUEST_PAGES	65536u		/* 256 MiB */
#define MAX_PAGES	8192u		/* "32M" */
#define WAIT_SECS	90.0
#define GIVE_BACK	8192u		/* pages each balloon must free */

static const char conf[] =
	"{\"balance_period\": 1, \"control_socket\": \"/tmp/esxmemd-guests.sock\",\n"
	" \"vm_defaults\": {\"max\": \"32M\", \"reclaim\": {\"swap\": false}}}\n";

struct guest {
	const char *name;
	const char *balloon;
	pid_t pid;
	char console[64];
	uint32_t id;
};

static struct guest guests[2] = {
	{ .name = "alpha", .balloon = "esx" },
	{ .name = "beta", .balloon = "virtio" },
};
static struct esxmem *nl;
static pid_t daemon_pid = -1, main_pid;
static char saved_pool[32], saved_share[8], saved_high[8];

static void cleanup(void)
{
	size_t i;

	if (getpid() != main_pid)
		return;
	for (i = 0; i < 2; i++)
		if (guests[i].pid > 0) {
			kill(guests[i].pid, SIGKILL);
			waitpid(guests[i].pid, NULL, 0);
		}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	esx_sysfs_write("pool_pages", saved_pool);
	esx_sysfs_write("state_high_permille", saved_high);
	esx_sysfs_write("share/enabled", saved_share);
	umount(RAMDIR);
}

static void start_guest(struct guest *g)
{
	char append[128], name[64];
	const char *esx[] = { "-name", name, "-device", "vhost-vsock-pci,guest-cid=3", NULL };
	const char *virtio[] = {
		"-name", name, "-device", "virtio-balloon-pci",
		"-qmp", "unix:" QMP_SOCK ",server=on,wait=off", NULL,
	};

	snprintf(g->console, sizeof(g->console), "/tmp/%s.console", g->name);
	snprintf(append, sizeof(append), "guest.work=reclaim guest.balloon=%s", g->balloon);
	snprintf(name, sizeof(name), "guest=%s", g->name);
	g->pid = esx_start_guest(GUEST_PAGES / 256, append, RAMDIR, g->console,
				 strcmp(g->balloon, "esx") ? virtio : esx);
	REQUIRE(g->pid >= 0, "fork");
}

static bool console_has(const struct guest *g, const char *text)
{
	return esx_file_has(g->console, text);
}

static void show_console(const struct guest *g)
{
	char title[64];

	snprintf(title, sizeof(title), "%s's console", g->name);
	esx_show_tail(g->console, title, 4096);
}

static bool named(struct guest *g)
{
	struct esxmem_vm_info **vms = NULL;
	size_t n = 0, i;

	if (esxmem_vm_list(nl, &vms, &n))
		return false;
	for (i = 0; i < n; i++)
		if (!strcmp(esxmem_vm_name(vms[i]), g->name))
			g->id = esxmem_vm_id(vms[i]);
	esxmem_vm_list_free(vms, n);
	return g->id != 0;
}

static struct esxmem_vm_info *info(uint32_t id)
{
	struct esxmem_vm_info *vi = NULL;

	if (esxmem_vm_get(nl, id, &vi))
		return vi;
	return vi;
}

/* Whether the guest @id consumes GIVE_BACK pages less than it did. */
static bool gave_back(uint32_t id, const struct esxmem_vm_info *then)
{
	struct esxmem_vm_info *now = info(id);
	bool gave = esxmem_vm_value(now, ESXMEM_VM_CONSUMED_PAGES) + GIVE_BACK <=
		    esxmem_vm_value(then, ESXMEM_VM_CONSUMED_PAGES);

	esxmem_vm_info_free(now);
	return gave;
}

static void show_log(void)
{
	esx_show_tail(LOG, "esxmemd's log", 6144);
}

static bool alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

int main(void)
{
	struct esxmem_vm_info *before[2], *after[2];
	char state[16];
	long pool;
	double t0;
	size_t i;
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	main_pid = getpid();
	esx_sysfs_string("pool_pages", saved_pool, sizeof(saved_pool));
	esx_sysfs_string("share/enabled", saved_share, sizeof(saved_share));
	esx_sysfs_string("state_high_permille", saved_high, sizeof(saved_high));
	atexit(cleanup);
	/* Sharing would free the guests' zero pages: only balloons here. */
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	REQUIRE_OK(esx_load_vsock(false));
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE(!mkdir(RAMDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("esxmem", RAMDIR, "esxmem", 0, NULL), "mount esxmemfs: %s", strerror(errno));
	f = fopen(CONF, "w");
	REQUIRE(f && fputs(conf, f) >= 0 && !fclose(f), "write " CONF);

	daemon_pid = esx_start_esxmemd(CONF, LOG, false);
	REQUIRE(daemon_pid > 0, "fork");
	t0 = esx_now();
	for (i = 0; i < 2; i++)
		start_guest(&guests[i]);
	for (i = 0; i < 2; i++) {
		struct guest *g = &guests[i];

		if (!ESX_WAIT_FOR(console_has(g, "GUEST-HOLD") || console_has(g, "FAIL") ||
				  !alive(g->pid), WAIT_SECS) ||
		    !console_has(g, "GUEST-MEMTEST-OK") || !console_has(g, "GUEST-BALLOON-LOADED")) {
			show_console(g);
			REQUIRE(0, "guest %s did not get to its balloon", g->name);
		}
		if (!ESX_WAIT_FOR(named(g), 30)) {
			int status = 0;

			if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
				fprintf(stderr, "esxmemd exited: status 0x%x\n", status);
				daemon_pid = -1;
			}
			show_log();
			REQUIRE(0, "the daemon did not name %s", g->name);
		}
	}
	printf("guests: booted, tested their memory and loaded their balloons in %.1f s\n",
	       esx_now() - t0);
	for (i = 0; i < 2; i++) {
		before[i] = info(guests[i].id);
		printf("%s: %llu pages consumed, target %llu\n", guests[i].name,
		       (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES),
		       (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_TARGET_PAGES));
		CHECK(esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES) > MAX_PAGES + 8192,
		      "%s consumes only %llu pages: nothing for its balloon", guests[i].name,
		      (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES));
	}

	/* A tight pool held in the soft state. */
	t0 = esx_now();
	pool = esx_pool_hold_soft();
	REQUIRE(pool > 0, "hold the pool in the soft state: %s", strerror((int)-pool));
	esx_sysfs_string("state", state, sizeof(state));
	CHECK(!strcmp(state, "soft"), "state %s with a pool of %ld pages", state, pool);

	/* Both balloons give back memory the guests had touched. */
	if (!ESX_WAIT_FOR(gave_back(guests[0].id, before[0]) && gave_back(guests[1].id, before[1]),
			  WAIT_SECS)) {
		show_log();
		CHECK(0, "the balloons did not take %u pages back from each guest", GIVE_BACK);
	}
	printf("balloons: %u pages back from each guest in %.1f s\n", GIVE_BACK, esx_now() - t0);
	for (i = 0; i < 2; i++) {
		after[i] = info(guests[i].id);
		printf("%s: %llu -> %llu pages consumed, %llu ballooned, %llu unbacked\n",
		       guests[i].name, (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES),
		       (unsigned long long)esxmem_vm_value(after[i], ESXMEM_VM_CONSUMED_PAGES),
		       (unsigned long long)esxmem_vm_state_pages(after[i], ESXMEM_PAGE_BALLOONED),
		       (unsigned long long)esxmem_vm_state_pages(after[i], ESXMEM_PAGE_UNBACKED));
		CHECK(alive(guests[i].pid), "%s died", guests[i].name);
		if (!alive(guests[i].pid) || console_has(&guests[i], "Kernel panic") ||
		    console_has(&guests[i], "Out of memory"))
			show_console(&guests[i]);
		CHECK(!console_has(&guests[i], "Kernel panic") &&
		      !console_has(&guests[i], "Out of memory"), "%s panicked or ran out of memory",
		      guests[i].name);
	}
	CHECK(esxmem_vm_state_pages(after[0], ESXMEM_PAGE_BALLOONED) >= GIVE_BACK,
	      "esxballoon's frames are BALLOONED in the module");
	CHECK(esxmem_vm_state_pages(after[1], ESXMEM_PAGE_BALLOONED) == 0 &&
	      esxmem_vm_state_pages(after[1], ESXMEM_PAGE_UNBACKED) >=
	      esxmem_vm_state_pages(before[1], ESXMEM_PAGE_UNBACKED) + GIVE_BACK,
	      "the stock balloon's pages are punched out of the RAM file, not BALLOONED");
	CHECK(alive(daemon_pid), "the daemon died");
	return vmtest_done("esxmemd_guests");
}
