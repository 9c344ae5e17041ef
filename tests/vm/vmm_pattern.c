// SPDX-License-Identifier: GPL-2.0
/*
 * vmm_pattern: the test VMM itself works, on anonymous guest RAM.
 *
 *  - a guest fills 64 pages with the pattern; the host sees every byte;
 *  - the host fills them; the guest's check finds no mismatch;
 *  - the host corrupts one dword; the guest's check finds exactly that one;
 *  - the guest's touch and write_list routines read and write what the
 *    host expects, and print reaches the I/O handler;
 *  - a guest access to an address no slot maps fails cleanly with -EIO and
 *    the VM stays usable; a deleted slot is gone, a re-added one works.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "vmm/vmm.h"
#include "vmtest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#define CODE_SLOT	0u
#define CODE_GPA	0x0u
#define CODE_SIZE	0x10000u
#define GUEST_GPA	0x3004u		/* unaligned: the code is position independent */
#define TABLE_GPA	0x8000u
#define STRING_GPA	0xf000u
#define RAM_SLOT	1u
#define RAM_GPA		0x100000u
#define RAM_PAGES	64u
#define RAM_SIZE	(RAM_PAGES * VMM_PAGE_SIZE)
#define UNMAPPED_GPA	0x40000000u
#define NR_WRITES	500u

static struct vmm_regs range_regs(uint32_t gpa, uint32_t pages, uint32_t seed)
{
	return (struct vmm_regs){ .ebx = gpa, .ecx = pages, .edx = seed };
}

/* Guest check of the RAM; returns eax (mismatches), *first gets esi. */
static uint32_t guest_check(struct vmm *vm, uint32_t seed, uint32_t *first)
{
	struct vmm_regs r = range_regs(RAM_GPA, RAM_PAGES, seed);
	int ret = vmm_call(vm, VMM_CHECK, &r);

	CHECK(ret == 0, "guest check (seed 0x%08x) failed to run: %d", seed, ret);
	if (ret)
		return UINT32_MAX;
	if (first)
		*first = r.esi;
	return r.eax;
}

static void test_guest_fill(struct vmm *vm, uint8_t *ram)
{
	const uint32_t seed = 0x1234abcd;
	struct vmm_regs r = range_regs(RAM_GPA, RAM_PAGES, seed);
	uint64_t bad, first;
	uint32_t i;

	memset(ram, 0xa5, RAM_SIZE);
	REQUIRE_OK(vmm_call(vm, VMM_FILL, &r));
	CHECK(r.ecx == 0 && r.edi == RAM_GPA + RAM_SIZE,
	      "fill ended with ecx %" PRIu32 " edi 0x%08" PRIx32, r.ecx, r.edi);

	bad = vmm_pattern_check(ram, RAM_GPA, RAM_SIZE, seed, &first);
	CHECK(bad == 0, "host sees %" PRIu64 " wrong dwords after guest fill, first at gpa 0x%" PRIx64,
	      bad, first);

	/* Every byte, independently of vmm_pattern_check. */
	for (i = 0; i < RAM_SIZE; i++) {
		uint32_t gpa = RAM_GPA + (i & ~3u);
		uint8_t want = (uint8_t)(vmm_pattern(gpa, seed) >> (8 * (i & 3)));

		if (ram[i] != want) {
			CHECK(ram[i] == want, "byte at gpa 0x%" PRIx32 " is 0x%02x, want 0x%02x",
			      RAM_GPA + i, ram[i], want);
			break;
		}
	}
	/* The pattern differs between neighbours and seeds. */
	CHECK(vmm_pattern(RAM_GPA, seed) != vmm_pattern(RAM_GPA + 4, seed) &&
	      vmm_pattern(RAM_GPA, seed) != vmm_pattern(RAM_GPA, seed + 1),
	      "pattern does not vary");
}

static void test_host_fill(struct vmm *vm, uint8_t *ram)
{
	const uint32_t seed = 0xdeadbeef;
	uint32_t *words = (uint32_t *)ram;
	const uint32_t victim = 37 * (VMM_PAGE_SIZE / 4) + 123;	/* page 37 */
	const uint32_t victim_gpa = RAM_GPA + 4 * victim;
	uint32_t n, first = 0;

	vmm_pattern_fill(ram, RAM_GPA, RAM_SIZE, seed);
	n = guest_check(vm, seed, &first);
	CHECK(n == 0, "guest finds %" PRIu32 " mismatches in host-written pattern, first at 0x%08" PRIx32,
	      n, first);
	CHECK(n != 0 || first == UINT32_MAX, "no mismatch but first = 0x%08" PRIx32, first);

	/* Another seed: every dword differs. */
	n = guest_check(vm, seed ^ 1, &first);
	CHECK(n == RAM_SIZE / 4, "wrong seed: guest finds %" PRIu32 " mismatches, want %u",
	      n, RAM_SIZE / 4);
	CHECK(first == RAM_GPA, "wrong seed: first mismatch at 0x%08" PRIx32, first);

	/* One corrupt dword: exactly one mismatch, at that address. */
	words[victim] ^= 0x00010000;
	n = guest_check(vm, seed, &first);
	CHECK(n == 1, "one corrupt dword: guest finds %" PRIu32 " mismatches", n);
	CHECK(first == victim_gpa, "one corrupt dword at 0x%08" PRIx32 ": guest reports 0x%08" PRIx32,
	      victim_gpa, first);
	words[victim] ^= 0x00010000;
	n = guest_check(vm, seed, NULL);
	CHECK(n == 0, "after repair: guest finds %" PRIu32 " mismatches", n);
}

static void test_touch(struct vmm *vm, uint8_t *ram)
{
	const uint32_t seed = 0x600dcafe, offset = 8;
	struct vmm_regs r = { .ebx = RAM_GPA + offset, .ecx = RAM_PAGES,
			      .edx = VMM_PAGE_SIZE };
	uint32_t want = 0, i;

	vmm_pattern_fill(ram, RAM_GPA, RAM_SIZE, seed);
	for (i = 0; i < RAM_PAGES; i++)
		want ^= vmm_pattern(RAM_GPA + i * VMM_PAGE_SIZE + offset, seed);
	REQUIRE_OK(vmm_call(vm, VMM_TOUCH, &r));
	CHECK(r.eax == want, "touch: XOR of reads 0x%08" PRIx32 ", want 0x%08" PRIx32,
	      r.eax, want);
}

static void test_write_list(struct vmm *vm, uint8_t *ram)
{
	static uint32_t shadow[RAM_SIZE / 4];
	struct vmm_write *table = vmm_gpa_range(vm, TABLE_GPA,
						NR_WRITES * sizeof(*table));
	struct vmm_regs r = { .ebx = TABLE_GPA, .ecx = NR_WRITES };
	uint32_t x = 0x2545f491, i;

	REQUIRE(table != NULL, "no host mapping for the write table");
	memset(ram, 0, RAM_SIZE);
	memset(shadow, 0, sizeof(shadow));
	for (i = 0; i < NR_WRITES; i++) {
		uint32_t idx;

		/* xorshift32: random dwords, repeats included. */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		idx = x % (RAM_SIZE / 4);
		table[i].gpa = RAM_GPA + 4 * idx;
		table[i].value = x * 2654435761u;
		shadow[idx] = table[i].value;
	}
	REQUIRE_OK(vmm_call(vm, VMM_WRITE_LIST, &r));
	CHECK(memcmp(ram, shadow, RAM_SIZE) == 0, "write_list: RAM differs from the expected writes");
}

struct console {
	char buf[64];
	size_t len;
	unsigned int other;
};

static int capture_io(void *opaque, uint16_t port, int is_out, void *data,
		      unsigned int size)
{
	struct console *con = opaque;

	if (port != VMM_DEBUG_PORT || !is_out || size != 1) {
		con->other++;
		return -EPROTO;
	}
	if (con->len < sizeof(con->buf))
		con->buf[con->len++] = *(char *)data;
	return 0;
}

static void test_print(struct vmm *vm)
{
	static const char msg[] = "hello from the guest\n";
	struct console con = { .len = 0 };
	struct vmm_regs r = { .esi = STRING_GPA, .ecx = sizeof(msg) - 1 };

	REQUIRE_OK(vmm_load(vm, STRING_GPA, msg, sizeof(msg) - 1));
	vmm_set_io_handler(vm, capture_io, &con);
	CHECK_OK(vmm_call(vm, VMM_PRINT, &r));
	vmm_set_io_handler(vm, NULL, NULL);
	CHECK(con.len == sizeof(msg) - 1 && memcmp(con.buf, msg, con.len) == 0,
	      "print: handler got %zu bytes '%.*s'", con.len, (int)con.len, con.buf);
	CHECK(con.other == 0, "print: %u accesses to other ports", con.other);
}

static void test_unmapped(struct vmm *vm, uint8_t *ram)
{
	const uint32_t seed = 0x0badf00d;
	struct vmm_write *table = vmm_gpa(vm, TABLE_GPA);
	struct vmm_regs r;
	int ret;

	CHECK(vmm_gpa(vm, UNMAPPED_GPA) == NULL, "vmm_gpa of an unmapped gpa");
	CHECK(vmm_gpa(vm, RAM_GPA + RAM_SIZE) == NULL, "vmm_gpa just past the RAM");
	CHECK(vmm_gpa_range(vm, RAM_GPA, RAM_SIZE + 1) == NULL, "vmm_gpa_range past the RAM");

	fprintf(stderr, "vmm_pattern: two guest accesses to unmapped memory follow, "
		"the errors they print are expected\n");

	/* A write: the guest stops with -EIO. */
	table[0] = (struct vmm_write){ .gpa = UNMAPPED_GPA, .value = 1 };
	r = (struct vmm_regs){ .ebx = TABLE_GPA, .ecx = 1 };
	ret = vmm_call(vm, VMM_WRITE_LIST, &r);
	CHECK(ret == -EIO, "write to unmapped gpa: vmm_call returned %d, want -EIO", ret);
	CHECK(strstr(vmm_last_error(vm), "no slot") != NULL,
	      "write to unmapped gpa: error '%s'", vmm_last_error(vm));

	/* A read. */
	r = (struct vmm_regs){ .ebx = UNMAPPED_GPA, .ecx = 1, .edx = 4 };
	ret = vmm_call(vm, VMM_TOUCH, &r);
	CHECK(ret == -EIO, "read of unmapped gpa: vmm_call returned %d, want -EIO", ret);

	/* The VM still works. */
	r = range_regs(RAM_GPA, RAM_PAGES, seed);
	CHECK_OK(vmm_call(vm, VMM_FILL, &r));
	CHECK(vmm_pattern_check(ram, RAM_GPA, RAM_SIZE, seed, NULL) == 0,
	      "guest fill after failed runs is wrong");
	CHECK(guest_check(vm, seed, NULL) == 0, "guest check after failed runs");
}

static void test_slots(struct vmm *vm)
{
	const uint32_t seed = 0x51075107;
	struct vmm_regs r;
	uint8_t *ram;
	int ret;

	fprintf(stderr, "vmm_pattern: bad slot requests follow, the errors they print are expected\n");
	CHECK(vmm_add_slot(vm, RAM_SLOT, UNMAPPED_GPA, VMM_PAGE_SIZE, -1, 0) == -EBUSY,
	      "add of a used slot number");
	CHECK(vmm_add_slot(vm, 2, RAM_GPA + VMM_PAGE_SIZE, VMM_PAGE_SIZE, -1, 0) == -EEXIST,
	      "add of an overlapping slot");
	CHECK(vmm_add_slot(vm, 2, RAM_GPA + 1, VMM_PAGE_SIZE, -1, 0) == -EINVAL,
	      "add of an unaligned slot");

	REQUIRE_OK(vmm_delete_slot(vm, RAM_SLOT));
	CHECK(vmm_gpa(vm, RAM_GPA) == NULL, "vmm_gpa of a deleted slot");
	CHECK(vmm_delete_slot(vm, RAM_SLOT) == -ENOENT, "second delete of a slot");
	r = range_regs(RAM_GPA, 1, seed);
	ret = vmm_call(vm, VMM_FILL, &r);
	CHECK(ret == -EIO, "fill of a deleted slot: vmm_call returned %d, want -EIO", ret);

	/* Re-added elsewhere in host memory: fresh, zeroed, usable. */
	REQUIRE_OK(vmm_add_slot(vm, RAM_SLOT, RAM_GPA, RAM_SIZE, -1, 0));
	ram = vmm_gpa(vm, RAM_GPA);
	REQUIRE(ram != NULL, "no host mapping for the re-added slot");
	CHECK(ram[0] == 0 && ram[RAM_SIZE - 1] == 0, "re-added anonymous slot is not zeroed");
	r = range_regs(RAM_GPA, RAM_PAGES, seed);
	CHECK_OK(vmm_call(vm, VMM_FILL, &r));
	CHECK(vmm_pattern_check(ram, RAM_GPA, RAM_SIZE, seed, NULL) == 0,
	      "fill of the re-added slot is wrong");
}

int main(void)
{
	struct vmm *vm;
	uint8_t *ram;

	REQUIRE_OK(vmm_create(&vm));
	REQUIRE_OK(vmm_add_slot(vm, CODE_SLOT, CODE_GPA, CODE_SIZE, -1, 0));
	REQUIRE_OK(vmm_add_slot(vm, RAM_SLOT, RAM_GPA, RAM_SIZE, -1, 0));
	REQUIRE(vmm_guest_size() <= TABLE_GPA - GUEST_GPA,
		"guest code (%zu bytes) overlaps the table", vmm_guest_size());
	REQUIRE_OK(vmm_load_guest(vm, GUEST_GPA));
	ram = vmm_gpa(vm, RAM_GPA);
	REQUIRE(ram != NULL, "no host mapping for gpa 0x%x", RAM_GPA);

	test_guest_fill(vm, ram);
	test_host_fill(vm, ram);
	test_touch(vm, ram);
	test_write_list(vm, ram);
	test_print(vm);
	test_unmapped(vm, ram);
	test_slots(vm);

	vmm_destroy(vm);
	return vmtest_done("vmm_pattern");
}
