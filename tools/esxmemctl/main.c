// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemctl: the command line of esxmem. It asks esxmemd over its control
 * socket (daemon/control.h); the subcommands come from one table.
 *
 * Exit status: 0 done, 1 the daemon refused or failed, 2 bad usage,
 * 3 the daemon cannot be reached, 4 the caller may not use its socket.
 * With --json every command prints JSON on standard output, failures
 * included ({"ok": false, "error": "..."}).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "format.h"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_DENIED = 4 };
enum { OPT_CONFIG = 256 };

struct options {
	const char *socket;
	bool json;
	bool pages;
	bool config;		/* set, unset: in the configuration file */
	unsigned int interval;
};

struct command {
	const char *name;
	int (*run)(struct options *o, int argc, char **argv);
	const char *usage;
	const char *help;
};

static volatile sig_atomic_t stopping;

static int print_json(json_t *reply);

/* A failure: on standard error, and as JSON on standard output with --json. */
static void failed(struct options *o, const char *prefix, const char *why)
{
	fprintf(stderr, "esxmemctl: %s%s\n", prefix, why);
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 0, "error", why);

		if (j)
			print_json(j);
		json_decref(j);
	}
}

/* Sends @req; the reply in *@reply, or an exit status. */
static int ask_keep(struct options *o, json_t *req, json_t **reply)
{
	char err[512];
	int ret = ctl_request(o->socket, req, reply, err, sizeof(err));

	if (ret) {
		failed(o, "", err);
		return ret == -EACCES || ret == -EPERM ? EXIT_DENIED :
		       ret == -ENOENT || ret == -ECONNREFUSED ? EXIT_UNREACHABLE : EXIT_REFUSED;
	}
	if (!json_is_true(json_object_get(*reply, "ok"))) {
		const char *why = json_string_value(json_object_get(*reply, "error"));

		failed(o, "esxmemd: ", why ?: "refused, without a reason");
		json_decref(*reply);
		*reply = NULL;
		return EXIT_REFUSED;
	}
	return 0;
}

/* The same, @req consumed. */
static int ask(struct options *o, json_t *req, json_t **reply)
{
	int ret = ask_keep(o, req, reply);

	json_decref(req);
	return ret;
}

static int print_json(json_t *reply)
{
	char *text = json_dumps(reply, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (!text)
		return EXIT_REFUSED;
	puts(text);
	free(text);
	return 0;
}

static int show(struct options *o, json_t *reply, bool one_vm)
{
	char err[256];
	int ret;

	if (o->json)
		return print_json(reply);
	ret = one_vm ? ctl_print_vm(stdout, reply, o->pages, err, sizeof(err)) :
		       ctl_print_status(stdout, reply, o->pages, err, sizeof(err));
	if (ret) {
		failed(o, "", err);
		return EXIT_REFUSED;
	}
	return 0;
}

/* What set or unset did, or its reply as JSON. */
static int show_change(struct options *o, json_t *req, json_t *reply)
{
	char err[256];

	if (o->json)
		return print_json(reply);
	if (ctl_print_change(stdout, req, reply, err, sizeof(err))) {
		failed(o, "", err);
		return EXIT_REFUSED;
	}
	return 0;
}

static int usage_error(struct options *o, const char *why)
{
	failed(o, "", why);
	return EXIT_USAGE;
}

static int no_args(struct options *o, int argc, const char *cmd)
{
	char why[128];

	if (argc > 1) {
		snprintf(why, sizeof(why), "%s takes no arguments (esxmemctl help %s)", cmd, cmd);
		return usage_error(o, why);
	}
	if (o->config) {
		snprintf(why, sizeof(why), "--config is for set and unset, not %s", cmd);
		return usage_error(o, why);
	}
	return 0;
}

static int cmd_status(struct options *o, int argc, char **argv)
{
	json_t *reply;
	int ret = no_args(o, argc, argv[0]) ?: ask(o, json_pack("{s:s}", "cmd", "status"), &reply);

	if (ret)
		return ret;
	ret = show(o, reply, false);
	json_decref(reply);
	return ret;
}

static int cmd_vm(struct options *o, int argc, char **argv)
{
	json_t *reply;
	int ret;

	if (argc != 2)
		return usage_error(o, "usage: esxmemctl vm NAME");
	if (o->config)
		return usage_error(o, "--config is for set and unset, not vm");
	ret = ask(o, json_pack("{s:s, s:s}", "cmd", "vm", "name", argv[1]), &reply);
	if (ret)
		return ret;
	ret = show(o, reply, true);
	json_decref(reply);
	return ret;
}

/* Sends set or unset request @req (consumed), to the file with --config. */
static int send_change(struct options *o, json_t *req)
{
	json_t *reply = NULL;
	int ret;

	if (o->config)
		json_object_set_new(req, "config", json_true());
	ret = ask_keep(o, req, &reply) ?: show_change(o, req, reply);
	json_decref(req);
	json_decref(reply);
	return ret;
}

static int cmd_set(struct options *o, int argc, char **argv)
{
	json_t *req;
	char err[256];

	if (argc < 3)
		return usage_error(o, "usage: esxmemctl set [--config] NAME key=value...");
	req = ctl_set_request(argv[1], argc - 2, argv + 2, err, sizeof(err));
	return req ? send_change(o, req) : usage_error(o, err);
}

static int cmd_unset(struct options *o, int argc, char **argv)
{
	json_t *req;
	char err[256];

	if (argc < 2 || (o->config && argc < 3))
		return usage_error(o, "usage: esxmemctl unset NAME [KEY...], esxmemctl unset --config NAME KEY...");
	req = ctl_unset_request(argv[1], argc - 2, argv + 2, err, sizeof(err));
	return req ? send_change(o, req) : usage_error(o, err);
}

static int cmd_reload(struct options *o, int argc, char **argv)
{
	json_t *reply;
	int ret = no_args(o, argc, argv[0]) ?: ask(o, json_pack("{s:s}", "cmd", "reload"), &reply);

	if (!ret && o->json)
		ret = print_json(reply);
	else if (!ret)
		printf("configuration reloaded; runtime changes (esxmemctl set) dropped\n");
	json_decref(reply);
	return ret;
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static int cmd_watch(struct options *o, int argc, char **argv)
{
	bool tty = isatty(STDOUT_FILENO) && !o->json;
	int ret = no_args(o, argc, argv[0]);

	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	while (!ret && !stopping) {
		if (tty)
			fputs("\033[H\033[2J", stdout);
		ret = cmd_status(o, argc, argv);
		fflush(stdout);
		if (!ret && !stopping)
			sleep(o->interval);
	}
	return ret;
}

static int cmd_help(struct options *o, int argc, char **argv);

static const struct command commands[] = {
	{ "status", cmd_status, "status",
	  "the pool, its free-memory state, and every VM: size, min, max, shares,\n"
	  "target, consumed, shared, f (active fraction), rho (shares per page),\n"
	  "ballooned and swapped memory" },
	{ "vm", cmd_vm, "vm NAME", "every figure of one VM, a line each" },
	{ "set", cmd_set, "set [--config] NAME key=value...",
	  "change a VM's settings at once: shares=N|low|normal|high, min=SIZE,\n"
	  "max=SIZE (0: its RAM), domain=N (sizes like 512M, 2G, or bytes).\n"
	  "Without --config the change lasts until the daemon reloads or restarts\n"
	  "(esxmemctl unset takes it back); with --config it is written into the\n"
	  "daemon's configuration file (the rest of the file kept) and lasts, also\n"
	  "for a VM that is not running. e.g. esxmemctl set --config web1 shares=high" },
	{ "unset", cmd_unset, "unset [--config] NAME [KEY...]",
	  "take back runtime changes of a VM (all, or those KEYs: shares, min, max,\n"
	  "domain), back to the configuration's values; with --config also remove\n"
	  "the KEYs from the VM's entry in the configuration file (vm_defaults then)" },
	{ "reload", cmd_reload, "reload",
	  "read the configuration file again (as SIGHUP); a bad one is refused\n"
	  "and the old one stays" },
	{ "watch", cmd_watch, "watch [-i SECS]", "status, refreshed every SECS (default 2) until Ctrl-C" },
	{ "help", cmd_help, "help [COMMAND]", "this text, or one command's (as JSON with --json)" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
"usage: esxmemctl [-s SOCKET] [-j] [-p] [--config] COMMAND [ARGS]\n"
"\n"
"Shows and changes what esxmemd, esxmem's policy daemon, does with guest\n"
"memory: shares, min and max, targets, the idle memory tax.\n"
"\n"
"Commands:\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-24s %.*s\n", commands[i].usage,
			(int)strcspn(commands[i].help, "\n"), commands[i].help);
	fprintf(f,
"\n"
"Options:\n"
"  -s, --socket PATH  the daemon's control socket (default $ESXMEMCTL_SOCKET,\n"
"                     else " CONFIG_SOCKET_DEFAULT ")\n"
"  -j, --json         print JSON, the daemon's reply or the failure, for\n"
"                     every command\n"
"  -p, --pages        print memory in pages instead of bytes units\n"
"      --config       set, unset: in the daemon's configuration file, lasting\n"
"  -i, --interval S   seconds between refreshes of watch (1..3600)\n"
"  -h, --help         this text\n"
"\n"
"Exit status: 0 done, 1 the daemon refused or failed (it says why),\n"
"2 bad usage, 3 the daemon cannot be reached (is it running?\n"
"systemctl status esxmemd), 4 permission denied on its socket (run as\n"
"root). See esxmemctl(8).\n");
}

static int cmd_help(struct options *o, int argc, char **argv)
{
	size_t i;

	if (o->json) {
		json_t *list = json_array();

		for (i = 0; i < NR_COMMANDS; i++)
			if (argc < 2 || !strcmp(argv[1], commands[i].name))
				json_array_append_new(list, json_pack("{s:s, s:s, s:s}",
					"name", commands[i].name, "usage", commands[i].usage,
					"help", commands[i].help));
		if (argc >= 2 && !json_array_size(list)) {
			json_decref(list);
			return usage_error(o, "no such command (esxmemctl help lists them)");
		}
		i = (size_t)print_json(list);
		json_decref(list);
		return (int)i;
	}
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name)) {
			printf("usage: esxmemctl %s\n\n%s\n", commands[i].usage, commands[i].help);
			return 0;
		}
	fprintf(stderr, "esxmemctl: no command %s (esxmemctl help lists them)\n", argv[1]);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "pages", no_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "config", no_argument, NULL, OPT_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .socket = getenv("ESXMEMCTL_SOCKET"), .interval = 2 };
	char *end;
	long v;
	size_t i;
	int c;

	if (!o.socket || !*o.socket)
		o.socket = CONFIG_SOCKET_DEFAULT;
	/* Options may come before or after the command. */
	while ((c = getopt_long(argc, argv, "s:jpi:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'p':
			o.pages = true;
			break;
		case OPT_CONFIG:
			o.config = true;
			break;
		case 'i':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 3600) {
				fprintf(stderr, "esxmemctl: --interval %s: want 1..3600 seconds\n", optarg);
				return EXIT_USAGE;
			}
			o.interval = (unsigned int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(argv[optind], commands[i].name))
			return commands[i].run(&o, argc - optind, argv + optind);
	fprintf(stderr, "esxmemctl: no command %s (esxmemctl help lists them)\n", argv[optind]);
	return EXIT_USAGE;
}
