// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * VM discovery: every memory object the module reports is a VM. Its name
 * is the object's own if set, else the one on its VMM's command line
 * (QEMU's "-name guest=NAME" or "-name NAME"), else "vm<ID>"; its shares,
 * min, max and domain come from the configuration (or a runtime override);
 * and it is attached to its KVM VM, taken from the VMM with pidfd_getfd(),
 * so that the module can translate guest frame numbers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "esxmemd.h"
#include "log.h"

const struct config_vm *vm_settings(const struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nr_overrides; i++)
		if (!strcmp(d->overrides[i].name, name))
			return &d->overrides[i].vm;
	return config_vm_find(&d->conf, name);
}

static bool name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || len >= ESXMEM_VM_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * The VM name in a NUL-separated command line: the value after "-name" or
 * "--name", its "guest=" key if it has keys, up to the first comma.
 */
int vm_name_from_cmdline(const char *cmdline, size_t len, char *name,
			 size_t size)
{
	const char *p = cmdline, *end = cmdline + len, *arg, *stop;

	while (p < end) {
		arg = p;
		p += strnlen(p, (size_t)(end - p)) + 1;
		if (strcmp(arg, "-name") && strcmp(arg, "--name"))
			continue;
		if (p >= end)
			return -ENOENT;
		arg = p;
		stop = arg + strnlen(arg, (size_t)(end - arg));
		if (!strncmp(arg, "guest=", 6))
			arg += 6;
		else if (strchr(arg, '=') && strchr(arg, '=') < (strchr(arg, ',') ?: stop))
			return -ENOENT;	/* keys, but no guest= first */
		stop = memchr(arg, ',', (size_t)(stop - arg)) ?: stop;
		if (!name_ok(arg, (size_t)(stop - arg)) || (size_t)(stop - arg) >= size)
			return -EINVAL;
		memcpy(name, arg, (size_t)(stop - arg));
		name[stop - arg] = '\0';
		return 0;
	}
	return -ENOENT;
}

/*
 * A guest CID: not 0 (the hypervisor's), 2 (the host's) nor -1 (any). 1
 * is the local one: a host that is its own guest over vsock_loopback.
 */
static int cid_ok(unsigned long long v, uint32_t *cid)
{
	if (v == 0 || v == 2 || v >= UINT32_MAX)
		return -EINVAL;
	*cid = (uint32_t)v;
	return 0;
}

/* "guest-cid=N" as a key of QEMU's keyval form "driver,key=value,...". */
static int cid_from_keyval(const char *arg, uint32_t *cid)
{
	const char *p = arg, *key = "guest-cid=";
	unsigned long long v;
	char *end;

	while ((p = strstr(p, key))) {
		/* A whole key: "xguest-cid=" is another one. */
		if (p == arg || p[-1] == ',') {
			p += strlen(key);
			errno = 0;
			v = strtoull(p, &end, 10);
			if (end == p || (*end && *end != ',') || errno || *p == '-' || *p == '+')
				return -EINVAL;
			return cid_ok(v, cid);
		}
		p += strlen(key);
	}
	return -ENOENT;
}

/* "guest-cid": N (or "N") in the JSON form libvirt writes. */
static int cid_from_json(const char *arg, uint32_t *cid)
{
	json_t *dev = json_loads(arg, JSON_REJECT_DUPLICATES, NULL), *v;
	unsigned long long n;
	const char *s;
	char *end;
	int err = -ENOENT;

	v = json_object_get(dev, "guest-cid");
	if (!dev || !json_is_object(dev))
		err = -EINVAL;
	else if (json_is_integer(v))
		err = json_integer_value(v) < 0 ? -EINVAL :
		      cid_ok((unsigned long long)json_integer_value(v), cid);
	else if (json_is_string(v)) {
		s = json_string_value(v);
		errno = 0;
		n = strtoull(s, &end, 10);
		err = !*s || *end || errno || *s == '-' || *s == '+' ? -EINVAL : cid_ok(n, cid);
	} else if (v)
		err = -EINVAL;
	json_decref(dev);
	return err;
}

/*
 * The guest CID of the vsock device on a NUL-separated command line: a
 * "-device" whose value is QEMU's keyval form with "guest-cid=N" (as
 * "vhost-vsock-pci,guest-cid=3") or a JSON object with "guest-cid"
 * (libvirt's "{"driver":"vhost-vsock-pci",...,"guest-cid":3}").
 */
int vm_cid_from_cmdline(const char *cmdline, size_t len, uint32_t *cid)
{
	const char *p = cmdline, *end = cmdline + len, *arg;
	uint32_t found = 0, c;
	int err;

	while (p < end) {
		arg = p;
		p += strnlen(p, (size_t)(end - p)) + 1;
		if (strcmp(arg, "-device") && strcmp(arg, "--device"))
			continue;
		if (p >= end)
			break;
		arg = p;
		p += strnlen(p, (size_t)(end - p)) + 1;
		if (p > end)
			return -EINVAL;	/* cut short: not NUL-terminated */
		err = arg[0] == '{' ? cid_from_json(arg, &c) : cid_from_keyval(arg, &c);
		if (err == -ENOENT)
			continue;
		if (err)
			return err;
		/* Two vsock devices with different CIDs: which one is it? */
		if (found && found != c)
			return -EEXIST;
		found = c;
	}
	if (!found)
		return -ENOENT;
	*cid = found;
	return 0;
}

/* QEMU's command line, NUL-separated, NUL-terminated, in @buf. */
int read_cmdline(pid_t pid, char *buf, size_t size, size_t *len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/* The VM of @all[0..@n) other than @vm that has the name @name, or NULL. */
static const struct esxmem_vm_info *named(struct esxmem_vm_info *const *all, size_t n,
					  const struct esxmem_vm_info *vm, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (esxmem_vm_id(all[i]) != esxmem_vm_id(vm) &&
		    !strcmp(esxmem_vm_name(all[i]), name))
			return all[i];
	return NULL;
}

/* The process that created @vm's memory object: its VMM. */
static pid_t vmm_pid(const struct esxmem_vm_info *vm)
{
	return (pid_t)esxmem_vm_value(vm, ESXMEM_VM_OWNER_PID);
}

/*
 * A name is given once: a VMM that claims the name of a VM already named
 * (another user's QEMU with "-name guest=prod-db") gets "vm<ID>" instead,
 * and with it the default settings, not the other VM's.
 */
static int name_vm(struct daemon *d, struct esxmem_vm_info *vm,
		   struct esxmem_vm_info *const *all, size_t n)
{
	char name[ESXMEM_VM_NAME_MAX];
	struct esxmem_vm_settings s = { .set = ESXMEM_VM_SET_NAME, .name = name };
	const struct esxmem_vm_info *other;
	uint32_t id = esxmem_vm_id(vm);
	char cmdline[8192];
	size_t len = 0;
	int err;

	if (!vmm_pid(vm) || read_cmdline(vmm_pid(vm), cmdline, sizeof(cmdline), &len) ||
	    vm_name_from_cmdline(cmdline, len, name, sizeof(name)))
		snprintf(name, sizeof(name), "vm%u", id);
	other = named(all, n, vm, name);
	if (other) {
		log_warn("VM %u (process %d) claims the name %s of VM %u (process %d): refused, it is vm%u with the default settings; give each VM a name of its own",
			 id, (int)vmm_pid(vm), name, esxmem_vm_id(other), (int)vmm_pid(other), id);
		snprintf(name, sizeof(name), "vm%u", id);
	}
	err = esxmem_vm_update(d->h, vm, &s);
	if (err) {
		log_warn("VM %u: cannot set its name %s: %s %s", id, name,
			 esxmem_strerror(err), esxmem_errmsg(d->h));
		return err;
	}
	log_info("VM %u (process %d) is %s", id, (int)vmm_pid(vm), esxmem_vm_name(vm));
	return 0;
}

/* What the configuration asks of @vm, in the module's units. */
static void wanted(const struct daemon *d, const struct esxmem_vm_info *vm,
		   struct esxmem_vm_settings *s)
{
	const struct config_vm *c = vm_settings(d, esxmem_vm_name(vm));
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t size = esxmem_vm_value(vm, ESXMEM_VM_SIZE_PAGES);

	memset(s, 0, sizeof(*s));
	s->shares = config_vm_shares(c, size * page);
	s->max_pages = c->max_bytes ? c->max_bytes / page : size;
	if (size && s->max_pages > size)
		s->max_pages = size;
	s->min_pages = vm_min_refused(d, esxmem_vm_id(vm)) ? 0 : c->min_bytes / page;
	if (s->min_pages > s->max_pages)
		s->min_pages = s->max_pages;
	s->domain = c->domain;
	if (s->shares != esxmem_vm_value(vm, ESXMEM_VM_SHARES))
		s->set |= ESXMEM_VM_SET_SHARES;
	if (s->min_pages != esxmem_vm_value(vm, ESXMEM_VM_MIN_PAGES) ||
	    s->max_pages != esxmem_vm_value(vm, ESXMEM_VM_MAX_PAGES))
		s->set |= ESXMEM_VM_SET_MIN_PAGES | ESXMEM_VM_SET_MAX_PAGES;
	if (s->domain != esxmem_vm_value(vm, ESXMEM_VM_DOMAIN))
		s->set |= ESXMEM_VM_SET_DOMAIN;
}

static int configure_vm(struct daemon *d, struct esxmem_vm_info *vm)
{
	struct esxmem_vm_settings s;
	int err;

	wanted(d, vm, &s);
	if (!s.set)
		return 0;
	err = esxmem_vm_update(d->h, vm, &s);
	if (err) {
		log_warn("VM %s: cannot apply its settings: %s %s", esxmem_vm_name(vm),
			 esxmem_strerror(err), esxmem_errmsg(d->h));
		return err;
	}
	log_debug("VM %s: shares %u, min %llu, max %llu pages, domain %u", esxmem_vm_name(vm),
		  s.shares, (unsigned long long)s.min_pages,
		  (unsigned long long)s.max_pages, s.domain);
	return 0;
}

/* A process's fds looked at between two answers to guests' balloons. */
#define FDS_BETWEEN_SERVES	128

/*
 * The one "anon_inode:kvm-vm" fd of process @pid, or -ENOENT / -EEXIST. A
 * process may hold thousands of fds, each a readlink() to look at.
 */
static int find_kvm_fd(struct daemon *d, pid_t pid)
{
	char dir[64], path[64 + sizeof(((struct dirent *)0)->d_name)], target[64];
	struct dirent *de;
	int found = -ENOENT;
	unsigned int seen = 0;
	ssize_t n;
	DIR *fds;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	fds = opendir(dir);
	if (!fds)
		return -errno;
	while ((de = readdir(fds))) {
		if (de->d_name[0] == '.')
			continue;
		if (++seen % FDS_BETWEEN_SERVES == 0)
			serve_balloons(d);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:kvm-vm"))
			continue;
		/* Two KVM VMs in one process: which is this object's? */
		found = found >= 0 ? -EEXIST : atoi(de->d_name);
		if (found == -EEXIST)
			break;
	}
	closedir(fds);
	return found;
}

/*
 * Whether process @pid has a KVM vCPU mapped (its kvm_run area,
 * "anon_inode:kvm-vcpu:N" in its maps), or it cannot be told: a VMM runs
 * a KVM VM through vCPUs, which QEMU makes with the VM. One read of the
 * maps spares a search of its fds, a readlink() each, in a process with
 * no KVM VM (a QEMU without KVM, a program holding memory objects), which
 * is searched again at each retry and may hold thousands of fds.
 */
static bool has_kvm_vcpu(pid_t pid)
{
	static const char mark[] = "anon_inode:kvm-vcpu";
	char path[64], buf[8192];
	size_t have = 0, keep;
	bool found = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	while (!found && (n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		have += (size_t)n;
		buf[have] = '\0';
		found = strstr(buf, mark) != NULL;
		/* The mark may straddle two reads. */
		keep = have < sizeof(mark) - 1 ? have : sizeof(mark) - 1;
		memmove(buf, buf + have - keep, keep);
		have = keep;
	}
	close(fd);
	return found || n < 0;
}

/*
 * find_kvm_fd() of process @pid, once per balance: a process that holds
 * many VMs' memory (or many other files) is searched once for all of them.
 */
static int kvm_fd_of(struct daemon *d, pid_t pid)
{
	static uint64_t balance = UINT64_MAX;
	static pid_t last;
	static int found;

	if (balance != d->balances || last != pid) {
		balance = d->balances;
		last = pid;
		found = has_kvm_vcpu(pid) ? find_kvm_fd(d, pid) : -ENOENT;
	}
	return found;
}

/* Tries to attach a VM without its KVM VM again after 1, 2, 4... up to this many balances. */
#define ATTACH_RETRY_MAX	64

/* @c: the VM's record, which paces the retries (NULL: no pacing). */
static int attach_vm(struct daemon *d, struct esxmem_vm_info *vm, struct vm_cache *c)
{
	pid_t pid = vmm_pid(vm);
	int remote, pidfd, fd, err;

	if (c && d->balances < c->attach_at)
		return -EAGAIN;
	remote = kvm_fd_of(d, pid);
	if (remote < 0) {
		/* QEMU makes the KVM VM after guest RAM: try again, less and less often. */
		log_debug("VM %s: no single KVM VM in process %d yet (%s)", esxmem_vm_name(vm),
			  (int)pid, strerror(-remote));
		if (c) {
			c->attach_at = d->balances + (c->attach_gap ? c->attach_gap : 1);
			c->attach_gap = c->attach_gap ? 2 * c->attach_gap : 2;
			if (c->attach_gap > ATTACH_RETRY_MAX)
				c->attach_gap = ATTACH_RETRY_MAX;
		}
		return remote;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, remote, 0);
	err = fd < 0 ? -errno : esxmem_kvm_attach(d->h, esxmem_vm_id(vm), fd);
	if (fd >= 0)
		close(fd);
	close(pidfd);
	if (err) {
		log_warn("VM %s: cannot attach to its KVM VM: %s %s", esxmem_vm_name(vm),
			 esxmem_strerror(err), fd < 0 ? "" : esxmem_errmsg(d->h));
		return err;
	}
	log_info("VM %s attached to the KVM VM of process %d", esxmem_vm_name(vm), (int)pid);
	/*
	 * Read it again: attached, with its guest RAM, which the balloon
	 * server sizes a session by. If that fails, the next balance reads it.
	 */
	esxmem_vm_refresh(d->h, vm);
	return 0;
}

/*
 * Names, configures and attaches @vm, one of @all[0..@n), as far as it
 * can now; @c is its record (vm_cache.c).
 */
int discover_vm(struct daemon *d, struct esxmem_vm_info *vm,
		struct esxmem_vm_info *const *all, size_t n, struct vm_cache *c)
{
	int err = 0;

	if (!esxmem_vm_name(vm)[0])
		err = name_vm(d, vm, all, n);
	if (!err)
		err = configure_vm(d, vm);
	if (!esxmem_vm_kvm_attached(vm) && vmm_pid(vm))
		attach_vm(d, vm, c);
	return err;
}
