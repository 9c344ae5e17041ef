/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmm: a tiny KVM virtual machine monitor for tests.
 *
 * One VM with one vCPU. Guest RAM is made of memory slots, each backed by
 * anonymous memory or by a MAP_SHARED mapping of a file descriptor (for
 * example /dev/esxmem). Guest code runs in 32-bit flat protected mode
 * without paging, so guest virtual addresses are guest physical addresses
 * and the guest reaches the first 4 GiB of its physical address space.
 *
 * Every function that can fail returns 0 (or a count) on success and a
 * negative errno value on failure, after printing what failed to stderr.
 *
 * Typical use:
 *
 *	struct vmm *vm;
 *	struct vmm_regs r = { .ebx = 0x100000, .ecx = 64, .edx = seed };
 *
 *	vmm_create(&vm);
 *	vmm_add_slot(vm, 0, 0, 0x10000, -1, 0);          // code, anonymous
 *	vmm_add_slot(vm, 1, 0x100000, 64 * 4096, fd, 0); // RAM from fd
 *	vmm_load_guest(vm, 0);
 *	vmm_call(vm, VMM_FILL, &r);                      // guest fills RAM
 *	...
 *	vmm_destroy(vm);
 *
 * The 12 KiB at VMM_RESERVED_GPA are used by KVM itself on Intel hosts
 * (KVM_SET_TSS_ADDR); do not put a slot there.
 */
#ifndef ESXMEM_TESTS_VMM_H
#define ESXMEM_TESTS_VMM_H

#include <stddef.h>
#include <stdint.h>

#define VMM_PAGE_SIZE		4096u
#define VMM_MAX_SLOTS		32u
#define VMM_RESERVED_GPA	0xfffbd000u
#define VMM_RESERVED_SIZE	0x3000u

struct vmm;

/* The guest's general-purpose registers: input to and output of vmm_run. */
struct vmm_regs {
	uint32_t eax, ebx, ecx, edx, esi, edi, ebp, esp;
};

/*
 * Port I/O handler. Called once per access of @size bytes (1, 2 or 4) at
 * @data: for an OUT the guest's data, for an IN the handler fills it.
 * Returns 0 to continue running the guest, or a negative errno value to
 * stop vmm_run, which then returns that value.
 */
typedef int (*vmm_io_fn)(void *opaque, uint16_t port, int is_out,
			 void *data, unsigned int size);

/* The debug console port: bytes the guest writes there are its output. */
#define VMM_DEBUG_PORT		0xe9

/*
 * Opens /dev/kvm, creates the VM and its vCPU. On success stores the new VM
 * in *out and returns 0.
 */
int vmm_create(struct vmm **out);

/* Unmaps every slot and closes the VM. NULL is allowed. */
void vmm_destroy(struct vmm *vm);

/*
 * Maps guest physical [gpa, gpa + size) in slot @slot (< VMM_MAX_SLOTS).
 * fd < 0: anonymous private memory; fd >= 0: mmap(fd, MAP_SHARED, offset).
 * gpa, size and offset must be multiples of VMM_PAGE_SIZE, size non-zero,
 * the slot free (-EBUSY) and the range not overlapping another slot
 * (-EEXIST). The fd is not kept: the caller may close it afterwards.
 */
int vmm_add_slot(struct vmm *vm, unsigned int slot, uint64_t gpa,
		 uint64_t size, int fd, uint64_t offset);

/* Removes the slot from the VM, then unmaps its memory. -ENOENT if unused. */
int vmm_delete_slot(struct vmm *vm, unsigned int slot);

/*
 * Host pointer to guest physical address @gpa, or NULL when no slot holds
 * it. The pointer is valid up to the end of that slot, until the slot is
 * deleted.
 */
void *vmm_gpa(struct vmm *vm, uint64_t gpa);

/*
 * Like vmm_gpa, but NULL unless all of [gpa, gpa + len) lies in one slot.
 * Prints nothing.
 */
void *vmm_gpa_range(struct vmm *vm, uint64_t gpa, uint64_t len);

/* Copies @len bytes to guest physical @gpa (one slot); -EFAULT otherwise. */
int vmm_load(struct vmm *vm, uint64_t gpa, const void *code, size_t len);

/*
 * Installs a port I/O handler for every port (NULL: the default). Without
 * a handler, OUT to VMM_DEBUG_PORT is written to stderr and any other port
 * I/O stops vmm_run with -EIO.
 */
void vmm_set_io_handler(struct vmm *vm, vmm_io_fn fn, void *opaque);

/*
 * Runs guest code at guest physical @entry (below 4 GiB) in 32-bit flat
 * protected mode: CS, DS, ES, FS, GS and SS have base 0 and limit 4 GiB,
 * no paging, interrupts off, EFLAGS = 0x2 (DF clear), registers from
 * *regs. Returns 0 when the guest executes HLT, with the registers at
 * that point in *regs. An exit the guest cannot continue from (triple
 * fault, access to a physical address no slot holds, unhandled port I/O,
 * KVM internal error, ...) returns -EIO; its description is printed and
 * kept for vmm_last_error. On failure *regs is left as it was; the VM
 * stays usable for further runs.
 */
int vmm_run(struct vmm *vm, uint64_t entry, struct vmm_regs *regs);

/* The description of the last failure of any vmm call, "" if none. */
const char *vmm_last_error(const struct vmm *vm);

/* The KVM VM fd (anon_inode:kvm-vm), e.g. to attach it to esxmem. */
int vmm_vm_fd(const struct vmm *vm);

/*
 * Guest routines
 *
 * The guest code (guest.S) is position independent: vmm_load_guest copies
 * it to any guest physical address and vmm_call runs a routine of the copy
 * loaded last. The routines use no stack and no memory besides what their
 * registers name; each ends with HLT. Addresses are guest physical (flat),
 * a "page" is VMM_PAGE_SIZE bytes and ranges must lie in mapped slots.
 *
 * VMM_FILL	in:  ebx = first gpa (4-byte aligned), ecx = pages,
 *		     edx = seed
 *		Writes every dword of [ebx, ebx + ecx * 4096) with
 *		vmm_pattern(gpa of the dword, seed).
 *		out: ecx = 0, edi = ebx + ecx * 4096; others clobbered.
 *
 * VMM_CHECK	in:  as VMM_FILL
 *		Compares every dword of the range with the pattern.
 *		out: eax = number of mismatching dwords,
 *		     esi = gpa of the first mismatching dword, or 0xffffffff.
 *
 * VMM_TOUCH	in:  ebx = first gpa, ecx = count, edx = stride in bytes
 *		Reads the dword at ebx + i * edx for i in [0, ecx).
 *		out: eax = XOR of the dwords read.
 *
 * VMM_WRITE_LIST in: ebx = gpa of a table of ecx entries
 *		     { uint32_t gpa; uint32_t value; } (struct vmm_write)
 *		Stores each value at its gpa, in table order.
 *		out: ecx = 0.
 *
 * VMM_PRINT	in:  esi = gpa of a string, ecx = length in bytes
 *		Writes the bytes one at a time to port VMM_DEBUG_PORT.
 *		out: ecx = 0.
 */
enum vmm_routine {
	VMM_FILL,
	VMM_CHECK,
	VMM_TOUCH,
	VMM_WRITE_LIST,
	VMM_PRINT,
	VMM_NR_ROUTINES
};

/* One entry of the VMM_WRITE_LIST table, as the guest reads it. */
struct vmm_write {
	uint32_t gpa;
	uint32_t value;
};

/* The value VMM_FILL writes at the dword at @gpa (truncated to 32 bits). */
static inline uint32_t vmm_pattern(uint64_t gpa, uint32_t seed)
{
	uint32_t x = (uint32_t)gpa ^ seed;

	x *= 0x9e3779b1u;
	x ^= x >> 16;
	return x;
}

/* Size of the guest code blob. */
size_t vmm_guest_size(void);

/* Offset of @r's entry point from the start of the blob. */
uint32_t vmm_guest_offset(enum vmm_routine r);

/* Copies the guest code to @gpa (one slot) and remembers where it is. */
int vmm_load_guest(struct vmm *vm, uint64_t gpa);

/*
 * vmm_run of routine @r of the guest code loaded last; -ENOEXEC if
 * vmm_load_guest was not called.
 */
int vmm_call(struct vmm *vm, enum vmm_routine r, struct vmm_regs *regs);

/*
 * Host-side pattern helpers over a host mapping: @p holds @len bytes
 * (a multiple of 4) of guest physical memory starting at @gpa.
 */
void vmm_pattern_fill(void *p, uint64_t gpa, size_t len, uint32_t seed);

/*
 * Returns the number of mismatching dwords; *first_bad (if not NULL) gets
 * the gpa of the first one, or UINT64_MAX.
 */
uint64_t vmm_pattern_check(const void *p, uint64_t gpa, size_t len,
			   uint32_t seed, uint64_t *first_bad);

#endif /* ESXMEM_TESTS_VMM_H */
