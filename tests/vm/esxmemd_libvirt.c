// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd_libvirt: esxmem the way operators run KVM, through Debian's
 * libvirtd and its QEMU driver, with memory_backing_dir on esxmemfs:
 *
 *  - esxmemd, started before libvirtd, says libvirt is not reachable, and
 *    connects once libvirtd is up;
 *  - two domains are defined from XML and started with "virsh start",
 *    both with file-backed shared memory and a vsock device with a fixed
 *    CID: "lv-esx" runs esxballoon.ko (no stock balloon), "lv-virtio"
 *    has only libvirt's stock virtio balloon;
 *  - esxmemd names both after their domains and attaches their KVM VMs;
 *  - with the pool tight and held in the soft state, both balloons take
 *    memory back: lv-esx's over vsock (BALLOONED frames), lv-virtio's
 *    through libvirt's own API (the pages are punched out of its RAM file,
 *    and libvirt, which owns QEMU's monitor, is the one that asked);
 *  - "virsh dommemstat" agrees with esxmem where the two overlap: the
 *    guest's "actual" memory is its size less what its stock balloon
 *    holds, as the daemon reports it;
 *  - "virsh destroy" leaves no pages behind: the pool goes back to what it
 *    used before the domains started.
 * The setup is the README's, verbatim (qemu.conf, the domain XML), plus
 * what a test host without cgroups, namespaces or a log daemon needs.
 */
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <jansson.h>

#include "esxtest.h"
#include "vmtest.h"
#include <libesxmem/libesxmem.h>

#define RAMDIR		"/run/esxmem"
#define CONF		"/tmp/esxmemd-libvirt.json"
#define LOG		"/tmp/esxmemd-libvirt.log"
#define SOCK		"/tmp/esxmemd-libvirt.sock"
#define LIBVIRTD_LOG	"/tmp/libvirtd.log"
#define VIRSH		"virsh -c qemu:///system "
#define GUEST_MIB	160u
#define GUEST_PAGES	(GUEST_MIB * 256u)
#define WAIT_SECS	180.0
#define GIVE_BACK	4096u		/* pages each balloon must free */

static const char conf[] =
	"{\"balance_period\": 1, \"control_socket\": \"" SOCK "\",\n"
	" \"libvirt_uri\": \"qemu:///system\",\n"
	" \"vm_defaults\": {\"max\": \"32M\", \"reclaim\": {\"swap\": false}}}\n";

/* The README's qemu.conf line, then the test host's own needs. */
static const char qemu_conf[] =
	"memory_backing_dir = \"/run/esxmem\"\n"
	"# The test host: root, no cgroups, namespaces, security driver or virtlogd.\n"
	"user = \"root\"\n"
	"group = \"root\"\n"
	"dynamic_ownership = 0\n"
	"remember_owner = 0\n"
	"security_driver = \"none\"\n"
	"cgroup_controllers = [ ]\n"
	"namespaces = [ ]\n"
	"stdio_handler = \"file\"\n";

static const char libvirtd_conf[] =
	"log_outputs = \"3:file:" LIBVIRTD_LOG "\"\n";

/*
 * The README's domain XML with the test's guest: name, memory, guest
 * kernel, the vsock CID, and the balloon ("none" or "virtio").
 */
static const char domain_xml[] =
	"<domain type='kvm'>\n"
	"  <name>%s</name>\n"
	"  <memory unit='MiB'>%u</memory>\n"
	"  <vcpu>1</vcpu>\n"
	"  <os>\n"
	"    <type arch='x86_64' machine='pc'>hvm</type>\n"
	"    <kernel>/guest/vmlinuz</kernel>\n"
	"    <initrd>/guest/initrd.cpio</initrd>\n"
	"    <cmdline>console=ttyS0 panic=-1 %s</cmdline>\n"
	"  </os>\n"
	"  <cpu mode='host-passthrough'/>\n"
	"  <memoryBacking>\n"
	"    <source type='file'/>\n"
	"    <access mode='shared'/>\n"
	"  </memoryBacking>\n"
	"  <on_poweroff>destroy</on_poweroff>\n"
	"  <on_reboot>destroy</on_reboot>\n"
	"  <on_crash>destroy</on_crash>\n"
	"  <devices>\n"
	"    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
	"    <controller type='usb' model='none'/>\n"
	"    <serial type='file'><source path='/tmp/%s.console'/></serial>\n"
	"    <memballoon model='%s'/>\n"
	"    <vsock model='virtio'><cid auto='no' address='%u'/></vsock>\n"
	"  </devices>\n"
	"</domain>\n";

struct guest {
	const char *name;
	const char *work;
	const char *balloon;
	unsigned int cid;
	char console[64];
	uint32_t id;
	bool started;
};

static struct guest guests[2] = {
	{ .name = "lv-esx", .work = "guest.work=reclaim guest.balloon=esx",
	  .balloon = "none", .cid = 3 },
	{ .name = "lv-virtio", .work = "guest.work=reclaim guest.balloon=virtio",
	  .balloon = "virtio", .cid = 4 },
};
static struct esxmem *nl;
static pid_t daemon_pid = -1, libvirtd_pid = -1, main_pid;
static char saved_pool[32], saved_share[8], saved_high[8];

/* Runs the shell command made of @fmt; its exit status, -1 if it did not run. */
static int run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st < 0 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f && fputs(text, f) >= 0 && !fclose(f), "write %s", path);
}

static void cleanup(void)
{
	size_t i;

	if (getpid() != main_pid)
		return;
	for (i = 0; i < 2; i++)
		if (guests[i].started)
			run(VIRSH "destroy %s >/dev/null 2>&1", guests[i].name);
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	if (libvirtd_pid > 0) {
		kill(libvirtd_pid, SIGTERM);
		waitpid(libvirtd_pid, NULL, 0);
	}
	esx_sysfs_write("pool_pages", saved_pool);
	esx_sysfs_write("state_high_permille", saved_high);
	esx_sysfs_write("share/enabled", saved_share);
	umount(RAMDIR);
}

static pid_t start_libvirtd(void)
{
	pid_t pid = fork();

	if (!pid) {
		int fd = open("/tmp/libvirtd.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/usr/sbin/libvirtd", "libvirtd", (char *)NULL);
		dprintf(2, "cannot run libvirtd: %s\n", strerror(errno));
		_exit(127);
	}
	return pid;
}

static bool alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

static void show_logs(void)
{
	esx_show_tail("/tmp/libvirtd.out", "libvirtd's output", 2048);
	esx_show_tail(LIBVIRTD_LOG, "libvirtd's log", 4096);
	esx_show_tail(LOG, "esxmemd's log", 6144);
}

static bool domain_defined(struct guest *g)
{
	char xml[2048], path[64];

	snprintf(g->console, sizeof(g->console), "/tmp/%s.console", g->name);
	snprintf(xml, sizeof(xml), domain_xml, g->name, GUEST_MIB, g->work, g->name,
		 g->balloon, g->cid);
	snprintf(path, sizeof(path), "/tmp/%s.xml", g->name);
	write_file(path, xml);
	return !run(VIRSH "define %s > /tmp/virsh.out 2>&1", path);
}

static bool console_has(const struct guest *g, const char *text)
{
	return esx_file_has(g->console, text);
}

/* The module's VM named @g->name, attached to its KVM VM: its id in g->id. */
static bool named_and_attached(struct guest *g)
{
	struct esxmem_vm_info **vms = NULL;
	size_t n = 0, i;
	bool found = false;

	if (esxmem_vm_list(nl, &vms, &n))
		return false;
	for (i = 0; i < n; i++)
		if (!strcmp(esxmem_vm_name(vms[i]), g->name) && esxmem_vm_kvm_attached(vms[i])) {
			g->id = esxmem_vm_id(vms[i]);
			found = true;
		}
	esxmem_vm_list_free(vms, n);
	return found;
}

static size_t nr_vms(void)
{
	struct esxmem_vm_info **vms = NULL;
	size_t n = 0;

	if (esxmem_vm_list(nl, &vms, &n))
		return SIZE_MAX;
	esxmem_vm_list_free(vms, n);
	return n;
}

static struct esxmem_vm_info *info(uint32_t id)
{
	struct esxmem_vm_info *vi = NULL;

	esxmem_vm_get(nl, id, &vi);
	return vi;
}

static bool gave_back(uint32_t id, const struct esxmem_vm_info *then)
{
	struct esxmem_vm_info *now = info(id);
	bool gave = now && esxmem_vm_value(now, ESXMEM_VM_CONSUMED_PAGES) + GIVE_BACK <=
		    esxmem_vm_value(then, ESXMEM_VM_CONSUMED_PAGES);

	esxmem_vm_info_free(now);
	return gave;
}

/* A value of VM @name in the daemon's status, or -1. */
static int64_t status_value(const char *name, const char *key)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	static char buf[65536];
	char req[128];
	int64_t v = -1;
	size_t len = 0;
	ssize_t n;
	json_t *r, *vm;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), reqlen;

	reqlen = snprintf(req, sizeof(req), "{\"cmd\":\"vm\",\"name\":\"%s\"}\n", name);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    write(fd, req, (size_t)reqlen) != reqlen) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	r = json_loads(buf, 0, NULL);
	vm = json_object_get(r, "vm");
	if (json_is_integer(json_object_get(vm, key)))
		v = json_integer_value(json_object_get(vm, key));
	json_decref(r);
	return v;
}

/*
 * The number after @key on a line of what "virsh @cmd @name" prints, or
 * -1: "virsh dommemstat NAME" has lines "actual 131072" (KiB), "virsh
 * dominfo NAME" lines "Used memory:    131072 KiB".
 */
static int64_t virsh_value(const char *cmd, const char *name, const char *key)
{
	char line[256];
	long long v, found = -1;
	FILE *f;

	if (run(VIRSH "%s %s > /tmp/virsh-value.out 2>&1", cmd, name))
		return -1;
	f = fopen("/tmp/virsh-value.out", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strlen(key);

		if (strncmp(line, key, strlen(key)))
			continue;
		p += strspn(p, ": \t");
		if (sscanf(p, "%lld", &v) == 1)
			found = v;
	}
	fclose(f);
	return found;
}

/*
 * Whether libvirt and esxmem agree on lv-virtio's stock balloon: libvirt's
 * "actual" is the guest's size less what the daemon says its balloon holds,
 * and that is more than nothing.
 */
static bool stock_balloon_agrees(const struct guest *g, int64_t *actual, int64_t *held)
{
	*held = status_value(g->name, "virtio_balloon_pages");
	*actual = virsh_value("dommemstat", g->name, "actual");
	return *held > 0 && *actual == (int64_t)(GUEST_PAGES - (uint64_t)*held) * 4;
}

int main(void)
{
	struct esxmem_vm_info *before[2], *after[2];
	int64_t actual = -1, held = -1;
	char state[16];
	long pool, used0;
	double t0;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	main_pid = getpid();
	esx_sysfs_string("pool_pages", saved_pool, sizeof(saved_pool));
	esx_sysfs_string("share/enabled", saved_share, sizeof(saved_share));
	esx_sysfs_string("state_high_permille", saved_high, sizeof(saved_high));
	atexit(cleanup);
	/* Sharing would free the guests' zero pages: only balloons here. */
	REQUIRE_OK(esx_sysfs_write("share/enabled", "0"));
	REQUIRE_OK(esx_load_vsock(false));
	REQUIRE_OK(esxmem_open(&nl));
	used0 = esx_pool_settled(10);
	REQUIRE(!run("mkdir -p " RAMDIR " /etc/libvirt /var/lib/libvirt/qemu /var/cache/libvirt/qemu "
		     "/var/log/libvirt/qemu /run/libvirt && "
		     /* libvirtd listens in /run, virsh looks in /var/run: one, as on Debian. */
		     "{ [ -e /var/run ] || ln -s /run /var/run; }"), "libvirt's directories and " RAMDIR);
	REQUIRE(!mount("esxmem", RAMDIR, "esxmem", 0, NULL), "mount esxmemfs: %s", strerror(errno));
	/* libvirt's QEMU driver resolves its default user, Debian's libvirt-qemu, at start. */
	REQUIRE(!run("grep -q ^libvirt-qemu: /etc/passwd || "
		     "{ echo libvirt-qemu:x:64055:64055::/var/lib/libvirt:/bin/false >> /etc/passwd && "
		     "echo libvirt-qemu:x:64055: >> /etc/group; }"), "add the user libvirt-qemu");
	write_file("/etc/libvirt/qemu.conf", qemu_conf);
	write_file("/etc/libvirt/libvirtd.conf", libvirtd_conf);
	write_file(CONF, conf);

	/* A daemon that starts before libvirtd says so, and connects once it is up. */
	daemon_pid = esx_start_esxmemd(CONF, LOG, true);
	REQUIRE(daemon_pid > 0, "fork");
	if (!ESX_WAIT_FOR(esx_file_has(LOG, "libvirt: qemu:///system is not reachable"), 30)) {
		show_logs();
		CHECK(0, "esxmemd did not say that libvirt is not reachable");
	}
	t0 = esx_now();
	libvirtd_pid = start_libvirtd();
	REQUIRE(libvirtd_pid > 0, "fork");
	if (!ESX_WAIT_FOR(!run(VIRSH "capabilities > /tmp/virsh.out 2>&1") || !alive(libvirtd_pid),
			  WAIT_SECS) || !alive(libvirtd_pid)) {
		esx_show_tail("/tmp/virsh.out", "virsh", 2048);
		show_logs();
		REQUIRE(0, "libvirtd did not come up");
	}
	printf("libvirtd: up (QEMU probed) in %.1f s\n", esx_now() - t0);

	/* It tries again every 10 s. */
	if (!ESX_WAIT_FOR(esx_file_has(LOG, "libvirt: connected to qemu:///system"), 60)) {
		show_logs();
		CHECK(0, "esxmemd did not connect to libvirtd once it was up");
	}
	t0 = esx_now();
	for (i = 0; i < 2; i++) {
		struct guest *g = &guests[i];

		if (!domain_defined(g) || run(VIRSH "start %s > /tmp/virsh.out 2>&1", g->name)) {
			esx_show_tail("/tmp/virsh.out", "virsh", 2048);
			show_logs();
			REQUIRE(0, "virsh could not define and start %s", g->name);
		}
		g->started = true;
	}
	for (i = 0; i < 2; i++) {
		struct guest *g = &guests[i];

		if (!ESX_WAIT_FOR(console_has(g, "GUEST-HOLD") || console_has(g, "FAIL") ||
				  console_has(g, "Kernel panic"), WAIT_SECS) ||
		    !console_has(g, "GUEST-MEMTEST-OK") || !console_has(g, "GUEST-BALLOON-LOADED")) {
			esx_show_tail(g->console, g->name, 4096);
			REQUIRE(0, "guest %s did not get to its balloon", g->name);
		}
		if (!ESX_WAIT_FOR(named_and_attached(g), 60)) {
			show_logs();
			REQUIRE(0, "the daemon did not name %s after its domain and attach it", g->name);
		}
	}
	printf("domains: started, tested their memory and loaded their balloons in %.1f s\n",
	       esx_now() - t0);
	/* No stock balloon: libvirt's memory is the guest's whole size, as esxmem's. */
	for (i = 0; i < 2; i++) {
		struct esxmem_vm_info *vi = info(guests[i].id);
		int64_t used = virsh_value("dominfo", guests[i].name, "Used memory");

		CHECK(vi && used == (int64_t)esxmem_vm_value(vi, ESXMEM_VM_SIZE_PAGES) * 4 &&
		      used == (int64_t)GUEST_PAGES * 4,
		      "%s: virsh dominfo's used memory %lld KiB is not esxmem's size, %llu pages",
		      guests[i].name, (long long)used,
		      vi ? (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SIZE_PAGES) : 0ULL);
		esxmem_vm_info_free(vi);
	}
	for (i = 0; i < 2; i++) {
		before[i] = info(guests[i].id);
		REQUIRE(before[i], "VM %s's figures", guests[i].name);
		printf("%s: %llu pages consumed\n", guests[i].name,
		       (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES));
		CHECK(esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES) > 8192 + GIVE_BACK,
		      "%s consumes only %llu pages: nothing for its balloon", guests[i].name,
		      (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES));
	}

	/* A tight pool held in the soft state, as in esxmemd_guests. */
	REQUIRE_OK(esx_sysfs_write("state_high_permille", "900"));
	pool = (esx_sysfs_long("used_pages") * 100) / 97;
	t0 = esx_now();
	REQUIRE_OK(esx_sysfs_write_long("pool_pages", pool));
	esx_sysfs_string("state", state, sizeof(state));
	CHECK(!strcmp(state, "soft"), "state %s with a pool of %ld pages", state, pool);

	if (!ESX_WAIT_FOR(gave_back(guests[0].id, before[0]) && gave_back(guests[1].id, before[1]),
			  WAIT_SECS)) {
		show_logs();
		CHECK(0, "the balloons did not take %u pages back from each guest", GIVE_BACK);
	}
	printf("balloons: %u pages back from each guest in %.1f s\n", GIVE_BACK, esx_now() - t0);
	for (i = 0; i < 2; i++) {
		after[i] = info(guests[i].id);
		REQUIRE(after[i], "VM %s's figures", guests[i].name);
		printf("%s: %llu -> %llu pages consumed, %llu ballooned, %llu unbacked\n",
		       guests[i].name,
		       (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES),
		       (unsigned long long)esxmem_vm_value(after[i], ESXMEM_VM_CONSUMED_PAGES),
		       (unsigned long long)esxmem_vm_state_pages(after[i], ESXMEM_PAGE_BALLOONED),
		       (unsigned long long)esxmem_vm_state_pages(after[i], ESXMEM_PAGE_UNBACKED));
		CHECK(!console_has(&guests[i], "Kernel panic") &&
		      !console_has(&guests[i], "Out of memory"), "%s panicked or ran out of memory",
		      guests[i].name);
	}
	CHECK(esxmem_vm_state_pages(after[0], ESXMEM_PAGE_BALLOONED) >= GIVE_BACK,
	      "lv-esx: esxballoon's frames are BALLOONED in the module");
	CHECK(esxmem_vm_state_pages(after[1], ESXMEM_PAGE_BALLOONED) == 0 &&
	      esxmem_vm_state_pages(after[1], ESXMEM_PAGE_UNBACKED) >=
	      esxmem_vm_state_pages(before[1], ESXMEM_PAGE_UNBACKED) + GIVE_BACK,
	      "lv-virtio: the stock balloon's pages are punched out of the RAM file");
	CHECK(esx_file_has(LOG, "VM lv-virtio is libvirt's domain"),
	      "the daemon drives lv-virtio's balloon through libvirt");
	/* The balloon settles; then libvirt's figure is esxmem's. */
	if (!ESX_WAIT_FOR(stock_balloon_agrees(&guests[1], &actual, &held), 60)) {
		show_logs();
		CHECK(0, "lv-virtio: dommemstat's actual %lld KiB is not its size less the %lld pages its balloon holds",
		      (long long)actual, (long long)held);
	}
	printf("lv-virtio: dommemstat actual %lld KiB, the balloon holds %lld pages\n",
	       (long long)actual, (long long)held);
	CHECK(alive(daemon_pid), "the daemon died");

	/* virsh destroy: the domains' memory goes back to the pool. */
	REQUIRE_OK(esx_sysfs_write("pool_pages", saved_pool));
	for (i = 0; i < 2; i++) {
		CHECK(!run(VIRSH "destroy %s > /tmp/virsh.out 2>&1", guests[i].name),
		      "virsh destroy %s", guests[i].name);
		guests[i].started = false;
	}
	CHECK(ESX_WAIT_FOR(nr_vms() == 0 || (nr_vms() != SIZE_MAX && !named_and_attached(&guests[0]) &&
					     !named_and_attached(&guests[1])), 60),
	      "the destroyed domains' VMs are gone from the module");
	CHECK(esx_pool_back(used0, 60), "virsh destroy leaves pages behind: %ld used, %ld before",
	      esx_sysfs_long("used_pages"), used0);
	return vmtest_done("esxmemd_libvirt");
}
