// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_fields: GET_VM replies carry the groups of attributes
 * ESXMEM_VM_A_FIELDS asks for (uapi esxmem.h), read raw off the socket so
 * that the module, not the library, is what is checked:
 *
 *  - a dump and a doit with FIELDS carry ID and the attributes of those
 *    groups, none of the others; without FIELDS, every group; FIELDS 0,
 *    ID alone;
 *  - the values are the VM's (a name, shares and pages touched);
 *  - a dump of several hundred VMs that spans many messages lists every
 *    VM once, in id order, for each choice of groups;
 *  - unknown bits in FIELDS, and FIELDS in SET_VM, fail with EINVAL;
 *  - esxmem_vm_list_fields() hands out objects that read the values of
 *    the groups read and -ENODATA for the others.
 */
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "esxtest.h"
#include "vmtest.h"

#include <libesxmem/libesxmem.h>

#define MANY_VMS	300
/* Room for the VMs of a dump: these and any the host holds besides. */
#define LISTED_MAX	4096
#define TOUCHED		5

static int nl_fd, family;
static uint32_t seq = 1;

/* Every attribute of each group, as the uapi lists them. */
static const int config_attrs[] = {
	ESXMEM_VM_A_NAME, ESXMEM_VM_A_OWNER_PID, ESXMEM_VM_A_DOMAIN, ESXMEM_VM_A_SHARES,
	ESXMEM_VM_A_FLAGS, ESXMEM_VM_A_MIN_PAGES, ESXMEM_VM_A_MAX_PAGES,
	ESXMEM_VM_A_TARGET_PAGES, ESXMEM_VM_A_SIZE_PAGES, ESXMEM_VM_A_SWAP_SLOTS,
	ESXMEM_VM_A_SWAP_TARGET_PAGES, ESXMEM_VM_A_COMPRESS_MAX_PAGES, -1,
};
static const int usage_attrs[] = {
	ESXMEM_VM_A_CONSUMED_PAGES, ESXMEM_VM_A_STATE_PAGES, ESXMEM_VM_A_ACTIVE,
	ESXMEM_VM_A_ACTIVE_LAST, ESXMEM_VM_A_ACTIVE_SLOW, ESXMEM_VM_A_ACTIVE_FAST,
	ESXMEM_VM_A_ACTIVE_PARTIAL, ESXMEM_VM_A_SWAP_INS, ESXMEM_VM_A_COMPRESS_INS,
	ESXMEM_VM_A_PMAP_BYTES, ESXMEM_VM_A_FRAME_TABLE_BYTES, -1,
};
static const int counter_attrs[] = {
	ESXMEM_VM_A_MAPPINGS, ESXMEM_VM_A_FAULTS, ESXMEM_VM_A_COW_BREAKS,
	ESXMEM_VM_A_FAULT_WAITS, ESXMEM_VM_A_FAULT_WAIT_TIMEOUTS, ESXMEM_VM_A_PAGES_SCANNED,
	ESXMEM_VM_A_FULL_SCANS, ESXMEM_VM_A_HINTS, ESXMEM_VM_A_SCAN_NS,
	ESXMEM_VM_A_SAMPLE_FAULTS, ESXMEM_VM_A_SAMPLE_PERIODS, ESXMEM_VM_A_SWAP_OUTS,
	ESXMEM_VM_A_SWAP_ERRORS, ESXMEM_VM_A_COMPRESS_OUTS, ESXMEM_VM_A_COMPRESS_REJECTS,
	ESXMEM_VM_A_RECLAIM_SKIPPED, ESXMEM_VM_A_LOW_WAITS, -1,
};

/* One VM as a reply carried it. */
struct vm_msg {
	uint32_t id;
	uint64_t seen;			/* attribute types, as bits */
	char name[ESXMEM_VM_NAME_MAX];
	uint32_t shares;
	uint64_t consumed;
};

/* A GET_VM request, dump or doit; FIELDS unless @fields is negative. */
static int send_get(bool dump, uint32_t id, int64_t fields, int cmd)
{
	char buf[256];
	struct nlmsghdr *n = (struct nlmsghdr *)buf;
	struct genlmsghdr *g = NLMSG_DATA(n);
	struct nlattr *nest = (struct nlattr *)((char *)g + GENL_HDRLEN), *a;

	memset(buf, 0, sizeof(buf));
	n->nlmsg_type = (uint16_t)family;
	n->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
	n->nlmsg_seq = ++seq;
	g->cmd = (uint8_t)cmd;
	g->version = ESXMEM_GENL_VERSION;
	nest->nla_type = ESXMEM_A_VM | NLA_F_NESTED;
	nest->nla_len = NLA_HDRLEN;
	a = (struct nlattr *)((char *)nest + NLA_HDRLEN);
	if (!dump) {
		a->nla_type = ESXMEM_VM_A_ID;
		a->nla_len = NLA_HDRLEN + 4;
		memcpy((char *)a + NLA_HDRLEN, &id, 4);
		nest->nla_len += NLA_ALIGN(a->nla_len);
		a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
	}
	if (fields >= 0) {
		uint32_t f = (uint32_t)fields;

		a->nla_type = ESXMEM_VM_A_FIELDS;
		a->nla_len = NLA_HDRLEN + 4;
		memcpy((char *)a + NLA_HDRLEN, &f, 4);
		nest->nla_len += NLA_ALIGN(a->nla_len);
	}
	n->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + nest->nla_len;
	return send(nl_fd, buf, n->nlmsg_len, 0) == (ssize_t)n->nlmsg_len ? 0 : -errno;
}

static void parse_vm(struct nlmsghdr *h, struct vm_msg *vm)
{
	struct genlmsghdr *g = NLMSG_DATA(h);
	struct nlattr *top = (struct nlattr *)((char *)g + GENL_HDRLEN), *a;
	int rem;

	memset(vm, 0, sizeof(*vm));
	REQUIRE((top->nla_type & NLA_TYPE_MASK) == ESXMEM_A_VM, "a VM nest");
	for (a = (struct nlattr *)((char *)top + NLA_HDRLEN), rem = top->nla_len - NLA_HDRLEN;
	     rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= rem;
	     rem -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
		int type = a->nla_type & NLA_TYPE_MASK;
		void *data = (char *)a + NLA_HDRLEN;

		if (type == ESXMEM_VM_A_PAD)
			continue;
		REQUIRE(type < 64, "attribute type %d", type);
		vm->seen |= 1ULL << type;
		if (type == ESXMEM_VM_A_ID)
			memcpy(&vm->id, data, 4);
		else if (type == ESXMEM_VM_A_NAME)
			snprintf(vm->name, sizeof(vm->name), "%s", (char *)data);
		else if (type == ESXMEM_VM_A_SHARES)
			memcpy(&vm->shares, data, 4);
		else if (type == ESXMEM_VM_A_CONSUMED_PAGES)
			memcpy(&vm->consumed, data, 8);
	}
}

/*
 * The reply to the last request: the VMs of its data messages into
 * @vms[0..max) (the count returned), or -errno of its error.
 */
static int read_reply(struct vm_msg *vms, int max)
{
	static char buf[1 << 16];
	int n = 0;

	for (;;) {
		ssize_t len = recv(nl_fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		REQUIRE(len > 0, "recv: %s", strerror(errno));
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return n;
			if (h->nlmsg_type == NLMSG_ERROR) {
				int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;

				return err ? err : n;
			}
			REQUIRE(h->nlmsg_type == family && n < max, "a VM message (%d)", n);
			parse_vm(h, &vms[n++]);
		}
	}
}

static uint64_t bits(const int *attrs)
{
	uint64_t b = 0;

	for (; *attrs >= 0; attrs++)
		b |= 1ULL << *attrs;
	return b;
}

/* The attributes a VM without KVM carries for @fields. */
static uint64_t expected(uint32_t fields)
{
	return 1ULL << ESXMEM_VM_A_ID |
	       (fields & ESXMEM_VM_FIELDS_CONFIG ? bits(config_attrs) : 0) |
	       (fields & ESXMEM_VM_FIELDS_USAGE ? bits(usage_attrs) : 0) |
	       (fields & ESXMEM_VM_FIELDS_COUNTERS ? bits(counter_attrs) : 0);
}

static const struct vm_msg *find(const struct vm_msg *vms, int n, uint32_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if (vms[i].id == id)
			return &vms[i];
	return NULL;
}

/* Every choice of groups, in a dump and a doit, for VM @id. */
static void test_groups(uint32_t id, const char *name)
{
	static struct vm_msg vms[LISTED_MAX];
	int64_t fields;
	int n;

	for (fields = -1; fields <= ESXMEM_VM_FIELDS_ALL; fields++) {
		uint32_t f = fields < 0 ? ESXMEM_VM_FIELDS_ALL : (uint32_t)fields;
		const struct vm_msg *vm;

		REQUIRE_OK(send_get(true, 0, fields, ESXMEM_CMD_GET_VM));
		n = read_reply(vms, LISTED_MAX);
		REQUIRE(n > 0, "dump with FIELDS %lld: %s", (long long)fields, strerror(-n));
		vm = find(vms, n, id);
		REQUIRE(vm, "VM %u in the dump with FIELDS %lld", id, (long long)fields);
		CHECK(vm->seen == expected(f), "dump with FIELDS %lld: attributes %#llx, expected %#llx",
		      (long long)fields, (unsigned long long)vm->seen,
		      (unsigned long long)expected(f));
		if (f & ESXMEM_VM_FIELDS_CONFIG)
			CHECK(!strcmp(vm->name, name) && vm->shares == 1234, "dump: name \"%s\", shares %u",
			      vm->name, vm->shares);
		if (f & ESXMEM_VM_FIELDS_USAGE)
			CHECK(vm->consumed == TOUCHED, "dump: consumed %llu, expected %d",
			      (unsigned long long)vm->consumed, TOUCHED);

		REQUIRE_OK(send_get(false, id, fields, ESXMEM_CMD_GET_VM));
		n = read_reply(vms, 1);
		REQUIRE(n == 1, "doit with FIELDS %lld: %s", (long long)fields, n < 0 ? strerror(-n) : "no VM");
		CHECK(vms[0].id == id && vms[0].seen == expected(f),
		      "doit with FIELDS %lld: attributes %#llx, expected %#llx", (long long)fields,
		      (unsigned long long)vms[0].seen, (unsigned long long)expected(f));
	}
}

static void test_refusals(uint32_t id)
{
	struct vm_msg vm;
	int err;

	REQUIRE_OK(send_get(true, 0, ESXMEM_VM_FIELDS_ALL + 1, ESXMEM_CMD_GET_VM));
	err = read_reply(&vm, 1);
	CHECK(err == -EINVAL, "a dump with an unknown FIELDS bit: %d, expected -EINVAL", err);
	REQUIRE_OK(send_get(false, id, 1u << 31, ESXMEM_CMD_GET_VM));
	err = read_reply(&vm, 1);
	CHECK(err == -EINVAL, "a doit with an unknown FIELDS bit: %d, expected -EINVAL", err);
	REQUIRE_OK(send_get(false, id, ESXMEM_VM_FIELDS_USAGE, ESXMEM_CMD_SET_VM));
	err = read_reply(&vm, 1);
	CHECK(err == -EINVAL, "SET_VM with FIELDS: %d, expected -EINVAL", err);
}

/* Several hundred VMs: many messages, each VM once, in order. */
static void test_many(const uint32_t *ids, int nr)
{
	static struct vm_msg vms[LISTED_MAX];
	static const int64_t choices[] = { -1, 0, ESXMEM_VM_FIELDS_CONFIG,
		ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_USAGE, ESXMEM_VM_FIELDS_SLOTS };
	size_t c;
	int i, n;

	for (c = 0; c < sizeof(choices) / sizeof(choices[0]); c++) {
		REQUIRE_OK(send_get(true, 0, choices[c], ESXMEM_CMD_GET_VM));
		n = read_reply(vms, LISTED_MAX);
		REQUIRE(n >= nr, "dump with FIELDS %lld: %d VMs, at least %d expected",
			(long long)choices[c], n, nr);
		for (i = 1; i < n; i++)
			CHECK(vms[i].id > vms[i - 1].id, "FIELDS %lld: VM %u after VM %u",
			      (long long)choices[c], vms[i].id, vms[i - 1].id);
		for (i = 0; i < nr; i++)
			CHECK(find(vms, n, ids[i]), "FIELDS %lld: VM %u missing",
			      (long long)choices[c], ids[i]);
	}
}

static void test_library(uint32_t id, const char *name)
{
	struct esxmem_vm_info **vms;
	struct esxmem *h;
	uint64_t v;
	size_t n, i;

	REQUIRE_OK(esxmem_open(&h));
	REQUIRE_OK(esxmem_vm_list_fields(h, ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_USAGE,
					 &vms, &n));
	for (i = 0; i < n && esxmem_vm_id(vms[i]) != id; i++)
		;
	REQUIRE(i < n, "VM %u listed", id);
	CHECK(!strcmp(esxmem_vm_name(vms[i]), name) &&
	      esxmem_vm_value(vms[i], ESXMEM_VM_SHARES) == 1234 &&
	      esxmem_vm_value(vms[i], ESXMEM_VM_CONSUMED_PAGES) == TOUCHED &&
	      esxmem_vm_state_pages(vms[i], ESXMEM_PAGE_PRIVATE) == TOUCHED,
	      "the values read");
	CHECK(esxmem_vm_value_get(vms[i], ESXMEM_VM_FAULTS, &v) == -ENODATA &&
	      esxmem_vm_value(vms[i], ESXMEM_VM_FAULTS) == 0, "a counter not read");
	CHECK_OK(esxmem_vm_refresh(h, vms[i]));
	CHECK(esxmem_vm_value_get(vms[i], ESXMEM_VM_FAULTS, &v) == 0 && v >= TOUCHED,
	      "a refreshed VM reads every value");
	esxmem_vm_list_free(vms, n);
	CHECK(esxmem_vm_list_fields(h, ESXMEM_VM_FIELDS_ALL + 1, &vms, &n) == -EINVAL,
	      "unknown groups");
	esxmem_close(h);
}

int main(void)
{
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_NAME | ESXMEM_VM_SET_SHARES,
					.shares = 1234 };
	static uint32_t ids[MANY_VMS];
	static int fds[MANY_VMS];
	struct nl_sock *sk;
	struct esxmem *h;
	char name[32];
	uint8_t *p;
	int i;

	fds[0] = esx_open();
	p = esx_map(fds[0], 16, 0);
	REQUIRE(p, "mmap");
	/* Pages unlike each other: the sharing scanner merges none. */
	for (i = 0; i < TOUCHED; i++)
		memset(p + i * ESX_PAGE, i + 1, ESX_PAGE);
	ids[0] = esx_stats(fds[0]).id;
	snprintf(name, sizeof(name), "fields-%u", ids[0]);
	s.name = name;
	REQUIRE_OK(esxmem_open(&h));
	REQUIRE_OK(esxmem_vm_set(h, ids[0], &s));
	esxmem_close(h);
	for (i = 1; i < MANY_VMS; i++) {
		uint64_t size = 64 * ESX_PAGE;

		fds[i] = esx_open();
		REQUIRE(!ioctl(fds[i], ESXMEM_IOC_SET_SIZE, &size), "size");
		ids[i] = esx_stats(fds[i]).id;
	}

	sk = nl_socket_alloc();
	REQUIRE(sk && !genl_connect(sk), "a netlink socket");
	family = genl_ctrl_resolve(sk, ESXMEM_GENL_NAME);
	REQUIRE(family > 0, "the esxmem family");
	nl_fd = nl_socket_get_fd(sk);

	test_groups(ids[0], name);
	test_refusals(ids[0]);
	test_many(ids, MANY_VMS);
	test_library(ids[0], name);

	nl_socket_free(sk);
	for (i = 0; i < MANY_VMS; i++)
		close(fds[i]);
	return vmtest_done("netlink_fields");
}
