/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Many VMs for esxmemd without real guests, for the scale test and bench:
 *
 *  - plain VMs: esxmem objects this process opens (sh_open_objects());
 *  - "fake QEMUs": this program run again as a child (sh_fake_qemu()),
 *    whose command line says what QEMU's would ("-device
 *    virtio-balloon-pci", "-qmp unix:PATH", or a vsock device with a guest
 *    CID), which holds one esxmem object and serves a QMP monitor at PATH:
 *    SH_QMP_ANSWER greets and answers qmp_capabilities, query-balloon and
 *    balloon, appending each command's name to a file; SH_QMP_SILENT
 *    listens and never accepts (a QEMU that hangs);
 *  - the daemon's status over its control socket, its CPU time, and the
 *    worst delay of a scripted guest balloon's replies (balloon_guest.h).
 *
 * A program that uses it calls sh_fake_qemu_main(argc, argv) first in main().
 */
#ifndef ESXMEM_TESTS_SCALE_HOST_H
#define ESXMEM_TESTS_SCALE_HOST_H

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "balloon_guest.h"
#include "vmtest.h"

#define SH_VM_PAGES	256
enum sh_qmp { SH_QMP_NONE, SH_QMP_ANSWER, SH_QMP_SILENT };

/* Opens @n esxmem objects of SH_VM_PAGES pages each, VMs owned by this process. */
static inline int *sh_open_objects(size_t n)
{
	uint64_t size = SH_VM_PAGES * ESX_PAGE;
	struct rlimit files;
	int *fds = calloc(n, sizeof(*fds));
	size_t i;

	if (!getrlimit(RLIMIT_NOFILE, &files) && files.rlim_cur < n + 64) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	for (i = 0; fds && i < n; i++) {
		fds[i] = esx_open();
		if (ioctl(fds[i], ESXMEM_IOC_SET_SIZE, &size)) {
			fprintf(stderr, "ESXMEM_IOC_SET_SIZE: %s\n", strerror(errno));
			exit(1);
		}
	}
	return fds;
}

/* The monitor of a fake QEMU: never returns. */
static inline void sh_serve_qmp(const char *mode, const char *path, const char *cmds)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, c, log = -1;

	unlink(path);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	/* A deep backlog: a hung QEMU's socket keeps taking connections. */
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4096))
		_exit(1);
	if (!strcmp(mode, "silent"))
		for (;;)
			pause();
	log = open(cmds, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	while ((c = accept(fd, NULL, NULL)) >= 0) {
		static const char greeting[] =
			"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n";
		char line[4096];
		FILE *in = fdopen(c, "r");

		if (!in || write(c, greeting, sizeof(greeting) - 1) < 0) {
			if (in)
				fclose(in);
			else
				close(c);
			continue;
		}
		while (fgets(line, sizeof(line), in)) {
			json_t *cmd = json_loads(line, 0, NULL);
			const char *name = json_string_value(json_object_get(cmd, "execute"));

			if (name && log >= 0)
				dprintf(log, "%s\n", name);
			if (name && !strcmp(name, "query-balloon"))
				dprintf(c, "{\"return\": {\"actual\": %lu}}\n", SH_VM_PAGES * ESX_PAGE);
			else
				dprintf(c, "{\"return\": {}}\n");
			json_decref(cmd);
		}
		fclose(in);
	}
	_exit(0);
}

/*
 * Run as "PROGRAM --fake-qemu MODE PATH CMDS ARGS...": holds an esxmem
 * object and serves its monitor; returns otherwise.
 */
static inline void sh_fake_qemu_main(int argc, char **argv)
{
	uint64_t size = SH_VM_PAGES * ESX_PAGE;
	int fd;

	if (argc < 5 || strcmp(argv[1], "--fake-qemu"))
		return;
	fd = open(ESXMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, ESXMEM_IOC_SET_SIZE, &size))
		_exit(1);
	if (!strcmp(argv[2], "none"))
		for (;;)
			pause();
	sh_serve_qmp(argv[2], argv[3], argv[4]);
}

/*
 * A fake QEMU: with @qmp, a virtio-balloon and a monitor at @path (its
 * commands go to @cmds); with @cid, a vsock device with that guest CID.
 * Its pid; it dies with this process.
 */
static inline pid_t sh_fake_qemu(enum sh_qmp qmp, const char *path, const char *cmds,
				 unsigned int cid)
{
	char qmp_arg[160], cid_arg[64];
	pid_t pid = fork();

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s,server=on,wait=off", path ? path : "");
	snprintf(cid_arg, sizeof(cid_arg), "vhost-vsock-pci,id=vsock0,guest-cid=%u", cid);
	if (qmp != SH_QMP_NONE)
		execl("/proc/self/exe", "fake-qemu", "--fake-qemu",
		      qmp == SH_QMP_ANSWER ? "answer" : "silent", path, cmds,
		      "-device", "virtio-balloon-pci,id=balloon0",
		      "-qmp", qmp_arg, (char *)NULL);
	else
		execl("/proc/self/exe", "fake-qemu", "--fake-qemu", "none", "-", "-",
		      "-device", cid_arg, (char *)NULL);
	_exit(127);
}

/*
 * Polls @cond every 250 ms until it holds or @secs pass: the status of
 * hundreds of VMs is a large reply, not to be asked for every 10 ms.
 */
#define SH_WAIT_SLOW(cond, secs)					\
	({								\
		double _end = esx_now() + (secs);			\
		bool _ok;						\
		while (!(_ok = (cond)) && esx_now() < _end)		\
			usleep(250 * 1000);				\
		_ok;							\
	})

/*
 * The monitor socket of fake QEMU @i of a host whose files are named
 * after @prefix, and the file its commands go to.
 */
static inline void sh_qmp_paths(const char *prefix, int i, char *path, char *cmds)
{
	snprintf(path, 64, "/tmp/%s-%d.qmp", prefix, i);
	snprintf(cmds, 64, "/tmp/%s-%d.cmds", prefix, i);
}

/*
 * A host for the daemon to balance: @stock fake QEMUs with stock
 * balloons (the first @silent of them never answer) in @qemus[0..stock),
 * one with a vsock device of guest CID 1 for a scripted guest in
 * @qemus[stock], and @plain bare objects; the daemon's configuration in
 * @conf, its control socket at @sock. Returns the bare objects' fds once
 * every monitor listens.
 */
static inline int *sh_host_start(const char *prefix, const char *conf, const char *sock,
				 pid_t *qemus, int stock, int silent, int plain)
{
	char path[64], cmds[64];
	FILE *f = fopen(conf, "w");
	int *fds, i;

	REQUIRE(f, "create %s", conf);
	fprintf(f, "{\"pool\": {\"size\": \"64M\"}, \"balance_period\": 1,\n"
		" \"control_socket\": \"%s\",\n"
		" \"vm_defaults\": {\"reclaim\": {\"swap\": false}}}\n", sock);
	fclose(f);
	for (i = 0; i < stock; i++) {
		sh_qmp_paths(prefix, i, path, cmds);
		unlink(cmds);
		qemus[i] = sh_fake_qemu(i < silent ? SH_QMP_SILENT : SH_QMP_ANSWER, path, cmds, 0);
		REQUIRE(qemus[i] > 0, "fork");
	}
	qemus[stock] = sh_fake_qemu(SH_QMP_NONE, NULL, NULL, 1);
	REQUIRE(qemus[stock] > 0, "fork");
	fds = sh_open_objects((size_t)plain);
	REQUIRE(fds, "open %d esxmem objects", plain);
	for (i = 0; i < stock; i++) {
		sh_qmp_paths(prefix, i, path, cmds);
		REQUIRE(SH_WAIT_SLOW(access(path, F_OK) == 0, 300.0),
			"fake QEMU %d listens at %s", i, path);
	}
	return fds;
}

/*
 * Ends what sh_host_start() started: its fake QEMUs, @qemus[0..stock],
 * but those already ended and set to 0, and its @nr_plain bare objects.
 */
static inline void sh_host_stop(pid_t *qemus, int stock, int *plain, int nr_plain)
{
	int i;

	for (i = 0; i <= stock; i++)
		if (qemus[i] > 0) {
			kill(qemus[i], SIGKILL);
			waitpid(qemus[i], NULL, 0);
			qemus[i] = 0;
		}
	for (i = 0; i < nr_plain; i++)
		close(plain[i]);
	free(plain);
}

/* How many of fake QEMUs [@from, @to) got a balloon command. */
static inline int sh_balloon_commands(const char *prefix, int from, int to)
{
	char path[64], cmds[64];
	int i, n = 0;

	for (i = from; i < to; i++) {
		sh_qmp_paths(prefix, i, path, cmds);
		n += esx_file_has(cmds, "\nballoon\n");
	}
	return n;
}

/* The daemon's status over the control socket @sock, or NULL. */
static inline json_t *sh_status(const char *sock)
{
	static const char req[] = "{\"cmd\": \"status\"}\n";
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 20 };
	static char buf[1 << 20];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return NULL;
	}
	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return json_loads(buf, 0, NULL);
}

/* A number at @key of the status ("a" or "a.b"), or -1. */
static inline long long sh_status_num(const char *sock, const char *key)
{
	json_t *r = sh_status(sock), *v = r;
	char k[64], *dot;
	long long n;

	snprintf(k, sizeof(k), "%s", key);
	dot = strchr(k, '.');
	if (dot)
		*dot = '\0';
	v = json_object_get(v, k);
	if (dot)
		v = json_object_get(v, dot + 1);
	n = json_is_integer(v) ? json_integer_value(v) : -1;
	json_decref(r);
	return n;
}

/* utime + stime of process @pid, in seconds; stime in *@sys. */
static inline double sh_cpu_secs(pid_t pid, double *sys)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -1;
	*sys = (double)st / (double)sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * A scripted guest balloon asking its target (GET_TARGET) every @gap_ms
 * on @fd until @until (esx_now()): the worst time a reply took, in
 * seconds, or -1 when one did not come; how many it asked in *@asked
 * unless NULL.
 */
static inline double sh_worst_reply(int fd, double until, unsigned int gap_ms,
				    unsigned int *asked)
{
	double worst = 0, t;
	uint64_t target;

	if (asked)
		*asked = 0;
	while (esx_now() < until) {
		if (asked)
			(*asked)++;
		t = esx_now();
		if (bg_request(fd, ESXBALLOON_MSG_GET_TARGET, NULL, 0, &target) !=
		    ESXBALLOON_MSG_TARGET)
			return -1;
		t = esx_now() - t;
		if (t > worst)
			worst = t;
		usleep(gap_ms * 1000);
	}
	return worst;
}

#endif
