// SPDX-License-Identifier: GPL-2.0
/* Runs every unit-test suite; exits non-zero if any check fails. */
#include <stdlib.h>

#include "unit.h"

static Suite *(*const suites[])(void) = {
	memstate_suite,
	pmap_suite,
	slotmap_suite,
	frames_suite,
	policy_suite,
	config_suite,
	esxmemctl_suite,
	qmp_suite,
	config_edit_suite,
	libesxmem_suite,
	metrics_suite,
};

int main(void)
{
	SRunner *sr;
	size_t i;
	int failed;

	/*
	 * Check's default is 4 s a test: under ASan on a loaded 2-core
	 * machine a test can take longer without being wrong. Before the
	 * suites, which read it as they are made; the environment wins.
	 */
	setenv("CK_DEFAULT_TIMEOUT", "60", 0);
	sr = srunner_create(NULL);
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
