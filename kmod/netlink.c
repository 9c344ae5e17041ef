// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "esxmem": the control plane. The protocol is
 * specified in uapi/esxmem.h. Policies are tables, validated strictly by
 * the genetlink core before any handler runs; every command but GET_POOL,
 * and joining the events group, needs CAP_NET_ADMIN, checked by the core
 * before any handler runs or lock is taken; SET_SWAP also needs
 * CAP_SYS_ADMIN; a SET is checked whole before anything changes.
 */
#include <linux/mm.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

#include "esxmem.h"

static struct netlink_range_validation shares_range __ro_after_init = {
	.min = 1,
	.max = ESXMEM_SHARES_MAX,
};

static struct netlink_range_validation domain_range __ro_after_init = {
	.max = ESXMEM_DOMAIN_MAX,
};

static struct netlink_range_validation fault_wait_range __ro_after_init = {
	.max = ESXMEM_FAULT_WAIT_MS_MAX,
};

static const struct nla_policy vm_policy[ESXMEM_VM_A_MAX + 1] = {
	[ESXMEM_VM_A_ID]		= { .type = NLA_U32 },
	[ESXMEM_VM_A_NAME]		= { .type = NLA_NUL_STRING,
					    .len = ESXMEM_VM_NAME_MAX - 1 },
	[ESXMEM_VM_A_OWNER_PID]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_DOMAIN]		= NLA_POLICY_FULL_RANGE(NLA_U32, &domain_range),
	[ESXMEM_VM_A_SHARES]		= NLA_POLICY_FULL_RANGE(NLA_U32, &shares_range),
	[ESXMEM_VM_A_MIN_PAGES]		= { .type = NLA_U64 },
	[ESXMEM_VM_A_MAX_PAGES]		= { .type = NLA_U64 },
	[ESXMEM_VM_A_TARGET_PAGES]	= { .type = NLA_U64 },
	[ESXMEM_VM_A_FLAGS]		= NLA_POLICY_MASK(NLA_U32, ESXMEM_VM_F_ALL),
	[ESXMEM_VM_A_SIZE_PAGES]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_CONSUMED_PAGES]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_STATE_PAGES]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_MAPPINGS]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_FAULTS]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_COW_BREAKS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_FAULT_WAITS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_FAULT_WAIT_TIMEOUTS] = { .type = NLA_REJECT },
	[ESXMEM_VM_A_KVM_FD]		= { .type = NLA_S32 },
	[ESXMEM_VM_A_KVM_PID]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_SLOTS]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_PAD]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_PAGES_SCANNED]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_FULL_SCANS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_HINTS]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_SCAN_NS]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_ACTIVE_LAST]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_ACTIVE_SLOW]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_ACTIVE_FAST]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_ACTIVE_PARTIAL]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_ACTIVE]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_SAMPLE_FAULTS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_SAMPLE_PERIODS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_BALLOON_GFNS]	= { .type = NLA_BINARY,
					    .len = ESXMEM_BALLOON_BATCH_MAX * sizeof(u64) },
	[ESXMEM_VM_A_BALLOON_RELEASE]	= { .type = NLA_FLAG },
	[ESXMEM_VM_A_SWAP_FD]		= { .type = NLA_S32 },
	[ESXMEM_VM_A_SWAP_SLOTS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_SWAP_TARGET_PAGES]	= { .type = NLA_U64 },
	[ESXMEM_VM_A_COMPRESS_MAX_PAGES] = { .type = NLA_U64 },
	[ESXMEM_VM_A_SWAP_OUTS]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_SWAP_INS]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_SWAP_ERRORS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_COMPRESS_OUTS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_COMPRESS_INS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_COMPRESS_REJECTS]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_RECLAIM_SKIPPED]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_LOW_WAITS]		= { .type = NLA_REJECT },
	[ESXMEM_VM_A_PMAP_BYTES]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_FRAME_TABLE_BYTES]	= { .type = NLA_REJECT },
	[ESXMEM_VM_A_FIELDS]		= NLA_POLICY_MASK(NLA_U32, ESXMEM_VM_FIELDS_ALL),
};

static struct netlink_range_validation sample_secs_range __ro_after_init = {
	.min = 1, .max = ESXMEM_SAMPLE_PERIOD_MAX,
};

static struct netlink_range_validation sample_pages_range __ro_after_init = {
	.min = 1, .max = ESXMEM_SAMPLE_PAGES_MAX,
};

static const struct nla_policy pool_policy[ESXMEM_POOL_A_MAX + 1] = {
	[ESXMEM_POOL_A_PAGES]		= { .type = NLA_U64 },
	[ESXMEM_POOL_A_USED_PAGES]	= { .type = NLA_REJECT },
	[ESXMEM_POOL_A_FREE_PAGES]	= { .type = NLA_REJECT },
	[ESXMEM_POOL_A_STATE]		= { .type = NLA_REJECT },
	[ESXMEM_POOL_A_HIGH_PERMILLE]	= NLA_POLICY_MAX(NLA_U32, 1000),
	[ESXMEM_POOL_A_SOFT_PERMILLE]	= NLA_POLICY_MAX(NLA_U32, 1000),
	[ESXMEM_POOL_A_HARD_PERMILLE]	= NLA_POLICY_MAX(NLA_U32, 1000),
	[ESXMEM_POOL_A_LOW_PERMILLE]	= NLA_POLICY_MAX(NLA_U32, 1000),
	[ESXMEM_POOL_A_FAULT_WAIT_MS]	= NLA_POLICY_FULL_RANGE(NLA_U32, &fault_wait_range),
	[ESXMEM_POOL_A_OBJECTS]		= { .type = NLA_REJECT },
	[ESXMEM_POOL_A_PAD]		= { .type = NLA_REJECT },
	[ESXMEM_POOL_A_SAMPLE_SECS]	= NLA_POLICY_FULL_RANGE(NLA_U32, &sample_secs_range),
	[ESXMEM_POOL_A_SAMPLE_PAGES]	= NLA_POLICY_FULL_RANGE(NLA_U32, &sample_pages_range),
};

static const struct nla_policy esxmem_policy[ESXMEM_A_MAX + 1] = {
	[ESXMEM_A_VM]	= NLA_POLICY_NESTED(vm_policy),
	[ESXMEM_A_POOL]	= NLA_POLICY_NESTED(pool_policy),
};

static struct genl_family esxmem_genl_family;

/* A VM's reply with a full slot map: each piece is a nest of four. */
#define VM_MSG_SIZE (NLMSG_GOODSIZE + ESXMEM_SLOTMAP_MAX * \
		     (NLA_HDRLEN + nla_total_size(4) + 3 * nla_total_size_64bit(8)))

/* Parses the VM nest of a request; every VM request names the VM. */
static int parse_vm(struct genl_info *info, struct nlattr **tb)
{
	int err;

	if (GENL_REQ_ATTR_CHECK(info, ESXMEM_A_VM))
		return -EINVAL;
	err = nla_parse_nested(tb, ESXMEM_VM_A_MAX, info->attrs[ESXMEM_A_VM],
			       vm_policy, info->extack);
	if (err)
		return err;
	if (!tb[ESXMEM_VM_A_ID]) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[ESXMEM_A_VM],
				    "ESXMEM_VM_A_ID is required");
		return -EINVAL;
	}
	return 0;
}

static struct esxmem_vm *lookup_vm(struct genl_info *info, struct nlattr **tb)
{
	struct esxmem_vm *vm = esxmem_vm_lookup(nla_get_u32(tb[ESXMEM_VM_A_ID]));

	if (!vm)
		NL_SET_ERR_MSG_ATTR(info->extack, tb[ESXMEM_VM_A_ID], "no such VM");
	return vm;
}

/*
 * The VM a request names, held (esxmem_vm_put() when done), for work
 * that may sleep long or take a VMM's mmap_lock: that is never done under
 * esxmem_vms_lock, which the reclaim thread takes.
 */
static struct esxmem_vm *hold_vm(struct genl_info *info, struct nlattr **tb)
{
	struct esxmem_vm *vm;

	mutex_lock(&esxmem_vms_lock);
	vm = lookup_vm(info, tb);
	if (vm && !esxmem_vm_grab(vm))
		vm = NULL;
	mutex_unlock(&esxmem_vms_lock);
	return vm;
}

/* A reply being filled, and the groups of attributes it carries. */
struct vm_reply {
	struct sk_buff *skb;
	u32 fields;
};

/* Under RCU, from esxmem_kvm_report(): must not sleep. */
static int put_slots(void *ctx, const struct esxmem_slotmap *map, pid_t pid)
{
	const struct vm_reply *r = ctx;
	struct nlattr *slots, *slot;
	struct sk_buff *skb = r->skb;
	unsigned int i;

	if (nla_put_u32(skb, ESXMEM_VM_A_KVM_PID, pid))
		return -EMSGSIZE;
	if (!(r->fields & ESXMEM_VM_FIELDS_SLOTS))
		return 0;
	slots = nla_nest_start(skb, ESXMEM_VM_A_SLOTS);
	if (!slots)
		return -EMSGSIZE;
	for (i = 0; i < map->nr; i++) {
		const struct esxmem_slot_piece *p = &map->piece[i];

		slot = nla_nest_start(skb, ESXMEM_SLOT);
		if (!slot ||
		    nla_put_u32(skb, ESXMEM_SLOT_A_ID, p->id) ||
		    nla_put_u64_64bit(skb, ESXMEM_SLOT_A_BASE_GFN, p->base_gfn, ESXMEM_SLOT_A_PAD) ||
		    nla_put_u64_64bit(skb, ESXMEM_SLOT_A_NPAGES, p->npages, ESXMEM_SLOT_A_PAD) ||
		    nla_put_u64_64bit(skb, ESXMEM_SLOT_A_OFFSET, p->offset, ESXMEM_SLOT_A_PAD))
			return -EMSGSIZE;
		nla_nest_end(skb, slot);
	}
	nla_nest_end(skb, slots);
	return 0;
}

static int put_counter(struct sk_buff *skb, int type, atomic64_t *v)
{
	return nla_put_u64_64bit(skb, type, atomic64_read(v), ESXMEM_VM_A_PAD);
}

static int put_u64(struct sk_buff *skb, int type, u64 v)
{
	return nla_put_u64_64bit(skb, type, v, ESXMEM_VM_A_PAD);
}

/* ESXMEM_VM_FIELDS_CONFIG but KVM_PID, which put_slots() puts. */
static int put_config(struct sk_buff *skb, struct esxmem_vm *vm,
		      const struct esxmem_vm_stats *st)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;

	return nla_put_string(skb, ESXMEM_VM_A_NAME, vm->name) ||
	       nla_put_u32(skb, ESXMEM_VM_A_OWNER_PID, vm->owner_pid) ||
	       nla_put_u32(skb, ESXMEM_VM_A_DOMAIN, vm->domain) ||
	       nla_put_u32(skb, ESXMEM_VM_A_SHARES, vm->shares) ||
	       nla_put_u32(skb, ESXMEM_VM_A_FLAGS, vm->flags) ||
	       put_u64(skb, ESXMEM_VM_A_MIN_PAGES, vm->min_pages) ||
	       put_u64(skb, ESXMEM_VM_A_MAX_PAGES, vm->max_pages) ||
	       put_u64(skb, ESXMEM_VM_A_TARGET_PAGES, vm->target_pages) ||
	       put_u64(skb, ESXMEM_VM_A_SIZE_PAGES, st->size_pages) ||
	       put_u64(skb, ESXMEM_VM_A_SWAP_SLOTS, READ_ONCE(r->swap_slots)) ||
	       put_u64(skb, ESXMEM_VM_A_SWAP_TARGET_PAGES, READ_ONCE(r->swap_target)) ||
	       put_u64(skb, ESXMEM_VM_A_COMPRESS_MAX_PAGES, READ_ONCE(r->compress_max));
}

static int put_usage(struct sk_buff *skb, struct esxmem_vm *vm,
		     const struct esxmem_vm_stats *st)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;
	struct nlattr *states;
	int s;

	if (put_u64(skb, ESXMEM_VM_A_CONSUMED_PAGES, st->consumed_pages) ||
	    nla_put_u32(skb, ESXMEM_VM_A_ACTIVE_LAST, READ_ONCE(vm->sample.last_ppm)) ||
	    nla_put_u32(skb, ESXMEM_VM_A_ACTIVE_SLOW, READ_ONCE(vm->sample.slow_ppm)) ||
	    nla_put_u32(skb, ESXMEM_VM_A_ACTIVE_FAST, READ_ONCE(vm->sample.fast_ppm)) ||
	    nla_put_u32(skb, ESXMEM_VM_A_ACTIVE_PARTIAL, st->active_partial_ppm) ||
	    nla_put_u32(skb, ESXMEM_VM_A_ACTIVE, st->active_ppm) ||
	    put_counter(skb, ESXMEM_VM_A_SWAP_INS, &r->swap_ins) ||
	    put_counter(skb, ESXMEM_VM_A_COMPRESS_INS, &r->compress_ins) ||
	    put_u64(skb, ESXMEM_VM_A_PMAP_BYTES, st->pmap_bytes) ||
	    put_u64(skb, ESXMEM_VM_A_FRAME_TABLE_BYTES,
		    esxmem_vm_frame_table_bytes(st->size_pages)))
		return -EMSGSIZE;
	states = nla_nest_start(skb, ESXMEM_VM_A_STATE_PAGES);
	if (!states)
		return -EMSGSIZE;
	for (s = 0; s < ESXMEM_PAGE_NR_STATES; s++)
		if (nla_put_u64_64bit(skb, s + 1, st->state_pages[s],
				      ESXMEM_STATE_PAGES_A_PAD))
			return -EMSGSIZE;
	nla_nest_end(skb, states);
	return 0;
}

static int put_counters(struct sk_buff *skb, struct esxmem_vm *vm,
			const struct esxmem_vm_stats *st)
{
	struct esxmem_vm_reclaim *r = &vm->reclaim;

	return nla_put_u32(skb, ESXMEM_VM_A_MAPPINGS, st->mappings) ||
	       put_u64(skb, ESXMEM_VM_A_FAULTS, st->faults) ||
	       put_u64(skb, ESXMEM_VM_A_COW_BREAKS, st->cow_breaks) ||
	       put_u64(skb, ESXMEM_VM_A_FAULT_WAITS, st->fault_waits) ||
	       put_u64(skb, ESXMEM_VM_A_FAULT_WAIT_TIMEOUTS, st->fault_wait_timeouts) ||
	       put_u64(skb, ESXMEM_VM_A_PAGES_SCANNED, st->pages_scanned) ||
	       put_u64(skb, ESXMEM_VM_A_FULL_SCANS, st->full_scans) ||
	       put_u64(skb, ESXMEM_VM_A_HINTS, st->hints) ||
	       put_u64(skb, ESXMEM_VM_A_SCAN_NS, st->scan_ns) ||
	       put_u64(skb, ESXMEM_VM_A_SAMPLE_FAULTS, st->sample_faults) ||
	       put_u64(skb, ESXMEM_VM_A_SAMPLE_PERIODS, st->sample_periods) ||
	       put_counter(skb, ESXMEM_VM_A_SWAP_OUTS, &r->swap_outs) ||
	       put_counter(skb, ESXMEM_VM_A_SWAP_ERRORS, &r->swap_errors) ||
	       put_counter(skb, ESXMEM_VM_A_COMPRESS_OUTS, &r->compress_outs) ||
	       put_counter(skb, ESXMEM_VM_A_COMPRESS_REJECTS, &r->compress_rejects) ||
	       put_counter(skb, ESXMEM_VM_A_RECLAIM_SKIPPED, &r->skipped) ||
	       put_counter(skb, ESXMEM_VM_A_LOW_WAITS, &r->low_waits);
}

/* @vm's attributes of the groups in @fields (enum esxmem_vm_fields). */
static int put_vm(struct sk_buff *skb, struct esxmem_vm *vm, u32 fields)
{
	struct vm_reply r = { .skb = skb, .fields = fields };
	struct esxmem_vm_stats st;
	struct nlattr *nest;

	if (fields)
		esxmem_vm_get_stats(vm, &st);
	nest = nla_nest_start(skb, ESXMEM_A_VM);
	if (!nest || nla_put_u32(skb, ESXMEM_VM_A_ID, vm->id) ||
	    ((fields & ESXMEM_VM_FIELDS_CONFIG) && put_config(skb, vm, &st)) ||
	    ((fields & ESXMEM_VM_FIELDS_USAGE) && put_usage(skb, vm, &st)) ||
	    ((fields & ESXMEM_VM_FIELDS_COUNTERS) && put_counters(skb, vm, &st)))
		return -EMSGSIZE;
	if ((fields & (ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_SLOTS)) &&
	    esxmem_kvm_report(vm, put_slots, &r))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/* The groups of attributes a GET_VM request asks for: all by default. */
static u32 vm_fields(struct nlattr **tb)
{
	return tb[ESXMEM_VM_A_FIELDS] ? nla_get_u32(tb[ESXMEM_VM_A_FIELDS]) :
					ESXMEM_VM_FIELDS_ALL;
}

static int esxmem_nl_get_vm(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct esxmem_vm *vm;
	struct sk_buff *msg;
	u32 fields;
	void *hdr;
	int err;

	err = parse_vm(info, tb);
	if (err)
		return err;
	fields = vm_fields(tb);
	msg = genlmsg_new(VM_MSG_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &esxmem_genl_family, 0, ESXMEM_CMD_GET_VM);
	if (!hdr) {
		err = -EMSGSIZE;
		goto err_free;
	}
	/* With SLOTS, the slot map current first, outside the registry's lock. */
	vm = hold_vm(info, tb);
	err = vm ? 0 : -ENOENT;
	if (!err && (fields & ESXMEM_VM_FIELDS_SLOTS))
		err = esxmem_kvm_refresh(vm);
	if (!err) {
		mutex_lock(&esxmem_vms_lock);
		err = put_vm(msg, vm, fields);
		mutex_unlock(&esxmem_vms_lock);
	}
	if (vm)
		esxmem_vm_put(vm);
	if (err)
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

/*
 * One VM's message of a dump, under esxmem_vms_lock; -EMSGSIZE when the
 * skb is full (nothing of it is left in the skb then).
 */
static int dump_vm(struct sk_buff *skb, struct netlink_callback *cb,
		   struct esxmem_vm *vm)
{
	void *hdr;
	int err;

	lockdep_assert_held(&esxmem_vms_lock);
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &esxmem_genl_family, NLM_F_MULTI, ESXMEM_CMD_GET_VM);
	if (!hdr)
		return -EMSGSIZE;
	genl_dump_check_consistent(cb, hdr);
	err = put_vm(skb, vm, cb->args[1]);
	if (err)
		genlmsg_cancel(skb, hdr);
	else
		genlmsg_end(skb, hdr);
	return err;
}

/*
 * Dumps walk the registry by id; cb->args[0] is the next id to send (0
 * once every VM is sent), cb->args[1] the groups of attributes asked for.
 * Slot maps are brought up to date outside the registry's lock (see
 * esxmem.h), so such a dump holds each VM in turn; any other takes the
 * lock once for as many VMs as fit in the skb.
 */
static int esxmem_nl_dump_vms(struct sk_buff *skb, struct netlink_callback *cb)
{
	bool slots = cb->args[1] & ESXMEM_VM_FIELDS_SLOTS;
	struct esxmem_vm *vm = NULL;
	u32 id = cb->args[0];
	int err = 0;

	if (!id)
		return 0;
	mutex_lock(&esxmem_vms_lock);
	/* A dump torn by VMs coming or going gets NLM_F_DUMP_INTR. */
	cb->seq = (u32)esxmem_vms_generation;
	while (!slots && (vm = esxmem_vm_next(&id))) {
		err = dump_vm(skb, cb, vm);
		if (err || id == U32_MAX)
			break;
		id++;
	}
	mutex_unlock(&esxmem_vms_lock);
	while (slots && (vm = esxmem_vm_next_held(&id))) {
		/* If bringing the map up to date fails, the last one is shown. */
		esxmem_kvm_refresh(vm);
		mutex_lock(&esxmem_vms_lock);
		err = dump_vm(skb, cb, vm);
		mutex_unlock(&esxmem_vms_lock);
		esxmem_vm_put(vm);
		if (err || id == U32_MAX)
			break;
		id++;
	}
	/* The VM that did not fit comes first in the next part; 0: no more. */
	cb->args[0] = err ? id : 0;
	/* A VM too large for an empty message is an error, not a loop. */
	if (err == -EMSGSIZE && skb->len)
		err = 0;
	return err ?: skb->len;
}

static int esxmem_nl_dump_vms_start(struct netlink_callback *cb)
{
	struct nlattr **attrs = esxmem_genl_dump_attrs(cb);
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	int err;

	cb->args[0] = 1;
	cb->args[1] = ESXMEM_VM_FIELDS_ALL;
	if (!attrs || !attrs[ESXMEM_A_VM])
		return 0;
	/* The core validated the nest against vm_policy already. */
	err = nla_parse_nested(tb, ESXMEM_VM_A_MAX, attrs[ESXMEM_A_VM], vm_policy,
			       cb->extack);
	if (!err)
		cb->args[1] = vm_fields(tb);
	return err;
}

static int set_vm(struct esxmem_vm *vm, struct nlattr **tb,
		  struct genl_info *info)
{
	u64 min, max;

	if (tb[ESXMEM_VM_A_KVM_FD]) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[ESXMEM_VM_A_KVM_FD],
				    "use ESXMEM_CMD_ATTACH_KVM");
		return -EINVAL;
	}
	if (tb[ESXMEM_VM_A_BALLOON_GFNS] || tb[ESXMEM_VM_A_BALLOON_RELEASE]) {
		NL_SET_ERR_MSG(info->extack, "use ESXMEM_CMD_BALLOON");
		return -EINVAL;
	}
	if (tb[ESXMEM_VM_A_SWAP_FD]) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[ESXMEM_VM_A_SWAP_FD],
				    "use ESXMEM_CMD_SET_SWAP");
		return -EINVAL;
	}
	if (tb[ESXMEM_VM_A_FIELDS]) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[ESXMEM_VM_A_FIELDS],
				    "only ESXMEM_CMD_GET_VM takes ESXMEM_VM_A_FIELDS");
		return -EINVAL;
	}
	min = tb[ESXMEM_VM_A_MIN_PAGES] ? nla_get_u64(tb[ESXMEM_VM_A_MIN_PAGES]) : vm->min_pages;
	max = tb[ESXMEM_VM_A_MAX_PAGES] ? nla_get_u64(tb[ESXMEM_VM_A_MAX_PAGES]) : vm->max_pages;
	if (min > max) {
		NL_SET_ERR_MSG(info->extack, "min_pages above max_pages");
		return -EINVAL;
	}
	vm->min_pages = min;
	vm->max_pages = max;
	if (tb[ESXMEM_VM_A_NAME])
		nla_strscpy(vm->name, tb[ESXMEM_VM_A_NAME], sizeof(vm->name));
	if (tb[ESXMEM_VM_A_DOMAIN])
		WRITE_ONCE(vm->domain, nla_get_u32(tb[ESXMEM_VM_A_DOMAIN]));
	if (tb[ESXMEM_VM_A_SHARES])
		WRITE_ONCE(vm->shares, nla_get_u32(tb[ESXMEM_VM_A_SHARES]));
	if (tb[ESXMEM_VM_A_TARGET_PAGES])
		WRITE_ONCE(vm->target_pages, nla_get_u64(tb[ESXMEM_VM_A_TARGET_PAGES]));
	if (tb[ESXMEM_VM_A_FLAGS])
		WRITE_ONCE(vm->flags, nla_get_u32(tb[ESXMEM_VM_A_FLAGS]));
	if (tb[ESXMEM_VM_A_COMPRESS_MAX_PAGES])
		WRITE_ONCE(vm->reclaim.compress_max,
			   nla_get_u64(tb[ESXMEM_VM_A_COMPRESS_MAX_PAGES]));
	if (tb[ESXMEM_VM_A_SWAP_TARGET_PAGES]) {
		WRITE_ONCE(vm->reclaim.swap_target,
			   nla_get_u64(tb[ESXMEM_VM_A_SWAP_TARGET_PAGES]));
		esxmem_reclaim_kick();
	}
	return 0;
}

static int attach_kvm(struct esxmem_vm *vm, struct nlattr **tb,
		      struct genl_info *info)
{
	int err;

	if (!tb[ESXMEM_VM_A_KVM_FD]) {
		NL_SET_ERR_MSG(info->extack, "ESXMEM_VM_A_KVM_FD is required");
		return -EINVAL;
	}
	err = esxmem_kvm_attach(vm, nla_get_s32(tb[ESXMEM_VM_A_KVM_FD]));
	if (err == -EINVAL)
		NL_SET_ERR_MSG_ATTR(info->extack, tb[ESXMEM_VM_A_KVM_FD],
				    "not a KVM VM fd (anon_inode:kvm-vm)");
	else if (err == -EBUSY)
		NL_SET_ERR_MSG(info->extack, "attached to another KVM VM; detach first");
	return err;
}

static int detach_kvm(struct esxmem_vm *vm, struct nlattr **tb,
		      struct genl_info *info)
{
	esxmem_kvm_detach(vm);
	return 0;
}

/*
 * A changed sharing domain, or sharing turned off for the VM, holds for
 * what it shares already: those pages get copies of their own, outside
 * esxmem_vms_lock, as that may wait for the pool.
 */
static int esxmem_nl_set_vm(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	bool unmerge, all;
	struct esxmem_vm *vm;
	u32 domain, flags;
	int err;

	err = parse_vm(info, tb);
	if (err)
		return err;
	vm = hold_vm(info, tb);
	if (!vm)
		return -ENOENT;
	mutex_lock(&esxmem_vms_lock);
	domain = vm->domain;
	flags = vm->flags;
	err = set_vm(vm, tb, info);
	all = (vm->flags & ESXMEM_VM_F_NO_SHARING) &&
	      !(flags & ESXMEM_VM_F_NO_SHARING);
	unmerge = all || vm->domain != domain;
	mutex_unlock(&esxmem_vms_lock);
	if (!err && unmerge) {
		err = esxmem_share_unmerge_vm(vm, all);
		if (err)
			NL_SET_ERR_MSG(info->extack,
				       "set, but not every page shared across the new boundary got its own copy: no memory; retry");
	}
	esxmem_vm_put(vm);
	return err;
}

/*
 * Runs @op on the VM a request names, held by its inode but without
 * esxmem_vms_lock: attaching walks the VMM's mappings under its mmap_lock.
 */
static int with_held_vm(struct genl_info *info,
			int (*op)(struct esxmem_vm *vm, struct nlattr **tb,
				  struct genl_info *info))
{
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct esxmem_vm *vm;
	int err;

	err = parse_vm(info, tb);
	if (err)
		return err;
	vm = hold_vm(info, tb);
	if (!vm)
		return -ENOENT;
	err = op(vm, tb, info);
	esxmem_vm_put(vm);
	return err;
}

static int esxmem_nl_attach_kvm(struct sk_buff *skb, struct genl_info *info)
{
	return with_held_vm(info, attach_kvm);
}

static int esxmem_nl_detach_kvm(struct sk_buff *skb, struct genl_info *info)
{
	return with_held_vm(info, detach_kvm);
}

/*
 * Not under esxmem_vms_lock: freeing pages takes page
 * locks, which nest outside it. The inode holds the VM meanwhile.
 */
static int esxmem_nl_balloon(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1], *gfns;
	struct esxmem_vm *vm;
	unsigned int n, bad;
	u64 *frames;
	int err;

	err = parse_vm(info, tb);
	if (err)
		return err;
	gfns = tb[ESXMEM_VM_A_BALLOON_GFNS];
	if (!gfns || !nla_len(gfns) || nla_len(gfns) % sizeof(u64)) {
		NL_SET_ERR_MSG_ATTR(info->extack, gfns ?: info->attrs[ESXMEM_A_VM],
				    "ESXMEM_VM_A_BALLOON_GFNS: 1..512 u64 guest frame numbers");
		return -EINVAL;
	}
	n = nla_len(gfns) / sizeof(u64);
	/* nla_data() is only 4-byte aligned. */
	frames = kmemdup(nla_data(gfns), nla_len(gfns), GFP_KERNEL);
	if (!frames)
		return -ENOMEM;
	vm = hold_vm(info, tb);
	if (!vm) {
		kfree(frames);
		return -ENOENT;
	}
	err = esxmem_vm_balloon(vm, frames, n, tb[ESXMEM_VM_A_BALLOON_RELEASE], &bad);
	if (err == -ENOTCONN)
		NL_SET_ERR_MSG(info->extack, "the VM is not attached to KVM");
	else if (err == -ERANGE)
		NL_SET_ERR_MSG(info->extack, "a guest frame is not in the guest's RAM");
	else if (err == -EEXIST)
		NL_SET_ERR_MSG(info->extack, "a guest frame is given twice");
	else if (err == -EBUSY)
		NL_SET_ERR_MSG(info->extack,
			       "a guest frame's page is held (pinned for DMA, in a pipe, under I/O): nothing ballooned");
	else if (err == -EOPNOTSUPP)
		NL_SET_ERR_MSG(info->extack,
			       "the VM has assigned devices (VFIO): ballooning would free pages a device may DMA into");
	esxmem_vm_put(vm);
	kfree(frames);
	return err;
}

/*
 * Not under esxmem_vms_lock either: the old swap file's fput may sleep long.
 * The module writes guest memory into whatever file it is given, with its
 * own rights: that takes CAP_SYS_ADMIN, beyond the family's CAP_NET_ADMIN,
 * of both the socket's opener and the sender (netlink_capable()).
 */
static int esxmem_nl_set_swap(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[ESXMEM_VM_A_MAX + 1];
	struct esxmem_vm *vm;
	int err;

	if (!netlink_capable(skb, CAP_SYS_ADMIN)) {
		NL_SET_ERR_MSG(info->extack,
			       "setting a swap file needs CAP_SYS_ADMIN: run as root");
		return -EPERM;
	}
	err = parse_vm(info, tb);
	if (err)
		return err;
	if (!tb[ESXMEM_VM_A_SWAP_FD]) {
		NL_SET_ERR_MSG(info->extack, "ESXMEM_VM_A_SWAP_FD is required (-1: no swap file)");
		return -EINVAL;
	}
	vm = hold_vm(info, tb);
	if (!vm)
		return -ENOENT;
	err = esxmem_swap_set_file(vm, nla_get_s32(tb[ESXMEM_VM_A_SWAP_FD]), info->extack);
	esxmem_vm_put(vm);
	if (!err)
		esxmem_reclaim_kick();
	return err;
}

static int put_pool(struct sk_buff *skb)
{
	struct esxmem_pool_config c;
	struct nlattr *nest;

	esxmem_pool_get_config(&c);
	nest = nla_nest_start(skb, ESXMEM_A_POOL);
	if (!nest ||
	    nla_put_u64_64bit(skb, ESXMEM_POOL_A_PAGES, c.pages, ESXMEM_POOL_A_PAD) ||
	    nla_put_u64_64bit(skb, ESXMEM_POOL_A_USED_PAGES,
			      atomic_long_read(&esxmem_pool.used), ESXMEM_POOL_A_PAD) ||
	    nla_put_s64(skb, ESXMEM_POOL_A_FREE_PAGES, esxmem_pool_free_pages(),
			ESXMEM_POOL_A_PAD) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_STATE, READ_ONCE(esxmem_pool.state)) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_HIGH_PERMILLE, c.permille.of[ESXMEM_STATE_HIGH]) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_SOFT_PERMILLE, c.permille.of[ESXMEM_STATE_SOFT]) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_HARD_PERMILLE, c.permille.of[ESXMEM_STATE_HARD]) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_LOW_PERMILLE, c.permille.of[ESXMEM_STATE_LOW]) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_FAULT_WAIT_MS, c.fault_wait_ms) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_OBJECTS, esxmem_vm_count()) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_SAMPLE_SECS, READ_ONCE(esxmem_sampler.period_secs)) ||
	    nla_put_u32(skb, ESXMEM_POOL_A_SAMPLE_PAGES, READ_ONCE(esxmem_sampler.pages)))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int esxmem_nl_get_pool(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &esxmem_genl_family, 0, ESXMEM_CMD_GET_POOL);
	err = hdr ? put_pool(msg) : -EMSGSIZE;
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static const u16 permille_attr[ESXMEM_STATE_NR] = {
	[ESXMEM_STATE_HIGH] = ESXMEM_POOL_A_HIGH_PERMILLE,
	[ESXMEM_STATE_SOFT] = ESXMEM_POOL_A_SOFT_PERMILLE,
	[ESXMEM_STATE_HARD] = ESXMEM_POOL_A_HARD_PERMILLE,
	[ESXMEM_STATE_LOW] = ESXMEM_POOL_A_LOW_PERMILLE,
};

static int esxmem_nl_set_pool(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[ESXMEM_POOL_A_MAX + 1];
	struct esxmem_pool_config c;
	int s, err;

	if (GENL_REQ_ATTR_CHECK(info, ESXMEM_A_POOL))
		return -EINVAL;
	err = nla_parse_nested(tb, ESXMEM_POOL_A_MAX, info->attrs[ESXMEM_A_POOL],
			       pool_policy, info->extack);
	if (err)
		return err;

	mutex_lock(&esxmem_pool_config_lock);
	esxmem_pool_get_config(&c);
	if (tb[ESXMEM_POOL_A_PAGES]) {
		u64 pages = nla_get_u64(tb[ESXMEM_POOL_A_PAGES]);

		c.pages = pages > ULONG_MAX ? 0 : pages;
	}
	for (s = 0; s < ESXMEM_STATE_NR; s++)
		if (tb[permille_attr[s]])
			c.permille.of[s] = nla_get_u32(tb[permille_attr[s]]);
	if (tb[ESXMEM_POOL_A_FAULT_WAIT_MS])
		c.fault_wait_ms = nla_get_u32(tb[ESXMEM_POOL_A_FAULT_WAIT_MS]);
	err = esxmem_pool_configure(&c);
	mutex_unlock(&esxmem_pool_config_lock);
	if (err) {
		NL_SET_ERR_MSG(info->extack,
			       "pool pages must be 1..RAM and thresholds 1000 >= high > soft > hard > low > 0");
		return err;
	}
	/* The policy checked their ranges: these cannot fail. */
	if (tb[ESXMEM_POOL_A_SAMPLE_SECS])
		WRITE_ONCE(esxmem_sampler.period_secs,
			   nla_get_u32(tb[ESXMEM_POOL_A_SAMPLE_SECS]));
	if (tb[ESXMEM_POOL_A_SAMPLE_PAGES])
		WRITE_ONCE(esxmem_sampler.pages,
			   nla_get_u32(tb[ESXMEM_POOL_A_SAMPLE_PAGES]));
	esxmem_sample_kick();
	return 0;
}

static const struct genl_ops esxmem_ops[] = {
	{
		/* VM names, owners, memory layouts and activity: admin only. */
		.cmd = ESXMEM_CMD_GET_VM,
		.doit = esxmem_nl_get_vm,
		.start = esxmem_nl_dump_vms_start,
		.dumpit = esxmem_nl_dump_vms,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = ESXMEM_CMD_SET_VM,
		.doit = esxmem_nl_set_vm,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = ESXMEM_CMD_GET_POOL,
		.doit = esxmem_nl_get_pool,
	}, {
		.cmd = ESXMEM_CMD_SET_POOL,
		.doit = esxmem_nl_set_pool,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = ESXMEM_CMD_ATTACH_KVM,
		.doit = esxmem_nl_attach_kvm,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = ESXMEM_CMD_DETACH_KVM,
		.doit = esxmem_nl_detach_kvm,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = ESXMEM_CMD_BALLOON,
		.doit = esxmem_nl_balloon,
		.flags = GENL_ADMIN_PERM,
	}, {
		.cmd = ESXMEM_CMD_SET_SWAP,
		.doit = esxmem_nl_set_swap,
		.flags = GENL_ADMIN_PERM,
	},
};

/* Events name VMs and their owners as they come and go: admin only. */
static const struct genl_multicast_group esxmem_mcgrps[] = {
	{ .name = ESXMEM_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family esxmem_genl_family __ro_after_init = {
	.name = ESXMEM_GENL_NAME,
	.version = ESXMEM_GENL_VERSION,
	.maxattr = ESXMEM_A_MAX,
	.policy = esxmem_policy,
	.netnsok = false,
	/*
	 * No genl_mutex around requests: each takes only the locks of what
	 * it touches, and none may wait on a VMM under a lock that faults or
	 * reclaim need (see the lock order in esxmem.h).
	 */
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = esxmem_ops,
	.n_ops = ARRAY_SIZE(esxmem_ops),
	.mcgrps = esxmem_mcgrps,
	.n_mcgrps = ARRAY_SIZE(esxmem_mcgrps),
};

static bool esxmem_genl_registered;

static void multicast(struct sk_buff *msg, void *hdr)
{
	genlmsg_end(msg, hdr);
	/* -ESRCH just means nobody listens. */
	genlmsg_multicast(&esxmem_genl_family, msg, 0, 0, GFP_KERNEL);
}

/*
 * A new event message of @cmd with its nest @type open, or NULL when
 * nobody listens or memory is short: events are best effort.
 */
static struct sk_buff *event_start(int cmd, int type, void **hdr,
				   struct nlattr **nest)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&esxmem_genl_family, &init_net, 0))
		return NULL;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &esxmem_genl_family, 0, cmd);
	*nest = *hdr ? nla_nest_start(msg, type) : NULL;
	if (!*nest) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void event_send(struct sk_buff *msg, void *hdr, struct nlattr *nest)
{
	nla_nest_end(msg, nest);
	multicast(msg, hdr);
}

void esxmem_netlink_vm_event(int cmd, u32 id, pid_t owner)
{
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	if (!READ_ONCE(esxmem_genl_registered))
		return;
	msg = event_start(cmd, ESXMEM_A_VM, &hdr, &nest);
	if (!msg)
		return;
	if (nla_put_u32(msg, ESXMEM_VM_A_ID, id) ||
	    nla_put_u32(msg, ESXMEM_VM_A_OWNER_PID, owner)) {
		nlmsg_free(msg);
		return;
	}
	event_send(msg, hdr, nest);
}

/* State changes happen in fault paths: send from a worker. */
static void state_event_work(struct work_struct *work)
{
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	msg = event_start(ESXMEM_CMD_EVENT_STATE, ESXMEM_A_POOL, &hdr, &nest);
	if (!msg)
		return;
	if (nla_put_u32(msg, ESXMEM_POOL_A_STATE, READ_ONCE(esxmem_pool.state)) ||
	    nla_put_s64(msg, ESXMEM_POOL_A_FREE_PAGES, esxmem_pool_free_pages(),
			ESXMEM_POOL_A_PAD)) {
		nlmsg_free(msg);
		return;
	}
	event_send(msg, hdr, nest);
}

static DECLARE_WORK(esxmem_state_work, state_event_work);

void esxmem_netlink_state_changed(void)
{
	if (READ_ONCE(esxmem_genl_registered))
		schedule_work(&esxmem_state_work);
}

int esxmem_netlink_init(void)
{
	int err = genl_register_family(&esxmem_genl_family);

	if (!err)
		WRITE_ONCE(esxmem_genl_registered, true);
	return err;
}

void esxmem_netlink_exit(void)
{
	WRITE_ONCE(esxmem_genl_registered, false);
	cancel_work_sync(&esxmem_state_work);
	genl_unregister_family(&esxmem_genl_family);
}
