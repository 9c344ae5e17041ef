/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for in-VM test programs (tests/vm/NAME.c): each program is one test
 * that exits 0 on pass and 1 on failure, printing what failed.
 *
 *	CHECK(cond, fmt, ...)    on failure print file:line and the message,
 *	                         count the failure, carry on
 *	REQUIRE(cond, fmt, ...)  the same, then end the test (exit 1)
 *	CHECK_OK(expr)           expr returns 0 or -errno; CHECK that it is 0
 *	REQUIRE_OK(expr)         the same with REQUIRE
 *	return vmtest_done("name");   from main: prints PASS/FAIL, exit code
 */
#ifndef ESXMEM_TESTS_VMTEST_H
#define ESXMEM_TESTS_VMTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vmtest_failures __attribute__((unused));

#define VMTEST_FAIL_(cond_str, ...)						\
	do {									\
		fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__,	\
			cond_str);						\
		fprintf(stderr, __VA_ARGS__);					\
		fputc('\n', stderr);						\
		vmtest_failures++;						\
	} while (0)

#define CHECK(cond, ...)							\
	do {									\
		if (!(cond))							\
			VMTEST_FAIL_(#cond, __VA_ARGS__);			\
	} while (0)

#define REQUIRE(cond, ...)							\
	do {									\
		if (!(cond)) {							\
			VMTEST_FAIL_(#cond, __VA_ARGS__);			\
			fprintf(stderr, "FAIL (stopped at the first fatal check)\n"); \
			exit(1);						\
		}								\
	} while (0)

#define CHECK_OK(expr)								\
	do {									\
		int vmtest_ret_ = (expr);					\
		if (vmtest_ret_)						\
			VMTEST_FAIL_(#expr, "returned %d (%s)", vmtest_ret_,	\
				     strerror(vmtest_ret_ < 0 ? -vmtest_ret_ : vmtest_ret_)); \
	} while (0)

#define REQUIRE_OK(expr)							\
	do {									\
		int vmtest_ret_ = (expr);					\
		if (vmtest_ret_) {						\
			VMTEST_FAIL_(#expr, "returned %d (%s)", vmtest_ret_,	\
				     strerror(vmtest_ret_ < 0 ? -vmtest_ret_ : vmtest_ret_)); \
			fprintf(stderr, "FAIL (stopped at the first fatal check)\n"); \
			exit(1);						\
		}								\
	} while (0)

/* Prints the verdict of test @name; returns main's exit code. */
static inline int vmtest_done(const char *name)
{
	if (vmtest_failures) {
		printf("FAIL %s: %d check%s failed\n", name, vmtest_failures,
		       vmtest_failures == 1 ? "" : "s");
		return 1;
	}
	printf("PASS %s\n", name);
	return 0;
}

#endif /* ESXMEM_TESTS_VMTEST_H */
