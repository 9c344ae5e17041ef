// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's Prometheus text (daemon/metrics_text.c): label values escaped
 * (VM names may hold quotes, backslashes, newlines), numbers that read
 * back exactly, families with HELP and TYPE, and the metrics address
 * (daemon/config.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics_text.h"
#include "unit.h"

START_TEST(label_values_escaped)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "web-1", "web-1" },
		{ "", "" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "C:\\vms\\a", "C:\\\\vms\\\\a" },
		{ "two\nlines", "two\\nlines" },
		{ "\\\"\n", "\\\\\\\"\\n" },
		{ "tab\there", "tab\there" },	/* only the three are escaped */
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(prom_escape_label(cases[i].in, out, sizeof(out)), 0);
		ck_assert_str_eq(out, cases[i].out);
	}
	/* Exactly enough room, and one byte short. */
	ck_assert_int_eq(prom_escape_label("a\"b", out, 5), 0);
	ck_assert_str_eq(out, "a\\\"b");
	ck_assert_int_eq(prom_escape_label("a\"b", out, 4), -ENOSPC);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(label_sets)
{
	char buf[64];

	ck_assert_int_eq(prom_labels(buf, sizeof(buf), "name", "a\"b", "id", "7", NULL), 0);
	ck_assert_str_eq(buf, "name=\"a\\\"b\",id=\"7\"");
	ck_assert_int_eq(prom_labels(buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(prom_labels(buf, 12, "name", "abcdef", NULL), -ENOSPC);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(prom_labels(buf, 14, "name", "abcdef", NULL), 0);
	ck_assert_str_eq(buf, "name=\"abcdef\"");
	/* The longest VM name, every byte escaped, fits the daemon's labels. */
	{
		char name[ESXMEM_VM_NAME_MAX], labels[160];

		memset(name, '"', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		ck_assert_int_eq(prom_labels(labels, sizeof(labels), "name", name, "id",
					     "4294967295", NULL), 0);
	}
}
END_TEST

START_TEST(numbers)
{
	static const double values[] = { 0, 1, 0.1, 0.75, 1.0 / 3, 123456789012345678.0,
					 1e-300, DBL_MAX, -2.5, 0.300001 };
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		prom_format_double(values[i], buf, sizeof(buf));
		ck_assert_msg(strtod(buf, NULL) == values[i], "%s does not read back", buf);
	}
	prom_format_double(0.75, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.75");
	prom_format_double(0.1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.1");
	prom_format_double(NAN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "NaN");
	prom_format_double(INFINITY, buf, sizeof(buf));
	ck_assert_str_eq(buf, "+Inf");
	prom_format_double(-INFINITY, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-Inf");
}
END_TEST

START_TEST(exposition)
{
	struct prom p;
	size_t len;
	char *text;

	prom_init(&p);
	prom_family(&p, "esxmem_vm_size_bytes", "gauge", "Guest RAM\\size\nsecond line.");
	prom_bytes(&p, "esxmem_vm_size_bytes", "name=\"a\",id=\"1\"", 3, 4096);
	/* Past 64 bits in bytes: a float, not a wrapped integer. */
	prom_bytes(&p, "esxmem_vm_size_bytes", "name=\"b\",id=\"2\"", UINT64_MAX, 4096);
	prom_family(&p, "esxmem_pool_free_bytes", "gauge", "Free.");
	prom_i64(&p, "esxmem_pool_free_bytes", NULL, -4096);
	prom_family(&p, "esxmem_vm_cow_breaks_total", "counter", "Breaks.");
	prom_u64(&p, "esxmem_vm_cow_breaks_total", "", UINT64_MAX);
	prom_double(&p, "esxmem_vm_active_ratio", "id=\"1\"", 0.25);
	text = prom_take(&p, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_str_eq(text,
		"# HELP esxmem_vm_size_bytes Guest RAM\\\\size\\nsecond line.\n"
		"# TYPE esxmem_vm_size_bytes gauge\n"
		"esxmem_vm_size_bytes{name=\"a\",id=\"1\"} 12288\n"
		"esxmem_vm_size_bytes{name=\"b\",id=\"2\"} 7.555786372591432e+22\n"
		"# HELP esxmem_pool_free_bytes Free.\n"
		"# TYPE esxmem_pool_free_bytes gauge\n"
		"esxmem_pool_free_bytes -4096\n"
		"# HELP esxmem_vm_cow_breaks_total Breaks.\n"
		"# TYPE esxmem_vm_cow_breaks_total counter\n"
		"esxmem_vm_cow_breaks_total 18446744073709551615\n"
		"esxmem_vm_active_ratio{id=\"1\"} 0.25\n");
	free(text);
	/* Taken: @p is empty, and a new text starts from nothing. */
	ck_assert_uint_eq(p.len, 0);
	prom_free(&p);
}
END_TEST

START_TEST(listen_addresses)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	static const char *const bad[] = {
		"", ":9464", "localhost:9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:94x", "127.0.0.1:-1", "[::1]", "[::1]9464",
		"::1:9464", "[127.0.0.1]:9464", "0", "99999", "1.2.3:9464",
	};
	size_t i;

	ck_assert_int_eq(config_parse_listen("127.0.0.1:9464", &ss), 0);
	ck_assert_int_eq(v4->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(v4->sin_port), 9464);
	ck_assert_uint_eq(ntohl(v4->sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_int_eq(config_parse_listen("0.0.0.0:1", &ss), 0);
	ck_assert_uint_eq(ntohs(v4->sin_port), 1);
	ck_assert_int_eq(config_parse_listen("9464", &ss), 0);
	ck_assert_int_eq(v4->sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(v4->sin_addr.s_addr), INADDR_LOOPBACK);
	ck_assert_int_eq(config_parse_listen("[::1]:65535", &ss), 0);
	ck_assert_int_eq(v6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(v6->sin6_port), 65535);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_parse_listen(bad[i], &ss) == -EINVAL, "\"%s\" taken", bad[i]);
}
END_TEST

/* Every metric esxmemd serves (daemon/metrics.c). */
static const char *const served[] = {
	"esxmem_vm_size_bytes", "esxmem_vm_min_bytes", "esxmem_vm_max_bytes",
	"esxmem_vm_shares", "esxmem_vm_target_bytes", "esxmem_vm_granted_bytes",
	"esxmem_vm_consumed_bytes", "esxmem_vm_active_bytes", "esxmem_vm_active_ratio",
	"esxmem_vm_shared_bytes", "esxmem_vm_zero_bytes", "esxmem_vm_ballooned_bytes",
	"esxmem_vm_balloon_target_bytes", "esxmem_vm_compressed_bytes",
	"esxmem_vm_swapped_bytes", "esxmem_vm_overhead_bytes", "esxmem_vm_pmap_bytes",
	"esxmem_vm_frame_table_bytes", "esxmem_vm_fault_waits_total",
	"esxmem_vm_swap_ins_total", "esxmem_vm_decompressions_total",
	"esxmem_vm_cow_breaks_total", "esxmem_module_loaded", "esxmem_balances_total",
	"esxmem_idle_tax_ratio", "esxmem_vms", "esxmem_pool_size_bytes",
	"esxmem_pool_used_bytes", "esxmem_pool_free_bytes", "esxmem_pool_state",
	"esxmem_pool_free_threshold_bytes", "esxmem_sharing_frames_bytes",
	"esxmem_sharing_saved_bytes", "esxmem_sharing_scanner_cpu_seconds_total",
};

/* Each esxmem_* name in the queries under @j: counted in @used by served[]. */
static void names_in(json_t *j, unsigned int *used, int *unknown)
{
	const char *key, *p;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, key, v) {
			if ((!strcmp(key, "expr") || !strcmp(key, "query") ||
			     !strcmp(key, "definition")) && json_is_string(v)) {
				for (p = strstr(json_string_value(v), "esxmem_"); p;
				     p = strstr(p + 1, "esxmem_")) {
					size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
					bool found = false;

					for (i = 0; i < sizeof(served) / sizeof(served[0]); i++)
						if (strlen(served[i]) == len && !strncmp(p, served[i], len)) {
							used[i]++;
							found = true;
						}
					if (!found) {
						fprintf(stderr, "dashboard: unknown metric %.*s\n",
							(int)len, p);
						(*unknown)++;
					}
					p += len - 1;
				}
			} else {
				names_in(v, used, unknown);
			}
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			names_in(v, used, unknown);
	}
}

/* The Grafana dashboard asks only for metrics esxmemd serves, and shows the demo's plots. */
START_TEST(dashboard_metrics)
{
	static const char *const plotted[] = {
		"esxmem_vm_consumed_bytes", "esxmem_vm_target_bytes",	/* idle tax */
		"esxmem_pool_free_bytes", "esxmem_pool_state",		/* pressure */
		"esxmem_vm_ballooned_bytes", "esxmem_vm_compressed_bytes",
		"esxmem_vm_swapped_bytes", "esxmem_idle_tax_ratio",
		"esxmem_sharing_saved_bytes", "esxmem_vm_zero_bytes",	/* sharing */
	};
	unsigned int used[sizeof(served) / sizeof(served[0])] = { 0 };
	json_error_t jerr;
	json_t *dash = json_load_file("contrib/grafana/esxmem.json", JSON_REJECT_DUPLICATES, &jerr);
	int unknown = 0;
	size_t i, k;

	ck_assert_msg(dash, "contrib/grafana/esxmem.json:%d: %s", jerr.line, jerr.text);
	ck_assert(json_array_size(json_object_get(dash, "panels")) >= 3);
	names_in(dash, used, &unknown);
	ck_assert_int_eq(unknown, 0);
	for (k = 0; k < sizeof(plotted) / sizeof(plotted[0]); k++) {
		for (i = 0; strcmp(served[i], plotted[k]); i++)
			;
		ck_assert_msg(used[i], "the dashboard does not show %s", plotted[k]);
	}
	json_decref(dash);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, label_values_escaped);
	tcase_add_test(tc, label_sets);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, exposition);
	tcase_add_test(tc, listen_addresses);
	tcase_add_test(tc, dashboard_metrics);
	suite_add_tcase(s, tc);
	return s;
}
