#ifndef COMMON_IMAPC_H
#define COMMON_IMAPC_H

/* The IMAP engine: one connection, several tagged commands in flight,
 * responses dispatched to the command they belong to, and a non-blocking
 * step so that one program can drive several connections at once (pull
 * one server's FETCH into the other's APPEND). Blocking wrappers
 * (imapc_run, imapc_sync) sit on top for code that wants them.
 *
 * Commands are struct imap_cmd (imap_cmd.h): built from typed pieces, sent
 * by the engine in submission order, literals as the server allows
 * (imapc_set_literal_mode): a synchronizing literal waits for the server's
 * "+" to *that* command, and a tagged refusal instead ends the command.
 *
 * Handlers are leaves: they may read the literal they were given
 * (imapc_literal_read) and submit commands on *another* engine, never on
 * the one that is calling them.
 *
 * All memory belongs to the caller unless stated otherwise; responses
 * passed to handlers are valid only during the call. */

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "imap_cmd.h"
#include "imap_parse.h"

struct conn;
struct imapc;

/* Per command; every member may be NULL.
 * untagged: offered each untagged data or status response while the
 *   command is in flight, commands in submission order: returns 1 when
 *   the response is the command's (no later command sees it), 0 when it
 *   is not, -1 with err to fail the command.
 * literal: offered each streamed literal (imap_parse.h) the same way, with
 *   the response so far and the list holding the literal; returns 1 when it
 *   took the literal (it may read it with imapc_literal_read(); the unread
 *   rest is skipped afterwards), 0 or -1 as above.
 * continuation: for commands that talk after sending (AUTHENTICATE, IDLE):
 *   a "+" while this command is the oldest in flight and is not waiting to
 *   send a literal; may queue a line with imapc_send_line(). 0 or -1.
 * done: exactly once: tagged is the tagged reply (OK, NO or BAD), or NULL
 *   when the connection was lost first; err is NULL on OK, else the
 *   failure: a handler's error (the first), the server's refusal
 *   (ERR_REFUSED, "NAME: VERB failed: NO [CODE] text"), or the loss.
 * After one handler of a command failed, none of its handlers but done is
 * called again; until its tagged reply, untagged data of the kind it took
 * last (e.g. FETCH) is taken as its own and dropped (neither later
 * commands nor the events see it: an unsolicited FETCH there would read
 * as another client's change); other responses go on as usual. */
struct imapc_handlers {
	int (*untagged)(void *ctx, const struct imap_resp *r, struct err *err);
	int (*literal)(void *ctx, const struct imap_resp *partial,
	    const struct imap_arg *container, size_t count, uint64_t size,
	    struct err *err);
	int (*continuation)(void *ctx, const struct imap_resp *r,
	    struct err *err);
	void (*done)(void *ctx, const struct imap_resp *tagged,
	    const struct err *err);
	void *ctx;
};

/* Connection-wide: untagged responses no command took (the greeting,
 * EXISTS, EXPUNGE, unsolicited FETCH, BYE...), after the engine's own
 * bookkeeping. May be NULL. */
typedef void imapc_event_fn(void *ctx, const struct imap_resp *r);

/* Takes conn (freed by imapc_free), on which the server's greeting has
 * not been read yet: nothing is sent before it arrives (it goes to the
 * events, and its capabilities set the literal mode). name is used in
 * messages. */
struct imapc *imapc_new(struct conn *conn, const char *name);
/* Frees; commands still in flight get done() with the loss first.
 * NULL-safe; sets *cp to NULL. */
void imapc_free(struct imapc **cp);

void imapc_set_events(struct imapc *c, imapc_event_fn *fn, void *ctx);
/* How literals are announced. By default the engine follows the server's
 * last capability list (greeting, CAPABILITY response or code): LITERAL+
 * -> IMAP_LIT_PLUS, LITERAL- -> IMAP_LIT_MINUS, else IMAP_LIT_SYNC; once
 * set here, the mode stays. */
void imapc_set_literal_mode(struct imapc *c, enum imap_lit_mode mode);
/* The server's last capability list has cap (case-insensitive). */
bool imapc_capable(const struct imapc *c, const char *cap);
/* Counts the capability lists received (greeting, CAPABILITY response or
 * code): did the login's reply bring a new one? */
unsigned imapc_caps_gen(const struct imapc *c);
/* Forgets the list (after STARTTLS: what came before may be forged). */
void imapc_caps_forget(struct imapc *c);

/* Queues cmd (taken; freed when done) under the next tag ("1", "2"...,
 * or "000000", "000001"... with ref_tags, see imapc_configure()).
 * h is copied. Returns the tag's number. Nothing is sent before the next
 * imapc_step(). Commands go out in submission order without waiting for
 * earlier replies, except after COMPRESS, STARTTLS, IDLE and
 * AUTHENTICATE: what follows them waits for their tagged reply (it goes
 * out compressed, or encrypted by the caller's conn_start_tls(); during
 * IDLE and AUTHENTICATE the server reads only continuation lines, which
 * imapc_send_line() still sends); after COMPRESS's OK the engine starts
 * compression itself. */
unsigned imapc_submit(struct imapc *c, struct imap_cmd *cmd,
    const struct imapc_handlers *h);
/* The same for a SELECT or EXAMINE of mailbox (copied; its name for
 * imapc_selected() and messages). */
unsigned imapc_submit_select(struct imapc *c, struct imap_cmd *cmd,
    const char *mailbox, const struct imapc_handlers *h);

/* The selected mailbox as the server described it. The state is reset
 * when the server starts answering a SELECT/EXAMINE (every command before
 * it is done), filled from the response codes and data it sends
 * (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, NOMODSEQ, READ-ONLY,
 * PERMANENTFLAGS, EXISTS), and kept up to date afterwards (EXISTS,
 * EXPUNGE, VANISHED without EARLIER). name is set by the SELECT's OK, and
 * NULL after a failed SELECT (RFC 3501 §6.3.1), UNSELECT or CLOSE. Valid
 * until the next step. */
struct imapc_mailbox {
	const char *name;
	uint32_t uidvalidity;     /* 0 until reported */
	uint32_t uidnext;         /* 0 when the server did not say */
	uint32_t exists;
	uint64_t highestmodseq;   /* 0 without CONDSTORE, or NOMODSEQ */
	bool nomodseq;
	bool permanent_keywords;  /* PERMANENTFLAGS has \* */
	bool read_only;
};
const struct imapc_mailbox *imapc_selected(const struct imapc *c);
/* How many EXISTS (with a new count), EXPUNGE and VANISHED responses came
 * since the last call or SELECT: did the mailbox change? */
unsigned imapc_take_changes(struct imapc *c);
/* Queues one line ("text\r\n") to send as soon as possible: the answer to
 * a continuation (AUTHENTICATE data, DONE). A secret line is traced as
 * "[REDACTED]" (but with --debug --debug) and zeroed once sent. */
void imapc_send_line(struct imapc *c, const char *text, bool secret);

/* Does what can be done without waiting: sends queued output, reads
 * what arrived, dispatches it. Returns 1 when something happened, 0 when
 * it would have to wait (poll imapc_fd() for imapc_events()), -1 with err
 * when the connection is unusable (lost, BYE, protocol error): every
 * command in flight has had done() with that error. A handler reading a
 * literal with imapc_literal_read() may wait inside a step. */
int imapc_step(struct imapc *c, struct err *err);
int imapc_fd(const struct imapc *c);
short imapc_events(const struct imapc *c);
/* True when a step would make progress without polling (input buffered
 * above the fd). */
bool imapc_ready(const struct imapc *c);
size_t imapc_in_flight(const struct imapc *c);
/* False once lost, after BYE, or after a protocol error. */
bool imapc_usable(const struct imapc *c);

/* Gives the connection up, e.g. from a handler when the rest of a long
 * FETCH is no longer wanted: nothing more is read or sent, every command
 * in flight gets done() at the next step (with its handler's error if one
 * failed, else "NAME: connection abandoned", ERR_TEMP). Only
 * imapc_free() is left to do. */
void imapc_abandon(struct imapc *c);
/* The transport, for what the engine does not do itself: STARTTLS's
 * handshake, keepalive, statistics. */
struct conn *imapc_conn(const struct imapc *c);
/* The name given to imapc_new(). */
const char *imapc_name(const struct imapc *c);
/* What the connection's log lines start with (log.h): the program's
 * identity for it ("local(INBOX)", "SECTION(MAILBOX)"); copied, NULL for
 * none (the default). The protocol trace starts with it too (see enum
 * imapc_trace_style). */
void imapc_set_log_prefix(struct imapc *c, const char *prefix);
const char *imapc_log_prefix(const struct imapc *c);
/* The prefix the trace lines of the commands submitted from now on go
 * under (copied; NULL, the default: the connection's when they go out),
 * e.g. for a command sent while a SELECT is in flight, traced as a
 * program waiting for its OK would trace it. */
void imapc_set_submit_prefix(struct imapc *c, const char *prefix);

/* How the --debug trace (log_debug_level > 0) of a connection reads.
 * PARSED (pullimap's): "PREFIX: NAME: C: TAG COMMAND", literals as
 *   "{N}[...]" and secrets (LOGIN's, AUTHENTICATE's) as "[REDACTED]"
 *   unless --debug --debug; "PREFIX: NAME: S: RESPONSE" as
 *   imap_trace_format() writes it.
 * WIRE (the reference Net::IMAP::InterIMAP's, interimap's): "PREFIXC: LINE"
 *   and "PREFIXS: LINE", the prefix as log_at() writes it, each line as it
 *   went over the connection (decompressed; literals left out, the line
 *   after one beginning with "[...]": imap_trace.h). With --debug once,
 *   LOGIN and AUTHENTICATE read "C: xxx LOGIN [REDACTED]" or "C: xxx
 *   AUTHENTICATE MECH [REDACTED]", and nothing of their exchange follows
 *   but a tagged OK, as "S: xxx OK ..."; with --debug twice they go as the
 *   rest. */
enum imapc_trace_style {
	IMAPC_TRACE_PARSED,
	IMAPC_TRACE_WIRE,
};

/* A program's choices for one engine. All zero: no log prefix, the PARSED
 * trace, tags "1", "2"... */
struct imapc_opts {
	const char *log_prefix;         /* imapc_set_log_prefix() */
	enum imapc_trace_style trace;
	bool ref_tags;                  /* tags "000000", "000001"... as the
	                                 * reference's */
};
/* Applies o (NULL: nothing). Before the first imapc_submit(): tags are
 * not renumbered. */
void imapc_configure(struct imapc *c, const struct imapc_opts *o);

/* Waits until one of cs (at most 16) can make progress, at most
 * timeout_ms (< 0: no limit), with sigwait_poll(): called between
 * sigwait_block() and sigwait_unblock(), after testing the flags, a signal
 * ends the wait at once whenever it comes (sigwait.h). Returns 1 (some
 * engine is ready), 0 (timeout or signal), -1 with err. */
int imapc_wait(struct imapc *const *cs, size_t n, int timeout_ms,
    struct err *err);

/* Submits cmd and steps and waits until it is done (timeout_ms per wait
 * without progress, < 0: none), the whole exchange bounded by a budget
 * (conn.h: the timeout plus 1 s per KiB moved) and cut short by a stop
 * request while the connection is interruptible (conn_set_interrupt()).
 * Returns 0 on OK, -1 with the err done() got (ERR_REFUSED for NO/BAD,
 * see struct imapc_handlers), or ERR_TEMP on a timeout, "too slow" or an
 * interruption: then the connection is unusable. h may be NULL; its done
 * is called too. Earlier commands in flight are driven along. */
int imapc_run(struct imapc *c, struct imap_cmd *cmd,
    const struct imapc_handlers *h, int timeout_ms, struct err *err);
/* Steps and waits until nothing is in flight, as imapc_run() waits. 0,
 * or -1 with err when the connection failed or a wait timed out. */
int imapc_sync(struct imapc *c, int timeout_ms, struct err *err);

/* Several engines at once: steps cs[0..n) (at most 16) and waits on them
 * with imapc_wait(), timeout_ms per wait without progress (< 0: none), a
 * stop request ending the wait as imapc_run()'s do, until *done is true,
 * or (done NULL) until none of them has a command in flight. No budget
 * (conn.h): each wait is bounded, the whole exchange is not. Returns 0;
 * or -1 with err when one of them failed first (its commands have had
 * done() with the error; the others' may still be in flight, see
 * imapc_cancel()), or a wait timed out or was interrupted (then nothing
 * failed: every command is still in flight). */
int imapc_drive(struct imapc *const *cs, size_t n, const bool *done,
    int timeout_ms, struct err *err);
/* Gives the connection up (imapc_abandon()) and ends every command in
 * flight at once, calling their done() with "NAME: connection
 * abandoned" (or the failure that came first): nothing of the caller's
 * is referenced by the engine after this. Only imapc_free() is left. */
void imapc_cancel(struct imapc *c);

/* Steps and waits, as imapc_run(), until *flag is true (set by a handler:
 * a continuation that arrived, a greeting). 0, or -1 with err. */
int imapc_run_until(struct imapc *c, const bool *flag, int timeout_ms,
    struct err *err);
/* Why the connection is unusable (imapc_usable() false): the loss, the
 * server's BYE text, the protocol error. */
const struct err *imapc_failure(const struct imapc *c);

/* Inside a literal handler: reads up to n bytes of the literal, waiting
 * for them (up to the connection's timeout): >0, 0 at its end, -1 with
 * err (lost, timeout). */
ssize_t imapc_literal_read(struct imapc *c, char *buf, size_t n,
    struct err *err);

/* Two engines, one program: a literal on A streamed into a command on B.
 *
 * Who may call what. While A's literal handler runs (and only then, the
 * bytes being those of the literal it was offered):
 * - the handler may read them with imapc_literal_read() (waits) or
 *   imapc_literal_read_nb() (never waits);
 * - it may submit to, step and imapc_wait() on other engines (B), whose
 *   handlers and literal sources run inside those calls: a source of B may
 *   read A's literal with imapc_literal_read_nb();
 * - it never steps, runs or syncs A itself. It may include A in an
 *   imapc_wait(): A then asks only for the literal's input (its queued
 *   commands wait until the handler returns).
 * Other handlers of A follow the rules at the top; a literal is read from
 * its literal handler only (the engine skips what is left when that
 * returns).
 *
 * Sources that would block. A streamed literal's source (imap_cmd.h) may
 * return IMAP_SOURCE_AGAIN: the command then stays where it is (later
 * commands never overtake it), imapc_events() stops asking POLLOUT for it
 * as long as nothing else is queued (no busy loop), and every
 * imapc_step() calls the source again. The program steps B again once
 * the source may have data, typically after imapc_wait() on A and B said
 * so. Nothing but the program ends such a wait: a source that never has
 * data blocks the command (and those after it) forever, and a command
 * whose literal was partly sent cannot be cancelled: free the engine.
 * A server may refuse a command before it was all sent (Dovecot answers
 * an APPEND to a missing mailbox at its first literal, LITERAL+ or not):
 * its done() gets the refusal (ERR_REFUSED, the server's words), and,
 * since the rest of it can no longer go out, the connection is unusable
 * (every command in flight fails with that error). */

/* Inside A's literal handler, from anywhere (typically B's source): up to
 * n bytes of the literal that are buffered now, or read without waiting
 * (one conn_fill_nb()). Returns >0, 0 at the literal's end,
 * IMAP_SOURCE_AGAIN when no byte is there now (poll imapc_fd(A) for
 * imapc_events(A)), -1 with err when A is lost (then unusable: A's step
 * fails every command once the handler returns) or when called outside a
 * literal handler of c (ERR_INTERNAL). */
ssize_t imapc_literal_read_nb(struct imapc *c, char *buf, size_t n,
    struct err *err);

#endif
