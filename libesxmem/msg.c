// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The esxmem messages: requests built from the public structs, replies and
 * events parsed into them, with every attribute validated. See msg.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>

#include "msg.h"

/* ---- validation ---------------------------------------------------------- */

/* Fixed-size attributes must have exactly their size. */
#define POL_U32		{ .type = NLA_U32, .minlen = 4, .maxlen = 4 }
#define POL_U64		{ .type = NLA_U64, .minlen = 8, .maxlen = 8 }
#define POL_NEST	{ .type = NLA_NESTED }

static const struct nla_policy top_policy[ESXMEM_A_MAX + 1] = {
	[ESXMEM_A_VM]			= POL_NEST,
	[ESXMEM_A_POOL]			= POL_NEST,
};

/*
 * ESXMEM_VM_A_KVM_FD and ESXMEM_VM_A_FIELDS are request-only: they are not
 * validated here and a reply that carries one is refused.
 */
static const struct nla_policy vm_policy[ESXMEM_VM_A_MAX + 1] = {
	[ESXMEM_VM_A_ID]		= POL_U32,
	[ESXMEM_VM_A_NAME]		= { .type = NLA_STRING,
					    .maxlen = ESXMEM_VM_NAME_MAX },
	[ESXMEM_VM_A_OWNER_PID]		= POL_U32,
	[ESXMEM_VM_A_DOMAIN]		= POL_U32,
	[ESXMEM_VM_A_SHARES]		= POL_U32,
	[ESXMEM_VM_A_MIN_PAGES]		= POL_U64,
	[ESXMEM_VM_A_MAX_PAGES]		= POL_U64,
	[ESXMEM_VM_A_TARGET_PAGES]	= POL_U64,
	[ESXMEM_VM_A_FLAGS]		= POL_U32,
	[ESXMEM_VM_A_SIZE_PAGES]	= POL_U64,
	[ESXMEM_VM_A_CONSUMED_PAGES]	= POL_U64,
	[ESXMEM_VM_A_STATE_PAGES]	= POL_NEST,
	[ESXMEM_VM_A_MAPPINGS]		= POL_U32,
	[ESXMEM_VM_A_FAULTS]		= POL_U64,
	[ESXMEM_VM_A_COW_BREAKS]	= POL_U64,
	[ESXMEM_VM_A_FAULT_WAITS]	= POL_U64,
	[ESXMEM_VM_A_FAULT_WAIT_TIMEOUTS] = POL_U64,
	[ESXMEM_VM_A_KVM_PID]		= POL_U32,
	[ESXMEM_VM_A_SLOTS]		= POL_NEST,
	[ESXMEM_VM_A_PAGES_SCANNED]	= POL_U64,
	[ESXMEM_VM_A_FULL_SCANS]	= POL_U64,
	[ESXMEM_VM_A_HINTS]		= POL_U64,
	[ESXMEM_VM_A_SCAN_NS]		= POL_U64,
	[ESXMEM_VM_A_ACTIVE_LAST]	= POL_U32,
	[ESXMEM_VM_A_ACTIVE_SLOW]	= POL_U32,
	[ESXMEM_VM_A_ACTIVE_FAST]	= POL_U32,
	[ESXMEM_VM_A_ACTIVE_PARTIAL]	= POL_U32,
	[ESXMEM_VM_A_ACTIVE]		= POL_U32,
	[ESXMEM_VM_A_SAMPLE_FAULTS]	= POL_U64,
	[ESXMEM_VM_A_SAMPLE_PERIODS]	= POL_U64,
	[ESXMEM_VM_A_SWAP_SLOTS]	= POL_U64,
	[ESXMEM_VM_A_SWAP_TARGET_PAGES]	= POL_U64,
	[ESXMEM_VM_A_COMPRESS_MAX_PAGES] = POL_U64,
	[ESXMEM_VM_A_SWAP_OUTS]		= POL_U64,
	[ESXMEM_VM_A_SWAP_INS]		= POL_U64,
	[ESXMEM_VM_A_SWAP_ERRORS]	= POL_U64,
	[ESXMEM_VM_A_COMPRESS_OUTS]	= POL_U64,
	[ESXMEM_VM_A_COMPRESS_INS]	= POL_U64,
	[ESXMEM_VM_A_COMPRESS_REJECTS]	= POL_U64,
	[ESXMEM_VM_A_RECLAIM_SKIPPED]	= POL_U64,
	[ESXMEM_VM_A_LOW_WAITS]		= POL_U64,
	[ESXMEM_VM_A_PMAP_BYTES]	= POL_U64,
	[ESXMEM_VM_A_FRAME_TABLE_BYTES]	= POL_U64,
};

/* The attribute that carries each value of a VM (its width: vm_policy). */
static const uint8_t vm_value_attr[ESXMEM_VM_NR_VALUES] = {
	[ESXMEM_VM_OWNER_PID]		= ESXMEM_VM_A_OWNER_PID,
	[ESXMEM_VM_DOMAIN]		= ESXMEM_VM_A_DOMAIN,
	[ESXMEM_VM_SHARES]		= ESXMEM_VM_A_SHARES,
	[ESXMEM_VM_FLAGS]		= ESXMEM_VM_A_FLAGS,
	[ESXMEM_VM_MAPPINGS]		= ESXMEM_VM_A_MAPPINGS,
	[ESXMEM_VM_KVM_PID]		= ESXMEM_VM_A_KVM_PID,
	[ESXMEM_VM_MIN_PAGES]		= ESXMEM_VM_A_MIN_PAGES,
	[ESXMEM_VM_MAX_PAGES]		= ESXMEM_VM_A_MAX_PAGES,
	[ESXMEM_VM_TARGET_PAGES]	= ESXMEM_VM_A_TARGET_PAGES,
	[ESXMEM_VM_SIZE_PAGES]		= ESXMEM_VM_A_SIZE_PAGES,
	[ESXMEM_VM_CONSUMED_PAGES]	= ESXMEM_VM_A_CONSUMED_PAGES,
	[ESXMEM_VM_FAULTS]		= ESXMEM_VM_A_FAULTS,
	[ESXMEM_VM_COW_BREAKS]		= ESXMEM_VM_A_COW_BREAKS,
	[ESXMEM_VM_FAULT_WAITS]		= ESXMEM_VM_A_FAULT_WAITS,
	[ESXMEM_VM_FAULT_WAIT_TIMEOUTS]	= ESXMEM_VM_A_FAULT_WAIT_TIMEOUTS,
	[ESXMEM_VM_PAGES_SCANNED]	= ESXMEM_VM_A_PAGES_SCANNED,
	[ESXMEM_VM_FULL_SCANS]		= ESXMEM_VM_A_FULL_SCANS,
	[ESXMEM_VM_HINTS]		= ESXMEM_VM_A_HINTS,
	[ESXMEM_VM_SCAN_NS]		= ESXMEM_VM_A_SCAN_NS,
	[ESXMEM_VM_ACTIVE_LAST_PPM]	= ESXMEM_VM_A_ACTIVE_LAST,
	[ESXMEM_VM_ACTIVE_SLOW_PPM]	= ESXMEM_VM_A_ACTIVE_SLOW,
	[ESXMEM_VM_ACTIVE_FAST_PPM]	= ESXMEM_VM_A_ACTIVE_FAST,
	[ESXMEM_VM_ACTIVE_PARTIAL_PPM]	= ESXMEM_VM_A_ACTIVE_PARTIAL,
	[ESXMEM_VM_ACTIVE_PPM]		= ESXMEM_VM_A_ACTIVE,
	[ESXMEM_VM_SAMPLE_FAULTS]	= ESXMEM_VM_A_SAMPLE_FAULTS,
	[ESXMEM_VM_SAMPLE_PERIODS]	= ESXMEM_VM_A_SAMPLE_PERIODS,
	[ESXMEM_VM_SWAP_SLOTS]		= ESXMEM_VM_A_SWAP_SLOTS,
	[ESXMEM_VM_SWAP_TARGET_PAGES]	= ESXMEM_VM_A_SWAP_TARGET_PAGES,
	[ESXMEM_VM_COMPRESS_MAX_PAGES]	= ESXMEM_VM_A_COMPRESS_MAX_PAGES,
	[ESXMEM_VM_SWAP_OUTS]		= ESXMEM_VM_A_SWAP_OUTS,
	[ESXMEM_VM_SWAP_INS]		= ESXMEM_VM_A_SWAP_INS,
	[ESXMEM_VM_SWAP_ERRORS]		= ESXMEM_VM_A_SWAP_ERRORS,
	[ESXMEM_VM_COMPRESS_OUTS]	= ESXMEM_VM_A_COMPRESS_OUTS,
	[ESXMEM_VM_COMPRESS_INS]	= ESXMEM_VM_A_COMPRESS_INS,
	[ESXMEM_VM_COMPRESS_REJECTS]	= ESXMEM_VM_A_COMPRESS_REJECTS,
	[ESXMEM_VM_RECLAIM_SKIPPED]	= ESXMEM_VM_A_RECLAIM_SKIPPED,
	[ESXMEM_VM_LOW_WAITS]		= ESXMEM_VM_A_LOW_WAITS,
	[ESXMEM_VM_PMAP_BYTES]		= ESXMEM_VM_A_PMAP_BYTES,
	[ESXMEM_VM_FRAME_TABLE_BYTES]	= ESXMEM_VM_A_FRAME_TABLE_BYTES,
	/* The rest are computed from these: derive_vm_values(). */
};
_Static_assert(ESXMEM_VM_NR_VALUES == ESXMEM_VM_ACTIVE_PAGES + 1,
	       "a VM value without its attribute or derivation");

/* Inside ESXMEM_VM_A_STATE_PAGES: type = page state + 1, then padding. */
static const struct nla_policy state_policy[ESXMEM_STATE_PAGES_A_PAD + 1] = {
	[ESXMEM_PAGE_UNBACKED + 1]	= POL_U64,
	[ESXMEM_PAGE_PRIVATE + 1]	= POL_U64,
	[ESXMEM_PAGE_SHARED + 1]	= POL_U64,
	[ESXMEM_PAGE_ZERO + 1]		= POL_U64,
	[ESXMEM_PAGE_BALLOONED + 1]	= POL_U64,
	[ESXMEM_PAGE_SWAPPED + 1]	= POL_U64,
	[ESXMEM_PAGE_COMPRESSED + 1]	= POL_U64,
};
_Static_assert(ESXMEM_PAGE_NR_STATES == 7, "a page state without a policy");

static const struct nla_policy slot_policy[ESXMEM_SLOT_A_MAX + 1] = {
	[ESXMEM_SLOT_A_ID]		= POL_U32,
	[ESXMEM_SLOT_A_BASE_GFN]	= POL_U64,
	[ESXMEM_SLOT_A_NPAGES]		= POL_U64,
	[ESXMEM_SLOT_A_OFFSET]		= POL_U64,
};

static const struct nla_policy pool_policy[ESXMEM_POOL_A_MAX + 1] = {
	[ESXMEM_POOL_A_PAGES]		= POL_U64,
	[ESXMEM_POOL_A_USED_PAGES]	= POL_U64,
	[ESXMEM_POOL_A_FREE_PAGES]	= POL_U64,
	[ESXMEM_POOL_A_STATE]		= POL_U32,
	[ESXMEM_POOL_A_HIGH_PERMILLE]	= POL_U32,
	[ESXMEM_POOL_A_SOFT_PERMILLE]	= POL_U32,
	[ESXMEM_POOL_A_HARD_PERMILLE]	= POL_U32,
	[ESXMEM_POOL_A_LOW_PERMILLE]	= POL_U32,
	[ESXMEM_POOL_A_FAULT_WAIT_MS]	= POL_U32,
	[ESXMEM_POOL_A_OBJECTS]		= POL_U32,
	[ESXMEM_POOL_A_SAMPLE_SECS]	= POL_U32,
	[ESXMEM_POOL_A_SAMPLE_PAGES]	= POL_U32,
};

/* The attribute that carries each value of the pool (all are u32 but two). */
static const uint8_t pool_value_attr[ESXMEM_POOL_NR_VALUES] = {
	[ESXMEM_POOL_PAGES]		= ESXMEM_POOL_A_PAGES,
	[ESXMEM_POOL_USED_PAGES]	= ESXMEM_POOL_A_USED_PAGES,
	[ESXMEM_POOL_STATE]		= ESXMEM_POOL_A_STATE,
	[ESXMEM_POOL_HIGH_PERMILLE]	= ESXMEM_POOL_A_HIGH_PERMILLE,
	[ESXMEM_POOL_SOFT_PERMILLE]	= ESXMEM_POOL_A_SOFT_PERMILLE,
	[ESXMEM_POOL_HARD_PERMILLE]	= ESXMEM_POOL_A_HARD_PERMILLE,
	[ESXMEM_POOL_LOW_PERMILLE]	= ESXMEM_POOL_A_LOW_PERMILLE,
	[ESXMEM_POOL_FAULT_WAIT_MS]	= ESXMEM_POOL_A_FAULT_WAIT_MS,
	[ESXMEM_POOL_OBJECTS]		= ESXMEM_POOL_A_OBJECTS,
	[ESXMEM_POOL_SAMPLE_SECS]	= ESXMEM_POOL_A_SAMPLE_SECS,
	[ESXMEM_POOL_SAMPLE_PAGES]	= ESXMEM_POOL_A_SAMPLE_PAGES,
};
_Static_assert(ESXMEM_POOL_NR_VALUES == ESXMEM_POOL_SAMPLE_PAGES + 1,
	       "a pool value without its attribute");

static const struct nla_policy extack_policy[NLMSGERR_ATTR_MAX + 1] = {
	[NLMSGERR_ATTR_MSG]		= { .type = NLA_STRING },
};

#define NO_PAD (-1)

/* parse_attrs() tracks the types it has seen in 64 bits. */
_Static_assert(ESXMEM_A_MAX < 64 && ESXMEM_VM_A_MAX < 64 &&
	       ESXMEM_SLOT_A_MAX < 64 && ESXMEM_POOL_A_MAX < 64 &&
	       ESXMEM_STATE_PAGES_A_PAD < 64 &&
	       NLMSGERR_ATTR_MAX < 64, "attribute types beyond 63");

/*
 * The least payload of an attribute of each type that libnl's nla_parse()
 * accepts, when its policy gives no minlen.
 */
static int min_payload(const struct nla_policy *pt)
{
	if (pt->minlen)
		return pt->minlen;
	switch (pt->type) {
	case NLA_U8:
		return 1;
	case NLA_U16:
		return 2;
	case NLA_U32:
		return 4;
	case NLA_U64:
		return 8;
	case NLA_STRING:
		return 1;
	default:
		return 0;
	}
}

/* libnl's validation of one attribute against its policy (validate_nla()). */
static bool valid_attr(const struct nlattr *nla, const struct nla_policy *pt)
{
	int len = nla->nla_len - NLA_HDRLEN;

	if (len < min_payload(pt) || (pt->maxlen && len > pt->maxlen))
		return false;
	return pt->type != NLA_STRING || ((const char *)nla + NLA_HDRLEN)[len - 1] == '\0';
}

/*
 * nla_parse() with the checks it leaves out: it stops quietly at an
 * attribute that runs past the end and keeps the last of repeated
 * attributes. Here an attribute its policy refuses and bytes left over
 * are -EBADMSG; a repeated attribute (other than @pad) and one of type 0
 * are -EPROTO. Types above @maxtype are skipped. @maxtype must be below
 * 64. One pass, without libnl's calls per attribute: a daemon parses
 * some forty thousand attributes each time it lists a thousand VMs.
 */
static int parse_attrs(struct nlattr **tb, int maxtype, const void *head,
		       int len, const struct nla_policy *policy, int pad)
{
	const struct nlattr *nla = head;
	bool repeated = false, invalid = false;
	uint64_t seen = 0;
	int type;

	if (len < 0)
		return -EBADMSG;
	memset(tb, 0, (size_t)(maxtype + 1) * sizeof(*tb));
	while (len >= (int)NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN && nla->nla_len <= len) {
		type = nla->nla_type & NLA_TYPE_MASK;
		if (type <= maxtype) {
			if (!valid_attr(nla, &policy[type]))
				invalid = true;
			if (type != pad && (seen & (1ULL << type)))
				repeated = true;
			seen |= 1ULL << type;
			tb[type] = (struct nlattr *)nla;
		}
		len -= NLA_ALIGN(nla->nla_len);
		nla = (const struct nlattr *)((const char *)nla + NLA_ALIGN(nla->nla_len));
	}
	if (invalid || len > 0)
		return -EBADMSG;
	if (repeated || tb[0])
		return -EPROTO;
	return 0;
}

static int parse_nested(struct nlattr **tb, int maxtype,
			const struct nlattr *nest,
			const struct nla_policy *policy, int pad)
{
	return parse_attrs(tb, maxtype, nla_data(nest), nla_len(nest), policy,
			   pad);
}

/*
 * The one top-level nest of a genl message: @want must be there and no
 * other esxmem nest beside it.
 */
static int parse_top(const struct nlmsghdr *nlh, int want,
		     struct nlattr **nest)
{
	struct nlattr *tb[ESXMEM_A_MAX + 1];
	const struct genlmsghdr *ghdr;
	int type, err;

	if (nlh->nlmsg_len < NLMSG_HDRLEN ||
	    !genlmsg_valid_hdr((struct nlmsghdr *)nlh, 0))
		return -EBADMSG;
	ghdr = nlmsg_data(nlh);
	err = parse_attrs(tb, ESXMEM_A_MAX, genlmsg_attrdata(ghdr, 0),
			  genlmsg_attrlen(ghdr, 0), top_policy, NO_PAD);
	if (err)
		return err;
	for (type = 1; type <= ESXMEM_A_MAX; type++)
		if (type != want && tb[type])
			return -EPROTO;
	if (!tb[want])
		return -EPROTO;
	*nest = tb[want];
	return 0;
}

/* Attribute payloads are only 4-byte aligned. */
static uint64_t u64_of(const struct nlattr *nla)
{
	uint64_t v;

	memcpy(&v, (const char *)nla + NLA_HDRLEN, sizeof(v));
	return v;
}

static uint32_t u32_of(const struct nlattr *nla)
{
	uint32_t v;

	memcpy(&v, (const char *)nla + NLA_HDRLEN, sizeof(v));
	return v;
}

static void get_u64(struct nlattr **tb, int type, uint64_t *v)
{
	if (tb[type])
		*v = u64_of(tb[type]);
}

/*
 * Each value[i] from attribute attr[i] of @tb, read with the width @policy
 * gives it (validated already); left alone when absent.
 */
static void get_values(struct nlattr **tb, const struct nla_policy *policy,
		       const uint8_t *attr, size_t n, uint64_t *value)
{
	size_t i;

	for (i = 1; i < n; i++) {
		if (!tb[attr[i]])
			continue;
		value[i] = policy[attr[i]].type == NLA_U32 ?
			   u32_of(tb[attr[i]]) : u64_of(tb[attr[i]]);
	}
}

/* ---- building ------------------------------------------------------------ */

/* Room for the largest request: a full batch of balloon frames. */
#define REQUEST_MAX	(ESXMEM_BALLOON_BATCH_MAX * sizeof(uint64_t) + 1024)

static int msg_new(int family, uint8_t cmd, int flags, struct nl_msg **out)
{
	struct nl_msg *msg;

	msg = nlmsg_alloc_size(REQUEST_MAX);
	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
			 ESXMEM_GENL_VERSION)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	*out = msg;
	return 0;
}

static struct nlattr *nest_start(struct nl_msg *msg, int type)
{
	return nla_nest_start(msg, type | NLA_F_NESTED);
}

/* nla_nest_end() would drop an empty nest; requests need theirs. */
static int nest_end(struct nl_msg *msg, struct nlattr *nest)
{
	return nla_nest_end_keep_empty(msg, nest);
}

/*
 * A settings field goes out only when its bit is set, and is read only
 * then: a program built against an older header passes a struct that ends
 * before the fields it does not know (libesxmem.h).
 */
#define PUT_IF_SET(msg, set, bit, put, type, field) \
	(((set) & (bit)) ? put(msg, type, field) : 0)

/*
 * A request of one nest @top whose contents, if any, @fill puts. Returns
 * -EMSGSIZE when it does not fit a message (it always does).
 */
typedef int (*fill_fn)(struct nl_msg *msg, const void *arg);

static int build(int family, uint8_t cmd, int flags, int top, fill_fn fill,
		 const void *arg, struct nl_msg **out)
{
	struct nl_msg *msg;
	struct nlattr *nest;
	int err;

	*out = NULL;
	err = msg_new(family, cmd, flags, &msg);
	if (err)
		return err;
	nest = nest_start(msg, top);
	if (!nest || (fill && fill(msg, arg) < 0) || nest_end(msg, nest) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	*out = msg;
	return 0;
}

static int fill_id(struct nl_msg *msg, const void *arg)
{
	return nla_put_u32(msg, ESXMEM_VM_A_ID, *(const uint32_t *)arg);
}

int esxmem_msg_vm_get(int family, uint32_t id, struct nl_msg **out)
{
	return build(family, ESXMEM_CMD_GET_VM, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_VM, fill_id, &id, out);
}

struct vm_get_arg {
	uint32_t id;
	uint32_t fields;
};

static int fill_id_fields(struct nl_msg *msg, const void *arg)
{
	const struct vm_get_arg *a = arg;

	return nla_put_u32(msg, ESXMEM_VM_A_ID, a->id) ?:
	       nla_put_u32(msg, ESXMEM_VM_A_FIELDS, a->fields);
}

int esxmem_msg_vm_get_fields(int family, uint32_t id, uint32_t fields, struct nl_msg **out)
{
	struct vm_get_arg a = { .id = id, .fields = fields };

	*out = NULL;
	if (fields & ~(uint32_t)ESXMEM_VM_FIELDS_ALL)
		return -EINVAL;
	return build(family, ESXMEM_CMD_GET_VM, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_VM, fill_id_fields, &a, out);
}

int esxmem_msg_vm_dump(int family, struct nl_msg **out)
{
	return build(family, ESXMEM_CMD_GET_VM, NLM_F_REQUEST | NLM_F_DUMP,
		     ESXMEM_A_VM, NULL, NULL, out);
}

static int fill_fields(struct nl_msg *msg, const void *arg)
{
	return nla_put_u32(msg, ESXMEM_VM_A_FIELDS, *(const uint32_t *)arg);
}

int esxmem_msg_vm_dump_fields(int family, uint32_t fields, struct nl_msg **out)
{
	*out = NULL;
	if (fields & ~(uint32_t)ESXMEM_VM_FIELDS_ALL)
		return -EINVAL;
	return build(family, ESXMEM_CMD_GET_VM, NLM_F_REQUEST | NLM_F_DUMP,
		     ESXMEM_A_VM, fill_fields, &fields, out);
}

struct vm_set_arg {
	uint32_t id;
	const struct esxmem_vm_settings *s;
};

static int fill_vm_set(struct nl_msg *msg, const void *arg)
{
	const struct vm_set_arg *a = arg;
	const struct esxmem_vm_settings *s = a->s;
	uint32_t set = s->set;

	if (nla_put_u32(msg, ESXMEM_VM_A_ID, a->id) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_NAME, nla_put_string,
		       ESXMEM_VM_A_NAME, s->name) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_DOMAIN, nla_put_u32,
		       ESXMEM_VM_A_DOMAIN, s->domain) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_SHARES, nla_put_u32,
		       ESXMEM_VM_A_SHARES, s->shares) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_FLAGS, nla_put_u32,
		       ESXMEM_VM_A_FLAGS, s->flags) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_MIN_PAGES, nla_put_u64,
		       ESXMEM_VM_A_MIN_PAGES, s->min_pages) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_MAX_PAGES, nla_put_u64,
		       ESXMEM_VM_A_MAX_PAGES, s->max_pages) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_TARGET_PAGES, nla_put_u64,
		       ESXMEM_VM_A_TARGET_PAGES, s->target_pages) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_SWAP_TARGET_PAGES, nla_put_u64,
		       ESXMEM_VM_A_SWAP_TARGET_PAGES, s->swap_target_pages) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_VM_SET_COMPRESS_MAX_PAGES, nla_put_u64,
		       ESXMEM_VM_A_COMPRESS_MAX_PAGES, s->compress_max_pages) < 0)
		return -EMSGSIZE;
	return 0;
}

int esxmem_msg_vm_set(int family, uint32_t id,
		      const struct esxmem_vm_settings *s, struct nl_msg **out)
{
	struct vm_set_arg a = { .id = id, .s = s };

	*out = NULL;
	if (!s || !s->set || (s->set & ~ESXMEM_VM_SET_ALL))
		return -EINVAL;
	if ((s->set & ESXMEM_VM_SET_NAME) &&
	    (!s->name || strnlen(s->name, ESXMEM_VM_NAME_MAX) == ESXMEM_VM_NAME_MAX))
		return -EINVAL;
	return build(family, ESXMEM_CMD_SET_VM, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_VM, fill_vm_set, &a, out);
}

int esxmem_msg_pool_get(int family, struct nl_msg **out)
{
	return build(family, ESXMEM_CMD_GET_POOL, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_POOL, NULL, NULL, out);
}

static int fill_pool_set(struct nl_msg *msg, const void *arg)
{
	const struct esxmem_pool_settings *s = arg;
	uint32_t set = s->set;

	if (PUT_IF_SET(msg, set, ESXMEM_POOL_SET_PAGES, nla_put_u64,
		       ESXMEM_POOL_A_PAGES, s->pages) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_POOL_SET_HIGH_PERMILLE, nla_put_u32,
		       ESXMEM_POOL_A_HIGH_PERMILLE, s->high_permille) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_POOL_SET_SOFT_PERMILLE, nla_put_u32,
		       ESXMEM_POOL_A_SOFT_PERMILLE, s->soft_permille) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_POOL_SET_HARD_PERMILLE, nla_put_u32,
		       ESXMEM_POOL_A_HARD_PERMILLE, s->hard_permille) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_POOL_SET_LOW_PERMILLE, nla_put_u32,
		       ESXMEM_POOL_A_LOW_PERMILLE, s->low_permille) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_POOL_SET_FAULT_WAIT_MS, nla_put_u32,
		       ESXMEM_POOL_A_FAULT_WAIT_MS, s->fault_wait_ms) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_POOL_SET_SAMPLE_SECS, nla_put_u32,
		       ESXMEM_POOL_A_SAMPLE_SECS, s->sample_secs) < 0 ||
	    PUT_IF_SET(msg, set, ESXMEM_POOL_SET_SAMPLE_PAGES, nla_put_u32,
		       ESXMEM_POOL_A_SAMPLE_PAGES, s->sample_pages) < 0)
		return -EMSGSIZE;
	return 0;
}

int esxmem_msg_pool_set(int family, const struct esxmem_pool_settings *s,
			struct nl_msg **out)
{
	*out = NULL;
	if (!s || !s->set || (s->set & ~ESXMEM_POOL_SET_ALL))
		return -EINVAL;
	return build(family, ESXMEM_CMD_SET_POOL, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_POOL, fill_pool_set, s, out);
}

struct attach_arg {
	uint32_t id;
	int32_t kvm_fd;
};

static int fill_attach(struct nl_msg *msg, const void *arg)
{
	const struct attach_arg *a = arg;

	if (nla_put_u32(msg, ESXMEM_VM_A_ID, a->id) < 0 ||
	    nla_put_s32(msg, ESXMEM_VM_A_KVM_FD, a->kvm_fd) < 0)
		return -EMSGSIZE;
	return 0;
}

int esxmem_msg_kvm_attach(int family, uint32_t id, int kvm_fd,
			  struct nl_msg **out)
{
	struct attach_arg a = { .id = id, .kvm_fd = kvm_fd };

	*out = NULL;
	if (kvm_fd < 0)
		return -EBADF;
	return build(family, ESXMEM_CMD_ATTACH_KVM, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_VM, fill_attach, &a, out);
}

struct balloon_arg {
	uint32_t id;
	const uint64_t *gfns;
	size_t n;
	bool release;
};

static int fill_balloon(struct nl_msg *msg, const void *arg)
{
	const struct balloon_arg *a = arg;

	if (nla_put_u32(msg, ESXMEM_VM_A_ID, a->id) < 0 ||
	    nla_put(msg, ESXMEM_VM_A_BALLOON_GFNS, (int)(a->n * sizeof(uint64_t)),
		    a->gfns) < 0 ||
	    (a->release && nla_put_flag(msg, ESXMEM_VM_A_BALLOON_RELEASE) < 0))
		return -EMSGSIZE;
	return 0;
}

int esxmem_msg_vm_balloon(int family, uint32_t id, const uint64_t *gfns,
			  size_t n, bool release, struct nl_msg **out)
{
	struct balloon_arg a = { .id = id, .gfns = gfns, .n = n, .release = release };

	*out = NULL;
	if (!gfns || !n || n > ESXMEM_BALLOON_BATCH_MAX)
		return -EINVAL;
	return build(family, ESXMEM_CMD_BALLOON, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_VM, fill_balloon, &a, out);
}

struct swap_arg {
	uint32_t id;
	int32_t fd;
};

static int fill_swap(struct nl_msg *msg, const void *arg)
{
	const struct swap_arg *a = arg;

	if (nla_put_u32(msg, ESXMEM_VM_A_ID, a->id) < 0 ||
	    nla_put_s32(msg, ESXMEM_VM_A_SWAP_FD, a->fd) < 0)
		return -EMSGSIZE;
	return 0;
}

int esxmem_msg_vm_set_swap(int family, uint32_t id, int fd, struct nl_msg **out)
{
	struct swap_arg a = { .id = id, .fd = fd < 0 ? -1 : fd };

	*out = NULL;
	return build(family, ESXMEM_CMD_SET_SWAP, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_VM, fill_swap, &a, out);
}

int esxmem_msg_kvm_detach(int family, uint32_t id, struct nl_msg **out)
{
	return build(family, ESXMEM_CMD_DETACH_KVM, NLM_F_REQUEST | NLM_F_ACK,
		     ESXMEM_A_VM, fill_id, &id, out);
}

/* ---- parsing --------------------------------------------------------------- */

static int parse_state_pages(const struct nlattr *nest,
			     struct esxmem_vm_info *out)
{
	struct nlattr *tb[ESXMEM_STATE_PAGES_A_PAD + 1];
	int state, err;

	err = parse_nested(tb, ESXMEM_STATE_PAGES_A_PAD, nest, state_policy,
			   ESXMEM_STATE_PAGES_A_PAD);
	if (err)
		return err;
	for (state = 0; state < ESXMEM_PAGE_NR_STATES; state++)
		get_u64(tb, state + 1, &out->state_pages[state]);
	return 0;
}

static int parse_slot(const struct nlattr *nest, struct esxmem_slot_info *slot)
{
	struct nlattr *tb[ESXMEM_SLOT_A_MAX + 1];
	int err;

	err = parse_nested(tb, ESXMEM_SLOT_A_MAX, nest, slot_policy,
			   ESXMEM_SLOT_A_PAD);
	if (err)
		return err;
	if (!tb[ESXMEM_SLOT_A_ID] || !tb[ESXMEM_SLOT_A_BASE_GFN] ||
	    !tb[ESXMEM_SLOT_A_NPAGES] || !tb[ESXMEM_SLOT_A_OFFSET])
		return -EPROTO;
	slot->id = nla_get_u32(tb[ESXMEM_SLOT_A_ID]);
	slot->base_gfn = nla_get_u64(tb[ESXMEM_SLOT_A_BASE_GFN]);
	slot->npages = nla_get_u64(tb[ESXMEM_SLOT_A_NPAGES]);
	slot->offset = nla_get_u64(tb[ESXMEM_SLOT_A_OFFSET]);
	return 0;
}

/* The list is counted and checked before anything is allocated. */
static int parse_slots(const struct nlattr *list, struct esxmem_vm_info *out)
{
	struct esxmem_slot_info *slots;
	struct nlattr *nla;
	size_t n = 0, i = 0;
	int rem, err;

	nla_for_each_nested(nla, (struct nlattr *)list, rem) {
		if (nla_type(nla) != ESXMEM_SLOT)
			return -EPROTO;
		if (++n > ESXMEM_MSG_MAX_SLOTS)
			return -EPROTO;
	}
	if (rem > 0)
		return -EBADMSG;
	if (!n)
		return 0;

	slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	nla_for_each_nested(nla, (struct nlattr *)list, rem) {
		err = parse_slot(nla, &slots[i++]);
		if (err) {
			free(slots);
			return err;
		}
	}
	out->slots = slots;
	out->nr_slots = n;
	return 0;
}

static int parse_vm_attrs(const struct nlattr *nest, struct nlattr **tb)
{
	int err;

	err = parse_nested(tb, ESXMEM_VM_A_MAX, nest, vm_policy,
			   ESXMEM_VM_A_PAD);
	if (err)
		return err;
	if (!tb[ESXMEM_VM_A_ID] || tb[ESXMEM_VM_A_KVM_FD] || tb[ESXMEM_VM_A_FIELDS])
		return -EPROTO;
	return 0;
}

/*
 * The values computed from what the module reports (libesxmem.h): sums and
 * a fraction of the VM's pages, each as README.md's counter table defines
 * it.
 */
void esxmem_vm_derive_values(struct esxmem_vm_info *vm)
{
	uint64_t *v = vm->values, size = v[ESXMEM_VM_SIZE_PAGES];
	uint64_t ppm = v[ESXMEM_VM_ACTIVE_PPM];

	v[ESXMEM_VM_OVERHEAD_BYTES] = v[ESXMEM_VM_PMAP_BYTES] + v[ESXMEM_VM_FRAME_TABLE_BYTES];
	v[ESXMEM_VM_GRANTED_PAGES] = vm->state_pages[ESXMEM_PAGE_PRIVATE] +
				     vm->state_pages[ESXMEM_PAGE_SHARED] +
				     vm->state_pages[ESXMEM_PAGE_ZERO];
	if (ppm > 1000000)
		ppm = 1000000;
	/* Without overflow for any size: whole millions, then the rest. */
	v[ESXMEM_VM_ACTIVE_PAGES] = size / 1000000 * ppm + size % 1000000 * ppm / 1000000;
}

int esxmem_msg_parse_vm(const struct nlmsghdr *nlh, struct esxmem_vm_info *out)
{
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nlattr *nest;
	int err;

	memset(out, 0, sizeof(*out));
	err = parse_top(nlh, ESXMEM_A_VM, &nest);
	if (!err)
		err = parse_vm_attrs(nest, tb);
	if (err)
		return err;

	out->id = nla_get_u32(tb[ESXMEM_VM_A_ID]);
	out->fields = ESXMEM_VM_FIELDS_ALL;	/* the caller knows if it asked for less */
	if (tb[ESXMEM_VM_A_NAME])	/* NUL-terminated, fits: the policy */
		memcpy(out->name, nla_data(tb[ESXMEM_VM_A_NAME]),
		       nla_len(tb[ESXMEM_VM_A_NAME]));
	out->kvm_attached = tb[ESXMEM_VM_A_KVM_PID] != NULL;
	get_values(tb, vm_policy, vm_value_attr, ESXMEM_VM_NR_VALUES,
		   out->values);

	if (tb[ESXMEM_VM_A_STATE_PAGES]) {
		err = parse_state_pages(tb[ESXMEM_VM_A_STATE_PAGES], out);
		if (err)
			goto fail;
	}
	if (tb[ESXMEM_VM_A_SLOTS]) {
		err = parse_slots(tb[ESXMEM_VM_A_SLOTS], out);
		if (err)
			goto fail;
	}
	esxmem_vm_derive_values(out);
	return 0;

fail:
	memset(out, 0, sizeof(*out));
	return err;
}

static int parse_pool_attrs(const struct nlattr *nest, struct nlattr **tb)
{
	int err;

	err = parse_nested(tb, ESXMEM_POOL_A_MAX, nest, pool_policy,
			   ESXMEM_POOL_A_PAD);
	if (err)
		return err;
	if (tb[ESXMEM_POOL_A_STATE] &&
	    nla_get_u32(tb[ESXMEM_POOL_A_STATE]) >= ESXMEM_STATE_NR)
		return -EPROTO;
	return 0;
}

int esxmem_msg_parse_pool(const struct nlmsghdr *nlh,
			  struct esxmem_pool_info *out)
{
	struct nlattr *tb[ESXMEM_POOL_A_MAX + 1];
	struct nlattr *nest;
	uint64_t free_pages = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = parse_top(nlh, ESXMEM_A_POOL, &nest);
	if (!err)
		err = parse_pool_attrs(nest, tb);
	if (err)
		return err;

	get_values(tb, pool_policy, pool_value_attr, ESXMEM_POOL_NR_VALUES,
		   out->values);
	get_u64(tb, ESXMEM_POOL_A_FREE_PAGES, &free_pages);
	out->free_pages = (int64_t)free_pages;
	return 0;
}

static int parse_event_state(const struct nlmsghdr *nlh,
			     struct esxmem_event *out)
{
	struct nlattr *tb[ESXMEM_POOL_A_MAX + 1];
	struct nlattr *nest;
	int err;

	err = parse_top(nlh, ESXMEM_A_POOL, &nest);
	if (!err)
		err = parse_pool_attrs(nest, tb);
	if (err)
		return err;
	if (!tb[ESXMEM_POOL_A_STATE] || !tb[ESXMEM_POOL_A_FREE_PAGES])
		return -EPROTO;
	out->state = nla_get_u32(tb[ESXMEM_POOL_A_STATE]);
	out->free_pages = (int64_t)nla_get_u64(tb[ESXMEM_POOL_A_FREE_PAGES]);
	return 0;
}

static int parse_event_vm(const struct nlmsghdr *nlh, bool need_owner,
			  struct esxmem_event *out)
{
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct nlattr *nest;
	int err;

	err = parse_top(nlh, ESXMEM_A_VM, &nest);
	if (!err)
		err = parse_vm_attrs(nest, tb);
	if (err)
		return err;
	if (need_owner && !tb[ESXMEM_VM_A_OWNER_PID])
		return -EPROTO;
	out->vm_id = nla_get_u32(tb[ESXMEM_VM_A_ID]);
	if (tb[ESXMEM_VM_A_OWNER_PID])
		out->owner_pid = nla_get_u32(tb[ESXMEM_VM_A_OWNER_PID]);
	return 0;
}

int esxmem_msg_parse_event(const struct nlmsghdr *nlh,
			   struct esxmem_event *out)
{
	const struct genlmsghdr *ghdr;
	int err;

	memset(out, 0, sizeof(*out));
	if (nlh->nlmsg_len < NLMSG_HDRLEN ||
	    !genlmsg_valid_hdr((struct nlmsghdr *)nlh, 0))
		return -EBADMSG;
	ghdr = nlmsg_data(nlh);
	switch (ghdr->cmd) {
	case ESXMEM_CMD_EVENT_STATE:
		err = parse_event_state(nlh, out);
		break;
	case ESXMEM_CMD_EVENT_VM_NEW:
		err = parse_event_vm(nlh, true, out);
		break;
	case ESXMEM_CMD_EVENT_VM_DEL:
		err = parse_event_vm(nlh, false, out);
		break;
	default:
		return -ENOMSG;
	}
	if (err) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	out->type = ghdr->cmd;
	return 0;
}

int esxmem_msg_next_event(const void *buf, size_t len, size_t *pos,
			  int family, struct esxmem_event *out)
{
	const struct nlmsghdr *nlh;
	size_t rem, step;
	int err;

	while (*pos < len) {
		nlh = (const struct nlmsghdr *)((const char *)buf + *pos);
		rem = len - *pos;
		if (rem < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN ||
		    nlh->nlmsg_len > rem) {
			*pos = len;
			return -EBADMSG;
		}
		step = NLMSG_ALIGN(nlh->nlmsg_len);
		*pos += step < rem ? step : rem;
		if (nlh->nlmsg_type != family)
			continue;
		err = esxmem_msg_parse_event(nlh, out);
		if (err != -ENOMSG)
			return err;
	}
	return -ENOMSG;
}

/* ---- acks, errors, the end of a dump ----------------------------------- */

/*
 * Copies NLMSGERR_ATTR_MSG from the extended-ack attributes that follow
 * @hdrlen bytes of payload.
 */
static void copy_extack(const struct nlmsghdr *nlh, size_t hdrlen, char *msg,
			size_t msgsize)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t datalen = nlh->nlmsg_len - NLMSG_HDRLEN;

	hdrlen = NLMSG_ALIGN(hdrlen);
	if (!msgsize || hdrlen > datalen)
		return;
	if (parse_attrs(tb, NLMSGERR_ATTR_MAX,
			(const char *)nlmsg_data(nlh) + hdrlen,
			(int)(datalen - hdrlen), extack_policy, NO_PAD) < 0 ||
	    !tb[NLMSGERR_ATTR_MSG])
		return;
	snprintf(msg, msgsize, "%s", (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
}

int esxmem_msg_reply_status(const struct nlmsghdr *nlh, int *error,
			    char *msg, size_t msgsize)
{
	const struct nlmsgerr *e;
	size_t hdrlen;
	int done_errno;

	if (nlh->nlmsg_len < NLMSG_HDRLEN)
		return -EBADMSG;

	switch (nlh->nlmsg_type) {
	case NLMSG_ERROR:
		if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
			return -EBADMSG;
		e = nlmsg_data(nlh);
		*error = e->error <= 0 ? e->error : -EPROTO;
		if (e->error && (nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
			/* The request comes back whole unless capped. */
			hdrlen = sizeof(*e);
			if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
				if (e->msg.nlmsg_len < NLMSG_HDRLEN)
					return 1;
				hdrlen += e->msg.nlmsg_len - NLMSG_HDRLEN;
			}
			copy_extack(nlh, hdrlen, msg, msgsize);
		}
		return 1;

	case NLMSG_DONE:
		/* A dump that failed midway ends with its errno here. */
		*error = 0;
		if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(done_errno)) {
			memcpy(&done_errno, nlmsg_data(nlh), sizeof(done_errno));
			if (done_errno < 0)
				*error = done_errno;
			if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
				copy_extack(nlh, sizeof(done_errno), msg,
					    msgsize);
		}
		return 1;

	case NLMSG_OVERRUN:
		*error = -ENOBUFS;
		return 1;

	default:
		return 0;
	}
}
