// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The machine-memory pool: read it, change it.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "msg.h"

struct get_ctx {
	struct esxmem_pool_info *out;
	bool got;
};

static int get_pool(const struct nlmsghdr *nlh, void *arg)
{
	struct get_ctx *ctx = arg;
	int err;

	if (ctx->got)
		return -EPROTO;		/* one pool, several answers */
	err = esxmem_msg_parse_pool(nlh, ctx->out);
	if (err)
		return err;
	ctx->got = true;
	return 0;
}

ESXMEM_EXPORT int esxmem_pool_get(struct esxmem *h,
				  struct esxmem_pool_info **out)
{
	struct get_ctx ctx = { 0 };
	struct nl_msg *msg = NULL;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!h)
		return -EINVAL;
	ctx.out = calloc(1, sizeof(*ctx.out));
	if (!ctx.out)
		return -ENOMEM;
	err = esxmem_msg_pool_get(esxmem_family(h), &msg);
	if (!err)
		err = esxmem_request(h, msg, get_pool, &ctx);
	if (!err && !ctx.got)
		err = -EPROTO;
	if (err) {
		free(ctx.out);
		return err;
	}
	*out = ctx.out;
	return 0;
}

ESXMEM_EXPORT int esxmem_pool_set(struct esxmem *h,
				  const struct esxmem_pool_settings *s)
{
	struct nl_msg *msg = NULL;
	int err;

	if (!h)
		return -EINVAL;
	err = esxmem_msg_pool_set(esxmem_family(h), s, &msg);
	return err ? err : esxmem_request(h, msg, NULL, NULL);
}
