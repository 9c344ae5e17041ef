// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_vm: the control plane through libesxmem.
 *
 *  - get, set and list VMs and the pool, with exact round trips; a SET
 *    that breaks a rule changes nothing;
 *  - a dump of over 200 VMs while other VMs come and go is either
 *    complete and consistent or reported as torn (-EAGAIN), never silently
 *    wrong; without churn it is never torn;
 *  - events arrive for VMs created and destroyed and for state changes.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <libesxmem/libesxmem.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define DUMP_VMS 210

static struct esxmem *h;

static uint32_t vm_id(int fd)
{
	return esx_stats(fd).id;
}

static void test_vm_round_trip(void)
{
	struct esxmem_vm_settings s = { 0 };
	struct esxmem_vm_info vm;
	int fd = esx_open();
	uint32_t id = vm_id(fd);
	void *p = esx_map(fd, 64, 0);

	REQUIRE(p, "mmap");
	memset(p, 1, 16 * ESX_PAGE);
	REQUIRE_OK(esxmem_vm_get(h, id, &vm));
	CHECK(vm.id == id, "id");
	CHECK(vm.owner_pid == (uint32_t)getpid(), "owner pid %u", vm.owner_pid);
	CHECK(vm.size_pages == 64 && vm.consumed_pages == 16, "size %llu consumed %llu",
	      (unsigned long long)vm.size_pages, (unsigned long long)vm.consumed_pages);
	CHECK(vm.state_pages[ESXMEM_PAGE_PRIVATE] == 16 &&
	      vm.state_pages[ESXMEM_PAGE_UNBACKED] == 48, "state histogram");
	CHECK(vm.shares == 1000 && vm.min_pages == 0 && vm.max_pages == UINT64_MAX &&
	      vm.name[0] == 0 && !vm.kvm_attached && vm.nr_slots == 0, "defaults");
	CHECK(vm.mappings == 1 && vm.faults >= 16, "mappings %u faults %llu", vm.mappings,
	      (unsigned long long)vm.faults);
	esxmem_vm_info_free(&vm);

	s.set = ESXMEM_VM_SET_ALL;
	snprintf(s.name, sizeof(s.name), "guest-%u", id);
	s.domain = 7;
	s.shares = 2500;
	s.flags = ESXMEM_VM_F_NO_SHARING;
	s.min_pages = 8;
	s.max_pages = 60;
	s.target_pages = 32;
	CHECK_OK(esxmem_vm_set(h, id, &s));
	REQUIRE_OK(esxmem_vm_get(h, id, &vm));
	CHECK(!strcmp(vm.name, s.name) && vm.domain == 7 && vm.shares == 2500 &&
	      vm.flags == ESXMEM_VM_F_NO_SHARING && vm.min_pages == 8 &&
	      vm.max_pages == 60 && vm.target_pages == 32, "settings round trip");
	esxmem_vm_info_free(&vm);

	/* Rule breakers change nothing. */
	s.set = ESXMEM_VM_SET_MIN_PAGES | ESXMEM_VM_SET_SHARES;
	s.min_pages = 61;
	s.shares = 10;
	CHECK(esxmem_vm_set(h, id, &s) == -EINVAL, "min above max must fail");
	s.set = ESXMEM_VM_SET_SHARES;
	s.shares = 0;
	CHECK(esxmem_vm_set(h, id, &s) < 0, "zero shares must fail");
	s.shares = ESXMEM_SHARES_MAX + 1;
	CHECK(esxmem_vm_set(h, id, &s) < 0, "too many shares must fail");
	s.set = ESXMEM_VM_SET_FLAGS;
	s.flags = 1u << 31;
	CHECK(esxmem_vm_set(h, id, &s) == -EINVAL, "unknown flag bits must fail");
	REQUIRE_OK(esxmem_vm_get(h, id, &vm));
	CHECK(vm.min_pages == 8 && vm.shares == 2500 && vm.flags == ESXMEM_VM_F_NO_SHARING,
	      "refused sets changed nothing");
	esxmem_vm_info_free(&vm);
	CHECK(esxmem_vm_get(h, 0x7ffffff0, &vm) == -ENOENT, "unknown id");

	munmap(p, 64 * ESX_PAGE);
	close(fd);
	CHECK(esxmem_vm_get(h, id, &vm) == -ENOENT, "a closed object is gone");
}

static void test_pool_round_trip(void)
{
	struct esxmem_pool_settings s = { 0 };
	struct esxmem_pool_info pool, again;

	REQUIRE_OK(esxmem_pool_get(h, &pool));
	CHECK((long)pool.pages == esx_sysfs_long("pool_pages"), "pool pages");
	CHECK(pool.permille[ESXMEM_STATE_HIGH] == 60 && pool.permille[ESXMEM_STATE_LOW] == 10,
	      "default thresholds");
	CHECK(pool.state == ESXMEM_STATE_HIGH, "state high");
	CHECK((int64_t)pool.pages - (int64_t)pool.used_pages == pool.free_pages, "free = pages - used");

	s.set = ESXMEM_POOL_SET_FAULT_WAIT_MS | ESXMEM_POOL_SET_PERMILLE(ESXMEM_STATE_HIGH);
	s.fault_wait_ms = 4321;
	s.permille[ESXMEM_STATE_HIGH] = 70;
	CHECK_OK(esxmem_pool_set(h, &s));
	CHECK(esx_sysfs_long("fault_wait_ms") == 4321 &&
	      esx_sysfs_long("state_high_permille") == 70, "pool set reached sysfs");

	/* Valid high, invalid order elsewhere: nothing changes. */
	s.set = ESXMEM_POOL_SET_FAULT_WAIT_MS | ESXMEM_POOL_SET_PERMILLE(ESXMEM_STATE_LOW);
	s.fault_wait_ms = 1;
	s.permille[ESXMEM_STATE_LOW] = 30;
	CHECK(esxmem_pool_set(h, &s) == -EINVAL, "low above hard must fail");
	REQUIRE_OK(esxmem_pool_get(h, &again));
	CHECK(again.fault_wait_ms == 4321 && again.permille[ESXMEM_STATE_LOW] == 10,
	      "refused pool set changed nothing");

	s.set = ESXMEM_POOL_SET_FAULT_WAIT_MS | ESXMEM_POOL_SET_PERMILLE(ESXMEM_STATE_HIGH);
	s.fault_wait_ms = pool.fault_wait_ms;
	s.permille[ESXMEM_STATE_HIGH] = pool.permille[ESXMEM_STATE_HIGH];
	CHECK_OK(esxmem_pool_set(h, &s));
}

/* Lists until success; checks that every id of @ids is there once. */
static int list_and_check(const uint32_t *ids, int nids, int *tears)
{
	struct esxmem_vm_info *vms;
	size_t n;
	int err, found = 0;

	for (;;) {
		err = esxmem_vm_list(h, &vms, &n);
		if (err != -EAGAIN)
			break;
		(*tears)++;
	}
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (i && vms[i].id <= vms[i - 1].id) {
			fprintf(stderr, "dump out of order: %u after %u\n", vms[i].id, vms[i - 1].id);
			found = -1000000;
		}
		for (int k = 0; k < nids; k++)
			found += vms[i].id == ids[k];
	}
	esxmem_vm_list_free(vms, n);
	return found == nids ? 0 : -EBADMSG;
}

static void test_dump_consistency(void)
{
	uint32_t ids[DUMP_VMS];
	int fds[DUMP_VMS], tears = 0, status;
	pid_t churn;

	for (int i = 0; i < DUMP_VMS; i++) {
		fds[i] = esx_open();
		ids[i] = vm_id(fds[i]);
	}
	CHECK(list_and_check(ids, DUMP_VMS, &tears) == 0, "quiet dump");
	CHECK(tears == 0, "a quiet dump was torn %d times", tears);

	churn = fork();
	REQUIRE(churn >= 0, "fork");
	if (churn == 0) {
		/*
		 * A hundred VMs a second: far more churn than any host sees,
		 * yet paced, so that a dump (a few messages, milliseconds in
		 * an emulated test host) also gets through.
		 */
		for (;;) {
			close(esx_open());
			usleep(10000);
		}
	}
	/* At least 30 lists, and on until churn has torn one (bounded). */
	int rounds = 0;

	for (; rounds < 30 || (tears == 0 && rounds < 3000); rounds++)
		CHECK(list_and_check(ids, DUMP_VMS, &tears) == 0, "dump %d under churn", rounds);
	kill(churn, SIGKILL);
	waitpid(churn, &status, 0);
	printf("dump: %d lists of %d+ VMs under churn, %d torn and retried\n", rounds,
	       DUMP_VMS, tears);
	CHECK(tears > 0, "churn must tear some dumps (else the test proves nothing)");
	for (int i = 0; i < DUMP_VMS; i++)
		close(fds[i]);
}

/* Waits up to 5 s for an event of @type about @id (any id if 0). */
static int wait_event(struct esxmem_events *ev, uint32_t type, uint32_t id,
		      struct esxmem_event *out)
{
	struct pollfd pfd = { .fd = esxmem_events_fd(ev), .events = POLLIN };
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int err = esxmem_events_read(ev, out);

		if (!err && out->type == type && (!id || out->vm_id == id))
			return 0;
		if (err == -EAGAIN) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec >= 5)
				return -ETIMEDOUT;
			poll(&pfd, 1, 1000);
		}
	}
}

static void test_events(void)
{
	struct esxmem_events *ev;
	struct esxmem_event e;
	char pool[32];
	long used;
	uint32_t id;
	int fd;

	REQUIRE_OK(esxmem_events_open(&ev));
	fd = esx_open();
	id = vm_id(fd);
	CHECK(wait_event(ev, ESXMEM_CMD_EVENT_VM_NEW, id, &e) == 0, "no VM_NEW event");
	CHECK(e.owner_pid == (uint32_t)getpid(), "VM_NEW owner pid");
	close(fd);
	CHECK(wait_event(ev, ESXMEM_CMD_EVENT_VM_DEL, id, &e) == 0, "no VM_DEL event");

	/*
	 * With 10,000 pages in use, shrink the pool so that 1.5% is free:
	 * below hard (2%), above low (1%).
	 */
	fd = esx_open();
	{
		uint8_t *p = esx_map(fd, 10000, 0);

		REQUIRE(p, "mmap");
		for (size_t i = 0; i < 10000; i++)
			p[i * ESX_PAGE] = 1;
	}
	esx_sysfs_string("pool_pages", pool, sizeof(pool));
	used = esx_sysfs_long("used_pages");
	CHECK(esx_sysfs_write_long("pool_pages", used * 1000 / 985) == 0, "shrink pool");
	CHECK(wait_event(ev, ESXMEM_CMD_EVENT_STATE, 0, &e) == 0, "no STATE event");
	CHECK(e.state == ESXMEM_STATE_HARD, "state %u with 1.5%% free, want hard", e.state);
	CHECK(e.free_pages > 0 && e.free_pages < used / 50, "free pages %lld",
	      (long long)e.free_pages);
	CHECK(esx_sysfs_write("pool_pages", pool) == 0, "restore pool");
	CHECK(wait_event(ev, ESXMEM_CMD_EVENT_STATE, 0, &e) == 0 && e.state == ESXMEM_STATE_HIGH,
	      "no STATE event back to high");
	close(fd);
	esxmem_events_close(ev);
}

int main(void)
{
	esx_background_off();
	REQUIRE_OK(esxmem_open(&h));
	test_vm_round_trip();
	test_pool_round_trip();
	test_dump_consistency();
	test_events();
	esxmem_close(h);
	return vmtest_done("netlink_vm");
}
