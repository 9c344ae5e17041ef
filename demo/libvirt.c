// SPDX-License-Identifier: GPL-2.0
/*
 * Demo scenario "libvirt": esxmem the way operators run KVM, watched the way
 * they watch their hosts. Debian's libvirtd keeps its domains' RAM on
 * esxmemfs (qemu.conf's memory_backing_dir, as the README says); two
 * domains of 160 MiB are defined from XML and started with "virsh start":
 * lv-esx runs esxballoon, lv-virtio has only libvirt's stock virtio
 * balloon, which esxmemd drives through libvirt's own API. Every 2 s the
 * scenario scrapes esxmemd's Prometheus endpoint, as Prometheus would,
 * and shows each domain's figures from it beside "virsh dommemstat".
 * Once both guests are up the pool is tightened to 3 % free and held in
 * the soft state: both balloons take memory back. Then "virsh destroy",
 * and the pool goes back to what it used before the domains.
 *
 * Runs in the test host (make demo). Records libvirt-lv-esx.csv and
 * libvirt-lv-virtio.csv (each domain's figures), libvirt-pool.csv (what
 * the pool uses, and used before), with the events marked on each. Exits non-zero if libvirtd, virsh,
 * a guest or the endpoint fails, esxmemd does not name the VMs after their
 * domains or take lv-virtio as libvirt's, a balloon takes back less than
 * 16 MiB (lv-virtio's as libvirt's "actual" shows it), or the pool does not
 * come back to its baseline after "virsh destroy".
 */
#include "esxtest.h"
#include "vmtest.h"
#include "libvirt_host.h"
#include "prometheus.h"
#include "demo.h"

#define GUESTS		2
#define GUEST_MIB	160u
#define METRICS_PORT	9464
#define SAMPLE_SECS	2
#define BOOT_SECS	240.0		/* to boot, and for esxmemd to find them */
#define SQUEEZE_SECS	180.0		/* for both balloons to take GOAL_MIB */
#define SHOW_SECS	12.0		/* the least the squeeze is shown */
#define DESTROY_SECS	60.0		/* for the pool to come back */
#define GOAL_MIB	16.0
#define MiB		1048576.0

/*
 * esxmemd with libvirt and its metrics endpoint on. Each VM's max of 32
 * MiB gives the balloons work once the pool is short; no swap, so that
 * what comes back is the balloons'.
 */
static const char conf[] =
	"{\"balance_period\": 1, \"control_socket\": \"" DEMO_SOCKET "\",\n"
	" \"libvirt_uri\": \"qemu:///system\",\n"
	" \"metrics\": {\"listen\": \"127.0.0.1:9464\"},\n"
	" \"vm_defaults\": {\"max\": \"32M\", \"reclaim\": {\"swap\": false}}}\n";

/* The guests load their balloon and hold (tests/host/guest-init), no more: they boot fast. */
static struct libvirt_domain domains[GUESTS] = {
	{ .name = "lv-esx", .mib = GUEST_MIB, .work = "guest.work=balloon", .balloon = "none",
	  .cid = 3 },
	{ .name = "lv-virtio", .mib = GUEST_MIB, .work = "guest.work=virtio-balloon",
	  .balloon = "virtio", .cid = 4 },
};

/* One domain's figures in MiB at one moment: esxmemd's, then libvirt's. */
struct figures {
	bool managed;		/* esxmemd's metrics have the VM, by its domain's name */
	double consumed, target, balloon_target, ballooned, shared;
	double actual;		/* libvirt's current memory (libvirt_memory_kib()), or -1 */
};

/* What the pool used before the domains started, in MiB. */
static double baseline_mib;

struct pool {
	double size, used, free;
	char state[8];
};

/* The esxmem_vm_... sample of the VM named @name, in MiB; 0 if none. */
static double vm_mib(const struct prom_exposition *e, const char *family, const char *name)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->s[i].name, family) && !strcmp(e->s[i].vm, name))
			return e->s[i].value / MiB;
	return 0;
}

static bool has_vm(const struct prom_exposition *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->s[i].name, "esxmem_vm_consumed_bytes") && !strcmp(e->s[i].vm, name))
			return true;
	return false;
}

/* The host's sample of @family (with state label @state, or ""). */
static double host_value(const struct prom_exposition *e, const char *family, const char *state)
{
	const struct prom_sample *s = prom_find(e, family, "", state);

	REQUIRE(s, "the metrics have no %s%s%s", family, *state ? " for state " : "", state);
	return s->value;
}

/* The lines of the endpoint's text about VM @name's memory, as Prometheus reads them. */
static void show_metrics_of(const char *name)
{
	static const char *const families[] = {
		"esxmem_vm_consumed_bytes{", "esxmem_vm_target_bytes{",
		"esxmem_vm_balloon_target_bytes{", "esxmem_vm_ballooned_bytes{",
	};
	char *text = prom_scrape(METRICS_PORT), *line, *end, label[96];
	size_t k;

	REQUIRE(text, "no answer from esxmemd's metrics");
	snprintf(label, sizeof(label), "name=\"%s\"", name);
	for (line = text; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			break;
		for (k = 0; k < sizeof(families) / sizeof(families[0]); k++)
			if (!strncmp(line, families[k], strlen(families[k])) &&
			    memmem(line, (size_t)(end - line), label, strlen(label)))
				printf("demo:   %.*s\n", (int)(end - line), line);
	}
	free(text);
}

/* Runs @cmd; its output as the viewer's lines; fails the scenario if it fails. */
static void show_command(const char *cmd)
{
	char line[256];
	FILE *p = popen(cmd, "r");

	REQUIRE(p, "run %s", cmd);
	printf("demo: # %s\n", cmd);
	while (fgets(line, sizeof(line), p))
		if (line[0] != '\n')
			printf("demo:   %s", line);
	REQUIRE(!pclose(p), "%s failed", cmd);
}

/* One scrape of the endpoint: every domain's and the pool's figures. */
static void scrape(struct figures *f, struct pool *p)
{
	static const char *const states[] = { "high", "soft", "hard", "low" };
	struct prom_exposition e;
	char *text = prom_scrape(METRICS_PORT);
	size_t g, k;

	REQUIRE(text, "no answer from esxmemd's metrics at http://127.0.0.1:%d/metrics",
		METRICS_PORT);
	REQUIRE(prom_parse(text, &e) && !vmtest_failures, "esxmemd's metrics do not parse");
	for (g = 0; g < GUESTS; g++) {
		const char *name = domains[g].name;

		f[g].managed = has_vm(&e, name);
		f[g].consumed = vm_mib(&e, "esxmem_vm_consumed_bytes", name);
		f[g].target = vm_mib(&e, "esxmem_vm_target_bytes", name);
		f[g].balloon_target = vm_mib(&e, "esxmem_vm_balloon_target_bytes", name);
		f[g].ballooned = vm_mib(&e, "esxmem_vm_ballooned_bytes", name);
		f[g].shared = vm_mib(&e, "esxmem_vm_shared_bytes", name) +
			      vm_mib(&e, "esxmem_vm_zero_bytes", name);
		f[g].actual = -1;
	}
	p->size = host_value(&e, "esxmem_pool_size_bytes", "") / MiB;
	p->used = host_value(&e, "esxmem_pool_used_bytes", "") / MiB;
	p->free = host_value(&e, "esxmem_pool_free_bytes", "") / MiB;
	strcpy(p->state, "?");
	for (k = 0; k < sizeof(states) / sizeof(states[0]); k++)
		if (host_value(&e, "esxmem_pool_state", states[k]) == 1)
			strcpy(p->state, states[k]);
	prom_free(&e);
	free(text);
}

static bool scrape_ok(void)
{
	char *text = prom_scrape(METRICS_PORT);

	free(text);
	return text != NULL;
}

/*
 * libvirt's current memory of domain @d, in KiB: "virsh dommemstat"'s
 * "actual", its RAM less what its stock balloon holds; for a domain
 * without one, whose dommemstat leaves it out, "virsh dominfo"'s "Used
 * memory", the same figure.
 */
static int64_t libvirt_memory_kib(const struct libvirt_domain *d)
{
	int64_t kib = strcmp(d->balloon, "none") ?
		      libvirt_virsh_value("dommemstat", d->name, "actual") :
		      libvirt_virsh_value("dominfo", d->name, "Used memory");

	REQUIRE(kib > 0, "virsh gives no memory of %s: see /tmp/virsh-value.out", d->name);
	return kib;
}

/* What the domain's balloon holds, in MiB: esxballoon's frames, or libvirt's word. */
static double balloon_held(const struct figures *f, size_t g)
{
	return g == 0 ? f->ballooned : f->actual >= 0 ? GUEST_MIB - f->actual : 0;
}

static void check_consoles(void)
{
	static const char *const trouble[] = {
		"Kernel panic", "Out of memory", "GUEST-MEMTEST-FAIL", "GUEST-BALLOON-FAIL",
	};
	size_t g, k;

	for (g = 0; g < GUESTS; g++)
		for (k = 0; k < sizeof(trouble) / sizeof(trouble[0]); k++)
			if (esx_file_has(domains[g].console, trouble[k])) {
				esx_show_tail(domains[g].console, domains[g].name, 3000);
				REQUIRE(0, "domain %s: %s", domains[g].name, trouble[k]);
			}
}

static void mark(const char *label)
{
	static const char *const files[] = { "libvirt-lv-esx", "libvirt-lv-virtio", "libvirt-pool" };
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		printf("data: %s.events %.0f,%s\n", files[i], demo_clock(), label);
}

/*
 * One sample: scrape, ask virsh for each running domain's memory, show
 * and record it all. @running: the domains are up (virsh has figures).
 */
static void sample(struct figures *f, struct pool *p, bool running)
{
	static char last_state[8];
	double t;
	size_t g;

	scrape(f, p);
	t = demo_clock();
	for (g = 0; g < GUESTS && running; g++)
		f[g].actual = libvirt_memory_kib(&domains[g]) / 1024.0;
	for (g = 0; g < GUESTS; g++) {
		char actual[16] = "-";

		if (running)
			snprintf(actual, sizeof(actual), "%.1f", f[g].actual);
		printf("demo: %5.0fs %-9s %8.1f %7.1f %9.1f %6.1f %7.1f %11s\n", t, domains[g].name,
		       f[g].consumed, f[g].target, f[g].balloon_target, balloon_held(&f[g], g),
		       f[g].shared, actual);
	}
	if (strcmp(p->state, last_state)) {
		printf("demo: %5.0fs pool: %.1f MiB, %.1f used, %.1f free: state %s\n", t, p->size,
		       p->used, p->free, p->state);
		strcpy(last_state, p->state);
	}
	for (g = 0; g < GUESTS; g++)
		printf("data: libvirt-%s.csv %.0f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f\n", domains[g].name, t,
		       f[g].consumed, f[g].target, f[g].balloon_target, balloon_held(&f[g], g),
		       f[g].shared, running ? f[g].actual : 0.0);
	printf("data: libvirt-pool.csv %.0f,%.1f,%.1f\n", t, p->used, baseline_mib);
	check_consoles();
}

/* The domains' CSV headers and the live view's, once. */
static void headers(void)
{
	size_t g;

	for (g = 0; g < GUESTS; g++) {
		const char *n = domains[g].name;

		printf("data: libvirt-%s.csv time (s),%s: consumed (MiB),%s: target (MiB),"
		       /* Labels with no commas: the CSV's separator. */
		       "%s: balloon target (MiB),%s: balloon holds%s (MiB),"
		       "%s: shared and zero pages (MiB),%s: libvirt's current memory (MiB)\n",
		       n, n, n, n, n, g ? " per libvirt" : "", n, n);
	}
	printf("data: libvirt-pool.csv time (s),pool: used (MiB),pool: used before the domains (MiB)\n");
	printf("demo: %6s %-9s %8s %7s %9s %6s %7s %11s\n", "TIME", "DOMAIN", "CONSUMED", "TARGET",
	       "BALLOON:TO", "HOLDS", "SHARED", "LIBVIRT");
}

static bool both_up(void)
{
	return esx_file_has(domains[0].console, "GUEST-HOLD") &&
	       esx_file_has(domains[1].console, "GUEST-HOLD");
}

int main(void)
{
	struct figures f[GUESTS] = { 0 };
	struct pool p = { 0 };
	char saved_pool[32], saved_high[8];
	double t0, boot_secs, squeeze_secs, most_shared = 0;
	long used0, pool;
	size_t g;

	demo_begin(conf);
	prom_loopback_up();
	printf("demo: == libvirt: two libvirt domains of %u MiB on esxmem, watched from esxmemd's\n"
	       "demo:    Prometheus endpoint ==\n", GUEST_MIB);
	printf("demo: libvirtd keeps its domains' RAM on esxmemfs (qemu.conf: memory_backing_dir =\n"
	       "demo: \"/run/esxmem\"). lv-esx runs esxballoon; lv-virtio has only the stock virtio\n"
	       "demo: balloon, which esxmemd drives through libvirt's API (libvirt owns QEMU's\n"
	       "demo: monitor). Every %d s: what http://127.0.0.1:%d/metrics says of each domain\n"
	       "demo: (consumed, esxmemd's target, what it asks the balloon to hold, what the\n"
	       "demo: balloon holds, pages on shared and zero frames), beside libvirt's current\n"
	       "demo: memory (virsh dommemstat's \"actual\": the domain's RAM less what its stock\n"
	       "demo: balloon holds), in MiB. Each VM's max is 32 MiB: a short pool balloons them.\n",
	       SAMPLE_SECS, METRICS_PORT);
	esx_sysfs_string("pool_pages", saved_pool, sizeof(saved_pool));
	esx_sysfs_string("state_high_permille", saved_high, sizeof(saved_high));
	used0 = esx_pool_settled(10);
	baseline_mib = used0 / 256.0;

	libvirt_setup();
	t0 = esx_now();
	libvirt_start_daemon();
	printf("demo: libvirtd is up (QEMU probed) after %.1f s\n", esx_now() - t0);
	/* esxmemd serves its metrics from its first balance on. */
	REQUIRE(ESX_WAIT_FOR(scrape_ok(), 30), "esxmemd does not serve its metrics at "
		"http://127.0.0.1:%d/metrics: see its log", METRICS_PORT);
	headers();
	t0 = esx_now();
	mark("virsh start");
	for (g = 0; g < GUESTS; g++) {
		libvirt_start_domain(&domains[g]);
		printf("demo: virsh start %s: started (%s balloon, vsock CID %u)\n", domains[g].name,
		       g ? "stock virtio" : "esxballoon", domains[g].cid);
	}

	/* Up, named after their domains, and lv-virtio's balloon in libvirt's hands. */
	while (!both_up() || !f[0].managed || !f[1].managed ||
	       !esx_file_has(DEMO_LOG, "VM lv-virtio is libvirt's domain")) {
		REQUIRE(esx_now() - t0 < BOOT_SECS,
			"after %.0f s: %s", BOOT_SECS,
			!both_up() ? "a domain's guest did not boot (its console is /tmp/NAME.console)" :
			!f[0].managed || !f[1].managed ?
			"esxmemd's metrics do not name a VM after its domain" :
			"esxmemd did not take lv-virtio as libvirt's domain (see its log)");
		sample(f, &p, true);
		usleep(SAMPLE_SECS * 1000000);
	}
	boot_secs = esx_now() - t0;
	printf("demo: both domains are up and esxmemd manages them by their names (%.0f s)\n",
	       boot_secs);

	/* A short pool held in the soft state: the balloons take memory back. */
	pool = esx_pool_hold_soft();
	REQUIRE(pool > 0, "hold the pool in the soft state: %s", strerror((int)-pool));
	printf("demo: the pool shrinks to %.1f MiB, 3 %% free, and is held in the soft state:\n"
	       "demo: esxmemd inflates both balloons, esxballoon's over vsock, the stock one through\n"
	       "demo: libvirt (virDomainSetMemory); libvirt's \"actual\" falls as it inflates.\n",
	       pool / 256.0);
	mark("pool short: soft");
	t0 = esx_now();
	do {
		sample(f, &p, true);
		for (g = 0; g < GUESTS; g++)
			most_shared = f[g].shared > most_shared ? f[g].shared : most_shared;
		REQUIRE(esx_now() - t0 < SQUEEZE_SECS,
			"after %.0f s of a short pool, the balloons hold %.1f MiB (lv-esx) and "
			"%.1f MiB (lv-virtio), not %.0f MiB each: see esxmemd's log",
			SQUEEZE_SECS, balloon_held(&f[0], 0), balloon_held(&f[1], 1), GOAL_MIB);
		usleep(SAMPLE_SECS * 1000000);
	} while (balloon_held(&f[0], 0) < GOAL_MIB || balloon_held(&f[1], 1) < GOAL_MIB ||
		 esx_now() - t0 < SHOW_SECS);
	squeeze_secs = esx_now() - t0;
	printf("demo: the balloons hold %.1f MiB (lv-esx, esxmem's BALLOONED pages) and %.1f MiB\n"
	       "demo: (lv-virtio: its %u MiB less libvirt's actual %.1f MiB)\n",
	       balloon_held(&f[0], 0), balloon_held(&f[1], 1), GUEST_MIB, f[1].actual);
	printf("demo: What an operator sees of lv-virtio: libvirt's view, then esxmemd's.\n");
	show_command(VIRSH "dommemstat lv-virtio 2>&1");
	printf("demo: # curl -s http://127.0.0.1:%d/metrics | grep lv-virtio (some of it)\n",
	       METRICS_PORT);
	show_metrics_of("lv-virtio");
	printf("summary: libvirt lv_esx_balloon_mib %.1f\n", balloon_held(&f[0], 0));
	printf("summary: libvirt lv_virtio_balloon_mib %.1f\n", balloon_held(&f[1], 1));
	printf("summary: libvirt lv_virtio_libvirt_actual_mib %.1f\n", f[1].actual);
	printf("summary: libvirt most_shared_and_zero_mib %.1f\n", most_shared);
	printf("summary: libvirt boot_secs %.0f\n", boot_secs);
	printf("summary: libvirt balloon_secs %.0f\n", squeeze_secs);
	demo_show_status();

	/* virsh destroy: every page back to the pool. */
	REQUIRE_OK(esx_sysfs_write("pool_pages", saved_pool));
	REQUIRE_OK(esx_sysfs_write("state_high_permille", saved_high));
	for (g = 0; g < GUESTS; g++) {
		REQUIRE(libvirt_destroy_domain(&domains[g]), "virsh destroy %s: see /tmp/virsh.out",
			domains[g].name);
		printf("demo: virsh destroy %s\n", domains[g].name);
	}
	mark("virsh destroy");
	t0 = esx_now();
	do {
		REQUIRE(esx_now() - t0 < DESTROY_SECS,
			"%.0f s after virsh destroy the pool uses %.1f MiB, %.1f MiB more than before "
			"the domains%s", DESTROY_SECS, p.used, p.used - baseline_mib,
			f[0].managed || f[1].managed ? ", and esxmemd still lists a domain's VM" : "");
		usleep(SAMPLE_SECS * 1000000);
		sample(f, &p, false);
	} while (f[0].managed || f[1].managed || esx_sysfs_long("used_pages") > used0);
	printf("demo: the domains' VMs are gone; the pool uses %.1f MiB, as before them (%.1f MiB)\n",
	       p.used, baseline_mib);
	printf("summary: libvirt pool_used_after_destroy_mib %.1f\n", p.used);
	printf("summary: libvirt pool_used_before_mib %.1f\n", baseline_mib);
	return demo_done();
}
