// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * "esxmemctl set --config" and "unset --config": a VM's settings written
 * into the configuration file itself, so that they outlast reloads and
 * restarts (as "virsh setmem --config" does for a domain's XML).
 *
 * The file is read as JSON, only "vms"."NAME" changes, and the whole is
 * written to a new file in the same directory, with the old one's mode and
 * owner, flushed to disk, then checked as the daemon would load it, and
 * only then renamed over the old one: a reader sees the old file or the
 * new one, never a part, and a change the configuration would refuse
 * changes nothing. Everything else in the file stays as it was (JSON
 * has no comments to lose; the layout becomes jansson's, two-space
 * indented, keys in their order).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esxmemd.h"

/* The file as JSON; an empty object when it does not exist. */
static json_t *read_json(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;

	if (access(path, F_OK) && errno == ENOENT)
		return json_object();
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		snprintf(err, errlen, "%s:%d:%d: %s: fix it first (esxmemd -t -c %s)", path,
			 jerr.line, jerr.column, jerr.text, path);
	else if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: is not a JSON object: fix it first", path);
		json_decref(root);
		root = NULL;
	}
	return root;
}

/* Writes @root to a new file next to @path; its name in @tmp. */
static int write_beside(const char *path, json_t *root, char *tmp, size_t tmplen,
			char *err, size_t errlen)
{
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	size_t len, done = 0;
	struct stat st;
	ssize_t n;
	int fd, ret = 0;

	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(tmp, tmplen, "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen,
			 "cannot write beside %s: %s (under systemd, the unit may write only in /etc/esxmem: ReadWritePaths= in a drop-in for another place)",
			 path, strerror(errno));
		free(text);
		return ret;
	}
	/* The new file is the old one's, as the administrator made it. */
	if (!stat(path, &st)) {
		if (fchmod(fd, st.st_mode & 07777) || fchown(fd, st.st_uid, st.st_gid))
			ret = -errno;
	} else if (fchmod(fd, 0644)) {
		ret = -errno;
	}
	len = strlen(text);
	text[len++] = '\n';	/* in place of the NUL */
	while (!ret && done < len) {
		n = write(fd, text + done, len - done);
		if (n < 0 && errno != EINTR)
			ret = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	free(text);
	if (ret) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-ret));
		unlink(tmp);
	}
	return ret;
}

/* The directory's entry is on disk too: the rename survives a crash. */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int config_edit_vm(const char *path, const char *name, json_t *set, json_t *unset,
		   struct config *fresh, char *err, size_t errlen)
{
	json_t *root = read_json(path, err, errlen), *vms, *vm, *key;
	char tmp[PATH_MAX], why[512];
	size_t i;
	int ret;

	if (!root)
		return -EINVAL;
	vms = json_object_get(root, "vms");
	if (!vms) {
		vms = json_object();
		json_object_set_new(root, "vms", vms);
	}
	vm = json_object_get(vms, name);
	if (!vm && set) {
		vm = json_object();
		json_object_set_new(vms, name, vm);
	}
	if (!json_is_object(vms) || (vm && !json_is_object(vm))) {
		snprintf(err, errlen, "%s: \"vms\" or \"vms\".\"%s\" is not an object: fix it first",
			 path, name);
		json_decref(root);
		return -EINVAL;
	}
	if (set)
		json_object_update(vm, set);
	json_array_foreach(unset, i, key)
		if (vm)
			json_object_del(vm, json_string_value(key));
	if (vm && !json_object_size(vm))
		json_object_del(vms, name);	/* the VM follows vm_defaults */
	ret = write_beside(path, root, tmp, sizeof(tmp), err, errlen);
	json_decref(root);
	if (ret)
		return ret;
	ret = config_load(tmp, fresh, why, sizeof(why));
	if (ret) {
		unlink(tmp);
		/* Its errors name the new file: say them of the change. */
		snprintf(err, errlen, "the configuration would be refused with this change: %s",
			 strstr(why, ": ") ? strstr(why, ": ") + 2 : why);
		return ret;
	}
	if (rename(tmp, path)) {
		ret = -errno;
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
		unlink(tmp);
		config_free(fresh);
		return ret;
	}
	sync_dir(path);
	return 0;
}
