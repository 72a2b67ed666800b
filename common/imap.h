#ifndef COMMON_IMAP_H
#define COMMON_IMAP_H

/* A synchronous IMAP4rev1 client: connect (tunnel, imap + STARTTLS, imaps),
 * authenticate, and run tagged commands while dispatching the untagged
 * responses they provoke. Shared by pullimap and interimap.
 *
 * Callbacks are leaves: they record what they see and return; they never
 * send commands on the client they are called from.
 *
 * All memory belongs to the caller unless stated otherwise. Responses passed
 * to callbacks are valid only during the call. */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "imap_parse.h"

struct imap_opts;
struct imap_client;

/* Connects as configured, reads the greeting, upgrades with STARTTLS when
 * required, authenticates (the first mechanism of o->auth the server offers;
 * LOGIN means the LOGIN command), refreshes the capabilities, and enables
 * COMPRESS=DEFLATE when configured and offered. name is used in messages.
 * Returns NULL with err on failure: ERR_TEMP (network), ERR_AUTH (login
 * refused, or password-command failed), ERR_REFUSED (TLS refused, STARTTLS
 * missing, PREAUTH on a plaintext connection), ERR_PROTO (not an IMAP
 * server), ERR_SYS (password-command could not be started). */
struct imap_client *imap_connect(const struct imap_opts *o, int timeout_ms,
    struct err *err);
/* Starts COMPRESS=DEFLATE (RFC 4978) when configured (compress = YES) and
 * offered, once per connection; a no-op otherwise. Call it before a command
 * that transfers much: a session with nothing to fetch saves the round trip
 * and both sides' deflate state. A refusal is a warning, not an error.
 * Returns -1 with err only when the connection is lost (ERR_TEMP). */
int imap_compress(struct imap_client *c, struct err *err);
/* Sends LOGOUT if the connection is usable (errors ignored), closes, frees,
 * and sets *cp to NULL. NULL-safe. */
void imap_close(struct imap_client **cp);

/* Gives up the connection from inside a handler, e.g. when the rest of a
 * long FETCH is no longer wanted: nothing more is read, the command in
 * progress fails at once (with the handler's err if it failed, else
 * ERR_TEMP), and the connection is only good for imap_close(), which then
 * sends no LOGOUT. */
void imap_abandon(struct imap_client *c);
/* False once the connection broke, was abandoned, or the server said BYE. */
bool imap_usable(const struct imap_client *c);

/* Capability advertised (case-insensitive, e.g. "QRESYNC", "AUTH=PLAIN"). */
bool imap_capable(const struct imap_client *c, const char *cap);

/* Untagged response handler: return 0 to go on, -1 (with err) to fail the
 * command once its tagged response has arrived. */
typedef int imap_untagged_fn(void *ctx, const struct imap_resp *r,
    struct err *err);

/* Handler for a literal too large to keep in memory (a message body).
 * partial is the response so far, container the list holding the literal,
 * whose last element is the item it belongs to (e.g. BODY[]). The handler
 * may read the literal with imap_literal_read(); the unread rest is
 * discarded afterwards. Return 0 to go on or -1 (with err) to fail the
 * command; the responses that follow are then drained and ignored until the
 * tagged response, so that the connection stays usable. */
typedef int imap_literal_fn(void *ctx, const struct imap_resp *partial,
    const struct imap_arg *container, size_t count, uint64_t size,
    struct err *err);

/* Reads up to n bytes of the literal being streamed: >0, 0 at its end, -1
 * on error (connection lost). */
ssize_t imap_literal_read(struct imap_client *c, char *buf, size_t n,
    struct err *err);

/* Runs one command (the text after the tag, printf-formatted) and waits for
 * its tagged response, the whole exchange bounded by a budget (conn.h:
 * the network timeout plus 1 s per KiB moved; "too slow" is ERR_TEMP). Untagged responses go to the client's own bookkeeping
 * (CAPABILITY, EXISTS, BYE, response codes) and then to fn (may be NULL);
 * large literals to lit_fn (may be NULL: discarded).
 * Returns 0 on OK; -1 with err on NO/BAD (ERR_REFUSED: "NAME: VERB [in
 * mailbox "BOX"] failed: NO [CODE] text", the command named by its verb
 * only, never its arguments, and the selected mailbox), on a handler
 * failure, or on connection trouble (ERR_TEMP). */
int imap_run(struct imap_client *c, imap_untagged_fn *fn,
    imap_literal_fn *lit_fn, void *ctx, struct err *err, const char *fmt,
    ...) ATTR_PRINTF(6, 7);

/* Appends s to b as an IMAP astring/string argument: an atom when possible,
 * else a quoted string, else a literal (which imap_run() sends correctly:
 * non-synchronizing when LITERAL+ is offered). Mailbox names are passed
 * through unchanged (modified UTF-7 is the user's business, as in the
 * reference). Returns an allocated string; caller frees. */
char *imap_quote(const char *s);

/* State of the selected mailbox, kept up to date from untagged responses. */
struct imap_mailbox {
	uint32_t uidvalidity;
	uint32_t uidnext;       /* 0 when the server did not say */
	uint32_t exists;
	uint64_t highestmodseq; /* 0 without CONDSTORE */
	bool permanent_keywords; /* PERMANENTFLAGS contains \* */
	bool read_only;
};

/* ENABLE extensions (e.g. "QRESYNC") when advertised; no-op otherwise. */
int imap_enable(struct imap_client *c, const char *ext, struct err *err);
/* imap_enable() then imap_select() in one round trip: ENABLE goes out
 * without waiting for its reply (the server runs commands in the order
 * received, RFC 3501 §5.5). Fails when either fails, with ENABLE's error
 * first. */
int imap_enable_select(struct imap_client *c, const char *ext,
    const char *mailbox, bool read_only, struct err *err);
/* SELECT (or EXAMINE when read_only). */
int imap_select(struct imap_client *c, const char *mailbox, bool read_only,
    struct err *err);
const struct imap_mailbox *imap_selected(const struct imap_client *c);
/* Number of EXISTS / VANISHED / EXPUNGE responses seen since the last call
 * (tells whether something changed). */
unsigned imap_take_changes(struct imap_client *c);

/* IDLE (RFC 2177). imap_idle_start() sends IDLE and returns once the
 * server accepted it ("+"). imap_idle_wait() then waits up to timeout_ms
 * for the server to report a change (EXISTS, EXPUNGE, VANISHED: returns 1),
 * or returns 0 on timeout, when *wake became non-zero, or when the server
 * ended the IDLE itself; -1 on error (connection lost, BYE). *wake is set
 * by the handler of a signal installed with sigwait_install(): such a
 * signal ends the wait at once, whenever it arrives (sigwait.h).
 * imap_idle_done() sends DONE and waits for the tagged response (also
 * fine after the server ended it). */
int imap_idle_start(struct imap_client *c, struct err *err);
int imap_idle_wait(struct imap_client *c, int timeout_ms,
    const volatile sig_atomic_t *wake, struct err *err);
int imap_idle_done(struct imap_client *c, struct err *err);

/* Enables TCP keepalive on the connection (no-op for tunnels). */
void imap_keepalive(struct imap_client *c);

/* The --debug trace of a response, one line in IMAP syntax: quoted
 * strings re-quoted ('"' and '\\' escaped), so that what was valid on the
 * wire reads valid; literals held in memory as {N} and their text quoted
 * the same way (so that it stays on the line), streamed ones (message
 * bodies) as {N}[...]; strings longer than 200 bytes cut, marked "...".
 * Control bytes are left to the log functions, which escape them.
 * Allocated; caller frees. */
char *imap_trace_format(const struct imap_resp *r);

/* Server identity for messages: "HOST:PORT", "tunnel". */
const char *imap_name(const struct imap_client *c);

#endif
