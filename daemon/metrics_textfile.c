// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The metrics for node_exporter's textfile collector: each balance the
 * text goes to a temporary file beside the configured one, which is then
 * renamed over it, so node_exporter reads either the old figures or the
 * new ones, never half of them. The temporary name does not end in
 * ".prom": node_exporter never reads it. A failure is logged once, until
 * it changes or writing works again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esxmemd.h"
#include "log.h"

static int write_all(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

static int replace_file(const char *path, const char *text, size_t len)
{
	char tmp[sizeof(((struct config_metrics *)0)->textfile) + 16];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Readable by node_exporter, which need not run as root. */
	err = fchmod(fd, 0644) ? -errno : write_all(fd, text, len);
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

void metrics_textfile_write(struct daemon *d, const char *text, size_t len)
{
	const char *path = d->conf.metrics.textfile;
	int err;

	if (!path[0])
		return;
	err = replace_file(path, text, len);
	if (err && err != d->metrics_textfile_err)
		log_err("metrics: cannot write %s: %s (is its directory there and writable?); trying again each balance",
			path, strerror(-err));
	else if (!err && d->metrics_textfile_err)
		log_info("metrics: %s is written again", path);
	d->metrics_textfile_err = err;
}
