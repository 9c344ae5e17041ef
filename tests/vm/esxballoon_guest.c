// SPDX-License-Identifier: GPL-2.0
/*
 * esxballoon.ko end to end: a nested Linux guest under QEMU/KVM with a
 * vhost-vsock-pci device loads the driver with its defaults (host CID 2,
 * port 17747); the reference host side of tests/vm/balloon_host.h, listening
 * in the test host, serves it. The guest connects, inflates to the target
 * with frames inside its RAM, deflates when the target drops, and the host
 * sees the connection end when QEMU dies.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "esxtest.h"
#include "vmtest.h"
#include "balloon_host.h"

#define GUEST_MIB	256UL
#define GUEST_PAGES	(GUEST_MIB * 256)
#define CONSOLE		"/tmp/esxballoon_guest.console"

static struct bh_server srv;
static pid_t qemu_pid = -1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void show_console(void)
{
	esx_show_tail(CONSOLE, "guest console", 4096);
}

static void kill_qemu(void)
{
	if (qemu_pid > 0) {
		kill(qemu_pid, SIGKILL);
		waitpid(qemu_pid, NULL, 0);
		qemu_pid = -1;
	}
}

static pid_t start_qemu(void)
{
	static const char *const vsock[] = { "-device", "vhost-vsock-pci,guest-cid=3", NULL };
	pid_t pid = esx_start_guest(GUEST_MIB, "guest.work=balloon", NULL, CONSOLE, vsock);

	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	return pid;
}

/* Whether the guest's console shows that it failed. */
static bool guest_failed(void)
{
	static char buf[1 << 16];
	int fd = open(CONSOLE, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, "GUEST-BALLOON-FAIL") || strstr(buf, "Kernel panic");
}

/* Waits up to @secs for the host to record @pages frames in a live connection. */
static bool wait_ballooned(uint64_t pages, double secs)
{
	double end = now() + secs;

	for (;;) {
		struct bh_stats st = bh_get(&srv);

		if (st.state == BH_READY && st.ballooned == pages)
			return true;
		if (st.violation[0] || now() > end || guest_failed() ||
		    waitpid(qemu_pid, NULL, WNOHANG) == qemu_pid)
			return false;
		usleep(50000);
	}
}

int main(void)
{
	struct bh_stats st;
	double t0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	REQUIRE_OK(esx_load_vsock(false));
	bh_start_vm(&srv, ESXBALLOON_VSOCK_PORT, GUEST_PAGES);
	bh_set_target(&srv, 8192);

	t0 = now();
	qemu_pid = start_qemu();
	if (!wait_ballooned(8192, 240)) {
		show_console();
		st = bh_get(&srv);
		fprintf(stderr, "host records %" PRIu64 " frames, state %d, connections %u, "
			"violation '%s'\n", st.ballooned, st.state, st.connections, st.violation);
		kill_qemu();
		REQUIRE(0, "the guest did not inflate to 8192 pages");
	}
	printf("guest: booted, connected and inflated to 8192 pages in %.1f s\n", now() - t0);
	st = bh_get(&srv);
	CHECK(st.connections == 1 && st.hellos == 1 && st.resets == 1,
	      "connections %u hellos %u resets %u", st.connections, st.hellos, st.resets);
	CHECK(st.guest_pages > GUEST_PAGES / 2 && st.guest_pages <= GUEST_PAGES,
	      "HELLO says %" PRIu64 " pages for a %lu-page guest", st.guest_pages, GUEST_PAGES);

	bh_set_target(&srv, 2048);
	if (!wait_ballooned(2048, 60)) {
		show_console();
		kill_qemu();
		REQUIRE(0, "the guest did not deflate to 2048 pages");
	}
	st = bh_get(&srv);
	CHECK(st.unlocked_frames == 8192 - 2048, "%" PRIu64 " frames unlocked",
	      st.unlocked_frames);

	kill_qemu();
	t0 = now();
	while (bh_get(&srv).state != BH_IDLE && now() - t0 < 20)
		usleep(50000);
	st = bh_get(&srv);
	CHECK(st.state == BH_IDLE && st.ballooned == 0, "the host did not see the connection end");
	CHECK(!st.violation[0], "the guest broke the protocol: %s", st.violation);
	return vmtest_done("esxballoon_guest");
}
