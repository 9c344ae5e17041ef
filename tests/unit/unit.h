/* SPDX-License-Identifier: GPL-2.0 */
/* The unit-test suites; tests/unit/main.c runs them all. */
#ifndef ESXMEM_TESTS_UNIT_H
#define ESXMEM_TESTS_UNIT_H

#include <check.h>

Suite *memstate_suite(void);
Suite *pmap_suite(void);
Suite *libesxmem_suite(void);
Suite *slotmap_suite(void);
Suite *frames_suite(void);
Suite *policy_suite(void);
Suite *config_suite(void);
Suite *esxmemctl_suite(void);
Suite *qmp_suite(void);
Suite *config_edit_suite(void);
Suite *metrics_suite(void);

#endif
