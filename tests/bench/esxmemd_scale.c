// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd with a thousand VMs (tests/vm/scale_host.h): esxmem objects
 * without guests, 100 of them with a stock virtio-balloon behind a fake
 * QMP monitor, 10 of which never answer, and one whose vsock device gives
 * it the test host's own CID, whose balloon a scripted guest speaks for.
 * A balance every second.
 *
 * Once every answering monitor has been driven, two windows of
 * MEASURE_SECS each:
 *  - the guest asks its target once a second, as esxballoon does (its
 *    worker polls once a second, guest-balloon/esxballoon.c): the
 *    daemon's CPU time (utime + stime) per balance period, and the part
 *    of it in the kernel (stime);
 *  - the guest asks every PROBE_MS, to catch any reply a balance holds up:
 *    the worst time a reply took, and the daemon's CPU time per request
 *    (what this window took beyond its balances, per request), the cost
 *    of each further guest on the host. Also the CPU per balance period
 *    with this guest, as the bench measured it before it had two windows.
 * Goals: under 50 ms of CPU per balance, no reply later than 100 ms.
 *
 * Output: "bench: esxmemd_scale_<figure> <value> <unit>".
 */
#include "scale_host.h"
#include "vmtest.h"

#define CONF		"/tmp/esxmemd-bench-scale.json"
#define LOG		"/tmp/esxmemd-bench-scale.log"
#define SOCK		"/tmp/esxmemd-bench-scale.sock"
#define VMS		1000
#define STOCK		100
#define SILENT		10
#define PLAIN		(VMS - STOCK - 1)
#define WAIT_SECS	300.0
#define MEASURE_SECS	20.0
#define GUEST_MS	1000	/* esxballoon's poll: once a second */
#define PROBE_MS	20

#define PREFIX		"bench-scale"

int main(int argc, char **argv)
{
	static pid_t qemus[STOCK + 1];
	double t0, driven, cpu0, cpu1, cpu1b, cpu2, sys0 = 0, sys1 = 0, sys2 = 0, worst, probe_worst;
	double per_balance, per_request;
	unsigned int asked;
	long long b0, b1, b2;
	uint64_t target;
	int *plain, fd, n;
	pid_t d;

	sh_fake_qemu_main(argc, argv);
	REQUIRE_OK(esx_load_vsock(true));
	plain = sh_host_start(PREFIX, CONF, SOCK, qemus, STOCK, SILENT, PLAIN);

	d = esx_start_esxmemd(CONF, LOG, false);
	REQUIRE(d > 0, "fork");
	t0 = esx_now();
	REQUIRE(SH_WAIT_SLOW(sh_status_num(SOCK, "balances") >= 2, WAIT_SECS),
		"the daemon balances");
	printf("esxmemd_scale: 2 balances %.1f s after the daemon started\n", esx_now() - t0);
	/* Polled slowly: the test host has two CPUs for the daemon, 100 QEMUs and this. */
	while ((n = sh_balloon_commands(PREFIX, SILENT, STOCK)) < STOCK - SILENT && esx_now() < t0 + WAIT_SECS)
		usleep(500 * 1000);
	driven = esx_now() - t0;
	if (n < STOCK - SILENT)
		esx_show_tail(LOG, "esxmemd's log", 4000);
	REQUIRE(n == STOCK - SILENT, "every answering monitor gets a balloon command: %d of %d in %.0f s, %lld balances",
		n, STOCK - SILENT, driven, sh_status_num(SOCK, "balances"));
	printf("esxmemd_scale: %d monitors driven in %.1f s, %lld balances\n", n, driven,
	       sh_status_num(SOCK, "balances"));

	fd = bg_connect(10);
	REQUIRE(fd >= 0, "connect to the daemon's balloon port: %s", strerror(errno));
	REQUIRE(bg_greet(fd, SH_VM_PAGES, &target) == ESXBALLOON_MSG_TARGET,
		"the guest's balloon is served");
	/* The status is read at the windows' ends: its cost is in neither. */
	b0 = sh_status_num(SOCK, "balances");
	cpu0 = sh_cpu_secs(d, &sys0);
	worst = sh_worst_reply(fd, esx_now() + MEASURE_SECS, GUEST_MS, NULL);
	cpu1 = sh_cpu_secs(d, &sys1);
	b1 = sh_status_num(SOCK, "balances");
	cpu1b = sh_cpu_secs(d, &sys2);
	probe_worst = sh_worst_reply(fd, esx_now() + MEASURE_SECS, PROBE_MS, &asked);
	cpu2 = sh_cpu_secs(d, &sys2);
	b2 = sh_status_num(SOCK, "balances");
	close(fd);
	REQUIRE(worst >= 0 && probe_worst >= 0, "every balloon request gets a reply");
	REQUIRE(b1 > b0 && b2 > b1 && cpu0 >= 0 && cpu1 >= cpu0 && cpu2 >= cpu1b && asked,
		"balances %lld..%lld..%lld, CPU %.2f..%.2f..%.2f s, %u requests",
		b0, b1, b2, cpu0, cpu1, cpu2, asked);
	per_balance = (cpu1 - cpu0) / (double)(b1 - b0);
	per_request = (cpu2 - cpu1b - per_balance * (double)(b2 - b1)) / asked;
	if (probe_worst > worst)
		worst = probe_worst;

	printf("bench: esxmemd_scale_vms %d VMs\n", VMS);
	printf("bench: esxmemd_scale_first_drive %.2f s\n", driven);
	printf("bench: esxmemd_scale_cpu_per_balance %.1f ms\n", per_balance * 1e3);
	printf("bench: esxmemd_scale_cpu_kernel_per_balance %.1f ms\n",
	       (sys1 - sys0) / (double)(b1 - b0) * 1e3);
	printf("bench: esxmemd_scale_worst_reply %.1f ms\n", worst * 1e3);
	printf("bench: esxmemd_scale_balances %lld count\n", b1 - b0);
	printf("bench: esxmemd_scale_cpu_per_request %.2f ms\n", per_request * 1e3);
	printf("bench: esxmemd_scale_cpu_per_balance_probed %.1f ms\n",
	       (cpu2 - cpu1b) / (double)(b2 - b1) * 1e3);
	if (per_balance >= 0.050 || worst >= 0.100)
		printf("esxmemd_scale: goals missed: %.1f ms CPU per balance (goal < 50), worst reply %.1f ms (goal < 100)\n",
		       per_balance * 1e3, worst * 1e3);

	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	sh_host_stop(qemus, STOCK, plain, PLAIN);
	return vmtest_failures ? 1 : 0;
}
