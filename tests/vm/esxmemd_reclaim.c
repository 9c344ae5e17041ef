// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd_reclaim: the daemon and the module reclaim together, and the
 * free-memory state walks down and back up.
 *
 * One VM of 32 MiB (max 12 MiB in the configuration) on a pool of 16 MiB:
 *  - the daemon gives it a swap file of max - min in the configured
 *    swap_dir, and no swap target while memory is plentiful;
 *  - with the module's reclaim thread stopped, the VM writes its memory
 *    and the state walks high -> soft -> hard -> low; in the hard state the
 *    daemon sets the VM's swap target to its target;
 *  - with the thread running again, the module compresses and swaps the VM
 *    out: the state walks low -> hard -> soft (and on to high when the
 *    target is reached first), and out of hard the daemon takes the swap
 *    target away (soft is the balloons' state); the compression cache's
 *    own pages are not handed out to targets;
 *  - the VM frees a quarter of its memory: the state is high, after
 *    exactly three changes on the way up (hysteresis: no flapping);
 *  - every page reads back bit-exact, and the daemon stays up throughout.
 * The states are followed through the module's events.
 */
#include <jansson.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "esxnl.h"
#include <libesxmem/libesxmem.h>

#define CONF		"/tmp/esxmemd-reclaim.json"
#define LOG		"/tmp/esxmemd-reclaim.log"
#define SOCK		"/tmp/esxmemd-reclaim.sock"
#define SWAPDIR		"/tmp/esxswap"
#define PAGES		8192u		/* the VM: 32 MiB */
#define POOL		4096u		/* "16M" */
#define MAX_PAGES	3072u		/* "12M" */
#define WORDS		(ESX_PAGE / 8)
#define WAIT_SECS	90.0

static const char conf[] =
	"{\"pool\": {\"size\": \"16M\"}, \"balance_period\": 1,\n"
	" \"control_socket\": \"" SOCK "\",\n"
	" \"vm_defaults\": {\"max\": \"12M\", \"reclaim\": {\"swap_dir\": \"" SWAPDIR "\"}}}\n";

static struct esxmem *nl;
static struct esxmem_events *events;
static int seen[256];
static unsigned int nr_seen;
static pid_t daemon_pid, main_pid;
static char saved_pool[32];

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	esx_sysfs_write("reclaim/enabled", "1");
	esx_sysfs_write("pool_pages", saved_pool);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void fill(uint64_t *p, uint32_t i)
{
	uint64_t seed = mix(i + 1);
	size_t w;

	for (w = 0; w < WORDS; w++)
		p[w] = (i & 1) ? (seed = mix(seed + w)) : (w & 1 ? seed : i);
	p[0] = i;
}

static unsigned int verify(char *map, uint32_t n)
{
	static uint64_t want[WORDS];
	unsigned int i, bad = 0;

	for (i = 0; i < n; i++) {
		fill(want, i);
		if (memcmp(map + (size_t)i * ESX_PAGE, want, ESX_PAGE))
			bad++;
	}
	return bad;
}

/* Takes in the events so far; whether the pool is now in @state. */
static bool state_is(int state)
{
	const struct esxmem_event *ev;

	while (esxmem_events_read(events, &ev) == 0)
		if (esxmem_event_type(ev) == ESXMEM_CMD_EVENT_STATE && nr_seen < 256 &&
		    (!nr_seen || seen[nr_seen - 1] != (int)esxmem_event_state(ev)))
			seen[nr_seen++] = (int)esxmem_event_state(ev);
	return nr_seen && seen[nr_seen - 1] == state;
}

static struct esxmem_vm_info *info(uint32_t id)
{
	return esx_vm_info(nl, id);
}

/* Writes pages from *next on until free memory is at most @free. */
static void write_until(char *map, uint32_t *next, long free)
{
	while (*next < PAGES && esx_sysfs_long("free_pages") > free) {
		fill((uint64_t *)(map + (size_t)*next * ESX_PAGE), *next);
		(*next)++;
	}
}

/* The daemon's avail_pages, from its status on the control socket, or -1. */
static long daemon_avail(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	static const char req[] = "{\"cmd\": \"status\"}\n";
	static char buf[65536];
	size_t len = 0;
	ssize_t n;
	long avail = -1;
	json_t *r;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr)) ||
	    write(s, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		if (s >= 0)
			close(s);
		return -1;
	}
	while (len < sizeof(buf) - 1 && (n = read(s, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(s);
	buf[len] = '\0';
	r = json_loads(buf, 0, NULL);
	if (json_is_integer(json_object_get(r, "avail_pages")))
		avail = (long)json_integer_value(json_object_get(r, "avail_pages"));
	json_decref(r);
	return avail;
}

/*
 * What the targets hand out: the pool less the high state's 6% and the
 * pages charged to no VM, shared frames and the compression cache's own.
 */
static bool avail_counts_zpool(long *want)
{
	long zpool = esx_sysfs_long("reclaim/zpool_pages");

	*want = POOL - POOL * 60 / 1000 - esx_sysfs_long("share/pages_shared") - zpool;
	return zpool > 0 && daemon_avail() == *want;
}

static bool daemon_alive(void)
{
	return waitpid(daemon_pid, NULL, WNOHANG) == 0;
}

/* Whether the states seen so far hold @want in order. */
static bool walked(const int *want, unsigned int n)
{
	unsigned int i, k = 0;

	for (i = 0; i < nr_seen && k < n; i++)
		if (seen[i] == want[k])
			k++;
	return k == n;
}

static void print_walk(void)
{
	static const char *const names[] = { "high", "soft", "hard", "low" };
	unsigned int i;

	printf("states:");
	for (i = 0; i < nr_seen; i++)
		printf(" %s", seen[i] >= 0 && seen[i] < 4 ? names[seen[i]] : "?");
	printf("\n");
}

int main(void)
{
	static const int down[] = { ESXMEM_STATE_SOFT, ESXMEM_STATE_HARD, ESXMEM_STATE_LOW };
	static const int up[] = { ESXMEM_STATE_LOW, ESXMEM_STATE_HIGH };
	long changes, want = 0;
	struct esxmem_vm_info *vi;
	uint32_t id, next = 0;
	uint64_t target;
	char *map;
	FILE *f;
	int fd;

	main_pid = getpid();
	esx_sysfs_string("pool_pages", saved_pool, sizeof(saved_pool));
	atexit(restore);
	esx_background_off();
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE_OK(esxmem_events_open(&events));
	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=64m"), "mount: %s", strerror(errno));
	f = fopen(CONF, "w");
	REQUIRE(f && fputs(conf, f) >= 0 && !fclose(f), "write " CONF);
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "0"));

	daemon_pid = esx_start_esxmemd(CONF, LOG, true);
	REQUIRE(daemon_pid > 0, "fork");
	fd = esx_open();
	map = esx_map(fd, PAGES, 0);
	REQUIRE(map, "mmap");
	id = esx_stats(fd).id;
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("pool_pages") == POOL &&
			   esxmem_vm_value(info(id), ESXMEM_VM_SWAP_SLOTS) == MAX_PAGES, WAIT_SECS),
	      "the daemon set the pool (%ld pages) and gave the VM a swap file of max - min (%llu slots)",
	      esx_sysfs_long("pool_pages"), (unsigned long long)esxmem_vm_value(info(id), ESXMEM_VM_SWAP_SLOTS));
	CHECK(esxmem_vm_value(info(id), ESXMEM_VM_SWAP_TARGET_PAGES) == ESXMEM_NO_TARGET, "a swap target in the high state");

	/* Down, with nothing reclaimed. */
	write_until(map, &next, 150);
	CHECK(ESX_WAIT_FOR(state_is(ESXMEM_STATE_SOFT), 10), "not soft at 150 pages free");
	write_until(map, &next, 70);
	CHECK(ESX_WAIT_FOR(state_is(ESXMEM_STATE_HARD), 10), "not hard at 70 pages free");
	CHECK(ESX_WAIT_FOR((target = esxmem_vm_value(info(id), ESXMEM_VM_TARGET_PAGES)) != 0 &&
			   esxmem_vm_value(info(id), ESXMEM_VM_SWAP_TARGET_PAGES) == target, WAIT_SECS),
	      "in hard, the swap target %llu is not the target %llu",
	      (unsigned long long)esxmem_vm_value(info(id), ESXMEM_VM_SWAP_TARGET_PAGES), (unsigned long long)target);
	/* Just into low: further pages of a VM above its target would wait. */
	write_until(map, &next, 39);
	CHECK(ESX_WAIT_FOR(state_is(ESXMEM_STATE_LOW), 10), "not low at 39 pages free");
	CHECK(walked(down, 3), "the way down");
	/*
	 * An event carries the state when it is sent, so the way up, quicker
	 * than the events, may skip one; the count of changes has them all.
	 */
	changes = esx_sysfs_long("state_changes");

	/* Back up to soft, by compression and swapping. */
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));
	/*
	 * The swap target may take it on to high, and the events may skip
	 * soft: out of hard and low is what counts here, and the count of
	 * changes below says that every state was passed.
	 */
	CHECK(ESX_WAIT_FOR(state_is(ESXMEM_STATE_SOFT) || state_is(ESXMEM_STATE_HIGH), WAIT_SECS),
	      "not back to soft");
	vi = info(id);
	CHECK(esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS) + esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_OUTS) > 0, "swapped %llu, compressed %llu",
	      (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS), (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_OUTS));
	CHECK(ESX_WAIT_FOR(esxmem_vm_value(info(id), ESXMEM_VM_SWAP_TARGET_PAGES) == ESXMEM_NO_TARGET, WAIT_SECS),
	      "the swap target stayed after the hard state");
	CHECK(ESX_WAIT_FOR(avail_counts_zpool(&want), WAIT_SECS),
	      "the compression cache's %ld pages are not handed out: %ld to hand out, want %ld",
	      esx_sysfs_long("reclaim/zpool_pages"), daemon_avail(), want);
	printf("reclaimed: %u pages written, %llu swapped and %llu compressed (swap target %llu)\n",
	       next, (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SWAP_OUTS), (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_COMPRESS_OUTS),
	       (unsigned long long)target);

	/* Pressure falls: the guest gives up a quarter of its memory. */
	REQUIRE_OK(esx_punch(fd, 0, (off_t)(PAGES / 4) * ESX_PAGE));
	CHECK(ESX_WAIT_FOR(state_is(ESXMEM_STATE_HIGH), 10), "not back to high");
	print_walk();
	CHECK(walked(up, 2),
	      "the walk high -> soft -> hard -> low -> ... -> high");
	CHECK(esx_sysfs_long("state_changes") - changes == 3,
	      "%ld state changes on the way up, want 3: low -> hard -> soft -> high",
	      esx_sysfs_long("state_changes") - changes);
	CHECK(esx_is_zero(map, (size_t)(PAGES / 4) * ESX_PAGE), "the hole is not zero");
	CHECK(verify(map, next) == PAGES / 4, "pages beyond the hole differ");
	CHECK(daemon_alive(), "the daemon died");
	munmap(map, PAGES * ESX_PAGE);
	close(fd);
	esxmem_events_close(events);
	return vmtest_done("esxmemd_reclaim");
}
