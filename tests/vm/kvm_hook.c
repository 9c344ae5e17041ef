// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_hook: esxmem follows a KVM VM's memory slots.
 *
 * A tiny-VMM guest has two slots over one esxmem object with a hole
 * between them, as x86 has below 4 GiB:
 *     gpa 0x000000 .. 0x080000  -> object pages   0 .. 127
 *     (hole)
 *     gpa 0x100000 .. 0x180000  -> object pages 128 .. 255
 * Attached over netlink, the VM reports exactly that slot map; the guest
 * writes at guest frame numbers and the host finds the bytes at the object
 * offsets the map gives. Deleting a slot and adding it elsewhere is
 * followed, by a dump of every VM (what esxmemd reads) as by GET_VM; detach, re-attach, EBUSY for a second KVM VM, and a KVM VM
 * that goes away are handled.
 */
#include "esxtest.h"
#include "vmtest.h"
#include "vmm/vmm.h"

#include <libesxmem/libesxmem.h>

#define SLOT_PAGES 128
#define CODE_GPA 0x1000

static struct esxmem *h;

/* Pieces of VM @id's slot map as a dump of every VM reports them. */
static size_t dumped_slots(uint32_t id, uint64_t *top_gfn)
{
	struct esxmem_vm_info **vms;
	size_t n, i, k, pieces = 0;
	int err;

	*top_gfn = 0;
	do
		err = esxmem_vm_list(h, &vms, &n);
	while (err == -EAGAIN);
	REQUIRE_OK(err);
	for (i = 0; i < n; i++) {
		if (esxmem_vm_id(vms[i]) != id)
			continue;
		pieces = esxmem_vm_nr_slots(vms[i]);
		for (k = 0; k < pieces; k++) {
			const struct esxmem_slot_info *s = esxmem_vm_slot(vms[i], k);

			if (esxmem_slot_base_gfn(s) + esxmem_slot_npages(s) > *top_gfn)
				*top_gfn = esxmem_slot_base_gfn(s) + esxmem_slot_npages(s);
		}
	}
	esxmem_vm_list_free(vms, n);
	return pieces;
}

static const struct esxmem_slot_info *slot_of(const struct esxmem_vm_info *vm, uint64_t gfn,
					      uint64_t *offset)
{
	for (size_t i = 0; i < esxmem_vm_nr_slots(vm); i++) {
		const struct esxmem_slot_info *s = esxmem_vm_slot(vm, i);
		uint64_t base = esxmem_slot_base_gfn(s);

		if (gfn >= base && gfn < base + esxmem_slot_npages(s)) {
			*offset = esxmem_slot_offset(s) + (gfn - base);
			return s;
		}
	}
	return NULL;
}

/* The guest stores @value at @gpa; the host finds it through the map. */
static void guest_write_host_find(struct vmm *vm, const uint8_t *obj, uint32_t id,
				  uint32_t gpa, uint32_t value)
{
	struct vmm_write w = { .gpa = gpa, .value = value };
	struct vmm_regs r = { .ebx = 0x2000, .ecx = 1 };
	struct esxmem_vm_info *info;
	uint64_t offset;

	/* The write list lives at gpa 0x2000, in the first slot. */
	memcpy(vmm_gpa(vm, 0x2000), &w, sizeof(w));
	REQUIRE_OK(vmm_call(vm, VMM_WRITE_LIST, &r));
	REQUIRE_OK(esxmem_vm_get(h, id, &info));
	if (slot_of(info, gpa >> 12, &offset)) {
		uint32_t got;

		memcpy(&got, obj + offset * ESX_PAGE + (gpa & 0xfff), sizeof(got));
		CHECK(got == value, "gpa 0x%x -> object page %llu holds 0x%x, want 0x%x",
		      gpa, (unsigned long long)offset, got, value);
	} else {
		CHECK(0, "gfn 0x%x not in the slot map", gpa >> 12);
	}
	esxmem_vm_info_free(info);
}

int main(void)
{
	struct esxmem_vm_info *info;
	uint64_t top;
	struct vmm *vm, *other;
	uint8_t *obj;
	uint32_t id;
	int fd;

	REQUIRE_OK(esxmem_open(&h));
	fd = esx_open();
	id = esx_stats(fd).id;
	obj = esx_map(fd, 2 * SLOT_PAGES, 0);
	REQUIRE(obj, "mmap of the object");

	REQUIRE_OK(vmm_create(&vm));
	REQUIRE_OK(vmm_add_slot(vm, 0, 0, SLOT_PAGES * ESX_PAGE, fd, 0));
	REQUIRE_OK(vmm_add_slot(vm, 1, 0x100000, SLOT_PAGES * ESX_PAGE, fd,
				SLOT_PAGES * ESX_PAGE));
	REQUIRE_OK(vmm_load_guest(vm, CODE_GPA));

	{
		int err = esxmem_kvm_attach(h, id, vmm_vm_fd(vm));

		REQUIRE(err == 0, "attach: %s (%s)", strerror(-err), esxmem_errmsg(h));
	}
	CHECK_OK(esxmem_kvm_attach(h, id, vmm_vm_fd(vm)));	/* idempotent */
	REQUIRE_OK(esxmem_vm_get(h, id, &info));
	CHECK(esxmem_vm_kvm_attached(info) &&
	      esxmem_vm_value(info, ESXMEM_VM_KVM_PID) == (uint64_t)getpid(), "attached, pid %llu",
	      (unsigned long long)esxmem_vm_value(info, ESXMEM_VM_KVM_PID));
	REQUIRE(esxmem_vm_nr_slots(info) == 2, "two slot pieces, got %zu", esxmem_vm_nr_slots(info));
	{
		const struct esxmem_slot_info *s0 = esxmem_vm_slot(info, 0);
		const struct esxmem_slot_info *s1 = esxmem_vm_slot(info, 1);

		CHECK(esxmem_slot_base_gfn(s0) == 0 && esxmem_slot_npages(s0) == SLOT_PAGES &&
		      esxmem_slot_offset(s0) == 0 && esxmem_slot_id(s0) == 0, "slot 0");
		CHECK(esxmem_slot_base_gfn(s1) == 0x100 && esxmem_slot_npages(s1) == SLOT_PAGES &&
		      esxmem_slot_offset(s1) == SLOT_PAGES && esxmem_slot_id(s1) == 1, "slot 1");
	}
	esxmem_vm_info_free(info);

	guest_write_host_find(vm, obj, id, 0x7f000 + 12, 0xdeadbeef);
	guest_write_host_find(vm, obj, id, 0x100000 + 4, 0x12345678);
	guest_write_host_find(vm, obj, id, 0x17f000 + 4092, 0xcafef00d);

	/* Delete slot 1 and add it back elsewhere; a dump sees it first. */
	REQUIRE_OK(vmm_delete_slot(vm, 1));
	CHECK(dumped_slots(id, &top) == 1 && top == SLOT_PAGES,
	      "a dump after deleting slot 1: top gfn %#llx", (unsigned long long)top);
	REQUIRE_OK(esxmem_vm_get(h, id, &info));
	CHECK(esxmem_vm_nr_slots(info) == 1, "after deleting slot 1: %zu pieces", esxmem_vm_nr_slots(info));
	esxmem_vm_info_free(info);
	REQUIRE_OK(vmm_add_slot(vm, 1, 0x200000, SLOT_PAGES * ESX_PAGE, fd,
				SLOT_PAGES * ESX_PAGE));
	CHECK(dumped_slots(id, &top) == 2 && top == 0x200 + SLOT_PAGES,
	      "a dump after re-adding slot 1: top gfn %#llx", (unsigned long long)top);
	REQUIRE_OK(esxmem_vm_get(h, id, &info));
	CHECK(esxmem_vm_nr_slots(info) == 2 && esxmem_slot_base_gfn(esxmem_vm_slot(info, 1)) == 0x200 &&
	      esxmem_slot_offset(esxmem_vm_slot(info, 1)) == SLOT_PAGES, "slot 1 re-added at gfn 0x200");
	esxmem_vm_info_free(info);
	guest_write_host_find(vm, obj, id, 0x200000 + 8, 0x0badf00d);
	CHECK(*(uint32_t *)(obj + SLOT_PAGES * ESX_PAGE + 4) == 0x12345678,
	      "the object kept what the guest wrote at the old address");

	/* A second KVM VM cannot take the object. */
	REQUIRE_OK(vmm_create(&other));
	CHECK(esxmem_kvm_attach(h, id, vmm_vm_fd(other)) == -EBUSY, "second KVM VM: EBUSY");
	CHECK_OK(esxmem_kvm_detach(h, id));
	REQUIRE_OK(esxmem_vm_get(h, id, &info));
	CHECK(!esxmem_vm_kvm_attached(info) && esxmem_vm_nr_slots(info) == 0, "detached");
	esxmem_vm_info_free(info);
	CHECK_OK(esxmem_kvm_attach(h, id, vmm_vm_fd(other)));
	REQUIRE_OK(esxmem_vm_get(h, id, &info));
	CHECK(esxmem_vm_kvm_attached(info) && esxmem_vm_nr_slots(info) == 0, "attached to a VM with no slots here");
	esxmem_vm_info_free(info);
	CHECK_OK(esxmem_kvm_detach(h, id));
	vmm_destroy(other);

	/* The KVM VM goes away while attached: the map empties, nothing breaks. */
	REQUIRE_OK(esxmem_kvm_attach(h, id, vmm_vm_fd(vm)));
	vmm_destroy(vm);
	REQUIRE_OK(esxmem_vm_get(h, id, &info));
	CHECK(esxmem_vm_nr_slots(info) == 0, "no slot maps the object once the VMM unmapped it");
	esxmem_vm_info_free(info);
	CHECK(*(uint32_t *)(obj + 0x7f000 + 12) == 0xdeadbeef, "memory intact");

	munmap(obj, 2 * SLOT_PAGES * ESX_PAGE);
	close(fd);	/* detaches and drops the KVM VM */
	esxmem_close(h);
	return vmtest_done("kvm_hook");
}
