// SPDX-License-Identifier: GPL-2.0
/*
 * A 1 GiB balloon across a restart of esxmemd. A tiny-VMM guest on esxmem
 * of 1.2 GiB (guest-cid=1; the test host is its own guest over
 * vsock_loopback) and a scripted guest that speaks as esxballoon.ko does:
 *
 *  - it locks 1 GiB (262144 frames, 512 LOCKs of 512) back to back: every
 *    LOCK is answered (the daemon paces by frames, it does not refuse);
 *  - SIGTERM: the daemon stops and the module still holds the 1 GiB as
 *    ballooned;
 *  - a new daemon: the guest reconnects (HELLO, RESET), is told a target
 *    no lower than before the restart (so esxballoon would not deflate),
 *    and locks its 1 GiB again, back to back: all answered, and the
 *    module's BALLOONED count never drops on the way;
 *  - the guest's connection ends: the frames stay ballooned, and the next
 *    session is told the same target (no deflation only to inflate again).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>
#include "../../guest-balloon/uapi/esxballoon.h"
#include "balloon_guest.h"

#define CONF		"/tmp/esxmemd-restart.json"
#define LOG		"/tmp/esxmemd-restart.log"
#define LOG2		"/tmp/esxmemd-restart2.log"
#define SOCK		"/tmp/esxmemd-restart.sock"
#define RAM_GFN		0x100u
#define GUEST_PAGES	300000u
#define FIRST		4096u		/* the frames the balloon holds start here */
#define BALLOON		262144u		/* 1 GiB */
#define WAIT_SECS	120.0
#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)

static struct esxmem *nl;
static uint32_t vm_id;

static uint64_t ballooned(void)
{
	struct esxmem_vm_info *info;
	uint64_t n;

	REQUIRE_OK(esxmem_vm_get(nl, vm_id, &info));
	n = esxmem_vm_state_pages(info, ESXMEM_PAGE_BALLOONED);
	esxmem_vm_info_free(info);
	return n;
}

static bool attached(void)
{
	struct esxmem_vm_info *info;
	bool yes;

	if (esxmem_vm_get(nl, vm_id, &info))
		return false;
	yes = esxmem_vm_kvm_attached(info) && !strcmp(esxmem_vm_name(info), "r1");
	esxmem_vm_info_free(info);
	return yes;
}

/*
 * Whether the daemon's own view of r1 (its status) has it attached: its
 * guest RAM is known, so its frames can be ballooned.
 */
static bool status_attached(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	static char buf[65536];
	json_t *r, *vm;
	bool yes = false;
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    write(fd, "{\"cmd\":\"vm\",\"name\":\"r1\"}\n", 25) != 25) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	r = json_loads(buf, 0, NULL);
	vm = json_object_get(r, "vm");
	yes = vm && json_is_true(json_object_get(vm, "attached"));
	json_decref(r);
	return yes;
}

/* A connection to the daemon's balloon port, or -1 while none listens. */
static int guest_connect(void)
{
	return bg_connect(10);
}

/* HELLO and RESET, as every connection of esxballoon starts: RESET's reply. */
static int greet(int fd, uint64_t *target)
{
	return bg_greet(fd, GUEST_PAGES, target);
}

/*
 * Locks the balloon's frames, 512 a LOCK, back to back as esxballoon does;
 * how many LOCKs were answered with TARGET, and the lowest BALLOONED count
 * seen between them in *@low.
 */
static unsigned int lock_balloon(int fd, uint64_t *low, double *secs)
{
	struct {
		struct esxballoon_gfns g;
		uint64_t gfn[ESXBALLOON_MAX_GFNS];
	} m = { .g = { .count = ESXBALLOON_MAX_GFNS } };
	unsigned int b, i, ok = 0;
	double t0 = esx_now();
	uint64_t v, now;

	*low = UINT64_MAX;
	for (b = 0; b < BALLOON / ESXBALLOON_MAX_GFNS; b++) {
		for (i = 0; i < ESXBALLOON_MAX_GFNS; i++)
			m.gfn[i] = RAM_GFN + FIRST + b * ESXBALLOON_MAX_GFNS + i;
		if (bg_request(fd, ESXBALLOON_MSG_LOCK, &m, (uint32_t)ESXBALLOON_GFNS_LEN(ESXBALLOON_MAX_GFNS),
			    &v) != ESXBALLOON_MSG_TARGET)
			break;
		ok++;
		if (b % 64 == 0) {
			now = ballooned();
			if (now < *low)
				*low = now;
		}
	}
	*secs = esx_now() - t0;
	return ok;
}

int main(void)
{
	unsigned int locks;
	uint64_t target1 = 0, target2 = 0, v, low;
	double secs;
	char pool0[32];
	pid_t guest, d;
	int fd;

	REQUIRE_OK(esx_load_vsock(true));
	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	{
		FILE *f = fopen(CONF, "w");

		REQUIRE(f, "create " CONF);
		/* Soft from the first page used, and a small max: a balloon target. */
		fputs("{\"pool\": {\"size\": \"20M\"}, \"balance_period\": 1,\n"
		      " \"thresholds\": {\"high\": 999, \"soft\": 998, \"hard\": 20, \"low\": 10},\n"
		      " \"control_socket\": \"" SOCK "\",\n"
		      " \"vms\": {\"r1\": {\"max\": \"1M\", \"reclaim\": {\"swap\": false}}}}\n", f);
		fclose(f);
	}
	guest = esx_start_tinyvmm(-1, "--pages", "300000", "--touch", "0", "--name", "guest=r1",
				  "--device", "vhost-vsock-pci,id=vsock0,guest-cid=1", NULL);
	REQUIRE(guest > 0, "start tinyvmm");
	{
		struct esxmem_vm_info **vms;
		size_t n, i;

		REQUIRE(WAIT_FOR(esxmem_vm_list(nl, &vms, &n) == 0 &&
				 ({ for (i = 0, vm_id = 0; i < n; i++)
					if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)guest)
						vm_id = esxmem_vm_id(vms[i]);
				    esxmem_vm_list_free(vms, n); vm_id != 0; })), "the guest's VM");
	}
	d = esx_start_esxmemd(CONF, LOG, true);
	REQUIRE(d > 0, "fork");
	REQUIRE(WAIT_FOR(attached() && status_attached()), "the daemon names and attaches the VM");

	fd = -1;
	REQUIRE(WAIT_FOR((fd = guest_connect()) >= 0), "the daemon's balloon port");
	CHECK(greet(fd, &v) == ESXBALLOON_MSG_TARGET, "HELLO and RESET answered");
	locks = lock_balloon(fd, &low, &secs);
	CHECK(locks == BALLOON / ESXBALLOON_MAX_GFNS && ballooned() == BALLOON,
	      "1 GiB locked back to back: %u of %u LOCKs answered in %.2f s, %llu ballooned",
	      locks, BALLOON / ESXBALLOON_MAX_GFNS, secs, (unsigned long long)ballooned());
	printf("bench: balloon_lock_1g %.2f s\n", secs);
	CHECK(bg_request(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0, &target1) == ESXBALLOON_MSG_TARGET,
	      "the target before the restart: %llu", (unsigned long long)target1);

	/* The restart. */
	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	CHECK(ballooned() == BALLOON, "with the daemon stopped the module holds %llu ballooned",
	      (unsigned long long)ballooned());
	CHECK(bg_request(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0, &v) == 0,
	      "the stopped daemon's connection is gone");
	close(fd);
	d = esx_start_esxmemd(CONF, LOG2, true);
	REQUIRE(d > 0, "fork");
	REQUIRE(WAIT_FOR(status_attached()), "the new daemon knows the VM");
	fd = -1;
	REQUIRE(WAIT_FOR((fd = guest_connect()) >= 0), "the new daemon's balloon port");
	CHECK(greet(fd, &target2) == ESXBALLOON_MSG_TARGET && ballooned() == BALLOON,
	      "reconnected, %llu still ballooned", (unsigned long long)ballooned());
	CHECK(target2 + target1 / 20 >= target1,
	      "the new daemon's target %llu is no lower than the old one's, %llu: no deflation",
	      (unsigned long long)target2, (unsigned long long)target1);
	locks = lock_balloon(fd, &low, &secs);
	CHECK(locks == BALLOON / ESXBALLOON_MAX_GFNS && ballooned() == BALLOON && low == BALLOON,
	      "1 GiB locked again: %u of %u LOCKs answered in %.2f s, %llu ballooned, at least %llu on the way",
	      locks, BALLOON / ESXBALLOON_MAX_GFNS, secs, (unsigned long long)ballooned(),
	      (unsigned long long)low);
	printf("bench: balloon_relock_1g %.2f s\n", secs);
	CHECK(bg_request(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0, &v) == ESXBALLOON_MSG_TARGET &&
	      v + target1 / 20 >= target1, "the target after the lock again: %llu",
	      (unsigned long long)v);
	close(fd);
	/* Once the daemon has seen the end (it greets a new connection): all still there. */
	REQUIRE(WAIT_FOR((fd = guest_connect()) >= 0), "the balloon port");
	CHECK(greet(fd, &v) == ESXBALLOON_MSG_TARGET && ballooned() == BALLOON &&
	      v + target1 / 20 >= target1,
	      "the end of the guest's connection leaves the frames ballooned: %llu, target %llu",
	      (unsigned long long)ballooned(), (unsigned long long)v);
	close(fd);
	CHECK(esx_file_has(LOG, "stay ballooned while the daemon is away"),
	      "the stopping daemon says what stays ballooned");

	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	{
		static const char *const logs[] = { LOG, LOG2 };
		char line[512];
		size_t i;

		for (i = 0; i < 2; i++) {
			FILE *f = fopen(logs[i], "r");

			while (f && fgets(line, sizeof(line), f))
				if (strstr(line, "balloon") && !strstr(line, "debug"))
					printf("esxmemd %zu: %s", i + 1, line);
			if (f)
				fclose(f);
		}
	}
	kill(guest, SIGKILL);
	waitpid(guest, NULL, 0);
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == 0), "the guest's memory comes back");
	esx_sysfs_write("pool_pages", pool0);
	esxmem_close(nl);
	return vmtest_done("esxmemd_restart");
}
