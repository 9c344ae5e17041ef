// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem.ko unloaded and loaded again under a running esxmemd:
 *  - after rmmod the daemon runs on, says nothing is managed, and its
 *    status says the module is not loaded;
 *  - after the module is loaded again (with its default pool) the daemon
 *    configures the pool from its configuration once more, and a new VM
 *    is found, named, given its settings and attached to KVM;
 *  - all of it twice, and SIGTERM then stops the daemon cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>

#define CONF		"/tmp/esxmemd-reload.json"
#define SOCK		"/tmp/esxmemd-reload.sock"
#define LOG		"/tmp/esxmemd-reload.log"
#define MODULE		"/lib/modules/esxmem/esxmem.ko"
/* What CONF sets; the module's defaults differ (a pool from RAM, 60 per
 * mille, 100 pages), so a freshly loaded module does not have them. */
#define POOL_PAGES	5120		/* "20M" */
#define WAIT_SECS	60.0
#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f, "create %s", path);
	fputs(text, f);
	fclose(f);
}

/* The status over the control socket, or NULL. */
static json_t *status(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	static const char req[] = "{\"cmd\": \"status\"}\n";
	struct timeval tv = { .tv_sec = 20 };
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return json_loads(buf, 0, NULL);
}

/* The status's "module_loaded": 1, 0, or -1 without a reply. */
static int status_module_loaded(void)
{
	json_t *r = status(), *v = json_object_get(r, "module_loaded");
	int ret = json_is_boolean(v) ? json_is_true(v) : -1;

	json_decref(r);
	return ret;
}

static bool module_present(void)
{
	return access("/sys/kernel/mm/esxmem/pool_pages", F_OK) == 0;
}

/* Whether the pool is configured as CONF says (the module is there). */
static bool pool_configured(void)
{
	return module_present() && esx_sysfs_long("pool_pages") == POOL_PAGES &&
	       esx_sysfs_long("state_high_permille") == 70 &&
	       esx_sysfs_long("sample/pages") == 400;
}

/* Whether the VM of @pid is managed: named r1, shares 1234, attached. */
static bool managed(pid_t pid)
{
	struct esxmem_vm_info **vms;
	struct esxmem *nl;
	bool yes = false;
	size_t n, i;

	if (esxmem_open(&nl))
		return false;
	if (!esxmem_vm_list(nl, &vms, &n)) {
		for (i = 0; i < n; i++)
			if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)pid)
				yes = !strcmp(esxmem_vm_name(vms[i]), "r1") && esxmem_vm_value(vms[i], ESXMEM_VM_SHARES) == 1234 &&
				      esxmem_vm_kvm_attached(vms[i]);
		esxmem_vm_list_free(vms, n);
	}
	esxmem_close(nl);
	return yes;
}

static pid_t start_guest(void)
{
	pid_t pid = esx_start_tinyvmm(-1, "--pages", "1000", "--touch", "10", "--name", "guest=r1",
				      NULL);

	REQUIRE(pid > 0, "start tinyvmm");
	return pid;
}

static void show_log(void)
{
	if (vmtest_failures)
		esx_show_tail(LOG, "esxmemd's log", 3000);
}

static bool daemon_runs(pid_t d)
{
	return waitpid(d, NULL, WNOHANG) == 0;
}

/* How many lines of the daemon's log have @text. */
static int log_count(const char *text)
{
	char line[1024];
	FILE *f = fopen(LOG, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return n;
}

int main(void)
{
	char pool0[32], pages0[32], period0[32], permille0[4][32];
	static const char *const states[] = { "state_high_permille", "state_soft_permille",
					      "state_hard_permille", "state_low_permille" };
	pid_t d, guest;
	int round, status;

	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	atexit(show_log);
	for (round = 0; round < 4; round++)
		esx_sysfs_string(states[round], permille0[round], sizeof(permille0[round]));
	esx_sysfs_string("sample/pages", pages0, sizeof(pages0));
	esx_sysfs_string("sample/period_secs", period0, sizeof(period0));
	write_text(CONF, "{\"pool\": {\"size\": \"20M\"}, \"balance_period\": 2,\n"
		   " \"sampling\": {\"pages\": 400},\n"
		   " \"thresholds\": {\"high\": 70, \"soft\": 50, \"hard\": 30, \"low\": 15},\n"
		   " \"control_socket\": \"" SOCK "\", \"vms\": {\"r1\": {\"shares\": 1234}}}\n");
	d = esx_start_esxmemd(CONF, LOG, false);
	REQUIRE(d > 0, "fork");
	REQUIRE(WAIT_FOR(pool_configured()), "the daemon configures the pool");
	CHECK(WAIT_FOR(status_module_loaded() == 1), "its status says the module is loaded");

	for (round = 1; round <= 2; round++) {
		REQUIRE(!syscall(SYS_delete_module, "esxmem", O_NONBLOCK),
			"round %d: rmmod esxmem: %s", round, strerror(errno));
		CHECK(WAIT_FOR(log_count("esxmem.ko was unloaded") == round),
		      "round %d: the daemon says the module went", round);
		CHECK(WAIT_FOR(status_module_loaded() == 0),
		      "round %d: its status says the module is not loaded", round);
		CHECK(daemon_runs(d), "round %d: the daemon runs on", round);

		REQUIRE_OK(esx_load_module(MODULE, ""));
		/* Without it, the rest of the round cannot hold: stop here. */
		REQUIRE(WAIT_FOR(pool_configured()),
			"round %d: the daemon configures the new module's pool: %ld pages, high %ld",
			round, module_present() ? esx_sysfs_long("pool_pages") : -1,
			module_present() ? esx_sysfs_long("state_high_permille") : -1);
		CHECK(WAIT_FOR(status_module_loaded() == 1),
		      "round %d: its status says the module is loaded", round);
		guest = start_guest();
		CHECK(WAIT_FOR(managed(guest)),
		      "round %d: a new VM is named, given its shares and attached", round);
		kill(guest, SIGKILL);
		waitpid(guest, NULL, 0);
		CHECK(WAIT_FOR(esx_sysfs_long("objects") == 0), "round %d: the VM is gone", round);
	}

	kill(d, SIGTERM);
	CHECK(waitpid(d, &status, 0) == d && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "SIGTERM: clean exit");
	esx_sysfs_write("sample/pages", pages0);
	esx_sysfs_write("sample/period_secs", period0);
	/* Down from high to low: the thresholds must fall strictly at each step. */
	for (round = 0; round < 4; round++)
		esx_sysfs_write(states[round], permille0[round]);
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == 0), "the guests' memory comes back");
	esx_sysfs_write("pool_pages", pool0);
	return vmtest_done("esxmemd_module_reload");
}
