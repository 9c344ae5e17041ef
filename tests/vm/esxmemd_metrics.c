// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd's Prometheus metrics, scraped over HTTP in the test host:
 *  - every sample line parses (HELP and TYPE before each family, label
 *    values unescaped, a VM whose name holds a quote, backslashes and a
 *    newline comes back byte for byte), every family the README lists is
 *    there, and each VM has one sample in each VM family;
 *  - every figure is the module's: per VM and for the pool, equal to
 *    "esxmemctl status" of the same balance (the daemon's view), and to
 *    libesxmem and sysfs read directly: exactly for what does not move,
 *    between a reading before the balance and one after it for counters;
 *    the overhead is the pmap (8 bytes a page) and the VM's part of the
 *    frame table, adding up to the module's metadata_bytes;
 *  - the node_exporter textfile holds the same text, replaced whole;
 *  - scrapers that connect and send nothing, or half a request, hold up
 *    neither balances nor other scrapes, and are closed after
 *    libmicrohttpd's timeout;
 *  - a reload with a metrics address that cannot be served is refused and
 *    the endpoint stays where it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include "prometheus.h"
#include <libesxmem/libesxmem.h>

#define DIR_		"/tmp/esxmemd-metrics"
#define CONF		DIR_ "/esxmemd.json"
#define SOCK		DIR_ "/control.sock"
#define LOG		DIR_ "/esxmemd.log"
#define TEXTFILE	DIR_ "/prom/esxmem.prom"
#define PORT		9464
#define BUSY_PORT	9465
#define WAIT_SECS	90.0
#define WAIT_FOR(cond)	ESX_WAIT_FOR(cond, WAIT_SECS)
#define PROMPT_SECS	5.0
#define MHD_TIMEOUT_SECS 10.0	/* METRICS_CONNECTION_SECS in metrics_http.c */
#define PAGES_A		2000u
#define PAGES_B		1000u
/* A name from the command line, and one set over netlink with a newline. */
#define NAME_A		"web\"1\\a"
#define NAME_B		"two\nlines\"q\\"

/* Without libm, which the test programs do not link. */
static double absd(double x)
{
	return x < 0 ? -x : x;
}

static double nonneg(double x)
{
	return x > 0 ? x : 0;
}

static void show_log(void)
{
	if (vmtest_failures)
		esx_show_tail(LOG, "esxmemd's log", 4000);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f, "create %s", path);
	fputs(text, f);
	fclose(f);
}

/* Whether the server has closed @fd (EOF or reset), without waiting. */
static bool closed_by_server(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, 0) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static double value(const struct prom_exposition *e, const char *name, const char *id,
		    const char *state)
{
	const struct prom_sample *s = prom_find(e, name, id, state);

	CHECK(s, "no sample %s{id=\"%s\",state=\"%s\"}", name, id, state);
	return s ? s->value : NAN;
}

static const char *const vm_families[] = {
	"esxmem_vm_size_bytes", "esxmem_vm_min_bytes", "esxmem_vm_max_bytes",
	"esxmem_vm_shares", "esxmem_vm_target_bytes", "esxmem_vm_granted_bytes",
	"esxmem_vm_consumed_bytes", "esxmem_vm_active_bytes", "esxmem_vm_active_ratio",
	"esxmem_vm_shared_bytes", "esxmem_vm_zero_bytes", "esxmem_vm_ballooned_bytes",
	"esxmem_vm_balloon_target_bytes", "esxmem_vm_compressed_bytes",
	"esxmem_vm_swapped_bytes", "esxmem_vm_overhead_bytes", "esxmem_vm_pmap_bytes",
	"esxmem_vm_frame_table_bytes", "esxmem_vm_fault_waits_total",
	"esxmem_vm_swap_ins_total", "esxmem_vm_decompressions_total",
	"esxmem_vm_cow_breaks_total",
};

static const char *const host_families[] = {
	"esxmem_module_loaded", "esxmem_balances_total", "esxmem_idle_tax_ratio",
	"esxmem_vms", "esxmem_pool_size_bytes", "esxmem_pool_used_bytes",
	"esxmem_pool_free_bytes", "esxmem_pool_state", "esxmem_pool_free_threshold_bytes",
	"esxmem_sharing_frames_bytes", "esxmem_sharing_saved_bytes",
	"esxmem_sharing_scanner_cpu_seconds_total",
};

static const char *const states[] = { "high", "soft", "hard", "low" };

/* Every family there, with its type by its name; every VM in every VM family once. */
static void check_form(const struct prom_exposition *e, char ids[2][16], const char *const names[2])
{
	size_t f, k, v, count;

	for (f = 0; f < sizeof(vm_families) / sizeof(vm_families[0]); f++) {
		const char *name = vm_families[f];
		bool counter = strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total");

		for (k = 0; k < e->nr_families && strcmp(e->families[k], name); k++)
			;
		CHECK(k < e->nr_families && !strcmp(e->types[k], counter ? "counter" : "gauge"),
		      "family %s: there, typed %s", name, counter ? "counter" : "gauge");
		for (v = 0; v < 2; v++) {
			const struct prom_sample *s = prom_find(e, name, ids[v], "");

			CHECK(s && !strcmp(s->vm, names[v]),
			      "%s of VM %s: one sample, labelled with its name (%s)", name, ids[v],
			      s ? s->vm : "none");
		}
		for (count = 0, k = 0; k < e->n; k++)
			count += !strcmp(e->s[k].name, name);
		CHECK(count == 2, "%s: one sample per VM, %zu", name, count);
	}
	for (f = 0; f < sizeof(host_families) / sizeof(host_families[0]); f++) {
		for (k = 0; k < e->nr_families && strcmp(e->families[k], host_families[f]); k++)
			;
		CHECK(k < e->nr_families, "family %s is there", host_families[f]);
	}
}

/* ---- the daemon's view: its control socket ------------------------------------ */

static json_t *status(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	static const char req[] = "{\"cmd\": \"status\"}\n";
	struct timeval tv = { .tv_sec = 20 };
	static char buf[1 << 18];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = 0;
	ssize_t n;
	json_t *r;

	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		close(fd);
		return NULL;
	}
	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	r = json_loads(buf, 0, NULL);
	if (r && !json_is_true(json_object_get(r, "ok"))) {
		json_decref(r);
		r = NULL;
	}
	return r;
}

static long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	CHECK(json_is_integer(v), "status: %s is a number", key);
	return json_integer_value(v);
}

static long long balances(void)
{
	json_t *r = status();
	long long n = r ? json_integer_value(json_object_get(r, "balances")) : -1;

	json_decref(r);
	return n;
}

/*
 * A scrape with the status of the same balance (the balance count equal
 * before and after it): the metrics must be the status's figures.
 */
static void check_against_status(char ids[2][16])
{
	static const struct {
		const char *family, *key;
	} pages[] = {
		{ "esxmem_vm_size_bytes", "size_pages" },
		{ "esxmem_vm_min_bytes", "min_pages" },
		{ "esxmem_vm_max_bytes", "max_pages" },
		{ "esxmem_vm_target_bytes", "target_pages" },
		{ "esxmem_vm_granted_bytes", "granted_pages" },
		{ "esxmem_vm_consumed_bytes", "consumed_pages" },
		{ "esxmem_vm_active_bytes", "active_pages" },
		{ "esxmem_vm_shared_bytes", "shared_pages" },
		{ "esxmem_vm_zero_bytes", "zero_pages" },
		{ "esxmem_vm_ballooned_bytes", "ballooned_pages" },
		{ "esxmem_vm_balloon_target_bytes", "balloon_target_pages" },
		{ "esxmem_vm_compressed_bytes", "compressed_pages" },
		{ "esxmem_vm_swapped_bytes", "swapped_pages" },
	}, bytes[] = {
		{ "esxmem_vm_overhead_bytes", "overhead_bytes" },
		{ "esxmem_vm_pmap_bytes", "pmap_bytes" },
		{ "esxmem_vm_frame_table_bytes", "frame_table_bytes" },
	};
	struct prom_exposition e;
	json_t *s1 = NULL, *s2 = NULL, *pool, *vms, *vm = NULL, *th;
	char *text = NULL;
	int tries;
	size_t i, k, st, v;
	long long page;

	for (tries = 0; tries < 20; tries++) {
		json_decref(s1);
		json_decref(s2);
		free(text);
		s1 = status();
		text = prom_scrape(PORT);
		s2 = status();
		REQUIRE(s1 && s2 && text, "status and scrape");
		REQUIRE(prom_parse(text, &e), "the scrape parses");
		if (jint(s1, "balances") == jint(s2, "balances") &&
		    value(&e, "esxmem_balances_total", "", "") == jint(s1, "balances"))
			break;
		prom_free(&e);
	}
	REQUIRE(tries < 20, "a scrape and a status of the same balance");
	pool = json_object_get(s1, "pool");
	vms = json_object_get(s1, "vms");
	page = jint(pool, "page_size");
	CHECK(value(&e, "esxmem_pool_size_bytes", "", "") == (double)(jint(pool, "pages") * page),
	      "pool size");
	CHECK(value(&e, "esxmem_pool_used_bytes", "", "") == (double)(jint(pool, "used_pages") * page),
	      "pool used");
	CHECK(value(&e, "esxmem_pool_free_bytes", "", "") == (double)(jint(pool, "free_pages") * page),
	      "pool free");
	th = json_object_get(pool, "thresholds_permille");
	for (st = 0; st < 4; st++) {
		CHECK(value(&e, "esxmem_pool_state", "", states[st]) ==
		      !strcmp(json_string_value(json_object_get(pool, "state")), states[st]),
		      "pool state %s: 1 for the current one, %s", states[st],
		      json_string_value(json_object_get(pool, "state")));
		CHECK(value(&e, "esxmem_pool_free_threshold_bytes", "", states[st]) ==
		      (double)(jint(pool, "pages") * jint(th, states[st]) / 1000 * page),
		      "threshold %s", states[st]);
	}
	CHECK(absd(value(&e, "esxmem_idle_tax_ratio", "", "") - 0.75) < 1e-12, "the tax");
	CHECK(value(&e, "esxmem_vms", "", "") == json_array_size(vms), "VMs");
	CHECK(value(&e, "esxmem_module_loaded", "", "") == 1, "module loaded");
	for (v = 0; v < 2; v++) {
		json_array_foreach(vms, i, vm)
			if (jint(vm, "id") == atoll(ids[v]))
				break;
		REQUIRE(i < json_array_size(vms), "VM %s in the status", ids[v]);
		for (k = 0; k < sizeof(pages) / sizeof(pages[0]); k++)
			CHECK(value(&e, pages[k].family, ids[v], "") ==
			      (double)(jint(vm, pages[k].key) * page),
			      "VM %s: %s %.0f, status %lld pages", ids[v], pages[k].family,
			      value(&e, pages[k].family, ids[v], ""), jint(vm, pages[k].key));
		for (k = 0; k < sizeof(bytes) / sizeof(bytes[0]); k++)
			CHECK(value(&e, bytes[k].family, ids[v], "") == (double)jint(vm, bytes[k].key),
			      "VM %s: %s", ids[v], bytes[k].family);
		CHECK(value(&e, "esxmem_vm_shares", ids[v], "") == jint(vm, "shares"),
		      "VM %s: shares", ids[v]);
		CHECK(absd(value(&e, "esxmem_vm_active_ratio", ids[v], "") -
			   json_number_value(json_object_get(vm, "active"))) < 1e-9,
		      "VM %s: active ratio", ids[v]);
	}
	printf("esxmemd_metrics: balance %lld: %zu samples agree with esxmemctl status\n",
	       jint(s1, "balances"), e.n);
	prom_free(&e);
	json_decref(s1);
	json_decref(s2);
	free(text);
}

/* ---- the module's own figures ----------------------------------------------- */

static struct esxmem_vm_info *vm_by_pid(struct esxmem *nl, pid_t pid)
{
	struct esxmem_vm_info **vms, *found = NULL;
	size_t n, i;

	if (esxmem_vm_list(nl, &vms, &n))
		return NULL;
	for (i = 0; i < n; i++)
		if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)pid) {
			found = vms[i];
			vms[i] = NULL;
		}
	esxmem_vm_list_free(vms, n);
	return found;
}

/* Whether VM @pid is attached to KVM and named @name; its id into @id. */
static bool attached_as(struct esxmem *nl, pid_t pid, const char *name, char id[16])
{
	struct esxmem_vm_info *vm = vm_by_pid(nl, pid);
	bool yes = vm && esxmem_vm_kvm_attached(vm) && !strcmp(esxmem_vm_name(vm), name);

	if (yes)
		snprintf(id, 16, "%u", esxmem_vm_id(vm));
	esxmem_vm_info_free(vm);
	return yes;
}

static bool value_at_least(struct esxmem *nl, pid_t pid, unsigned int what, uint64_t min)
{
	struct esxmem_vm_info *vm = vm_by_pid(nl, pid);
	bool yes = vm && esxmem_vm_value(vm, what) >= min;

	esxmem_vm_info_free(vm);
	return yes;
}

/*
 * The metrics of a balance that began after @before was read and ended
 * before @after was, against the module's: counters between the two,
 * other figures equal when they did not move.
 */
static void check_against_module(struct esxmem *nl, const pid_t pids[2], char ids[2][16])
{
	static const struct {
		const char *family;
		unsigned int what;
		bool pages, counter;
	} figures[] = {
		{ "esxmem_vm_size_bytes", ESXMEM_VM_SIZE_PAGES, true, false },
		{ "esxmem_vm_min_bytes", ESXMEM_VM_MIN_PAGES, true, false },
		{ "esxmem_vm_max_bytes", ESXMEM_VM_MAX_PAGES, true, false },
		{ "esxmem_vm_shares", ESXMEM_VM_SHARES, false, false },
		{ "esxmem_vm_target_bytes", ESXMEM_VM_TARGET_PAGES, true, false },
		{ "esxmem_vm_granted_bytes", ESXMEM_VM_GRANTED_PAGES, true, false },
		{ "esxmem_vm_consumed_bytes", ESXMEM_VM_CONSUMED_PAGES, true, false },
		{ "esxmem_vm_active_bytes", ESXMEM_VM_ACTIVE_PAGES, true, false },
		{ "esxmem_vm_overhead_bytes", ESXMEM_VM_OVERHEAD_BYTES, false, false },
		{ "esxmem_vm_pmap_bytes", ESXMEM_VM_PMAP_BYTES, false, false },
		{ "esxmem_vm_frame_table_bytes", ESXMEM_VM_FRAME_TABLE_BYTES, false, false },
		{ "esxmem_vm_fault_waits_total", ESXMEM_VM_FAULT_WAITS, false, true },
		{ "esxmem_vm_swap_ins_total", ESXMEM_VM_SWAP_INS, false, true },
		{ "esxmem_vm_decompressions_total", ESXMEM_VM_COMPRESS_INS, false, true },
		{ "esxmem_vm_cow_breaks_total", ESXMEM_VM_COW_BREAKS, false, true },
	};
	static const struct {
		const char *family;
		unsigned int state;
	} states_of[] = {
		{ "esxmem_vm_shared_bytes", ESXMEM_PAGE_SHARED },
		{ "esxmem_vm_zero_bytes", ESXMEM_PAGE_ZERO },
		{ "esxmem_vm_ballooned_bytes", ESXMEM_PAGE_BALLOONED },
		{ "esxmem_vm_compressed_bytes", ESXMEM_PAGE_COMPRESSED },
		{ "esxmem_vm_swapped_bytes", ESXMEM_PAGE_SWAPPED },
	};
	struct esxmem_vm_info *before[2], *after[2];
	long cpu0, cpu1, frames0, frames1, pool0, pool1, meta0, meta1;
	size_t v, k, exact = 0, bounded = 0, moved = 0;
	double overhead = 0, on_frames = 0;
	struct prom_exposition e;
	long long b0;
	char *text;

	b0 = balances();
	for (v = 0; v < 2; v++)
		REQUIRE((before[v] = vm_by_pid(nl, pids[v])), "VM %zu read", v);
	cpu0 = esx_sysfs_long("share/scan_cpu_us");
	frames0 = esx_sysfs_long("share/pages_shared");
	pool0 = esx_sysfs_long("pool_pages");
	meta0 = esx_sysfs_long("share/metadata_bytes");
	/* Two balances on: the second began after the readings above. */
	REQUIRE(WAIT_FOR(balances() >= b0 + 2), "balances go on");
	text = prom_scrape(PORT);
	REQUIRE(text && prom_parse(text, &e), "a scrape that parses");
	for (v = 0; v < 2; v++)
		REQUIRE((after[v] = vm_by_pid(nl, pids[v])), "VM %zu read", v);
	cpu1 = esx_sysfs_long("share/scan_cpu_us");
	frames1 = esx_sysfs_long("share/pages_shared");
	pool1 = esx_sysfs_long("pool_pages");
	meta1 = esx_sysfs_long("share/metadata_bytes");
	CHECK(value(&e, "esxmem_balances_total", "", "") >= b0 + 2, "the scrape is that recent");

	for (v = 0; v < 2; v++) {
		for (k = 0; k < sizeof(figures) / sizeof(figures[0]); k++) {
			double m = value(&e, figures[k].family, ids[v], "");
			double scale = figures[k].pages ? ESX_PAGE : 1;
			double lo = esxmem_vm_value(before[v], figures[k].what) * scale;
			double hi = esxmem_vm_value(after[v], figures[k].what) * scale;

			if (figures[k].counter) {
				CHECK(lo <= m && m <= hi, "VM %s: %s %.0f, module %.0f then %.0f",
				      ids[v], figures[k].family, m, lo, hi);
				bounded++;
			} else if (lo == hi) {
				CHECK(m == lo, "VM %s: %s %.0f, module %.0f", ids[v],
				      figures[k].family, m, lo);
				exact++;
			} else {
				moved++;
			}
		}
		for (k = 0; k < sizeof(states_of) / sizeof(states_of[0]); k++) {
			double m = value(&e, states_of[k].family, ids[v], "");
			double lo = esxmem_vm_state_pages(before[v], states_of[k].state) * (double)ESX_PAGE;
			double hi = esxmem_vm_state_pages(after[v], states_of[k].state) * (double)ESX_PAGE;

			if (lo == hi) {
				CHECK(m == lo, "VM %s: %s %.0f, module %.0f", ids[v],
				      states_of[k].family, m, lo);
				exact++;
			} else {
				moved++;
			}
		}
		/* vSphere-style definitions, from the module's own figures. */
		CHECK(esxmem_vm_value(after[v], ESXMEM_VM_PMAP_BYTES) ==
		      esxmem_vm_value(after[v], ESXMEM_VM_SIZE_PAGES) * 8,
		      "VM %s: the pmap is 8 bytes a page", ids[v]);
		CHECK(esxmem_vm_value(after[v], ESXMEM_VM_FRAME_TABLE_BYTES) > 0,
		      "VM %s: it has a part of the frame table", ids[v]);
		CHECK(esxmem_vm_value(after[v], ESXMEM_VM_GRANTED_PAGES) ==
		      esxmem_vm_state_pages(after[v], ESXMEM_PAGE_PRIVATE) +
		      esxmem_vm_state_pages(after[v], ESXMEM_PAGE_SHARED) +
		      esxmem_vm_state_pages(after[v], ESXMEM_PAGE_ZERO),
		      "VM %s: granted is private + shared + zero", ids[v]);
		overhead += value(&e, "esxmem_vm_overhead_bytes", ids[v], "");
		on_frames += value(&e, "esxmem_vm_shared_bytes", ids[v], "") +
			     value(&e, "esxmem_vm_zero_bytes", ids[v], "");
		esxmem_vm_info_free(before[v]);
		esxmem_vm_info_free(after[v]);
	}
	/* The two VMs are all the module has: their overheads are its metadata. */
	if (meta0 == meta1 && esx_sysfs_long("share/guest_pages") == PAGES_A + PAGES_B)
		CHECK(overhead <= meta0 && overhead >= meta0 - 2,
		      "the VMs' overheads add up to the module's metadata_bytes: %.0f, %ld",
		      overhead, meta0);
	CHECK(cpu0 <= value(&e, "esxmem_sharing_scanner_cpu_seconds_total", "", "") * 1e6 + 0.5 &&
	      value(&e, "esxmem_sharing_scanner_cpu_seconds_total", "", "") * 1e6 <= cpu1 + 0.5,
	      "scanner CPU %.6f s, sysfs %ld then %ld us",
	      value(&e, "esxmem_sharing_scanner_cpu_seconds_total", "", ""), cpu0, cpu1);
	if (frames0 == frames1)
		CHECK(value(&e, "esxmem_sharing_frames_bytes", "", "") == frames0 * (double)ESX_PAGE,
		      "shared frames");
	CHECK(value(&e, "esxmem_sharing_saved_bytes", "", "") ==
	      nonneg(on_frames - value(&e, "esxmem_sharing_frames_bytes", "", "")),
	      "saved: shared and zero pages less the frames behind them");
	if (pool0 == pool1)
		CHECK(value(&e, "esxmem_pool_size_bytes", "", "") == pool0 * (double)ESX_PAGE,
		      "the pool's size is sysfs's pool_pages");
	printf("esxmemd_metrics: against the module: %zu figures equal, %zu counters within their readings, %zu moved meanwhile\n",
	       exact, bounded, moved);
	CHECK(exact >= 20, "most figures held still long enough to compare exactly");
	prom_free(&e);
	free(text);
}

/* ---- the textfile ---------------------------------------------------------------- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, 1 << 20);
	REQUIRE(buf, "calloc");
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void check_textfile(void)
{
	char *f1 = NULL, *f2 = NULL, *text = NULL;
	struct stat st;
	int tries;

	REQUIRE(WAIT_FOR(!access(TEXTFILE, R_OK)), "the textfile is written");
	REQUIRE(!stat(TEXTFILE, &st) && (st.st_mode & 0777) == 0644,
		"the textfile is readable by node_exporter: mode %o", st.st_mode & 0777);
	for (tries = 0; tries < 20; tries++) {
		free(f1);
		free(f2);
		free(text);
		f1 = read_file(TEXTFILE);
		text = prom_scrape(PORT);
		f2 = read_file(TEXTFILE);
		REQUIRE(f1 && f2 && text, "read the textfile and scrape");
		if (!strcmp(f1, f2) && !strcmp(f1, text))
			break;
	}
	CHECK(tries < 20, "the textfile holds what the endpoint serves");
	free(f1);
	free(f2);
	free(text);
}

/* Nothing but the textfile in its directory once the daemon stopped. */
static void check_no_temporaries(void)
{
	DIR *dir = opendir(DIR_ "/prom");
	struct dirent *de;
	int n = 0;

	REQUIRE(dir, "open %s/prom", DIR_);
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))) {
			CHECK(!strcmp(de->d_name, "esxmem.prom"), "a file left over: %s", de->d_name);
			n++;
		}
	closedir(dir);
	CHECK(n == 1, "the textfile alone is there");
}

/* ---- silent scrapers --------------------------------------------------------------- */

static void check_silent_clients(void)
{
	int silent[3], half, k;
	double t0, t, secs;
	long long b0;
	char *text;

	t0 = esx_now();
	for (k = 0; k < 3; k++)
		REQUIRE((silent[k] = prom_connect(PORT)) >= 0, "connect");
	half = prom_connect(PORT);
	REQUIRE(half >= 0 && send(half, "GET /metr", 9, MSG_NOSIGNAL) == 9, "half a request");
	b0 = balances();
	t = esx_now();
	text = prom_scrape(PORT);
	secs = esx_now() - t;
	CHECK(text && secs < PROMPT_SECS, "a scrape is served within %.0f s beside silent ones: %.2f s",
	      PROMPT_SECS, secs);
	printf("esxmemd_metrics: scrape beside 4 silent clients: %.3f s\n", secs);
	free(text);
	CHECK(ESX_WAIT_FOR(balances() >= b0 + 2, MHD_TIMEOUT_SECS / 2),
	      "balances go on: %lld, then %lld", b0, balances());
	for (k = 0; k < 3; k++)
		CHECK(!closed_by_server(silent[k]) || esx_now() - t0 >= MHD_TIMEOUT_SECS - 1,
		      "all of this while they were connected");
	for (k = 0; k < 3; k++) {
		CHECK(ESX_WAIT_FOR(closed_by_server(silent[k]), MHD_TIMEOUT_SECS * 4),
		      "a silent client is closed after the timeout");
		close(silent[k]);
	}
	CHECK(ESX_WAIT_FOR(closed_by_server(half), MHD_TIMEOUT_SECS * 4),
	      "so is the one with half a request");
	printf("esxmemd_metrics: silent clients closed after %.1f s\n", esx_now() - t0);
	close(half);
}

/* ---- reload ------------------------------------------------------------------------ */

static void conf(const char *listen)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"pool\": {\"size\": \"40M\"}, \"balance_period\": 1,\n"
		 " \"control_socket\": \"" SOCK "\",\n"
		 " \"metrics\": {\"listen\": \"%s\", \"textfile\": \"" TEXTFILE "\"},\n"
		 " \"vms\": {\"web\\\"1\\\\a\": {\"min\": \"1M\", \"max\": \"6M\", \"shares\": 1234}}}\n",
		 listen);
	write_text(CONF, text);
}

static void check_bad_reload(pid_t d)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(BUSY_PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *text;
	int code;

	/* Not an address: the configuration itself is refused. */
	conf("localhost:9464");
	kill(d, SIGHUP);
	CHECK(WAIT_FOR(esx_file_has(LOG, "metrics.listen: must be")),
	      "a reload with a bad metrics address is refused with the reason");
	/* An address another program holds: refused, the endpoint stays. */
	REQUIRE(busy >= 0 && !bind(busy, (struct sockaddr *)&a, sizeof(a)) && !listen(busy, 1),
		"hold port %d", BUSY_PORT);
	conf("127.0.0.1:9465");
	kill(d, SIGHUP);
	CHECK(WAIT_FOR(esx_file_has(LOG, "metrics.listen: cannot serve on 127.0.0.1:9465")),
	      "a reload with a busy address is refused");
	text = prom_scrape(PORT);
	CHECK(text, "the endpoint is still served on port %d", PORT);
	free(text);
	close(busy);
	conf("127.0.0.1:9464");
	/* Other paths and methods. */
	code = prom_http(PORT, "GET", "/", &text);
	CHECK(code == 404 && text && strstr(text, "/metrics"), "/ is 404, pointing at /metrics: %d",
	      code);
	free(text);
	code = prom_http(PORT, "POST", "/metrics", &text);
	CHECK(code == 405, "POST is 405: %d", code);
	free(text);
	code = prom_http(PORT, "HEAD", "/metrics", &text);
	CHECK(code == 200 && text && !*text, "HEAD is 200 without a body: %d", code);
	free(text);
}

int main(void)
{
	struct esxmem_vm_settings name_b = { .set = ESXMEM_VM_SET_NAME, .name = NAME_B };
	const char *names[2] = { NAME_A, NAME_B };
	struct esxmem_vm_info *vm;
	char ids[2][16], pool0[32];
	pid_t pids[2], d;
	struct esxmem *nl;
	int k, st;

	atexit(show_log);
	prom_loopback_up();
	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	mkdir(DIR_, 0755);
	mkdir(DIR_ "/prom", 0755);
	conf("127.0.0.1:9464");

	for (k = 0; k < 2; k++) {
		char pages[16];

		snprintf(pages, sizeof(pages), "%u", k ? PAGES_B : PAGES_A);
		/* A writes half of its pages over and over; B only sits. */
		pids[k] = esx_start_tinyvmm(-1, "--pages", pages, "--touch", k ? "0" : "50",
					    "--name", k ? "guest=unused" : "guest=" NAME_A, NULL);
		REQUIRE(pids[k] > 0, "start tinyvmm");
	}
	/* B's name is set over netlink before the daemon comes: it keeps it. */
	REQUIRE(WAIT_FOR((vm = vm_by_pid(nl, pids[1])) != NULL), "VM B appears");
	REQUIRE_OK(esxmem_vm_set(nl, esxmem_vm_id(vm), &name_b));
	esxmem_vm_info_free(vm);

	d = esx_start_esxmemd(CONF, LOG, false);
	REQUIRE(d > 0, "fork");
	for (k = 0; k < 2; k++)
		REQUIRE(WAIT_FOR(attached_as(nl, pids[k], names[k], ids[k])),
			"the daemon attaches VM %d, named as it should be", k);
	/* The settings of A's name are applied: the name matched. */
	REQUIRE(WAIT_FOR(value_at_least(nl, pids[0], ESXMEM_VM_SHARES, 1234)),
		"VM A has its configured shares");
	/* A has written its pages: its consumed memory holds still from here. */
	REQUIRE(WAIT_FOR(value_at_least(nl, pids[0], ESXMEM_VM_CONSUMED_PAGES, PAGES_A / 2)),
		"VM A writes its pages");

	{
		struct prom_exposition e;
		char *text;

		REQUIRE(WAIT_FOR((text = prom_scrape(PORT)) != NULL), "the endpoint serves the metrics");
		REQUIRE(prom_parse(text, &e), "the metrics parse");
		check_form(&e, ids, names);
		prom_free(&e);
		free(text);
	}
	check_against_status(ids);
	check_against_module(nl, pids, ids);
	check_textfile();
	check_silent_clients();
	check_bad_reload(d);
	check_against_status(ids);

	kill(d, SIGTERM);
	CHECK(waitpid(d, &st, 0) == d && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "SIGTERM: clean exit");
	check_no_temporaries();
	for (k = 0; k < 2; k++) {
		kill(pids[k], SIGKILL);
		waitpid(pids[k], NULL, 0);
	}
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == 0), "the guests' memory comes back");
	esx_sysfs_write("pool_pages", pool0);
	esxmem_close(nl);
	return vmtest_done("esxmemd_metrics");
}
