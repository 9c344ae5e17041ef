// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemctl: the command line of esxmem. It asks esxmemd over its control
 * socket (daemon/control.h); the subcommands come from one table.
 *
 * Exit status: 0 done, 1 the daemon refused or failed, 2 bad usage,
 * 3 the daemon cannot be reached.
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

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct options {
	const char *socket;
	bool json;
	bool pages;
	unsigned int interval;
};

struct command {
	const char *name;
	int (*run)(struct options *o, int argc, char **argv);
	const char *usage;
	const char *help;
};

static volatile sig_atomic_t stopping;

/* Sends @req (consumed); the reply in *@reply, or an exit status. */
static int ask(struct options *o, json_t *req, json_t **reply)
{
	char err[512];
	int ret = ctl_request(o->socket, req, reply, err, sizeof(err));

	json_decref(req);
	if (ret) {
		fprintf(stderr, "esxmemctl: %s\n", err);
		return ret == -ENOENT || ret == -ECONNREFUSED || ret == -EACCES ?
		       EXIT_UNREACHABLE : EXIT_REFUSED;
	}
	if (!json_is_true(json_object_get(*reply, "ok"))) {
		const char *why = json_string_value(json_object_get(*reply, "error"));

		fprintf(stderr, "esxmemctl: esxmemd: %s\n", why ?: "refused, without a reason");
		json_decref(*reply);
		*reply = NULL;
		return EXIT_REFUSED;
	}
	return 0;
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
		fprintf(stderr, "esxmemctl: %s\n", err);
		return EXIT_REFUSED;
	}
	return 0;
}

static int no_args(int argc, const char *cmd)
{
	if (argc > 1) {
		fprintf(stderr, "esxmemctl: %s takes no arguments (esxmemctl help %s)\n", cmd, cmd);
		return EXIT_USAGE;
	}
	return 0;
}

static int cmd_status(struct options *o, int argc, char **argv)
{
	json_t *reply;
	int ret = no_args(argc, argv[0]) ?: ask(o, json_pack("{s:s}", "cmd", "status"), &reply);

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

	if (argc != 2) {
		fprintf(stderr, "esxmemctl: usage: esxmemctl vm NAME\n");
		return EXIT_USAGE;
	}
	ret = ask(o, json_pack("{s:s, s:s}", "cmd", "vm", "name", argv[1]), &reply);
	if (ret)
		return ret;
	ret = show(o, reply, true);
	json_decref(reply);
	return ret;
}

static int cmd_set(struct options *o, int argc, char **argv)
{
	json_t *req, *reply;
	char err[256];
	int ret;

	if (argc < 3) {
		fprintf(stderr, "esxmemctl: usage: esxmemctl set NAME key=value...\n");
		return EXIT_USAGE;
	}
	req = ctl_set_request(argv[1], argc - 2, argv + 2, err, sizeof(err));
	if (!req) {
		fprintf(stderr, "esxmemctl: %s\n", err);
		return EXIT_USAGE;
	}
	ret = ask(o, req, &reply);
	json_decref(reply);
	return ret;
}

static int cmd_reload(struct options *o, int argc, char **argv)
{
	json_t *reply;
	int ret = no_args(argc, argv[0]) ?: ask(o, json_pack("{s:s}", "cmd", "reload"), &reply);

	if (!ret) {
		printf("configuration reloaded\n");
		json_decref(reply);
	}
	return ret;
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static int cmd_watch(struct options *o, int argc, char **argv)
{
	bool tty = isatty(STDOUT_FILENO);
	int ret = no_args(argc, argv[0]);

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
	{ "set", cmd_set, "set NAME key=value...",
	  "change a VM's settings at once, until the daemon reloads or restarts:\n"
	  "shares=N|low|normal|high, min=SIZE, max=SIZE (0: its RAM), domain=N\n"
	  "(sizes like 512M, 2G, or bytes); e.g. esxmemctl set web1 shares=high min=1G" },
	{ "reload", cmd_reload, "reload",
	  "read the configuration file again (as SIGHUP); a bad one is refused\n"
	  "and the old one stays" },
	{ "watch", cmd_watch, "watch [-i SECS]", "status, refreshed every SECS (default 2) until Ctrl-C" },
	{ "help", cmd_help, "help [COMMAND]", "this text, or one command's" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
"usage: esxmemctl [-s SOCKET] [-j] [-p] COMMAND [ARGS]\n"
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
"  -j, --json         print the daemon's reply as JSON (status, vm, watch)\n"
"  -p, --pages        print memory in pages instead of bytes units\n"
"  -i, --interval S   seconds between refreshes of watch (1..3600)\n"
"  -h, --help         this text\n"
"\n"
"Exit status: 0 done, 1 the daemon refused or failed (it says why),\n"
"2 bad usage, 3 the daemon cannot be reached (is it running?\n"
"systemctl status esxmemd). See esxmemctl(8).\n");
}

static int cmd_help(struct options *o, int argc, char **argv)
{
	size_t i;

	(void)o;
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
