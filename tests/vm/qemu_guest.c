// SPDX-License-Identifier: GPL-2.0
/*
 * qemu_guest: real QEMU boots a Linux guest whose RAM is a /dev/esxmem
 * object, and the object accounts for that guest's memory.
 *
 *  - QEMU (KVM) with a 256 MiB memory-backend-file on /dev/esxmem boots the
 *    nested guest kernel to its userspace, and the guest's memory test
 *    (64 MiB written to tmpfs and checked) passes;
 *  - while the guest holds (stopped with SIGSTOP, so nothing moves), the
 *    object taken from QEMU with pidfd_getfd() reports the guest's size,
 *    at least the kernel plus the memory test's data as consumed, page
 *    states that add up to the size, and QEMU's mapping; the pool's
 *    used_pages and objects grew by exactly that object;
 *  - the sharing scanner runs at full rate all along: the guest's memory
 *    test passes, pages were shared, and the pool holds exactly the
 *    guest's private pages plus the shared frames;
 *  - QEMU killed with SIGKILL returns every page to the pool and the
 *    object goes away.
 *
 * Every wait polls the guest's console for a marker and is bounded; on
 * failure the console is printed.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <dirent.h>
#include <limits.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define GUEST_MIB	256UL
#define GUEST_PAGES	(GUEST_MIB * 1024 * 1024 / ESX_PAGE)
/* The memory test writes two 32 MiB files to tmpfs. */
#define MEMTEST_PAGES	(64UL * 1024 * 1024 / ESX_PAGE)
/* ... and the guest kernel, its initramfs and page structures need more. */
#define KERNEL_PAGES	(8UL * 1024 * 1024 / ESX_PAGE)

/* Limits, in seconds. */
#define BOOT_TIMEOUT	300	/* to GUEST-USERSPACE-UP */
#define MEMTEST_TIMEOUT	180	/* from there to GUEST-HOLD */
#define RELEASE_TIMEOUT	20	/* pages back in the pool after SIGKILL */

#define CONSOLE_MAX	(4 << 20)
#define CONSOLE_TAIL	(24 << 10)

static pid_t qemu_pid = -1;
static char saved_rate[32], saved_vm_rate[32], saved_enabled[8];
static char workdir[] = "/tmp/qemu_guest.XXXXXX";
static char console_path[PATH_MAX];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The console so far, NUL-terminated (at most CONSOLE_MAX bytes); free it. */
static char *read_console(size_t *lenp)
{
	char *buf = malloc(CONSOLE_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd;

	if (!buf)
		return NULL;
	fd = open(console_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while (len < CONSOLE_MAX &&
		       (n = read(fd, buf + len, CONSOLE_MAX - len)) > 0)
			len += (size_t)n;
		close(fd);
	}
	buf[len] = 0;
	/* The guest's console may carry NULs; keep strstr() going past them. */
	for (n = 0; (size_t)n < len; n++)
		if (!buf[n])
			buf[n] = ' ';
	if (lenp)
		*lenp = len;
	return buf;
}

static void dump_console(void)
{
	size_t len;
	char *buf = read_console(&len);

	if (!buf)
		return;
	fprintf(stderr, "---- QEMU console (%s, last %d KiB of %zu bytes) ----\n",
		console_path, CONSOLE_TAIL >> 10, len);
	fputs(len > CONSOLE_TAIL ? buf + len - CONSOLE_TAIL : buf, stderr);
	fprintf(stderr, "\n---- end of QEMU console ----\n");
	free(buf);
}

/* Kills QEMU if it still runs; on failure shows its console. */
static void restore_sharing(void)
{
	if (esx_sysfs_write("share/pages_per_sec", saved_rate) ||
	    esx_sysfs_write("share/vm_pages_per_sec", saved_vm_rate) ||
	    esx_sysfs_write("share/enabled", saved_enabled))
		fprintf(stderr, "qemu_guest: could not restore the sharing knobs\n");
}

static void cleanup(void)
{
	if (qemu_pid > 0) {
		kill(qemu_pid, SIGKILL);
		waitpid(qemu_pid, NULL, 0);
		qemu_pid = -1;
	}
	if (vmtest_failures)
		dump_console();
	if (console_path[0]) {
		unlink(console_path);
		rmdir(workdir);
	}
}

static pid_t start_qemu(void)
{
	pid_t pid = esx_start_guest(GUEST_MIB, "guest.work=memtest-hold", ESXMEM_DEVICE_PATH,
				    console_path, NULL);

	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	return pid;
}

/*
 * Waits until the console shows @marker: 0 when it does, -1 when QEMU
 * exited, the guest reported a failure or @deadline passed.
 */
static int wait_for(const char *marker, double deadline)
{
	static const char *const bad[] = {
		"GUEST-MEMTEST-FAIL", "Kernel panic", "GUEST-DONE",
	};
	int status;
	size_t i;

	for (;;) {
		char *con = read_console(NULL);
		int found;

		REQUIRE(con, "out of memory");
		found = strstr(con, marker) != NULL;
		for (i = 0; !found && i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(con, bad[i])) {
				free(con);
				fprintf(stderr, "waiting for %s, the console shows %s\n",
					marker, bad[i]);
				return -1;
			}
		}
		free(con);
		if (found)
			return 0;
		if (waitpid(qemu_pid, &status, WNOHANG) == qemu_pid) {
			fprintf(stderr, "QEMU exited (%s %d) before %s\n",
				WIFEXITED(status) ? "status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				marker);
			qemu_pid = -1;
			return -1;
		}
		if (now() > deadline) {
			fprintf(stderr, "no %s on the console in time\n", marker);
			return -1;
		}
		usleep(100 * 1000);
	}
}

/* QEMU's fds open on /dev/esxmem: the number found, the first in *fdp. */
static int find_esxmem_fds(pid_t pid, int *fdp)
{
	char dir[64], path[PATH_MAX], target[PATH_MAX];
	struct dirent *d;
	int found = 0;
	ssize_t n;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	dp = opendir(dir);
	REQUIRE(dp, "opendir %s: %s", dir, strerror(errno));
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (strcmp(target, ESXMEM_DEVICE_PATH))
			continue;
		if (!found++)
			*fdp = atoi(d->d_name);
	}
	closedir(dp);
	return found;
}

/* The same open file as QEMU's fd @fd, in our fd table. */
static int grab_fd(pid_t pid, int fd)
{
	int pidfd, ours;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	REQUIRE(pidfd >= 0, "pidfd_open(%d): %s", (int)pid, strerror(errno));
	ours = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	REQUIRE(ours >= 0, "pidfd_getfd(%d): %s", fd, strerror(errno));
	close(pidfd);
	return ours;
}

static void print_stats(const struct esxmem_vm_stats *st)
{
	static const char *const names[] = {
		"unbacked", "private", "shared", "zero", "ballooned",
		"swapped", "compressed",
	};
	int s;

	printf("object: size %llu, consumed %llu, mappings %llu, faults %llu, cow_breaks %llu\n",
	       (unsigned long long)st->size_pages,
	       (unsigned long long)st->consumed_pages,
	       (unsigned long long)st->mappings,
	       (unsigned long long)st->faults,
	       (unsigned long long)st->cow_breaks);
	printf("object page states:");
	for (s = 0; s < ESXMEM_PAGE_NR_STATES; s++)
		printf(" %s %llu", names[s], (unsigned long long)st->state_pages[s]);
	printf("\n");
}

int main(void)
{
	long used0, objects0, used_run, objects_run, used_end, objects_end, merges0, frames;
	struct esxmem_vm_stats st;
	double t0, t_up, t_hold, t_kill, t_back;
	uint64_t sum = 0;
	int status, qfd = -1, fd, nfds, s, kvm_vm;

	REQUIRE(access("/dev/kvm", R_OK | W_OK) == 0, "/dev/kvm: %s", strerror(errno));
	REQUIRE(access(ESX_QEMU, X_OK) == 0, "%s: %s", ESX_QEMU, strerror(errno));
	REQUIRE(access(ESX_GUEST_KERNEL, R_OK) == 0 && access(ESX_GUEST_INITRD, R_OK) == 0,
		"nested guest missing: %s", strerror(errno));
	REQUIRE(mkdtemp(workdir), "mkdtemp: %s", strerror(errno));
	snprintf(console_path, sizeof(console_path), "%s/console", workdir);
	atexit(cleanup);
	kvm_vm = esx_hold_kvm_vm();
	REQUIRE(kvm_vm >= 0, "hold a KVM VM: %s", strerror(-kvm_vm));
	esx_sysfs_string("share/pages_per_sec", saved_rate, sizeof(saved_rate));
	esx_sysfs_string("share/vm_pages_per_sec", saved_vm_rate, sizeof(saved_vm_rate));
	esx_sysfs_string("share/enabled", saved_enabled, sizeof(saved_enabled));
	atexit(restore_sharing);
	/* Also breaks large pages for sharing in the high state, till exit. */
	esx_share_rate("10000000");
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	merges0 = esx_sysfs_long("share/merges");

	used0 = esx_sysfs_long("used_pages");
	objects0 = esx_sysfs_long("objects");
	printf("baseline: used_pages %ld, objects %ld\n", used0, objects0);

	t0 = now();
	qemu_pid = start_qemu();
	REQUIRE(wait_for("GUEST-USERSPACE-UP", t0 + BOOT_TIMEOUT) == 0,
		"the guest did not reach userspace");
	t_up = now();
	printf("guest userspace up after %.1f s\n", t_up - t0);
	REQUIRE(wait_for("GUEST-HOLD", t_up + MEMTEST_TIMEOUT) == 0,
		"the guest's memory test did not finish");
	t_hold = now();
	{
		char *con = read_console(NULL);

		REQUIRE(con, "out of memory");
		CHECK(strstr(con, "GUEST-MEMTEST-OK"), "the guest's memory test failed");
		free(con);
	}
	printf("guest memory test passed after %.1f s more\n", t_hold - t_up);

	/* Freeze the guest so that the counters stand still while read. */
	REQUIRE(kill(qemu_pid, SIGSTOP) == 0, "SIGSTOP: %s", strerror(errno));
	REQUIRE(waitpid(qemu_pid, &status, WUNTRACED) == qemu_pid && WIFSTOPPED(status),
		"QEMU did not stop");

	/* Stopping the scanner waits for its last batch: counters stand. */
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	frames = esx_sysfs_long("share/pages_shared");

	nfds = find_esxmem_fds(qemu_pid, &qfd);
	REQUIRE(nfds >= 1, "QEMU has no fd open on %s", ESXMEM_DEVICE_PATH);
	CHECK(nfds == 1, "QEMU has %d fds on %s, want 1", nfds, ESXMEM_DEVICE_PATH);
	fd = grab_fd(qemu_pid, qfd);

	st = esx_stats(fd);
	used_run = esx_sysfs_long("used_pages");
	objects_run = esx_sysfs_long("objects");
	print_stats(&st);
	printf("pool: used_pages %ld (+%ld), objects %ld; sharing: %ld merges, %ld frames\n",
	       used_run, used_run - used0, objects_run, esx_sysfs_long("share/merges") - merges0,
	       frames);

	CHECK(st.size_pages == GUEST_PAGES, "size %llu pages, want %lu",
	      (unsigned long long)st.size_pages, GUEST_PAGES);
	CHECK(st.state_pages[ESXMEM_PAGE_PRIVATE] + st.state_pages[ESXMEM_PAGE_SHARED] >
	      MEMTEST_PAGES + KERNEL_PAGES,
	      "%llu private and %llu shared pages: less than the memory test's %lu plus the kernel's %lu",
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_PRIVATE],
	      (unsigned long long)st.state_pages[ESXMEM_PAGE_SHARED], MEMTEST_PAGES, KERNEL_PAGES);
	CHECK(esx_sysfs_long("share/merges") > merges0, "no page of the guest was shared");
	CHECK(st.consumed_pages <= st.size_pages, "consumed %llu > size %llu",
	      (unsigned long long)st.consumed_pages, (unsigned long long)st.size_pages);
	for (s = 0; s < ESXMEM_PAGE_NR_STATES; s++)
		sum += st.state_pages[s];
	CHECK(sum == st.size_pages, "page states add up to %llu, size %llu",
	      (unsigned long long)sum, (unsigned long long)st.size_pages);
	CHECK(st.mappings >= 1, "QEMU's mapping not counted: %llu",
	      (unsigned long long)st.mappings);
	/* A fault per page, or per 2 MiB large page. */
	CHECK(st.faults >= st.consumed_pages / 512, "faults %llu for consumed %llu",
	      (unsigned long long)st.faults, (unsigned long long)st.consumed_pages);
	/*
	 * The guest's domain is its own: every shared frame is its. Pages it
	 * freed that someone still holds (held_pages: a page KVM is mapping as
	 * a large page is broken, say) stay charged until let go; and the
	 * guest runs on, so the figures are read again until they agree.
	 */
	CHECK(ESX_WAIT_FOR((st = esx_stats(fd), used_run = esx_sysfs_long("used_pages"),
			    used_run - used0 == (long)st.consumed_pages + frames +
						esx_sysfs_long("held_pages")), 30),
	      "used_pages grew by %ld, the object consumes %llu plus %ld shared frames, %ld held",
	      used_run - used0, (unsigned long long)st.consumed_pages, frames,
	      esx_sysfs_long("held_pages"));
	CHECK(objects_run == objects0 + 1, "objects %ld while QEMU runs, baseline %ld",
	      objects_run, objects0);
	close(fd);

	/* A killed VMM returns everything. */
	t_kill = now();
	REQUIRE(kill(qemu_pid, SIGKILL) == 0, "SIGKILL: %s", strerror(errno));
	REQUIRE(waitpid(qemu_pid, &status, 0) == qemu_pid, "waitpid: %s", strerror(errno));
	qemu_pid = -1;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "QEMU did not die of SIGKILL: status 0x%x", status);
	/*
	 * The pages normally return before QEMU is reaped; a deferred release
	 * (an mm reference still held by kernel work) is allowed for a while.
	 */
	printf("reaped after %.3f s: used_pages %ld, objects %ld\n", now() - t_kill,
	       esx_sysfs_long("used_pages"), esx_sysfs_long("objects"));
	for (;;) {
		used_end = esx_sysfs_long("used_pages");
		objects_end = esx_sysfs_long("objects");
		t_back = now();
		if ((used_end == used0 && objects_end == objects0) ||
		    t_back > t_kill + RELEASE_TIMEOUT)
			break;
		usleep(2 * 1000);
	}
	printf("after SIGKILL (%.3f s): used_pages %ld, objects %ld\n",
	       t_back - t_kill, used_end, objects_end);
	CHECK(used_end == used0, "%ld pages still charged %d s after SIGKILL",
	      used_end - used0, RELEASE_TIMEOUT);
	CHECK(objects_end == objects0, "objects %ld after SIGKILL, baseline %ld",
	      objects_end, objects0);
	printf("total %.1f s\n", now() - t0);
	close(kvm_vm);
	return vmtest_done("qemu_guest");
}
