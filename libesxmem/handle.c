// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The handle: a generic netlink socket bound to the "esxmem" family, and
 * requests over it. A request is sent, then every message of its reply is
 * read through one libnl callback that sees each message first
 * (NL_CB_MSG_IN): it drops messages of earlier requests by sequence number,
 * ends the reply at the ack, the error or the end of a dump (keeping the
 * kernel's errno and extended-ack message), notes NLM_F_DUMP_INTR, and
 * hands data messages to the request's parser.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "internal.h"
#include "msg.h"

/*
 * Replies are read into a buffer this large: the kernel then fills each
 * part of a dump up to its own limit (32 KiB, against 16 KiB for libnl's
 * default buffer), and libnl takes each datagram in one read instead of
 * peeking at its size first, so that listing a thousand VMs takes a few
 * dozen reads. The largest single reply, a VM with a full slot map, is
 * below 32 KiB.
 */
#define RECV_BUF_BYTES	(64 * 1024)

struct request {
	uint32_t seq;
	esxmem_reply_fn fn;
	void *arg;
	bool done;		/* the reply's last message was read */
	bool interrupted;	/* a message had NLM_F_DUMP_INTR */
	int error;		/* the kernel's errno, or a malformed end */
	int fn_error;		/* the first error of fn */
};

struct esxmem {
	struct nl_sock *sk;
	struct nl_cb *cb;
	int family;
	struct request *req;	/* the request being read */
	char errmsg[256];	/* the last failure's extended-ack message */
};

int esxmem_nl_connect(const char *family_name, struct nl_sock **skp,
		      int *family)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
	struct nl_sock *sk;
	int fd, one = 1, err;

	/*
	 * The socket is made here rather than by genl_connect() so that its
	 * errors keep their errno (libnl folds most into NLE_FAILURE) and
	 * its buffers keep the system's sizes (libnl shrinks them to 32 KiB).
	 */
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		close(fd);
		goto fail;
	}
	/* Best effort: the kernel's reasons for errors, without the request. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	err = nl_socket_set_fd(sk, NETLINK_GENERIC, fd);
	if (err < 0) {
		close(fd);
		err = esxmem_nl_errno(err);
		goto fail;
	}

	err = genl_ctrl_resolve(sk, family_name);
	if (err < 0) {
		err = esxmem_nl_errno(err);	/* missing: -ENOENT */
		goto fail;
	}
	*family = err;
	*skp = sk;
	return 0;

fail:
	nl_socket_free(sk);	/* closes the fd it owns */
	return err;
}

static int on_message(struct nl_msg *msg, void *arg)
{
	struct esxmem *h = arg;
	struct request *req = h->req;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int status, error = 0, err;

	if (!req || req->done || nlh->nlmsg_seq != req->seq)
		return NL_SKIP;		/* left over from a failed request */
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		req->interrupted = true;

	status = esxmem_msg_reply_status(nlh, &error, h->errmsg,
					 sizeof(h->errmsg));
	if (status) {
		req->done = true;
		req->error = status < 0 ? status : error;
		return NL_STOP;
	}
	if (nlh->nlmsg_type == h->family && req->fn && !req->fn_error) {
		err = req->fn(nlh, req->arg);
		if (err < 0)
			req->fn_error = err;
	}
	return NL_SKIP;
}

int esxmem_open_family(const char *family_name, struct esxmem **out)
{
	struct esxmem *h;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	err = esxmem_nl_connect(family_name, &h->sk, &h->family);
	if (err)
		goto fail;
	/* Requests carry their own flags (msg.c); sequence numbers are
	 * checked by on_message().
	 */
	nl_socket_disable_auto_ack(h->sk);
	err = nl_socket_set_msg_buf_size(h->sk, RECV_BUF_BYTES);
	if (err < 0) {
		err = esxmem_nl_errno(err);
		goto fail;
	}
	h->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!h->cb) {
		err = -ENOMEM;
		goto fail;
	}
	err = nl_cb_set(h->cb, NL_CB_MSG_IN, NL_CB_CUSTOM, on_message, h);
	if (err < 0) {
		err = esxmem_nl_errno(err);
		goto fail;
	}
	*out = h;
	return 0;

fail:
	esxmem_close(h);
	return err;
}

ESXMEM_EXPORT int esxmem_open(struct esxmem **out)
{
	return esxmem_open_family(ESXMEM_GENL_NAME, out);
}

ESXMEM_EXPORT void esxmem_close(struct esxmem *h)
{
	if (!h)
		return;
	nl_cb_put(h->cb);
	nl_socket_free(h->sk);
	free(h);
}

ESXMEM_EXPORT const char *esxmem_errmsg(const struct esxmem *h)
{
	return h ? h->errmsg : "";
}

int esxmem_family(const struct esxmem *h)
{
	return h->family;
}

int esxmem_request(struct esxmem *h, struct nl_msg *msg, esxmem_reply_fn fn,
		   void *arg)
{
	struct request req = { .fn = fn, .arg = arg };
	int err;

	h->errmsg[0] = '\0';
	err = nl_send_auto(h->sk, msg);
	req.seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	if (err < 0)
		return esxmem_nl_errno(err);

	h->req = &req;
	while (!req.done) {
		err = nl_recvmsgs(h->sk, h->cb);
		if (err < 0 && !req.done)
			break;
	}
	h->req = NULL;

	if (!req.done)
		return esxmem_nl_errno(err);
	if (req.error)
		return req.error;
	if (req.interrupted)
		return -EAGAIN;
	return req.fn_error;
}
