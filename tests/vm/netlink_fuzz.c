// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_fuzz: the "esxmem" generic netlink family under bad input.
 *
 *  - 12,000 malformed or random messages (random commands, flags, header
 *    fields, attribute types, lengths, nesting depth, truncation) leave the
 *    kernel healthy and the family answering; the pool configuration is
 *    what it was unless a message was valid;
 *  - an unprivileged caller gets EPERM for every mutating command and can
 *    still read the pool (esxmem_perms covers reading VMs and events);
 *  - attaching a fd that is not a KVM VM fails: EBADF for no fd, EINVAL
 *    for /dev/null, /dev/kvm itself and a memory object.
 */
#include "esxtest.h"
#include "vmtest.h"

#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define FUZZ_MESSAGES 12000

static int family;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static struct nl_sock *sock_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk || genl_connect(sk)) {
		fprintf(stderr, "generic netlink socket failed\n");
		exit(1);
	}
	return sk;
}

/* The error of the ack for @seq (0 or -errno), skipping data replies. */
static int wait_ack(struct nl_sock *sk, uint32_t seq)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = recv(nl_socket_get_fd(sk), buf, sizeof(buf), 0);

		if (n <= 0)
			return -EIO;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n))
			if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == seq)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
}

static int send_wait(struct nl_sock *sk, struct nl_msg *msg)
{
	uint32_t seq;
	int err;

	err = nl_send_auto(sk, msg);
	seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	return err < 0 ? -EIO : wait_ack(sk, seq);
}

/* Sends one well-formed request; returns the kernel's answer. */
static int request(struct nl_sock *sk, int cmd, int nest, int attr, uint64_t v, int len)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nlattr *n;

	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_ACK, cmd, 1);
	if (nest) {
		n = nla_nest_start(msg, nest);
		if (attr)
			nla_put(msg, attr, len, &v);
		nla_nest_end(msg, n);
	}
	return send_wait(sk, msg);
}

static int attach(struct nl_sock *sk, uint32_t id, int fd)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nlattr *n;

	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_ACK,
		    ESXMEM_CMD_ATTACH_KVM, 1);
	n = nla_nest_start(msg, ESXMEM_A_VM);
	nla_put_u32(msg, ESXMEM_VM_A_ID, id);
	nla_put_s32(msg, ESXMEM_VM_A_KVM_FD, fd);
	nla_nest_end(msg, n);
	return send_wait(sk, msg);
}

/* Writes random attributes into @buf up to @len bytes, nesting at random. */
static size_t random_attrs(uint8_t *buf, size_t len, int depth)
{
	size_t off = 0;

	while (off + 4 <= len && rnd() % 8) {
		struct nlattr *a = (struct nlattr *)(buf + off);
		size_t room = len - off - 4, plen = rnd() % 24;
		int nested = depth < 4 && !(rnd() % 3);

		if (plen > room)
			plen = room;
		a->nla_type = (uint16_t)((rnd() % 3 ? rnd() % 32 : rnd()) |
					 (nested ? NLA_F_NESTED : 0));
		if (nested)
			plen = random_attrs(buf + off + 4, room, depth + 1);
		else
			for (size_t i = 0; i < plen; i++)
				buf[off + 4 + i] = (uint8_t)rnd();
		/* Sometimes lie about the length. */
		a->nla_len = (uint16_t)(rnd() % 10 ? 4 + plen : rnd() % 64);
		off += NLA_ALIGN(4 + plen);
	}
	return off < len ? off : len;
}

static void fuzz(void)
{
	struct nl_sock *sk = sock_open();
	uint8_t buf[512];
	int sent = 0, errors = 0;

	nl_socket_set_nonblocking(sk);
	for (int i = 0; i < FUZZ_MESSAGES; i++) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		struct genlmsghdr *gh = (struct genlmsghdr *)(buf + NLMSG_HDRLEN);
		size_t body = random_attrs(buf + NLMSG_HDRLEN + GENL_HDRLEN,
					   sizeof(buf) - NLMSG_HDRLEN - GENL_HDRLEN, 0);
		size_t len = NLMSG_HDRLEN + GENL_HDRLEN + body;

		nlh->nlmsg_type = (uint16_t)(rnd() % 50 ? (uint32_t)family : rnd());
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (rnd() % 5 ? 0 : NLM_F_DUMP);
		nlh->nlmsg_seq = (uint32_t)i;
		nlh->nlmsg_pid = 0;
		nlh->nlmsg_len = (uint32_t)(rnd() % 20 ? len : rnd() % (len + 8));
		gh->cmd = (uint8_t)(rnd() % 4 ? 1 + rnd() % ESXMEM_CMD_MAX : rnd());
		gh->version = (uint8_t)(rnd() % 4 ? 1 : rnd());
		gh->reserved = (uint16_t)(rnd() % 8 ? 0 : rnd());
		if (nl_sendto(sk, buf, len) >= 0)
			sent++;
		/* Drain replies so the socket never fills. */
		for (;;) {
			uint8_t rbuf[8192];
			ssize_t n = recv(nl_socket_get_fd(sk), rbuf, sizeof(rbuf), MSG_DONTWAIT);

			if (n <= 0)
				break;
			for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, n);
			     h = NLMSG_NEXT(h, n))
				if (h->nlmsg_type == NLMSG_ERROR &&
				    ((struct nlmsgerr *)NLMSG_DATA(h))->error)
					errors++;
		}
	}
	printf("fuzz: %d messages sent, %d answered with an error\n", sent, errors);
	CHECK(sent >= FUZZ_MESSAGES * 9 / 10, "only %d messages sent", sent);
	CHECK(errors > FUZZ_MESSAGES / 2, "most messages must be refused, %d were", errors);
	nl_socket_free(sk);
}

static void unprivileged(void)
{
	static const int mutating[] = { ESXMEM_CMD_SET_VM, ESXMEM_CMD_SET_POOL,
					ESXMEM_CMD_ATTACH_KVM, ESXMEM_CMD_DETACH_KVM };
	int status;
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct nl_sock *sk;
		int bad = 0;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		sk = sock_open();
		for (size_t i = 0; i < sizeof(mutating) / sizeof(mutating[0]); i++) {
			int err = request(sk, mutating[i], ESXMEM_A_VM, ESXMEM_VM_A_ID, 1, 4);

			if (err != -EPERM) {
				fprintf(stderr, "command %d as nobody: %d, want EPERM\n",
					mutating[i], err);
				bad++;
			}
		}
		if (request(sk, ESXMEM_CMD_GET_POOL, 0, 0, 0, 0) != 0) {
			fprintf(stderr, "GET_POOL as nobody failed\n");
			bad++;
		}
		_exit(bad ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "unprivileged checks failed");
}

static void attach_bad_fds(struct nl_sock *sk, uint32_t id)
{
	int null = open("/dev/null", O_RDWR), kvm = open("/dev/kvm", O_RDWR);
	int obj = esx_open();

	CHECK(attach(sk, id, null) == -EINVAL, "attaching /dev/null must fail with EINVAL");
	CHECK(attach(sk, id, kvm) == -EINVAL, "attaching /dev/kvm must fail with EINVAL");
	CHECK(attach(sk, id, obj) == -EINVAL, "attaching a memory object must fail with EINVAL");
	CHECK(attach(sk, id, 999) == -EBADF, "attaching fd 999 must fail with EBADF");
	CHECK(attach(sk, 0x7ffffff0, null) == -ENOENT, "attaching to an unknown VM: ENOENT");
	close(null);
	close(kvm);
	close(obj);
}

int main(void)
{
	char pool_before[32], pool_after[32], thr_before[32], thr_after[32];
	struct nl_sock *sk = sock_open();
	int objs[4];

	family = genl_ctrl_resolve(sk, ESXMEM_GENL_NAME);
	REQUIRE(family > 0, "family %s not found: %d", ESXMEM_GENL_NAME, family);
	esx_sysfs_string("pool_pages", pool_before, sizeof(pool_before));
	esx_sysfs_string("state_soft_permille", thr_before, sizeof(thr_before));

	/* A few objects so that ids 1.. exist for the fuzzer to hit. */
	for (int i = 0; i < 4; i++)
		objs[i] = esx_open();

	fuzz();
	CHECK(request(sk, ESXMEM_CMD_GET_POOL, 0, 0, 0, 0) == 0,
	      "the family must still answer");
	/* Restore anything a randomly valid SET changed. */
	esx_sysfs_write("pool_pages", pool_before);
	esx_sysfs_write("state_high_permille", "60");
	esx_sysfs_write("state_soft_permille", "40");
	esx_sysfs_write("state_hard_permille", "20");
	esx_sysfs_write("state_low_permille", "10");
	esx_sysfs_write("fault_wait_ms", "10000");
	esx_sysfs_string("pool_pages", pool_after, sizeof(pool_after));
	esx_sysfs_string("state_soft_permille", thr_after, sizeof(thr_after));
	CHECK(!strcmp(pool_before, pool_after) && !strcmp(thr_before, thr_after),
	      "pool configuration restored");

	/* Precise cases: each must be refused with EINVAL. */
	CHECK(request(sk, ESXMEM_CMD_SET_VM, ESXMEM_A_VM, ESXMEM_VM_A_ID, 1, 2) == -EINVAL,
	      "u32 attribute of 2 bytes");
	CHECK(request(sk, ESXMEM_CMD_SET_VM, ESXMEM_A_VM, ESXMEM_VM_A_SIZE_PAGES, 1, 8) == -EINVAL,
	      "an output-only attribute in a request");
	CHECK(request(sk, ESXMEM_CMD_SET_VM, ESXMEM_A_VM, 200, 1, 4) == -EINVAL,
	      "an unknown attribute");
	CHECK(request(sk, ESXMEM_CMD_GET_VM, ESXMEM_A_VM, 0, 0, 0) == -EINVAL,
	      "GET_VM without an id");
	CHECK(request(sk, ESXMEM_CMD_GET_VM, ESXMEM_A_VM, ESXMEM_VM_A_ID, 0x7ffffff0, 4) == -ENOENT,
	      "GET_VM of an unknown id");
	CHECK(request(sk, ESXMEM_CMD_SET_POOL, ESXMEM_A_POOL, ESXMEM_POOL_A_LOW_PERMILLE, 1001, 4) == -ERANGE,
	      "a permille above 1000 is out of the policy's range");
	CHECK(request(sk, ESXMEM_CMD_SET_POOL, ESXMEM_A_POOL, ESXMEM_POOL_A_PAGES, 0, 8) == -EINVAL,
	      "a pool of 0 pages");
	CHECK(request(sk, 42, 0, 0, 0, 0) != 0, "an unknown command");

	unprivileged();
	attach_bad_fds(sk, esx_stats(objs[0]).id);

	for (int i = 0; i < 4; i++)
		close(objs[i]);
	nl_socket_free(sk);
	return vmtest_done("netlink_fuzz");
}
