#ifndef T_UNIT_ENGINEPAIR_H
#define T_UNIT_ENGINEPAIR_H

/* The engine (imapc.h) on one end of a Unix socket pair, for the tests
 * that play its server on the other end: the test itself between steps
 * (imapdrive.h, test_imap_xfer.c, test_imapc_stream.c), or a scripted
 * server in a thread (imapscript.h):
 *
 *	struct imapscript *s;
 *	struct imapc *e = engine_scripted(script, split, TMO, &s);
 *	... run e ...
 *	imapc_free(&e);
 *	engine_script_wait(s);
 */

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "conn_int.h" /* conn_new() for the client end of a socketpair */
#include "imapc.h"
#include "imapscript.h"
#include "test.h"

/* A new engine named "test" (timeout_ms for its connection) on an end of
 * a new socket pair, non-blocking as every conn_connect_*() leaves its fd;
 * the server's end in *sfd_r, non-blocking too when sfd_nonblock. Aborts
 * when the system refuses. */
static inline struct imapc *
engine_pair(int timeout_ms, bool sfd_nonblock, int *sfd_r)
{
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		abort();
	for (int i = sfd_nonblock ? 0 : 1; i < 2; i++)
		if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK)
		    < 0)
			abort();
	*sfd_r = fds[0];
	return imapc_new(conn_new(fds[1], "test", timeout_ms), "test");
}

/* The same, its server playing script in a thread (imapscript_start();
 * split: a byte a write), in *s_r. */
static inline struct imapc *
engine_scripted(const char *script, bool split, int timeout_ms,
    struct imapscript **s_r)
{
	int sfd;
	struct imapc *e = engine_pair(timeout_ms, false, &sfd);

	*s_r = imapscript_start(sfd, script, split);
	return e;
}

/* Waits for the script's end (imapscript_wait(): s is freed); one not
 * played as written fails the current test, reported at file:line (the
 * caller's, with engine_script_wait()). */
static inline void
engine_script_wait_at(struct imapscript *s, const char *file, int line)
{
	char msg[400];

	if (imapscript_wait(s, msg, sizeof(msg)) < 0)
		test_fail_at(file, line, msg);
}
#define engine_script_wait(s) engine_script_wait_at((s), __FILE__, __LINE__)

#endif
