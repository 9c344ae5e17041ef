/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/types.h>, so that pure kernel
 * files of esxmem.ko (kmod/memstate.c, kmod/pmap.h) compile into the unit
 * tests unchanged. The system's uapi header provides __u64 and friends.
 */
#ifndef ESXMEM_SHIM_LINUX_TYPES_H
#define ESXMEM_SHIM_LINUX_TYPES_H

#include_next <linux/types.h>
#include <stdbool.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

#endif
