// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * VMs: get one, list all, change one, attach to and detach from KVM.
 * The objects and their getters are in info.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "msg.h"

struct get_ctx {
	struct esxmem_vm_info *out;
	bool got;
};

static int get_one(const struct nlmsghdr *nlh, void *arg)
{
	struct get_ctx *ctx = arg;
	int err;

	if (ctx->got)
		return -EPROTO;		/* one VM asked, several answered */
	err = esxmem_msg_parse_vm(nlh, ctx->out);
	if (err)
		return err;
	ctx->got = true;
	return 0;
}

/*
 * Reads the groups @fields of VM @id into *out, which it overwrites; on
 * failure *out holds nothing.
 */
static int read_vm(struct esxmem *h, uint32_t id, uint32_t fields, struct esxmem_vm_info *out)
{
	struct get_ctx ctx = { .out = out };
	struct nl_msg *msg = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = fields == ESXMEM_VM_FIELDS_ALL ? esxmem_msg_vm_get(esxmem_family(h), id, &msg) :
	      esxmem_msg_vm_get_fields(esxmem_family(h), id, fields, &msg);
	if (!err)
		err = esxmem_request(h, msg, get_one, &ctx);
	if (!err && (!ctx.got || out->id != id))
		err = -EPROTO;
	if (err)
		esxmem_vm_info_clear(out);
	return err;
}

ESXMEM_EXPORT int esxmem_vm_get(struct esxmem *h, uint32_t id,
				struct esxmem_vm_info **out)
{
	struct esxmem_vm_info *vm;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!h)
		return -EINVAL;
	vm = malloc(sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	err = read_vm(h, id, ESXMEM_VM_FIELDS_ALL, vm);
	if (err) {
		free(vm);
		return err;
	}
	*out = vm;
	return 0;
}

ESXMEM_EXPORT int esxmem_vm_refresh(struct esxmem *h, struct esxmem_vm_info *vm)
{
	struct esxmem_vm_info fresh;
	int err;

	if (!h || !vm)
		return -EINVAL;
	err = read_vm(h, vm->id, ESXMEM_VM_FIELDS_ALL, &fresh);
	if (err)
		return err;
	esxmem_vm_info_clear(vm);
	*vm = fresh;
	return 0;
}

ESXMEM_EXPORT int esxmem_vm_refresh_fields(struct esxmem *h, struct esxmem_vm_info *vm,
					   uint32_t fields)
{
	struct esxmem_vm_info fresh;
	int err;

	if (!h || !vm || fields & ~(uint32_t)ESXMEM_VM_FIELDS_ALL)
		return -EINVAL;
	if (fields == ESXMEM_VM_FIELDS_ALL)
		return esxmem_vm_refresh(h, vm);
	err = read_vm(h, vm->id, fields, &fresh);
	if (err)
		return err;
	esxmem_vm_info_take(vm, &fresh, fields);
	esxmem_vm_info_clear(&fresh);
	return 0;
}

struct list_ctx {
	struct esxmem_vm_info **vms;
	size_t n;
	size_t cap;
	uint32_t fields;	/* the groups of values asked for */
};

static int add_vm(const struct nlmsghdr *nlh, void *arg)
{
	struct list_ctx *ctx = arg;
	struct esxmem_vm_info **vms, *vm;
	size_t cap;
	int err;

	if (ctx->n == ctx->cap) {
		cap = ctx->cap ? 2 * ctx->cap : 16;
		vms = reallocarray(ctx->vms, cap, sizeof(*vms));
		if (!vms)
			return -ENOMEM;
		ctx->vms = vms;
		ctx->cap = cap;
	}
	vm = malloc(sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	err = esxmem_msg_parse_vm(nlh, vm);
	if (err) {
		free(vm);
		return err;
	}
	vm->fields = ctx->fields;
	ctx->vms[ctx->n++] = vm;
	return 0;
}

/*
 * Every VM with the values of @fields; with ESXMEM_VM_FIELDS_ALL the
 * request leaves FIELDS out, which modules older than it take too.
 */
static int list_vms(struct esxmem *h, uint32_t fields, struct esxmem_vm_info ***vms,
		    size_t *n)
{
	struct list_ctx ctx = { .fields = fields };
	struct nl_msg *msg = NULL;
	int err;

	if (!vms || !n)
		return -EINVAL;
	*vms = NULL;
	*n = 0;
	if (!h)
		return -EINVAL;
	err = fields == ESXMEM_VM_FIELDS_ALL ? esxmem_msg_vm_dump(esxmem_family(h), &msg) :
	      esxmem_msg_vm_dump_fields(esxmem_family(h), fields, &msg);
	if (!err)
		err = esxmem_request(h, msg, add_vm, &ctx);
	if (err) {
		esxmem_vm_list_free(ctx.vms, ctx.n);
		return err;
	}
	*vms = ctx.vms;
	*n = ctx.n;
	return 0;
}

ESXMEM_EXPORT int esxmem_vm_list(struct esxmem *h, struct esxmem_vm_info ***vms,
				 size_t *n)
{
	return list_vms(h, ESXMEM_VM_FIELDS_ALL, vms, n);
}

ESXMEM_EXPORT int esxmem_vm_list_fields(struct esxmem *h, uint32_t fields,
					struct esxmem_vm_info ***vms, size_t *n)
{
	return list_vms(h, fields, vms, n);
}

ESXMEM_EXPORT int esxmem_vm_set(struct esxmem *h, uint32_t id,
				const struct esxmem_vm_settings *s)
{
	struct nl_msg *msg = NULL;
	int err;

	if (!h)
		return -EINVAL;
	err = esxmem_msg_vm_set(esxmem_family(h), id, s, &msg);
	return err ? err : esxmem_request(h, msg, NULL, NULL);
}

ESXMEM_EXPORT int esxmem_vm_update(struct esxmem *h, struct esxmem_vm_info *vm,
				   const struct esxmem_vm_settings *s)
{
	int err;

	if (!vm)
		return -EINVAL;
	err = esxmem_vm_set(h, vm->id, s);
	if (!err)
		esxmem_vm_info_record(vm, s);
	return err;
}

ESXMEM_EXPORT int esxmem_kvm_attach(struct esxmem *h, uint32_t vm_id,
				    int kvm_fd)
{
	struct nl_msg *msg = NULL;
	int err;

	if (!h)
		return -EINVAL;
	err = esxmem_msg_kvm_attach(esxmem_family(h), vm_id, kvm_fd, &msg);
	return err ? err : esxmem_request(h, msg, NULL, NULL);
}

ESXMEM_EXPORT int esxmem_vm_balloon(struct esxmem *h, uint32_t vm_id,
				    const uint64_t *gfns, size_t n, bool release)
{
	struct nl_msg *msg = NULL;
	int err;

	if (!h)
		return -EINVAL;
	err = esxmem_msg_vm_balloon(esxmem_family(h), vm_id, gfns, n, release, &msg);
	return err ? err : esxmem_request(h, msg, NULL, NULL);
}

ESXMEM_EXPORT int esxmem_vm_set_swap(struct esxmem *h, uint32_t vm_id, int fd)
{
	struct nl_msg *msg = NULL;
	int err;

	if (!h)
		return -EINVAL;
	err = esxmem_msg_vm_set_swap(esxmem_family(h), vm_id, fd, &msg);
	return err ? err : esxmem_request(h, msg, NULL, NULL);
}

ESXMEM_EXPORT int esxmem_kvm_detach(struct esxmem *h, uint32_t vm_id)
{
	struct nl_msg *msg = NULL;
	int err;

	if (!h)
		return -EINVAL;
	err = esxmem_msg_kvm_detach(esxmem_family(h), vm_id, &msg);
	return err ? err : esxmem_request(h, msg, NULL, NULL);
}
