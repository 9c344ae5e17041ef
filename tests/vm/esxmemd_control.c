// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd's control socket never holds the daemon up. With clients that
 * connect and say nothing (nc -U, a suspended esxmemctl) or send half a
 * line:
 *  - a guest's balloon GET_TARGET is answered at once, balances go on
 *    every period, and "esxmemctl status" replies promptly;
 *  - the daemon closes each such client once its time is up;
 *  - when CONTROL_CLIENTS_MAX clients wait, one more is told to try again
 *    at once, and once they are gone esxmemctl is served again;
 *  - a line longer than CONTROL_MSG_MAX is refused with a reason.
 * The balloon guest is scripted over vsock_loopback (peer CID 1), for a
 * tiny-VMM guest whose command line carries "-device
 * vhost-vsock-pci,guest-cid=1".
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>
#include "../../guest-balloon/uapi/esxballoon.h"
#include "balloon_guest.h"

#define CONF		"/tmp/esxmemd-control.json"
#define SOCK		"/tmp/esxmemd-control.sock"
#define LOG		"/tmp/esxmemd-control.log"
#define GUEST_PAGES	4000u
#define WAIT_SECS	60.0
#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)
/* The daemon's limits (daemon/esxmemd.h, daemon/control.h). */
#define CLIENTS_MAX	16
#define CLIENT_SECS	10.0
#define MSG_MAX		(64 * 1024)
/* What "promptly" means here: the daemon answers in milliseconds; the
 * limit leaves room for a loaded, emulated test host, and is well below
 * the time a waiting client is given. */
#define PROMPT_SECS	5.0


static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f, "create %s", path);
	fputs(text, f);
	fclose(f);
}

static void show_log(void)
{
	if (vmtest_failures)
		esx_show_tail(LOG, "esxmemd's log", 3000);
}

/* A control client that has connected and sent @text (may be ""). */
static int control_connect(const char *text)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	struct timeval tv = { .tv_sec = 20 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	REQUIRE(fd >= 0 && !connect(fd, (struct sockaddr *)&addr, sizeof(addr)),
		"connect to the control socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Nothing to send: a client the daemon refuses at once gets EPIPE. */
	REQUIRE(!*text || send(fd, text, strlen(text), MSG_NOSIGNAL) == (ssize_t)strlen(text),
		"send a request to the control socket: %s", strerror(errno));
	return fd;
}

/* The reply line on @fd (up to 20 s), parsed, or NULL. */
static json_t *control_reply(int fd)
{
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return json_loads(buf, 0, NULL);
}

static json_t *control(const char *request)
{
	int fd = control_connect(request);
	json_t *r = control_reply(fd);

	close(fd);
	return r;
}

static bool reply_ok(json_t *r)
{
	return r && json_is_true(json_object_get(r, "ok"));
}

/* Balances run so far, from the status; -1 without a reply. */
static long long balances(void)
{
	json_t *r = control("{\"cmd\": \"status\"}\n");
	long long n = reply_ok(r) ? json_integer_value(json_object_get(r, "balances")) : -1;

	json_decref(r);
	return n;
}

/* Whether the daemon has closed @fd (EOF), without waiting. */
static bool closed_by_daemon(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, 0) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* "esxmemctl status": its exit status, *@secs the time it took. */
static int esxmemctl_status(double *secs)
{
	double t0 = esx_now();
	int status;
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl("/usr/bin/esxmemctl", "esxmemctl", "--socket", SOCK, "status", (char *)NULL);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "wait for esxmemctl");
	*secs = esx_now() - t0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int guest_connect(void)
{
	int fd = bg_connect(20);

	REQUIRE(fd >= 0, "connect to the daemon's balloon port: %s", strerror(errno));
	return fd;
}

/* One balloon request and its reply's type (0: none within 20 s). */
static int balloon_request(int fd, uint16_t type, const void *payload, uint32_t len)
{
	uint64_t value;

	REQUIRE(bg_send(fd, type, payload, len), "send");
	return bg_recv(fd, &value);
}

/* The VM of the guest's pid, named and attached by the daemon. */
static bool attached(struct esxmem *nl, pid_t guest)
{
	struct esxmem_vm_info **vms;
	bool yes = false;
	size_t n, i;

	if (esxmem_vm_list(nl, &vms, &n))
		return false;
	for (i = 0; i < n; i++)
		if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)guest)
			yes = esxmem_vm_kvm_attached(vms[i]) && !strcmp(esxmem_vm_name(vms[i]), "c1");
	esxmem_vm_list_free(vms, n);
	return yes;
}

int main(void)
{
	struct esxballoon_hello hello = { .page_size = 4096, .guest_pages = GUEST_PAGES };
	int silent, half, balloon, fds[CLIENTS_MAX], k;
	double t_silent, t, secs;
	long long b0;
	struct esxmem *nl;
	char pool0[32], *big;
	pid_t guest, d;
	json_t *r;

	atexit(show_log);
	REQUIRE_OK(esx_load_vsock(true));
	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	/* A balance every second; every state but high, so balloons have work. */
	write_text(CONF, "{\"pool\": {\"size\": \"20M\"}, \"balance_period\": 1,\n"
		   " \"thresholds\": {\"high\": 999, \"soft\": 998, \"hard\": 20, \"low\": 10},\n"
		   " \"control_socket\": \"" SOCK "\", \"vms\": {\"c1\": {\"max\": \"1M\"}}}\n");
	guest = esx_start_tinyvmm(-1, "--pages", "4000", "--touch", "10", "--name", "guest=c1",
				  "--device", "vhost-vsock-pci,guest-cid=1", NULL);
	REQUIRE(guest > 0, "start tinyvmm");
	d = esx_start_esxmemd(CONF, LOG, false);
	REQUIRE(d > 0, "fork");
	REQUIRE(WAIT_FOR(attached(nl, guest)), "the daemon names and attaches the VM");
	REQUIRE(WAIT_FOR(({ r = control("{\"cmd\": \"status\"}\n");
			    bool ok = reply_ok(r); json_decref(r); ok; })),
		"the daemon answers on its control socket");

	balloon = guest_connect();
	REQUIRE(balloon_request(balloon, ESXBALLOON_MSG_HELLO, &hello, sizeof(hello)) ==
		ESXBALLOON_MSG_TARGET &&
		balloon_request(balloon, ESXBALLOON_MSG_RESET, NULL, 0) == ESXBALLOON_MSG_TARGET,
		"the balloon guest is greeted");

	/* A client that says nothing, one that stops mid-line. */
	b0 = balances();
	t_silent = esx_now();
	silent = control_connect("");
	half = control_connect("{\"cmd\": \"sta");

	t = esx_now();
	k = balloon_request(balloon, ESXBALLOON_MSG_GET_TARGET, NULL, 0);
	secs = esx_now() - t;
	CHECK(k == ESXBALLOON_MSG_TARGET && secs < PROMPT_SECS,
	      "GET_TARGET answered within %.0f s with silent control clients: %s after %.2f s",
	      PROMPT_SECS, k == ESXBALLOON_MSG_TARGET ? "answered" : "no answer", secs);
	printf("esxmemd_control: GET_TARGET %s after %.3f s\n",
	       k == ESXBALLOON_MSG_TARGET ? "answered" : "not answered", secs);
	CHECK(esxmemctl_status(&secs) == 0 && secs < PROMPT_SECS,
	      "esxmemctl status replies within %.0f s: %.2f s", PROMPT_SECS, secs);
	printf("esxmemd_control: esxmemctl status took %.3f s\n", secs);
	CHECK(ESX_WAIT_FOR(balances() >= b0 + 2, CLIENT_SECS / 2),
	      "balances go on: %lld, then %lld", b0, balances());
	CHECK(!closed_by_daemon(silent) && esx_now() - t_silent < CLIENT_SECS,
	      "all of this while the silent clients were connected");

	/* Their time is up: the daemon closes them. */
	CHECK(ESX_WAIT_FOR(closed_by_daemon(silent), CLIENT_SECS * 3) &&
	      esx_now() - t_silent >= CLIENT_SECS - 0.5,
	      "the silent client is closed once its time is up: after %.1f s",
	      esx_now() - t_silent);
	CHECK(ESX_WAIT_FOR(closed_by_daemon(half), CLIENT_SECS), "so is the one with half a line");
	close(silent);
	close(half);
	CHECK(WAIT_FOR(esx_file_has(LOG, "sent no request")), "the daemon says why it closed them");

	/* All slots taken: one more is told to try again, at once. */
	for (k = 0; k < CLIENTS_MAX; k++)
		fds[k] = control_connect("");
	t = esx_now();
	/* Refused at once, perhaps before its request could go: it sends none. */
	k = control_connect("");
	r = control_reply(k);
	close(k);
	CHECK(r && !reply_ok(r) &&
	      strstr(json_string_value(json_object_get(r, "error")) ?: "", "try again") &&
	      esx_now() - t < PROMPT_SECS,
	      "client %d of %d: told to try again", CLIENTS_MAX + 1, CLIENTS_MAX);
	json_decref(r);
	CHECK(balloon_request(balloon, ESXBALLOON_MSG_GET_TARGET, NULL, 0) ==
	      ESXBALLOON_MSG_TARGET, "balloon replies go on with every slot taken");
	for (k = 0; k < CLIENTS_MAX; k++)
		close(fds[k]);
	CHECK(WAIT_FOR(esxmemctl_status(&secs) == 0), "once they are gone, esxmemctl is served");

	/* A line longer than the daemon takes. */
	/* One byte more than it takes, and no more: all of it is read. */
	big = malloc(MSG_MAX + 2);
	REQUIRE(big, "malloc");
	memset(big, 'x', MSG_MAX + 1);
	big[MSG_MAX + 1] = '\0';
	r = control(big);
	CHECK(r && !reply_ok(r) &&
	      strstr(json_string_value(json_object_get(r, "error")) ?: "", "longer than"),
	      "a request longer than %d bytes is refused", MSG_MAX);
	json_decref(r);
	free(big);
	CHECK(balances() > b0, "the daemon still answers");

	close(balloon);
	kill(d, SIGTERM);
	CHECK(waitpid(d, &k, 0) == d && WIFEXITED(k) && WEXITSTATUS(k) == 0,
	      "SIGTERM: clean exit");
	kill(guest, SIGKILL);
	waitpid(guest, NULL, 0);
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == 0), "the guest's memory comes back");
	esx_sysfs_write("pool_pages", pool0);
	esxmem_close(nl);
	return vmtest_done("esxmemd_control");
}
