// SPDX-License-Identifier: GPL-2.0
/*
 * esxmemd's changes to a VM's settings: written into the configuration file
 * (daemon/config_edit.c, "esxmemctl set --config") and at run time, key by
 * key (daemon/overrides.c, "esxmemctl set" and "unset").
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esxmemd.h"
#include "unit.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/esxmem-config-edit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/esxmemd.json", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static json_t *read_back(void)
{
	json_t *j = json_load_file(path, 0, NULL);

	ck_assert_ptr_nonnull(j);
	return j;
}

/* Only the files of @dir but the configuration: none left behind. */
static int other_files(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
	return system(cmd) ? 1 : 0;
}

static const char conf[] =
	"{\"tax\": 0.5, \"balance_period\": 7,\n"
	" \"vm_defaults\": {\"max\": \"2G\"},\n"
	" \"vms\": {\"db\": {\"shares\": 3000}, \"web1\": {\"min\": \"1G\", \"domain\": 4}}}\n";

START_TEST(set_keeps_the_rest)
{
	json_t *set = json_pack("{s:s, s:s}", "shares", "high", "min", "512M"), *j;
	struct config fresh;
	struct stat st;
	char err[512];

	write_file(conf, 0640);
	ck_assert_int_eq(config_edit_vm(path, "web1", set, NULL, &fresh, err, sizeof(err)), 0);
	/* What the daemon runs on from now: the file as written. */
	ck_assert_int_eq(config_vm_find(&fresh, "web1")->shares_level, CONFIG_SHARES_HIGH);
	ck_assert_uint_eq(config_vm_find(&fresh, "web1")->min_bytes, 512ULL << 20);
	ck_assert_uint_eq(config_vm_find(&fresh, "web1")->domain, 4);
	ck_assert_uint_eq(fresh.balance_secs, 7);
	config_free(&fresh);
	j = read_back();
	ck_assert(json_real_value(json_object_get(j, "tax")) == 0.5);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(j, "vms"),
			 "db"), "shares")), 3000);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "vms"),
			 "web1"), "min")), "512M");
	json_decref(j);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(other_files(), 0);
	json_decref(set);
}
END_TEST

START_TEST(set_new_vm_and_new_file)
{
	json_t *set = json_pack("{s:i}", "shares", 1234);
	struct config fresh;
	char err[512];

	/* No file yet (the daemon's defaults): one is made. */
	ck_assert_int_eq(config_edit_vm(path, "new", set, NULL, &fresh, err, sizeof(err)), 0);
	ck_assert_uint_eq(config_vm_find(&fresh, "new")->shares, 1234);
	config_free(&fresh);
	ck_assert_int_eq(access(path, R_OK), 0);
	json_decref(set);
}
END_TEST

START_TEST(set_refused_changes_nothing)
{
	/* min above the VM's max (from vm_defaults): the daemon would refuse it. */
	json_t *set = json_pack("{s:s}", "min", "3G");
	struct config fresh;
	char err[512], before[512];
	FILE *f;
	size_t n;

	write_file(conf, 0644);
	ck_assert_int_eq(config_edit_vm(path, "web1", set, NULL, &fresh, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "would be refused") && strstr(err, "min"), "%s", err);
	f = fopen(path, "r");
	n = fread(before, 1, sizeof(before) - 1, f);
	fclose(f);
	before[n] = '\0';
	ck_assert_str_eq(before, conf);
	ck_assert_int_eq(other_files(), 0);
	json_decref(set);
	/* A file that does not parse is not touched either. */
	write_file("{\"tax\": ", 0644);
	set = json_pack("{s:s}", "min", "1G");
	ck_assert_int_ne(config_edit_vm(path, "web1", set, NULL, &fresh, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "fix it first"), "%s", err);
	json_decref(set);
}
END_TEST

START_TEST(unset_removes_keys_and_empty_entries)
{
	json_t *keys = json_pack("[s, s]", "min", "domain"), *j;
	struct config fresh;
	char err[512];

	write_file(conf, 0644);
	ck_assert_int_eq(config_edit_vm(path, "web1", NULL, keys, &fresh, err, sizeof(err)), 0);
	/* web1 had only those: its entry goes, and it follows vm_defaults. */
	ck_assert_ptr_eq(config_vm_find(&fresh, "web1"), &fresh.vm_default);
	config_free(&fresh);
	j = read_back();
	ck_assert_ptr_null(json_object_get(json_object_get(j, "vms"), "web1"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "vms"), "db"));
	json_decref(j);
	json_decref(keys);
}
END_TEST

/* Runtime changes: merged key by key, taken back key by key. */
START_TEST(overrides_key_by_key)
{
	struct daemon d = { 0 };
	char err[256];
	json_t *a = json_pack("{s:s}", "min", "1G"), *b = json_pack("{s:i}", "shares", 77);
	json_t *keys = json_pack("[s]", "min");

	config_defaults(&d.conf);
	ck_assert_int_eq(override_set(&d, "web1", a, err, sizeof(err)), 0);
	ck_assert_int_eq(override_set(&d, "web1", b, err, sizeof(err)), 0);
	ck_assert_uint_eq(vm_settings(&d, "web1")->min_bytes, 1ULL << 30);
	ck_assert_uint_eq(vm_settings(&d, "web1")->shares, 77);
	ck_assert_uint_eq(json_object_size(override_settings(&d, "web1")), 2);
	override_unset(&d, "web1", keys);
	ck_assert_uint_eq(vm_settings(&d, "web1")->min_bytes, 0);
	ck_assert_uint_eq(vm_settings(&d, "web1")->shares, 77);
	override_unset(&d, "web1", NULL);
	ck_assert_ptr_null(override_settings(&d, "web1"));
	ck_assert_ptr_eq(vm_settings(&d, "web1"), &d.conf.vm_default);
	/* A bad value changes nothing. */
	json_decref(a);
	a = json_pack("{s:s}", "max", "lots");
	ck_assert_int_eq(override_set(&d, "web1", a, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(override_settings(&d, "web1"));
	overrides_clear(&d);
	config_free(&d.conf);
	json_decref(a);
	json_decref(b);
	json_decref(keys);
}
END_TEST

Suite *config_edit_suite(void)
{
	Suite *s = suite_create("config_edit");
	TCase *tc = tcase_create("config_edit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, set_keeps_the_rest);
	tcase_add_test(tc, set_new_vm_and_new_file);
	tcase_add_test(tc, set_refused_changes_nothing);
	tcase_add_test(tc, unset_removes_keys_and_empty_entries);
	tcase_add_test(tc, overrides_key_by_key);
	suite_add_tcase(s, tc);
	return s;
}
