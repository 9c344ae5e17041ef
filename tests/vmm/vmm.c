// SPDX-License-Identifier: GPL-2.0
/*
 * vmm: a tiny KVM virtual machine monitor for tests. See vmm.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

/* The guest code, from guest.S. */
extern const unsigned char vmm_guest_start[];
extern const unsigned char vmm_guest_end[];
extern const uint32_t vmm_guest_offsets[VMM_NR_ROUTINES];

struct vmm_slot {
	bool used;
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

struct vmm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	struct vmm_slot slots[VMM_MAX_SLOTS];
	vmm_io_fn io_fn;
	void *io_opaque;
	bool has_immediate_exit;
	bool guest_loaded;
	uint64_t guest_gpa;
	char err[256];
};

#define X86_CR0_PE	(1u << 0)
#define X86_CR0_ET	(1u << 4)
#define X86_CR0_NE	(1u << 5)

/* Records the failure for vmm_last_error and prints it. */
__attribute__((format(printf, 2, 3)))
static void vmm_error(struct vmm *vm, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vm) {
		vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
		fprintf(stderr, "vmm: %s\n", vm->err);
	} else {
		fputs("vmm: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

const char *vmm_last_error(const struct vmm *vm)
{
	return vm->err;
}

int vmm_create(struct vmm **out)
{
	struct vmm *vm;
	int ret;

	*out = NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		vmm_error(NULL, "out of memory");
		return -ENOMEM;
	}
	vm->vm_fd = -1;
	vm->vcpu_fd = -1;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		vmm_error(NULL, "open /dev/kvm: %s", strerror(errno));
		goto fail;
	}

	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		vmm_error(NULL, "KVM_GET_API_VERSION: got %d, want %d", ret,
			  KVM_API_VERSION);
		ret = -ENOTSUP;
		goto fail;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		vmm_error(NULL, "KVM lacks KVM_CAP_USER_MEMORY");
		ret = -ENOTSUP;
		goto fail;
	}

	vm->has_immediate_exit =
		ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) > 0;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = -errno;
		vmm_error(NULL, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}

	/*
	 * Intel hosts without unrestricted guest need a TSS area for real
	 * mode (the vCPU's reset state); AMD ignores it. Same address as QEMU.
	 */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_RESERVED_GPA) < 0) {
		ret = -errno;
		vmm_error(NULL, "KVM_SET_TSS_ADDR: %s", strerror(errno));
		goto fail;
	}

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0) {
		ret = -errno;
		vmm_error(NULL, "KVM_CREATE_VCPU: %s", strerror(errno));
		goto fail;
	}

	ret = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret < (int)sizeof(struct kvm_run)) {
		ret = ret < 0 ? -errno : -EINVAL;
		vmm_error(NULL, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(-ret));
		goto fail;
	}
	vm->run_size = (size_t)ret;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		ret = -errno;
		vmm_error(NULL, "mmap of the vCPU's kvm_run: %s", strerror(errno));
		goto fail;
	}

	*out = vm;
	return 0;

fail:
	vmm_destroy(vm);
	return ret;
}

void vmm_destroy(struct vmm *vm)
{
	unsigned int i;

	if (!vm)
		return;
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	for (i = 0; i < VMM_MAX_SLOTS; i++)
		if (vm->slots[i].used)
			munmap(vm->slots[i].hva, vm->slots[i].size);
	free(vm);
}

static int set_region(struct vmm *vm, unsigned int slot, uint64_t gpa,
		      uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}

/*
 * Anonymous memory for a slot at @gpa, placed at the same offset into a
 * 2 MiB page as @gpa, as QEMU places guest RAM: KVM maps a guest range
 * with one 2 MiB entry only where the guest and host addresses agree
 * modulo 2 MiB and the host backs it with a transparent huge page.
 */
static void *map_anonymous_like_gpa(uint64_t gpa, uint64_t size)
{
	const uintptr_t huge = 2u << 20;
	uintptr_t start, end, want;
	void *p;

	p = mmap(NULL, size + huge, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return p;
	start = (uintptr_t)p;
	end = start + size + huge;
	want = start + ((gpa - start) & (huge - 1));
	if (want > start)
		munmap(p, want - start);
	if (end > want + size)
		munmap((void *)(want + size), end - (want + size));
	return (void *)want;
}

int vmm_add_slot(struct vmm *vm, unsigned int slot, uint64_t gpa,
		 uint64_t size, int fd, uint64_t offset)
{
	struct vmm_slot *s;
	unsigned int i;
	void *hva;
	int ret;

	if (slot >= VMM_MAX_SLOTS) {
		vmm_error(vm, "add slot %u: slot number out of range (max %u)",
			  slot, VMM_MAX_SLOTS - 1);
		return -EINVAL;
	}
	if (!size || (gpa | size | offset) % VMM_PAGE_SIZE ||
	    gpa + size < gpa || size > SIZE_MAX) {
		vmm_error(vm, "add slot %u: bad range gpa 0x%" PRIx64
			  " size 0x%" PRIx64 " offset 0x%" PRIx64
			  " (page-aligned, non-empty)", slot, gpa, size, offset);
		return -EINVAL;
	}
	if (vm->slots[slot].used) {
		vmm_error(vm, "add slot %u: slot in use", slot);
		return -EBUSY;
	}
	for (i = 0; i < VMM_MAX_SLOTS; i++) {
		s = &vm->slots[i];
		if (s->used && gpa < s->gpa + s->size && s->gpa < gpa + size) {
			vmm_error(vm, "add slot %u: gpa 0x%" PRIx64 "+0x%" PRIx64
				  " overlaps slot %u (0x%" PRIx64 "+0x%" PRIx64 ")",
				  slot, gpa, size, i, s->gpa, s->size);
			return -EEXIST;
		}
	}

	if (fd < 0)
		hva = map_anonymous_like_gpa(gpa, size);
	else
		hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, (off_t)offset);
	if (hva == MAP_FAILED) {
		ret = -errno;
		if (fd < 0)
			vmm_error(vm, "add slot %u: mmap of 0x%" PRIx64
				  " anonymous bytes: %s", slot, size,
				  strerror(errno));
		else
			vmm_error(vm, "add slot %u: mmap of fd %d, 0x%" PRIx64
				  " bytes at offset 0x%" PRIx64 ": %s",
				  slot, fd, size, offset, strerror(errno));
		return ret;
	}

	ret = set_region(vm, slot, gpa, size, hva);
	if (ret) {
		vmm_error(vm, "add slot %u: KVM_SET_USER_MEMORY_REGION gpa 0x%"
			  PRIx64 " size 0x%" PRIx64 ": %s", slot, gpa, size,
			  strerror(-ret));
		munmap(hva, size);
		return ret;
	}

	s = &vm->slots[slot];
	s->used = true;
	s->gpa = gpa;
	s->size = size;
	s->hva = hva;
	return 0;
}

int vmm_delete_slot(struct vmm *vm, unsigned int slot)
{
	struct vmm_slot *s;
	int ret;

	if (slot >= VMM_MAX_SLOTS || !vm->slots[slot].used) {
		vmm_error(vm, "delete slot %u: no such slot", slot);
		return -ENOENT;
	}
	s = &vm->slots[slot];
	ret = set_region(vm, slot, s->gpa, 0, NULL);
	if (ret) {
		vmm_error(vm, "delete slot %u: KVM_SET_USER_MEMORY_REGION size 0: %s",
			  slot, strerror(-ret));
		return ret;
	}
	if (munmap(s->hva, s->size) < 0) {
		ret = -errno;
		vmm_error(vm, "delete slot %u: munmap: %s", slot, strerror(errno));
	}
	memset(s, 0, sizeof(*s));
	return ret;
}

void *vmm_gpa_range(struct vmm *vm, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < VMM_MAX_SLOTS; i++) {
		struct vmm_slot *s = &vm->slots[i];

		if (s->used && gpa >= s->gpa && gpa - s->gpa < s->size &&
		    len <= s->size - (gpa - s->gpa))
			return (char *)s->hva + (gpa - s->gpa);
	}
	return NULL;
}

void *vmm_gpa(struct vmm *vm, uint64_t gpa)
{
	return vmm_gpa_range(vm, gpa, 1);
}

int vmm_load(struct vmm *vm, uint64_t gpa, const void *code, size_t len)
{
	void *p = vmm_gpa_range(vm, gpa, len);

	if (!p) {
		vmm_error(vm, "load: gpa 0x%" PRIx64 "+0x%zx is not inside one slot",
			  gpa, len);
		return -EFAULT;
	}
	memcpy(p, code, len);
	return 0;
}

void vmm_set_io_handler(struct vmm *vm, vmm_io_fn fn, void *opaque)
{
	vm->io_fn = fn;
	vm->io_opaque = opaque;
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector,
			 uint8_t type)
{
	memset(seg, 0, sizeof(*seg));
	seg->base = 0;
	seg->limit = 0xffffffff;
	seg->selector = selector;
	seg->type = type;
	seg->present = 1;
	seg->dpl = 0;
	seg->db = 1;		/* 32-bit */
	seg->s = 1;		/* code or data */
	seg->l = 0;
	seg->g = 1;		/* 4 KiB granularity */
	seg->avl = 0;
}

static int setup_vcpu(struct vmm *vm, uint64_t entry,
		      const struct vmm_regs *in)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
		int ret = -errno;

		vmm_error(vm, "run: KVM_GET_SREGS: %s", strerror(errno));
		return ret;
	}
	/* Execute/read accessed code; read/write accessed data. */
	flat_segment(&sregs.cs, 0x08, 0xb);
	flat_segment(&sregs.ds, 0x10, 0x3);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0) {
		int ret = -errno;

		vmm_error(vm, "run: KVM_SET_SREGS: %s", strerror(errno));
		return ret;
	}

	memset(&regs, 0, sizeof(regs));
	regs.rax = in->eax;
	regs.rbx = in->ebx;
	regs.rcx = in->ecx;
	regs.rdx = in->edx;
	regs.rsi = in->esi;
	regs.rdi = in->edi;
	regs.rbp = in->ebp;
	regs.rsp = in->esp;
	regs.rip = entry;
	regs.rflags = 0x2;	/* reserved bit; IF and DF clear */
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0) {
		int ret = -errno;

		vmm_error(vm, "run: KVM_SET_REGS: %s", strerror(errno));
		return ret;
	}
	return 0;
}

/* The guest's instruction pointer, for error messages. */
static uint64_t guest_rip(struct vmm *vm)
{
	struct kvm_regs regs;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return UINT64_MAX;
	return regs.rip;
}

static int handle_io(struct vmm *vm)
{
	struct kvm_run *run = vm->run;
	unsigned char *data = (unsigned char *)run + run->io.data_offset;
	int is_out = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t i;
	int ret;

	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (vm->io_fn) {
			ret = vm->io_fn(vm->io_opaque, run->io.port, is_out,
					data, run->io.size);
			if (ret) {
				vmm_error(vm, "run: I/O handler stopped the guest at %s port 0x%x: %s",
					  is_out ? "OUT to" : "IN from",
					  run->io.port, strerror(-ret));
				return ret;
			}
		} else if (is_out && run->io.port == VMM_DEBUG_PORT) {
			fwrite(data, 1, run->io.size, stderr);
		} else {
			vmm_error(vm, "run: unhandled %s port 0x%x (size %u) at rip 0x%" PRIx64,
				  is_out ? "OUT to" : "IN from", run->io.port,
				  run->io.size, guest_rip(vm));
			return -EIO;
		}
	}
	return 0;
}

/*
 * After an I/O or MMIO exit the instruction is complete only once KVM_RUN
 * is entered again; until then KVM holds emulator state that would clobber
 * the registers of the next vmm_run. Let KVM finish it without running any
 * further guest instruction (immediate_exit), so that the vCPU can be
 * reused after a failed exit.
 */
static void finish_pending_exit(struct vmm *vm)
{
	int tries;

	if (!vm->has_immediate_exit)
		return;
	vm->run->immediate_exit = 1;
	for (tries = 0; tries < 16; tries++) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			/* Keep the first error for vmm_last_error. */
			if (errno != EINTR)
				fprintf(stderr, "vmm: run: KVM_RUN to finish an exit: %s\n",
					strerror(errno));
			break;
		}
		/* Still I/O to do (a string instruction): discard it. */
		if (vm->run->exit_reason != KVM_EXIT_IO &&
		    vm->run->exit_reason != KVM_EXIT_MMIO)
			break;
	}
	vm->run->immediate_exit = 0;
}

static int read_regs(struct vmm *vm, struct vmm_regs *out)
{
	struct kvm_regs regs;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0) {
		int ret = -errno;

		vmm_error(vm, "run: KVM_GET_REGS: %s", strerror(errno));
		return ret;
	}
	out->eax = (uint32_t)regs.rax;
	out->ebx = (uint32_t)regs.rbx;
	out->ecx = (uint32_t)regs.rcx;
	out->edx = (uint32_t)regs.rdx;
	out->esi = (uint32_t)regs.rsi;
	out->edi = (uint32_t)regs.rdi;
	out->ebp = (uint32_t)regs.rbp;
	out->esp = (uint32_t)regs.rsp;
	return 0;
}

int vmm_run(struct vmm *vm, uint64_t entry, struct vmm_regs *regs)
{
	struct kvm_run *run = vm->run;
	int ret;

	if (entry > UINT32_MAX) {
		vmm_error(vm, "run: entry 0x%" PRIx64 " above 4 GiB", entry);
		return -EINVAL;
	}
	ret = setup_vcpu(vm, entry, regs);
	if (ret)
		return ret;

	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			ret = -errno;
			vmm_error(vm, "run: KVM_RUN: %s", strerror(errno));
			return ret;
		}

		switch (run->exit_reason) {
		case KVM_EXIT_HLT:
			return read_regs(vm, regs);

		case KVM_EXIT_IO:
			ret = handle_io(vm);
			if (ret) {
				finish_pending_exit(vm);
				return ret;
			}
			break;

		case KVM_EXIT_MMIO:
			vmm_error(vm, "run: guest %s %u bytes at gpa 0x%llx, which no slot maps (rip 0x%" PRIx64 ")",
				  run->mmio.is_write ? "wrote" : "read",
				  run->mmio.len,
				  (unsigned long long)run->mmio.phys_addr,
				  guest_rip(vm));
			finish_pending_exit(vm);
			return -EIO;

		case KVM_EXIT_SHUTDOWN:
			vmm_error(vm, "run: guest shut down (triple fault?) at rip 0x%" PRIx64,
				  guest_rip(vm));
			return -EIO;

		case KVM_EXIT_FAIL_ENTRY:
			vmm_error(vm, "run: VM entry failed, hardware reason 0x%llx",
				  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			return -EIO;

		case KVM_EXIT_INTERNAL_ERROR:
			vmm_error(vm, "run: KVM internal error, suberror %u at rip 0x%" PRIx64,
				  run->internal.suberror, guest_rip(vm));
			return -EIO;

		case KVM_EXIT_INTR:
			break;

		default:
			vmm_error(vm, "run: unexpected exit reason %u at rip 0x%" PRIx64,
				  run->exit_reason, guest_rip(vm));
			return -EIO;
		}
	}
}

size_t vmm_guest_size(void)
{
	return (size_t)(vmm_guest_end - vmm_guest_start);
}

uint32_t vmm_guest_offset(enum vmm_routine r)
{
	if ((unsigned int)r >= VMM_NR_ROUTINES)
		abort();
	return vmm_guest_offsets[r];
}

int vmm_load_guest(struct vmm *vm, uint64_t gpa)
{
	int ret;

	if (gpa + vmm_guest_size() > (uint64_t)UINT32_MAX + 1) {
		vmm_error(vm, "load guest: gpa 0x%" PRIx64 " above 4 GiB", gpa);
		return -EINVAL;
	}
	ret = vmm_load(vm, gpa, vmm_guest_start, vmm_guest_size());
	if (ret)
		return ret;
	vm->guest_loaded = true;
	vm->guest_gpa = gpa;
	return 0;
}

int vmm_call(struct vmm *vm, enum vmm_routine r, struct vmm_regs *regs)
{
	if ((unsigned int)r >= VMM_NR_ROUTINES) {
		vmm_error(vm, "call: no routine %d", (int)r);
		return -EINVAL;
	}
	if (!vm->guest_loaded) {
		vmm_error(vm, "call: guest code not loaded (vmm_load_guest)");
		return -ENOEXEC;
	}
	return vmm_run(vm, vm->guest_gpa + vmm_guest_offsets[r], regs);
}

void vmm_pattern_fill(void *p, uint64_t gpa, size_t len, uint32_t seed)
{
	uint32_t *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		w[i] = vmm_pattern(gpa + 4 * i, seed);
}

uint64_t vmm_pattern_check(const void *p, uint64_t gpa, size_t len,
			   uint32_t seed, uint64_t *first_bad)
{
	const uint32_t *w = p;
	uint64_t bad = 0;
	size_t i;

	if (first_bad)
		*first_bad = UINT64_MAX;
	for (i = 0; i < len / 4; i++) {
		if (w[i] == vmm_pattern(gpa + 4 * i, seed))
			continue;
		if (!bad++ && first_bad)
			*first_bad = gpa + 4 * i;
	}
	return bad;
}

int vmm_vm_fd(const struct vmm *vm)
{
	return vm->vm_fd;
}
