// SPDX-License-Identifier: GPL-2.0
/*
 * tinyvmm: runs the test VMM's pattern check once, from the command line.
 *
 * A KVM guest fills N pages of RAM with a seeded pattern and checks it;
 * then the host checks every byte through its own mapping. The RAM is
 * anonymous memory or a MAP_SHARED mapping of a file or device.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CODE_GPA	0x0u
#define CODE_SIZE	0x10000u
#define RAM_GPA		0x100000u
#define CODE_SLOT	0u
#define RAM_SLOT	1u
/* RAM must end below the KVM-reserved range and within the guest's 4 GiB. */
#define MAX_PAGES	((VMM_RESERVED_GPA - RAM_GPA) / VMM_PAGE_SIZE)

/*
 * KVM counts the local APICs that are disabled, in hardware or in software,
 * in two static keys; each 0 <-> 1 change live-patches kernel text, which
 * waits for every CPU to answer an IPI. A nested guest under QEMU's TCG can
 * keep a CPU from answering for many seconds, long enough for a soft-lockup
 * panic in the test host whenever one guest boots (its APIC goes disabled,
 * then enabled) while another runs. A VM with an in-kernel APIC that is
 * never run and is disabled both ways keeps both counts above zero.
 */
static int hold_lapic_keys(void)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} msrs = {
		.hdr.nmsrs = 1,
		.entry = { .index = 0x1b /* MSR_IA32_APICBASE */, .data = 0xfee00000 },
	};
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm_fd = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
	int vcpu_fd;

	if (vm_fd < 0 || ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0)) {
		fprintf(stderr, "tinyvmm: --hold: cannot create a VM with an in-kernel APIC: %s\n",
			strerror(errno));
		return -1;
	}
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0 || ioctl(vcpu_fd, KVM_SET_MSRS, &msrs) != 1) {
		fprintf(stderr, "tinyvmm: --hold: cannot disable the held vCPU's APIC: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;	/* the descriptors stay open until the process ends */
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: tinyvmm [--fd-path PATH] [--offset BYTES] [--pages N] [--seed S]\n"
"\n"
"Creates a KVM virtual machine with N pages of RAM at guest physical\n"
"0x%x, has the guest fill the RAM with a pattern derived from the seed\n"
"and check it, then checks every byte from the host's mapping as well.\n"
"Prints a one-line summary; exits 0 only if everything matched.\n"
"\n"
"  -f, --fd-path PATH   back the RAM with mmap(MAP_SHARED) of PATH opened\n"
"                       O_RDWR (a file at least offset + N pages long, or a\n"
"                       device such as /dev/esxmem); default: anonymous memory\n"
"  -o, --offset BYTES   mmap offset into PATH, page-aligned (default 0)\n"
"  -p, --pages N        RAM size in 4 KiB pages, 1..%u (default 64)\n"
"  -s, --seed S         pattern seed, 32 bits (default 0x5eed1234)\n"
"  -t, --touch PCT      instead of the check, write the first PCT%% of the\n"
"                       pages over and over until killed (a guest whose\n"
"                       memory is that active), after printing \"touching\"\n"
"  -n, --name SPEC      ignored: a name for esxmemd to find, as QEMU's -name\n"
"      --device SPEC    ignored: a device for esxmemd to find, as QEMU's\n"
"                       -device (keyval or JSON, such as a vsock guest CID)\n"
"      --qmp SPEC       ignored: a QMP socket for esxmemd to find, as QEMU's -qmp\n"
"      --overhead MIB   also write MIB MiB of anonymous memory and keep it, as\n"
"                       a VMM's own memory beyond guest RAM (heap, buffers)\n"
"      --hold           only create an idle KVM VM and keep it until killed\n"
"                       (the test host holds one so that the count of KVM VMs\n"
"                       never drops to zero: each 0 <-> 1 change live-patches\n"
"                       the scheduler, which QEMU's TCG can mistranslate; and\n"
"                       one whose APIC is disabled, for the same reason)\n"
"  -h, --help           show this help\n"
"\n"
"Numbers may be decimal, 0x-prefixed hex or 0-prefixed octal.\n",
		RAM_GPA, (unsigned int)MAX_PAGES);
}

/* Parses an unsigned number in [min, max]; 0 or -EINVAL. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fd-path", required_argument, NULL, 'f' },
		{ "offset", required_argument, NULL, 'o' },
		{ "pages", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "hold", no_argument, NULL, 'H' },
		{ "touch", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "device", required_argument, NULL, 'D' },
		{ "qmp", required_argument, NULL, 'Q' },
		{ "overhead", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	uint64_t pages = 64, seed = 0x5eed1234, offset = 0, size, touch = 0;
	bool touching = false;
	uint64_t host_bad, first_bad;
	struct vmm_regs r;
	struct vmm *vm = NULL;
	double t0, t_fill, t_check;
	int fd = -1, c, ret, status = 1;
	void *ram;

	while ((c = getopt_long(argc, argv, "f:o:p:s:t:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			path = optarg;
			break;
		case 'o':
			if (parse_u64(optarg, 0, INT64_MAX, &offset) ||
			    offset % VMM_PAGE_SIZE) {
				fprintf(stderr, "tinyvmm: bad --offset '%s': want a page-aligned byte count\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			if (parse_u64(optarg, 1, MAX_PAGES, &pages)) {
				fprintf(stderr, "tinyvmm: bad --pages '%s': want 1..%u\n",
					optarg, (unsigned int)MAX_PAGES);
				return 2;
			}
			break;
		case 's':
			if (parse_u64(optarg, 0, UINT32_MAX, &seed)) {
				fprintf(stderr, "tinyvmm: bad --seed '%s': want 0..0xffffffff\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_u64(optarg, 0, 100, &touch)) {
				fprintf(stderr, "tinyvmm: bad --touch '%s': want 0..100\n", optarg);
				return 2;
			}
			touching = true;
			break;
		case 'n':
		case 'D':
		case 'Q':
			break;
		case 'O': {
			static char *volatile own;	/* the writes must stay */
			uint64_t mib;

			if (parse_u64(optarg, 1, 65536, &mib)) {
				fprintf(stderr, "tinyvmm: bad --overhead '%s': want 1..65536 MiB\n",
					optarg);
				return 2;
			}
			own = malloc(mib << 20);
			if (!own) {
				fprintf(stderr, "tinyvmm: --overhead: out of memory\n");
				return 1;
			}
			memset(own, 0x5a, mib << 20);	/* kept until the end */
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'H':
			if (vmm_create(&vm) || hold_lapic_keys())
				return 1;
			for (;;)
				pause();
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tinyvmm: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (offset && !path) {
		fprintf(stderr, "tinyvmm: --offset needs --fd-path\n");
		return 2;
	}
	size = pages * VMM_PAGE_SIZE;

	if (path) {
		struct stat st;

		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "tinyvmm: open %s: %s\n", path, strerror(errno));
			return 1;
		}
		/* Past the end of a regular file, guest accesses would SIGBUS. */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size < offset + size) {
			fprintf(stderr, "tinyvmm: %s has %jd bytes, fewer than offset + %" PRIu64
				" pages = %" PRIu64 "\n", path, (intmax_t)st.st_size,
				pages, offset + size);
			goto out;
		}
	}

	ret = vmm_create(&vm);
	if (ret)
		goto out;
	if (vmm_add_slot(vm, CODE_SLOT, CODE_GPA, CODE_SIZE, -1, 0) ||
	    vmm_add_slot(vm, RAM_SLOT, RAM_GPA, size, fd, offset) ||
	    vmm_load_guest(vm, CODE_GPA))
		goto out;
	ram = vmm_gpa(vm, RAM_GPA);
	if (touching) {
		printf("tinyvmm: touching %" PRIu64 "%% of %" PRIu64 " pages\n", touch, pages);
		fflush(stdout);
		for (;;) {
			r = (struct vmm_regs){ .ebx = RAM_GPA,
					       .ecx = (uint32_t)(pages * touch / 100),
					       .edx = (uint32_t)seed };
			if (!r.ecx)
				pause();
			else if (vmm_call(vm, VMM_FILL, &r))
				goto out;
		}
	}

	t0 = now();
	r = (struct vmm_regs){ .ebx = RAM_GPA, .ecx = (uint32_t)pages,
			       .edx = (uint32_t)seed };
	if (vmm_call(vm, VMM_FILL, &r))
		goto out;
	t_fill = now() - t0;

	t0 = now();
	r = (struct vmm_regs){ .ebx = RAM_GPA, .ecx = (uint32_t)pages,
			       .edx = (uint32_t)seed };
	if (vmm_call(vm, VMM_CHECK, &r))
		goto out;
	t_check = now() - t0;

	host_bad = vmm_pattern_check(ram, RAM_GPA, size, (uint32_t)seed, &first_bad);

	status = (r.eax == 0 && host_bad == 0) ? 0 : 1;
	printf("tinyvmm: %s: %" PRIu64 " pages of %s at gpa 0x%x, seed 0x%08" PRIx64
	       ": guest fill %.3fs, guest check %" PRIu32 " bad dwords (%.3fs), host check %"
	       PRIu64 " bad dwords",
	       status ? "FAIL" : "ok", pages, path ? path : "anonymous memory",
	       RAM_GPA, seed, t_fill, r.eax, t_check, host_bad);
	if (r.eax)
		printf(", guest's first at gpa 0x%08" PRIx32, r.esi);
	if (host_bad)
		printf(", host's first at gpa 0x%08" PRIx64, first_bad);
	printf("\n");

out:
	vmm_destroy(vm);
	if (fd >= 0)
		close(fd);
	return status;
}
