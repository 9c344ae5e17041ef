// SPDX-License-Identifier: GPL-2.0
/*
 * sharing: esxmem's page sharing against the kernel's KSM, side by side on
 * the same contents in one run.
 *
 * Contents: VMS memory regions of VM_MIB each, as identical guests would
 * hold them: half real data (the nested guest's kernel and initramfs,
 * shared libraries, kernel modules, QEMU: the same data in every VM, at
 * a different place in each), a quarter zero pages and a quarter unique
 * random pages. The bench counts the distinct page contents and so knows
 * exactly how many pages could be saved.
 *
 * Each system runs on its own copy: esxmem objects in one sharing domain,
 * in 4 KiB pages (large_pages=never, as KSM's memory is MADV_NOHUGEPAGE),
 * and anonymous memory marked MADV_MERGEABLE under KSM. Twice: at an equal
 * scan rate (EQUAL_RATE pages a second: KSM's pages_to_scan per
 * sleep_millisecs, esxmem's pages_per_sec) and at each one's maximum rate.
 * For every run: the pages saved after FULL_SCANS passes over all pages,
 * against the achievable maximum; the time to 90% of that maximum; and the
 * scanner's CPU time per page scanned (ksmd's from /proc/PID/schedstat,
 * over whole passes; esxmem's from share/scan_cpu_us and pages_scanned).
 *
 * Then real guests: GUESTS identical idle Linux guests under QEMU (KVM),
 * with RAM on /dev/esxmem in one sharing domain (align=2M: in large pages
 * mapped 2 MiB), once for each share/break_large setting (never; always;
 * pressure, with the pool held in the soft state by lowering pool_pages
 * once the guests are up, as sharing frees pages), and once on QEMU's own
 * anonymous memory (memory-backend-ram: transparent huge pages) with KSM
 * (QEMU marks it mergeable; KSM splits the huge pages it merges). The
 * scanners start once every guest is up, at EQUAL_RATE; GUEST_SECS later:
 * the memory saved, the scanner's CPU time over those seconds (esxmem's
 * share/scan_cpu_us, ksmd's schedstat), and the host memory the guests
 * take then (MemFree before less MemFree then, QEMU included), the one
 * measure both systems are judged alike by. No VGA device, so that KSM
 * too sees little besides guest RAM (QEMU marks all its RAM blocks
 * mergeable, ROMs included). esxmem's saving is its guest pages on shared
 * frames less the frames, plus its guest pages that went to the zero state
 * while it scanned (zero pages it found, and the all-zero pieces of the
 * large pages it broke, which break without a zero merge); KSM's is
 * pages_sharing. Also, when the guests are up and before any scan: the
 * share of their RAM that KVM maps with 2 MiB NPT/EPT entries, and of
 * what it has mapped for them (KVM's pages_2m and pages_4k in debugfs),
 * on esxmem and on anonymous THP; and esxmem's sharing metadata per guest page
 * (share/metadata_bytes / share/guest_pages), at most 16 B.
 *
 * Output: "bench: <name> <value> <unit>" lines, the ratios esxmem / KSM.
 * Exit status 1 if a measurement could not be made.
 */
#include "esxtest.h"
#include "kvm_stats.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <libesxmem/libesxmem.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#define MIB		(1024UL * 1024)
#define VMS		4
#define VM_MIB		32UL
#define VM_PAGES	(VM_MIB * MIB / ESX_PAGE)
#define ALL_PAGES	(VMS * VM_PAGES)
#define REAL_PAGES	(VM_PAGES / 2)
#define ZERO_PAGES	(VM_PAGES / 4)
#define EQUAL_RATE	25000		/* pages a second */
#define KSM_SLEEP_MS	20
#define FULL_SCANS	3
#define TIMEOUT_SECS	300.0
#define DOMAIN		77

#define KSM "/sys/kernel/mm/ksm/"

#define GUESTS		2
#define GUEST_MIB	160
#define GUEST_SECS	60.0
#define BOOT_SECS	400.0

static uint8_t *corpus;		/* REAL_PAGES pages of real data */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- contents ---------------------------------------------------------- */

static size_t corpus_pages;

/* Appends the pages of file @path to the corpus, until it is full. */
static void corpus_add_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	while (corpus_pages < REAL_PAGES) {
		uint8_t *p = corpus + corpus_pages * ESX_PAGE;

		n = read(fd, p, ESX_PAGE);
		if (n <= 0)
			break;
		if ((size_t)n < ESX_PAGE)
			memset(p + n, 0, ESX_PAGE - n);
		corpus_pages++;
	}
	close(fd);
}

static void corpus_add_dir(const char *dir)
{
	struct dirent **names;
	char path[PATH_MAX];
	struct stat st;
	int n, i;

	n = scandir(dir, &names, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			if (!lstat(path, &st) && S_ISDIR(st.st_mode))
				corpus_add_dir(path);
			else if (S_ISREG(st.st_mode))
				corpus_add_file(path);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

static int corpus_build(void)
{
	static const char *const roots[] = {
		"/guest", "/lib/modules", "/usr/lib", "/lib", "/usr/bin", "/usr/share",
	};
	size_t i;

	corpus = malloc(REAL_PAGES * ESX_PAGE);
	if (!corpus)
		return -ENOMEM;
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		corpus_add_dir(roots[i]);
	if (corpus_pages < REAL_PAGES) {
		fprintf(stderr, "sharing: only %zu pages of real data\n", corpus_pages);
		return -ENODATA;
	}
	return 0;
}

/* Writes VM @vm's contents into @mem: a fixed layout, the same every run. */
static void fill_vm(uint8_t *mem, int vm)
{
	uint64_t rng = 0x2545f4914f6cdd1dULL * (vm + 1);
	size_t order[VM_PAGES], i, j, t;

	for (i = 0; i < VM_PAGES; i++)
		order[i] = i;
	for (i = VM_PAGES - 1; i > 0; i--) {
		j = rng_next(&rng) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < VM_PAGES; i++) {
		uint8_t *p = mem + order[i] * ESX_PAGE;

		if (i < REAL_PAGES) {
			memcpy(p, corpus + i * ESX_PAGE, ESX_PAGE);
		} else if (i < REAL_PAGES + ZERO_PAGES) {
			memset(p, 0, ESX_PAGE);
		} else {
			for (j = 0; j < ESX_PAGE; j += 8) {
				uint64_t v = rng_next(&rng);

				memcpy(p + j, &v, 8);
			}
		}
	}
}

static uint64_t page_hash(const uint8_t *p)
{
	uint64_t h = 0xcbf29ce484222325ULL, v;
	size_t i;

	for (i = 0; i < ESX_PAGE; i += 8) {
		memcpy(&v, p + i, 8);
		h = (h ^ v) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Pages that sharing could save: all pages less the distinct contents. */
static long achievable(void)
{
	uint64_t *h = malloc(ALL_PAGES * sizeof(*h));
	uint8_t *mem = malloc(VM_PAGES * ESX_PAGE);
	size_t i, distinct = 0;
	int vm;

	if (!h || !mem)
		return -1;
	for (vm = 0; vm < VMS; vm++) {
		fill_vm(mem, vm);
		for (i = 0; i < VM_PAGES; i++)
			h[vm * VM_PAGES + i] = page_hash(mem + i * ESX_PAGE);
	}
	qsort(h, ALL_PAGES, sizeof(*h), cmp_u64);
	for (i = 0; i < ALL_PAGES; i++)
		distinct += !i || h[i] != h[i - 1];
	free(h);
	free(mem);
	return (long)(ALL_PAGES - distinct);
}

/* ---- the two systems ---------------------------------------------------- */

struct run {
	double t90;		/* seconds to 90% of the achievable saving */
	long saved;		/* pages saved after FULL_SCANS passes */
	double ns_per_page;	/* scanner CPU per page scanned */
	double meta_per_page;	/* esxmem: pmap and frame table bytes */
};

static int write_file(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%ld", v);
	if (write(fd, buf, strlen(buf)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static long read_long(const char *path)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtol(buf, NULL, 10);
}

/* ksmd's CPU time in ns, from the first field of its schedstat. */
static long long ksmd_ns(void)
{
	static char path[300];
	struct dirent *e;
	long long ns = -1;
	DIR *d;

	if (!path[0]) {
		d = opendir("/proc");
		while (d && (e = readdir(d))) {
			char comm[64], p[300];
			FILE *f;

			snprintf(p, sizeof(p), "/proc/%s/comm", e->d_name);
			f = fopen(p, "r");
			if (!f)
				continue;
			if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n"))
				snprintf(path, sizeof(path), "/proc/%s/schedstat", e->d_name);
			fclose(f);
		}
		if (d)
			closedir(d);
	}
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lld", &ns) != 1)
			ns = -1;
		fclose(f);
	}
	return ns;
}

static int ksm_run(long achievable_pages, bool max_rate, struct run *r)
{
	const size_t bytes = VM_PAGES * ESX_PAGE;
	uint8_t *mem[VMS];
	long scans0, goal = achievable_pages * 9 / 10, saved;
	long long cpu0 = -1, cpu1 = -1;
	double t0;
	int vm, err = 0;

	write_file(KSM "run", 2);	/* unmerge what an earlier run left */
	if (write_file(KSM "pages_to_scan", max_rate ? 100000 : EQUAL_RATE * KSM_SLEEP_MS / 1000) ||
	    write_file(KSM "sleep_millisecs", max_rate ? 0 : KSM_SLEEP_MS) ||
	    write_file(KSM "use_zero_pages", 0))
		return -EIO;
	for (vm = 0; vm < VMS; vm++) {
		mem[vm] = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem[vm] == MAP_FAILED)
			return -ENOMEM;
		madvise(mem[vm], bytes, MADV_NOHUGEPAGE);
		fill_vm(mem[vm], vm);
		if (madvise(mem[vm], bytes, MADV_MERGEABLE))
			return -errno;
	}
	r->t90 = -1;
	scans0 = read_long(KSM "full_scans");
	t0 = now();
	if (write_file(KSM "run", 1))
		return -EIO;
	for (;;) {
		long scans = read_long(KSM "full_scans") - scans0;

		saved = read_long(KSM "pages_sharing");
		if (r->t90 < 0 && saved >= goal)
			r->t90 = now() - t0;
		/* CPU over whole passes: from the end of the first. */
		if (scans >= 1 && cpu0 < 0)
			cpu0 = ksmd_ns();
		if (scans >= FULL_SCANS + 1) {
			cpu1 = ksmd_ns();
			break;
		}
		if (now() - t0 > TIMEOUT_SECS) {
			err = -ETIMEDOUT;
			break;
		}
		usleep(5000);
	}
	r->saved = saved;
	r->ns_per_page = cpu0 >= 0 && cpu1 >= 0 ?
		(double)(cpu1 - cpu0) / (FULL_SCANS * (double)ALL_PAGES) : -1;
	write_file(KSM "run", 2);
	for (vm = 0; vm < VMS; vm++)
		munmap(mem[vm], bytes);
	return err;
}

static int esx_run(struct esxmem *h, long achievable_pages, bool max_rate, struct run *r)
{
	const size_t bytes = VM_PAGES * ESX_PAGE;
	long goal = achievable_pages * 9 / 10, used0, scanned0, cpu0, saved = 0;
	long rate = max_rate ? 10000000 : EQUAL_RATE;
	int fd[VMS], vm, err = 0;
	uint8_t *mem[VMS];
	uint64_t scans;
	double t0;

	if (esx_sysfs_write("share/enabled", "0") ||
	    esx_sysfs_write_long("share/pages_per_sec", rate) ||
	    esx_sysfs_write_long("share/vm_pages_per_sec", rate) ||
	    esx_sysfs_write("share/isolate_vms", "0"))
		return -EIO;
	used0 = esx_sysfs_long("used_pages");
	for (vm = 0; vm < VMS; vm++) {
		struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = DOMAIN };

		fd[vm] = esx_open();
		mem[vm] = esx_map(fd[vm], VM_PAGES, 0);
		if (!mem[vm])
			return -errno;
		err = esxmem_vm_set(h, esx_stats(fd[vm]).id, &s);
		if (err)
			return err;
		fill_vm(mem[vm], vm);
	}
	r->t90 = -1;
	scanned0 = esx_sysfs_long("share/pages_scanned");
	cpu0 = esx_sysfs_long("share/scan_cpu_us");
	t0 = now();
	if (esx_sysfs_write("share/enabled", "1"))
		return -EIO;
	for (;;) {
		saved = (long)ALL_PAGES - (esx_sysfs_long("used_pages") - used0);
		if (r->t90 < 0 && saved >= goal)
			r->t90 = now() - t0;
		scans = 0;
		for (vm = 0; vm < VMS; vm++)
			scans += esx_stats(fd[vm]).full_scans;
		if (scans >= (uint64_t)VMS * FULL_SCANS)
			break;
		if (now() - t0 > TIMEOUT_SECS) {
			err = -ETIMEDOUT;
			break;
		}
		usleep(5000);
	}
	r->meta_per_page = (double)esx_sysfs_long("share/metadata_bytes") /
			   esx_sysfs_long("share/guest_pages");
	/* Stopping waits for the last batch, so the counters stand. */
	esx_sysfs_write("share/enabled", "0");
	saved = (long)ALL_PAGES - (esx_sysfs_long("used_pages") - used0);
	r->saved = saved;
	r->ns_per_page = 1000.0 * (esx_sysfs_long("share/scan_cpu_us") - cpu0) /
			 (double)(esx_sysfs_long("share/pages_scanned") - scanned0);
	for (vm = 0; vm < VMS; vm++) {
		munmap(mem[vm], bytes);
		close(fd[vm]);
	}
	return err;
}

static void report(const char *what, const struct run *e, const struct run *k, long ach)
{
	printf("bench: sharing_%s_esxmem_saved %.1f %%\n", what, 100.0 * e->saved / ach);
	printf("bench: sharing_%s_ksm_saved %.1f %%\n", what, 100.0 * k->saved / ach);
	printf("bench: sharing_%s_saved_ratio %.3f esxmem/ksm\n", what,
	       k->saved > 0 ? (double)e->saved / k->saved : 0);
	printf("bench: sharing_%s_esxmem_cpu %.3f s/GiB\n", what,
	       e->ns_per_page * (1 << 18) / 1e9);
	printf("bench: sharing_%s_ksm_cpu %.3f s/GiB\n", what, k->ns_per_page * (1 << 18) / 1e9);
	printf("bench: sharing_%s_cpu_ratio %.3f esxmem/ksm\n", what,
	       k->ns_per_page > 0 ? e->ns_per_page / k->ns_per_page : 0);
	printf("bench: sharing_%s_esxmem_metadata %.1f B/page\n", what, e->meta_per_page);
	printf("bench: sharing_%s_esxmem_t90 %.2f s\n", what, e->t90);
	printf("bench: sharing_%s_ksm_t90 %.2f s\n", what, k->t90);
	printf("bench: sharing_%s_t90_ratio %.3f esxmem/ksm\n", what,
	       k->t90 > 0 && e->t90 >= 0 ? e->t90 / k->t90 : 0);
}

/* ---- real guests ------------------------------------------------------- */

static pid_t qemu[GUESTS];

static void stop_guests(void)
{
	int i;

	for (i = 0; i < GUESTS; i++) {
		if (qemu[i] > 0) {
			kill(qemu[i], SIGKILL);
			waitpid(qemu[i], NULL, 0);
			qemu[i] = 0;
		}
	}
}

static pid_t start_guest(int i, bool on_esxmem)
{
	static const char *const ksm[] = { "-machine", "mem-merge=on", NULL };
	char console[64];

	snprintf(console, sizeof(console), "/tmp/sharing-guest%d.log", i);
	return esx_start_guest(GUEST_MIB, "guest.work=hold",
			       on_esxmem ? ESXMEM_DEVICE_PATH : NULL, console,
			       on_esxmem ? NULL : ksm);
}

static bool guest_holds(int i)
{
	char path[64], buf[1 << 16];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/tmp/sharing-guest%d.log", i);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (ssize_t k = 0; k < n; k++)
		if (!buf[k])
			buf[k] = ' ';
	return strstr(buf, "GUEST-HOLD") != NULL;
}

/* Puts every object of the guests' QEMUs into DOMAIN; how many there are. */
static int join_domain(struct esxmem *h)
{
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_DOMAIN, .domain = DOMAIN };
	struct esxmem_vm_info **vms;
	size_t n, i;
	int found = 0, g;

	if (esxmem_vm_list(h, &vms, &n))
		return 0;
	for (i = 0; i < n; i++)
		for (g = 0; g < GUESTS; g++)
			if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)qemu[g]) {
				if (esxmem_vm_value(vms[i], ESXMEM_VM_DOMAIN) != DOMAIN)
					esxmem_vm_set(h, esxmem_vm_id(vms[i]), &s);
				found++;
			}
	esxmem_vm_list_free(vms, n);
	return found;
}

/* The guests' pages in state @state, over all their objects. */
static long esx_guest_pages(struct esxmem *h, enum esxmem_page_state state)
{
	struct esxmem_vm_info **vms;
	long pages = 0;
	size_t n, i;
	int g;

	if (esxmem_vm_list(h, &vms, &n))
		return -1;
	for (i = 0; i < n; i++)
		for (g = 0; g < GUESTS; g++)
			if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)qemu[g])
				pages += (long)esxmem_vm_state_pages(vms[i], state);
	esxmem_vm_list_free(vms, n);
	return pages;
}

/*
 * Pages esxmem saves on the guests: shared less frames, plus the pages
 * that went to the zero state since @zero0 were counted: those the scanner
 * found, and the all-zero pieces of the large pages it broke.
 */
static long esx_guest_saved(struct esxmem *h, long zero0)
{
	return esx_guest_pages(h, ESXMEM_PAGE_SHARED) - esx_sysfs_long("share/pages_shared") +
	       esx_guest_pages(h, ESXMEM_PAGE_ZERO) - zero0;
}

/*
 * Resident pages of QEMU @pid's guest RAM mapping (GUEST_MIB in size), and
 * in *@thp those of them the host maps with PMDs: transparent huge pages
 * for anonymous memory, esxmem's large pages for its files.
 */
static long ram_rss_pages(pid_t pid, long *thp)
{
	char path[64], line[256];
	long rss = -1, v;
	bool in_ram = false;
	FILE *f;

	*thp = -1;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	/* The first mapping of the guest's RAM size; QEMU has one. */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %ld kB", &v) == 1) {
			in_ram = v == GUEST_MIB * 1024 && rss < 0;
			if (in_ram)
				rss = *thp = 0;
		} else if (!in_ram) {
			continue;
		} else if (sscanf(line, "Rss: %ld kB", &v) == 1) {
			rss = v / 4;
		} else if (sscanf(line, "AnonHugePages: %ld kB", &v) == 1 ||
			   sscanf(line, "FilePmdMapped: %ld kB", &v) == 1) {
			*thp += v / 4;
		}
	}
	fclose(f);
	return rss;
}

/* The host's free memory, in pages. */
static long host_free_pages(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / (long)(ESX_PAGE / 1024);
}

/*
 * The host's free memory once what earlier runs freed has come back: caches
 * dropped and MemFree steady to 64 pages over a second (at most 20 s).
 */
static long settled_free_pages(void)
{
	long last = -1, cur = host_free_pages();
	double end = now() + 20;
	FILE *f = fopen("/proc/sys/vm/drop_caches", "w");

	if (f) {
		fputs("3\n", f);
		fclose(f);
	}
	while (now() < end && (last < 0 || labs(cur - last) > 64)) {
		sleep(1);
		last = cur;
		cur = host_free_pages();
	}
	return cur;
}

/* The systems the real guests run on. */
enum guest_sys { ESX_NEVER, ESX_ALWAYS, ESX_PRESSURE, KSM_THP, NR_GUEST_SYS };

static const char *const guest_sys_name[NR_GUEST_SYS] = {
	"esxmem_never", "esxmem_always", "esxmem_pressure", "ksm",
};

static const char *const break_large_value[] = {
	[ESX_NEVER] = "never", [ESX_ALWAYS] = "always", [ESX_PRESSURE] = "pressure",
};

struct guest_result {
	long saved;		/* pages */
	long used;		/* host pages the guests take, QEMU included */
	double cpu_secs;	/* the scanner's, over GUEST_SECS */
	double meta_per_page;	/* esxmem's sharing metadata, bytes */
	long kvm_2m, kvm_4k;	/* KVM's mappings when the guests are up */
	long ram_rss, ram_pmd;	/* guest RAM resident, and mapped by PMDs */
};

/* The scanner's CPU time so far, in seconds. */
static double scanner_cpu(enum guest_sys sys)
{
	return sys == KSM_THP ? ksmd_ns() / 1e9 : esx_sysfs_long("share/scan_cpu_us") / 1e6;
}

/*
 * Keeps the pool in the soft state while sharing frees pages: pool_pages
 * lowered so that 3% of it is free, whenever the free share leaves
 * 2.5% .. 5% (soft lasts from below 4% down to 2%, and ends only above
 * the high state's 6%).
 */
static void hold_pool_soft(void)
{
	long used = esx_sysfs_long("used_pages"), pool = esx_sysfs_long("pool_pages");
	long free_permille = pool > 0 ? (pool - used) * 1000 / pool : 0;

	if (free_permille < 25 || free_permille > 50)
		esx_sysfs_write_long("pool_pages", used * 1000 / 970);
}

/*
 * Boots the guests on @sys, starts its scanner once all hold and waits
 * GUEST_SECS; fills @r. 0, or -ETIMEDOUT if the guests did not come up.
 */
static int guests_run(struct esxmem *h, enum guest_sys sys, struct guest_result *r)
{
	bool on_esxmem = sys != KSM_THP;
	long zero0 = 0, used0 = esx_sysfs_long("used_pages"), free0 = settled_free_pages();
	long breaks0 = esx_sysfs_long("large_page_breaks"), rss, thp;
	double t0 = now(), t_up = -1, cpu0 = 0;
	char pool[32];
	int i, up, err = -ETIMEDOUT;

	esx_sysfs_string("pool_pages", pool, sizeof(pool));
	if (on_esxmem) {
		esx_sysfs_write("share/enabled", "0");
		esx_sysfs_write_long("share/pages_per_sec", EQUAL_RATE);
		esx_sysfs_write_long("share/vm_pages_per_sec", EQUAL_RATE);
		if (esx_sysfs_write("share/break_large", break_large_value[sys])) {
			fprintf(stderr, "sharing: cannot set share/break_large to %s\n",
				break_large_value[sys]);
			return -EIO;
		}
	} else {
		write_file(KSM "run", 2);
		write_file(KSM "pages_to_scan", EQUAL_RATE * KSM_SLEEP_MS / 1000);
		write_file(KSM "sleep_millisecs", KSM_SLEEP_MS);
		write_file(KSM "use_zero_pages", 0);
	}
	for (i = 0; i < GUESTS; i++) {
		char path[64];

		/* Not the last run's console, with its marker. */
		snprintf(path, sizeof(path), "/tmp/sharing-guest%d.log", i);
		unlink(path);
		qemu[i] = start_guest(i, on_esxmem);
	}
	while (now() - t0 < BOOT_SECS || t_up >= 0) {
		if (on_esxmem)
			join_domain(h);
		if (t_up < 0) {
			for (i = 0, up = 0; i < GUESTS; i++)
				up += guest_holds(i);
			if (up < GUESTS) {
				usleep(100000);
				continue;
			}
			t_up = now();
			printf("sharing: %d guests on %s up after %.1f s\n", GUESTS,
			       guest_sys_name[sys], t_up - t0);
			/* How KVM maps them, before any scan breaks a page. */
			r->kvm_2m = r->kvm_4k = 0;
			for (i = 0; i < GUESTS; i++) {
				long p2m, p4k;

				kvm_2m_percent(qemu[i], -1, GUEST_MIB * MIB, &p2m, &p4k);
				r->kvm_2m = p2m < 0 || r->kvm_2m < 0 ? -1 : r->kvm_2m + p2m;
				r->kvm_4k = p4k < 0 || r->kvm_4k < 0 ? -1 : r->kvm_4k + p4k;
				/* Huge pages KVM split because the guest ran code in them. */
				printf("sharing: %s: guest %d: KVM maps %ld 2 MiB and %ld 4 KiB pages, %ld split for execution (nx_huge_pages)\n",
				       guest_sys_name[sys], i, p2m, p4k,
				       kvm_vm_stat(qemu[i], -1, "nx_lpage_splits"));
			}
			for (i = 0, r->ram_rss = 0, r->ram_pmd = 0; i < GUESTS; i++) {
				long t, pages = ram_rss_pages(qemu[i], &t);

				r->ram_rss += pages > 0 ? pages : 0;
				r->ram_pmd += t > 0 ? t : 0;
			}
			if (on_esxmem) {
				zero0 = esx_guest_pages(h, ESXMEM_PAGE_ZERO);
				printf("sharing: %s: %ld large pages in use\n", guest_sys_name[sys],
				       esx_sysfs_long("large_pages_in_use"));
				if (sys == ESX_PRESSURE)
					hold_pool_soft();
			} else {
				for (i = 0, rss = 0, thp = 0; i < GUESTS; i++) {
					long t;

					rss += ram_rss_pages(qemu[i], &t);
					thp += t;
				}
				printf("sharing: ksm: guest RAM resident %ld pages, %ld of them in huge pages\n",
				       rss, thp);
			}
			cpu0 = scanner_cpu(sys);
			if (on_esxmem)
				esx_sysfs_write("share/enabled", "1");
			else
				write_file(KSM "run", 1);
			continue;
		}
		if (sys == ESX_PRESSURE)
			hold_pool_soft();
		if (now() - t_up >= GUEST_SECS)
			break;
		usleep(100000);
	}
	if (t_up < 0) {
		fprintf(stderr, "sharing: the guests did not come up in %.0f s\n", BOOT_SECS);
		goto out;
	}
	err = 0;
	r->cpu_secs = scanner_cpu(sys) - cpu0;
	r->saved = on_esxmem ? esx_guest_saved(h, zero0) : read_long(KSM "pages_sharing");
	r->used = free0 - host_free_pages();
	if (on_esxmem) {
		char state[16];

		esx_sysfs_string("state", state, sizeof(state));
		r->meta_per_page = (double)esx_sysfs_long("share/metadata_bytes") /
				   esx_sysfs_long("share/guest_pages");
		printf("sharing: %s: pool pages used %ld, state %s, %ld large pages in use, %ld broken\n",
		       guest_sys_name[sys], esx_sysfs_long("used_pages") - used0, state,
		       esx_sysfs_long("large_pages_in_use"),
		       esx_sysfs_long("large_page_breaks") - breaks0);
		printf("sharing: %s: %ld zero-state guest pages when up, %ld now\n", guest_sys_name[sys],
		       zero0, esx_guest_pages(h, ESXMEM_PAGE_ZERO));
		printf("sharing: %s: %ld frames, %ld sharing, %ld hints, %ld table full, %ld evicted, %ld dropped, %ld stale hints, %ld collisions, %ld zero merges, %ld guest pages\n",
		       guest_sys_name[sys],
		       esx_sysfs_long("share/pages_shared"),
		       esx_sysfs_long("share/pages_sharing"),
		       esx_sysfs_long("share/hints"),
		       esx_sysfs_long("share/table_full"),
		       esx_sysfs_long("share/hints_evicted"),
		       esx_sysfs_long("share/hints_dropped"),
		       esx_sysfs_long("share/stale_hints"),
		       esx_sysfs_long("share/collisions"),
		       esx_sysfs_long("share/zero_merges"),
		       esx_sysfs_long("share/guest_pages"));
	} else {
		for (i = 0, rss = 0, thp = 0; i < GUESTS; i++) {
			long t;

			rss += ram_rss_pages(qemu[i], &t);
			thp += t;
		}
		printf("sharing: ksm: guest RAM resident %ld, %ld in huge pages, less merged %ld\n",
		       rss, thp, rss - r->saved);
		printf("sharing: ksm: %ld shared, %ld sharing, %ld unshared, %ld volatile\n",
		       read_long(KSM "pages_shared"), read_long(KSM "pages_sharing"),
		       read_long(KSM "pages_unshared"), read_long(KSM "pages_volatile"));
	}
out:
	stop_guests();
	if (on_esxmem) {
		esx_sysfs_write("share/enabled", "0");
		esx_sysfs_write("pool_pages", pool);
	} else {
		write_file(KSM "run", 2);
	}
	return err;
}

/* Percent of the RAM KVM maps for the guests that it maps with 2 MiB entries. */
static double mapped_2m_percent(const struct guest_result *r)
{
	double all = (double)r->kvm_2m * 512 + r->kvm_4k;

	return all > 0 ? 100.0 * r->kvm_2m * 512 / all : 0;
}

/* Percent of the guests' RAM that KVM maps with 2 MiB entries. */
static double ram_2m_percent(const struct guest_result *r)
{
	return 100.0 * (double)r->kvm_2m * 2 / (GUESTS * GUEST_MIB);
}

static void report_guests(const struct guest_result *g)
{
	const struct guest_result *k = &g[KSM_THP];
	int s;

	for (s = 0; s < NR_GUEST_SYS; s++) {
		const char *n = guest_sys_name[s];

		printf("bench: sharing_guests_%s_saved %ld pages\n", n, g[s].saved);
		printf("bench: sharing_guests_%s_cpu %.3f s\n", n, g[s].cpu_secs);
		/* Host memory the guests take, QEMU included: what counts. */
		printf("bench: sharing_guests_%s_used %ld pages\n", n, g[s].used);
		if (s == KSM_THP)
			continue;
		printf("bench: sharing_guests_%s_saved_ratio %.3f esxmem/ksm\n", n,
		       k->saved > 0 ? (double)g[s].saved / k->saved : 0);
		printf("bench: sharing_guests_%s_cpu_ratio %.3f esxmem/ksm\n", n,
		       k->cpu_secs > 0 ? g[s].cpu_secs / k->cpu_secs : 0);
		printf("bench: sharing_guests_%s_used_ratio %.3f esxmem/ksm\n", n,
		       k->used > 0 ? (double)g[s].used / k->used : 0);
		printf("bench: sharing_guests_%s_metadata %.1f B/page\n", n, g[s].meta_per_page);
	}
	/*
	 * How the host maps the guests' resident RAM, measured as KVM's
	 * below: with two-dimensional paging (NPT/EPT) this alone decides
	 * KVM's entry size. The test host's KVM runs with shadow paging
	 * (npt=0, tests/host/init), where KVM maps 2 MiB only where the
	 * guest's own page tables do too, which caps pages_2m below it.
	 */
	printf("bench: host_pmd_linux_esxmem %.1f %%\n", g[ESX_NEVER].ram_rss > 0 ?
	       100.0 * g[ESX_NEVER].ram_pmd / g[ESX_NEVER].ram_rss : 0);
	printf("bench: host_pmd_linux_anon_thp %.1f %%\n", k->ram_rss > 0 ?
	       100.0 * k->ram_pmd / k->ram_rss : 0);
	/* KVM's mappings, measured on the first esxmem run, before any scan. */
	if (g[ESX_NEVER].kvm_2m < 0 || k->kvm_2m < 0) {
		printf("sharing: no KVM statistics in " KVM_DEBUGFS ", no 2 MiB mapping figures\n");
		return;
	}
	printf("sharing: KVM maps the guests' RAM on esxmem with %ld 2 MiB and %ld 4 KiB entries, on anonymous THP with %ld and %ld\n",
	       g[ESX_NEVER].kvm_2m, g[ESX_NEVER].kvm_4k, k->kvm_2m, k->kvm_4k);
	/* Of all their RAM, as for the tinyvmm guest (backend.c); */
	printf("bench: kvm_2m_linux_esxmem %.1f %%\n", ram_2m_percent(&g[ESX_NEVER]));
	printf("bench: kvm_2m_linux_anon_thp %.1f %%\n", ram_2m_percent(k));
	printf("bench: kvm_2m_linux_ratio_esxmem_vs_anon_thp %.3f ratio\n",
	       ram_2m_percent(k) > 0 ? ram_2m_percent(&g[ESX_NEVER]) / ram_2m_percent(k) : 0);
	/* and of what KVM has mapped of an idle guest, ROMs included. */
	printf("bench: kvm_2m_linux_esxmem_of_mapped %.1f %%\n", mapped_2m_percent(&g[ESX_NEVER]));
	printf("bench: kvm_2m_linux_anon_thp_of_mapped %.1f %%\n", mapped_2m_percent(k));
}

int main(void)
{
	char enabled[8], rate[32], vm_rate[32], isolate[8], break_large[64], was[16] = "";
	char large[64], large_was[16] = "";
	struct guest_result g[NR_GUEST_SYS] = { 0 };
	struct run e = { 0 }, k = { 0 };
	struct esxmem *h;
	double t0 = now(), t;
	long ach;
	int err, i, kvm_vm;

	setvbuf(stdout, NULL, _IOLBF, 0);
	kvm_vm = esx_hold_kvm_vm();
	if (corpus_build())
		return 1;
	ach = achievable();
	printf("bench: sharing_pages %lu pages\n", ALL_PAGES);
	printf("bench: sharing_achievable %ld pages\n", ach);
	err = esxmem_open(&h);
	if (err || ach <= 0) {
		fprintf(stderr, "sharing: %s\n", err ? strerror(-err) : "nothing to share");
		return 1;
	}
	esx_sysfs_string("share/enabled", enabled, sizeof(enabled));
	esx_sysfs_string("share/pages_per_sec", rate, sizeof(rate));
	esx_sysfs_string("share/vm_pages_per_sec", vm_rate, sizeof(vm_rate));
	esx_sysfs_string("share/isolate_vms", isolate, sizeof(isolate));
	esx_sysfs_string("share/break_large", break_large, sizeof(break_large));

	/* "never [always]": the word in brackets. */
	esx_sysfs_string("large_pages", large, sizeof(large));
	sscanf(strchr(large, '[') ? strchr(large, '[') + 1 : large, "%15[a-z]", large_was);
	esx_sysfs_write("large_pages", "never");
	for (i = 0; i < 2 && !err; i++) {
		bool max_rate = i == 1;

		err = esx_run(h, ach, max_rate, &e) ?: ksm_run(ach, max_rate, &k);
		if (!err)
			report(max_rate ? "max" : "equal", &e, &k, ach);
	}
	/* The guests' RAM in large pages. */
	esx_sysfs_write("large_pages", "always");
	printf("sharing: %.1f s for the figures above\n", now() - t0);
	for (i = 0; i < NR_GUEST_SYS && !err; i++) {
		t = now();
		err = guests_run(h, (enum guest_sys)i, &g[i]);
		printf("sharing: %.1f s for the guests on %s\n", now() - t, guest_sys_name[i]);
	}
	if (!err)
		report_guests(g);
	esx_sysfs_write("share/pages_per_sec", rate);
	esx_sysfs_write("share/vm_pages_per_sec", vm_rate);
	esx_sysfs_write("share/isolate_vms", isolate);
	/* "never always [pressure]": the word in brackets. */
	sscanf(strchr(break_large, '[') ? strchr(break_large, '[') + 1 : break_large,
	       "%15[a-z]", was);
	esx_sysfs_write("share/break_large", was);
	esx_sysfs_write("large_pages", large_was);
	esx_sysfs_write("share/enabled", enabled);
	esxmem_close(h);
	if (kvm_vm >= 0)
		close(kvm_vm);
	printf("sharing: %.1f s in all\n", now() - t0);
	if (err)
		fprintf(stderr, "sharing: %s\n", strerror(-err));
	return err ? 1 : 0;
}
