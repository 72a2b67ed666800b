#ifndef PULLIMAP_PLOG_H
#define PULLIMAP_PLOG_H

/* pullimap's log lines, as the reference writes them: "SECTION: ..."
 * before a mailbox is selected, "SECTION(MAILBOX): ..." after. One
 * pullimap serves one section, so its identity is the program's: it
 * lives here, not in common/ (whose lines take their prefix from the
 * caller, log.h). */

#include "log.h"

/* Copies; NULL clears. plog_set_mailbox() keeps the section. */
void plog_set_section(const char *section);
void plog_set_mailbox(const char *mailbox);
/* "SECTION" or "SECTION(MAILBOX)", "" before plog_set_section(). Valid
 * until the next plog_set_*(). */
const char *plog_prefix(void);

#define plog_info(...) log_at(LOG_INFO, plog_prefix(), __VA_ARGS__)
#define plog_warnx(...) log_at(LOG_WARN, plog_prefix(), __VA_ARGS__)
#define plog_errorx(...) log_at(LOG_ERROR, plog_prefix(), __VA_ARGS__)
#define plog_debug(...) log_at(LOG_DEBUG, plog_prefix(), __VA_ARGS__)
#define plog_trace(dir, data, len) \
	log_trace_at(plog_prefix(), (dir), (data), (len))

#endif
