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
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

#include "esxtest.h"
#include "vmtest.h"
#include "libvirt_host.h"
#include <libesxmem/libesxmem.h>

#define CONF		"/tmp/esxmemd-libvirt.json"
#define LOG		"/tmp/esxmemd-libvirt.log"
#define SOCK		"/tmp/esxmemd-libvirt.sock"
#define GUEST_MIB	160u
#define GUEST_PAGES	(GUEST_MIB * 256u)
#define WAIT_SECS	LIBVIRT_WAIT_SECS
#define GIVE_BACK	4096u		/* pages each balloon must free */

static const char conf[] =
	"{\"balance_period\": 1, \"control_socket\": \"" SOCK "\",\n"
	" \"libvirt_uri\": \"qemu:///system\",\n"
	" \"vm_defaults\": {\"max\": \"32M\", \"reclaim\": {\"swap\": false}}}\n";

struct guest {
	struct libvirt_domain d;
	uint32_t id;
};

static struct guest guests[2] = {
	{ .d = { .name = "lv-esx", .mib = GUEST_MIB, .work = "guest.work=reclaim guest.balloon=esx",
		 .balloon = "none", .cid = 3 } },
	{ .d = { .name = "lv-virtio", .mib = GUEST_MIB,
		 .work = "guest.work=reclaim guest.balloon=virtio", .balloon = "virtio", .cid = 4 } },
};
static struct esxmem *nl;
static pid_t daemon_pid = -1, main_pid;
static char saved_pool[32], saved_share[8], saved_high[8];

static void cleanup(void)
{
	if (getpid() != main_pid)
		return;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	esx_sysfs_write("pool_pages", saved_pool);
	esx_sysfs_write("state_high_permille", saved_high);
	esx_sysfs_write("share/enabled", saved_share);
}

static void show_logs(void)
{
	libvirt_show_logs();
	esx_show_tail(LOG, "esxmemd's log", 6144);
}

static bool console_has(const struct guest *g, const char *text)
{
	return esx_file_has(g->d.console, text);
}

/* The module's VM named @g->d.name, attached to its KVM VM: its id in g->id. */
static bool named_and_attached(struct guest *g)
{
	struct esxmem_vm_info **vms = NULL;
	size_t n = 0, i;
	bool found = false;

	if (esxmem_vm_list(nl, &vms, &n))
		return false;
	for (i = 0; i < n; i++)
		if (!strcmp(esxmem_vm_name(vms[i]), g->d.name) && esxmem_vm_kvm_attached(vms[i])) {
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

/*
 * Values @keys[0..n) of VM @name in one reply of the daemon's status, in
 * @vals (-1 for a key the reply lacks); -1 if there was no reply.
 */
static int status_values(const char *name, size_t n, const char *const keys[], int64_t vals[])
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = SOCK };
	static char buf[65536];
	char req[128];
	size_t len = 0, i;
	ssize_t got;
	json_t *r, *vm;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), reqlen;

	for (i = 0; i < n; i++)
		vals[i] = -1;
	reqlen = snprintf(req, sizeof(req), "{\"cmd\":\"vm\",\"name\":\"%s\"}\n", name);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    write(fd, req, (size_t)reqlen) != reqlen) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((got = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)got;
	close(fd);
	buf[len] = '\0';
	r = json_loads(buf, 0, NULL);
	vm = json_object_get(r, "vm");
	for (i = 0; i < n; i++)
		if (json_is_integer(json_object_get(vm, keys[i])))
			vals[i] = json_integer_value(json_object_get(vm, keys[i]));
	json_decref(r);
	return vm ? 0 : -1;
}

/* A value of VM @name in the daemon's status, or -1. */
static int64_t status_value(const char *name, const char *key)
{
	int64_t v;

	status_values(name, 1, &key, &v);
	return v;
}

/*
 * Whether libvirt and esxmem agree on lv-virtio's stock balloon: libvirt's
 * "actual" is the guest's size less what the daemon says its balloon holds,
 * and that is more than nothing.
 */
static bool stock_balloon_agrees(const struct guest *g, int64_t *actual, int64_t *held)
{
	*held = status_value(g->d.name, "virtio_balloon_pages");
	*actual = libvirt_virsh_value("dommemstat", g->d.name, "actual");
	return *held > 0 && *actual == (int64_t)(GUEST_PAGES - (uint64_t)*held) * 4;
}

/*
 * Whether the daemon's balloon target for lv-virtio counts what its stock
 * balloon holds: in the soft state the balloons should hold what the VM
 * has beyond its target, consumed + held - target, from one status reply.
 */
static bool stock_balloon_target_counts_held(const struct guest *g, int64_t v[4])
{
	static const char *const keys[] = {
		"balloon_target_pages", "consumed_pages", "virtio_balloon_pages", "target_pages",
	};

	if (status_values(g->d.name, 4, keys, v) || v[2] <= 0 || v[1] + v[2] <= v[3])
		return false;
	return v[0] == v[1] + v[2] - v[3];
}

int main(void)
{
	struct esxmem_vm_info *before[2], *after[2];
	int64_t actual = -1, held = -1, figures[4];
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
	libvirt_setup();
	libvirt_write_file(CONF, conf);

	/* A daemon that starts before libvirtd says so, and connects once it is up. */
	daemon_pid = esx_start_esxmemd(CONF, LOG, true);
	REQUIRE(daemon_pid > 0, "fork");
	if (!ESX_WAIT_FOR(esx_file_has(LOG, "libvirt: qemu:///system is not reachable"), 30)) {
		show_logs();
		CHECK(0, "esxmemd did not say that libvirt is not reachable");
	}
	t0 = esx_now();
	libvirt_start_daemon();
	printf("libvirtd: up (QEMU probed) in %.1f s\n", esx_now() - t0);

	/* It tries again every 10 s. */
	if (!ESX_WAIT_FOR(esx_file_has(LOG, "libvirt: connected to qemu:///system"), 60)) {
		show_logs();
		CHECK(0, "esxmemd did not connect to libvirtd once it was up");
	}
	t0 = esx_now();
	for (i = 0; i < 2; i++)
		libvirt_start_domain(&guests[i].d);
	for (i = 0; i < 2; i++) {
		struct guest *g = &guests[i];

		if (!ESX_WAIT_FOR(console_has(g, "GUEST-HOLD") || console_has(g, "FAIL") ||
				  console_has(g, "Kernel panic"), WAIT_SECS) ||
		    !console_has(g, "GUEST-MEMTEST-OK") || !console_has(g, "GUEST-BALLOON-LOADED")) {
			esx_show_tail(g->d.console, g->d.name, 4096);
			REQUIRE(0, "guest %s did not get to its balloon", g->d.name);
		}
		if (!ESX_WAIT_FOR(named_and_attached(g), 60)) {
			show_logs();
			REQUIRE(0, "the daemon did not name %s after its domain and attach it", g->d.name);
		}
	}
	printf("domains: started, tested their memory and loaded their balloons in %.1f s\n",
	       esx_now() - t0);
	/* No stock balloon: libvirt's memory is the guest's whole size, as esxmem's. */
	for (i = 0; i < 2; i++) {
		struct esxmem_vm_info *vi = info(guests[i].id);
		int64_t used = libvirt_virsh_value("dominfo", guests[i].d.name, "Used memory");

		CHECK(vi && used == (int64_t)esxmem_vm_value(vi, ESXMEM_VM_SIZE_PAGES) * 4 &&
		      used == (int64_t)GUEST_PAGES * 4,
		      "%s: virsh dominfo's used memory %lld KiB is not esxmem's size, %llu pages",
		      guests[i].d.name, (long long)used,
		      vi ? (unsigned long long)esxmem_vm_value(vi, ESXMEM_VM_SIZE_PAGES) : 0ULL);
		esxmem_vm_info_free(vi);
	}
	for (i = 0; i < 2; i++) {
		before[i] = info(guests[i].id);
		REQUIRE(before[i], "VM %s's figures", guests[i].d.name);
		printf("%s: %llu pages consumed\n", guests[i].d.name,
		       (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES));
		CHECK(esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES) > 8192 + GIVE_BACK,
		      "%s consumes only %llu pages: nothing for its balloon", guests[i].d.name,
		      (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES));
	}

	/* A tight pool held in the soft state. */
	t0 = esx_now();
	pool = esx_pool_hold_soft();
	REQUIRE(pool > 0, "hold the pool in the soft state: %s", strerror((int)-pool));
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
		REQUIRE(after[i], "VM %s's figures", guests[i].d.name);
		printf("%s: %llu -> %llu pages consumed, %llu ballooned, %llu unbacked\n",
		       guests[i].d.name,
		       (unsigned long long)esxmem_vm_value(before[i], ESXMEM_VM_CONSUMED_PAGES),
		       (unsigned long long)esxmem_vm_value(after[i], ESXMEM_VM_CONSUMED_PAGES),
		       (unsigned long long)esxmem_vm_state_pages(after[i], ESXMEM_PAGE_BALLOONED),
		       (unsigned long long)esxmem_vm_state_pages(after[i], ESXMEM_PAGE_UNBACKED));
		CHECK(!console_has(&guests[i], "Kernel panic") &&
		      !console_has(&guests[i], "Out of memory"), "%s panicked or ran out of memory",
		      guests[i].d.name);
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
	/* The balloon target the daemon reports counts what the stock balloon holds. */
	if (!ESX_WAIT_FOR(stock_balloon_target_counts_held(&guests[1], figures), 60)) {
		show_logs();
		CHECK(0, "lv-virtio: balloon target %lld pages, not consumed %lld + held %lld - target %lld",
		      (long long)figures[0], (long long)figures[1], (long long)figures[2],
		      (long long)figures[3]);
	}
	printf("lv-virtio: balloon target %lld pages = consumed %lld + held %lld - target %lld\n",
	       (long long)figures[0], (long long)figures[1], (long long)figures[2],
	       (long long)figures[3]);
	CHECK(waitpid(daemon_pid, NULL, WNOHANG) == 0, "the daemon died");

	/* virsh destroy: the domains' memory goes back to the pool. */
	REQUIRE_OK(esx_sysfs_write("pool_pages", saved_pool));
	for (i = 0; i < 2; i++) {
		CHECK(libvirt_destroy_domain(&guests[i].d), "virsh destroy %s", guests[i].d.name);
	}
	CHECK(ESX_WAIT_FOR(nr_vms() == 0 || (nr_vms() != SIZE_MAX && !named_and_attached(&guests[0]) &&
					     !named_and_attached(&guests[1])), 60),
	      "the destroyed domains' VMs are gone from the module");
	CHECK(esx_pool_back(used0, 60), "virsh destroy leaves pages behind: %ld used, %ld before",
	      esx_sysfs_long("used_pages"), used0);
	return vmtest_done("esxmemd_libvirt");
}
