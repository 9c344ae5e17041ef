// SPDX-License-Identifier: GPL-2.0
/*
 * esxmem_fault_retry: a fault that waits for memory never holds up the
 * rest of the VMM, the daemon's requests or reclaim.
 *
 * A VMM process (a child) runs a tiny KVM VM on an esxmem object, attached
 * to KVM, with its slot map stale (a second mapping came after the
 * attach). The pool is exhausted and reclaim is off. One VMM thread writes
 * a new page and waits for the pool; then, in one round, another thread
 * calls mmap(), which queues for the VMM's mmap_lock for writing. While the
 * fault waits:
 *  - the mmap() completes within a second (the fault let go of mmap_lock);
 *  - GET_VM for the VM, which rebuilds the stale slot map under the VMM's
 *    mmap_lock, answers within a second;
 * and once reclaim resumes (the VM's own pages can go to its swap file)
 * the waiting fault is served within two seconds, with no SIGBUS. The same
 * without the queued mmap(). Module knobs are restored on exit.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <sys/select.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"
#include <libesxmem/libesxmem.h>

#define PAGES		64u
#define RAM_GPA		0x100000u
#define CODE_GPA	0x1000u
#define WAIT_SECS	60.0
#define SWAPDIR		"/tmp/fault-retry-swap"

static long saved_pool, saved_wait;
static pid_t main_pid;

static void restore(void)
{
	if (getpid() != main_pid)
		return;
	esx_sysfs_write_long("pool_pages", saved_pool);
	esx_sysfs_write_long("fault_wait_ms", saved_wait);
	esx_sysfs_write("reclaim/enabled", "0");
	umount(SWAPDIR);
}

/* What the VMM tells the test, one line at a time. */
static int to_test;

static void say(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(to_test, line, (size_t)n) != n)
		_exit(3);
}

static char *host;
static double mmap_secs = -1;
static sem_t map_now;

static void *writer(void *arg)
{
	(void)arg;
	say("writing\n");
	/* A page never written: it needs one from the exhausted pool. */
	host[5 * ESX_PAGE] = 1;
	say("written\n");
	return NULL;
}

/* Started before the write, so that its stack is already mapped. */
static void *mapper(void *arg)
{
	double t;
	void *p;

	(void)arg;
	while (sem_wait(&map_now))
		;
	say("mapper %d\n", (int)syscall(SYS_gettid));
	t = esx_now();
	p = mmap(NULL, ESX_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mmap_secs = esx_now() - t;
	if (p != MAP_FAILED)
		munmap(p, ESX_PAGE);
	say("mapped %.3f\n", mmap_secs);
	return NULL;
}

/* The VMM: the child. Exits 0 once the write went through. */
static void vmm_main(int out, int in, bool with_mmap)
{
	struct esxmem *nl;
	pthread_t tw, tm;
	struct vmm *vm;
	char go;
	int fd;

	to_test = out;
	REQUIRE(!sem_init(&map_now, 0, 0), "sem_init");
	fd = esx_open();
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE_OK(vmm_create(&vm));
	REQUIRE_OK(vmm_add_slot(vm, 0, 0, 0x10000, -1, 0));
	REQUIRE_OK(vmm_load_guest(vm, CODE_GPA));
	REQUIRE_OK(vmm_add_slot(vm, 1, RAM_GPA, (uint64_t)PAGES * ESX_PAGE, fd, 0));
	REQUIRE_OK(esxmem_kvm_attach(nl, esx_stats(fd).id, vmm_vm_fd(vm)));
	/* A mapping the slot map does not know of yet: it is stale now. */
	host = esx_map(fd, PAGES, 0);
	REQUIRE(host, "mmap: %s", strerror(errno));
	/* Pages reclaim can take; page 5 stays unbacked. */
	for (unsigned int i = PAGES / 2; i < PAGES; i++)
		memset(host + (size_t)i * ESX_PAGE, (int)i, ESX_PAGE);
	say("ready %u\n", esx_stats(fd).id);
	if (with_mmap)
		REQUIRE(!pthread_create(&tm, NULL, mapper, NULL), "thread");
	REQUIRE(read(in, &go, 1) == 1, "go");
	REQUIRE(!pthread_create(&tw, NULL, writer, NULL), "thread");
	if (with_mmap) {
		/* Only this thread reads the test's pipe. */
		REQUIRE(read(in, &go, 1) == 1, "go");
		sem_post(&map_now);
		pthread_join(tm, NULL);
	}
	pthread_join(tw, NULL);
	_exit(host[5 * ESX_PAGE] == 1 ? 0 : 2);
}

/* The next line from the VMM, within @secs; "" on timeout. */
static const char *hear(FILE *f, int fd, double secs)
{
	static char line[128];

	if (!ESX_WAIT_FOR(({
		struct timeval tv = { 0, 0 };
		fd_set set;

		FD_ZERO(&set);
		FD_SET(fd, &set);
		select(fd + 1, &set, NULL, NULL, &tv) > 0;
	}), secs))
		return "";
	if (!fgets(line, sizeof(line), f))
		return "";
	return line;
}

/* The state letter of thread @tid of @pid, from /proc. */
static char thread_state(pid_t pid, int tid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] ? p[2] : '?';
}

static void round_trip(struct esxmem *nl, int swapfd, bool with_mmap)
{
	int up[2], down[2], tid = 0, status = -1;
	const char *line;
	struct esxmem_vm_info *vi;
	double t, get_secs, serve_secs, mapped = -1;
	unsigned int id = 0;
	long waits;
	pid_t pid;
	FILE *f;

	REQUIRE(!pipe(up) && !pipe(down), "pipe");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		vmm_main(up[1], down[0], with_mmap);
	}
	close(up[1]);
	close(down[0]);
	f = fdopen(up[0], "r");
	/* Unbuffered: select() on the fd must see every line not yet read. */
	setvbuf(f, NULL, _IONBF, 0);
	line = hear(f, up[0], WAIT_SECS);
	REQUIRE(sscanf(line, "ready %u", &id) == 1, "the VMM did not start: '%s'", line);
	REQUIRE_OK(esxmem_vm_set_swap(nl, id, swapfd));

	/* Exhausted: every page of the pool in use, and reclaim off. */
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", esx_sysfs_long("used_pages")));
	waits = esx_sysfs_long("fault_waits");
	REQUIRE(write(down[1], "g", 1) == 1, "go");
	line = hear(f, up[0], WAIT_SECS);
	CHECK(!strcmp(line, "writing\n"), "'%s'", line);
	CHECK(ESX_WAIT_FOR(esx_sysfs_long("fault_waits") > waits, WAIT_SECS),
	      "the write never waited for the pool");
	if (with_mmap) {
		REQUIRE(write(down[1], "g", 1) == 1, "go");
		line = hear(f, up[0], WAIT_SECS);
		CHECK(sscanf(line, "mapper %d", &tid) == 1, "'%s'", line);
		/* Either done already or queued for mmap_lock: 'D'. */
		line = hear(f, up[0], 1.0);
		if (!*line) {
			CHECK(thread_state(pid, tid) == 'D', "mmap() is neither done nor waiting");
			line = hear(f, up[0], 1.0);
		}
		CHECK(sscanf(line, "mapped %lf", &mapped) == 1,
		      "mmap() did not complete within a second while a fault waited");
	}

	t = esx_now();
	CHECK_OK(esxmem_vm_get(nl, id, &vi));
	get_secs = esx_now() - t;
	CHECK(esxmem_vm_nr_slots(vi) == 1, "%zu slots after the refresh", (size_t)esxmem_vm_nr_slots(vi));
	esxmem_vm_info_free(vi);
	CHECK(get_secs < 1.0, "GET_VM took %.2f s while a fault waited", get_secs);

	/* Reclaim resumes: the VM's own pages go, and the fault is served. */
	t = esx_now();
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "1"));
	line = hear(f, up[0], WAIT_SECS);
	serve_secs = esx_now() - t;
	CHECK(!strcmp(line, "written\n"), "the write did not complete: '%s'", line);
	CHECK(serve_secs < 2.0, "the waiting fault was served %.2f s after reclaim resumed",
	      serve_secs);
	REQUIRE_OK(esx_sysfs_write("reclaim/enabled", "0"));
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", saved_pool));
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "the VMM died (status 0x%x)", status);
	printf("%s: mmap() %.3f s, GET_VM %.3f s, fault served %.3f s after reclaim resumed\n",
	       with_mmap ? "with a queued mmap()" : "alone", mapped, get_secs, serve_secs);
	fclose(f);
	close(down[1]);
}

static long used0;

int main(void)
{
	struct esxmem *nl;
	int swapfd;

	main_pid = getpid();
	saved_pool = esx_sysfs_long("pool_pages");
	saved_wait = esx_sysfs_long("fault_wait_ms");
	atexit(restore);
	esx_background_off();
	used0 = esx_pool_settled(60);
	/* Long enough that only the fix, not the timeout, ends the wait. */
	REQUIRE_OK(esx_sysfs_write_long("fault_wait_ms", 30000));
	REQUIRE_OK(esxmem_open(&nl));
	REQUIRE(!mkdir(SWAPDIR, 0700) || errno == EEXIST, "mkdir");
	REQUIRE(!mount("tmpfs", SWAPDIR, "tmpfs", 0, "size=4m"), "mount: %s", strerror(errno));
	swapfd = open(SWAPDIR "/swap", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	REQUIRE(swapfd >= 0 && !posix_fallocate(swapfd, 0, (off_t)PAGES * ESX_PAGE),
		"swap file: %s", strerror(errno));
	round_trip(nl, swapfd, false);
	round_trip(nl, swapfd, true);
	close(swapfd);
	esxmem_close(nl);
	CHECK(esx_pool_back(used0, 60), "%ld pages still charged to the pool",
	      esx_sysfs_long("used_pages") - used0);
	return vmtest_done("esxmem_fault_retry");
}
