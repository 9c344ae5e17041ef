// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Errors: libnl's NLE_* codes as errno values, and esxmem_strerror().
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <netlink/errno.h>

#include "internal.h"

/*
 * What each libnl error means for a caller of this library. Where libnl
 * folds several errno values into one code (nl_syserr2nlerr()), the most
 * likely one for a generic netlink client is chosen.
 */
static const int nle_errno[NLE_MAX + 1] = {
	[NLE_SUCCESS]		= 0,
	[NLE_FAILURE]		= EIO,		/* "unspecific failure" */
	[NLE_INTR]		= EINTR,
	[NLE_BAD_SOCK]		= EBADF,
	[NLE_AGAIN]		= EAGAIN,
	[NLE_NOMEM]		= ENOMEM,
	[NLE_EXIST]		= EEXIST,
	[NLE_INVAL]		= EINVAL,
	[NLE_RANGE]		= ERANGE,
	[NLE_MSGSIZE]		= EMSGSIZE,
	[NLE_OPNOTSUPP]		= EOPNOTSUPP,
	[NLE_AF_NOSUPPORT]	= EAFNOSUPPORT,
	[NLE_OBJ_NOTFOUND]	= ENOENT,	/* e.g. an unknown genl family */
	[NLE_NOATTR]		= EPROTO,	/* a message lacks an attribute */
	[NLE_MISSING_ATTR]	= EPROTO,
	[NLE_AF_MISMATCH]	= EAFNOSUPPORT,
	[NLE_SEQ_MISMATCH]	= EPROTO,	/* a reply to another request */
	[NLE_MSG_OVERFLOW]	= ENOBUFS,	/* NLMSG_OVERRUN: messages lost */
	[NLE_MSG_TRUNC]		= EBADMSG,
	[NLE_NOADDR]		= EADDRNOTAVAIL,
	[NLE_SRCRT_NOSUPPORT]	= EOPNOTSUPP,
	[NLE_MSG_TOOSHORT]	= EBADMSG,
	[NLE_MSGTYPE_NOSUPPORT]	= EPROTO,
	[NLE_OBJ_MISMATCH]	= EINVAL,
	[NLE_NOCACHE]		= ENOENT,
	[NLE_BUSY]		= EBUSY,
	[NLE_PROTO_MISMATCH]	= EPROTONOSUPPORT,
	[NLE_NOACCESS]		= EACCES,
	[NLE_PERM]		= EPERM,
	[NLE_PKTLOC_FILE]	= ENOENT,
	[NLE_PARSE_ERR]		= EINVAL,
	[NLE_NODEV]		= ENODEV,
	[NLE_IMMUTABLE]		= EPERM,
	[NLE_DUMP_INTR]		= EAGAIN,	/* a torn dump: list again */
	[NLE_ATTRSIZE]		= EMSGSIZE,
};

int esxmem_nl_errno(int nlerr)
{
	if (nlerr < 0)
		nlerr = nlerr == INT_MIN ? INT_MAX : -nlerr;
	if (nlerr > NLE_MAX)
		return -EIO;
	return -nle_errno[nlerr];
}

ESXMEM_EXPORT const char *esxmem_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = err == INT_MIN ? INT_MAX : -err;
	switch (err) {
	case 0:
		return "success";
	case EPERM:
		return "operation not permitted: run as root, or with CAP_NET_ADMIN (and CAP_SYS_ADMIN to set a swap file)";
	case ENOENT:
		return "no such VM, or esxmem.ko is not loaded (modprobe esxmem)";
	case EBADMSG:
		return "malformed message from esxmem.ko";
	case EPROTO:
		return "unexpected message from esxmem.ko (library and module do not match)";
	case ENOBUFS:
		return "netlink receive buffer overrun: messages were lost";
	}
	s = strerrordesc_np(err);
	return s ? s : "unknown error";
}
