#ifndef INTERIMAP_SIDE_H
#define INTERIMAP_SIDE_H

/* One side of interimap ("local" or "remote"): its IMAP session, as the
 * reference opens and uses it.
 *
 * Opening (side_connect, side_open): the login (connection, greeting,
 * STARTTLS, authentication), COMPRESS=DEFLATE when the side's `compress`
 * says so (iconf.h: NO for local, YES for remote by default), `ENABLE
 * QRESYNC` checked against the server's ENABLED reply (RFC 5161 §3.1:
 * the tagged OK proves nothing), then the capabilities interimap cannot
 * do without.
 * The reference's words and ways (notes-interimap.md §4.2):
 *   no ENABLE      fail "Server did not advertise ENABLE (RFC 5161)
 *                  capability." (status 1, the side's prefix)
 *   no QRESYNC     fail "Server did not advertise QRESYNC capability."
 *   not enabled    fail "Couldn't ENABLE QRESYNC"
 *   no LIST-EXTENDED, UIDPLUS, or LIST-STATUS (unless --notify)
 *                  die "Non X-capable IMAP server." (no prefix)
 *
 * Log lines: the engine is named after the side, so that its protocol
 * trace (--debug) reads "local: C: 000001 LIST ..." as the reference's
 * does, and its errors "local: ..." (ierr_wrap() drops that start when
 * the side is the line's prefix anyway). The engine's own log prefix
 * stays unset: it would come before the name ("local: local: C: ...").
 * The side's messages ("Created mailbox X") carry the log-prefix
 * format's rendering of the side's name and the mailbox set with
 * side_set_mailbox(), as the reference's client does with the selected
 * mailbox.
 *
 * Closing: the traffic summary "local: IMAP traffic (bytes): recv 2.09K
 * sent 678" unless -q (side_summary()), then side_drop(): no LOGOUT, as
 * the reference (it shuts the socket down): LOGOUT would cost a round
 * trip per side and per run and tell the server nothing it does not learn
 * from the end of the stream.
 *
 * All memory belongs to the struct side; the configuration it points to
 * is borrowed and must outlive it. */

#include <stdbool.h>
#include <stddef.h>

#include "ierr.h"
#include "iconf.h"
#include "imapc.h"

/* Every wait on a server: the reference's socket timeout (30 s). The
 * end-to-end tests lower it (main.c reads INTERIMAP_TIMEOUT_MS, a test
 * knob left out of the documentation on purpose) so that a frozen
 * network costs them seconds, not minutes. */
extern int side_timeout_ms;
#define SIDE_TIMEOUT_MS side_timeout_ms

struct side {
	const char *name;              /* "local" or "remote" (static) */
	const struct iconf_side *conf; /* borrowed: options, list-reference */
	struct imapc *imap;            /* the session; NULL when closed */
	/* The hierarchy delimiter, set by mlist_list() (mlist.h): */
	bool delim_known;
	char delim;                    /* '\0' (DB_DELIM_NIL): flat */
	char *mailbox;                 /* for the prefix, or NULL */
	/* The last refusal side_run() or side_result() returned 1 for: "NO
	 * [CODE] text", as the reference quotes it. */
	char refusal[512];
	/* Why side_wait() gave up the commands in flight (or why side_run()
	 * failed), and a flag for its cancellation. */
	struct err broke;
	bool cancelling;
	/* Traffic of other sessions to the same server (side_absorb()):
	 * in, out, wire in, wire out. */
	unsigned long long absorbed[4];
};

/* A command of the side run alongside others (side_start()); its
 * outcome is side_result()'s. Members are private. */
struct side_cmd {
	struct side *s;
	struct imapc_handlers h;  /* the caller's, copied */
	bool done, ok, refused, handler_failed, cancelled;
	struct err err;
	char refusal[512];
};

/* Zeroes s and sets name and conf. */
void side_init(struct side *s, const char *name,
    const struct iconf_side *conf);

/* Opens the session as described at the top; notify: --notify (then
 * LIST-STATUS is not needed). 0, or -1 with ie. */
int side_connect(struct side *s, bool notify, struct ierr *ie);
/* The same for s[0..n) (n <= 2: local, remote) at once: each connection
 * is made in turn (TCP waits; a tunnel's command starts and makes its way
 * meanwhile; a TLS handshake is started and goes on with the rest), then
 * the handshakes, greetings, logins, COMPRESS and ENABLE of both are in
 * flight together. The outcome is the reference's,
 * which opens the local side first: a local failure is the one reported,
 * and the remote session is then dropped without a word (no traffic
 * line: the reference never opened it); else the remote one's.
 * hooks: may be NULL, see below. */
struct side_open_hooks {
	/* Once, as soon as every connection is under way (a failure to
	 * start one included) and the logins that what already came
	 * allows are sent, before the first wait on a server: work that
	 * needs no server then costs no time of its own (main.c: the
	 * status snapshot). */
	void (*meanwhile)(void *arg);
	/* As s[k] has logged in, its COMPRESS and ENABLE sent: commands
	 * started then (side_start()) follow them at once, before the
	 * replies and whatever the other side is at (main.c: the LISTs,
	 * mlist_list_early()). side_open() returns only once they are done
	 * or cancelled; their outcomes are the caller's to read, after the
	 * opening's. */
	void (*logged_in)(void *arg, struct side *s, size_t k);
	void *arg;
};
int side_open(struct side *const *s, size_t n, bool notify,
    const struct side_open_hooks *hooks, struct ierr *ie);

/* Runs cmd (taken) on the session, waiting for its end (SIDE_TIMEOUT_MS
 * without progress). h may be NULL; its handlers are called as the
 * engine calls them (imapc.h). Returns 0 on OK; 1 when the server said
 * NO or BAD (s->refusal); -1 with ie when a handler failed or the
 * connection did (fail, the side's prefix). */
int side_run(struct side *s, struct imap_cmd *cmd,
    const struct imapc_handlers *h, struct ierr *ie);

/* Both sides at once (what does not depend on the other side's answer:
 * the logins, the two LISTs, CREATEs...). side_start() submits cmd
 * (taken) on the session without waiting; q, the caller's, records its
 * outcome and must stay in place until side_wait() returned; h (copied,
 * may be NULL) as side_run()'s, its ctx the caller's to keep as long.
 * side_wait() drives the sessions of s[0..n) (n <= 2) until none has a
 * command in flight, SIDE_TIMEOUT_MS per wait without progress: 0; or -1
 * when a connection failed, or a wait timed out or was interrupted:
 * whatever was still in flight is then cancelled (the connection
 * unusable). Either way each command's outcome is then
 * side_result()'s, as side_run() returns it: 0 OK; 1 the server said NO
 * or BAD (s->refusal); -1 with ie (the failure, the side's prefix). The
 * caller reads the outcomes in the order the reference would have met
 * them (local first): the first failure it meets is the one to report. */
void side_start(struct side *s, struct imap_cmd *cmd,
    const struct imapc_handlers *h, struct side_cmd *q);
int side_wait(struct side *const *s, size_t n);
int side_result(struct side_cmd *q, struct ierr *ie);
/* side_wait() until q is done (the others may still be in flight). */
int side_wait_for(struct side *const *s, size_t n, const struct side_cmd *q);

/* The mailbox the side's lines are about (copied; NULL: none). */
void side_set_mailbox(struct side *s, const char *mailbox);
/* The side's log prefix (ilog.h), with that mailbox; valid until the
 * next call of ilog_prefix(). */
const char *side_prefix(const struct side *s);

/* The reference's client verbs on a mailbox given in wire form (the name
 * the server listed, or mlist_wire()'s): the command, then on OK the
 * reference's line at LOG_INFO (not with -q):
 *   side_create     "Created mailbox X"; a refusal is a warning
 *                   "Couldn't create mailbox X: NO ..." (returns 0: the
 *                   reference's "try")
 *   side_delete     "Deleted mailbox X"; refusal: fail "Couldn't delete
 *                   mailbox X: NO ..."
 *   side_rename     "Renamed mailbox X to Y"; refusal: fail "Couldn't
 *                   rename mailbox X: NO ..."
 *   side_subscribe  "Subscribe to X" / "Unsubscribe to X" (sic); refusal:
 *                   fail "Couldn't subscribe to X: ..." / "Couldn't
 *                   unsubscribe to X: ..."
 * 0, or -1 with ie. */
int side_create(struct side *s, const char *mailbox, struct ierr *ie);
int side_delete(struct side *s, const char *mailbox, struct ierr *ie);
int side_rename(struct side *s, const char *from, const char *to,
    struct ierr *ie);
int side_subscribe(struct side *s, const char *mailbox, bool subscribe,
    struct ierr *ie);

/* side_create() and side_subscribe() in two halves, for commands sent
 * ahead: *_start() submits (side_start()), *_end() reads q's outcome
 * once it is done (side_wait()) and logs or fails as side_create() and
 * side_subscribe() do. */
void side_create_start(struct side *s, const char *mailbox,
    struct side_cmd *q);
int side_create_end(struct side_cmd *q, const char *mailbox,
    struct ierr *ie);
void side_subscribe_start(struct side *s, const char *mailbox,
    bool subscribe, struct side_cmd *q);
int side_subscribe_end(struct side_cmd *q, const char *mailbox,
    bool subscribe, struct ierr *ie);

/* The summary line's text after the prefix, the reference's:
 * "IMAP traffic (bytes): recv IN sent OUT", each count as an integer
 * below 1024, else "%.2fK", "%.2fM", "%.2fG" (powers of 1024); with
 * compressed, each non-zero count is followed by " (compr. WIRE, factor
 * F)", F = WIRE / COUNT as "%.2f". Returns buf (truncated to size). */
char *side_traffic_format(char *buf, size_t size, unsigned long long in,
    unsigned long long wire_in, unsigned long long out,
    unsigned long long wire_out, bool compressed);

/* Logs the traffic summary (LOG_INFO: not with -q) of an open side;
 * nothing for an unopened one. The session stays open. */
void side_summary(struct side *s);
/* Adds the traffic of from's session (and what it absorbed) to the
 * summary of into's: another session to the same server, about to be
 * dropped (lanes.h). */
void side_absorb(struct side *into, const struct side *from);
/* Frees the session (the connection closed, without LOGOUT) and the
 * rest of s: at the end of a run, and when a --watch reconnects (the side
 * can be opened again with side_connect()). NULL-safe on an unopened
 * side. */
void side_drop(struct side *s);

#endif
