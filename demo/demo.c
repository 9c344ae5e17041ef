// SPDX-License-Identifier: GPL-2.0
/* The demo scenarios' common setting: see demo.h. */
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "esxtest.h"
#include "vmtest.h"
#include "demo.h"

#define MAX_GUESTS	8
#define FIRST_CID	3	/* 0-2 are reserved; 2 is the host */

/* The module's settings esxmemd or a scenario changes, put back at exit. */
static const char *const saved_knobs[] = {
	"pool_pages", "state_high_permille", "state_soft_permille",
	"state_hard_permille", "state_low_permille", "share/enabled",
	"share/scan_time_secs", "share/max_cpu_percent", "share/break_large",
	"large_pages",
	"sample/period_secs", "sample/pages",
};
static char saved_values[sizeof(saved_knobs) / sizeof(saved_knobs[0])][32];

static struct demo_guest *guests[MAX_GUESTS];
static size_t nr_guests;
static pid_t daemon_pid, main_pid;
static double start_time;
static bool passed;

int demo_done(void)
{
	passed = true;
	return 0;
}

static void demo_end(void)
{
	size_t i;

	if (getpid() != main_pid)
		return;
	if (!passed)
		esx_show_tail(DEMO_LOG, "esxmemd's log", 6000);
	for (i = 0; i < nr_guests; i++)
		if (guests[i]->pid > 0) {
			kill(guests[i]->pid, SIGKILL);
			waitpid(guests[i]->pid, NULL, 0);
		}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	umount(DEMO_RAMDIR);
	/* Lower thresholds first: they must stay ordered at every write. */
	for (i = sizeof(saved_knobs) / sizeof(saved_knobs[0]); i-- > 0;)
		esx_sysfs_write(saved_knobs[i], saved_values[i]);
	for (i = 0; i < sizeof(saved_knobs) / sizeof(saved_knobs[0]); i++)
		esx_sysfs_write(saved_knobs[i], saved_values[i]);
}

static void write_conf(const char *conf)
{
	FILE *f = fopen(DEMO_CONF, "w");

	REQUIRE(f && fputs(conf, f) >= 0 && !fclose(f), "cannot write " DEMO_CONF);
}

double demo_clock(void)
{
	return esx_now() - start_time;
}

void demo_begin(const char *conf)
{
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	start_time = esx_now();
	main_pid = getpid();
	for (i = 0; i < sizeof(saved_knobs) / sizeof(saved_knobs[0]); i++)
		esx_sysfs_choice(saved_knobs[i], saved_values[i], sizeof(saved_values[i]));
	atexit(demo_end);
	REQUIRE_OK(esx_sysfs_write("share/enabled", "1"));
	/*
	 * A scenario has minutes, not ESX's hour: every guest is scanned in
	 * 15 s, and the emulated test host's scanner may take what that costs.
	 */
	REQUIRE_OK(esx_sysfs_write("share/scan_time_secs", "15"));
	/* Guests share in the high state too, large pages broken for it. */
	REQUIRE_OK(esx_sysfs_write("share/break_large", "always"));
	REQUIRE_OK(esx_sysfs_write("share/max_cpu_percent", "100"));
	REQUIRE_OK(esx_load_vsock(false));
	REQUIRE(!mkdir(DEMO_RAMDIR, 0700) || errno == EEXIST, "mkdir " DEMO_RAMDIR);
	REQUIRE(!mount("esxmem", DEMO_RAMDIR, "esxmem", 0, NULL), "mount esxmemfs: %s",
		strerror(errno));
	write_conf(conf);
	daemon_pid = esx_start_esxmemd(DEMO_CONF, DEMO_LOG, false);
	REQUIRE(daemon_pid > 0, "fork");
	/* Guests discovered before the daemon listens would wait a period. */
	REQUIRE(ESX_WAIT_FOR(!access(DEMO_SOCKET, F_OK), 10), "esxmemd did not start");
}

/* Runs esxmemctl with @cmd; its output as the viewer's lines. */
static int esxmemctl(const char *cmd)
{
	char line[256], command[128];
	FILE *p;

	snprintf(command, sizeof(command), "/usr/bin/esxmemctl -s " DEMO_SOCKET " %s 2>&1", cmd);
	p = popen(command, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p))
		printf("demo:   %s", line);
	return pclose(p) ? -EIO : 0;
}

void demo_reload(const char *conf)
{
	write_conf(conf);
	REQUIRE_OK(esxmemctl("reload"));
}

void demo_show_status(void)
{
	esxmemctl("status");
}

void demo_start_guest(struct demo_guest *g)
{
	char append[160], name[64], vsock[48];
	const char *extra[] = { "-name", name, "-device", vsock, NULL };

	REQUIRE(nr_guests < MAX_GUESTS, "too many guests");
	g->cid = FIRST_CID + nr_guests;
	guests[nr_guests++] = g;
	snprintf(g->console, sizeof(g->console), "/tmp/%s.console", g->name);
	snprintf(append, sizeof(append), "guest.work=balloon%s%s",
		 g->memwork ? " guest.memwork=" : "", g->memwork ? g->memwork : "");
	snprintf(name, sizeof(name), "guest=%s", g->name);
	snprintf(vsock, sizeof(vsock), "vhost-vsock-pci,guest-cid=%u", g->cid);
	g->pid = esx_start_guest(g->mib, append, DEMO_RAMDIR, g->console, extra);
	REQUIRE(g->pid >= 0, "fork");
}

bool demo_console_has(const struct demo_guest *g, const char *text)
{
	return esx_file_has(g->console, text);
}

void demo_check_guests(struct demo_guest *g, size_t n)
{
	static const char *const trouble[] = {
		"Kernel panic", "Out of memory", "GUEST-BALLOON-FAIL", "MEMWORK: cannot",
	};
	size_t i, k;

	for (i = 0; i < n; i++) {
		bool dead = waitpid(g[i].pid, NULL, WNOHANG) != 0;

		for (k = 0; k < sizeof(trouble) / sizeof(trouble[0]); k++)
			if (dead || demo_console_has(&g[i], trouble[k])) {
				char title[64];

				snprintf(title, sizeof(title), "%s's console", g[i].name);
				esx_show_tail(g[i].console, title, 3000);
				REQUIRE(false, "guest %s %s", g[i].name,
					dead ? "died" : trouble[k]);
			}
	}
}

void demo_wait_consoles(struct demo_guest *g, size_t n, const char *text, double secs)
{
	double end = esx_now() + secs;
	size_t i;

	for (i = 0; i < n; i++) {
		while (!demo_console_has(&g[i], text)) {
			demo_check_guests(g, n);
			if (esx_now() > end) {
				esx_show_tail(g[i].console, g[i].name, 3000);
				REQUIRE(false, "guest %s did not show \"%s\" within %.0f s",
					g[i].name, text, secs);
			}
			usleep(200000);
		}
	}
}

void demo_read_vms(struct esxmem *nl, const struct demo_guest *g, size_t n,
		   struct esxmem_vm_info **out)
{
	struct esxmem_vm_info **vms = NULL;
	size_t nr_vms = 0, i, k;

	for (i = 0; i < n; i++) {
		esxmem_vm_info_free(out[i]);
		out[i] = NULL;
	}
	if (esxmem_vm_list(nl, &vms, &nr_vms))
		return;
	for (i = 0; i < n; i++)
		for (k = 0; k < nr_vms; k++)
			if (vms[k] && !strcmp(esxmem_vm_name(vms[k]), g[i].name)) {
				out[i] = vms[k];
				vms[k] = NULL;	/* out[] owns it now */
				break;
			}
	esxmem_vm_list_free(vms, nr_vms);
}
