// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemctl's pure parts (tools/esxmemctl/format.c) and its client
 * (client.c) against a fake daemon on a temporary socket.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "format.h"
#include "unit.h"

START_TEST(sizes)
{
	static const struct { uint64_t bytes; const char *text; } cases[] = {
		{ 0, "0" }, { 1000, "1000" }, { 1536, "1.5K" }, { 512ULL << 20, "512M" },
		{ 3ULL << 29, "1.5G" }, { 10ULL << 30, "10G" }, { 1ULL << 40, "1T" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctl_format_size(cases[i].bytes, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].text);
	}
}
END_TEST

START_TEST(set_request)
{
	char *argv[] = { "shares=high", "min=512M", "max=2G", "domain=3" };
	char *out, err[256];
	json_t *req = ctl_set_request("web1", 4, argv, err, sizeof(err));

	ck_assert_ptr_nonnull(req);
	out = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(out, "{\"cmd\":\"set\",\"name\":\"web1\",\"settings\":"
			      "{\"domain\":3,\"max\":\"2G\",\"min\":\"512M\",\"shares\":\"high\"}}");
	free(out);
	json_decref(req);
}
END_TEST

static const struct { const char *word; const char *message; } bad_words[] = {
	{ "shares=0", "shares=0: want 1..1000000000" },
	{ "shares=lots", "shares=lots: want" },
	{ "shares=1000000001", "want 1..1000000000" },
	{ "min=12Q", "min=12Q: want a size" },
	{ "max=-1G", "max=-1G: want a size" },
	{ "domain=-1", "domain=-1: want 0..2147483647" },
	{ "domain=2147483648", "want 0..2147483647" },
	{ "color=red", "unknown key \"color\"" },
	{ "noequals", "\"noequals\": want key=value" },
	{ "=5", "\"=5\": want key=value" },
};

START_TEST(set_request_refused)
{
	char *argv[] = { (char *)bad_words[_i].word };
	char err[256] = "";

	ck_assert_ptr_null(ctl_set_request("web1", 1, argv, err, sizeof(err)));
	ck_assert_msg(strstr(err, bad_words[_i].message), "\"%s\" lacks \"%s\"", err,
		      bad_words[_i].message);
}
END_TEST

START_TEST(set_request_twice_or_empty)
{
	char *argv[] = { "min=1G", "min=2G" };
	char err[256];

	ck_assert_ptr_null(ctl_set_request("web1", 2, argv, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "min given twice"));
	ck_assert_ptr_null(ctl_set_request("web1", 0, argv, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "nothing to set"));
}
END_TEST

static const char status_reply[] =
	"{\"ok\": true, \"pool\": {\"page_size\": 4096, \"pages\": 262144, \"used_pages\": 131072,"
	" \"free_pages\": 131072, \"state\": \"high\", \"thresholds_permille\":"
	" {\"high\": 60, \"soft\": 40, \"hard\": 20, \"low\": 10}},"
	" \"module_loaded\": true, \"avail_pages\": 300000, \"tax\": 0.75,"
	" \"balance_secs\": 15, \"sample_secs\": 30, \"config\": \"/etc/esxmem/esxmemd.json\","
	" \"vms\": [{\"name\": \"web1\", \"id\": 3, \"pid\": 100, \"attached\": true,"
	" \"size_pages\": 524288, \"min_pages\": 0, \"max_pages\": 524288, \"shares\": 20480,"
	" \"target_pages\": 393216, \"consumed_pages\": 262144, \"shared_pages\": 1024,"
	" \"zero_pages\": 10, \"ballooned_pages\": 512, \"balloon_target_pages\": 1024,"
	" \"swapped_pages\": 256, \"compressed_pages\": 128, \"active\": 0.25, \"rho\": 0.0123, \"active_last\": 0.2,"
	" \"active_slow\": 0.25, \"active_fast\": 0.2, \"domain\": 0}]}";

static char *render(json_t *reply, bool pages, int *ret)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	*ret = ctl_print_status(f, reply, pages, err, sizeof(err));
	fclose(f);
	return text;
}

START_TEST(status_table)
{
	json_t *reply = json_loads(status_reply, 0, NULL);
	char *text;
	int ret;

	ck_assert_ptr_nonnull(reply);
	text = render(reply, false, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert_str_eq(text,
		"pool: 1G, 512M used, 512M free, state high; tax 0.75, balance every 15s\n"
		"thresholds (free memory): high 6.0% (61M), soft 4.0% (41M), hard 2.0% (20M), low 1.0% (10M)\n"
		"reclaimed: 2M in balloons (4M asked), 512K compressed, 1M swapped\n"
		"NAME                SIZE     MIN     MAX  SHARES  TARGET CONSUMED  SHARED     f       RHO BALLOON BTARGET   COMPR    SWAP\n"
		"web1                  2G       0      2G   20480    1.5G       1G      4M  0.25    0.0123      2M      4M    512K      1M\n");
	free(text);
	text = render(reply, true, &ret);
	ck_assert_ptr_nonnull(strstr(text, "\nweb1              524288       0  524288   20480  393216   262144    1024  0.25"));
	ck_assert_ptr_nonnull(strstr(text, "high 6.0% (15728)"));
	free(text);
	json_decref(reply);
}
END_TEST

/* "esxmemctl vm": pages and bytes as sizes, or as they are with --pages. */
START_TEST(vm_figures)
{
	json_t *reply = json_loads("{\"ok\": true, \"vm\": {\"name\": \"web1\","
				   " \"granted_pages\": 2048, \"overhead_bytes\": 40960,"
				   " \"pmap_bytes\": 24000, \"shares\": 20}}", 0, NULL);
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(reply);
	f = open_memstream(&text, &len);
	ck_assert_int_eq(ctl_print_vm(f, reply, false, err, sizeof(err)), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "granted_pages      8M\n"));
	ck_assert_ptr_nonnull(strstr(text, "overhead_bytes     40K\n"));
	ck_assert_ptr_nonnull(strstr(text, "pmap_bytes         23K\n"));
	ck_assert_ptr_nonnull(strstr(text, "shares             20\n"));
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	ck_assert_int_eq(ctl_print_vm(f, reply, true, err, sizeof(err)), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "granted_pages      2048\n"));
	ck_assert_ptr_nonnull(strstr(text, "overhead_bytes     40960\n"));
	free(text);
	json_decref(reply);
}
END_TEST

START_TEST(status_malformed)
{
	static const char *const replies[] = {
		"{\"ok\": true}",
		"{\"ok\": true, \"pool\": {}, \"vms\": []}",
		"{\"ok\": true, \"pool\": {\"page_size\": 4096, \"pages\": 1, \"used_pages\": 1,"
		" \"free_pages\": 0, \"state\": \"high\"}, \"vms\": []}",
		"{\"ok\": true, \"pool\": {\"page_size\": 4096, \"pages\": 1, \"used_pages\": 1,"
		" \"free_pages\": 0, \"state\": \"high\", \"thresholds_permille\": {\"high\": 60}},"
		" \"vms\": []}",
		"{\"ok\": true, \"pool\": {\"page_size\": 4096, \"pages\": 1, \"used_pages\": 1,"
		" \"free_pages\": 0, \"state\": \"high\", \"thresholds_permille\": {\"high\": 60,"
		" \"soft\": 40, \"hard\": 20, \"low\": 10}}, \"vms\": [{\"name\": \"a\"}]}",
	};
	char *text;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		json_t *reply = json_loads(replies[i], 0, NULL);

		ck_assert_ptr_nonnull(reply);
		text = render(reply, false, &ret);
		ck_assert_int_eq(ret, -EPROTO);
		free(text);
		json_decref(reply);
	}
}
END_TEST

START_TEST(status_module_unloaded)
{
	json_t *reply = json_loads(status_reply, 0, NULL);
	char *text;
	int ret;

	ck_assert_ptr_nonnull(reply);
	json_object_set_new(reply, "module_loaded", json_false());
	text = render(reply, false, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert_ptr_nonnull(strstr(text, "esxmem.ko is not loaded: nothing is managed"));
	free(text);
	json_decref(reply);
}
END_TEST

START_TEST(unset_request)
{
	char *argv[] = { "min", "shares" };
	char *out, err[256];
	json_t *req = ctl_unset_request("web1", 2, argv, err, sizeof(err));

	ck_assert_ptr_nonnull(req);
	out = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(out, "{\"cmd\":\"unset\",\"keys\":[\"min\",\"shares\"],\"name\":\"web1\"}");
	free(out);
	json_decref(req);
	/* No keys: every runtime change of the VM. */
	req = ctl_unset_request("web1", 0, argv, err, sizeof(err));
	out = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(out, "{\"cmd\":\"unset\",\"name\":\"web1\"}");
	free(out);
	json_decref(req);
}
END_TEST

START_TEST(unset_request_refused)
{
	char *twice[] = { "min", "min" }, *unknown[] = { "min=1G" };
	char err[256];

	ck_assert_ptr_null(ctl_unset_request("web1", 2, twice, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "min given twice"));
	ck_assert_ptr_null(ctl_unset_request("web1", 1, unknown, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown key \"min=1G\""));
}
END_TEST

/* What set and unset say they did: for how long, and how to undo it. */
static const struct {
	const char *request, *reply, *text;
} changes[] = {
	{ "{\"cmd\": \"set\", \"name\": \"web1\", \"settings\": {\"shares\": \"high\", \"domain\": 3}}",
	  "{\"ok\": true, \"persistent\": false, \"config\": \"/etc/esxmem/esxmemd.json\"}",
	  "VM web1: shares=high domain=3 in effect until esxmemd reloads or restarts\n"
	  "(esxmemctl unset web1 takes it back; set --config writes it to /etc/esxmem/esxmemd.json)\n" },
	{ "{\"cmd\": \"set\", \"name\": \"web1\", \"settings\": {\"min\": \"1G\"}, \"config\": true}",
	  "{\"ok\": true, \"persistent\": true, \"config\": \"/etc/esxmem/esxmemd.json\"}",
	  "VM web1: min=1G written to /etc/esxmem/esxmemd.json, and in effect\n" },
	{ "{\"cmd\": \"unset\", \"name\": \"web1\"}",
	  "{\"ok\": true, \"persistent\": false, \"config\": \"/etc/esxmem/esxmemd.json\"}",
	  "VM web1: runtime changes taken back: the VM has /etc/esxmem/esxmemd.json's settings\n" },
	{ "{\"cmd\": \"unset\", \"name\": \"web1\", \"keys\": [\"min\", \"max\"], \"config\": true}",
	  "{\"ok\": true, \"persistent\": true, \"config\": \"/etc/esxmem/esxmemd.json\"}",
	  "VM web1: min max removed from /etc/esxmem/esxmemd.json: the VM has vm_defaults' values for them\n" },
};

START_TEST(change_text)
{
	json_t *req = json_loads(changes[_i].request, 0, NULL);
	json_t *reply = json_loads(changes[_i].reply, 0, NULL);
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(ctl_print_change(f, req, reply, err, sizeof(err)), 0);
	fclose(f);
	ck_assert_str_eq(text, changes[_i].text);
	free(text);
	json_decref(req);
	json_decref(reply);
}
END_TEST

START_TEST(change_text_malformed)
{
	json_t *req = json_loads(changes[0].request, 0, NULL);
	json_t *reply = json_loads("{\"ok\": true}", 0, NULL);
	char err[256];

	ck_assert_int_eq(ctl_print_change(stderr, req, reply, err, sizeof(err)), -EPROTO);
	json_decref(req);
	json_decref(reply);
}
END_TEST

/* A permission error says so; a missing daemon asks whether it runs. */
START_TEST(connect_errors)
{
	char err[256];

	ctl_connect_error("/run/esxmemd/control", -EACCES, err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "permission denied on esxmemd's socket /run/esxmemd/control"));
	ck_assert_ptr_nonnull(strstr(err, "run esxmemctl as root"));
	ck_assert_ptr_null(strstr(err, "is it running"));
	ctl_connect_error("/run/esxmemd/control", -EPERM, err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "run esxmemctl as root"));
	ctl_connect_error("/run/esxmemd/control", -ECONNREFUSED, err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "is it running? systemctl status esxmemd"));
	ctl_connect_error("/run/esxmemd/control", -EMFILE, err, sizeof(err));
	ck_assert_ptr_null(strstr(err, "is it running"));
	ck_assert_ptr_null(strstr(err, "root"));
}
END_TEST

/* A fake daemon: answers one connection with @arg, keeps the request. */
static char fake_path[108];
static char fake_request[4096];
static int fake_fd;

static void *fake_daemon(void *arg)
{
	const char *answer = arg;
	int c = accept(fake_fd, NULL, NULL);
	ssize_t n;

	n = read(c, fake_request, sizeof(fake_request) - 1);
	fake_request[n > 0 ? n : 0] = '\0';
	if (write(c, answer, strlen(answer)) < 0)
		fake_request[0] = '\0';
	close(c);
	return NULL;
}

static int ask_fake(const char *answer, json_t **reply, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	json_t *req = json_pack("{s:s}", "cmd", "status");
	pthread_t t;
	int ret;

	snprintf(fake_path, sizeof(fake_path), "/tmp/esxmemctl-test-%d.sock", (int)getpid());
	strcpy(addr.sun_path, fake_path);
	unlink(fake_path);
	/* Listening before the client connects: no race to wait out. */
	fake_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fake_fd, 0);
	ck_assert_int_eq(bind(fake_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(fake_fd, 1), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_daemon, (void *)answer), 0);
	ret = ctl_request(fake_path, req, reply, err, errlen);
	json_decref(req);
	pthread_join(t, NULL);
	close(fake_fd);
	unlink(fake_path);
	return ret;
}

START_TEST(client_round_trip)
{
	char err[256];
	json_t *reply;

	ck_assert_int_eq(ask_fake("{\"ok\": true, \"x\": 1}\n", &reply, err, sizeof(err)), 0);
	ck_assert_str_eq(fake_request, "{\"cmd\":\"status\"}\n");
	ck_assert_int_eq(json_integer_value(json_object_get(reply, "x")), 1);
	json_decref(reply);
	ck_assert_int_eq(ask_fake("garbage\n", &reply, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
	ck_assert_int_eq(ask_fake("", &reply, err, sizeof(err)), -ECONNRESET);
}
END_TEST

START_TEST(client_no_daemon)
{
	json_t *req = json_pack("{s:s}", "cmd", "status"), *reply;
	char err[256];

	ck_assert_int_eq(ctl_request("/nonexistent/esxmemd.sock", req, &reply, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "is it running? systemctl status esxmemd"));
	json_decref(req);
}
END_TEST

Suite *esxmemctl_suite(void)
{
	Suite *s = suite_create("esxmemctl");
	TCase *tc = tcase_create("esxmemctl");

	tcase_add_test(tc, sizes);
	tcase_add_test(tc, set_request);
	tcase_add_loop_test(tc, set_request_refused, 0, sizeof(bad_words) / sizeof(bad_words[0]));
	tcase_add_test(tc, set_request_twice_or_empty);
	tcase_add_test(tc, status_table);
	tcase_add_test(tc, status_malformed);
	tcase_add_test(tc, vm_figures);
	tcase_add_test(tc, status_module_unloaded);
	tcase_add_test(tc, unset_request);
	tcase_add_test(tc, unset_request_refused);
	tcase_add_loop_test(tc, change_text, 0, sizeof(changes) / sizeof(changes[0]));
	tcase_add_test(tc, change_text_malformed);
	tcase_add_test(tc, connect_errors);
	tcase_add_test(tc, client_round_trip);
	tcase_add_test(tc, client_no_daemon);
	suite_add_tcase(s, tc);
	return s;
}
