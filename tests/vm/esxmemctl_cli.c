// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemctl against esxmemd, with one tiny-VMM guest named w1:
 *  - "set" is a runtime change and says so; "unset" takes it back;
 *  - "set --config" writes the change into the configuration file, the
 *    rest of the file kept, and it outlasts a reload and a restart;
 *    a change the configuration would refuse changes nothing;
 *    "unset --config" removes it from the file;
 *  - "status" shows the free-memory thresholds and what balloons,
 *    compression and swap hold;
 *  - every command prints JSON with --json, failures included;
 *  - a user who may not use the socket is told so (exit status 4), not
 *    asked whether the daemon runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>

#define CONF		"/tmp/esxmemctl-cli.json"
#define SOCK		"/tmp/esxmemctl-cli.sock"
#define LOG		"/tmp/esxmemctl-cli.log"
#define OUT		"/tmp/esxmemctl-cli.out"
#define ERR		"/tmp/esxmemctl-cli.err"
#define WAIT_SECS	60.0
#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)

static const char conf[] =
	"{\"pool\": {\"size\": \"20M\"}, \"tax\": 0.5, \"balance_period\": 1,\n"
	" \"control_socket\": \"" SOCK "\",\n"
	" \"vms\": {\"w1\": {\"shares\": 1000, \"max\": \"16M\"}, \"other\": {\"domain\": 7}}}\n";

static struct esxmem *nl;
static pid_t guest;

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f, "create %s", path);
	fputs(text, f);
	fclose(f);
}

/* Runs esxmemctl with the arguments (NULL-terminated), as @uid; its exit
 * status, its standard output in OUT and error in ERR. */
static int ctl_as(uid_t uid, const char *arg, ...)
{
	const char *argv[16] = { "esxmemctl", "--socket", SOCK };
	int n = 3, status;
	va_list ap;
	pid_t pid;

	va_start(ap, arg);
	for (; arg && n < 15; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (!pid) {
		int out = open(OUT, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		int err = open(ERR, O_WRONLY | O_CREAT | O_TRUNC, 0666);

		dup2(out, 1);
		dup2(err, 2);
		if (uid && (setgid(uid) || setuid(uid)))
			_exit(126);
		execv("/usr/bin/esxmemctl", (char **)argv);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "wait for esxmemctl");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define ctl(...) ctl_as(0, __VA_ARGS__)

static bool file_has(const char *path, const char *text)
{
	return esx_file_has(path, text);
}

/* Standard output as JSON: whether it parses, with "ok" as @ok. */
static bool out_json(bool ok)
{
	json_t *j = json_load_file(OUT, 0, NULL);
	bool yes = json_is_object(j) && json_is_boolean(json_object_get(j, "ok")) &&
		   json_is_true(json_object_get(j, "ok")) == ok;

	json_decref(j);
	return yes;
}

static void show(const char *what)
{
	char line[512];
	FILE *f = fopen(OUT, "r");

	while (f && fgets(line, sizeof(line), f))
		printf("%s: %s", what, line);
	if (f)
		fclose(f);
}

/* w1 in the module: its shares and min, or false. */
static bool w1(uint32_t *shares, uint64_t *min_pages)
{
	struct esxmem_vm_info **vms;
	bool found = false;
	size_t n, i;

	if (esxmem_vm_list(nl, &vms, &n))
		return false;
	for (i = 0; i < n; i++)
		if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)guest && !strcmp(esxmem_vm_name(vms[i]), "w1")) {
			*shares = esxmem_vm_value(vms[i], ESXMEM_VM_SHARES);
			*min_pages = esxmem_vm_value(vms[i], ESXMEM_VM_MIN_PAGES);
			found = true;
		}
	esxmem_vm_list_free(vms, n);
	return found;
}

static bool w1_is(uint32_t shares, uint64_t min_pages)
{
	uint32_t s = 0;
	uint64_t m = 0;

	return w1(&s, &m) && s == shares && m == min_pages;
}

/* A value of the configuration file, by its path of keys; a copy, or NULL. */
static json_t *conf_value(const char *k1, const char *k2, const char *k3)
{
	json_t *root = json_load_file(CONF, JSON_REJECT_DUPLICATES, NULL), *v;

	v = json_object_get(root, k1);
	if (k2)
		v = json_object_get(v, k2);
	if (k3)
		v = json_object_get(v, k3);
	v = json_deep_copy(v);
	json_decref(root);
	return v;
}

static bool conf_is(const char *k1, const char *k2, const char *k3, const char *want)
{
	json_t *v = conf_value(k1, k2, k3), *w = json_loads(want, JSON_DECODE_ANY, NULL);
	bool yes = v && w && json_equal(v, w);

	json_decref(v);
	json_decref(w);
	return yes;
}

static bool conf_lacks(const char *k1, const char *k2, const char *k3)
{
	json_t *v = conf_value(k1, k2, k3);

	json_decref(v);
	return !v;
}

static void show_log(void)
{
	if (vmtest_failures)
		esx_show_tail(LOG, "esxmemd's log", 3000);
}

int main(void)
{
	char pool0[32], before[4096];
	pid_t d;
	FILE *f;
	size_t n;

	atexit(show_log);
	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	write_text(CONF, conf);
	guest = esx_start_tinyvmm(-1, "--pages", "4000", "--touch", "10", "--name", "guest=w1",
				  NULL);
	REQUIRE(guest > 0, "start tinyvmm");
	d = esx_start_esxmemd(CONF, LOG, false);
	REQUIRE(WAIT_FOR(w1_is(1000, 0)), "the daemon names w1 and gives it its shares");

	/* A runtime change, and how long it lasts. */
	CHECK(ctl("set", "w1", "shares=2000", NULL) == 0 && w1_is(2000, 0) &&
	      file_has(OUT, "until esxmemd reloads or restarts") && file_has(OUT, "unset w1"),
	      "set: in effect, and it says for how long");
	show("set");
	CHECK(ctl("vm", "w1", NULL) == 0 && file_has(OUT, "runtime_changes") &&
	      file_has(OUT, "\"shares\":2000"), "vm shows the runtime change");
	CHECK(ctl("unset", "w1", NULL) == 0 && w1_is(1000, 0) &&
	      file_has(OUT, "runtime changes taken back"), "unset takes it back");
	CHECK(ctl("unset", "w1", NULL) == 1 && file_has(ERR, "no runtime changes"),
	      "unset with nothing to take back: the daemon says so");

	/* In the configuration file. */
	CHECK(ctl("set", "--config", "w1", "shares=3000", "min=8M", NULL) == 0 &&
	      w1_is(3000, 2048) && file_has(OUT, "written to " CONF), "set --config: in effect");
	show("set --config");
	CHECK(conf_is("vms", "w1", "min", "\"8M\"") && conf_is("vms", "w1", "shares", "3000") &&
	      conf_is("vms", "w1", "max", "\"16M\"") && conf_is("tax", NULL, NULL, "0.5") &&
	      conf_is("vms", "other", "domain", "7") && conf_is("control_socket", NULL, NULL,
								"\"" SOCK "\""),
	      "the file has the change and the rest as it was");
	CHECK(ctl("reload", NULL) == 0 && WAIT_FOR(w1_is(3000, 2048)), "it outlasts a reload");
	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	d = esx_start_esxmemd(CONF, LOG, false);
	CHECK(WAIT_FOR(access(SOCK, F_OK) == 0 && ctl("status", NULL) == 0) && w1_is(3000, 2048),
	      "and a restart");

	/* Refused: min above the VM's max; the file stays as it was. */
	f = fopen(CONF, "r");
	n = f ? fread(before, 1, sizeof(before) - 1, f) : 0;
	if (f)
		fclose(f);
	before[n] = '\0';
	CHECK(ctl("set", "--config", "w1", "min=64M", NULL) == 1 &&
	      file_has(ERR, "min is above max") && file_has(CONF, before) && w1_is(3000, 2048),
	      "set --config that the configuration would refuse changes nothing");
	CHECK(ctl("unset", "--config", "w1", "min", NULL) == 0 && w1_is(3000, 0) &&
	      conf_lacks("vms", "w1", "min") && conf_is("vms", "w1", "shares", "3000"),
	      "unset --config min: out of the file and of the VM");

	/* status: thresholds, balloons, compression. */
	CHECK(ctl("status", NULL) == 0 && file_has(OUT, "thresholds (free memory): high 6.0%") &&
	      file_has(OUT, "reclaimed: ") && file_has(OUT, "BTARGET") && file_has(OUT, "COMPR"),
	      "status shows thresholds and reclamation");
	show("status");

	/* --json, every command. */
	CHECK(ctl("--json", "status", NULL) == 0 && out_json(true), "status --json");
	CHECK(ctl("--json", "vm", "w1", NULL) == 0 && out_json(true), "vm --json");
	CHECK(ctl("--json", "set", "w1", "shares=10", NULL) == 0 && out_json(true) &&
	      file_has(OUT, "\"persistent\": false"), "set --json");
	CHECK(ctl("--json", "unset", "w1", NULL) == 0 && out_json(true), "unset --json");
	CHECK(ctl("--json", "reload", NULL) == 0 && out_json(true), "reload --json");
	CHECK(ctl("--json", "vm", "nosuch", NULL) == 1 && out_json(false), "a refusal as JSON");
	CHECK(ctl("--json", "help", "set", NULL) == 0 && file_has(OUT, "\"usage\""),
	      "help --json");

	/* Someone who may not use the socket. */
	CHECK(ctl_as(65534, "status", NULL) == 4 && file_has(ERR, "permission denied") &&
	      file_has(ERR, "run esxmemctl as root") && !file_has(ERR, "is it running"),
	      "not root: exit 4, told to run as root");

	kill(d, SIGTERM);
	CHECK(waitpid(d, NULL, 0) == d, "the daemon stops");
	kill(guest, SIGKILL);
	waitpid(guest, NULL, 0);
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == 0), "the guest's memory comes back");
	esx_sysfs_write("pool_pages", pool0);
	esxmem_close(nl);
	return vmtest_done("esxmemctl_cli");
}
