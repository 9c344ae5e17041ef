// SPDX-License-Identifier: GPL-2.0
/*
 * What reading every VM costs with a thousand VMs (esxmem objects without
 * guests): esxmem_vm_list() as the daemon calls it each balance, and the
 * same dump read raw, without parsing, to tell the kernel's part from the
 * library's. Medians of RUNS runs; CPU time of this process from getrusage.
 *
 * Output: "bench: vm_list_<figure> <value> <unit>".
 */
#include <sys/resource.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <libesxmem/libesxmem.h>
#include "scale_host.h"

#define VMS	1000
#define RUNS	9

static double cpu(double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + *sys;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

/* One dump read raw into @bufsize-byte reads: bytes and messages. */
static int raw_dump(int fd, int family, size_t bufsize, size_t *bytes, size_t *msgs)
{
	static char buf[1 << 20];
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		struct nlattr a;
	} req = {
		.n = { .nlmsg_len = sizeof(req), .nlmsg_type = (uint16_t)family,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.g = { .cmd = ESXMEM_CMD_GET_VM, .version = ESXMEM_GENL_VERSION },
		.a = { .nla_len = NLA_HDRLEN, .nla_type = ESXMEM_A_VM | NLA_F_NESTED },
	};
	ssize_t n;

	*bytes = *msgs = 0;
	if (send(fd, &req, sizeof(req), 0) != sizeof(req))
		return -errno;
	for (;;) {
		struct nlmsghdr *h;

		n = recv(fd, buf, bufsize, 0);
		if (n <= 0)
			return -EIO;
		*bytes += (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				return 0;
			(*msgs)++;
		}
	}
}

int main(void)
{
	double wall[RUNS], user[RUNS], sys[RUNS], t, c, s0, s1;
	struct esxmem_vm_info **vms;
	struct esxmem *h;
	struct nl_sock *sk;
	size_t n, bytes = 0, msgs = 0, sizes[] = { 4096, 32768, 1 << 20 };
	int *fds, family, i, k;

	fds = sh_open_objects(VMS);
	REQUIRE(fds, "open %d objects", VMS);
	REQUIRE_OK(esxmem_open(&h));
	for (i = 0; i < RUNS; i++) {
		c = cpu(&s0);
		t = esx_now();
		REQUIRE_OK(esxmem_vm_list(h, &vms, &n));
		wall[i] = (esx_now() - t) * 1e3;
		user[i] = (cpu(&s1) - c - (s1 - s0)) * 1e3;
		sys[i] = (s1 - s0) * 1e3;
		esxmem_vm_list_free(vms, n);
	}
	printf("bench: vm_list_vms %zu VMs\n", n);
	printf("bench: vm_list_wall %.1f ms\n", median(wall));
	printf("bench: vm_list_user %.1f ms\n", median(user));
	printf("bench: vm_list_sys %.1f ms\n", median(sys));
	for (i = 0; i < RUNS; i++) {
		c = cpu(&s0);
		t = esx_now();
		REQUIRE_OK(esxmem_vm_list_fields(h, ESXMEM_VM_FIELDS_CONFIG | ESXMEM_VM_FIELDS_USAGE,
						 &vms, &n));
		wall[i] = (esx_now() - t) * 1e3;
		user[i] = (cpu(&s1) - c - (s1 - s0)) * 1e3;
		sys[i] = (s1 - s0) * 1e3;
		esxmem_vm_list_free(vms, n);
	}
	printf("bench: vm_list_policy_wall %.1f ms\n", median(wall));
	printf("bench: vm_list_policy_user %.1f ms\n", median(user));
	printf("bench: vm_list_policy_sys %.1f ms\n", median(sys));

	sk = nl_socket_alloc();
	REQUIRE(sk && !genl_connect(sk), "netlink socket");
	family = genl_ctrl_resolve(sk, ESXMEM_GENL_NAME);
	REQUIRE(family > 0, "resolve the family");
	for (k = 0; k < 3; k++) {
		for (i = 0; i < RUNS; i++) {
			c = cpu(&s0);
			t = esx_now();
			REQUIRE_OK(raw_dump(nl_socket_get_fd(sk), family, sizes[k], &bytes, &msgs));
			wall[i] = (esx_now() - t) * 1e3;
			user[i] = (cpu(&s1) - c - (s1 - s0)) * 1e3;
			sys[i] = (s1 - s0) * 1e3;
		}
		printf("bench: vm_list_raw%zu_wall %.1f ms\n", sizes[k], median(wall));
		printf("bench: vm_list_raw%zu_sys %.1f ms\n", sizes[k], median(sys));
		printf("bench: vm_list_raw%zu_user %.1f ms\n", sizes[k], median(user));
	}
	printf("bench: vm_list_bytes %zu bytes\n", bytes);
	printf("bench: vm_list_messages %zu count\n", msgs);
	nl_socket_free(sk);
	esxmem_close(h);
	for (i = 0; i < VMS; i++)
		close(fds[i]);
	free(fds);
	return vmtest_failures ? 1 : 0;
}
