// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd in the test host, with two tiny-VMM guests on esxmem in an
 * overcommitted pool: one writing all of its memory all the time, one 5%.
 *
 *  - the daemon finds both, names them from their command lines
 *    (-name guest=NAME), applies their configuration and attaches them to
 *    their KVM VMs;
 *  - with idle sampling and the idle tax, the active guest's target grows
 *    at the idle one's expense, within the bounds and what there is to
 *    hand out, and the idle guest's target follows what it uses; the
 *    control socket reports it;
 *  - SIGKILL leaves the guests running and the module as it was; a new
 *    daemon takes the VMs over; a bad configuration on SIGHUP is refused
 *    and the old one stays; "set" over the control socket applies at once;
 *    mins that do not fit in the pool are refused, in a file and when a
 *    VM starts; SIGTERM stops the daemon cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>

#define CONF		"/tmp/esxmemd-test.json"
#define SOCK		"/tmp/esxmemd-test.sock"
#define LOG		"/tmp/esxmemd-test.log"
#define GUEST_PAGES	4000
#define POOL_PAGES	5120		/* "20M" */
#define HEADROOM	(GUEST_PAGES * 5 / 100)	/* the default 5% */
#define WAIT_SECS	90.0

static struct esxmem *nl;

static const char good_conf[] =
	"{\"pool\": {\"size\": \"20M\"}, \"tax\": 0.75, \"balance_period\": 1,\n"
	" \"sampling\": {\"period\": 1, \"pages\": 400},\n"
	" \"control_socket\": \"" SOCK "\",\n"
	" \"vms\": {\"active\": {\"shares\": 1000}, \"idle\": {\"shares\": 1000}}}\n";

#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f, "create %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* Starts a guest writing @pct% of its pages; returns once it runs. */
static pid_t start_guest(const char *name, const char *pct)
{
	char spec[64], line[256];
	int pipefd[2];
	pid_t pid;
	FILE *out;

	snprintf(spec, sizeof(spec), "guest=%s", name);
	/* Close-on-exec: the guest keeps only its stdout, the write end. */
	REQUIRE(pipe2(pipefd, O_CLOEXEC) == 0, "pipe");
	pid = esx_start_tinyvmm(pipefd[1], "--pages", "4000", "--touch", pct, "--name", spec, NULL);
	REQUIRE(pid > 0, "start tinyvmm");
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	REQUIRE(out && fgets(line, sizeof(line), out) && strstr(line, "touching"),
		"guest %s starts", name);
	fclose(out);
	return pid;
}

/* Kinds of malformed files, and what esxmemd must say of each. */
static const struct {
	const char *text, *message;
} bad_confs[] = {
	{ "{\"tax\": 0.5,\n \"balance_period\" 15}", CONF ":2:20: ':' expected" },
	{ "", CONF ":1:0: '[' or '{' expected" },
	{ "[]", CONF ": must be an object" },
	{ "{\"taxes\": 1}", CONF ":1:2: taxes: unknown key" },
	{ "{\"vms\": {\"a\": {\"size\": 1}}}", CONF ":1:16: vms.a.size: unknown key" },
	{ "{\"tax\": 0.1, \"tax\": 0.2}", "duplicate object key" },
	{ "{\"tax\": \"x\"}", CONF ":1:2: tax: must be a number" },
	{ "{\"pool\": {\"size\": \"2X\"}}", CONF ":1:11: pool.size: \"2X\" is not a size" },
	{ "{\"vms\": {\"a\": {\"min\": \"2G\", \"max\": \"1G\"}}}", "vms.a: min" },
	{ "{\"thresholds\": {\"high\": 10, \"soft\": 20}}", "thresholds: must fall strictly" },
	{ "{\"sampling\": {\"period\": 0}}", "sampling.period: 0 is out of range 1..3600" },
	/* Admission control: 20M less the high state's 6% is 18.8 MiB. */
	{ "{\"pool\": {\"size\": \"20M\"}, \"vms\": {\"a\": {\"min\": \"12M\"}, \"b\": {\"min\": \"12M\"}}}",
	  CONF ": vms: the mins add up to 24 MiB, more than the 18 MiB the pool can guarantee" },
};

/* esxmemd --check-config on CONF: its exit status; its messages to LOG. */
static int check_config(void)
{
	int status;
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (!pid) {
		int fd = open(LOG, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		execl("/usr/bin/esxmemd", "esxmemd", "-c", CONF, "--check-config", (char *)NULL);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "wait");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static pid_t start_daemon(const char *conf)
{
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (!pid) {
		int fd = open(LOG, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 2);
		execl("/usr/bin/esxmemd", "esxmemd", "-c", conf, "-d", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* One request on the control socket; the reply, or NULL. */
static json_t *control(const char *request)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	static char buf[1 << 20];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return json_loads(buf, 0, NULL);
}

/* Runs esxmemctl with @args (NULL-terminated); its exit status, stdout in CTL_OUT. */
#define CTL_OUT "/tmp/esxmemctl.out"
static int esxmemctl(const char *arg, ...)
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
		int fd = open(CTL_OUT, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		execv("/usr/bin/esxmemctl", (char **)argv);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "wait for esxmemctl");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool out_has(const char *text)
{
	char buf[8192];
	FILE *f = fopen(CTL_OUT, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static void print_out(void)
{
	char line[512];
	FILE *f = fopen(CTL_OUT, "r");

	while (f && fgets(line, sizeof(line), f))
		printf("esxmemctl: %s", line);
	if (f)
		fclose(f);
}

/* esxmemctl watch: two refreshes, then SIGINT ends it with status 0. */
static bool watch_once(void)
{
	int status, refreshes = 0;
	char line[512];
	int pipefd[2];
	pid_t pid;
	FILE *f;

	REQUIRE(pipe(pipefd) == 0, "pipe");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (!pid) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl("/usr/bin/esxmemctl", "esxmemctl", "--socket", SOCK, "watch", "-i", "1",
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	while (f && refreshes < 2 && fgets(line, sizeof(line), f))
		refreshes += !strncmp(line, "pool: ", 6);
	kill(pid, SIGINT);
	/* The pipe stays open until it is gone: no SIGPIPE mid-refresh. */
	REQUIRE(waitpid(pid, &status, 0) == pid, "wait for watch");
	if (f)
		fclose(f);
	return refreshes == 2 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool reply_ok(json_t *r)
{
	return r && json_is_true(json_object_get(r, "ok"));
}

/*
 * The VM named @name in the module into *out (which it frees first: start
 * with NULL), or false.
 */
static bool find(const char *name, struct esxmem_vm_info **out)
{
	struct esxmem_vm_info **vms;
	bool found = false;
	size_t n, i;

	esxmem_vm_info_free(*out);
	*out = NULL;
	if (esxmem_vm_list(nl, &vms, &n))
		return false;
	for (i = 0; i < n; i++)
		if (!found && !strcmp(esxmem_vm_name(vms[i]), name)) {
			*out = vms[i];
			vms[i] = NULL;
			found = true;
		}
	esxmem_vm_list_free(vms, n);
	return found;
}

static uint64_t target_of(const char *name)
{
	struct esxmem_vm_info *vm = NULL;
	uint64_t target = find(name, &vm) ? esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES) : 0;

	esxmem_vm_info_free(vm);
	return target;
}

static bool both_attached(void)
{
	struct esxmem_vm_info *a = NULL, *i = NULL;
	bool attached = find("active", &a) && find("idle", &i) &&
			esxmem_vm_kvm_attached(a) && esxmem_vm_kvm_attached(i);

	esxmem_vm_info_free(a);
	esxmem_vm_info_free(i);
	return attached;
}

static bool log_has(const char *text)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(LOG, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return found;
}

static bool tax_moved_memory(void)
{
	return target_of("active") >= 3500 && target_of("idle") <= 1600 &&
	       target_of("idle") >= 1;
}

int main(void)
{
	char pool0[32], period0[32], pages0[32];
	struct esxmem_vm_info *a = NULL, *i = NULL, *a2 = NULL;
	pid_t active, idle, d;
	uint64_t ta, ti, avail, faults;
	double t0;
	size_t k;
	json_t *r, *vms;
	int status;

	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	esx_sysfs_string("sample/period_secs", period0, sizeof(period0));
	esx_sysfs_string("sample/pages", pages0, sizeof(pages0));
	unlink(LOG);

	/* A bad configuration: refused at start with exit status 78. */
	write_text(CONF, "{\"tax\": 2}\n");
	d = start_daemon(CONF);
	REQUIRE(waitpid(d, &status, 0) == d, "wait");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 78 &&
	      log_has(CONF ":1:2: tax: 2 is out of range"),
	      "bad configuration: exit 78 with the place and reason");
	for (k = 0; k < sizeof(bad_confs) / sizeof(bad_confs[0]); k++) {
		write_text(CONF, bad_confs[k].text);
		CHECK(check_config() == 78 && log_has(bad_confs[k].message),
		      "malformed configuration %zu refused with \"%s\"", k, bad_confs[k].message);
	}

	write_text(CONF, good_conf);
	active = start_guest("active", "100");
	idle = start_guest("idle", "5");
	t0 = esx_now();
	d = start_daemon(CONF);
	CHECK(WAIT_FOR(both_attached()), "both guests found by name and attached to KVM");
	CHECK(esx_sysfs_long("pool_pages") == POOL_PAGES && esx_sysfs_long("sample/pages") == 400,
	      "pool and sampling configured");
	CHECK(find("active", &a) && esxmem_vm_value(a, ESXMEM_VM_SHARES) == 1000 && esxmem_vm_value(a, ESXMEM_VM_MAX_PAGES) == GUEST_PAGES,
	      "configuration applied: shares %u, max %llu", (unsigned int)esxmem_vm_value(a, ESXMEM_VM_SHARES),
	      (unsigned long long)esxmem_vm_value(a, ESXMEM_VM_MAX_PAGES));

	CHECK(WAIT_FOR(tax_moved_memory()), "the active guest's target grows: %llu vs %llu",
	      (unsigned long long)target_of("active"), (unsigned long long)target_of("idle"));
	printf("esxmemd: targets moved by the tax %.1f s after the daemon started\n", esx_now() - t0);
	r = control("{\"cmd\": \"status\"}\n");
	CHECK(reply_ok(r), "status over the control socket");
	vms = json_object_get(r, "vms");
	avail = (uint64_t)json_integer_value(json_object_get(r, "avail_pages"));
	/* The pool less the high state's free memory (6%) and shared frames. */
	CHECK(json_array_size(vms) == 2 && avail <= POOL_PAGES - POOL_PAGES * 60 / 1000 &&
	      avail >= POOL_PAGES / 2,
	      "status lists both VMs and %llu pages to hand out", (unsigned long long)avail);
	CHECK(find("active", &a) && find("idle", &i) &&
	      esxmem_vm_value(a, ESXMEM_VM_TARGET_PAGES) + esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES) <= avail &&
	      esxmem_vm_value(a, ESXMEM_VM_TARGET_PAGES) <= esxmem_vm_value(a, ESXMEM_VM_MAX_PAGES) && esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES) <= esxmem_vm_value(i, ESXMEM_VM_MAX_PAGES),
	      "targets %llu + %llu within the %llu pages to hand out and the bounds",
	      (unsigned long long)esxmem_vm_value(a, ESXMEM_VM_TARGET_PAGES), (unsigned long long)esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES),
	      (unsigned long long)avail);
	/*
	 * Demand: the idle guest writes 200 pages; its target is at most
	 * that plus the 5% headroom (200 pages) and a deadband's worth (64),
	 * and the active guest, which wants all of its RAM, gets its max.
	 * Without demand the tax alone gave the idle guest about 1000.
	 */
	CHECK(WAIT_FOR(find("idle", &i) && esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES) <= esxmem_vm_value(i, ESXMEM_VM_CONSUMED_PAGES) + HEADROOM + 64 &&
		       find("active", &a) && esxmem_vm_value(a, ESXMEM_VM_TARGET_PAGES) == GUEST_PAGES),
	      "targets follow demand: idle %llu for %llu used, active %llu",
	      (unsigned long long)esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES), (unsigned long long)esxmem_vm_value(i, ESXMEM_VM_CONSUMED_PAGES),
	      (unsigned long long)esxmem_vm_value(a, ESXMEM_VM_TARGET_PAGES));
	printf("esxmemd: active f %.3f target %llu, idle f %.3f target %llu, of %llu pages\n",
	       esxmem_vm_value(a, ESXMEM_VM_ACTIVE_PPM) / 1e6, (unsigned long long)esxmem_vm_value(a, ESXMEM_VM_TARGET_PAGES), esxmem_vm_value(i, ESXMEM_VM_ACTIVE_PPM) / 1e6,
	       (unsigned long long)esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES), (unsigned long long)avail);
	json_decref(r);
	CHECK(log_has("VM active: S 1000") && log_has("target"),
	      "decisions logged with their reasons at debug level");

	/* SIGKILL: the guests keep running, the module keeps its state. */
	ta = esxmem_vm_value(a, ESXMEM_VM_TARGET_PAGES);
	ti = esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES);
	faults = esxmem_vm_value(a, ESXMEM_VM_SAMPLE_FAULTS);
	kill(d, SIGKILL);
	waitpid(d, &status, 0);
	CHECK(WAIT_FOR(find("active", &a2) && esxmem_vm_value(a2, ESXMEM_VM_SAMPLE_FAULTS) > faults + 400),
	      "the active guest runs on without the daemon");
	CHECK(find("active", &a) && find("idle", &i) && esxmem_vm_value(a, ESXMEM_VM_TARGET_PAGES) == ta &&
	      esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES) == ti && esxmem_vm_kvm_attached(a) && kill(active, 0) == 0 &&
	      kill(idle, 0) == 0, "targets and attachments stay");

	/* A new daemon takes over. */
	d = start_daemon(CONF);
	r = NULL;
	CHECK(WAIT_FOR((json_decref(r), r = control("{\"cmd\": \"vm\", \"name\": \"idle\"}\n"),
			reply_ok(r))), "the new daemon answers");
	CHECK(r && json_integer_value(json_object_get(json_object_get(r, "vm"), "id")) == esxmem_vm_id(i),
	      "it knows the same VM as idle");
	json_decref(r);
	CHECK(WAIT_FOR(tax_moved_memory()), "and keeps the targets where the tax puts them");

	/* A bad reload is refused; the old configuration stays. */
	write_text(CONF, "{\"tax\": 0.5,");
	kill(d, SIGHUP);
	CHECK(WAIT_FOR(log_has("reload refused")), "bad reload refused");
	r = control("{\"cmd\": \"status\"}\n");
	CHECK(reply_ok(r) && json_real_value(json_object_get(r, "tax")) == 0.75,
	      "status still answers with the old configuration");
	json_decref(r);
	write_text(CONF, good_conf);

	/* set: a runtime change applies at once. */
	r = control("{\"cmd\": \"set\", \"name\": \"idle\", \"settings\": {\"min\": \"12M\"}}\n");
	CHECK(reply_ok(r) && find("idle", &i) && esxmem_vm_value(i, ESXMEM_VM_MIN_PAGES) == 3072 && esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES) >= 3072,
	      "set min: min %llu, target %llu", (unsigned long long)esxmem_vm_value(i, ESXMEM_VM_MIN_PAGES),
	      (unsigned long long)esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES));
	json_decref(r);
	r = control("{\"cmd\": \"set\", \"name\": \"idle\", \"settings\": {\"min\": \"lots\"}}\n");
	CHECK(r && !reply_ok(r) && strstr(json_string_value(json_object_get(r, "error")), "min"),
	      "a bad set is refused with a reason");
	json_decref(r);
	r = control("{\"cmd\": \"vm\", \"name\": \"nosuch\"}\n");
	CHECK(r && !reply_ok(r), "an unknown VM is an error");
	json_decref(r);
	r = control("not json\n");
	CHECK(r && !reply_ok(r), "garbage is an error");
	json_decref(r);

	/* The same through esxmemctl. */
	CHECK(esxmemctl("status", NULL) == 0 && out_has("NAME ") && out_has("\nactive ") &&
	      out_has("\nidle "), "esxmemctl status shows both VMs");
	print_out();
	CHECK(esxmemctl("--json", "vm", "active", NULL) == 0 && out_has("\"target_pages\""),
	      "esxmemctl --json vm");
	CHECK(esxmemctl("set", "idle", "shares=2000", "min=0", NULL) == 0 &&
	      find("idle", &i) && esxmem_vm_value(i, ESXMEM_VM_SHARES) == 2000 && esxmem_vm_value(i, ESXMEM_VM_MIN_PAGES) == 0,
	      "esxmemctl set: shares %u", (unsigned int)esxmem_vm_value(i, ESXMEM_VM_SHARES));
	CHECK(esxmemctl("set", "idle", "shares=0", NULL) == 2, "bad value: usage error, nothing sent");
	CHECK(esxmemctl("vm", "nosuch", NULL) == 1, "unknown VM: the daemon's refusal");
	CHECK(watch_once(), "esxmemctl watch refreshes and stops on SIGINT");
	CHECK(esxmemctl("reload", NULL) == 0 && out_has("reloaded") && find("idle", &i) &&
	      esxmem_vm_value(i, ESXMEM_VM_SHARES) == 1000, "esxmemctl reload drops the runtime change");

	/*
	 * Admission control when VMs start: a min of 12M for every VM the
	 * file does not name (so no check can see it before they run). The
	 * older VM, active, gets it; idle's would make 24M of mins on a pool
	 * that guarantees 18.8M: refused, with an error, and it runs with none.
	 */
	write_text(CONF, "{\"pool\": {\"size\": \"20M\"}, \"balance_period\": 1,\n"
		   " \"control_socket\": \"" SOCK "\", \"vm_defaults\": {\"min\": \"12M\"}}\n");
	kill(d, SIGHUP);
	CHECK(WAIT_FOR(log_has("VM idle: its min of 12 MiB is refused") &&
		       find("active", &a) && esxmem_vm_value(a, ESXMEM_VM_MIN_PAGES) == 3072 && find("idle", &i) &&
		       esxmem_vm_value(i, ESXMEM_VM_MIN_PAGES) == 0 && esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES) < 3072),
	      "admission: active min %llu, idle min %llu (target %llu), refused with an error",
	      (unsigned long long)esxmem_vm_value(a, ESXMEM_VM_MIN_PAGES), (unsigned long long)esxmem_vm_value(i, ESXMEM_VM_MIN_PAGES),
	      (unsigned long long)esxmem_vm_value(i, ESXMEM_VM_TARGET_PAGES));
	CHECK(!log_has("VM active: its min"), "the older VM keeps its min");
	write_text(CONF, good_conf);

	kill(d, SIGTERM);
	CHECK(waitpid(d, &status, 0) == d && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	      access(SOCK, F_OK) != 0, "SIGTERM: clean exit, socket removed");
	CHECK(esxmemctl("status", NULL) == 3, "no daemon: esxmemctl says it cannot reach it");

	kill(active, SIGKILL);
	kill(idle, SIGKILL);
	waitpid(active, NULL, 0);
	waitpid(idle, NULL, 0);
	esx_sysfs_write("sample/period_secs", period0);
	esx_sysfs_write("sample/pages", pages0);
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == 0), "the guests' memory comes back");
	esx_sysfs_write("pool_pages", pool0);
	esxmem_close(nl);
	return vmtest_done("esxmemd_policy");
}
