// SPDX-License-Identifier: GPL-2.0
/*
 * libesxmem without esxmem.ko: every request it builds is read back
 * attribute by attribute; hand-built kernel-style replies and events parse
 * into the right structs; malformed ones (missing, misplaced, repeated,
 * mis-sized, truncated, unterminated, too many) fail with -EBADMSG or
 * -EPROTO and, under ASan, never read outside the message; libnl's errors
 * translate to errno values. The request machinery and the event socket
 * run against the kernel's own generic netlink controller ("nlctrl").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "unit.h"
#include "internal.h"
#include "msg.h"
#include "older_program.h"

#define FAM 0x1d	/* a family id, as the controller might give esxmem */

#define PUT(expr) ck_assert_int_eq((expr), 0)

/* ---- reading requests back --------------------------------------------- */

/*
 * Checks the headers of request @msg and that it carries exactly one
 * top-level attribute, nest @top with NLA_F_NESTED; returns it.
 */
static struct nlattr *request_nest(struct nl_msg *msg, uint8_t cmd, int flags,
				   int top)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *ghdr;
	struct nlattr *nla, *found = NULL;
	int rem, n = 0;

	ck_assert_int_eq(nlh->nlmsg_type, FAM);
	ck_assert_int_eq(nlh->nlmsg_flags, flags);
	ck_assert_int_eq(nlh->nlmsg_seq, 0);	/* filled in when sent */
	ck_assert_int_eq(nlh->nlmsg_pid, 0);
	ck_assert(genlmsg_valid_hdr(nlh, 0));
	ghdr = nlmsg_data(nlh);
	ck_assert_int_eq(ghdr->cmd, cmd);
	ck_assert_int_eq(ghdr->version, ESXMEM_GENL_VERSION);
	nla_for_each_attr(nla, genlmsg_attrdata(ghdr, 0),
			  genlmsg_attrlen(ghdr, 0), rem) {
		n++;
		found = nla;
	}
	ck_assert_int_eq(rem, 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(nla_type(found), top);
	ck_assert(found->nla_type & NLA_F_NESTED);
	return found;
}

/*
 * Parses @nest into tb and checks that it holds exactly the attributes
 * types[0..n), each once, and nothing else.
 */
static void expect_attrs(struct nlattr *nest, struct nlattr **tb, int maxtype,
			 const int *types, int n)
{
	struct nlattr *nla;
	int rem, count = 0, i;

	ck_assert_int_eq(nla_parse_nested(tb, maxtype, nest, NULL), 0);
	nla_for_each_nested(nla, nest, rem)
		count++;
	ck_assert_int_eq(rem, 0);
	ck_assert_int_eq(count, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(tb[types[i]], "attribute %d missing", types[i]);
}

static uint32_t u32_of(const struct nlattr *nla)
{
	ck_assert_int_eq(nla_len(nla), 4);
	return nla_get_u32((struct nlattr *)nla);
}

static uint64_t u64_of(const struct nlattr *nla)
{
	ck_assert_int_eq(nla_len(nla), 8);
	return nla_get_u64((struct nlattr *)nla);
}

/* ---- building requests ------------------------------------------------- */

START_TEST(build_vm_get)
{
	static const int want[] = { ESXMEM_VM_A_ID };
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_vm_get(FAM, 42, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_GET_VM,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_VM),
		     tb, ESXMEM_VM_A_MAX, want, 1);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_ID]), 42);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_vm_dump_has_an_empty_nest)
{
	struct nl_msg *msg;
	struct nlattr *nest;

	ck_assert_int_eq(esxmem_msg_vm_dump(FAM, &msg), 0);
	nest = request_nest(msg, ESXMEM_CMD_GET_VM, NLM_F_REQUEST | NLM_F_DUMP,
			    ESXMEM_A_VM);
	ck_assert_int_eq(nla_len(nest), 0);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_vm_dump_of_some_fields)
{
	static const int want[] = { ESXMEM_VM_A_FIELDS };
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_vm_dump_fields(FAM, ESXMEM_VM_FIELDS_CONFIG |
						   ESXMEM_VM_FIELDS_USAGE, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_GET_VM, NLM_F_REQUEST | NLM_F_DUMP,
				  ESXMEM_A_VM), tb, ESXMEM_VM_A_MAX, want, 1);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_FIELDS]),
			  ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_USAGE);
	nlmsg_free(msg);

	/* None is a request for ids alone. */
	ck_assert_int_eq(esxmem_msg_vm_dump_fields(FAM, 0, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_GET_VM, NLM_F_REQUEST | NLM_F_DUMP,
				  ESXMEM_A_VM), tb, ESXMEM_VM_A_MAX, want, 1);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_FIELDS]), 0);
	nlmsg_free(msg);

	msg = (struct nl_msg *)&msg;
	ck_assert_int_eq(esxmem_msg_vm_dump_fields(FAM, ESXMEM_VM_FIELDS_ALL + 1, &msg), -EINVAL);
	ck_assert_ptr_null(msg);
	ck_assert_int_eq(esxmem_msg_vm_dump_fields(FAM, 1u << 31, &msg), -EINVAL);
}
END_TEST

START_TEST(build_vm_get_of_some_fields)
{
	static const int want[] = { ESXMEM_VM_A_ID, ESXMEM_VM_A_FIELDS };
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_vm_get_fields(FAM, 42, ESXMEM_VM_FIELDS_USAGE, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_GET_VM, NLM_F_REQUEST | NLM_F_ACK,
				  ESXMEM_A_VM), tb, ESXMEM_VM_A_MAX, want, 2);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_ID]), 42);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_FIELDS]), ESXMEM_VM_FIELDS_USAGE);
	nlmsg_free(msg);

	msg = (struct nl_msg *)&msg;
	ck_assert_int_eq(esxmem_msg_vm_get_fields(FAM, 42, ESXMEM_VM_FIELDS_ALL + 1, &msg),
			 -EINVAL);
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(build_vm_set_every_field)
{
	static const int want[] = {
		ESXMEM_VM_A_ID, ESXMEM_VM_A_NAME, ESXMEM_VM_A_DOMAIN,
		ESXMEM_VM_A_SHARES, ESXMEM_VM_A_FLAGS, ESXMEM_VM_A_MIN_PAGES,
		ESXMEM_VM_A_MAX_PAGES, ESXMEM_VM_A_TARGET_PAGES,
		ESXMEM_VM_A_SWAP_TARGET_PAGES, ESXMEM_VM_A_COMPRESS_MAX_PAGES,
	};
	struct esxmem_vm_settings s = {
		.set = ESXMEM_VM_SET_ALL, .name = "web-1", .domain = 3,
		.shares = 2000, .flags = ESXMEM_VM_F_NO_SHARING,
		.min_pages = 0x100000001ULL, .max_pages = 0x200000002ULL,
		.target_pages = 0x180000003ULL, .swap_target_pages = 0x170000004ULL,
		.compress_max_pages = ESXMEM_NO_TARGET,
	};
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 9, &s, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_SET_VM,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_VM),
		     tb, ESXMEM_VM_A_MAX, want, 10);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_ID]), 9);
	ck_assert_int_eq(nla_len(tb[ESXMEM_VM_A_NAME]), 6);	/* with NUL */
	ck_assert_str_eq(nla_data(tb[ESXMEM_VM_A_NAME]), "web-1");
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_DOMAIN]), 3);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_SHARES]), 2000);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_FLAGS]), ESXMEM_VM_F_NO_SHARING);
	ck_assert_uint_eq(u64_of(tb[ESXMEM_VM_A_MIN_PAGES]), 0x100000001ULL);
	ck_assert_uint_eq(u64_of(tb[ESXMEM_VM_A_MAX_PAGES]), 0x200000002ULL);
	ck_assert_uint_eq(u64_of(tb[ESXMEM_VM_A_TARGET_PAGES]), 0x180000003ULL);
	ck_assert_uint_eq(u64_of(tb[ESXMEM_VM_A_SWAP_TARGET_PAGES]), 0x170000004ULL);
	ck_assert_uint_eq(u64_of(tb[ESXMEM_VM_A_COMPRESS_MAX_PAGES]), ESXMEM_NO_TARGET);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_vm_set_swap)
{
	static const int want[] = { ESXMEM_VM_A_ID, ESXMEM_VM_A_SWAP_FD };
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_vm_set_swap(FAM, 4, 17, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_SET_SWAP,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_VM),
		     tb, ESXMEM_VM_A_MAX, want, 2);
	ck_assert_int_eq((int32_t)u32_of(tb[ESXMEM_VM_A_SWAP_FD]), 17);
	nlmsg_free(msg);
	/* Any negative fd means "no swap file": the kernel sees -1. */
	ck_assert_int_eq(esxmem_msg_vm_set_swap(FAM, 4, -42, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_SET_SWAP,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_VM),
		     tb, ESXMEM_VM_A_MAX, want, 2);
	ck_assert_int_eq((int32_t)u32_of(tb[ESXMEM_VM_A_SWAP_FD]), -1);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_vm_set_sends_only_the_fields_set)
{
	static const int want[] = {
		ESXMEM_VM_A_ID, ESXMEM_VM_A_SHARES, ESXMEM_VM_A_MAX_PAGES,
	};
	struct esxmem_vm_settings s = {
		.set = ESXMEM_VM_SET_SHARES | ESXMEM_VM_SET_MAX_PAGES,
		.name = "ignored", .domain = 1, .shares = 500, .flags = 1,
		.min_pages = 1, .max_pages = 4096, .target_pages = 2,
	};
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 1, &s, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_SET_VM,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_VM),
		     tb, ESXMEM_VM_A_MAX, want, 3);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_SHARES]), 500);
	ck_assert_uint_eq(u64_of(tb[ESXMEM_VM_A_MAX_PAGES]), 4096);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_vm_set_longest_name)
{
	char name[ESXMEM_VM_NAME_MAX] = { 0 };
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_NAME, .name = name };
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	memset(name, 'n', sizeof(name) - 1);
	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 1, &s, &msg), 0);
	ck_assert_int_eq(nla_parse_nested(tb, ESXMEM_VM_A_MAX,
		request_nest(msg, ESXMEM_CMD_SET_VM, NLM_F_REQUEST | NLM_F_ACK,
			     ESXMEM_A_VM), NULL), 0);
	ck_assert_int_eq(nla_len(tb[ESXMEM_VM_A_NAME]), ESXMEM_VM_NAME_MAX);
	ck_assert_int_eq(strlen(nla_data(tb[ESXMEM_VM_A_NAME])),
			 ESXMEM_VM_NAME_MAX - 1);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_vm_set_rejects_bad_settings)
{
	char name[ESXMEM_VM_NAME_MAX + 1];
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_SHARES };
	struct nl_msg *msg = (struct nl_msg *)&s;

	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 1, NULL, &msg), -EINVAL);
	ck_assert_ptr_null(msg);
	s.set = 0;
	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 1, &s, &msg), -EINVAL);
	s.set = ESXMEM_VM_SET_SHARES | (ESXMEM_VM_SET_ALL + 1);
	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 1, &s, &msg), -EINVAL);
	s.set = ESXMEM_VM_SET_NAME;			/* no name */
	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 1, &s, &msg), -EINVAL);
	memset(name, 'x', sizeof(name) - 1);		/* one byte too long */
	name[sizeof(name) - 1] = '\0';
	s.name = name;
	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 1, &s, &msg), -EINVAL);
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(build_pool_get_has_an_empty_nest)
{
	struct nl_msg *msg;
	struct nlattr *nest;

	ck_assert_int_eq(esxmem_msg_pool_get(FAM, &msg), 0);
	nest = request_nest(msg, ESXMEM_CMD_GET_POOL, NLM_F_REQUEST | NLM_F_ACK,
			    ESXMEM_A_POOL);
	ck_assert_int_eq(nla_len(nest), 0);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_pool_set_every_field)
{
	static const int want[] = {
		ESXMEM_POOL_A_PAGES, ESXMEM_POOL_A_HIGH_PERMILLE,
		ESXMEM_POOL_A_SOFT_PERMILLE, ESXMEM_POOL_A_HARD_PERMILLE,
		ESXMEM_POOL_A_LOW_PERMILLE, ESXMEM_POOL_A_FAULT_WAIT_MS,
		ESXMEM_POOL_A_SAMPLE_SECS, ESXMEM_POOL_A_SAMPLE_PAGES,
	};
	struct esxmem_pool_settings s = {
		.set = ESXMEM_POOL_SET_ALL, .pages = 0x300000000ULL,
		.high_permille = 60, .soft_permille = 40, .hard_permille = 20,
		.low_permille = 10, .fault_wait_ms = 600000,
		.sample_secs = 3600, .sample_pages = 400,
	};
	struct nlattr *tb[ESXMEM_POOL_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_pool_set(FAM, &s, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_SET_POOL,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_POOL),
		     tb, ESXMEM_POOL_A_MAX, want, 8);
	ck_assert_uint_eq(u64_of(tb[ESXMEM_POOL_A_PAGES]), 0x300000000ULL);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_POOL_A_HIGH_PERMILLE]), 60);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_POOL_A_SOFT_PERMILLE]), 40);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_POOL_A_HARD_PERMILLE]), 20);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_POOL_A_LOW_PERMILLE]), 10);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_POOL_A_FAULT_WAIT_MS]), 600000);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_POOL_A_SAMPLE_SECS]), 3600);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_POOL_A_SAMPLE_PAGES]), 400);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_pool_set_one_threshold)
{
	static const int want[] = { ESXMEM_POOL_A_HARD_PERMILLE };
	struct esxmem_pool_settings s = {
		.set = ESXMEM_POOL_SET_HARD_PERMILLE, .pages = 5,
		.high_permille = 1, .soft_permille = 2, .hard_permille = 33,
		.low_permille = 4, .fault_wait_ms = 6,
	};
	struct nlattr *tb[ESXMEM_POOL_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_pool_set(FAM, &s, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_SET_POOL,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_POOL),
		     tb, ESXMEM_POOL_A_MAX, want, 1);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_POOL_A_HARD_PERMILLE]), 33);
	nlmsg_free(msg);
}
END_TEST

START_TEST(build_pool_set_rejects_bad_settings)
{
	struct esxmem_pool_settings s = { .set = 0 };
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_pool_set(FAM, NULL, &msg), -EINVAL);
	ck_assert_int_eq(esxmem_msg_pool_set(FAM, &s, &msg), -EINVAL);
	s.set = ESXMEM_POOL_SET_ALL + 1;
	ck_assert_int_eq(esxmem_msg_pool_set(FAM, &s, &msg), -EINVAL);
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(build_kvm_attach)
{
	static const int want[] = { ESXMEM_VM_A_ID, ESXMEM_VM_A_KVM_FD };
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_kvm_attach(FAM, 5, 17, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_ATTACH_KVM,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_VM),
		     tb, ESXMEM_VM_A_MAX, want, 2);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_ID]), 5);
	ck_assert_int_eq(nla_len(tb[ESXMEM_VM_A_KVM_FD]), 4);
	ck_assert_int_eq(nla_get_s32(tb[ESXMEM_VM_A_KVM_FD]), 17);
	nlmsg_free(msg);

	ck_assert_int_eq(esxmem_msg_kvm_attach(FAM, 5, -1, &msg), -EBADF);
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(build_vm_balloon)
{
	static const int lock[] = { ESXMEM_VM_A_ID, ESXMEM_VM_A_BALLOON_GFNS };
	static const int release[] = { ESXMEM_VM_A_ID, ESXMEM_VM_A_BALLOON_GFNS,
				       ESXMEM_VM_A_BALLOON_RELEASE };
	static uint64_t gfns[ESXMEM_BALLOON_BATCH_MAX + 1] = { 0x100, 0x1234567890ULL, 7 };
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;
	uint64_t got[3];

	ck_assert_int_eq(esxmem_msg_vm_balloon(FAM, 9, gfns, 3, false, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_BALLOON, NLM_F_REQUEST | NLM_F_ACK,
				  ESXMEM_A_VM), tb, ESXMEM_VM_A_MAX, lock, 2);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_ID]), 9);
	ck_assert_int_eq(nla_len(tb[ESXMEM_VM_A_BALLOON_GFNS]), 24);
	memcpy(got, nla_data(tb[ESXMEM_VM_A_BALLOON_GFNS]), sizeof(got));
	ck_assert(!memcmp(got, gfns, sizeof(got)));
	nlmsg_free(msg);

	ck_assert_int_eq(esxmem_msg_vm_balloon(FAM, 9, gfns, 1, true, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_BALLOON, NLM_F_REQUEST | NLM_F_ACK,
				  ESXMEM_A_VM), tb, ESXMEM_VM_A_MAX, release, 3);
	nlmsg_free(msg);

	ck_assert_int_eq(esxmem_msg_vm_balloon(FAM, 9, gfns, ESXMEM_BALLOON_BATCH_MAX, false,
					       &msg), 0);
	nlmsg_free(msg);
	ck_assert_int_eq(esxmem_msg_vm_balloon(FAM, 9, gfns, ESXMEM_BALLOON_BATCH_MAX + 1,
					       false, &msg), -EINVAL);
	ck_assert_ptr_null(msg);
	ck_assert_int_eq(esxmem_msg_vm_balloon(FAM, 9, gfns, 0, false, &msg), -EINVAL);
	ck_assert_int_eq(esxmem_msg_vm_balloon(FAM, 9, NULL, 1, false, &msg), -EINVAL);
}
END_TEST

START_TEST(build_kvm_detach)
{
	static const int want[] = { ESXMEM_VM_A_ID };
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nl_msg *msg;

	ck_assert_int_eq(esxmem_msg_kvm_detach(FAM, 6, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_DETACH_KVM,
				  NLM_F_REQUEST | NLM_F_ACK, ESXMEM_A_VM),
		     tb, ESXMEM_VM_A_MAX, want, 1);
	ck_assert_uint_eq(u32_of(tb[ESXMEM_VM_A_ID]), 6);
	nlmsg_free(msg);
}
END_TEST

/* ---- kernel-style replies ------------------------------------------------ */

static struct nl_msg *reply(uint8_t cmd)
{
	struct nl_msg *msg = nlmsg_alloc_size(1 << 17);

	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(genlmsg_put(msg, 1234, 5, FAM, 0, 0, cmd,
					  ESXMEM_GENL_VERSION));
	return msg;
}

static struct nlattr *nest(struct nl_msg *msg, int type)
{
	struct nlattr *nla = nla_nest_start(msg, type);

	ck_assert_ptr_nonnull(nla);
	return nla;
}

static void end(struct nl_msg *msg, struct nlattr *nla)
{
	PUT(nla_nest_end_keep_empty(msg, nla));
}

/* The kernel's padding before a 64-bit attribute: type PAD, no payload. */
static void pad(struct nl_msg *msg, int type)
{
	PUT(nla_put(msg, type, 0, NULL));
}

static const struct esxmem_slot_info slots3[] = {
	{ .id = 0, .base_gfn = 0, .npages = 0xa0, .offset = 0 },
	{ .id = 1, .base_gfn = 0x100, .npages = 0x7ff00, .offset = 0xa0 },
	{ .id = 1u << 16 | 2, .base_gfn = 0x100000000ULL,
	  .npages = 0x40000, .offset = 0x7ffa0 },
};

static void put_slot(struct nl_msg *msg, const struct esxmem_slot_info *s)
{
	struct nlattr *nla = nest(msg, ESXMEM_SLOT);

	PUT(nla_put_u32(msg, ESXMEM_SLOT_A_ID, s->id));
	pad(msg, ESXMEM_SLOT_A_PAD);
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_BASE_GFN, s->base_gfn));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_NPAGES, s->npages));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_OFFSET, s->offset));
	end(msg, nla);
}

/* A GET_VM reply with every attribute, as the kernel would send it. */
static struct nl_msg *full_vm(void)
{
	struct nl_msg *msg = reply(ESXMEM_CMD_GET_VM);
	struct nlattr *vm, *st, *sl;
	size_t i;

	vm = nest(msg, ESXMEM_A_VM);
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ID, 7));
	PUT(nla_put_string(msg, ESXMEM_VM_A_NAME, "web-1"));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_OWNER_PID, 4242));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_DOMAIN, 3));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_SHARES, 2000));
	pad(msg, ESXMEM_VM_A_PAD);
	PUT(nla_put_u64(msg, ESXMEM_VM_A_MIN_PAGES, 0x1000000001ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_MAX_PAGES, 0x2000000002ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_TARGET_PAGES, 0x3000000003ULL));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_FLAGS, ESXMEM_VM_F_NO_SHARING));
	pad(msg, ESXMEM_VM_A_PAD);
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SIZE_PAGES, 0x4000000004ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_CONSUMED_PAGES, 0x5000000005ULL));
	st = nest(msg, ESXMEM_VM_A_STATE_PAGES);
	for (i = 0; i < ESXMEM_PAGE_NR_STATES; i++) {
		if (i % 3 == 0)
			pad(msg, ESXMEM_STATE_PAGES_A_PAD);
		PUT(nla_put_u64(msg, i + 1, 0xa00000000ULL + i));
	}
	end(msg, st);
	PUT(nla_put_u32(msg, ESXMEM_VM_A_MAPPINGS, 2));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_FAULTS, 0x6000000006ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_COW_BREAKS, 0x7000000007ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_FAULT_WAITS, 0x8000000008ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_FAULT_WAIT_TIMEOUTS, 0x9000000009ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_PAGES_SCANNED, 0xa00000000aULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_FULL_SCANS, 11));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_HINTS, 12));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SCAN_NS, 0xd00000000dULL));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ACTIVE_LAST, 250000));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ACTIVE_SLOW, 300000));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ACTIVE_FAST, 200000));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ACTIVE_PARTIAL, 100000));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ACTIVE, 300001));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SAMPLE_FAULTS, 0xe00000000eULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SAMPLE_PERIODS, 15));
	PUT(nla_put_u32(msg, ESXMEM_VM_A_KVM_PID, 4343));
	pad(msg, ESXMEM_VM_A_PAD);
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SWAP_SLOTS, 0xf00000000fULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SWAP_TARGET_PAGES, 0x1100000011ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_COMPRESS_MAX_PAGES, ESXMEM_NO_TARGET));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SWAP_OUTS, 0x1200000012ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SWAP_INS, 0x1300000013ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SWAP_ERRORS, 20));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_COMPRESS_OUTS, 0x1500000015ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_COMPRESS_INS, 0x1600000016ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_COMPRESS_REJECTS, 23));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_RECLAIM_SKIPPED, 24));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_LOW_WAITS, 0x1900000019ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_PMAP_BYTES, 0x2000000020ULL));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_FRAME_TABLE_BYTES, 0x1000000010ULL));
	sl = nest(msg, ESXMEM_VM_A_SLOTS);
	for (i = 0; i < ESXMEM_ARRAY_SIZE(slots3); i++)
		put_slot(msg, &slots3[i]);
	end(msg, sl);
	end(msg, vm);
	return msg;
}

/* What full_vm() puts in each value of enum esxmem_vm_value. */
static const uint64_t full_vm_values[ESXMEM_VM_NR_VALUES] = {
	[ESXMEM_VM_OWNER_PID]		= 4242,
	[ESXMEM_VM_DOMAIN]		= 3,
	[ESXMEM_VM_SHARES]		= 2000,
	[ESXMEM_VM_FLAGS]		= ESXMEM_VM_F_NO_SHARING,
	[ESXMEM_VM_MAPPINGS]		= 2,
	[ESXMEM_VM_KVM_PID]		= 4343,
	[ESXMEM_VM_MIN_PAGES]		= 0x1000000001ULL,
	[ESXMEM_VM_MAX_PAGES]		= 0x2000000002ULL,
	[ESXMEM_VM_TARGET_PAGES]	= 0x3000000003ULL,
	[ESXMEM_VM_SIZE_PAGES]		= 0x4000000004ULL,
	[ESXMEM_VM_CONSUMED_PAGES]	= 0x5000000005ULL,
	[ESXMEM_VM_FAULTS]		= 0x6000000006ULL,
	[ESXMEM_VM_COW_BREAKS]		= 0x7000000007ULL,
	[ESXMEM_VM_FAULT_WAITS]		= 0x8000000008ULL,
	[ESXMEM_VM_FAULT_WAIT_TIMEOUTS]	= 0x9000000009ULL,
	[ESXMEM_VM_PAGES_SCANNED]	= 0xa00000000aULL,
	[ESXMEM_VM_FULL_SCANS]		= 11,
	[ESXMEM_VM_HINTS]		= 12,
	[ESXMEM_VM_SCAN_NS]		= 0xd00000000dULL,
	[ESXMEM_VM_ACTIVE_LAST_PPM]	= 250000,
	[ESXMEM_VM_ACTIVE_SLOW_PPM]	= 300000,
	[ESXMEM_VM_ACTIVE_FAST_PPM]	= 200000,
	[ESXMEM_VM_ACTIVE_PARTIAL_PPM]	= 100000,
	[ESXMEM_VM_ACTIVE_PPM]		= 300001,
	[ESXMEM_VM_SAMPLE_FAULTS]	= 0xe00000000eULL,
	[ESXMEM_VM_SAMPLE_PERIODS]	= 15,
	[ESXMEM_VM_SWAP_SLOTS]		= 0xf00000000fULL,
	[ESXMEM_VM_SWAP_TARGET_PAGES]	= 0x1100000011ULL,
	[ESXMEM_VM_COMPRESS_MAX_PAGES]	= ESXMEM_NO_TARGET,
	[ESXMEM_VM_SWAP_OUTS]		= 0x1200000012ULL,
	[ESXMEM_VM_SWAP_INS]		= 0x1300000013ULL,
	[ESXMEM_VM_SWAP_ERRORS]		= 20,
	[ESXMEM_VM_COMPRESS_OUTS]	= 0x1500000015ULL,
	[ESXMEM_VM_COMPRESS_INS]	= 0x1600000016ULL,
	[ESXMEM_VM_COMPRESS_REJECTS]	= 23,
	[ESXMEM_VM_RECLAIM_SKIPPED]	= 24,
	[ESXMEM_VM_LOW_WAITS]		= 0x1900000019ULL,
	[ESXMEM_VM_PMAP_BYTES]		= 0x2000000020ULL,
	[ESXMEM_VM_FRAME_TABLE_BYTES]	= 0x1000000010ULL,
	/* Derived: the sum of the two above. */
	[ESXMEM_VM_OVERHEAD_BYTES]	= 0x3000000030ULL,
	/* Private, shared and zero pages: 0xa00000001 + 2 + 3. */
	[ESXMEM_VM_GRANTED_PAGES]	= 0x1e00000006ULL,
	/* ACTIVE_PPM 300001 of SIZE_PAGES 0x4000000004, rounded down. */
	[ESXMEM_VM_ACTIVE_PAGES]	= 0x13333764f2ULL,
};

/* Through the public getters only, as a program sees it. */
static void check_full_vm(const struct esxmem_vm_info *vm)
{
	const struct esxmem_slot_info *slot;
	uint64_t value;
	unsigned int what;
	size_t i;

	ck_assert_uint_eq(esxmem_vm_id(vm), 7);
	ck_assert_str_eq(esxmem_vm_name(vm), "web-1");
	ck_assert(esxmem_vm_kvm_attached(vm));
	for (what = 1; what < ESXMEM_VM_NR_VALUES; what++) {
		ck_assert_msg(full_vm_values[what] != 0, "value %u has no test figure", what);
		ck_assert_int_eq(esxmem_vm_value_get(vm, what, &value), 0);
		ck_assert_msg(value == full_vm_values[what], "value %u: %llu, want %llu",
			      what, (unsigned long long)value,
			      (unsigned long long)full_vm_values[what]);
		ck_assert_uint_eq(esxmem_vm_value(vm, what), full_vm_values[what]);
	}
	for (i = 0; i < ESXMEM_PAGE_NR_STATES; i++)
		ck_assert_uint_eq(esxmem_vm_state_pages(vm, i), 0xa00000000ULL + i);
	ck_assert_uint_eq(esxmem_vm_nr_slots(vm), ESXMEM_ARRAY_SIZE(slots3));
	for (i = 0; i < esxmem_vm_nr_slots(vm); i++) {
		slot = esxmem_vm_slot(vm, i);
		ck_assert_uint_eq(esxmem_slot_id(slot), slots3[i].id);
		ck_assert_uint_eq(esxmem_slot_base_gfn(slot), slots3[i].base_gfn);
		ck_assert_uint_eq(esxmem_slot_npages(slot), slots3[i].npages);
		ck_assert_uint_eq(esxmem_slot_offset(slot), slots3[i].offset);
	}
	ck_assert_ptr_null(esxmem_vm_slot(vm, i));
}

/* The VM nest of a reply built by reply(): its first attribute. */
static struct nlattr *top_attr(struct nl_msg *msg)
{
	return genlmsg_attrdata(nlmsg_data(nlmsg_hdr(msg)), 0);
}

static struct nlattr *last_in(struct nlattr *nla)
{
	struct nlattr *pos, *last = NULL;
	int rem;

	nla_for_each_nested(pos, nla, rem)
		last = pos;
	ck_assert_ptr_nonnull(last);
	return last;
}

/*
 * Parses the first @len bytes of @nlh from a buffer of exactly that size,
 * nlmsg_len set to match, so that ASan sees any read beyond.
 */
static int parse_vm_len(const struct nlmsghdr *nlh, size_t len,
			struct esxmem_vm_info *vm)
{
	struct nlmsghdr *copy = malloc(len);
	int err;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, nlh, len);
	copy->nlmsg_len = len;
	err = esxmem_msg_parse_vm(copy, vm);
	free(copy);
	return err;
}

static void expect_cleared(const struct esxmem_vm_info *vm)
{
	ck_assert_ptr_null(vm->slots);
	ck_assert_uint_eq(vm->nr_slots, 0);
	ck_assert_uint_eq(vm->id, 0);
}

START_TEST(parse_vm_full)
{
	struct nl_msg *msg = full_vm();
	struct esxmem_vm_info vm;

	ck_assert_int_eq(parse_vm_len(nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len,
				      &vm), 0);
	check_full_vm(&vm);
	esxmem_vm_info_clear(&vm);
	expect_cleared(&vm);
	nlmsg_free(msg);
}
END_TEST

/*
 * A VM read again in one group (esxmem_vm_refresh_fields()) takes that
 * group from the reply, the values computed from it too, and keeps the
 * others.
 */
START_TEST(take_one_group_keeps_the_others)
{
	struct nl_msg *msg = full_vm();
	struct esxmem_vm_info vm, fresh;
	const struct esxmem_slot_info *slots;
	unsigned int s;

	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), 0);
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &fresh), 0);
	slots = esxmem_vm_slot(&vm, 0);
	/* The reply of USAGE alone: other groups' values absent, states changed. */
	memset(fresh.values, 0, sizeof(fresh.values));
	fresh.name[0] = '\0';
	fresh.kvm_attached = false;
	fresh.values[ESXMEM_VM_CONSUMED_PAGES] = 5;
	for (s = 0; s < ESXMEM_PAGE_NR_STATES; s++)
		fresh.state_pages[s] = s + 1;
	esxmem_vm_info_take(&vm, &fresh, ESXMEM_VM_FIELDS_USAGE);

	ck_assert_uint_eq(esxmem_vm_value(&vm, ESXMEM_VM_CONSUMED_PAGES), 5);
	ck_assert_uint_eq(esxmem_vm_value(&vm, ESXMEM_VM_ACTIVE_PPM), 0);
	for (s = 0; s < ESXMEM_PAGE_NR_STATES; s++)
		ck_assert_uint_eq(esxmem_vm_state_pages(&vm, s), s + 1);
	ck_assert_uint_eq(esxmem_vm_value(&vm, ESXMEM_VM_GRANTED_PAGES),
			  ESXMEM_PAGE_PRIVATE + 1 + ESXMEM_PAGE_SHARED + 1 + ESXMEM_PAGE_ZERO + 1);
	/* CONFIG, COUNTERS and SLOTS as they were. */
	ck_assert_str_eq(esxmem_vm_name(&vm), "web-1");
	ck_assert(esxmem_vm_kvm_attached(&vm));
	ck_assert_uint_eq(esxmem_vm_value(&vm, ESXMEM_VM_SHARES),
			  full_vm_values[ESXMEM_VM_SHARES]);
	ck_assert_uint_eq(esxmem_vm_value(&vm, ESXMEM_VM_SIZE_PAGES),
			  full_vm_values[ESXMEM_VM_SIZE_PAGES]);
	ck_assert_uint_eq(esxmem_vm_value(&vm, ESXMEM_VM_FAULTS),
			  full_vm_values[ESXMEM_VM_FAULTS]);
	ck_assert_ptr_eq(esxmem_vm_slot(&vm, 0), slots);
	ck_assert_uint_eq(esxmem_vm_nr_slots(&vm), ESXMEM_ARRAY_SIZE(slots3));

	/* SLOTS: the reply's slot list moves over. */
	slots = esxmem_vm_slot(&fresh, 0);
	esxmem_vm_info_take(&vm, &fresh, ESXMEM_VM_FIELDS_SLOTS);
	ck_assert_ptr_eq(esxmem_vm_slot(&vm, 0), slots);
	ck_assert_ptr_null(esxmem_vm_slot(&fresh, 0));
	ck_assert_uint_eq(esxmem_vm_nr_slots(&fresh), 0);
	esxmem_vm_info_clear(&fresh);
	esxmem_vm_info_clear(&vm);
	nlmsg_free(msg);
}
END_TEST

START_TEST(parse_vm_nests_without_the_nested_flag)
{
	struct nl_msg *msg = full_vm();
	struct nlattr *vm_nest = top_attr(msg), *nla;
	struct esxmem_vm_info vm;
	int rem;

	vm_nest->nla_type &= ~NLA_F_NESTED;
	nla_for_each_nested(nla, vm_nest, rem)
		nla->nla_type &= ~NLA_F_NESTED;
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), 0);
	check_full_vm(&vm);
	esxmem_vm_info_clear(&vm);
	nlmsg_free(msg);
}
END_TEST

START_TEST(parse_vm_minimal)
{
	struct nl_msg *msg = reply(ESXMEM_CMD_GET_VM);
	struct esxmem_vm_info vm, zero;
	struct nlattr *nla = nest(msg, ESXMEM_A_VM);

	PUT(nla_put_u32(msg, ESXMEM_VM_A_ID, 3));
	end(msg, nla);
	memset(&vm, 0xff, sizeof(vm));
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), 0);
	memset(&zero, 0, sizeof(zero));
	zero.id = 3;
	zero.fields = ESXMEM_VM_FIELDS_ALL;
	ck_assert_mem_eq(&vm, &zero, sizeof(vm));	/* not attached, "" */
	esxmem_vm_info_clear(&vm);
	nlmsg_free(msg);
}
END_TEST

START_TEST(parse_vm_empty_slot_list)
{
	struct nl_msg *msg = reply(ESXMEM_CMD_GET_VM);
	struct nlattr *vm_nest = nest(msg, ESXMEM_A_VM);
	struct esxmem_vm_info vm;

	PUT(nla_put_u32(msg, ESXMEM_VM_A_ID, 3));
	end(msg, nest(msg, ESXMEM_VM_A_SLOTS));
	end(msg, vm_nest);
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), 0);
	ck_assert_uint_eq(vm.nr_slots, 0);
	ck_assert_ptr_null(vm.slots);
	nlmsg_free(msg);
}
END_TEST

/* A newer module's attributes, at every level, do not disturb parsing. */
START_TEST(parse_vm_skips_newer_attributes)
{
	struct nl_msg *msg = reply(ESXMEM_CMD_GET_VM);
	struct nlattr *vm_nest, *st, *sl, *slot;
	struct esxmem_vm_info vm;

	vm_nest = nest(msg, ESXMEM_A_VM);
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ID, 11));
	PUT(nla_put(msg, ESXMEM_VM_A_MAX + 1, 5, "abcde"));
	PUT(nla_put_u64(msg, ESXMEM_VM_A_MAX + 9, 1));
	st = nest(msg, ESXMEM_VM_A_STATE_PAGES);
	PUT(nla_put_u64(msg, ESXMEM_PAGE_PRIVATE + 1, 77));
	PUT(nla_put_u32(msg, ESXMEM_STATE_PAGES_A_PAD + 1, 5));
	end(msg, st);
	sl = nest(msg, ESXMEM_VM_A_SLOTS);
	slot = nest(msg, ESXMEM_SLOT);
	PUT(nla_put_u32(msg, ESXMEM_SLOT_A_ID, 1));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_BASE_GFN, 2));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_NPAGES, 3));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_OFFSET, 4));
	PUT(nla_put_u8(msg, ESXMEM_SLOT_A_MAX + 1, 9));
	end(msg, slot);
	end(msg, sl);
	end(msg, vm_nest);
	PUT(nla_put_u32(msg, ESXMEM_A_MAX + 1, 0));
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), 0);
	ck_assert_uint_eq(vm.id, 11);
	ck_assert_uint_eq(vm.state_pages[ESXMEM_PAGE_PRIVATE], 77);
	ck_assert_uint_eq(vm.nr_slots, 1);
	ck_assert_uint_eq(vm.slots[0].offset, 4);
	esxmem_vm_info_clear(&vm);
	nlmsg_free(msg);
}
END_TEST

/* As many complete slots as a VM nest, 16-bit long, can hold. */
START_TEST(parse_vm_most_slots)
{
	struct nlattr *vm_nest, *sl;
	struct esxmem_vm_info vm;
	struct nl_msg *msg;
	size_t i;

	msg = reply(ESXMEM_CMD_GET_VM);
	vm_nest = nest(msg, ESXMEM_A_VM);
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ID, 1));
	sl = nest(msg, ESXMEM_VM_A_SLOTS);
	for (i = 0; i < ESXMEM_MSG_MAX_SLOTS; i++) {
		struct nlattr *slot = nest(msg, ESXMEM_SLOT);

		PUT(nla_put_u32(msg, ESXMEM_SLOT_A_ID, i));
		PUT(nla_put_u64(msg, ESXMEM_SLOT_A_BASE_GFN, i << 20));
		PUT(nla_put_u64(msg, ESXMEM_SLOT_A_NPAGES, 1));
		PUT(nla_put_u64(msg, ESXMEM_SLOT_A_OFFSET, i));
		end(msg, slot);
	}
	end(msg, sl);
	ck_assert_int_le(sl->nla_len, UINT16_MAX);
	end(msg, vm_nest);
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), 0);
	ck_assert_uint_eq(vm.nr_slots, ESXMEM_MSG_MAX_SLOTS);
	ck_assert_uint_eq(vm.slots[ESXMEM_MSG_MAX_SLOTS - 1].offset,
			  ESXMEM_MSG_MAX_SLOTS - 1);
	esxmem_vm_info_clear(&vm);
	nlmsg_free(msg);
}
END_TEST

static struct nl_msg *pool_reply(uint8_t cmd, uint32_t state, int64_t free_pages)
{
	struct nl_msg *msg = reply(cmd);
	struct nlattr *nla = nest(msg, ESXMEM_A_POOL);

	PUT(nla_put_u64(msg, ESXMEM_POOL_A_PAGES, 0x200000000ULL));
	PUT(nla_put_u64(msg, ESXMEM_POOL_A_USED_PAGES, 0x1ffff0000ULL));
	pad(msg, ESXMEM_POOL_A_PAD);
	PUT(nla_put_s64(msg, ESXMEM_POOL_A_FREE_PAGES, free_pages));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_STATE, state));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_HIGH_PERMILLE, 60));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_SOFT_PERMILLE, 40));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_HARD_PERMILLE, 20));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_LOW_PERMILLE, 10));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_FAULT_WAIT_MS, 1000));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_OBJECTS, 12));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_SAMPLE_SECS, 30));
	PUT(nla_put_u32(msg, ESXMEM_POOL_A_SAMPLE_PAGES, 400));
	end(msg, nla);
	return msg;
}

START_TEST(parse_pool)
{
	struct nl_msg *msg = pool_reply(ESXMEM_CMD_GET_POOL, ESXMEM_STATE_LOW,
					-4096);
	struct esxmem_pool_info pool;

	ck_assert_int_eq(esxmem_msg_parse_pool(nlmsg_hdr(msg), &pool), 0);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_PAGES), 0x200000000ULL);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_USED_PAGES), 0x1ffff0000ULL);
	ck_assert_int_eq(esxmem_pool_free_pages(&pool), -4096);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_STATE), ESXMEM_STATE_LOW);
	ck_assert_uint_eq(esxmem_pool_permille(&pool, ESXMEM_STATE_HIGH), 60);
	ck_assert_uint_eq(esxmem_pool_permille(&pool, ESXMEM_STATE_SOFT), 40);
	ck_assert_uint_eq(esxmem_pool_permille(&pool, ESXMEM_STATE_HARD), 20);
	ck_assert_uint_eq(esxmem_pool_permille(&pool, ESXMEM_STATE_LOW), 10);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_HIGH_PERMILLE), 60);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_SOFT_PERMILLE), 40);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_HARD_PERMILLE), 20);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_LOW_PERMILLE), 10);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_FAULT_WAIT_MS), 1000);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_OBJECTS), 12);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_SAMPLE_SECS), 30);
	ck_assert_uint_eq(esxmem_pool_value(&pool, ESXMEM_POOL_SAMPLE_PAGES), 400);
	nlmsg_free(msg);
}
END_TEST

START_TEST(parse_pool_rejects_unknown_state)
{
	struct nl_msg *msg = pool_reply(ESXMEM_CMD_GET_POOL, ESXMEM_STATE_NR, 1);
	struct esxmem_pool_info pool;

	ck_assert_int_eq(esxmem_msg_parse_pool(nlmsg_hdr(msg), &pool), -EPROTO);
	nlmsg_free(msg);
}
END_TEST

/* ---- events ----------------------------------------------------------------- */

static struct nl_msg *event_state(uint32_t state, int64_t free_pages,
				  bool with_free)
{
	struct nl_msg *msg = reply(ESXMEM_CMD_EVENT_STATE);
	struct nlattr *nla = nest(msg, ESXMEM_A_POOL);

	PUT(nla_put_u32(msg, ESXMEM_POOL_A_STATE, state));
	if (with_free)
		PUT(nla_put_s64(msg, ESXMEM_POOL_A_FREE_PAGES, free_pages));
	end(msg, nla);
	return msg;
}

static struct nl_msg *event_vm(uint8_t cmd, uint32_t id, bool with_owner)
{
	struct nl_msg *msg = reply(cmd);
	struct nlattr *nla = nest(msg, ESXMEM_A_VM);

	PUT(nla_put_u32(msg, ESXMEM_VM_A_ID, id));
	if (with_owner)
		PUT(nla_put_u32(msg, ESXMEM_VM_A_OWNER_PID, 999));
	end(msg, nla);
	return msg;
}

START_TEST(parse_each_event)
{
	struct esxmem_event ev;
	struct nl_msg *msg;

	msg = event_state(ESXMEM_STATE_HARD, -12, true);
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), 0);
	ck_assert_uint_eq(ev.type, ESXMEM_CMD_EVENT_STATE);
	ck_assert_uint_eq(ev.state, ESXMEM_STATE_HARD);
	ck_assert_int_eq(ev.free_pages, -12);
	ck_assert_uint_eq(ev.vm_id, 0);
	ck_assert_uint_eq(ev.owner_pid, 0);
	nlmsg_free(msg);

	msg = event_vm(ESXMEM_CMD_EVENT_VM_NEW, 21, true);
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), 0);
	ck_assert_uint_eq(ev.type, ESXMEM_CMD_EVENT_VM_NEW);
	ck_assert_uint_eq(ev.vm_id, 21);
	ck_assert_uint_eq(ev.owner_pid, 999);
	ck_assert_uint_eq(ev.state, 0);
	ck_assert_int_eq(ev.free_pages, 0);
	nlmsg_free(msg);

	msg = event_vm(ESXMEM_CMD_EVENT_VM_DEL, 22, false);
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), 0);
	ck_assert_uint_eq(ev.type, ESXMEM_CMD_EVENT_VM_DEL);
	ck_assert_uint_eq(ev.vm_id, 22);
	ck_assert_uint_eq(ev.owner_pid, 0);
	nlmsg_free(msg);
}
END_TEST

START_TEST(parse_event_rejects_incomplete_events)
{
	struct esxmem_event ev;
	struct nl_msg *msg;

	msg = event_state(ESXMEM_STATE_HARD, 0, false);		/* no FREE_PAGES */
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), -EPROTO);
	ck_assert_uint_eq(ev.type, 0);
	nlmsg_free(msg);

	msg = event_state(ESXMEM_STATE_NR, 0, true);		/* no such state */
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), -EPROTO);
	nlmsg_free(msg);

	msg = event_vm(ESXMEM_CMD_EVENT_VM_NEW, 1, false);	/* no OWNER_PID */
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), -EPROTO);
	nlmsg_free(msg);

	msg = reply(ESXMEM_CMD_EVENT_VM_DEL);			/* a POOL nest */
	end(msg, nest(msg, ESXMEM_A_POOL));
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), -EPROTO);
	nlmsg_free(msg);
}
END_TEST

START_TEST(parse_event_unknown_command)
{
	struct esxmem_event ev;
	struct nl_msg *msg;

	msg = event_vm(ESXMEM_CMD_MAX + 1, 1, true);
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), -ENOMSG);
	nlmsg_free(msg);
	msg = event_vm(ESXMEM_CMD_GET_VM, 1, true);
	ck_assert_int_eq(esxmem_msg_parse_event(nlmsg_hdr(msg), &ev), -ENOMSG);
	nlmsg_free(msg);
}
END_TEST

/* Appends @msg to a datagram being assembled in buf[*len]. */
static void append(void *buf, size_t size, size_t *len, struct nl_msg *msg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	size_t n = NLMSG_ALIGN(nlh->nlmsg_len);

	ck_assert_uint_le(*len + n, size);
	memcpy((char *)buf + *len, nlh, nlh->nlmsg_len);
	memset((char *)buf + *len + nlh->nlmsg_len, 0, n - nlh->nlmsg_len);
	*len += n;
	nlmsg_free(msg);
}

START_TEST(next_event_walks_a_datagram)
{
	static uint32_t buf[1024];
	struct nlmsghdr noop = { .nlmsg_len = NLMSG_HDRLEN,
				 .nlmsg_type = NLMSG_NOOP };
	struct esxmem_event ev;
	struct nl_msg *other;
	size_t len = 0, pos = 0;

	/* An event of another family, with the same command numbers. */
	other = event_state(ESXMEM_STATE_LOW, 1, true);
	nlmsg_hdr(other)->nlmsg_type = FAM + 1;
	append(buf, sizeof(buf), &len, other);
	memcpy((char *)buf + len, &noop, sizeof(noop));
	len += sizeof(noop);
	append(buf, sizeof(buf), &len, event_state(ESXMEM_STATE_SOFT, 5, true));
	append(buf, sizeof(buf), &len, event_vm(ESXMEM_CMD_MAX + 3, 1, true));
	append(buf, sizeof(buf), &len, event_vm(ESXMEM_CMD_EVENT_VM_NEW, 8, false));
	append(buf, sizeof(buf), &len, event_vm(ESXMEM_CMD_EVENT_VM_DEL, 9, false));

	ck_assert_int_eq(esxmem_msg_next_event(buf, len, &pos, FAM, &ev), 0);
	ck_assert_uint_eq(ev.type, ESXMEM_CMD_EVENT_STATE);
	ck_assert_uint_eq(ev.state, ESXMEM_STATE_SOFT);
	ck_assert_int_eq(ev.free_pages, 5);
	ck_assert_int_eq(esxmem_msg_next_event(buf, len, &pos, FAM, &ev), -EPROTO);
	ck_assert_int_eq(esxmem_msg_next_event(buf, len, &pos, FAM, &ev), 0);
	ck_assert_uint_eq(ev.type, ESXMEM_CMD_EVENT_VM_DEL);
	ck_assert_uint_eq(ev.vm_id, 9);
	ck_assert_int_eq(esxmem_msg_next_event(buf, len, &pos, FAM, &ev), -ENOMSG);
	ck_assert_uint_eq(pos, len);
	ck_assert_int_eq(esxmem_msg_next_event(buf, len, &pos, FAM, &ev), -ENOMSG);
}
END_TEST

START_TEST(next_event_stops_at_a_bad_header)
{
	static uint32_t buf[256];
	struct esxmem_event ev;
	size_t len = 0, pos = 0;
	struct nlmsghdr *bad;

	append(buf, sizeof(buf), &len, event_vm(ESXMEM_CMD_EVENT_VM_DEL, 4, false));
	bad = (struct nlmsghdr *)((char *)buf + len);
	bad->nlmsg_len = 4096;			/* beyond the datagram */
	bad->nlmsg_type = FAM;
	len += NLMSG_HDRLEN;
	append(buf, sizeof(buf), &len, event_vm(ESXMEM_CMD_EVENT_VM_DEL, 5, false));

	ck_assert_int_eq(esxmem_msg_next_event(buf, len, &pos, FAM, &ev), 0);
	ck_assert_uint_eq(ev.vm_id, 4);
	ck_assert_int_eq(esxmem_msg_next_event(buf, len, &pos, FAM, &ev), -EBADMSG);
	ck_assert_uint_eq(pos, len);

	pos = 0;		/* a tail too short for a header */
	ck_assert_int_eq(esxmem_msg_next_event(buf, 6, &pos, FAM, &ev), -EBADMSG);
	ck_assert_uint_eq(pos, 6);
}
END_TEST

/* ---- malformed replies ------------------------------------------------- */

/* A GET_VM reply whose VM nest holds ID 1 and then what @fill puts. */
static struct nl_msg *vm_with(void (*fill)(struct nl_msg *msg))
{
	struct nl_msg *msg = reply(ESXMEM_CMD_GET_VM);
	struct nlattr *nla = nest(msg, ESXMEM_A_VM);

	PUT(nla_put_u32(msg, ESXMEM_VM_A_ID, 1));
	fill(msg);
	end(msg, nla);
	return msg;
}

static int parse_vm_with(void (*fill)(struct nl_msg *msg))
{
	struct nl_msg *msg = vm_with(fill);
	struct esxmem_vm_info vm;
	int err;

	err = parse_vm_len(nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len, &vm);
	if (err)
		expect_cleared(&vm);
	esxmem_vm_info_clear(&vm);
	nlmsg_free(msg);
	return err;
}

static void fill_nothing(struct nl_msg *msg) { (void)msg; }
static void fill_id_again(struct nl_msg *msg)
{
	PUT(nla_put_u32(msg, ESXMEM_VM_A_ID, 2));
}
static void fill_shares_u64(struct nl_msg *msg)
{
	PUT(nla_put_u64(msg, ESXMEM_VM_A_SHARES, 1));
}
static void fill_shares_u16(struct nl_msg *msg)
{
	PUT(nla_put_u16(msg, ESXMEM_VM_A_SHARES, 1));
}
static void fill_min_pages_u32(struct nl_msg *msg)
{
	PUT(nla_put_u32(msg, ESXMEM_VM_A_MIN_PAGES, 1));
}
static void fill_name_unterminated(struct nl_msg *msg)
{
	PUT(nla_put(msg, ESXMEM_VM_A_NAME, 5, "web-1"));
}
static void fill_name_empty(struct nl_msg *msg)
{
	PUT(nla_put(msg, ESXMEM_VM_A_NAME, 0, NULL));
}
static void fill_name_too_long(struct nl_msg *msg)
{
	char name[ESXMEM_VM_NAME_MAX + 1];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	PUT(nla_put(msg, ESXMEM_VM_A_NAME, sizeof(name), name));
}
static void fill_name_longest(struct nl_msg *msg)
{
	char name[ESXMEM_VM_NAME_MAX];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	PUT(nla_put(msg, ESXMEM_VM_A_NAME, sizeof(name), name));
}
static void fill_type_zero(struct nl_msg *msg)
{
	PUT(nla_put_u32(msg, ESXMEM_VM_A_UNSPEC, 1));
}
static void fill_kvm_fd(struct nl_msg *msg)
{
	PUT(nla_put_s32(msg, ESXMEM_VM_A_KVM_FD, 3));
}
static void fill_fields(struct nl_msg *msg)
{
	PUT(nla_put_u32(msg, ESXMEM_VM_A_FIELDS, ESXMEM_VM_FIELDS_ALL));
}
static void fill_garbage_tail(struct nl_msg *msg)
{
	void *tail = nlmsg_reserve(msg, 4, NLMSG_ALIGNTO);

	ck_assert_ptr_nonnull(tail);
	memset(tail, 0xff, 4);		/* nla_len 0xffff */
}
static void fill_state_u32(struct nl_msg *msg)
{
	struct nlattr *nla = nest(msg, ESXMEM_VM_A_STATE_PAGES);

	PUT(nla_put_u32(msg, ESXMEM_PAGE_ZERO + 1, 1));
	end(msg, nla);
}
static void fill_state_type_zero(struct nl_msg *msg)
{
	struct nlattr *nla = nest(msg, ESXMEM_VM_A_STATE_PAGES);

	PUT(nla_put_u64(msg, 0, 1));
	end(msg, nla);
}
static void fill_state_not_nested(struct nl_msg *msg)
{
	PUT(nla_put_u32(msg, ESXMEM_VM_A_STATE_PAGES, 1));
}
static void fill_slot_wrong_type(struct nl_msg *msg)
{
	struct nlattr *sl = nest(msg, ESXMEM_VM_A_SLOTS);

	put_slot(msg, &slots3[0]);
	end(msg, nest(msg, ESXMEM_SLOT + 1));
	end(msg, sl);
}
static void fill_slot_incomplete(struct nl_msg *msg)
{
	struct nlattr *sl = nest(msg, ESXMEM_VM_A_SLOTS);
	struct nlattr *slot = nest(msg, ESXMEM_SLOT);

	PUT(nla_put_u32(msg, ESXMEM_SLOT_A_ID, 1));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_BASE_GFN, 2));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_OFFSET, 4));	/* no NPAGES */
	end(msg, slot);
	end(msg, sl);
}
static void fill_slot_short_gfn(struct nl_msg *msg)
{
	struct nlattr *sl = nest(msg, ESXMEM_VM_A_SLOTS);
	struct nlattr *slot = nest(msg, ESXMEM_SLOT);

	PUT(nla_put_u32(msg, ESXMEM_SLOT_A_ID, 1));
	PUT(nla_put_u32(msg, ESXMEM_SLOT_A_BASE_GFN, 2));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_NPAGES, 3));
	PUT(nla_put_u64(msg, ESXMEM_SLOT_A_OFFSET, 4));
	end(msg, slot);
	end(msg, sl);
}
/*
 * One entry more than can be valid. Each is short enough to fit and
 * malformed (a u64 ID), so that -EPROTO shows the count was refused before
 * any entry was parsed.
 */
static void fill_too_many_slots(struct nl_msg *msg)
{
	struct nlattr *sl = nest(msg, ESXMEM_VM_A_SLOTS);
	size_t i;

	for (i = 0; i <= ESXMEM_MSG_MAX_SLOTS; i++) {
		struct nlattr *slot = nest(msg, ESXMEM_SLOT);

		PUT(nla_put_u64(msg, ESXMEM_SLOT_A_ID, i));
		end(msg, slot);
	}
	end(msg, sl);
}

START_TEST(malformed_attributes_are_refused)
{
	static const struct {
		const char *what;
		void (*fill)(struct nl_msg *msg);
		int err;
	} cases[] = {
		{ "nothing (a control)",	fill_nothing,		0 },
		{ "longest name (a control)",	fill_name_longest,	0 },
		{ "ID twice",			fill_id_again,		-EPROTO },
		{ "u32 sent as u64",		fill_shares_u64,	-EBADMSG },
		{ "u32 sent as u16",		fill_shares_u16,	-EBADMSG },
		{ "u64 sent as u32",		fill_min_pages_u32,	-EBADMSG },
		{ "name without NUL",		fill_name_unterminated,	-EBADMSG },
		{ "empty name attribute",	fill_name_empty,	-EBADMSG },
		{ "name too long",		fill_name_too_long,	-EBADMSG },
		{ "attribute type 0",		fill_type_zero,		-EPROTO },
		{ "request-only KVM_FD",	fill_kvm_fd,		-EPROTO },
		{ "request-only FIELDS",	fill_fields,		-EPROTO },
		{ "bytes left over",		fill_garbage_tail,	-EBADMSG },
		{ "state count as u32",		fill_state_u32,		-EBADMSG },
		{ "state type 0",		fill_state_type_zero,	-EPROTO },
		{ "state list not a nest",	fill_state_not_nested,	-EBADMSG },
		{ "slot entry of another type",	fill_slot_wrong_type,	-EPROTO },
		{ "slot without NPAGES",	fill_slot_incomplete,	-EPROTO },
		{ "slot gfn as u32",		fill_slot_short_gfn,	-EBADMSG },
		{ "too many slots",		fill_too_many_slots,	-EPROTO },
	};
	size_t i;

	for (i = 0; i < ESXMEM_ARRAY_SIZE(cases); i++)
		ck_assert_msg(parse_vm_with(cases[i].fill) == cases[i].err,
			      "%s: expected %d", cases[i].what, cases[i].err);
}
END_TEST

START_TEST(missing_or_misplaced_vm_nest)
{
	struct esxmem_vm_info vm;
	struct nl_msg *msg;

	msg = reply(ESXMEM_CMD_GET_VM);				/* nothing */
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EPROTO);
	expect_cleared(&vm);
	nlmsg_free(msg);

	msg = pool_reply(ESXMEM_CMD_GET_VM, 0, 0);		/* the pool */
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EPROTO);
	nlmsg_free(msg);

	msg = full_vm();					/* and the pool */
	end(msg, nest(msg, ESXMEM_A_POOL));
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EPROTO);
	expect_cleared(&vm);
	nlmsg_free(msg);

	msg = reply(ESXMEM_CMD_GET_VM);				/* no ID */
	end(msg, nest(msg, ESXMEM_A_VM));
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EPROTO);
	nlmsg_free(msg);

	msg = reply(ESXMEM_CMD_GET_VM);				/* not a nest */
	PUT(nla_put_u32(msg, ESXMEM_A_VM, 1));
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EBADMSG);
	nlmsg_free(msg);

	msg = full_vm();					/* pool parser */
	ck_assert_int_eq(esxmem_msg_parse_pool(nlmsg_hdr(msg),
			 &(struct esxmem_pool_info){ 0 }), -EPROTO);
	nlmsg_free(msg);
}
END_TEST

START_TEST(truncated_nests)
{
	struct esxmem_vm_info vm;
	struct nl_msg *msg;
	struct nlattr *nla;

	/* The VM nest claims more than the message holds. */
	msg = full_vm();
	top_attr(msg)->nla_len += 4;
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EBADMSG);
	expect_cleared(&vm);
	nlmsg_free(msg);

	/* The slot list runs past the VM nest. */
	msg = full_vm();
	last_in(top_attr(msg))->nla_len += 8;
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EBADMSG);
	nlmsg_free(msg);

	/* The last slot's last attribute runs past its slot. */
	msg = full_vm();
	nla = last_in(last_in(last_in(top_attr(msg))));
	nla->nla_len += 4;
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EBADMSG);
	expect_cleared(&vm);
	nlmsg_free(msg);

	/* An attribute shorter than its own header. */
	msg = full_vm();
	nla = nla_data(top_attr(msg));
	nla->nla_len = 2;
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), &vm), -EBADMSG);
	nlmsg_free(msg);
}
END_TEST

/* Every proper prefix of a reply fails; none is read beyond its end. */
START_TEST(every_truncation_fails)
{
	struct nl_msg *msgs[] = {
		full_vm(),
		pool_reply(ESXMEM_CMD_GET_POOL, ESXMEM_STATE_HIGH, 1),
		event_state(ESXMEM_STATE_HIGH, 1, true),
	};
	struct esxmem_pool_info pool;
	struct esxmem_event ev;
	struct esxmem_vm_info vm;
	struct nlmsghdr *copy;
	size_t i, len, full;

	for (len = 0; len < nlmsg_hdr(msgs[0])->nlmsg_len; len++) {
		if (len < NLMSG_HDRLEN)
			continue;	/* the caller guarantees the header */
		ck_assert_msg(parse_vm_len(nlmsg_hdr(msgs[0]), len, &vm) < 0,
			      "a VM reply cut to %zu bytes parsed", len);
		expect_cleared(&vm);
	}
	ck_assert_int_eq(parse_vm_len(nlmsg_hdr(msgs[0]),
				      nlmsg_hdr(msgs[0])->nlmsg_len, &vm), 0);
	esxmem_vm_info_clear(&vm);

	for (i = 1; i < ESXMEM_ARRAY_SIZE(msgs); i++) {
		full = nlmsg_hdr(msgs[i])->nlmsg_len;
		for (len = NLMSG_HDRLEN; len <= full; len++) {
			copy = malloc(len);
			ck_assert_ptr_nonnull(copy);
			memcpy(copy, nlmsg_hdr(msgs[i]), len);
			copy->nlmsg_len = len;
			if (i == 1)
				ck_assert_int_eq(esxmem_msg_parse_pool(copy, &pool) < 0,
						 len < full);
			else
				ck_assert_int_eq(esxmem_msg_parse_event(copy, &ev) < 0,
						 len < full);
			free(copy);
		}
	}
	for (i = 0; i < ESXMEM_ARRAY_SIZE(msgs); i++)
		nlmsg_free(msgs[i]);
}
END_TEST

/* Random corruption of a full reply: whatever the result, no crash. */
START_TEST(corrupted_replies_never_crash)
{
	struct nl_msg *msg = full_vm();
	struct nlmsghdr *orig = nlmsg_hdr(msg), *copy;
	size_t len = orig->nlmsg_len, i;
	struct esxmem_pool_info pool;
	struct esxmem_event ev;
	struct esxmem_vm_info vm;
	uint32_t rnd = 12345;
	int round, flips, err, ok = 0;

	copy = malloc(len);
	ck_assert_ptr_nonnull(copy);
	for (round = 0; round < 20000; round++) {
		memcpy(copy, orig, len);
		for (flips = 1 + round % 4; flips > 0; flips--) {
			rnd = rnd * 1103515245 + 12345;
			i = sizeof(copy->nlmsg_len) + (rnd >> 8) % (len - 4);
			((unsigned char *)copy)[i] ^= 1u << (rnd >> 28 & 7);
		}
		err = esxmem_msg_parse_vm(copy, &vm);
		if (err)
			expect_cleared(&vm);
		else
			ok++;
		ck_assert(vm.nr_slots == 0 || vm.slots);
		ck_assert_int_eq(vm.name[sizeof(vm.name) - 1], '\0');
		esxmem_vm_info_clear(&vm);
		(void)esxmem_msg_parse_pool(copy, &pool);
		(void)esxmem_msg_parse_event(copy, &ev);
	}
	ck_assert_int_gt(ok, 0);	/* flips in values still parse */
	free(copy);
	nlmsg_free(msg);
}
END_TEST

/* ---- acks, errors and the end of a dump ------------------------------ */

/*
 * An NLMSG_ERROR carrying @error; the request echoed back with @echo bytes
 * of payload unless capped; then, if @text, NLMSGERR_ATTR_OFFS and
 * NLMSGERR_ATTR_MSG.
 */
static struct nl_msg *error_msg(int error, bool capped, size_t echo,
				const char *text)
{
	struct nl_msg *msg;
	struct nlmsgerr e = { .error = error };
	char payload[64];
	int flags = 0;

	if (capped)
		flags |= NLM_F_CAPPED;
	if (text)
		flags |= NLM_F_ACK_TLVS;
	msg = nlmsg_alloc_simple(NLMSG_ERROR, flags);
	ck_assert_ptr_nonnull(msg);
	e.msg.nlmsg_len = NLMSG_HDRLEN + echo;
	e.msg.nlmsg_type = FAM;
	PUT(nlmsg_append(msg, &e, sizeof(e), NLMSG_ALIGNTO));
	if (!capped && echo) {
		ck_assert_uint_le(echo, sizeof(payload));
		memset(payload, 0x5a, sizeof(payload));
		PUT(nlmsg_append(msg, payload, echo, NLMSG_ALIGNTO));
	}
	if (text) {
		PUT(nla_put_u32(msg, NLMSGERR_ATTR_OFFS, 20));
		PUT(nla_put_string(msg, NLMSGERR_ATTR_MSG, text));
	}
	return msg;
}

static struct nl_msg *done_msg(int error, const char *text, bool payload)
{
	struct nl_msg *msg;

	msg = nlmsg_alloc_simple(NLMSG_DONE,
				 NLM_F_MULTI | (text ? NLM_F_ACK_TLVS : 0));
	ck_assert_ptr_nonnull(msg);
	if (payload)
		PUT(nlmsg_append(msg, &error, sizeof(error), NLMSG_ALIGNTO));
	if (text)
		PUT(nla_put_string(msg, NLMSGERR_ATTR_MSG, text));
	return msg;
}

static int status(struct nl_msg *msg, int *error, char *text, size_t size)
{
	int ret;

	*error = 12345;
	strcpy(text, "untouched");
	ret = esxmem_msg_reply_status(nlmsg_hdr(msg), error, text, size);
	nlmsg_free(msg);
	return ret;
}

START_TEST(status_of_acks_and_errors)
{
	char text[64];
	int error;

	ck_assert_int_eq(status(error_msg(0, true, 0, NULL), &error, text,
				sizeof(text)), 1);
	ck_assert_int_eq(error, 0);
	ck_assert_str_eq(text, "untouched");

	ck_assert_int_eq(status(error_msg(-ENOENT, true, 0, NULL), &error,
				text, sizeof(text)), 1);
	ck_assert_int_eq(error, -ENOENT);
	ck_assert_str_eq(text, "untouched");

	ck_assert_int_eq(status(error_msg(-EINVAL, true, 36, "bad shares"),
				&error, text, sizeof(text)), 1);
	ck_assert_int_eq(error, -EINVAL);
	ck_assert_str_eq(text, "bad shares");

	/* Uncapped: the whole request (of unaligned length) comes back. */
	ck_assert_int_eq(status(error_msg(-ERANGE, false, 37, "out of range"),
				&error, text, sizeof(text)), 1);
	ck_assert_int_eq(error, -ERANGE);
	ck_assert_str_eq(text, "out of range");

	ck_assert_int_eq(status(error_msg(-EPERM, true, 0, "a long message"),
				&error, text, 7), 1);
	ck_assert_str_eq(text, "a long");		/* truncated */

	ck_assert_int_eq(status(error_msg(EIO, true, 0, NULL), &error, text,
				sizeof(text)), 1);
	ck_assert_int_eq(error, -EPROTO);		/* not an errno */
}
END_TEST

START_TEST(status_of_bad_errors)
{
	struct nl_msg *msg;
	struct nlmsgerr *e;
	char text[64];
	int error = -EIO;

	/* Too short for struct nlmsgerr. */
	msg = nlmsg_alloc_simple(NLMSG_ERROR, 0);
	PUT(nlmsg_append(msg, &error, sizeof(error), NLMSG_ALIGNTO));
	ck_assert_int_eq(status(msg, &error, text, sizeof(text)), -EBADMSG);

	/* The echoed request claims more than there is: no text, still an error. */
	msg = error_msg(-EBUSY, false, 8, "hidden");
	e = nlmsg_data(nlmsg_hdr(msg));
	e->msg.nlmsg_len = 100000;
	ck_assert_int_eq(status(msg, &error, text, sizeof(text)), 1);
	ck_assert_int_eq(error, -EBUSY);
	ck_assert_str_eq(text, "untouched");

	/* The echoed request claims less than a header. */
	msg = error_msg(-EBUSY, false, 0, "hidden");
	e = nlmsg_data(nlmsg_hdr(msg));
	e->msg.nlmsg_len = 3;
	ck_assert_int_eq(status(msg, &error, text, sizeof(text)), 1);
	ck_assert_int_eq(error, -EBUSY);
	ck_assert_str_eq(text, "untouched");

	/* An unterminated message attribute is ignored. */
	msg = nlmsg_alloc_simple(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS);
	PUT(nlmsg_append(msg, &(struct nlmsgerr){ .error = -EINVAL },
			 sizeof(struct nlmsgerr), NLMSG_ALIGNTO));
	PUT(nla_put(msg, NLMSGERR_ATTR_MSG, 3, "abc"));
	ck_assert_int_eq(status(msg, &error, text, sizeof(text)), 1);
	ck_assert_int_eq(error, -EINVAL);
	ck_assert_str_eq(text, "untouched");
}
END_TEST

START_TEST(status_of_dump_ends_and_data)
{
	struct nlmsghdr hdr = { .nlmsg_len = NLMSG_HDRLEN };
	char text[64];
	int error;

	ck_assert_int_eq(status(done_msg(0, NULL, true), &error, text,
				sizeof(text)), 1);
	ck_assert_int_eq(error, 0);
	ck_assert_int_eq(status(done_msg(0, NULL, false), &error, text,
				sizeof(text)), 1);
	ck_assert_int_eq(error, 0);
	ck_assert_int_eq(status(done_msg(-EPERM, "dump refused", true), &error,
				text, sizeof(text)), 1);
	ck_assert_int_eq(error, -EPERM);
	ck_assert_str_eq(text, "dump refused");

	hdr.nlmsg_type = FAM;
	ck_assert_int_eq(esxmem_msg_reply_status(&hdr, &error, text,
						 sizeof(text)), 0);
	hdr.nlmsg_type = NLMSG_NOOP;
	ck_assert_int_eq(esxmem_msg_reply_status(&hdr, &error, text,
						 sizeof(text)), 0);
	hdr.nlmsg_type = NLMSG_OVERRUN;
	ck_assert_int_eq(esxmem_msg_reply_status(&hdr, &error, text,
						 sizeof(text)), 1);
	ck_assert_int_eq(error, -ENOBUFS);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

START_TEST(nle_codes_become_errno_values)
{
	static const struct { int nle, err; } known[] = {
		{ NLE_SUCCESS, 0 },		{ NLE_FAILURE, -EIO },
		{ NLE_INTR, -EINTR },		{ NLE_BAD_SOCK, -EBADF },
		{ NLE_AGAIN, -EAGAIN },		{ NLE_NOMEM, -ENOMEM },
		{ NLE_EXIST, -EEXIST },		{ NLE_INVAL, -EINVAL },
		{ NLE_RANGE, -ERANGE },		{ NLE_MSGSIZE, -EMSGSIZE },
		{ NLE_OPNOTSUPP, -EOPNOTSUPP },
		{ NLE_OBJ_NOTFOUND, -ENOENT },	{ NLE_MISSING_ATTR, -EPROTO },
		{ NLE_SEQ_MISMATCH, -EPROTO },	{ NLE_MSG_OVERFLOW, -ENOBUFS },
		{ NLE_MSG_TRUNC, -EBADMSG },	{ NLE_MSG_TOOSHORT, -EBADMSG },
		{ NLE_BUSY, -EBUSY },		{ NLE_NOACCESS, -EACCES },
		{ NLE_PERM, -EPERM },		{ NLE_NODEV, -ENODEV },
		{ NLE_DUMP_INTR, -EAGAIN },	{ NLE_ATTRSIZE, -EMSGSIZE },
	};
	size_t i;
	int nle;

	for (i = 0; i < ESXMEM_ARRAY_SIZE(known); i++) {
		ck_assert_int_eq(esxmem_nl_errno(-known[i].nle), known[i].err);
		ck_assert_int_eq(esxmem_nl_errno(known[i].nle), known[i].err);
	}
	/* Every code maps to an errno value; only success to 0. */
	for (nle = 1; nle <= NLE_MAX; nle++) {
		ck_assert_int_lt(esxmem_nl_errno(-nle), 0);
		ck_assert_int_gt(esxmem_nl_errno(-nle), -4096);
	}
	ck_assert_int_eq(esxmem_nl_errno(-(NLE_MAX + 1)), -EIO);
	ck_assert_int_eq(esxmem_nl_errno(INT_MIN), -EIO);
	ck_assert_int_eq(esxmem_nl_errno(INT_MAX), -EIO);
}
END_TEST

/* Where libnl folds one errno into a code, the code gives that errno back. */
START_TEST(nle_codes_invert_libnl)
{
	static const int errnos[] = {
		EBADF, EEXIST, EADDRNOTAVAIL, ENOENT, EINTR, EAGAIN, EACCES,
		EINVAL, ENOMEM, EAFNOSUPPORT, EPROTONOSUPPORT, EOPNOTSUPP,
		EPERM, EBUSY, ERANGE, ENODEV,
	};
	size_t i;

	for (i = 0; i < ESXMEM_ARRAY_SIZE(errnos); i++)
		ck_assert_int_eq(esxmem_nl_errno(-nl_syserr2nlerr(errnos[i])),
				 -errnos[i]);
}
END_TEST

START_TEST(strerror_texts)
{
	ck_assert_ptr_nonnull(strstr(esxmem_strerror(-EPERM), "CAP_NET_ADMIN"));
	ck_assert_ptr_nonnull(strstr(esxmem_strerror(-ENOENT), "modprobe esxmem"));
	ck_assert_str_eq(esxmem_strerror(EPERM), esxmem_strerror(-EPERM));
	ck_assert_str_eq(esxmem_strerror(0), "success");
	ck_assert_str_eq(esxmem_strerror(-EIO), "Input/output error");
	ck_assert_str_eq(esxmem_strerror(-99999), "unknown error");
	ck_assert_ptr_nonnull(esxmem_strerror(INT_MIN));
	ck_assert_ptr_nonnull(esxmem_strerror(-EBADMSG));
	ck_assert_ptr_nonnull(esxmem_strerror(-EPROTO));
}
END_TEST

START_TEST(api_refuses_null)
{
	struct esxmem_vm_info *vm, **vms;
	struct esxmem_pool_info *pool;
	const struct esxmem_event *ev;
	size_t n;

	ck_assert_int_eq(esxmem_open(NULL), -EINVAL);
	ck_assert_int_eq(esxmem_events_open(NULL), -EINVAL);
	ck_assert_int_eq(esxmem_vm_get(NULL, 1, &vm), -EINVAL);
	ck_assert_int_eq(esxmem_vm_list(NULL, &vms, &n), -EINVAL);
	ck_assert_int_eq(esxmem_vm_list_fields(NULL, ESXMEM_VM_FIELDS_ALL, &vms, &n), -EINVAL);
	ck_assert_ptr_null(vms);
	ck_assert_int_eq(esxmem_vm_list_fields(NULL, 0, NULL, &n), -EINVAL);
	ck_assert_int_eq(esxmem_vm_refresh_fields(NULL, NULL, ESXMEM_VM_FIELDS_USAGE), -EINVAL);
	ck_assert_int_eq(esxmem_vm_set(NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(esxmem_pool_get(NULL, &pool), -EINVAL);
	ck_assert_int_eq(esxmem_pool_set(NULL, NULL), -EINVAL);
	ck_assert_int_eq(esxmem_kvm_attach(NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(esxmem_kvm_detach(NULL, 1), -EINVAL);
	ck_assert_int_eq(esxmem_events_fd(NULL), -EINVAL);
	ck_assert_int_eq(esxmem_events_read(NULL, &ev), -EINVAL);
	ck_assert_str_eq(esxmem_errmsg(NULL), "");
	esxmem_close(NULL);
	esxmem_events_close(NULL);
	esxmem_vm_info_free(NULL);
	esxmem_vm_list_free(NULL, 0);
	esxmem_pool_info_free(NULL);
	ck_assert_int_eq(esxmem_vm_get(NULL, 1, NULL), -EINVAL);
	ck_assert_int_eq(esxmem_pool_get(NULL, NULL), -EINVAL);
	ck_assert_int_eq(esxmem_events_read(NULL, NULL), -EINVAL);
	ck_assert_int_eq(esxmem_vm_refresh(NULL, NULL), -EINVAL);
	ck_assert_int_eq(esxmem_vm_update(NULL, NULL, NULL), -EINVAL);
}
END_TEST

/* ---- the ABI: objects, getters and ids ---------------------------------- */

/* A VM object as esxmem_vm_get() makes one, from full_vm(). */
static struct esxmem_vm_info *full_vm_object(void)
{
	struct nl_msg *msg = full_vm();
	struct esxmem_vm_info *vm = malloc(sizeof(*vm));

	ck_assert_ptr_nonnull(vm);
	ck_assert_int_eq(esxmem_msg_parse_vm(nlmsg_hdr(msg), vm), 0);
	nlmsg_free(msg);
	return vm;
}

static struct esxmem_pool_info *pool_object(void)
{
	struct nl_msg *msg = pool_reply(ESXMEM_CMD_GET_POOL, ESXMEM_STATE_SOFT, -7);
	struct esxmem_pool_info *pool = malloc(sizeof(*pool));

	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(esxmem_msg_parse_pool(nlmsg_hdr(msg), pool), 0);
	nlmsg_free(msg);
	return pool;
}

START_TEST(getters_refuse_ids_they_do_not_know)
{
	static const unsigned int unknown[] = { 0, ESXMEM_VM_NR_VALUES,
						ESXMEM_VM_NR_VALUES + 1, 1000, UINT_MAX };
	static const unsigned int unknown_pool[] = { 0, ESXMEM_POOL_NR_VALUES, UINT_MAX };
	struct esxmem_vm_info *vm = full_vm_object();
	struct esxmem_pool_info *pool = pool_object();
	uint64_t value;
	size_t i;

	for (i = 0; i < ESXMEM_ARRAY_SIZE(unknown); i++) {
		value = 99;
		ck_assert_int_eq(esxmem_vm_value_get(vm, unknown[i], &value), -ERANGE);
		ck_assert_uint_eq(value, 99);		/* left alone */
		ck_assert_uint_eq(esxmem_vm_value(vm, unknown[i]), 0);
	}
	ck_assert_int_eq(esxmem_vm_value_get(vm, ESXMEM_VM_SHARES, NULL), -EINVAL);
	ck_assert_int_eq(esxmem_vm_value_get(NULL, ESXMEM_VM_SHARES, &value), -EINVAL);
	ck_assert_uint_eq(esxmem_vm_state_pages(vm, ESXMEM_PAGE_NR_STATES), 0);
	ck_assert_uint_eq(esxmem_vm_state_pages(vm, UINT_MAX), 0);
	ck_assert_ptr_null(esxmem_vm_slot(vm, esxmem_vm_nr_slots(vm)));
	ck_assert_ptr_null(esxmem_vm_slot(vm, SIZE_MAX));

	for (i = 0; i < ESXMEM_ARRAY_SIZE(unknown_pool); i++) {
		value = 99;
		ck_assert_int_eq(esxmem_pool_value_get(pool, unknown_pool[i], &value), -ERANGE);
		ck_assert_uint_eq(value, 99);
		ck_assert_uint_eq(esxmem_pool_value(pool, unknown_pool[i]), 0);
	}
	ck_assert_int_eq(esxmem_pool_value_get(pool, ESXMEM_POOL_PAGES, NULL), -EINVAL);
	ck_assert_int_eq(esxmem_pool_value_get(NULL, ESXMEM_POOL_PAGES, &value), -EINVAL);
	ck_assert_uint_eq(esxmem_pool_permille(pool, ESXMEM_STATE_NR), 0);
	ck_assert_uint_eq(esxmem_pool_permille(pool, UINT_MAX), 0);

	/* NULL objects read as zeros, as a VM that reported nothing. */
	ck_assert_uint_eq(esxmem_vm_id(NULL), 0);
	ck_assert_str_eq(esxmem_vm_name(NULL), "");
	ck_assert(!esxmem_vm_kvm_attached(NULL));
	ck_assert_uint_eq(esxmem_vm_value(NULL, ESXMEM_VM_SHARES), 0);
	ck_assert_uint_eq(esxmem_vm_state_pages(NULL, 0), 0);
	ck_assert_uint_eq(esxmem_vm_nr_slots(NULL), 0);
	ck_assert_ptr_null(esxmem_vm_slot(NULL, 0));
	ck_assert_uint_eq(esxmem_slot_base_gfn(NULL) + esxmem_slot_npages(NULL) +
			  esxmem_slot_offset(NULL) + esxmem_slot_id(NULL), 0);
	ck_assert_uint_eq(esxmem_pool_value(NULL, ESXMEM_POOL_PAGES), 0);
	ck_assert_int_eq(esxmem_pool_free_pages(NULL), 0);
	ck_assert_uint_eq(esxmem_pool_permille(NULL, ESXMEM_STATE_HIGH), 0);
	ck_assert_uint_eq(esxmem_event_type(NULL) + esxmem_event_vm_id(NULL) +
			  esxmem_event_owner_pid(NULL) + esxmem_event_state(NULL), 0);
	ck_assert_int_eq(esxmem_event_free_pages(NULL), 0);
	esxmem_vm_info_free(vm);
	esxmem_pool_info_free(pool);
}
END_TEST

/*
 * An object read with some groups of values: those read come out, the
 * others are -ENODATA (and 0), every value in exactly one group but
 * KVM_PID, which two carry.
 */
START_TEST(values_of_groups_not_read_are_missing)
{
	static const uint32_t groups[] = {
		ESXMEM_VM_FIELDS_CONFIG, ESXMEM_VM_FIELDS_USAGE, ESXMEM_VM_FIELDS_SLOTS,
		ESXMEM_VM_FIELDS_COUNTERS,
	};
	struct esxmem_vm_info *vm = full_vm_object();
	unsigned int what, in;
	uint64_t value;
	size_t g;

	ck_assert_uint_eq(vm->fields, ESXMEM_VM_FIELDS_ALL);
	for (what = 1; what < ESXMEM_VM_NR_VALUES; what++) {
		for (g = 0, in = 0; g < ESXMEM_ARRAY_SIZE(groups); g++) {
			vm->fields = groups[g];
			value = 99;
			if (!esxmem_vm_value_get(vm, what, &value)) {
				in++;
				ck_assert_uint_eq(value, full_vm_values[what]);
				continue;
			}
			ck_assert_int_eq(esxmem_vm_value_get(vm, what, &value), -ENODATA);
			ck_assert_uint_eq(value, 99);
			ck_assert_uint_eq(esxmem_vm_value(vm, what), 0);
		}
		ck_assert_msg(in == (what == ESXMEM_VM_KVM_PID ? 2 : 1),
			      "value %u is in %u groups", what, in);
	}
	vm->fields = ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_USAGE;
	ck_assert_int_eq(esxmem_vm_value_get(vm, ESXMEM_VM_SHARES, &value), 0);
	ck_assert_int_eq(esxmem_vm_value_get(vm, ESXMEM_VM_ACTIVE_PPM, &value), 0);
	ck_assert_int_eq(esxmem_vm_value_get(vm, ESXMEM_VM_FAULTS, &value), -ENODATA);
	vm->fields = 0;
	ck_assert_int_eq(esxmem_vm_value_get(vm, ESXMEM_VM_SHARES, &value), -ENODATA);
	ck_assert_int_eq(esxmem_vm_value_get(vm, ESXMEM_VM_NR_VALUES, &value), -ERANGE);
	esxmem_vm_info_free(vm);
}
END_TEST

START_TEST(every_pool_value_has_a_getter)
{
	static const uint64_t want[ESXMEM_POOL_NR_VALUES] = {
		[ESXMEM_POOL_PAGES] = 0x200000000ULL,
		[ESXMEM_POOL_USED_PAGES] = 0x1ffff0000ULL,
		[ESXMEM_POOL_STATE] = ESXMEM_STATE_SOFT,
		[ESXMEM_POOL_HIGH_PERMILLE] = 60, [ESXMEM_POOL_SOFT_PERMILLE] = 40,
		[ESXMEM_POOL_HARD_PERMILLE] = 20, [ESXMEM_POOL_LOW_PERMILLE] = 10,
		[ESXMEM_POOL_FAULT_WAIT_MS] = 1000, [ESXMEM_POOL_OBJECTS] = 12,
		[ESXMEM_POOL_SAMPLE_SECS] = 30, [ESXMEM_POOL_SAMPLE_PAGES] = 400,
	};
	struct esxmem_pool_info *pool = pool_object();
	unsigned int what;
	uint64_t value;

	for (what = 1; what < ESXMEM_POOL_NR_VALUES; what++) {
		ck_assert_msg(want[what] != 0, "pool value %u has no test figure", what);
		ck_assert_int_eq(esxmem_pool_value_get(pool, what, &value), 0);
		ck_assert_msg(value == want[what], "pool value %u: %llu, want %llu", what,
			      (unsigned long long)value, (unsigned long long)want[what]);
	}
	ck_assert_int_eq(esxmem_pool_free_pages(pool), -7);
	esxmem_pool_info_free(pool);
}
END_TEST

/*
 * esxmem_vm_update()'s bookkeeping: what the kernel accepted shows in the
 * object, and nothing else changes.
 */
START_TEST(recorded_settings_show_in_the_getters)
{
	struct esxmem_vm_info *vm = full_vm_object();
	struct esxmem_vm_settings s = {
		.set = ESXMEM_VM_SET_NAME | ESXMEM_VM_SET_TARGET_PAGES |
		       ESXMEM_VM_SET_SWAP_TARGET_PAGES | ESXMEM_VM_SET_SHARES,
		.name = "renamed", .target_pages = 77, .swap_target_pages = 88,
		.shares = 99, .min_pages = 1234,	/* not set: not recorded */
	};
	unsigned int what;

	esxmem_vm_info_record(vm, &s);
	ck_assert_str_eq(esxmem_vm_name(vm), "renamed");
	ck_assert_uint_eq(esxmem_vm_value(vm, ESXMEM_VM_TARGET_PAGES), 77);
	ck_assert_uint_eq(esxmem_vm_value(vm, ESXMEM_VM_SWAP_TARGET_PAGES), 88);
	ck_assert_uint_eq(esxmem_vm_value(vm, ESXMEM_VM_SHARES), 99);
	for (what = 1; what < ESXMEM_VM_NR_VALUES; what++)
		if (what != ESXMEM_VM_TARGET_PAGES && what != ESXMEM_VM_SWAP_TARGET_PAGES &&
		    what != ESXMEM_VM_SHARES)
			ck_assert_uint_eq(esxmem_vm_value(vm, what), full_vm_values[what]);
	ck_assert_uint_eq(esxmem_vm_nr_slots(vm), ESXMEM_ARRAY_SIZE(slots3));
	esxmem_vm_info_free(vm);
}
END_TEST

/*
 * A program built against an older header (one that knows fewer values
 * and smaller settings) reads this library's objects by the ids it knows,
 * which mean the same here, and finds everything where it expects it.
 */
START_TEST(older_program_reads_this_librarys_objects)
{
	struct esxmem_vm_info *vm = full_vm_object();
	struct esxmem_pool_info *pool = pool_object();
	struct older_vm_view seen;
	uint64_t pool_values[64] = { 0 };
	unsigned int what, nr;

	older_read_vm(vm, &seen);
	/* Else the copy of the header is not older: the test proves nothing. */
	ck_assert_uint_lt(seen.nr_values, ESXMEM_VM_NR_VALUES);
	ck_assert_uint_gt(seen.nr_values, ESXMEM_VM_ACTIVE_PPM);
	ck_assert_int_eq(seen.get_errors, 0);
	for (what = 1; what < seen.nr_values; what++)
		ck_assert_msg(seen.values[what] == full_vm_values[what],
			      "id %u: the older program read %llu, want %llu", what,
			      (unsigned long long)seen.values[what],
			      (unsigned long long)full_vm_values[what]);
	ck_assert_uint_eq(seen.id, 7);
	ck_assert_str_eq(seen.name, "web-1");
	ck_assert_uint_eq(seen.consumed_pages, full_vm_values[ESXMEM_VM_CONSUMED_PAGES]);
	ck_assert_uint_eq(seen.active_ppm, full_vm_values[ESXMEM_VM_ACTIVE_PPM]);
	ck_assert_uint_eq(seen.ballooned_pages, 0xa00000000ULL + ESXMEM_PAGE_BALLOONED);
	ck_assert_uint_eq(seen.nr_slots, ESXMEM_ARRAY_SIZE(slots3));
	ck_assert_uint_eq(seen.last_slot_npages, slots3[ESXMEM_ARRAY_SIZE(slots3) - 1].npages);

	nr = older_read_pool(pool, pool_values);
	ck_assert_uint_lt(nr, ESXMEM_POOL_NR_VALUES);
	for (what = 1; what < nr; what++)
		ck_assert_uint_eq(pool_values[what], esxmem_pool_value(pool, what));
	esxmem_vm_info_free(vm);
	esxmem_pool_info_free(pool);
}
END_TEST

/*
 * Its settings structs are smaller; the library reads only the fields
 * whose bits it set (under ASan, a read past the block fails the test).
 */
START_TEST(older_program_settings_are_read_only_as_far_as_their_bits)
{
	static const int vm_want[] = {
		ESXMEM_VM_A_ID, ESXMEM_VM_A_NAME, ESXMEM_VM_A_DOMAIN,
		ESXMEM_VM_A_SHARES, ESXMEM_VM_A_FLAGS, ESXMEM_VM_A_MIN_PAGES,
		ESXMEM_VM_A_MAX_PAGES, ESXMEM_VM_A_TARGET_PAGES,
	};
	static const int pool_want[] = {
		ESXMEM_POOL_A_PAGES, ESXMEM_POOL_A_FAULT_WAIT_MS,
		ESXMEM_POOL_A_HIGH_PERMILLE, ESXMEM_POOL_A_SOFT_PERMILLE,
		ESXMEM_POOL_A_HARD_PERMILLE, ESXMEM_POOL_A_LOW_PERMILLE,
	};
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1], *ptb[ESXMEM_POOL_A_MAX + 1];
	size_t size;
	void *s = older_vm_settings(&size);
	struct nl_msg *msg;

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_lt(size, sizeof(struct esxmem_vm_settings));
	ck_assert_int_eq(esxmem_msg_vm_set(FAM, 3, s, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_SET_VM, NLM_F_REQUEST | NLM_F_ACK,
				  ESXMEM_A_VM), tb, ESXMEM_VM_A_MAX, vm_want, 8);
	ck_assert_str_eq(nla_data(tb[ESXMEM_VM_A_NAME]), "older");
	ck_assert_uint_eq(u64_of(tb[ESXMEM_VM_A_TARGET_PAGES]), 15);
	nlmsg_free(msg);
	free(s);

	s = older_pool_settings(&size);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_lt(size, sizeof(struct esxmem_pool_settings));
	ck_assert_int_eq(esxmem_msg_pool_set(FAM, s, &msg), 0);
	expect_attrs(request_nest(msg, ESXMEM_CMD_SET_POOL, NLM_F_REQUEST | NLM_F_ACK,
				  ESXMEM_A_POOL), ptb, ESXMEM_POOL_A_MAX, pool_want, 6);
	ck_assert_uint_eq(u32_of(ptb[ESXMEM_POOL_A_FAULT_WAIT_MS]), 7);
	nlmsg_free(msg);
	free(s);
}
END_TEST

/* ---- against the kernel's generic netlink controller -------------------- */

static bool have_genl(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd < 0) {
		fprintf(stderr, "libesxmem: no generic netlink (%s): "
			"socket tests skipped\n", strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

static struct esxmem *open_nlctrl(void)
{
	struct esxmem *h;

	ck_assert_int_eq(esxmem_open_family("nlctrl", &h), 0);
	ck_assert_int_eq(esxmem_family(h), GENL_ID_CTRL);
	return h;
}

static struct nl_msg *ctrl_msg(int flags, const char *family)
{
	struct nl_msg *msg = nlmsg_alloc();

	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ,
					  GENL_ID_CTRL, 0, flags,
					  CTRL_CMD_GETFAMILY, 1));
	if (family)
		PUT(nla_put_string(msg, CTRL_ATTR_FAMILY_NAME, family));
	return msg;
}

struct count {
	int calls;
	int fail_with;
	bool saw_ctrl;
};

static int count_families(const struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[CTRL_ATTR_MAX + 1];
	struct count *c = arg;

	c->calls++;
	ck_assert_int_eq(genlmsg_parse((struct nlmsghdr *)nlh, 0, tb,
				       CTRL_ATTR_MAX, NULL), 0);
	if (tb[CTRL_ATTR_FAMILY_ID] &&
	    nla_get_u16(tb[CTRL_ATTR_FAMILY_ID]) == GENL_ID_CTRL)
		c->saw_ctrl = true;
	return c->fail_with;
}

START_TEST(open_without_the_family)
{
	struct esxmem_events *ev = (void *)1;
	struct esxmem *h = (void *)1;
	int err;

	if (!have_genl())
		return;
	ck_assert_int_eq(esxmem_open_family("esxmem-nofam", &h),
			 -ENOENT);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(esxmem_events_open_family("esxmem-nofam",
						   "events", &ev), -ENOENT);
	ck_assert_ptr_null(ev);
	ck_assert_int_eq(esxmem_events_open_family("nlctrl", "no-such-group",
						   &ev), -ENOENT);

	/* Without the module, the real thing says so. */
	err = esxmem_open(&h);
	if (access("/sys/module/esxmem", F_OK) != 0)
		ck_assert_int_eq(err, -ENOENT);
	else
		ck_assert(err == 0 || err == -ENOENT);
	esxmem_close(h);
}
END_TEST

START_TEST(request_doit_and_dump)
{
	struct count c = { 0 };
	struct esxmem *h;

	if (!have_genl())
		return;
	h = open_nlctrl();
	ck_assert_int_eq(esxmem_request(h, ctrl_msg(NLM_F_REQUEST | NLM_F_ACK,
						    "nlctrl"),
				       count_families, &c), 0);
	ck_assert_int_eq(c.calls, 1);
	ck_assert(c.saw_ctrl);

	c = (struct count){ 0 };
	ck_assert_int_eq(esxmem_request(h, ctrl_msg(NLM_F_REQUEST | NLM_F_DUMP,
						    NULL),
				       count_families, &c), 0);
	ck_assert_int_ge(c.calls, 1);
	ck_assert(c.saw_ctrl);

	/* No reply handler: data is dropped, the ack still ends it. */
	ck_assert_int_eq(esxmem_request(h, ctrl_msg(NLM_F_REQUEST | NLM_F_ACK,
						    "nlctrl"), NULL, NULL), 0);
	ck_assert_str_eq(esxmem_errmsg(h), "");
	esxmem_close(h);
}
END_TEST

START_TEST(request_errors_leave_the_handle_usable)
{
	struct count c = { .fail_with = -EPROTO };
	struct esxmem *h;
	struct nl_msg *msg;
	int err;

	if (!have_genl())
		return;
	h = open_nlctrl();

	/* The kernel's errno. */
	ck_assert_int_eq(esxmem_request(h, ctrl_msg(NLM_F_REQUEST | NLM_F_ACK,
						    "esxmem-nofam"),
				       count_families, &c), -ENOENT);
	ck_assert_int_eq(c.calls, 0);

	/* The parser's error stops parsing; the dump is still read to its end. */
	ck_assert_int_eq(esxmem_request(h, ctrl_msg(NLM_F_REQUEST | NLM_F_DUMP,
						    NULL),
				       count_families, &c), -EPROTO);
	ck_assert_int_eq(c.calls, 1);

	/* The kernel's reason: an attribute of the wrong size. */
	msg = ctrl_msg(NLM_F_REQUEST | NLM_F_ACK, NULL);
	PUT(nla_put_u8(msg, CTRL_ATTR_FAMILY_ID, 1));
	err = esxmem_request(h, msg, NULL, NULL);
	ck_assert_msg(err == -ERANGE || err == -EINVAL, "got %d", err);
	ck_assert_str_ne(esxmem_errmsg(h), "");

	/* Each failure left nothing behind for the next request. */
	c = (struct count){ 0 };
	ck_assert_int_eq(esxmem_request(h, ctrl_msg(NLM_F_REQUEST | NLM_F_ACK,
						    "nlctrl"),
				       count_families, &c), 0);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_str_eq(esxmem_errmsg(h), "");
	esxmem_close(h);
}
END_TEST

/*
 * esxmem commands sent to the controller, whose command 1 has no handler:
 * the public calls report the kernel's error and return nothing.
 */
START_TEST(public_calls_report_kernel_errors)
{
	struct esxmem_vm_info *vm = (void *)1, **vms = (void *)1;
	struct esxmem_pool_info *pool = (void *)1;
	struct esxmem *h;
	size_t n = 1;

	if (!have_genl())
		return;
	h = open_nlctrl();
	ck_assert_int_eq(esxmem_vm_get(h, 1, &vm), -EOPNOTSUPP);
	ck_assert_ptr_null(vm);
	ck_assert_int_lt(esxmem_pool_get(h, &pool), 0);	/* a command nlctrl lacks */
	ck_assert_ptr_null(pool);
	ck_assert_int_eq(esxmem_vm_list(h, &vms, &n), -EOPNOTSUPP);
	ck_assert_ptr_null(vms);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(esxmem_kvm_attach(h, 1, -1), -EBADF);
	ck_assert_int_eq(esxmem_vm_set(h, 1, &(struct esxmem_vm_settings){ 0 }),
			 -EINVAL);
	esxmem_close(h);
}
END_TEST

START_TEST(event_subscription)
{
	struct esxmem_events *ev;
	const struct esxmem_event *e;
	int fd, i, err = 0;

	if (!have_genl())
		return;
	ck_assert_int_eq(esxmem_events_open_family("nlctrl", "notify", &ev), 0);
	fd = esxmem_events_fd(ev);
	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Nothing pending (a family registering meanwhile is skipped). */
	for (i = 0; i < 100; i++) {
		err = esxmem_events_read(ev, &e);
		if (err == -EAGAIN)
			break;
	}
	ck_assert_int_eq(err, -EAGAIN);
	esxmem_events_close(ev);
}
END_TEST

Suite *libesxmem_suite(void)
{
	Suite *s = suite_create("libesxmem");
	TCase *tc;

	tc = tcase_create("build");
	tcase_add_test(tc, build_vm_get);
	tcase_add_test(tc, build_vm_dump_has_an_empty_nest);
	tcase_add_test(tc, build_vm_dump_of_some_fields);
	tcase_add_test(tc, build_vm_get_of_some_fields);
	tcase_add_test(tc, build_vm_set_every_field);
	tcase_add_test(tc, build_vm_set_swap);
	tcase_add_test(tc, build_vm_set_sends_only_the_fields_set);
	tcase_add_test(tc, build_vm_set_longest_name);
	tcase_add_test(tc, build_vm_set_rejects_bad_settings);
	tcase_add_test(tc, build_pool_get_has_an_empty_nest);
	tcase_add_test(tc, build_pool_set_every_field);
	tcase_add_test(tc, build_pool_set_one_threshold);
	tcase_add_test(tc, build_pool_set_rejects_bad_settings);
	tcase_add_test(tc, build_kvm_attach);
	tcase_add_test(tc, build_kvm_detach);
	tcase_add_test(tc, build_vm_balloon);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, parse_vm_full);
	tcase_add_test(tc, take_one_group_keeps_the_others);
	tcase_add_test(tc, parse_vm_nests_without_the_nested_flag);
	tcase_add_test(tc, parse_vm_minimal);
	tcase_add_test(tc, parse_vm_empty_slot_list);
	tcase_add_test(tc, parse_vm_skips_newer_attributes);
	tcase_add_test(tc, parse_vm_most_slots);
	tcase_add_test(tc, parse_pool);
	tcase_add_test(tc, parse_pool_rejects_unknown_state);
	tcase_add_test(tc, parse_each_event);
	tcase_add_test(tc, parse_event_rejects_incomplete_events);
	tcase_add_test(tc, parse_event_unknown_command);
	tcase_add_test(tc, next_event_walks_a_datagram);
	tcase_add_test(tc, next_event_stops_at_a_bad_header);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_test(tc, malformed_attributes_are_refused);
	tcase_add_test(tc, missing_or_misplaced_vm_nest);
	tcase_add_test(tc, truncated_nests);
	tcase_add_test(tc, every_truncation_fails);
	tcase_add_test(tc, corrupted_replies_never_crash);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("status");
	tcase_add_test(tc, status_of_acks_and_errors);
	tcase_add_test(tc, status_of_bad_errors);
	tcase_add_test(tc, status_of_dump_ends_and_data);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, nle_codes_become_errno_values);
	tcase_add_test(tc, nle_codes_invert_libnl);
	tcase_add_test(tc, strerror_texts);
	tcase_add_test(tc, api_refuses_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("abi");
	tcase_add_test(tc, getters_refuse_ids_they_do_not_know);
	tcase_add_test(tc, values_of_groups_not_read_are_missing);
	tcase_add_test(tc, every_pool_value_has_a_getter);
	tcase_add_test(tc, recorded_settings_show_in_the_getters);
	tcase_add_test(tc, older_program_reads_this_librarys_objects);
	tcase_add_test(tc, older_program_settings_are_read_only_as_far_as_their_bits);
	suite_add_tcase(s, tc);

	tc = tcase_create("netlink");
	tcase_add_test(tc, open_without_the_family);
	tcase_add_test(tc, request_doit_and_dump);
	tcase_add_test(tc, request_errors_leave_the_handle_usable);
	tcase_add_test(tc, public_calls_report_kernel_errors);
	tcase_add_test(tc, event_subscription);
	suite_add_tcase(s, tc);

	return s;
}
