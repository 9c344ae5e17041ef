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
	struct esxmem_vm_info *vm;
	char name[ESXMEM_VM_NAME_MAX];
	int fd = esx_open();
	uint32_t id = vm_id(fd);
	void *p = esx_map(fd, 64, 0);

	REQUIRE(p, "mmap");
	memset(p, 1, 16 * ESX_PAGE);
	REQUIRE_OK(esxmem_vm_get(h, id, &vm));
	CHECK(esxmem_vm_id(vm) == id, "id");
	CHECK(esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID) == (uint64_t)getpid(), "owner pid %llu",
	      (unsigned long long)esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID));
	CHECK(esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES) == 64 && esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES) == 16, "size %llu consumed %llu",
	      (unsigned long long)esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES), (unsigned long long)esxmem_vm_value(vm, ESXMEM_VM_CONSUMED_PAGES));
	CHECK(esxmem_vm_state_pages(vm, ESXMEM_PAGE_PRIVATE) == 16 &&
	      esxmem_vm_state_pages(vm, ESXMEM_PAGE_UNBACKED) == 48, "state histogram");
	CHECK(esxmem_vm_value(vm, ESXMEM_VM_SHARES) == 1000 && esxmem_vm_value(vm, ESXMEM_VM_MIN_PAGES) == 0 && esxmem_vm_value(vm, ESXMEM_VM_MAX_PAGES) == UINT64_MAX &&
	      esxmem_vm_name(vm)[0] == 0 && !esxmem_vm_kvm_attached(vm) && esxmem_vm_nr_slots(vm) == 0, "defaults");
	CHECK(esxmem_vm_value(vm, ESXMEM_VM_MAPPINGS) == 1 && esxmem_vm_value(vm, ESXMEM_VM_FAULTS) >= 16,
	      "mappings %llu faults %llu", (unsigned long long)esxmem_vm_value(vm, ESXMEM_VM_MAPPINGS),
	      (unsigned long long)esxmem_vm_value(vm, ESXMEM_VM_FAULTS));
	esxmem_vm_info_free(vm);

	s.set = ESXMEM_VM_SET_ALL;
	snprintf(name, sizeof(name), "guest-%u", id);
	s.name = name;
	s.domain = 7;
	s.shares = 2500;
	s.flags = ESXMEM_VM_F_NO_SHARING;
	s.min_pages = 8;
	s.max_pages = 60;
	s.target_pages = 32;
	CHECK_OK(esxmem_vm_set(h, id, &s));
	REQUIRE_OK(esxmem_vm_get(h, id, &vm));
	CHECK(!strcmp(esxmem_vm_name(vm), s.name) && esxmem_vm_value(vm, ESXMEM_VM_DOMAIN) == 7 && esxmem_vm_value(vm, ESXMEM_VM_SHARES) == 2500 &&
	      esxmem_vm_value(vm, ESXMEM_VM_FLAGS) == ESXMEM_VM_F_NO_SHARING && esxmem_vm_value(vm, ESXMEM_VM_MIN_PAGES) == 8 &&
	      esxmem_vm_value(vm, ESXMEM_VM_MAX_PAGES) == 60 && esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES) == 32, "settings round trip");
	esxmem_vm_info_free(vm);

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
	CHECK(esxmem_vm_value(vm, ESXMEM_VM_MIN_PAGES) == 8 && esxmem_vm_value(vm, ESXMEM_VM_SHARES) == 2500 && esxmem_vm_value(vm, ESXMEM_VM_FLAGS) == ESXMEM_VM_F_NO_SHARING,
	      "refused sets changed nothing");
	esxmem_vm_info_free(vm);
	CHECK(esxmem_vm_get(h, 0x7ffffff0, &vm) == -ENOENT, "unknown id");

	munmap(p, 64 * ESX_PAGE);
	close(fd);
	CHECK(esxmem_vm_get(h, id, &vm) == -ENOENT, "a closed object is gone");
}

static void test_pool_round_trip(void)
{
	struct esxmem_pool_settings s = { 0 };
	struct esxmem_pool_info *pool, *again;

	REQUIRE_OK(esxmem_pool_get(h, &pool));
	CHECK((long)esxmem_pool_value(pool, ESXMEM_POOL_PAGES) == esx_sysfs_long("pool_pages"), "pool pages");
	CHECK(esxmem_pool_permille(pool, ESXMEM_STATE_HIGH) == 60 && esxmem_pool_permille(pool, ESXMEM_STATE_LOW) == 10,
	      "default thresholds");
	CHECK(esxmem_pool_value(pool, ESXMEM_POOL_STATE) == ESXMEM_STATE_HIGH, "state high");
	CHECK((int64_t)esxmem_pool_value(pool, ESXMEM_POOL_PAGES) -
	      (int64_t)esxmem_pool_value(pool, ESXMEM_POOL_USED_PAGES) == esxmem_pool_free_pages(pool),
	      "free = pages - used");

	s.set = ESXMEM_POOL_SET_FAULT_WAIT_MS | ESXMEM_POOL_SET_HIGH_PERMILLE;
	s.fault_wait_ms = 4321;
	s.high_permille = 70;
	CHECK_OK(esxmem_pool_set(h, &s));
	CHECK(esx_sysfs_long("fault_wait_ms") == 4321 &&
	      esx_sysfs_long("state_high_permille") == 70, "pool set reached sysfs");

	/* Valid high, invalid order elsewhere: nothing changes. */
	s.set = ESXMEM_POOL_SET_FAULT_WAIT_MS | ESXMEM_POOL_SET_LOW_PERMILLE;
	s.fault_wait_ms = 1;
	s.low_permille = 30;
	CHECK(esxmem_pool_set(h, &s) == -EINVAL, "low above hard must fail");
	REQUIRE_OK(esxmem_pool_get(h, &again));
	CHECK(esxmem_pool_value(again, ESXMEM_POOL_FAULT_WAIT_MS) == 4321 && esxmem_pool_permille(again, ESXMEM_STATE_LOW) == 10,
	      "refused pool set changed nothing");

	s.set = ESXMEM_POOL_SET_FAULT_WAIT_MS | ESXMEM_POOL_SET_HIGH_PERMILLE;
	s.fault_wait_ms = (uint32_t)esxmem_pool_value(pool, ESXMEM_POOL_FAULT_WAIT_MS);
	s.high_permille = esxmem_pool_permille(pool, ESXMEM_STATE_HIGH);
	CHECK_OK(esxmem_pool_set(h, &s));
	esxmem_pool_info_free(pool);
	esxmem_pool_info_free(again);
}

/* Lists until success; checks that every id of @ids is there once. */
static int list_and_check(const uint32_t *ids, int nids, int *tears)
{
	struct esxmem_vm_info **vms;
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
		if (i && esxmem_vm_id(vms[i]) <= esxmem_vm_id(vms[i - 1])) {
			fprintf(stderr, "dump out of order: %u after %u\n", esxmem_vm_id(vms[i]), esxmem_vm_id(vms[i - 1]));
			found = -1000000;
		}
		for (int k = 0; k < nids; k++)
			found += esxmem_vm_id(vms[i]) == ids[k];
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
		      const struct esxmem_event **out)
{
	struct pollfd pfd = { .fd = esxmem_events_fd(ev), .events = POLLIN };
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int err = esxmem_events_read(ev, out);

		if (!err && esxmem_event_type(*out) == type &&
		    (!id || esxmem_event_vm_id(*out) == id))
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
	const struct esxmem_event *e;
	char pool[32];
	long used;
	uint32_t id;
	int fd;

	REQUIRE_OK(esxmem_events_open(&ev));
	fd = esx_open();
	id = vm_id(fd);
	CHECK(wait_event(ev, ESXMEM_CMD_EVENT_VM_NEW, id, &e) == 0, "no VM_NEW event");
	CHECK(esxmem_event_owner_pid(e) == (uint32_t)getpid(), "VM_NEW owner pid");
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
	CHECK(esxmem_event_state(e) == ESXMEM_STATE_HARD, "state %u with 1.5%% free, want hard",
	      esxmem_event_state(e));
	CHECK(esxmem_event_free_pages(e) > 0 && esxmem_event_free_pages(e) < used / 50,
	      "free pages %lld", (long long)esxmem_event_free_pages(e));
	CHECK(esx_sysfs_write("pool_pages", pool) == 0, "restore pool");
	CHECK(wait_event(ev, ESXMEM_CMD_EVENT_STATE, 0, &e) == 0 &&
	      esxmem_event_state(e) == ESXMEM_STATE_HIGH,
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
