// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd: esxmem's policy daemon. It names and configures every VM the
 * module reports, attaches it to its KVM VM, and every balance period sets
 * each VM's target by min-funding revocation with the idle memory tax.
 * One thread, one epoll loop: a timerfd for the balance period, a
 * signalfd (SIGHUP reloads, SIGTERM and SIGINT stop), the module's events
 * and the control socket. Stopping, even by SIGKILL, leaves the VMs
 * running and the module as it was: a new daemon takes them over.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "esxmemd.h"
#include "libvirt.h"
#include "log.h"

#define EX_CONFIG	78	/* sysexits.h: systemd does not restart on it */

static void usage(FILE *f)
{
	fprintf(f,
"usage: esxmemd [-c FILE] [-d] [--socket PATH] [--check-config]\n"
"\n"
"esxmem's policy daemon: gives each VM on esxmem a memory target from its\n"
"shares, min and max and how much of its memory is idle, every balance period.\n"
"It runs in the foreground and logs to standard error.\n"
"\n"
"  -c, --config FILE   configuration (default " CONFIG_PATH_DEFAULT ");\n"
"                      a missing default file means the built-in defaults\n"
"  -d, --debug         log every decision with its reasons\n"
"  -s, --socket PATH   control socket (default: the configuration's)\n"
"  -t, --check-config  check the configuration and exit (0 when good)\n"
"  -h, --help          this text\n"
"\n"
"Signals: SIGHUP reloads the configuration (a bad one is refused and the\n"
"old one stays); SIGTERM and SIGINT stop the daemon, leaving VMs running.\n"
"Exit status: 0 stopped, 78 bad configuration, 1 other errors.\n");
}

static int load(struct daemon *d, struct config *out, char *err, size_t errlen)
{
	int ret = config_load(d->conf_path, out, err, errlen);

	/* No file where none was asked for: the defaults. */
	if (ret == -ENOENT && !strcmp(d->conf_path, CONFIG_PATH_DEFAULT)) {
		config_defaults(out);
		return 0;
	}
	return ret;
}

static int arm_timer(struct daemon *d)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = d->conf.balance_secs },
		.it_interval = { .tv_sec = d->conf.balance_secs },
	};

	return timerfd_settime(d->timer_fd, 0, &its, NULL) ? -errno : 0;
}

int reload_config(struct daemon *d, char *err, size_t errlen)
{
	struct config fresh;
	int ret = load(d, &fresh, err, errlen);

	if (ret) {
		log_err("reload refused, the old configuration stays: %s", err);
		return ret;
	}
	/* A metrics address that cannot be served is refused like a bad value. */
	ret = metrics_http_reconfigure(d, &fresh);
	if (ret) {
		snprintf(err, errlen, "%s: metrics.listen: cannot serve on %s (see the log)",
			 d->conf_path, fresh.metrics.listen);
		log_err("reload refused, the old configuration stays: %s", err);
		config_free(&fresh);
		return ret;
	}
	log_info("configuration reloaded from %s", d->conf_path);
	use_config(d, &fresh, false);
	return 0;
}

/* Runs on @fresh (taken over) from now on; runtime changes stay with @keep_changes. */
void use_config(struct daemon *d, struct config *fresh, bool keep_changes)
{
	metrics_http_reconfigure(d, fresh);	/* done by reload_config() already */
	config_free(&d->conf);
	d->conf = *fresh;
	if (keep_changes)
		overrides_rebase(d);
	else
		overrides_clear(d);
	reclaim_forget_failures(d);
	if (d->module_loaded)
		apply_pool_settings(d);
	arm_timer(d);
	libvirt_reconfigure(d);
	balance(d);
}

static int add_fd(struct daemon *d, int fd, uint64_t what)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = what };

	return epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int setup(struct daemon *d)
{
	sigset_t mask;
	int err;

	err = esxmem_open(&d->h);
	if (!err)
		err = esxmem_events_open(&d->events);
	if (err) {
		log_err("cannot reach esxmem.ko: %s%s", esxmem_strerror(err),
			err == -ENOENT ? " (run modprobe esxmem)" : "");
		return err;
	}
	d->module_loaded = true;
	err = module_watch_open(d);
	if (err)
		return err;
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->signal_fd < 0 || d->timer_fd < 0 || d->epoll_fd < 0)
		return -errno;
	err = control_open(d);
	if (!err)
		err = balloon_open(d);
	if (!err)
		err = stock_balloons_open(d);
	if (!err)
		err = metrics_http_open(d);
	if (!err)
		err = arm_timer(d);
	if (!err)
		err = add_fd(d, d->timer_fd, EV_TIMER) ?:
		      add_fd(d, d->signal_fd, EV_SIGNAL) ?:
		      add_fd(d, esxmem_events_fd(d->events), EV_EVENTS) ?:
		      add_fd(d, d->control_fd, EV_CONTROL) ?:
		      add_fd(d, d->control_timer_fd, EV_CONTROL_TIMER) ?:
		      add_fd(d, module_watch_fd(d), EV_MODULE);
	if (!err)
		libvirt_open(d);
	return err;
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;
	char err[512];

	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload_config(d, err, sizeof(err));
		} else {
			log_info("stopping on signal %u; VMs keep running", si.ssi_signo);
			d->stop = true;
		}
	}
}

/* Events only say that something changed: one balance takes it all in. */
static bool on_events(struct daemon *d)
{
	const struct esxmem_event *ev;
	bool changed = false;
	int err;

	if (!d->events)
		return false;	/* the module went earlier in this round */
	while ((err = esxmem_events_read(d->events, &ev)) != -EAGAIN) {
		if (err == -ENOBUFS) {
			log_warn("module events were lost: reading the whole state again");
			changed = true;
		} else if (!err && esxmem_event_type(ev) == ESXMEM_CMD_EVENT_STATE) {
			log_info("free-memory state is now %s, %lld pages free",
				 state_name(esxmem_event_state(ev)),
				 (long long)esxmem_event_free_pages(ev));
			changed = true;
		} else if (!err) {
			changed = true;
		}
	}
	return changed;
}

/* The balloon connection an event is for, if it is one that is open. */
static bool balloon_event(const struct daemon *d, const struct epoll_event *ev)
{
	return ev->data.u64 >= EV_BALLOON_CONN && ev->data.u64 < EV_CONTROL_CLIENT &&
	       ev->data.u64 - EV_BALLOON_CONN < d->nr_balloon_slots &&
	       d->balloons[ev->data.u64 - EV_BALLOON_CONN];
}

/* One ready source of the loop; *@rebalance is set when a balance is due. */
static void dispatch(struct daemon *d, const struct epoll_event *ev, bool *rebalance)
{
	uint64_t ticks;

	switch (ev->data.u64) {
	case EV_TIMER:
		if (read(d->timer_fd, &ticks, sizeof(ticks)) > 0)
			*rebalance = true;
		break;
	case EV_SIGNAL:
		on_signal(d);
		break;
	case EV_EVENTS:
		*rebalance |= on_events(d);
		break;
	case EV_CONTROL:
		control_accept(d);
		break;
	case EV_CONTROL_TIMER:
		control_deadline(d);
		break;
	case EV_MODULE:
		module_watch_readable(d);
		break;
	case EV_BALLOON_LISTEN:
		balloon_accept(d);
		break;
	case EV_BALLOON_PACE:
		balloon_pace(d);
		break;
	case EV_QMP_TIMER:
		stock_balloon_deadline(d);
		break;
	case EV_METRICS:
	case EV_METRICS_TIMER:
		metrics_http_ready(d);
		break;
	case EV_LIBVIRT:
		libvirt_ready(d);
		break;
	default:
		if (ev->data.u64 >= EV_QMP_SESSION)
			stock_balloon_ready(d, ev->data.u64 - EV_QMP_SESSION, ev->events);
		else if (ev->data.u64 >= EV_CONTROL_CLIENT)
			control_ready(d, ev->data.u64 - EV_CONTROL_CLIENT);
		else if (balloon_event(d, ev))
			balloon_readable(d, ev->data.u64 - EV_BALLOON_CONN);
		break;
	}
}

/*
 * Answers, without waiting, what guests' balloons have asked, and nothing
 * else: every other source is level-triggered and stays ready for the
 * loop. For a step that takes long (reading a thousand VMs), so that no
 * guest's reply waits for all of it.
 */
void serve_balloons(struct daemon *d)
{
	struct epoll_event evs[256];
	bool rebalance = false;
	int n, i;

	n = epoll_wait(d->epoll_fd, evs, 256, 0);
	for (i = 0; i < n; i++)
		if (balloon_event(d, &evs[i]))
			dispatch(d, &evs[i], &rebalance);
}

static int run(struct daemon *d)
{
	struct epoll_event evs[64];
	int n, i;

	balance(d);
	log_info("running: %zu VMs, balance every %u s, tax %.2f", d->nr_vms,
		 d->conf.balance_secs, d->conf.tax);
	while (!d->stop) {
		bool rebalance = false;

		n = epoll_wait(d->epoll_fd, evs, 64, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			dispatch(d, &evs[i], &rebalance);
		/* A module that went (or came back) unnoticed shows here. */
		if (rebalance && !d->stop && (!d->module_loaded || balance(d) == -ENOENT))
			module_check(d);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { .epoll_fd = -1, .timer_fd = -1, .signal_fd = -1,
			    .control_fd = -1, .control_timer_fd = -1, .balloon_fd = -1,
			    .balloon_pace_fd = -1, .qmp_timer_fd = -1 };
	bool check = false, debug = false;
	char err[512];
	int opt, ret;

	snprintf(d.conf_path, sizeof(d.conf_path), "%s", CONFIG_PATH_DEFAULT);
	while ((opt = getopt_long(argc, argv, "c:ds:th", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			snprintf(d.conf_path, sizeof(d.conf_path), "%s", optarg);
			break;
		case 'd':
			debug = true;
			break;
		case 's':
			if (strlen(optarg) >= sizeof(d.socket_path)) {
				fprintf(stderr, "esxmemd: socket path too long\n");
				return 2;
			}
			strcpy(d.socket_path, optarg);
			break;
		case 't':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init(debug);
	if (load(&d, &d.conf, err, sizeof(err))) {
		log_err("%s", err);
		return EX_CONFIG;
	}
	if (check) {
		printf("%s: configuration is good\n", d.conf_path);
		config_free(&d.conf);
		return 0;
	}
	ret = setup(&d);
	if (!ret && apply_pool_settings(&d))
		ret = -EINVAL;
	if (!ret)
		ret = run(&d);
	control_close(&d);
	metrics_http_close(&d);
	balloon_close(&d);
	esxmem_vm_list_free(d.vms, d.nr_vms);
	esxmem_pool_info_free(d.pool);
	free(d.rho);
	overrides_clear(&d);
	reclaim_forget_failures(&d);
	vm_cache_free(&d);
	libvirt_close(&d);
	stock_balloons_free(&d);
	esxmem_events_close(d.events);
	module_watch_close(&d);
	esxmem_close(d.h);
	config_free(&d.conf);
	if (ret)
		log_err("stopped: %s", strerror(-ret));
	return ret ? 1 : 0;
}
