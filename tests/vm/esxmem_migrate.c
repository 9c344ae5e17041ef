// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_migrate: live migration (precopy) of a running Linux guest between
 * QEMUs in the test host: from /dev/esxmem to /dev/esxmem, from there to
 * anonymous memory (memory-backend-ram) and back to esxmemfs.
 *
 *  - the guest runs "memwork verify": it fills 32 MiB with a pattern that
 *    each page's number and version determine, rewrites a sixteenth of it
 *    and checks all of it every round, before, during and after each
 *    migration; each destination must show two full rounds checked with
 *    no corrupt page;
 *  - the destination does not back the pages that arrive as zero pages:
 *    QEMU 7.2 reads such a page before it writes it (ram_handle_compressed()
 *    writes only if buffer_is_zero() fails), and a read of an esxmem page
 *    that holds nothing maps the zero page without backing it. With large
 *    pages (the default) the first page QEMU writes in a 2 MiB range gets
 *    a large page for all of it, zero pieces included, and the sharing
 *    scanner's first pass gives back those of large pages that are mostly
 *    zero (large_max_zero_pieces). After that pass, the destination's
 *    entries that hold data are at most 10% above the pages the source
 *    consumed, where backing every page would double them. Zero pages
 *    the scanner merged count as data there, so that its zero merges
 *    cannot hide zero pages the migration backed (sharing is off during
 *    the migrations themselves, so that it does not move the figures);
 *  - on the destination the sharing scanner scans the new object (its
 *    pages_scanned and full_scans grow, pages get merged) and the sampler
 *    samples it (its sample periods and sampled-page touches grow);
 *  - postcopy cannot work: userfaultfd refuses to register an esxmem
 *    mapping (EINVAL: only anonymous, shmem and hugetlbfs memory can have
 *    missing-page faults handled by userspace). QEMU 7.2 checks
 *    userfaultfd on an anonymous test page only, so it accepts the
 *    postcopy-ram capability on the destination (QEMU 8.0 and later refuse
 *    it there: backend files must be on tmpfs or hugetlbfs); the test
 *    records which. With postcopy-ram on both sides, a migration to RAM on
 *    /dev/esxmem fails at its start and the guest keeps running on the
 *    source with every byte intact (to esxmemfs, QEMU 7.2 would fail only
 *    at the switch to postcopy, with the guest stopped for good: README).
 *
 * The figures QEMU reports (total time, downtime, pages sent) and the
 * consumed pages before and after print as "migration:" lines.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#define GUEST_MIB	256U
#define WORK_MIB	"32"
#define WORK_PAGES	(32UL * 256)

/* Limits, in seconds. */
#define BOOT_TIMEOUT	300	/* to the workload's first full check */
#define QMP_TIMEOUT	60	/* a QMP socket to appear, a reply to come */
#define MIGRATE_TIMEOUT	300	/* a migration to complete */
#define ROUNDS_TIMEOUT	180	/* two more rounds of checks */
#define SCAN_TIMEOUT	120	/* the scanner and sampler to reach the new VM */

enum { A, B, C, D, E, NR_QEMUS };

struct qemu {
	const char *name;
	bool esxmem;			/* RAM on esxmem, else anonymous */
	bool esxmemfs;			/* ... in an esxmemfs file, else /dev/esxmem */
	pid_t pid;
	int qmp;			/* QMP socket */
	FILE *qmp_in;
	int mem_fd;			/* its esxmem object, in our fd table */
	char console[PATH_MAX];
	char qmp_path[PATH_MAX];
};

static struct qemu qemus[NR_QEMUS] = {
	[A] = { .name = "A", .esxmem = true },
	[B] = { .name = "B", .esxmem = true },
	[C] = { .name = "C", .esxmem = false },
	[D] = { .name = "D", .esxmem = true, .esxmemfs = true },
	[E] = { .name = "E", .esxmem = true },
};

static char workdir[] = "/tmp/esxmem_migrate.XXXXXX";
static char fsdir[PATH_MAX];		/* an esxmemfs mount */
static double t_start;
static const char *const knobs[] = {
	"share/enabled", "sample/enabled", "sample/period_secs", "sample/pages",
};
static char knobs_saved[sizeof(knobs) / sizeof(knobs[0])][32];

static void restore_knobs(void)
{
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (esx_sysfs_write(knobs[i], knobs_saved[i]))
			fprintf(stderr, "esxmem_migrate: could not restore %s\n", knobs[i]);
}

static void stop_qemu(struct qemu *q)
{
	if (q->pid > 0) {
		kill(q->pid, SIGKILL);
		waitpid(q->pid, NULL, 0);
		q->pid = -1;
	}
	if (q->qmp_in)
		fclose(q->qmp_in);
	q->qmp_in = NULL;
	if (q->qmp >= 0)
		close(q->qmp);
	q->qmp = -1;
	if (q->mem_fd >= 0)
		close(q->mem_fd);
	q->mem_fd = -1;
}

static void cleanup(void)
{
	int i;

	for (i = 0; i < NR_QEMUS; i++) {
		if (vmtest_failures && qemus[i].console[0])
			esx_show_tail(qemus[i].console, qemus[i].console, 8 << 10);
		stop_qemu(&qemus[i]);
		if (qemus[i].console[0])
			unlink(qemus[i].console);
	}
	if (fsdir[0]) {
		umount(fsdir);
		rmdir(fsdir);
	}
	rmdir(workdir);
}

/* How often @text is in the console of @q (its first 256 KiB). */
static int console_count(const struct qemu *q, const char *text)
{
	static char buf[1 << 18];
	int fd = open(q->console, O_RDONLY | O_CLOEXEC), n = 0;
	const char *p;
	ssize_t len;

	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	for (p = buf; p < buf + len; p++)
		if (!*p)
			*(char *)p = ' ';
	buf[len] = 0;
	for (p = buf; (p = strstr(p, text)); p++)
		n++;
	return n;
}

/* Waits until @q's console shows @text @times times; false on a failure. */
static bool wait_console(struct qemu *q, const char *text, int times, double secs)
{
	double end = esx_now() + secs;
	int status;

	for (;;) {
		if (console_count(q, "MEMWORK: CORRUPT") || console_count(q, "Kernel panic")) {
			fprintf(stderr, "%s's console shows a corrupt page or a panic\n", q->name);
			return false;
		}
		if (console_count(q, text) >= times)
			return true;
		if (waitpid(q->pid, &status, WNOHANG) == q->pid) {
			fprintf(stderr, "QEMU %s exited (status 0x%x) waiting for \"%s\"\n",
				q->name, status, text);
			q->pid = -1;
			return false;
		}
		if (esx_now() > end) {
			fprintf(stderr, "QEMU %s: no \"%s\" x%d in %.0f s\n", q->name, text, times, secs);
			return false;
		}
		usleep(200 * 1000);
	}
}

static void start_qemu(struct qemu *q, bool incoming)
{
	char ram[PATH_MAX + 128];
	const char *extra[] = {
		"-object", ram, "-machine", "memory-backend=ram0",
		"-qmp", NULL, incoming ? "-incoming" : NULL, "defer", NULL,
	};
	char qmp_arg[PATH_MAX + 32];

	snprintf(q->console, sizeof(q->console), "%s/console-%s", workdir, q->name);
	snprintf(q->qmp_path, sizeof(q->qmp_path), "%s/qmp-%s", workdir, q->name);
	snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s,server=on,wait=off", q->qmp_path);
	extra[5] = qmp_arg;
	if (q->esxmem)
		snprintf(ram, sizeof(ram),
			 "memory-backend-file,id=ram0,size=%uM,mem-path=%s,share=on,align=2M",
			 GUEST_MIB, q->esxmemfs ? fsdir : ESXMEM_DEVICE_PATH);
	else
		snprintf(ram, sizeof(ram), "memory-backend-ram,id=ram0,size=%uM", GUEST_MIB);
	q->qmp = q->mem_fd = -1;
	q->pid = esx_start_guest(GUEST_MIB, "guest.work=hold guest.memwork=verify," WORK_MIB,
				 NULL, q->console, extra);
	REQUIRE(q->pid > 0, "fork: %s", strerror(errno));
}

/* Sends one QMP command (printf-style JSON); its reply, to json_decref(). */
static json_t *qmp(struct qemu *q, const char *fmt, ...)
{
	char cmd[1024], *line = NULL;
	size_t cap = 0;
	json_t *reply = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	REQUIRE(len > 0 && (size_t)len < sizeof(cmd) - 1, "QMP command too long");
	cmd[len++] = '\n';
	REQUIRE(write(q->qmp, cmd, (size_t)len) == len, "QMP %s: write: %s", q->name,
		strerror(errno));
	/* Events may come first: the reply is the line with "return" or "error". */
	while (!reply) {
		json_error_t err;
		json_t *msg;

		REQUIRE(getline(&line, &cap, q->qmp_in) > 0, "QMP %s: no reply to %.*s",
			q->name, len - 1, cmd);
		msg = json_loads(line, 0, &err);
		REQUIRE(msg, "QMP %s: bad JSON: %s", q->name, err.text);
		if (json_object_get(msg, "return") || json_object_get(msg, "error"))
			reply = msg;
		else
			json_decref(msg);
	}
	free(line);
	return reply;
}

/* The error text of a QMP reply, or NULL when it succeeded. */
static const char *qmp_error(json_t *reply)
{
	json_t *err = json_object_get(reply, "error");

	return err ? json_string_value(json_object_get(err, "desc")) : NULL;
}

static void qmp_ok(struct qemu *q, const char *cmd)
{
	json_t *r = qmp(q, "%s", cmd);

	REQUIRE(!qmp_error(r), "QMP %s: %s: %s", q->name, cmd, qmp_error(r));
	json_decref(r);
}

static void qmp_connect(struct qemu *q)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = QMP_TIMEOUT };
	double end = esx_now() + QMP_TIMEOUT;
	char *line = NULL;
	size_t cap = 0;

	REQUIRE(strlen(q->qmp_path) < sizeof(sa.sun_path), "%s: path too long", q->qmp_path);
	memcpy(sa.sun_path, q->qmp_path, strlen(q->qmp_path) + 1);
	for (;;) {
		q->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		REQUIRE(q->qmp >= 0, "socket: %s", strerror(errno));
		if (!connect(q->qmp, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		close(q->qmp);
		q->qmp = -1;
		REQUIRE(esx_now() < end, "QEMU %s: no QMP socket at %s", q->name, q->qmp_path);
		usleep(100 * 1000);
	}
	/* A QEMU that stops answering fails the test instead of hanging it. */
	setsockopt(q->qmp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	q->qmp_in = fdopen(dup(q->qmp), "r");
	REQUIRE(q->qmp_in, "fdopen: %s", strerror(errno));
	REQUIRE(getline(&line, &cap, q->qmp_in) > 0 && strstr(line, "QMP"),
		"QEMU %s: no QMP greeting", q->name);
	free(line);
	qmp_ok(q, "{\"execute\":\"qmp_capabilities\"}");
}

/* QEMU's fd on its esxmem RAM, taken into our fd table with pidfd_getfd(). */
static int grab_esxmem_fd(const struct qemu *q)
{
	const char *want = q->esxmemfs ? fsdir : ESXMEM_DEVICE_PATH;
	pid_t pid = q->pid;
	char dir[64], path[PATH_MAX], target[PATH_MAX];
	int pidfd, ours = -1;
	struct dirent *d;
	ssize_t n;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	dp = opendir(dir);
	REQUIRE(dp, "opendir %s: %s", dir, strerror(errno));
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	REQUIRE(pidfd >= 0, "pidfd_open(%d): %s", (int)pid, strerror(errno));
	while (ours < 0 && (d = readdir(dp))) {
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (!strncmp(target, want, strlen(want)))
			ours = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(d->d_name), 0);
	}
	closedir(dp);
	close(pidfd);
	REQUIRE(ours >= 0, "QEMU %s has no fd on %s we could take", q->name, want);
	return ours;
}

/* The pages of @st that hold data: backed ones, private or shared. */
static unsigned long long data_pages(const struct esxmem_vm_stats *st)
{
	return st->state_pages[ESXMEM_PAGE_PRIVATE] + st->state_pages[ESXMEM_PAGE_SHARED];
}

static long long json_int(json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

struct leg_result {
	struct esxmem_vm_stats src, dst;	/* when the migration completed */
};

/*
 * Migrates the guest from @src to the new QEMU @dst over a unix socket,
 * prints QEMU's figures and the consumed pages, and leaves @dst running
 * the guest and @src gone.
 */
static struct leg_result migrate(struct qemu *src, struct qemu *dst)
{
	double end = esx_now() + MIGRATE_TIMEOUT;
	struct leg_result res = { 0 };
	const char *status = "";
	char uri[PATH_MAX + 8];
	json_t *r = NULL, *ram;

	snprintf(uri, sizeof(uri), "unix:%s/migrate-%s", workdir, dst->name);
	{
		json_t *cmd = json_pack("{s:s, s:{s:s}}", "execute", "migrate-incoming",
					"arguments", "uri", uri);
		char *text = json_dumps(cmd, JSON_COMPACT);

		qmp_ok(dst, text);
		free(text);
		json_decref(cmd);
		/* The listening socket is there once migrate-incoming returned. */
		cmd = json_pack("{s:s, s:{s:s}}", "execute", "migrate", "arguments", "uri", uri);
		text = json_dumps(cmd, JSON_COMPACT);
		qmp_ok(src, "{\"execute\":\"migrate-set-parameters\","
			    "\"arguments\":{\"max-bandwidth\":1073741824}}");
		qmp_ok(src, text);
		free(text);
		json_decref(cmd);
	}
	for (;;) {
		r = qmp(src, "{\"execute\":\"query-migrate\"}");
		status = json_string_value(json_object_get(json_object_get(r, "return"), "status"));
		if (!status || !strcmp(status, "completed") || !strcmp(status, "failed") ||
		    esx_now() > end)
			break;
		json_decref(r);
		usleep(200 * 1000);
	}
	REQUIRE(status && !strcmp(status, "completed"), "migration %s -> %s: status %s: %s",
		src->name, dst->name, status ? status : "(none)",
		json_string_value(json_object_get(json_object_get(r, "return"), "error-desc")));
	/* QEMU says "completed" a moment before it has its times. */
	while (!json_int(json_object_get(r, "return"), "total-time") && esx_now() < end) {
		json_decref(r);
		usleep(100 * 1000);
		r = qmp(src, "{\"execute\":\"query-migrate\"}");
	}
	/* The source stays paused: its figures stand still. */
	if (src->esxmem)
		res.src = esx_stats(src->mem_fd);
	if (dst->esxmem)
		res.dst = esx_stats(dst->mem_fd);
	ram = json_object_get(json_object_get(r, "return"), "ram");
	printf("migration: at %.0f s: %s (%s) -> %s (%s): total %lld ms, downtime %lld ms, setup %lld ms, "
	       "transferred %lld bytes, normal pages %lld, zero (duplicate) pages %lld, dirty syncs %lld\n",
	       esx_now() - t_start, src->name, src->esxmem ? "esxmem" : "anonymous", dst->name,
	       dst->esxmem ? "esxmem" : "anonymous",
	       json_int(json_object_get(r, "return"), "total-time"),
	       json_int(json_object_get(r, "return"), "downtime"),
	       json_int(json_object_get(r, "return"), "setup-time"),
	       json_int(ram, "transferred"), json_int(ram, "normal"), json_int(ram, "duplicate"),
	       json_int(ram, "dirty-sync-count"));
	CHECK(json_int(json_object_get(r, "return"), "total-time") > 0, "QEMU gave no total time");
	CHECK(json_int(ram, "normal") >= (long long)WORK_PAGES,
	      "%lld normal pages sent, fewer than the workload's %lu",
	      json_int(ram, "normal"), WORK_PAGES);
	json_decref(r);
	if (src->esxmem)
		printf("migration: %s consumed %llu pages (private %llu, shared %llu) at completion\n",
		       src->name, (unsigned long long)res.src.consumed_pages,
		       (unsigned long long)res.src.state_pages[ESXMEM_PAGE_PRIVATE],
		       (unsigned long long)res.src.state_pages[ESXMEM_PAGE_SHARED]);
	if (dst->esxmem)
		printf("migration: %s consumed %llu pages (private %llu, zero %llu, unbacked %llu) right after\n",
		       dst->name, (unsigned long long)res.dst.consumed_pages,
		       (unsigned long long)res.dst.state_pages[ESXMEM_PAGE_PRIVATE],
		       (unsigned long long)res.dst.state_pages[ESXMEM_PAGE_ZERO],
		       (unsigned long long)res.dst.state_pages[ESXMEM_PAGE_UNBACKED]);

	/* The destination runs the guest on its own (it was not started with -S). */
	end = esx_now() + QMP_TIMEOUT;
	for (;;) {
		bool running;

		r = qmp(dst, "{\"execute\":\"query-status\"}");
		running = json_is_true(json_object_get(json_object_get(r, "return"), "running"));
		json_decref(r);
		if (running)
			break;
		REQUIRE(esx_now() < end, "QEMU %s does not run the guest after the migration",
			dst->name);
		usleep(100 * 1000);
	}
	CHECK(!console_count(src, "MEMWORK: CORRUPT"), "the guest found a corrupt page on %s",
	      src->name);
	stop_qemu(src);
	/* Two rounds of checks: the second one ran wholly on the destination. */
	CHECK(wait_console(dst, "MEMWORK: verified round", 2, ROUNDS_TIMEOUT),
	      "the guest's memory checks did not pass twice on %s", dst->name);
	return res;
}

/*
 * Whether a destination that consumes @consumed pages right after the
 * migration backed no zero page: at most 10% more than the @data pages
 * that held data on the source, and at least the workload's. It may
 * consume less: pages the source backed that hold zeros (written so by the
 * guest) arrive as zero pages and stay unbacked.
 */
static bool no_zero_pages_backed(unsigned long long consumed, unsigned long long data)
{
	return consumed * 10 <= data * 11 && consumed >= WORK_PAGES;
}

/*
 * The entries of destination @q that hold data once the sharing scanner
 * has made a full pass over it, giving back the zero pieces of its large
 * pages that are mostly zero: its private and shared entries, and the zero
 * pages it merged meanwhile (share/zero_merges counts every VM's, which
 * can only make this larger). Sharing is off again on return, and breaks
 * large pages in any state again (esx_share_rate()).
 */
static unsigned long long data_after_scan(struct qemu *q)
{
	struct esxmem_vm_stats before = esx_stats(q->mem_fd), after;
	long zero0 = esx_sysfs_long("share/zero_merges");
	long underused0 = esx_sysfs_long("large_page_underused_breaks");
	unsigned long long data;

	/*
	 * Not share/break_large "always", which esx_share_rate() set and
	 * which would break every large page: only the mostly zero ones.
	 */
	REQUIRE_OK(esx_sysfs_write("share/break_large", "pressure"));
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	CHECK(ESX_WAIT_FOR((after = esx_stats(q->mem_fd)).full_scans >= before.full_scans + 1,
			   SCAN_TIMEOUT),
	      "the scanner made no full pass over %s", q->name);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	REQUIRE_OK(esx_sysfs_write("share/break_large", "always"));
	after = esx_stats(q->mem_fd);
	data = data_pages(&after) + (esx_sysfs_long("share/zero_merges") - zero0);
	printf("migration: at %.0f s: %s consumed %llu pages right after, %llu after a pass of "
	       "the scanner (data in %llu; %ld mostly zero large pages broken, %ld zero pages merged)\n",
	       esx_now() - t_start, q->name, (unsigned long long)before.consumed_pages,
	       (unsigned long long)after.consumed_pages, data,
	       esx_sysfs_long("large_page_underused_breaks") - underused0,
	       esx_sysfs_long("share/zero_merges") - zero0);
	return data;
}

/* A userfaultfd cannot take missing-page faults of esxmem memory. */
static void check_userfaultfd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int fd = esx_open(), uffd;
	uint64_t size = 16 * ESX_PAGE;
	void *p;

	REQUIRE_OK(ioctl(fd, ESXMEM_IOC_SET_SIZE, &size) ? -errno : 0);
	p = esx_map(fd, 16, 0);
	REQUIRE(p, "mmap: %s", strerror(errno));
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	REQUIRE(uffd >= 0, "userfaultfd: %s", strerror(errno));
	REQUIRE(ioctl(uffd, UFFDIO_API, &api) == 0, "UFFDIO_API: %s", strerror(errno));
	reg.range.start = (uintptr_t)p;
	reg.range.len = size;
	errno = 0;
	CHECK(ioctl(uffd, UFFDIO_REGISTER, &reg) == -1 && errno == EINVAL,
	      "UFFDIO_REGISTER of an esxmem mapping: %s, want EINVAL", strerror(errno));
	printf("postcopy: UFFDIO_REGISTER (missing) on an esxmem mapping: %s\n", strerror(errno));
	close(uffd);
	munmap(p, size);
	close(fd);
}

/*
 * Whether QEMU @q, waiting for an incoming migration, accepts the
 * postcopy-ram capability; it is off again afterwards.
 */
static void check_postcopy_capability(struct qemu *q)
{
	json_t *r = qmp(q, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
			   "{\"capabilities\":[{\"capability\":\"postcopy-ram\",\"state\":true}]}}");
	const char *err = qmp_error(r);

	if (err)
		printf("postcopy: QEMU %s refuses postcopy-ram on esxmem RAM: %s\n", q->name, err);
	else
		printf("postcopy: QEMU %s accepts postcopy-ram on esxmem RAM (QEMU before 8.0 "
		       "checks an anonymous page only); it would fail at the switch to postcopy\n",
		       q->name);
	json_decref(r);
	qmp_ok(q, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
		  "{\"capabilities\":[{\"capability\":\"postcopy-ram\",\"state\":false}]}}");
}

/*
 * A migration from @src with postcopy-ram on both sides, to @dst whose RAM
 * is on /dev/esxmem: it fails at its start, before any switch to postcopy
 * (QEMU 7.2's destination discards all of its RAM when the source advises
 * postcopy, with fallocate(), which a character device refuses: ENODEV),
 * and the guest keeps running on @src with its memory intact.
 */
static void check_postcopy_attempt(struct qemu *src, struct qemu *dst)
{
	const char *caps = "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
			   "{\"capabilities\":[{\"capability\":\"postcopy-ram\",\"state\":true}]}}";
	double end = esx_now() + MIGRATE_TIMEOUT;
	char uri[PATH_MAX + 8], cmd[PATH_MAX + 128];
	const char *status = NULL;
	bool running = false;
	int rounds;
	json_t *r;

	start_qemu(dst, true);
	qmp_connect(dst);
	r = qmp(dst, "%s", caps);
	if (qmp_error(r)) {
		/* QEMU 8.0 and later: backend files on tmpfs or hugetlbfs only. */
		printf("postcopy: QEMU %s refuses postcopy-ram: %s\n", dst->name, qmp_error(r));
		json_decref(r);
		return;
	}
	json_decref(r);
	qmp_ok(src, caps);
	snprintf(uri, sizeof(uri), "unix:%s/migrate-%s", workdir, dst->name);
	snprintf(cmd, sizeof(cmd), "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"%s\"}}",
		 uri);
	qmp_ok(dst, cmd);
	snprintf(cmd, sizeof(cmd), "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"%s\"}}", uri);
	qmp_ok(src, cmd);
	for (;;) {
		r = qmp(src, "{\"execute\":\"query-migrate\"}");
		status = json_string_value(json_object_get(json_object_get(r, "return"), "status"));
		if (!status || (strcmp(status, "setup") && strcmp(status, "active")) ||
		    esx_now() > end)
			break;
		json_decref(r);
		usleep(200 * 1000);
	}
	CHECK(status && !strcmp(status, "failed"),
	      "a migration with postcopy-ram to /dev/esxmem RAM ends %s, want failed",
	      status ? status : "(none)");
	printf("postcopy: at %.0f s: a migration with postcopy-ram to RAM on %s: %s (%s)\n",
	       esx_now() - t_start, ESXMEM_DEVICE_PATH, status ? status : "(none)",
	       json_string_value(json_object_get(json_object_get(r, "return"), "error-desc")));
	json_decref(r);
	r = qmp(src, "{\"execute\":\"query-status\"}");
	running = json_is_true(json_object_get(json_object_get(r, "return"), "running"));
	json_decref(r);
	CHECK(running, "QEMU %s no longer runs the guest after the failed migration", src->name);
	stop_qemu(dst);
	rounds = console_count(src, "MEMWORK: verified round");
	CHECK(wait_console(src, "MEMWORK: verified round", rounds + 2, ROUNDS_TIMEOUT),
	      "the guest's memory checks did not pass twice more on %s", src->name);
}

int main(void)
{
	struct esxmem_vm_stats before, after;
	struct leg_result leg1, leg2, leg3;
	unsigned long long data_b, data_d;
	long merges0, used0;
	size_t i;
	int kvm_vm;

	setvbuf(stdout, NULL, _IOLBF, 0);
	t_start = esx_now();
	REQUIRE(access("/dev/kvm", R_OK | W_OK) == 0, "/dev/kvm: %s", strerror(errno));
	REQUIRE(access(ESX_QEMU, X_OK) == 0, "%s: %s", ESX_QEMU, strerror(errno));
	REQUIRE(mkdtemp(workdir), "mkdtemp: %s", strerror(errno));
	for (i = 0; i < NR_QEMUS; i++)
		qemus[i].qmp = qemus[i].mem_fd = -1;
	snprintf(fsdir, sizeof(fsdir), "%s/esxmemfs", workdir);
	REQUIRE(mkdir(fsdir, 0700) == 0, "mkdir %s: %s", fsdir, strerror(errno));
	atexit(cleanup);
	REQUIRE(mount("esxmem", fsdir, "esxmem", 0, NULL) == 0, "mount -t esxmem: %s",
		strerror(errno));
	kvm_vm = esx_hold_kvm_vm();
	REQUIRE(kvm_vm >= 0, "hold a KVM VM: %s", strerror(-kvm_vm));
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		esx_sysfs_string(knobs[i], knobs_saved[i], sizeof(knobs_saved[i]));
	atexit(restore_knobs);
	/* Sharing waits until after the first migration: see the top. */
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	esx_share_rate("10000000");
	REQUIRE_OK(esx_sysfs_write("sample/period_secs", "1"));
	REQUIRE_OK(esx_sysfs_write("sample/pages", "400"));
	REQUIRE_OK(esx_sysfs_write("sample/enabled", "1"));

	check_userfaultfd();
	used0 = esx_pool_settled(10);

	start_qemu(&qemus[A], false);
	qmp_connect(&qemus[A]);
	qemus[A].mem_fd = grab_esxmem_fd(&qemus[A]);
	REQUIRE(wait_console(&qemus[A], "MEMWORK: verified round", 1, BOOT_TIMEOUT),
		"the guest's workload did not start on A");
	printf("migration: at %.0f s: the guest runs its workload on A\n", esx_now() - t_start);

	/* esxmem to esxmem. */
	start_qemu(&qemus[B], true);
	qmp_connect(&qemus[B]);
	qemus[B].mem_fd = grab_esxmem_fd(&qemus[B]);
	check_postcopy_capability(&qemus[B]);
	leg1 = migrate(&qemus[A], &qemus[B]);
	merges0 = esx_sysfs_long("share/merges");
	data_b = data_after_scan(&qemus[B]);
	CHECK(no_zero_pages_backed(data_b, leg1.src.consumed_pages),
	      "B holds data in %llu pages after a scanner pass, A consumed %llu",
	      data_b, (unsigned long long)leg1.src.consumed_pages);

	/* Sharing and sampling take the new object up. */
	before = esx_stats(qemus[B].mem_fd);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	CHECK(ESX_WAIT_FOR((after = esx_stats(qemus[B].mem_fd)).full_scans >= before.full_scans + 1 &&
			   after.sample_periods >= before.sample_periods + 2 &&
			   after.sample_faults > before.sample_faults, SCAN_TIMEOUT),
	      "on B: full scans %llu -> %llu, sample periods %llu -> %llu, sampled touches %llu -> %llu",
	      (unsigned long long)before.full_scans, (unsigned long long)after.full_scans,
	      (unsigned long long)before.sample_periods, (unsigned long long)after.sample_periods,
	      (unsigned long long)before.sample_faults, (unsigned long long)after.sample_faults);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	after = esx_stats(qemus[B].mem_fd);
	printf("migration: at %.0f s: on B: pages scanned %llu -> %llu, full scans %llu -> %llu, merges +%ld, "
	       "shared pages %llu, sample periods %llu -> %llu, sampled touches %llu -> %llu, "
	       "active %u ppm\n",
	       esx_now() - t_start, (unsigned long long)before.pages_scanned,
	       (unsigned long long)after.pages_scanned,
	       (unsigned long long)before.full_scans, (unsigned long long)after.full_scans,
	       esx_sysfs_long("share/merges") - merges0,
	       (unsigned long long)after.state_pages[ESXMEM_PAGE_SHARED],
	       (unsigned long long)before.sample_periods, (unsigned long long)after.sample_periods,
	       (unsigned long long)before.sample_faults, (unsigned long long)after.sample_faults,
	       after.active_ppm);
	CHECK(esx_sysfs_long("share/merges") > merges0 && after.state_pages[ESXMEM_PAGE_SHARED] > 0,
	      "the scanner merged no page of B");

	/* esxmem to anonymous memory. */
	start_qemu(&qemus[C], true);
	qmp_connect(&qemus[C]);
	leg2 = migrate(&qemus[B], &qemus[C]);

	/* And back to esxmem. */
	start_qemu(&qemus[D], true);
	qmp_connect(&qemus[D]);
	qemus[D].mem_fd = grab_esxmem_fd(&qemus[D]);
	leg3 = migrate(&qemus[C], &qemus[D]);
	data_d = data_after_scan(&qemus[D]);
	CHECK(no_zero_pages_backed(data_d, data_pages(&leg2.src)),
	      "D holds data in %llu pages after a scanner pass, B held data in %llu",
	      data_d, (unsigned long long)data_pages(&leg2.src));
	printf("migration: consumed before and after: A %llu -> B %llu pages right after, data in "
	       "%llu after a scanner pass; B %llu data pages -> anonymous -> D %llu pages right "
	       "after, data in %llu after a scanner pass\n",
	       (unsigned long long)leg1.src.consumed_pages,
	       (unsigned long long)leg1.dst.consumed_pages, data_b,
	       (unsigned long long)data_pages(&leg2.src),
	       (unsigned long long)leg3.dst.consumed_pages, data_d);
	check_postcopy_attempt(&qemus[D], &qemus[E]);
	/* Every QEMU gone, failed migrations included: every page is back. */
	for (i = 0; i < NR_QEMUS; i++)
		stop_qemu(&qemus[i]);
	CHECK(esx_pool_back(used0, 30), "the pool holds %ld pages, %ld before the first QEMU",
	      esx_sysfs_long("used_pages"), used0);
	printf("migration: done at %.0f s\n", esx_now() - t_start);
	close(kvm_vm);
	return vmtest_done("esxmem_migrate");
}
