/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The esxmem messages, without sockets: building requests from the public
 * settings structs and parsing replies and events into the library's
 * objects (info.h). Pure functions over
 * memory, unit-tested without a kernel.
 *
 * Builders return 0 and a new message in *out (free it with nlmsg_free()),
 * or -EINVAL for bad arguments, -ENOMEM, -EMSGSIZE. The message is complete
 * but for its sequence number and port, which sending fills in: one
 * ESXMEM_A_VM or ESXMEM_A_POOL nest (with NLA_F_NESTED, as the kernel's
 * strict validation wants), NLM_F_REQUEST and NLM_F_ACK set (a dump:
 * NLM_F_REQUEST | NLM_F_DUMP), genl version ESXMEM_GENL_VERSION.
 *
 * Parsers read one message whose nlmsg_len bytes are readable (the caller
 * checked it against what it received) and return 0, or:
 *   -EBADMSG  not well-formed: too short for its headers, an attribute that
 *             runs past its container or leaves bytes over, a length that
 *             does not match the attribute's type, a string without its
 *             NUL or longer than its maximum;
 *   -EPROTO   well-formed but not the protocol: the expected nest missing,
 *             another top-level nest beside it, a required attribute
 *             missing, an attribute twice, an attribute of type 0 or one
 *             that only requests carry, a value out of range, a slot list
 *             entry that is not ESXMEM_SLOT or more of them than fit;
 *   -ENOMEM.
 * Attribute types above the ones this library knows (from a newer module)
 * are skipped. On failure the output holds nothing to free.
 */
#ifndef LIBESXMEM_MSG_H
#define LIBESXMEM_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <netlink/netlink.h>

#include "info.h"

/*
 * The most slots one VM reply can carry. A nest's length is 16 bits; the
 * VM nest holds its header (4 bytes), the ID (8) and the slot list's header
 * (4) besides the entries, and a complete ESXMEM_SLOT entry takes 48 bytes
 * (4 for its header, 8 for the u32 id, 12 for each u64). A list with more
 * entries than this cannot be valid.
 */
#define ESXMEM_MSG_SLOT_BYTES	48
#define ESXMEM_MSG_MAX_SLOTS	((UINT16_MAX - 16) / ESXMEM_MSG_SLOT_BYTES)

/* ESXMEM_CMD_GET_VM doit: ESXMEM_A_VM { ID }. */
int esxmem_msg_vm_get(int family, uint32_t id, struct nl_msg **out);

/*
 * ESXMEM_CMD_GET_VM doit of the groups of attributes in @fields:
 * ESXMEM_A_VM { ID, FIELDS }. -EINVAL: a bit beyond ESXMEM_VM_FIELDS_ALL.
 */
int esxmem_msg_vm_get_fields(int family, uint32_t id, uint32_t fields, struct nl_msg **out);

/* ESXMEM_CMD_GET_VM dump: an empty ESXMEM_A_VM nest. */
int esxmem_msg_vm_dump(int family, struct nl_msg **out);

/*
 * ESXMEM_CMD_GET_VM dump of the groups of attributes in @fields:
 * ESXMEM_A_VM { FIELDS }. -EINVAL: a bit beyond ESXMEM_VM_FIELDS_ALL.
 */
int esxmem_msg_vm_dump_fields(int family, uint32_t fields, struct nl_msg **out);

/*
 * ESXMEM_CMD_SET_VM: ESXMEM_A_VM { ID, the fields in s->set }.
 * -EINVAL: s->set is 0 or has unknown bits, or the name has no NUL.
 */
int esxmem_msg_vm_set(int family, uint32_t id,
		      const struct esxmem_vm_settings *s, struct nl_msg **out);

/* ESXMEM_CMD_GET_POOL: an empty ESXMEM_A_POOL nest. */
int esxmem_msg_pool_get(int family, struct nl_msg **out);

/*
 * ESXMEM_CMD_SET_POOL: ESXMEM_A_POOL { the fields in s->set }.
 * -EINVAL: s->set is 0 or has unknown bits.
 */
int esxmem_msg_pool_set(int family, const struct esxmem_pool_settings *s,
			struct nl_msg **out);

/* ESXMEM_CMD_ATTACH_KVM: ESXMEM_A_VM { ID, KVM_FD }. -EBADF: kvm_fd < 0. */
int esxmem_msg_kvm_attach(int family, uint32_t id, int kvm_fd,
			  struct nl_msg **out);

/*
 * ESXMEM_CMD_BALLOON: ESXMEM_A_VM { ID, BALLOON_GFNS, BALLOON_RELEASE if
 * @release }. -EINVAL: no frames or more than ESXMEM_BALLOON_BATCH_MAX.
 */
int esxmem_msg_vm_balloon(int family, uint32_t id, const uint64_t *gfns,
			  size_t n, bool release, struct nl_msg **out);

/* ESXMEM_CMD_SET_SWAP: ESXMEM_A_VM { ID, SWAP_FD } (-1 for any negative @fd). */
int esxmem_msg_vm_set_swap(int family, uint32_t id, int fd, struct nl_msg **out);

/* ESXMEM_CMD_DETACH_KVM: ESXMEM_A_VM { ID }. */
int esxmem_msg_kvm_detach(int family, uint32_t id, struct nl_msg **out);

/*
 * A GET_VM reply (doit or dump): ESXMEM_A_VM { ID required, the rest
 * optional }, into *out, which it overwrites, as a reply of every group of
 * attributes (out->fields). Allocates out->slots; free them with
 * esxmem_vm_info_clear().
 */
int esxmem_msg_parse_vm(const struct nlmsghdr *nlh, struct esxmem_vm_info *out);

/* The values computed from others (sums, active pages), again from @vm's. */
void esxmem_vm_derive_values(struct esxmem_vm_info *vm);

/* A GET_POOL reply: ESXMEM_A_POOL { all optional }. */
int esxmem_msg_parse_pool(const struct nlmsghdr *nlh,
			  struct esxmem_pool_info *out);

/*
 * An event, by its genl command, with every attribute the protocol gives
 * it required. -ENOMSG: the command is not an event this library knows
 * (the caller skips it).
 */
int esxmem_msg_parse_event(const struct nlmsghdr *nlh,
			   struct esxmem_event *out);

/*
 * Walks the messages of one received datagram, buf[*pos, len), to the next
 * event of @family, skipping messages of other types and events this
 * library does not know. Returns 0 with the event in *out, -ENOMSG when
 * no event is left (then *pos == len), or -EBADMSG / -EPROTO for a
 * malformed message, which is skipped (a malformed header ends the walk).
 * *pos always advances past what it examined.
 */
int esxmem_msg_next_event(const void *buf, size_t len, size_t *pos,
			  int family, struct esxmem_event *out);

/*
 * Classifies a message of a reply. Returns:
 *   0  a data message (or NLMSG_NOOP): the reply goes on;
 *   1  the end of the reply, with *error set to 0 (an ack, or the end of a
 *      dump) or to the kernel's negative errno (an error, or a dump that
 *      failed midway); an NLMSG_OVERRUN ends it with -ENOBUFS;
 *   -EBADMSG  an error or end message too short for its payload.
 * For an error or the end of a dump with extended-ack attributes, copies
 * the kernel's message (NLMSGERR_ATTR_MSG) into msg[msgsize] (truncated,
 * always NUL-terminated); otherwise leaves msg alone.
 */
int esxmem_msg_reply_status(const struct nlmsghdr *nlh, int *error,
			    char *msg, size_t msgsize);

#endif /* LIBESXMEM_MSG_H */
