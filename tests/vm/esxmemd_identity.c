// SPDX-License-Identifier: GPL-2.0
/*
 * Which VM is which, for esxmemd: tiny-VMM guests on esxmem whose command
 * lines say what QEMU's and libvirt's would.
 *
 *  - libvirt's vsock device, "-device {"driver":"vhost-vsock-pci",...,
 *    "guest-cid":1}" (JSON): a balloon connection from that CID (here the
 *    test host itself over vsock_loopback) is the VM's and is served;
 *  - a second VM claiming the same CID (QEMU's keyval form): a connection
 *    from that CID is refused, with a log line that names both;
 *  - a second VM claiming the name of a VM already named: it is not given
 *    that name, nor the settings (shares) configured for it;
 *  - a VM whose -qmp names a monitor socket made by another user: the
 *    daemon refuses to drive its virtio-balloon and says why; a VM whose
 *    socket its own user made is driven (it gets "balloon" commands);
 *  - a change over the control socket is logged with who made it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>
#include "../../guest-balloon/uapi/esxballoon.h"
#include "balloon_guest.h"

#define CONF		"/tmp/esxmemd-identity.json"
#define LOG		"/tmp/esxmemd-identity.log"
#define QMP_OTHER	"/tmp/identity-other.qmp"	/* made by uid 65534 */
#define QMP_OWN		"/tmp/identity-own.qmp"		/* made by root, as the VMs */
#define CMDS_OTHER	"/tmp/identity-other.cmds"
#define CMDS_OWN	"/tmp/identity-own.cmds"
#define PROD_SHARES	7777
#define WAIT_SECS	60.0
#define WAIT_FOR(cond) ESX_WAIT_FOR(cond, WAIT_SECS)

static struct esxmem *nl;
static pid_t vmms[8], servers[2];
static int nr_vmms;

/* Starts a tiny VMM on esxmem with @args on its command line; its VM id. */
static uint32_t start_vm(const char *const *args)
{
	const char *argv[16] = { "tinyvmm", "--fd-path", "/dev/esxmem", "--pages", "256",
				 "--touch", "0" };
	struct esxmem_vm_info **vms;
	uint32_t id = 0;
	size_t n, i, k = 7;
	pid_t pid;

	while (*args && k < 15)
		argv[k++] = *args++;
	argv[k] = NULL;
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execv("/usr/bin/tinyvmm", (char *const *)argv);
		_exit(127);
	}
	vmms[nr_vmms++] = pid;
	REQUIRE(WAIT_FOR(esxmem_vm_list(nl, &vms, &n) == 0 &&
			 ({ for (i = 0; i < n; i++)
				if (esxmem_vm_value(vms[i], ESXMEM_VM_OWNER_PID) == (uint32_t)pid)
					id = esxmem_vm_id(vms[i]);
			    esxmem_vm_list_free(vms, n); id != 0; })), "the VM of process %d", (int)pid);
	return id;
}

/* The VM's name once the daemon has given it one, and its shares. */
static bool vm_named(uint32_t id, char *name, uint32_t *shares)
{
	struct esxmem_vm_info *info;
	bool yes;

	if (esxmem_vm_get(nl, id, &info))
		return false;
	yes = esxmem_vm_name(info)[0] != '\0';
	snprintf(name, ESXMEM_VM_NAME_MAX, "%s", esxmem_vm_name(info));
	*shares = esxmem_vm_value(info, ESXMEM_VM_SHARES);
	esxmem_vm_info_free(info);
	return yes;
}

static int guest_connect(void)
{
	int fd = bg_connect(10);

	REQUIRE(fd >= 0, "connect to the daemon's balloon port: %s", strerror(errno));
	return fd;
}

/* HELLO: the reply's type (TARGET), or 0 when the daemon closed. */
static int hello(int fd)
{
	struct esxballoon_hello hello = { .page_size = 4096, .guest_pages = 256 };
	uint64_t target;

	return bg_request(fd, ESXBALLOON_MSG_HELLO, &hello, sizeof(hello), &target);
}

/*
 * A scripted QEMU monitor at @path, in a child running as @uid: greets,
 * answers every command, and appends each command's name to @cmds.
 */
static pid_t start_qmp_server(const char *path, const char *cmds, uid_t uid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	pid_t pid;

	unlink(path);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid)
		return pid;
	{
		int log = open(cmds, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
		int fd, c;

		if (log < 0 || (uid && setuid(uid)))
			_exit(1);
		strcpy(addr.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 8))
			_exit(1);
		chmod(path, 0777);
		while ((c = accept(fd, NULL, NULL)) >= 0) {
			static const char greeting[] =
				"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n";
			char line[4096];
			FILE *in = fdopen(c, "r");

			if (write(c, greeting, sizeof(greeting) - 1) < 0)
				continue;
			while (in && fgets(line, sizeof(line), in)) {
				const char *ex = strstr(line, "\"execute\"");
				char name[64] = "";

				if (!ex || sscanf(ex, "\"execute\" : \"%63[^\"]", name) != 1)
					sscanf(ex ? ex : "", "\"execute\":\"%63[^\"]", name);
				dprintf(log, "%s\n", name);
				if (!strcmp(name, "query-balloon"))
					dprintf(c, "{\"return\": {\"actual\": %d}}\n", 256 * 4096);
				else
					dprintf(c, "{\"return\": {}}\n");
			}
			if (in)
				fclose(in);
			else
				close(c);
		}
		_exit(0);
	}
}

static void cleanup(void)
{
	int i;

	for (i = 0; i < nr_vmms; i++) {
		kill(vmms[i], SIGKILL);
		waitpid(vmms[i], NULL, 0);
	}
	for (i = 0; i < 2; i++)
		if (servers[i] > 0) {
			kill(servers[i], SIGKILL);
			waitpid(servers[i], NULL, 0);
		}
}

int main(void)
{
	char name[ESXMEM_VM_NAME_MAX], idname[32];
	uint32_t lv, dup, prod, impostor, shares, q_other, q_own;
	char pool0[32];
	pid_t d;
	int fd;

	REQUIRE_OK(esx_load_vsock(true));
	REQUIRE_OK(esxmem_open(&nl));
	esx_sysfs_string("pool_pages", pool0, sizeof(pool0));
	{
		FILE *f = fopen(CONF, "w");

		REQUIRE(f, "create " CONF);
		fputs("{\"pool\": {\"size\": \"20M\"}, \"balance_period\": 1,\n"
		      " \"thresholds\": {\"high\": 999, \"soft\": 998, \"hard\": 20, \"low\": 10},\n"
		      " \"control_socket\": \"/tmp/esxmemd-identity.sock\",\n"
		      " \"vm_defaults\": {\"reclaim\": {\"swap\": false}},\n"
		      " \"vms\": {\"prod\": {\"shares\": " "7777" "}}}\n", f);
		fclose(f);
	}
	servers[0] = start_qmp_server(QMP_OTHER, CMDS_OTHER, 65534);
	servers[1] = start_qmp_server(QMP_OWN, CMDS_OWN, 0);
	REQUIRE(WAIT_FOR(access(QMP_OTHER, F_OK) == 0 && access(QMP_OWN, F_OK) == 0),
		"the monitors listen");

	lv = start_vm((const char *[]){ "--name", "guest=lv,debug-threads=on", "--device",
		"{\"driver\":\"vhost-vsock-pci\",\"id\":\"vsock0\",\"guest-cid\":1,\"vhostfd\":\"28\",\"bus\":\"pci.7\",\"addr\":\"0x0\"}",
		NULL });
	prod = start_vm((const char *[]){ "--name", "guest=prod", NULL });
	d = esx_start_esxmemd(CONF, LOG, true);
	REQUIRE(d > 0, "fork");
	REQUIRE(WAIT_FOR(vm_named(lv, name, &shares) && vm_named(prod, name, &shares) &&
			 shares == PROD_SHARES),
		"the daemon names the VMs and gives prod its shares");

	/* libvirt's form. */
	fd = guest_connect();
	CHECK(hello(fd) == ESXBALLOON_MSG_TARGET,
	      "a balloon from the guest CID of libvirt's -device JSON is served");
	close(fd);

	/* Two VMs, one CID. */
	dup = start_vm((const char *[]){ "--name", "guest=dup", "--device",
		"vhost-vsock-pci,id=vsock0,guest-cid=1", NULL });
	REQUIRE(WAIT_FOR(vm_named(dup, name, &shares)), "the daemon names the second VM");
	fd = guest_connect();
	CHECK(hello(fd) == 0, "a CID that two VMs claim: the connection is refused");
	close(fd);
	CHECK(WAIT_FOR(esx_file_has(LOG, "both claim that guest CID")),
	      "the daemon says that two VMs claim the CID");

	/* Two VMs, one name. */
	impostor = start_vm((const char *[]){ "--name", "guest=prod", NULL });
	CHECK(WAIT_FOR(vm_named(impostor, name, &shares)), "the daemon names the impostor");
	snprintf(idname, sizeof(idname), "vm%u", impostor);
	CHECK(!strcmp(name, idname) && shares != PROD_SHARES,
	      "a second VM named prod is %s (not %s) with %u shares (not prod's %u)", name,
	      idname, shares, PROD_SHARES);
	CHECK(WAIT_FOR(esx_file_has(LOG, "claims the name prod")), "the daemon says so");
	CHECK(vm_named(prod, name, &shares) && !strcmp(name, "prod") && shares == PROD_SHARES,
	      "the first prod keeps its name and shares: %s, %u", name, shares);

	/* QMP sockets: another user's, and the VM's own user's. */
	q_other = start_vm((const char *[]){ "--name", "guest=q-other", "--device",
		"virtio-balloon-pci,id=balloon0", "--qmp", "unix:" QMP_OTHER ",server=on,wait=off", NULL });
	q_own = start_vm((const char *[]){ "--name", "guest=q-own", "--device",
		"virtio-balloon-pci,id=balloon0", "--qmp", "unix:" QMP_OWN ",server=on,wait=off", NULL });
	CHECK(WAIT_FOR(esx_file_has(CMDS_OWN, "\nballoon\n")),
	      "the VM whose monitor its own user made gets balloon commands");
	CHECK(WAIT_FOR(esx_file_has(LOG, "belongs to uid 65534")),
	      "the daemon refuses another user's monitor and says so");
	CHECK(!esx_file_has(CMDS_OTHER, "balloon"),
	      "the monitor of another user gets no balloon command");
	(void)q_other;
	(void)q_own;

	/* Who changed what. */
	{
		struct sockaddr_un addr = { .sun_family = AF_UNIX,
					    .sun_path = "/tmp/esxmemd-identity.sock" };
		static const char req[] = "{\"cmd\":\"set\",\"name\":\"prod\",\"settings\":{\"shares\":8888}}\n";
		char buf[4096], want[128];
		ssize_t n;
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		REQUIRE(c >= 0 && !connect(c, (struct sockaddr *)&addr, sizeof(addr)) &&
			write(c, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1,
			"send a set to the control socket: %s", strerror(errno));
		n = read(c, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(c);
		CHECK(strstr(buf, "\"ok\": true") || strstr(buf, "\"ok\":true"), "set: %s", buf);
		snprintf(want, sizeof(want), "{\"shares\":8888} set at run time (until reload) by uid 0 (process %d)",
			 (int)getpid());
		CHECK(WAIT_FOR(esx_file_has(LOG, want)), "the log says who changed what: %s", want);
	}

	kill(d, SIGTERM);
	waitpid(d, NULL, 0);
	{
		char line[512];
		FILE *f = fopen(LOG, "r");

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "refused") || strstr(line, "claim"))
				printf("esxmemd: %s", line);
		if (f)
			fclose(f);
	}
	cleanup();
	CHECK(WAIT_FOR(esx_sysfs_long("used_pages") == 0), "the guests' memory comes back");
	esx_sysfs_write("pool_pages", pool0);
	esxmem_close(nl);
	return vmtest_done("esxmemd_identity");
}
