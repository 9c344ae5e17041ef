// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd's balloon server, driven by a scripted guest over vsock_loopback
 * (the test host is its own guest: peer CID 1). A tiny-VMM guest on
 * esxmem stands for the VM; its command line carries "--device
 * vhost-vsock-pci,guest-cid=1" the way QEMU's does.
 *
 *  - HELLO, RESET, GET_TARGET get TARGET replies with the VM's balloon
 *    target (the daemon's status says the same); LOCK makes the frames
 *    BALLOONED in the module; UNLOCK gives them back; the end of the
 *    connection gives everything back;
 *  - a LOCK with a frame whose page the host holds (here a pipe, as a DMA
 *    pin would) goes through: the module balloons the others, that one
 *    stays backed, and UNLOCK takes all of them back;
 *  - hostile input gets ERROR and the end of the connection, and the host
 *    stays healthy: bad magic, a request before HELLO, a frame outside the
 *    guest's RAM, a frame locked twice, a half message; a flood of
 *    requests is paced (answered, over more than a second), not refused;
 *    a second connection for the same VM is refused;
 *  - esxballoon.ko against the daemon: the handshake and the target go
 *    through; the host's own frames, which it then offers, are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <limits.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>
#include "../../guest-balloon/uapi/esxballoon.h"
#include "balloon_guest.h"

#define CONF		"/tmp/esxmemd-balloon.json"
#define SOCK		"/tmp/esxmemd-balloon.sock"
#define LOG		"/tmp/esxmemd-balloon.log"
#define RAM_GFN		0x100u
#define GUEST_PAGES	4000u
#define WAIT_SECS	60.0
#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)
/*
 * What the VM consumes moves by a page or two as the guest runs and the
 * sharing scanner merges: a balloon target is that close to another.
 */
#define SLACK		8

static bool near(uint64_t a, uint64_t b)
{
	return (a > b ? a - b : b - a) <= SLACK;
}

static struct esxmem *nl;
static uint32_t vm_id;

/* A value from the driver's /sys/kernel/esxballoon/, or -1. */
static long driver_value(const char *name)
{
	char path[96], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/esxballoon/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return buf[0] ? strtol(buf, NULL, 10) : -1;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f, "create %s", path);
	fputs(text, f);
	fclose(f);
}

static uint64_t ballooned(void)
{
	struct esxmem_vm_info *info;
	uint64_t n;

	REQUIRE_OK(esxmem_vm_get(nl, vm_id, &info));
	n = esxmem_vm_state_pages(info, ESXMEM_PAGE_BALLOONED);
	esxmem_vm_info_free(info);
	return n;
}

static uint64_t consumed(void)
{
	struct esxmem_vm_info *info;
	uint64_t n;

	REQUIRE_OK(esxmem_vm_get(nl, vm_id, &info));
	n = esxmem_vm_value(info, ESXMEM_VM_CONSUMED_PAGES);
	esxmem_vm_info_free(info);
	return n;
}

static bool attached(void)
{
	struct esxmem_vm_info *info;
	bool yes;

	if (esxmem_vm_get(nl, vm_id, &info))
		return false;
	yes = esxmem_vm_kvm_attached(info) && !strcmp(esxmem_vm_name(info), "b1");
	esxmem_vm_info_free(info);
	return yes;
}

static int guest_connect(void)
{
	int fd = bg_connect(10);

	REQUIRE(fd >= 0, "connect to the daemon's balloon port: %s", strerror(errno));
	return fd;
}

static void send_msg(int fd, uint16_t type, const void *payload, uint32_t len)
{
	REQUIRE(bg_send(fd, type, payload, len), "send");
}

static int greet(int fd, uint64_t *value)
{
	return bg_greet(fd, GUEST_PAGES, value);
}

/* A value of b1 in the daemon's status, or -1. */
static int64_t status_value(const char *key)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	static char buf[65536];
	int64_t target = -1;
	size_t len = 0;
	ssize_t n;
	json_t *r, *vm;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    write(fd, "{\"cmd\":\"vm\",\"name\":\"b1\"}\n", 25) != 25) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	r = json_loads(buf, 0, NULL);
	vm = json_object_get(r, "vm");
	if (vm)
		target = json_integer_value(json_object_get(vm, key));
	json_decref(r);
	return target;
}

/* The daemon's balloon target for b1, from its status. */
static int64_t status_target(void)
{
	return status_value("balloon_target_pages");
}

/* The guest's RAM, mapped here through its own /dev/esxmem fd. */
static uint8_t *map_guest_ram(pid_t guest)
{
	char dir[64], path[PATH_MAX], target[PATH_MAX];
	int pidfd, fd = -1, theirs = -1;
	struct dirent *e;
	uint8_t *ram;
	ssize_t n;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)guest);
	dp = opendir(dir);
	REQUIRE(dp, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(dp)) && theirs < 0) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (!strcmp(target, ESXMEM_DEVICE_PATH))
				theirs = atoi(e->d_name);
		}
	}
	closedir(dp);
	REQUIRE(theirs >= 0, "the guest's /dev/esxmem fd");
	pidfd = (int)syscall(SYS_pidfd_open, guest, 0);
	if (pidfd >= 0)
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, theirs, 0);
	REQUIRE(fd >= 0, "pidfd_getfd: %s", strerror(errno));
	close(pidfd);
	ram = esx_map(fd, GUEST_PAGES, 0);
	REQUIRE(ram, "map the guest's RAM: %s", strerror(errno));
	close(fd);
	return ram;
}

/* Whether the daemon ended the connection with ERROR. */
static bool refused(int fd)
{
	uint64_t v;
	int type = bg_recv(fd, &v);

	return type == ESXBALLOON_MSG_ERROR && bg_recv(fd, &v) == 0;
}

int main(void)
{
	struct esxmem_vm_info **vms;
	pid_t guest, d;
	uint64_t target, target0;
	size_t n, i;
	int fd, fd2, k;
	char pool0[32];

	REQUIRE_OK(esx_load_vsock(true));
	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	/* Every state but high from the first page used, and a small max: a
	 * balloon target above zero. */
	write_text(CONF, "{\"pool\": {\"size\": \"20M\"}, \"balance_period\": 1,\n"
		   " \"thresholds\": {\"high\": 999, \"soft\": 998, \"hard\": 20, \"low\": 10},\n"
		   " \"control_socket\": \"" SOCK "\", \"vms\": {\"b1\": {\"max\": \"1M\"}}}\n");
	guest = esx_start_tinyvmm(-1, "--pages", "4000", "--touch", "10", "--name", "guest=b1",
				  "--device", "vhost-vsock-pci,guest-cid=1", NULL);
	REQUIRE(guest > 0, "start tinyvmm");
	REQUIRE(WAIT_FOR(esxmem_vm_list(nl, &vms, &n) == 0 &&
			 ({ for (i = 0, vm_id = 0; i < n; i++)
				if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)guest)
					vm_id = esxmem_vm_id(vms[i]);
			    esxmem_vm_list_free(vms, n); vm_id != 0; })), "the guest's VM");
	d = esx_start_esxmemd(CONF, LOG, true);
	REQUIRE(d > 0, "fork");
	REQUIRE(WAIT_FOR(attached()), "the daemon names and attaches the VM");
	REQUIRE(WAIT_FOR(status_target() > 0), "a balloon target above zero");

	/* The protocol as esxballoon speaks it. */
	fd = guest_connect();
	CHECK(greet(fd, &target) == ESXBALLOON_MSG_TARGET && target > 0,
	      "HELLO and RESET answered with a target: %llu", (unsigned long long)target);
	CHECK(bg_request(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0, &target) == ESXBALLOON_MSG_TARGET &&
	      near(target, (uint64_t)status_target()), "GET_TARGET: %llu, as the status says",
	      (unsigned long long)target);
	target0 = target;
	/*
	 * Pages the guest never touches: from 3000 on. They hold no memory,
	 * so ballooning them takes nothing and the target stays: it does not
	 * grow with the balloon (which would take it to the guest's cap).
	 */
	CHECK(bg_frames(fd, ESXBALLOON_MSG_LOCK, RAM_GFN + 3000, 512, &target) ==
	      ESXBALLOON_MSG_TARGET && ballooned() == 512, "LOCK: %llu ballooned",
	      (unsigned long long)ballooned());
	/* Once the daemon has seen them, in a balance if not at once. */
	CHECK(WAIT_FOR(status_value("ballooned_pages") == 512) && near(target, target0) &&
	      near((uint64_t)status_target(), target0),
	      "locking never-touched frames leaves the target at %llu: %llu, %lld in the status",
	      (unsigned long long)target0, (unsigned long long)target, (long long)status_target());
	CHECK(bg_frames(fd, ESXBALLOON_MSG_UNLOCK, RAM_GFN + 3000, 100, &target) ==
	      ESXBALLOON_MSG_TARGET && ballooned() == 412 && near(target, target0),
	      "UNLOCK: %llu ballooned, target %llu", (unsigned long long)ballooned(),
	      (unsigned long long)target);
	/* One VM, one balloon session. */
	fd2 = guest_connect();
	{
		uint64_t v;

		CHECK(bg_recv(fd2, &v) == 0, "a second connection for the VM is refused");
	}
	close(fd2);
	/*
	 * The end of the connection and the guest's RESET keep the frames
	 * ballooned, and the next session's target is the same: the guest
	 * locks what it holds again, nothing is deflated to be inflated again.
	 */
	close(fd);
	CHECK(WAIT_FOR(status_target() >= 0) && ballooned() == 412,
	      "the end of the connection keeps the frames ballooned: %llu",
	      (unsigned long long)ballooned());
	fd = guest_connect();
	CHECK(greet(fd, &target) == ESXBALLOON_MSG_TARGET && near(target, target0),
	      "reconnected: the target after RESET is still %llu: %llu",
	      (unsigned long long)target0, (unsigned long long)target);
	CHECK(bg_frames(fd, ESXBALLOON_MSG_LOCK, RAM_GFN + 3100, 412, &target) ==
	      ESXBALLOON_MSG_TARGET && ballooned() == 412 && near(target, target0),
	      "the frames locked again: %llu ballooned, target %llu",
	      (unsigned long long)ballooned(), (unsigned long long)target);
	CHECK(bg_request(fd, ESXBALLOON_MSG_RESET, NULL, 0, &target) == ESXBALLOON_MSG_TARGET &&
	      near(target, target0) && ballooned() == 412, "RESET: target %llu, %llu ballooned",
	      (unsigned long long)target, (unsigned long long)ballooned());
	CHECK(bg_frames(fd, ESXBALLOON_MSG_LOCK, RAM_GFN + 3100, 412, &target) ==
	      ESXBALLOON_MSG_TARGET &&
	      bg_frames(fd, ESXBALLOON_MSG_UNLOCK, RAM_GFN + 3100, 412, &target) ==
	      ESXBALLOON_MSG_TARGET && ballooned() == 0,
	      "UNLOCK gives them back: %llu ballooned", (unsigned long long)ballooned());
	close(fd);

	/*
	 * A page the host holds: the guest's frame 3010, written (so it has a
	 * page) and held by a pipe as a DMA pin would hold it.
	 */
	{
		uint8_t *ram = map_guest_ram(guest);
		struct iovec iov = { .iov_base = ram + 3010 * ESX_PAGE, .iov_len = ESX_PAGE };
		int pfd[2];

		memset(ram + 3010 * ESX_PAGE, 0x5a, ESX_PAGE);
		REQUIRE(!pipe(pfd) && vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)ESX_PAGE,
			"a pipe holds the page: %s", strerror(errno));
		fd = guest_connect();
		CHECK(greet(fd, &target) == ESXBALLOON_MSG_TARGET, "greeted");
		CHECK(bg_frames(fd, ESXBALLOON_MSG_LOCK, RAM_GFN + 3000, 16, &target) ==
		      ESXBALLOON_MSG_TARGET && ballooned() == 15,
		      "LOCK with a held frame: accepted, the 15 others ballooned: %llu",
		      (unsigned long long)ballooned());
		CHECK(ram[3010 * ESX_PAGE] == 0x5a, "the held frame stays backed");
		close(pfd[0]);
		close(pfd[1]);
		CHECK(bg_frames(fd, ESXBALLOON_MSG_UNLOCK, RAM_GFN + 3000, 16, &target) ==
		      ESXBALLOON_MSG_TARGET && ballooned() == 0,
		      "UNLOCK of all 16: %llu still ballooned", (unsigned long long)ballooned());
		close(fd);
		munmap(ram, (size_t)GUEST_PAGES * ESX_PAGE);
		CHECK(WAIT_FOR(esx_file_has(LOG, "in use on the host")), "the daemon says why");
	}

	/* Hostile guests. */
	fd = guest_connect();
	{
		struct esxballoon_hdr h = { .magic = 0xdeadbeef, .version = 1, .type = 3 };

		REQUIRE(send(fd, &h, sizeof(h), MSG_NOSIGNAL) == sizeof(h), "send");
	}
	CHECK(refused(fd), "bad magic: ERROR and the end");
	close(fd);

	fd = guest_connect();
	send_msg(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0);
	CHECK(refused(fd), "a request before HELLO: ERROR and the end");
	close(fd);

	fd = guest_connect();
	CHECK(greet(fd, &target) == ESXBALLOON_MSG_TARGET, "greeted");
	CHECK(bg_frames(fd, ESXBALLOON_MSG_LOCK, RAM_GFN + 3000, 8, &target) == ESXBALLOON_MSG_TARGET &&
	      ballooned() == 8, "8 locked");
	send_msg(fd, ESXBALLOON_MSG_LOCK, &(struct { struct esxballoon_gfns g; uint64_t x[1]; })
		 { .g = { .count = 1 }, .x = { RAM_GFN + GUEST_PAGES + 5 } },
		 (uint32_t)ESXBALLOON_GFNS_LEN(1));
	CHECK(refused(fd), "a frame outside the guest's RAM: ERROR and the end");
	close(fd);
	CHECK(WAIT_FOR(status_target() >= 0) && ballooned() == 8,
	      "its 8 frames stay ballooned: %llu", (unsigned long long)ballooned());

	fd = guest_connect();
	CHECK(greet(fd, &target) == ESXBALLOON_MSG_TARGET &&
	      bg_frames(fd, ESXBALLOON_MSG_LOCK, RAM_GFN + 3000, 8, &target) == ESXBALLOON_MSG_TARGET,
	      "8 locked");
	send_msg(fd, ESXBALLOON_MSG_LOCK, &(struct { struct esxballoon_gfns g; uint64_t x[1]; })
		 { .g = { .count = 1 }, .x = { RAM_GFN + 3003 } }, (uint32_t)ESXBALLOON_GFNS_LEN(1));
	CHECK(refused(fd), "a frame locked twice: ERROR and the end");
	close(fd);
	/* A session that takes the 8 back. */
	fd = guest_connect();
	CHECK(greet(fd, &target) == ESXBALLOON_MSG_TARGET &&
	      bg_frames(fd, ESXBALLOON_MSG_LOCK, RAM_GFN + 3000, 8, &target) == ESXBALLOON_MSG_TARGET &&
	      bg_frames(fd, ESXBALLOON_MSG_UNLOCK, RAM_GFN + 3000, 8, &target) == ESXBALLOON_MSG_TARGET &&
	      ballooned() == 0, "the 8 given back: %llu ballooned", (unsigned long long)ballooned());
	close(fd);

	/*
	 * A flood of requests, more than two seconds' worth: paced, not
	 * refused. Every one is answered, across at least one second.
	 */
	fd = guest_connect();
	CHECK(greet(fd, &target) == ESXBALLOON_MSG_TARGET, "greeted");
	{
		int flood = 2 * ESXBALLOON_HOST_REQUESTS_PER_SEC + 100, answered = 0;
		double t0 = esx_now();
		uint64_t v;

		for (k = 0; k < flood; k++)
			send_msg(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0);
		while (answered < flood && bg_recv(fd, &v) == ESXBALLOON_MSG_TARGET)
			answered++;
		CHECK(answered == flood && esx_now() - t0 >= 1.0,
		      "a flood of %d requests: %d answered in %.2f s (paced)", flood, answered,
		      esx_now() - t0);
	}
	close(fd);

	fd = guest_connect();
	REQUIRE(send(fd, "Bal", 3, MSG_NOSIGNAL) == 3, "send");
	close(fd);
	CHECK(WAIT_FOR(status_target() >= 0) && ballooned() == 0,
	      "after a half message the daemon still answers, nothing held");

	/*
	 * esxballoon.ko itself, in the test host, against the daemon: the
	 * handshake goes through and the driver takes the daemon's target;
	 * the frames it then offers are the test host's own, which no VM's
	 * RAM holds, so the daemon ends the session, nothing is ballooned,
	 * and the driver comes back (a new session) and unloads cleanly.
	 */
	REQUIRE_OK(esx_load_module("/lib/modules/esxmem/esxballoon.ko", "host_cid=1"));
	CHECK(WAIT_FOR(driver_value("target_pages") > 0),
	      "the driver took the daemon's target: %ld", driver_value("target_pages"));
	CHECK(WAIT_FOR(driver_value("reconnects") >= 1),
	      "the daemon refused the host's frames and the driver came back");
	CHECK(ballooned() == 0, "no foreign frame ballooned: %llu", (unsigned long long)ballooned());
	CHECK(!syscall(SYS_delete_module, "esxballoon", O_NONBLOCK), "rmmod esxballoon: %s",
	      strerror(errno));
	CHECK(WAIT_FOR(status_target() >= 0), "the daemon still answers");

	/*
	 * Memory the balloon took: 100 frames the host writes (so they hold
	 * pages of their own) and the balloon locks. The target counts them as the VM's
	 * before and after the LOCK alike. Then the thresholds of a normal
	 * host put the pool in the high state, far above its threshold: the
	 * balloon gives its memory back into that free memory (target 0).
	 */
	{
		uint8_t *ram = map_guest_ram(guest);
		int64_t before;

		/* Each page its own content: sharing must not merge them. */
		for (k = 0; k < 100; k++)
			memset(ram + (2000 + k) * ESX_PAGE, 0x10 + k, ESX_PAGE);
		munmap(ram, (size_t)GUEST_PAGES * ESX_PAGE);
		fd = guest_connect();
		CHECK(greet(fd, &target) == ESXBALLOON_MSG_TARGET, "greeted");
		CHECK(WAIT_FOR(status_target() >= (int64_t)target0 + 100 - SLACK) &&
		      bg_request(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0, &target) ==
		      ESXBALLOON_MSG_TARGET && target + SLACK >= target0 + 100,
		      "the 100 written pages raise the target: %llu (%lld in the status, %llu consumed)",
		      (unsigned long long)target, (long long)status_target(),
		      (unsigned long long)consumed());
		before = (int64_t)target;
		CHECK(bg_frames(fd, ESXBALLOON_MSG_LOCK, RAM_GFN + 2000, 100, &target) ==
		      ESXBALLOON_MSG_TARGET && ballooned() == 100 && near(target, (uint64_t)before),
		      "locking them: %llu ballooned, target %llu as before",
		      (unsigned long long)ballooned(), (unsigned long long)target);
		write_text(CONF, "{\"pool\": {\"size\": \"20M\"}, \"balance_period\": 1,\n"
			   " \"control_socket\": \"" SOCK "\", \"vms\": {\"b1\": {\"max\": \"1M\"}}}\n");
		kill(d, SIGHUP);
		CHECK(WAIT_FOR(status_target() == 0) &&
		      bg_request(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0, &target) ==
		      ESXBALLOON_MSG_TARGET && target == 0 && ballooned() == 100,
		      "the high state: the balloon deflates into the free memory, target %llu (%lld in the status), %llu ballooned",
		      (unsigned long long)target, (long long)status_target(),
		      (unsigned long long)ballooned());
		CHECK(bg_frames(fd, ESXBALLOON_MSG_UNLOCK, RAM_GFN + 2000, 100, &target) ==
		      ESXBALLOON_MSG_TARGET && ballooned() == 0, "deflated");
		close(fd);
	}

	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	{
		char line[512];
		FILE *f = fopen(LOG, "r");

		/* What the daemon said of each connection it ended. */
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "balloon"))
				printf("esxmemd: %s", line);
		if (f)
			fclose(f);
	}
	kill(guest, SIGKILL);
	waitpid(guest, NULL, 0);
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == 0), "the guest's memory comes back");
	esx_sysfs_write("pool_pages", pool0);
	esxmem_close(nl);
	return vmtest_done("esxmemd_balloon");
}
