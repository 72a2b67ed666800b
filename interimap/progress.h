#ifndef INTERIMAP_PROGRESS_H
#define INTERIMAP_PROGRESS_H

/* A status line on the terminal while interimap syncs, for people who
 * watch a long first sync:
 *
 *   [12/20 mailboxes] 1,234 messages, 56.7 MB copied, 3.2 MB/s (INBOX +2)
 *
 * the mailboxes done of those to sync, the messages and bytes copied so
 * far (both ways, RFC822.SIZE of each message an APPEND stored), the
 * average rate since the first mailbox began, and the mailbox being
 * synced: the one under way the longest, and how many more are (several
 * pairs of sessions, lanes.h). It is not a log line: it sits below the
 * log, on stderr, drawn in place ("\r", the text, ESC [K), at most every
 * PROGRESS_INTERVAL_MS (and once more when the last mailbox is done),
 * cut to the terminal's width so that it never wraps. common/log.c's
 * lines go above it (log_set_stderr_hook: erased before each, drawn again
 * after), and it is erased for good by progress_stop() or at exit, so
 * that the screen ends holding exactly the lines a run without it prints.
 *
 * Every function but progress_start() does nothing while the line is off
 * (one test of a pointer): callers need not know whether it is on. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROGRESS_INTERVAL_MS 200

/* Turns the line on when show is true (the caller's say: not --quiet,
 * not --debug, whose lines would keep erasing it) and stderr is a
 * terminal that knows ESC [K (TERM set and not "dumb"); otherwise it
 * stays off and nothing is ever written. Nothing is drawn before the
 * first event below. */
void progress_start(bool show);

/* The number of mailboxes this run syncs; 0: not known (only those done
 * are shown). */
void progress_total(size_t n);

/* Mailbox name (UTF-8, copied) is being synced; progress_mailbox_done()
 * with the same name when it is over, synced or not. Several may be under
 * way at once. Characters the terminal would not print as such are shown
 * as '?'. */
void progress_mailbox(const char *name);
void progress_mailbox_done(const char *name);

/* n messages of bytes bytes in all were copied: their APPEND succeeded. */
void progress_copied(size_t n, uint64_t bytes);

/* Erases the line and turns it off for the rest of the run (a --watch's
 * rounds are short and its waits long: no line then). Also run at exit. */
void progress_stop(void);

#endif
