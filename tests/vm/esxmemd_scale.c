// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd with many VMs (scale_host.h): 300 VMs, 20 of them with a stock
 * virtio-balloon behind a QMP monitor, 5 of which never answer, and one
 * whose vsock device gives it the test host's own CID, whose balloon a
 * scripted guest speaks for:
 *
 *  - balances go on, and every monitor that answers gets its "balloon"
 *    command, while those that hang hold up nothing;
 *  - the guest's balloon requests are answered promptly all along
 *    (a daemon that waits on each hung monitor in turn, a second each,
 *    leaves them unanswered for seconds every balance);
 *  - the daemon takes more than 256 balloon connections (the status
 *    says how many it takes);
 *  - the stock balloons of VMs that are gone are forgotten (the status
 *    counts those it tracks).
 */
#include "scale_host.h"
#include "vmtest.h"

#define CONF		"/tmp/esxmemd-scale.json"
#define LOG		"/tmp/esxmemd-scale.log"
#define SOCK		"/tmp/esxmemd-scale.sock"
#define VMS		300
#define STOCK		20
#define SILENT		5
#define GONE		3
#define PLAIN		(VMS - STOCK - 1)
#define WAIT_SECS	60.0
#define WAIT_FOR(cond)	SH_WAIT_SLOW(cond, WAIT_SECS)
/* A reply to the guest's balloon: prompt, with room for a slow, loaded test host. */
#define REPLY_SECS	2.0
#define PROBE_SECS	8.0

static pid_t qemus[STOCK + 1];

#define PREFIX		"scale"

int main(int argc, char **argv)
{
	char path[64], cmds[64];
	double t0, took, worst;
	long long b0, b1;
	int *plain, fd, i;
	uint64_t target;
	pid_t d;

	sh_fake_qemu_main(argc, argv);
	REQUIRE_OK(esx_load_vsock(true));
	plain = sh_host_start(PREFIX, CONF, SOCK, qemus, STOCK, SILENT, PLAIN);

	d = esx_start_esxmemd(CONF, LOG, false);
	REQUIRE(d > 0, "fork");
	t0 = esx_now();
	REQUIRE(WAIT_FOR(sh_status_num(SOCK, "balances") >= 2), "the daemon balances");

	/* Every monitor that answers is driven; the hung ones stop nothing. */
	CHECK(WAIT_FOR(sh_balloon_commands(PREFIX, SILENT, STOCK) == STOCK - SILENT),
	      "every answering monitor gets a balloon command");
	took = esx_now() - t0;
	printf("esxmemd_scale: %d answering monitors got balloon commands %.2f s after the daemon started\n",
	       STOCK - SILENT, took);
	for (i = 0; i < SILENT; i++) {
		sh_qmp_paths(PREFIX, i, path, cmds);
		CHECK(access(cmds, F_OK) != 0, "a hung monitor sent nothing: %s", cmds);
	}

	/* The guest's balloon is answered promptly while balances go on. */
	fd = bg_connect(10);
	REQUIRE(fd >= 0, "connect to the daemon's balloon port: %s", strerror(errno));
	REQUIRE(bg_greet(fd, SH_VM_PAGES, &target) == ESXBALLOON_MSG_TARGET,
		"the guest's balloon is served");
	b0 = sh_status_num(SOCK, "balances");
	worst = sh_worst_reply(fd, esx_now() + PROBE_SECS, 20, NULL);
	b1 = sh_status_num(SOCK, "balances");
	printf("esxmemd_scale: worst balloon reply %.3f s over %.0f s, %lld balances\n",
	       worst, PROBE_SECS, b1 - b0);
	CHECK(worst >= 0 && worst < REPLY_SECS,
	      "every balloon reply comes within %.1f s: the worst took %.3f s", REPLY_SECS, worst);
	CHECK(b1 - b0 >= PROBE_SECS / 4,
	      "balances go on every period or so: %lld in %.0f s", b1 - b0, PROBE_SECS);

	/* Connections: more than 256, and this one counted. */
	CHECK(sh_status_num(SOCK, "balloon_connections.max") > 256,
	      "the daemon takes more than 256 balloon connections: %lld",
	      sh_status_num(SOCK, "balloon_connections.max"));
	CHECK(sh_status_num(SOCK, "balloon_connections.open") == 1,
	      "one balloon connection open: %lld",
	      sh_status_num(SOCK, "balloon_connections.open"));
	close(fd);

	/* VMs that are gone: their stock balloons are forgotten. */
	CHECK(WAIT_FOR(sh_status_num(SOCK, "virtio_balloons") == STOCK),
	      "the daemon tracks the %d stock balloons: %lld", STOCK,
	      sh_status_num(SOCK, "virtio_balloons"));
	for (i = STOCK - GONE; i < STOCK; i++) {
		kill(qemus[i], SIGKILL);
		waitpid(qemus[i], NULL, 0);
		qemus[i] = 0;
	}
	CHECK(WAIT_FOR(sh_status_num(SOCK, "virtio_balloons") == STOCK - GONE),
	      "the stock balloons of the %d VMs gone are forgotten: %lld tracked", GONE,
	      sh_status_num(SOCK, "virtio_balloons"));

	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	if (vmtest_failures)
		esx_show_tail(LOG, "esxmemd's log", 3000);
	sh_host_stop(qemus, STOCK, plain, PLAIN);
	return vmtest_done("esxmemd_scale");
}
