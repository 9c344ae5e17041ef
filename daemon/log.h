/* SPDX-License-Identifier: GPL-2.0-or-later */
/* esxmemd's log: lines on stderr, which journald takes under systemd. */
#ifndef ESXMEMD_LOG_H
#define ESXMEMD_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_init(bool debug);
bool log_debugging(void);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
