// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * esxmemd's log. Under systemd (JOURNAL_STREAM set) each line starts with
 * the "<N>" level prefix journald understands; elsewhere with the level's
 * name, for people reading a terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static bool debugging;
static bool journal;

void log_init(bool debug)
{
	debugging = debug;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

bool log_debugging(void)
{
	return debugging;
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *const names[] = {
		[LOG_ERR] = "error: ", [LOG_WARNING] = "warning: ",
		[LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	va_list ap;

	if (level == LOG_DEBUG && !debugging)
		return;
	if (journal)
		fprintf(stderr, "<%d>", level);
	else if (level <= LOG_DEBUG && names[level])
		fputs(names[level], stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
