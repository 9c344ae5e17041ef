/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Debian's libvirtd with its QEMU driver in the test host, set up as the
 * README says (memory_backing_dir on an esxmemfs mount, the domain XML),
 * plus what a test host without cgroups, namespaces or a log daemon needs;
 * and domains defined from that XML and started with "virsh start". For
 * esxmemd_libvirt and the demo's libvirt scenario alike.
 *
 * libvirt_setup() mounts esxmemfs on LIBVIRT_RAMDIR and writes libvirt's
 * configuration; libvirt_start_daemon() starts libvirtd and waits until it
 * answers; libvirt_start_domain() defines and starts a domain. At exit
 * (registered by libvirt_setup()) the started domains are destroyed,
 * libvirtd stopped and esxmemfs unmounted.
 */
#ifndef ESXMEM_TESTS_LIBVIRT_HOST_H
#define ESXMEM_TESTS_LIBVIRT_HOST_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esxtest.h"
#include "vmtest.h"

#define LIBVIRT_RAMDIR		"/run/esxmem"
#define LIBVIRTD_LOG		"/tmp/libvirtd.log"
#define LIBVIRTD_OUT		"/tmp/libvirtd.out"
#define VIRSH			"virsh -c qemu:///system "
#define LIBVIRT_WAIT_SECS	180.0
#define LIBVIRT_MAX_DOMAINS	4

/* The README's qemu.conf line, then the test host's own needs. */
static const char libvirt_qemu_conf[] =
	"memory_backing_dir = \"/run/esxmem\"\n"
	"# The test host: root, no cgroups, namespaces, security driver or virtlogd.\n"
	"user = \"root\"\n"
	"group = \"root\"\n"
	"dynamic_ownership = 0\n"
	"remember_owner = 0\n"
	"security_driver = \"none\"\n"
	"cgroup_controllers = [ ]\n"
	"namespaces = [ ]\n"
	"stdio_handler = \"file\"\n";

static const char libvirtd_conf[] =
	"log_outputs = \"3:file:" LIBVIRTD_LOG "\"\n";

/*
 * The README's domain XML with a test's guest: name, memory, guest
 * kernel, the vsock CID, and the balloon ("none" or "virtio").
 */
static const char libvirt_domain_xml[] =
	"<domain type='kvm'>\n"
	"  <name>%s</name>\n"
	"  <memory unit='MiB'>%u</memory>\n"
	"  <vcpu>1</vcpu>\n"
	"  <os>\n"
	"    <type arch='x86_64' machine='pc'>hvm</type>\n"
	"    <kernel>/guest/vmlinuz</kernel>\n"
	"    <initrd>/guest/initrd.cpio</initrd>\n"
	"    <cmdline>console=ttyS0 panic=-1 %s</cmdline>\n"
	"  </os>\n"
	"  <cpu mode='host-passthrough'/>\n"
	"  <memoryBacking>\n"
	"    <source type='file'/>\n"
	"    <access mode='shared'/>\n"
	"  </memoryBacking>\n"
	"  <on_poweroff>destroy</on_poweroff>\n"
	"  <on_reboot>destroy</on_reboot>\n"
	"  <on_crash>destroy</on_crash>\n"
	"  <devices>\n"
	"    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
	"    <controller type='usb' model='none'/>\n"
	"    <serial type='file'><source path='/tmp/%s.console'/></serial>\n"
	"    <memballoon model='%s'/>\n"
	"    <vsock model='virtio'><cid auto='no' address='%u'/></vsock>\n"
	"  </devices>\n"
	"</domain>\n";

/* A domain: what the caller gives, and what libvirt_start_domain() sets. */
struct libvirt_domain {
	const char *name;
	unsigned int mib;
	const char *work;	/* the guest's kernel arguments (guest-init's guest.*) */
	const char *balloon;	/* <memballoon model=...>: "none" or "virtio" */
	unsigned int cid;	/* its vsock CID */
	/* Set by libvirt_start_domain(). */
	char console[64];
	bool started;
};

static struct libvirt_domain *libvirt_domains[LIBVIRT_MAX_DOMAINS];
static size_t libvirt_nr_domains;
static pid_t libvirtd_pid = -1, libvirt_main_pid;

/* Runs the shell command made of @fmt; its exit status, -1 if it did not run. */
static inline int libvirt_run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st < 0 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static inline void libvirt_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f && fputs(text, f) >= 0 && !fclose(f), "write %s", path);
}

static inline bool libvirtd_alive(void)
{
	return libvirtd_pid > 0 && waitpid(libvirtd_pid, NULL, WNOHANG) == 0;
}

/* libvirtd's output and log, on stderr. */
static inline void libvirt_show_logs(void)
{
	esx_show_tail(LIBVIRTD_OUT, "libvirtd's output", 2048);
	esx_show_tail(LIBVIRTD_LOG, "libvirtd's log", 4096);
}

/* Destroys the domains started, stops libvirtd, unmounts esxmemfs. */
static inline void libvirt_cleanup(void)
{
	size_t i;

	if (getpid() != libvirt_main_pid)
		return;
	for (i = 0; i < libvirt_nr_domains; i++)
		if (libvirt_domains[i]->started)
			libvirt_run(VIRSH "destroy %s >/dev/null 2>&1", libvirt_domains[i]->name);
	if (libvirtd_pid > 0) {
		kill(libvirtd_pid, SIGTERM);
		waitpid(libvirtd_pid, NULL, 0);
	}
	umount(LIBVIRT_RAMDIR);
}

/* esxmemfs on LIBVIRT_RAMDIR and libvirt's configuration; cleaned up at exit. */
static inline void libvirt_setup(void)
{
	libvirt_main_pid = getpid();
	atexit(libvirt_cleanup);
	REQUIRE(!libvirt_run("mkdir -p " LIBVIRT_RAMDIR " /etc/libvirt /var/lib/libvirt/qemu "
			     "/var/cache/libvirt/qemu /var/log/libvirt/qemu /run/libvirt && "
			     /* libvirtd listens in /run, virsh looks in /var/run: one, as on Debian. */
			     "{ [ -e /var/run ] || ln -s /run /var/run; }"),
		"libvirt's directories and " LIBVIRT_RAMDIR);
	REQUIRE(!mount("esxmem", LIBVIRT_RAMDIR, "esxmem", 0, NULL), "mount esxmemfs: %s",
		strerror(errno));
	/* libvirt's QEMU driver resolves its default user, Debian's libvirt-qemu, at start. */
	REQUIRE(!libvirt_run("grep -q ^libvirt-qemu: /etc/passwd || "
			     "{ echo libvirt-qemu:x:64055:64055::/var/lib/libvirt:/bin/false >> /etc/passwd && "
			     "echo libvirt-qemu:x:64055: >> /etc/group; }"), "add the user libvirt-qemu");
	libvirt_write_file("/etc/libvirt/qemu.conf", libvirt_qemu_conf);
	libvirt_write_file("/etc/libvirt/libvirtd.conf", libvirtd_conf);
}

/*
 * Starts libvirtd and waits until virsh gets its capabilities (QEMU
 * probed); fails the program, with libvirtd's logs, if it does not come up.
 */
static inline void libvirt_start_daemon(void)
{
	libvirtd_pid = fork();
	REQUIRE(libvirtd_pid >= 0, "fork");
	if (!libvirtd_pid) {
		int fd = open(LIBVIRTD_OUT, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/usr/sbin/libvirtd", "libvirtd", (char *)NULL);
		dprintf(2, "cannot run libvirtd: %s\n", strerror(errno));
		_exit(127);
	}
	if (!ESX_WAIT_FOR(!libvirt_run(VIRSH "capabilities > /tmp/virsh.out 2>&1") ||
			  !libvirtd_alive(), LIBVIRT_WAIT_SECS) || !libvirtd_alive()) {
		esx_show_tail("/tmp/virsh.out", "virsh", 2048);
		libvirt_show_logs();
		REQUIRE(0, "libvirtd did not come up");
	}
}

/*
 * Defines @d from the domain XML and starts it with "virsh start"; fails
 * the program, with virsh's and libvirtd's words, if either fails.
 */
static inline void libvirt_start_domain(struct libvirt_domain *d)
{
	char xml[2048], path[64];

	REQUIRE(libvirt_nr_domains < LIBVIRT_MAX_DOMAINS, "too many domains");
	libvirt_domains[libvirt_nr_domains++] = d;
	snprintf(d->console, sizeof(d->console), "/tmp/%s.console", d->name);
	snprintf(xml, sizeof(xml), libvirt_domain_xml, d->name, d->mib, d->work, d->name,
		 d->balloon, d->cid);
	snprintf(path, sizeof(path), "/tmp/%s.xml", d->name);
	libvirt_write_file(path, xml);
	if (libvirt_run(VIRSH "define %s > /tmp/virsh.out 2>&1", path) ||
	    libvirt_run(VIRSH "start %s > /tmp/virsh.out 2>&1", d->name)) {
		esx_show_tail("/tmp/virsh.out", "virsh", 2048);
		libvirt_show_logs();
		REQUIRE(0, "virsh could not define and start %s", d->name);
	}
	d->started = true;
}

/* "virsh destroy": whether it succeeded. */
static inline bool libvirt_destroy_domain(struct libvirt_domain *d)
{
	bool ok = !libvirt_run(VIRSH "destroy %s > /tmp/virsh.out 2>&1", d->name);

	d->started = false;
	return ok;
}

/*
 * The number after @key on a line of what "virsh @cmd @name" prints, or
 * -1: "virsh dommemstat NAME" has lines "actual 131072" (KiB), "virsh
 * dominfo NAME" lines "Used memory:    131072 KiB".
 */
static inline int64_t libvirt_virsh_value(const char *cmd, const char *name, const char *key)
{
	char line[256];
	long long v, found = -1;
	FILE *f;

	if (libvirt_run(VIRSH "%s %s > /tmp/virsh-value.out 2>&1", cmd, name))
		return -1;
	f = fopen("/tmp/virsh-value.out", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strlen(key);

		if (strncmp(line, key, strlen(key)))
			continue;
		p += strspn(p, ": \t");
		if (sscanf(p, "%lld", &v) == 1)
			found = v;
	}
	fclose(f);
	return found;
}

#endif
