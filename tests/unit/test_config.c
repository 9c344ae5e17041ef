// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's configuration (daemon/config.c): defaults, a full file, the
 * example, and malformed files, each refused with the place and the reason
 * and without touching the configuration in use. Also VM names from QEMU
 * command lines (daemon/discover.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "esxmemd.h"
#include "libvirt.h"
#include "unit.h"

/*
 * discover.c, linked here for its command-line parsers, answers guests'
 * balloons (esxmemd.c) while it searches a process's fds; no test here
 * has a daemon loop.
 */
void serve_balloons(struct daemon *d)
{
	(void)d;
}

static char dir[64];
static char file[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/esxmem-config-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/esxmemd.json", dir);
}

static void teardown(void)
{
	unlink(file);
	rmdir(dir);
}

static void write_file(const char *text)
{
	FILE *f = fopen(file, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static int load_text(const char *text, struct config *c, char *err, size_t len)
{
	write_file(text);
	return config_load(file, c, err, len);
}

START_TEST(defaults)
{
	struct config c;

	config_defaults(&c);
	ck_assert_double_eq(c.tax, 0.75);
	ck_assert_uint_eq(c.balance_secs, 15);
	ck_assert_uint_eq(c.sample_secs, 30);
	ck_assert_uint_eq(c.sample_pages, 100);
	ck_assert_uint_eq(c.state_permille[ESXMEM_STATE_HIGH], 60);
	ck_assert_uint_eq(c.state_permille[ESXMEM_STATE_LOW], 10);
	/* 5% of RAM, at least 1 GiB. */
	ck_assert_uint_eq(config_host_reserve(&c, 4ULL << 30), 1ULL << 30);
	ck_assert_uint_eq(config_host_reserve(&c, 20ULL << 30), 1ULL << 30);
	ck_assert_uint_eq(config_host_reserve(&c, 512ULL << 30), (512ULL << 30) / 100 * 5);
	ck_assert_uint_eq(config_host_reserve(&c, 4ULL << 40), (4ULL << 40) / 100 * 5);
	ck_assert_str_eq(c.control_socket, CONFIG_SOCKET_DEFAULT);
	ck_assert_str_eq(c.libvirt_uri, "qemu:///system");
	ck_assert_int_eq(c.vm_default.shares_level, CONFIG_SHARES_NORMAL);
	ck_assert(c.vm_default.reclaim.balloon && c.vm_default.reclaim.swap);
	ck_assert_uint_eq(c.nr_vms, 0);
	/* normal: 10 shares per MiB; clamped to 1..ESXMEM_SHARES_MAX. */
	ck_assert_uint_eq(config_vm_shares(&c.vm_default, 2ULL << 30), 20480);
	ck_assert_uint_eq(config_vm_shares(&c.vm_default, 4096), 1);
	/* Multi-TiB VMs keep their shares in proportion: 1 TiB, 10 per MiB. */
	ck_assert_uint_eq(config_vm_shares(&c.vm_default, 1ULL << 40), 10ULL << 20);
	ck_assert_uint_eq(config_vm_shares(&c.vm_default, 16ULL << 40), 160ULL << 20);
	c.vm_default.shares_level = CONFIG_SHARES_HIGH;
	ck_assert_uint_eq(config_vm_shares(&c.vm_default, 32ULL << 40), 640ULL << 20);
	ck_assert_uint_eq(config_vm_shares(&c.vm_default, 1ULL << 50), ESXMEM_SHARES_MAX);
	c.vm_default.shares_level = CONFIG_SHARES_NORMAL;
}
END_TEST

START_TEST(full_file)
{
	struct config c;
	char err[512];
	const struct config_vm *vm;

	ck_assert_int_eq(load_text(
		"{\"pool\": {\"size\": \"6G\", \"host_reserve\": 536870912},\n"
		" \"tax\": 0.5, \"balance_period\": 5,\n"
		" \"sampling\": {\"period\": 10, \"pages\": 400},\n"
		" \"thresholds\": {\"high\": 100, \"soft\": 50, \"hard\": 30, \"low\": 5},\n"
		" \"control_socket\": \"/tmp/x.sock\", \"libvirt_uri\": \"qemu+ssh://h/system\",\n"
		" \"vm_defaults\": {\"shares\": \"low\", \"max\": \"1G\"},\n"
		" \"vms\": {\"web1\": {\"shares\": 2000, \"min\": \"512M\", \"max\": \"2G\",\n"
		"   \"domain\": 3, \"reclaim\": {\"swap\": false, \"compress_max\": \"200M\",\n"
		"   \"swap_dir\": \"/var/swap\"}}, \"db\": {\"shares\": \"high\"}}}\n",
		&c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.pool_bytes, 6ULL << 30);
	ck_assert_uint_eq(c.host_reserve_bytes, 512ULL << 20);
	ck_assert_uint_eq(config_host_reserve(&c, 1ULL << 40), 512ULL << 20);
	ck_assert_double_eq(c.tax, 0.5);
	ck_assert_uint_eq(c.balance_secs, 5);
	ck_assert_uint_eq(c.sample_secs, 10);
	ck_assert_uint_eq(c.sample_pages, 400);
	ck_assert_uint_eq(c.state_permille[ESXMEM_STATE_HIGH], 100);
	ck_assert_uint_eq(c.state_permille[ESXMEM_STATE_LOW], 5);
	ck_assert_str_eq(c.control_socket, "/tmp/x.sock");
	ck_assert_str_eq(c.libvirt_uri, "qemu+ssh://h/system");
	ck_assert_uint_eq(c.nr_vms, 2);
	vm = config_vm_find(&c, "web1");
	ck_assert_str_eq(vm->name, "web1");
	ck_assert_uint_eq(config_vm_shares(vm, 1ULL << 30), 2000);
	ck_assert_uint_eq(vm->min_bytes, 512ULL << 20);
	ck_assert_uint_eq(vm->max_bytes, 2ULL << 30);
	ck_assert_uint_eq(vm->domain, 3);
	ck_assert(!vm->reclaim.swap && vm->reclaim.balloon);
	ck_assert_uint_eq(vm->reclaim.compress_max_bytes, 200ULL << 20);
	ck_assert_str_eq(vm->reclaim.swap_dir, "/var/swap");
	/* A VM starts from the defaults. */
	vm = config_vm_find(&c, "db");
	ck_assert_uint_eq(vm->max_bytes, 1ULL << 30);
	ck_assert_uint_eq(config_vm_shares(vm, 1ULL << 30), 20 * 1024);
	ck_assert_uint_eq(config_vm_shares(config_vm_find(&c, "other"), 1ULL << 30), 5 * 1024);
	config_free(&c);
}
END_TEST

START_TEST(example_loads)
{
	struct config c;
	char err[512] = "";
	int ret = config_load("daemon/esxmemd.json.example", &c, err, sizeof(err));

	ck_assert_msg(ret == 0, "%s", err);
	ck_assert_uint_eq(c.nr_vms, 2);
	config_free(&c);
}
END_TEST

static const struct {
	const char *text;
	const char *message;	/* what the error says, after the file name */
} bad[] = {
	{ "{\"tax\": 0.5,\n \"balance_period\" 15}", ":2:20: ':' expected" },
	{ "{\"tax\": 0.5,\n", ":2:0: string or '}' expected near end of file" },
	{ "", ":1:0: '[' or '{' expected near end of file" },
	{ "[1, 2]", ": must be an object" },
	{ "{\"taxes\": 0.5}", ":1:2: taxes: unknown key; allowed here: pool, tax" },
	{ "{\"vms\": {\"a\": {\"sharez\": 5}}}", ":1:16: vms.a.sharez: unknown key" },
	{ "{\"tax\": 0.5, \"tax\": 0.6}", "duplicate object key" },
	{ "{\"vms\": {\"a\": {}, \"a\": {}}}", "duplicate object key" },
	{ "{\"tax\": \"high\"}", ":1:2: tax: must be a number" },
	{ "{\"tax\": 1.5}", ":1:2: tax: 1.5 is out of range 0..0.99" },
	{ "{\"pool\": {\"size\": \"6Q\"}}", ":1:11: pool.size: \"6Q\" is not a size" },
	{ "{\"pool\": {\"size\": \"99999999999T\"}}", "pool.size: \"99999999999T\" is too large" },
	{ "{\"pool\": {\"size\": -1}}", "pool.size: a size cannot be negative" },
	{ "{\"pool\": {\"host_reserve\": \"0%\"}}", "pool.host_reserve: \"0%\": a percentage of RAM must be 1%..50%" },
	{ "{\"pool\": {\"host_reserve\": \"51%\"}}", "a percentage of RAM must be 1%..50%" },
	{ "{\"pool\": {\"host_reserve\": \"-5%\"}}", "a percentage of RAM must be 1%..50%" },
	{ "{\"pool\": {\"host_reserve\": \"5.5%\"}}", "a percentage of RAM must be 1%..50%" },
	{ "{\"pool\": {\"host_reserve\": \"%\"}}", "a percentage of RAM must be 1%..50%" },
	{ "{\"vms\": {\"a\": {\"min\": \"2G\",\n  \"max\": \"1G\"}}}", ":1:10: vms.a: min (2147483648 bytes) is above max" },
	{ "{\"thresholds\": {\"high\": 20, \"soft\": 40}}", "thresholds: must fall strictly" },
	{ "{\"thresholds\": {\"high\": 1001}}", "thresholds.high: 1001 is out of range 1..1000" },
	{ "{\"vms\": {\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": {}}}",
	  "a VM name must be 1..63 bytes" },
	{ "{\"balance_period\": 0}", "balance_period: 0 is out of range 1..3600 seconds" },
	{ "{\"sampling\": {\"pages\": 1.5}}", "sampling.pages: must be a whole number of pages" },
	{ "{\"vms\": {\"a\": {\"shares\": \"huge\"}}}", "\"huge\" is not a level" },
	{ "{\"vms\": {\"a\": {\"reclaim\": {\"swap\": 1}}}}", "vms.a.reclaim.swap: must be true or false" },
	{ "{\"control_socket\": \"relative\"}", "control_socket: must be an absolute path" },
	{ "{\"libvirt_uri\": false}", "libvirt_uri: must be a libvirt URI" },
	{ "{\"libvirt_uri\": \"qemu+ssh://" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/system\"}",
	  "libvirt_uri: must be a libvirt URI such as \"qemu:///system\" of at most 255 bytes" },
	{ "{\"headroom\": 0}", ":1:2: headroom: 0 is out of range 1..100 percent" },
	{ "{\"metrics\": {\"listen\": \"localhost:9464\"}}",
	  ":1:14: metrics.listen: must be \"ADDRESS:PORT\" with a numeric address" },
	{ "{\"metrics\": {\"listen\": \"127.0.0.1:65536\"}}", "metrics.listen: must be" },
	{ "{\"metrics\": {\"listen\": \"127.0.0.1:0\"}}", "metrics.listen: must be" },
	{ "{\"metrics\": {\"listen\": \"[::1:9464\"}}", "metrics.listen: must be" },
	{ "{\"metrics\": {\"listen\": 9464}}", "metrics.listen: must be" },
	{ "{\"metrics\": {\"textfile\": \"/var/lib/esxmem.txt\"}}",
	  "metrics.textfile: must be an absolute path ending in \".prom\"" },
	{ "{\"metrics\": {\"textfile\": \"esxmem.prom\"}}", "metrics.textfile: must be an absolute path" },
	{ "{\"metrics\": {\"port\": 9464}}", "metrics.port: unknown key; allowed here: listen, textfile" },
	/* Admission control: 1 GiB less 6% for the high state is 962 MiB. */
	{ "{\"pool\": {\"size\": \"1G\"}, \"vms\": {\"a\": {\"min\": \"600M\"}, \"b\": {\"min\": \"500M\"}}}",
	  ": vms: the mins add up to 1100 MiB, more than the 962 MiB the pool can guarantee" },
};

START_TEST(malformed_refused)
{
	struct config c, before;
	char err[512];
	int i = _i;

	config_defaults(&c);
	c.tax = 0.3;
	memcpy(&before, &c, sizeof(c));
	ck_assert_int_eq(load_text(bad[i].text, &c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, bad[i].message) && !strncmp(err, file, strlen(file)),
		      "case %d: \"%s\" lacks \"%s\"", i, err, bad[i].message);
	/* A refused file changes nothing: the old configuration stays. */
	ck_assert(!memcmp(&before, &c, sizeof(c)));
}
END_TEST

/* Admission control at configuration, against a host of a given RAM. */
START_TEST(mins_must_fit)
{
	struct config c;
	char err[512] = "";

	config_defaults(&c);
	c.vms = calloc(2, sizeof(*c.vms));
	ck_assert_ptr_nonnull(c.vms);
	c.nr_vms = 2;
	c.vms[0].min_bytes = 3ULL << 30;
	c.vms[1].min_bytes = 3ULL << 30;
	/* 8 GiB of RAM less 1 GiB for the host, less 6%: 6.58 GiB. */
	ck_assert_uint_eq(config_pool_bytes(&c, 8ULL << 30), 7ULL << 30);
	ck_assert_int_eq(config_check_mins(&c, 8ULL << 30, "f", err, sizeof(err)), 0);
	c.vms[1].min_bytes = 4ULL << 30;
	ck_assert_int_eq(config_check_mins(&c, 8ULL << 30, "f", err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "f: vms: the mins add up to 7168 MiB, more than the 6737 MiB") &&
		      strstr(err, "lower some min, or grow pool.size"), "%s", err);
	/* A min above its max counts as the max. */
	c.vms[1].max_bytes = 3ULL << 30;
	ck_assert_int_eq(config_check_mins(&c, 8ULL << 30, "f", err, sizeof(err)), 0);
	config_free(&c);
}
END_TEST

START_TEST(missing_file)
{
	struct config c;
	char err[512];

	ck_assert_int_eq(config_load("/nonexistent/esxmemd.json", &c, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/esxmemd.json: cannot read it"));
}
END_TEST

START_TEST(sizes)
{
	uint64_t v;

	ck_assert_int_eq(config_parse_size("512M", &v), 0);
	ck_assert_uint_eq(v, 512ULL << 20);
	ck_assert_int_eq(config_parse_size("1.5G", &v), 0);
	ck_assert_uint_eq(v, 3ULL << 29);
	ck_assert_int_eq(config_parse_size("2GiB", &v), 0);
	ck_assert_uint_eq(v, 2ULL << 30);
	ck_assert_int_eq(config_parse_size("64kB", &v), 0);
	ck_assert_uint_eq(v, 64ULL << 10);
	ck_assert_int_eq(config_parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(config_parse_size("-1G", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("1X", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("1Gx", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("16777216T", &v), -ERANGE);
}
END_TEST

START_TEST(names_from_command_lines)
{
	static const char qemu[] = "qemu-system-x86_64\0-m\0" "2G\0-name\0guest=web1,debug-threads=on\0";
	static const char plain[] = "qemu\0-name\0db,process=x\0";
	static const char dashes[] = "tinyvmm\0--name\0guest=t1\0";
	static const char none[] = "qemu\0-m\0" "1G\0";
	static const char keys[] = "qemu\0-name\0process=x\0";
	static const char ctl[] = "qemu\0-name\0a\tb\0";
	char name[ESXMEM_VM_NAME_MAX];

	ck_assert_int_eq(vm_name_from_cmdline(qemu, sizeof(qemu) - 1, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "web1");
	ck_assert_int_eq(vm_name_from_cmdline(plain, sizeof(plain) - 1, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "db");
	ck_assert_int_eq(vm_name_from_cmdline(dashes, sizeof(dashes) - 1, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "t1");
	ck_assert_int_eq(vm_name_from_cmdline(none, sizeof(none) - 1, name, sizeof(name)), -ENOENT);
	ck_assert_int_eq(vm_name_from_cmdline(keys, sizeof(keys) - 1, name, sizeof(name)), -ENOENT);
	ck_assert_int_eq(vm_name_from_cmdline(ctl, sizeof(ctl) - 1, name, sizeof(name)), -EINVAL);
}
END_TEST

START_TEST(host_reserve_and_pool)
{
	struct config c;
	char err[512];
	const uint64_t G = 1ULL << 30, page = 4096;

	/* A percentage, with the 1 GiB floor. */
	ck_assert_int_eq(load_text("{\"pool\": {\"host_reserve\": \"10%\"}}", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.host_reserve_percent, 10);
	ck_assert_uint_eq(config_host_reserve(&c, 256 * G), 256 * G / 100 * 10);
	ck_assert_uint_eq(config_host_reserve(&c, 4 * G), G);
	/* The pool: RAM less the reserve, less the VMMs' own memory. */
	ck_assert_uint_eq(pool_pages_for(&c, 256 * G, 0, page), (256 * G - 256 * G / 100 * 10) / page);
	ck_assert_uint_eq(pool_pages_for(&c, 256 * G, 3 * G, page),
			  (256 * G - 256 * G / 100 * 10 - 3 * G) / page);
	/* The VMMs' memory takes at most half of what the reserve leaves. */
	ck_assert_uint_eq(pool_pages_for(&c, 4 * G, 10 * G, page), 3 * G / 2 / page);
	config_free(&c);
	/* A size stays a size; a reserve above RAM leaves half of it. */
	ck_assert_int_eq(load_text("{\"pool\": {\"host_reserve\": \"2G\"}}", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.host_reserve_percent, 0);
	ck_assert_uint_eq(config_host_reserve(&c, 1024 * G), 2 * G);
	ck_assert_uint_eq(pool_pages_for(&c, G, 0, page), G / 2 / page);
	config_free(&c);
	/* A pool size set in the file is the pool, whatever the VMMs use. */
	ck_assert_int_eq(load_text("{\"pool\": {\"size\": \"6G\"}}", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(pool_pages_for(&c, 64 * G, 5 * G, page), 6 * G / page);
	config_free(&c);
}
END_TEST

/* libvirt's identity of a VM: its UUID and its stock balloon, as libvirt 9 writes them. */
START_TEST(libvirt_identity_from_command_lines)
{
	static const char domain[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=lv1,debug-threads=on\0"
		"-uuid\0" "6f1d7e38-55c9-4a5e-9d3f-0c7a2b5e4d10\0"
		"-device\0{\"driver\":\"virtio-balloon-pci\",\"id\":\"balloon0\",\"bus\":\"pci.0\",\"addr\":\"0x4\"}\0";
	/* QEMU's own keyval balloon is for QMP (qmp.c), not libvirt's. */
	static const char keyval[] = "qemu\0-uuid\0" "6f1d7e38-55c9-4a5e-9d3f-0c7a2b5e4d10\0"
		"-device\0virtio-balloon-pci\0";
	/* A UUID that is not one, a -uuid with nothing after it, none. */
	static const char short_uuid[] = "qemu\0-uuid\0" "6f1d7e38\0-device\0{\"driver\":\"virtio-balloon-pci\"}\0";
	static const char cut[] = "qemu\0-device\0{\"driver\":\"e1000\"}\0-uuid\0";
	struct vm_cache c;

	memset(&c, 0, sizeof(c));
	libvirt_identity(&c, domain, sizeof(domain) - 1);
	ck_assert_str_eq(c.libvirt.uuid, "6f1d7e38-55c9-4a5e-9d3f-0c7a2b5e4d10");
	ck_assert(c.libvirt.has_balloon);
	libvirt_identity(&c, keyval, sizeof(keyval) - 1);
	ck_assert_str_eq(c.libvirt.uuid, "6f1d7e38-55c9-4a5e-9d3f-0c7a2b5e4d10");
	ck_assert(!c.libvirt.has_balloon);
	libvirt_identity(&c, short_uuid, sizeof(short_uuid) - 1);
	ck_assert_str_eq(c.libvirt.uuid, "");
	ck_assert(c.libvirt.has_balloon);
	libvirt_identity(&c, cut, sizeof(cut) - 1);
	ck_assert_str_eq(c.libvirt.uuid, "");
	ck_assert(!c.libvirt.has_balloon);
}
END_TEST

/* "" turns libvirt off. */
START_TEST(libvirt_off)
{
	struct config c;
	char err[512];

	ck_assert_int_eq(load_text("{\"libvirt_uri\": \"\"}", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.libvirt_uri, "");
	config_free(&c);
}
END_TEST

START_TEST(cids_from_command_lines)
{
	/* QEMU's keyval form, and libvirt 9's JSON one, with its other keys. */
	static const char keyval[] = "qemu\0-name\0guest=a\0-device\0vhost-vsock-pci,id=vsock0,guest-cid=3\0";
	static const char dashes[] = "qemu\0--device\0vhost-vsock-pci,guest-cid=12,bus=pci.0\0";
	static const char libvirt[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=web1,debug-threads=on\0"
		"-device\0{\"driver\":\"virtio-balloon-pci\",\"id\":\"balloon0\",\"bus\":\"pci.5\",\"addr\":\"0x0\"}\0"
		"-device\0{\"driver\":\"vhost-vsock-pci\",\"id\":\"vsock0\",\"guest-cid\":42,\"vhostfd\":\"28\",\"bus\":\"pci.7\",\"addr\":\"0x0\"}\0"
		"-msg\0timestamp=on\0";
	static const char json_string[] = "qemu\0-device\0{\"driver\":\"vhost-vsock-pci\",\"guest-cid\":\"7\"}\0";
	static const char same_twice[] = "qemu\0-device\0vhost-vsock-pci,guest-cid=5\0-device\0{\"guest-cid\":5}\0";
	/* Not a CID: elsewhere than a -device, another key, no device. */
	static const char name_only[] = "qemu\0-name\0guest=a,guest-cid=4\0-m\0" "1G\0";
	static const char other_key[] = "qemu\0-device\0vhost-vsock-pci,xguest-cid=4\0";
	static const char none[] = "qemu\0-device\0virtio-balloon-pci\0-device\0{\"driver\":\"e1000\"}\0";
	static const char last[] = "qemu\0-device\0";
	/* Malformed: refused, never read as some other CID. */
	static const char *const bad[] = {
		"qemu\0-device\0vhost-vsock-pci,guest-cid=\0",
		"qemu\0-device\0vhost-vsock-pci,guest-cid=3x\0",
		"qemu\0-device\0vhost-vsock-pci,guest-cid=-3\0",
		"qemu\0-device\0vhost-vsock-pci,guest-cid=2\0",
		"qemu\0-device\0vhost-vsock-pci,guest-cid=0\0",
		"qemu\0-device\0vhost-vsock-pci,guest-cid=4294967295\0",
		"qemu\0-device\0vhost-vsock-pci,guest-cid=99999999999\0",
		"qemu\0-device\0{\"guest-cid\":-1}\0",
		"qemu\0-device\0{\"guest-cid\":3.5}\0",
		"qemu\0-device\0{\"guest-cid\":\"3x\"}\0",
		"qemu\0-device\0{\"guest-cid\":4294967296}\0",
		"qemu\0-device\0{\"guest-cid\":3\0",
		"qemu\0-device\0{\"guest-cid\":3,\"guest-cid\":4}\0",
	};
	static const char two[] = "qemu\0-device\0vhost-vsock-pci,guest-cid=5\0-device\0{\"guest-cid\":6}\0";
	static const char cut[] = { 'q', 0, '-', 'd', 'e', 'v', 'i', 'c', 'e', 0, 'x', ',',
				    'g', 'u', 'e', 's', 't', '-', 'c', 'i', 'd', '=', '9' };
	uint32_t cid;
	size_t i;

	ck_assert_int_eq(vm_cid_from_cmdline(keyval, sizeof(keyval) - 1, &cid), 0);
	ck_assert_uint_eq(cid, 3);
	ck_assert_int_eq(vm_cid_from_cmdline(dashes, sizeof(dashes) - 1, &cid), 0);
	ck_assert_uint_eq(cid, 12);
	ck_assert_int_eq(vm_cid_from_cmdline(libvirt, sizeof(libvirt) - 1, &cid), 0);
	ck_assert_uint_eq(cid, 42);
	ck_assert_int_eq(vm_cid_from_cmdline(json_string, sizeof(json_string) - 1, &cid), 0);
	ck_assert_uint_eq(cid, 7);
	ck_assert_int_eq(vm_cid_from_cmdline(same_twice, sizeof(same_twice) - 1, &cid), 0);
	ck_assert_uint_eq(cid, 5);
	cid = 77;
	ck_assert_int_eq(vm_cid_from_cmdline(name_only, sizeof(name_only) - 1, &cid), -ENOENT);
	ck_assert_int_eq(vm_cid_from_cmdline(other_key, sizeof(other_key) - 1, &cid), -ENOENT);
	ck_assert_int_eq(vm_cid_from_cmdline(none, sizeof(none) - 1, &cid), -ENOENT);
	ck_assert_int_eq(vm_cid_from_cmdline(last, sizeof(last) - 1, &cid), -ENOENT);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]) + 1;

		len += strlen(bad[i] + len) + 1;	/* "-device" */
		len += strlen(bad[i] + len) + 1;	/* its value */
		ck_assert_msg(vm_cid_from_cmdline(bad[i], len, &cid) == -EINVAL,
			      "bad command line %zu taken", i);
	}
	ck_assert_int_eq(vm_cid_from_cmdline(two, sizeof(two) - 1, &cid), -EEXIST);
	ck_assert_int_eq(vm_cid_from_cmdline(cut, sizeof(cut), &cid), -EINVAL);
	ck_assert_uint_eq(cid, 77);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full_file);
	tcase_add_test(tc, example_loads);
	tcase_add_loop_test(tc, malformed_refused, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, mins_must_fit);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, names_from_command_lines);
	tcase_add_test(tc, cids_from_command_lines);
	tcase_add_test(tc, libvirt_identity_from_command_lines);
	tcase_add_test(tc, libvirt_off);
	tcase_add_test(tc, host_reserve_and_pool);
	suite_add_tcase(s, tc);
	return s;
}
