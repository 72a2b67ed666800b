#ifndef COMMON_IMAP_XFER_H
#define COMMON_IMAP_XFER_H

/* Copying messages from one server to another without holding them: one
 * batch is one FETCH on the source and one APPEND on the destination (a
 * MULTIAPPEND, RFC 3502, when the batch has several messages), both in
 * flight at once on two engines (imapc.h):
 *
 *   src: UID FETCH uids (BODY.PEEK[])
 *   dst: APPEND mailbox (flags) "date" {size+} ... (flags) "date" {size+}
 *
 * The APPEND announces each message's size before its bytes, so the sizes
 * come first, from a metadata FETCH the caller made (RFC822.SIZE). Each
 * literal of the APPEND is pulled from the source's FETCH as it arrives:
 * its source returns IMAP_SOURCE_AGAIN until the FETCH offers that
 * message; the FETCH's literal handler then makes it the current message
 * and steps the destination until its writer took every byte. Messages of
 * up to the parser's inline limit (64 KiB) arrive whole in the FETCH
 * response and are fed from there. Memory does not grow with the size of
 * a message: its bytes pass through the engines' fixed buffers.
 *
 * An APPEND whose literals started cannot be cancelled: on a failure
 * during the batch (the source's FETCH fails, delivers another message
 * than the next one listed, or a size that differs from the announced
 * one) the destination engine is cancelled (imapc_cancel()): its server
 * discards the half-received command, and the caller must drop that
 * connection. The source is drained (its FETCH driven to its end) when it
 * still can be, cancelled otherwise.
 *
 * Memory: everything belongs to the caller; nothing handed in is kept
 * after imap_xfer_run() returns. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "imap_parse.h"
#include "uidlist.h"

struct imapc;

/* One message of a batch. */
struct imap_xfer_msg {
	uint32_t uid;              /* on the source */
	uint64_t size;             /* RFC822.SIZE: what the APPEND announces */
	/* For the APPEND: the flags as the source gave them (\Recent, in any
	 * case, is dropped: RFC 3501 §2.3.2, the server's to set), always
	 * sent as a list, "()" when empty; a flag that is no atom is refused
	 * (ERR_REFUSED) before anything is sent. */
	const char *const *flags;
	size_t nflags;
	/* The INTERNALDATE as the source's FETCH gave it, or NULL. */
	const char *internaldate;
};

struct imap_xfer {
	struct imapc *src, *dst;
	/* The destination mailbox, in wire form (imap_cmd_mailbox_wire()). */
	const char *mailbox;
	int timeout_ms;            /* per wait without progress */
	/* Untagged responses on src (resp. dst) that are not the copy's own
	 * (unsolicited FETCH, VANISHED, EXISTS...) while its commands are in
	 * flight: offered here, with the contract of an untagged handler
	 * (imapc.h: 1 taken, 0 not, -1 with err to fail the copy). NULL: not
	 * taken. */
	int (*src_untagged)(void *ctx, const struct imap_resp *r,
	    struct err *err);
	int (*dst_untagged)(void *ctx, const struct imap_resp *r,
	    struct err *err);
	void *ctx;
	/* Called with the destination's tagged reply (OK) before
	 * imap_xfer_run() returns, e.g. for its other response codes; may be
	 * NULL. */
	void (*dst_tagged)(void *ctx, const struct imap_resp *tagged);
};

/* Copies msgs[0..n) from src's selected mailbox to x->mailbox on dst with
 * ONE APPEND (n >= 1; n > 1 needs MULTIAPPEND, the caller's to check).
 * msgs must be in ascending UID order: the order the server answers a UID
 * FETCH in, and the order of the APPEND. Commands already in flight on
 * either engine are driven along. Returns 0 with *uidvalidity_r and uids
 * (which must come in empty) from the reply's [APPENDUID] (RFC 4315), or
 * *uidvalidity_r 0 and uids empty when it had none; -1 with err: the
 * destination's refusal (ERR_REFUSED, the server's words), a refused flag
 * or date (ERR_REFUSED, nothing sent), a malformed APPENDUID or one
 * counting another number of UIDs (ERR_PROTO), the source's failure, a
 * message missing from the FETCH, a size mismatch (ERR_PROTO), a timeout
 * or a stop request (ERR_TEMP). After -1, dst is unusable whenever the
 * APPEND was still in flight (see above). */
int imap_xfer_run(const struct imap_xfer *x, const struct imap_xfer_msg *msgs,
    size_t n, uint32_t *uidvalidity_r, struct uidset *uids, struct err *err);

/* imap_xfer_run() in halves, so that the batches of a copy follow one
 * another without a pause: imap_xfer_start() builds and submits the
 * batch's FETCH and APPEND and returns at once, NULL with err when
 * nothing could be sent (a refused flag or date); the copy goes on
 * whenever the caller drives both engines (imapc_drive(), until
 * *imap_xfer_done_flag() is true: both commands done, or the batch
 * failed). msgs, x's strings and its ctx are borrowed until the batch is
 * finished.
 *
 * after: the batch of the same copy started before (NULL: none). This
 * one's APPEND then holds back its very last byte until the caller
 * releases it (imap_xfer_go(), once after's outcome is recorded; at the
 * latest imap_xfer_finish() of this one): a server never carries out a
 * command it did not wholly receive, so that when after fails, or the
 * program dies before recording it, this one has copied nothing (give it
 * up with imap_xfer_abort()): no more copies are ever made without being
 * recorded than one batch, as when batches go one at a time. Its FETCH
 * goes once after's FETCH ended (a server may interleave the responses
 * of two FETCHes, the APPENDs take the messages in order):
 * imap_xfer_finish(after) sends it. Everything else (the bodies but one
 * byte, kept in memory) flows meanwhile. Batches are finished in the
 * order they were started.
 *
 * imap_xfer_finish() drives both engines until the batch is done and
 * returns as imap_xfer_run() does (uids must come in empty); it frees
 * the batch and sets *bp to NULL. imap_xfer_abort() gives a batch up at
 * once: the destination engine is cancelled (imapc_cancel(): the caller
 * drops that connection), the source drained or cancelled, the batch
 * freed; NULL-safe. */
struct imap_xfer_batch;
struct imap_xfer_batch *imap_xfer_start(const struct imap_xfer *x,
    const struct imap_xfer_msg *msgs, size_t n,
    struct imap_xfer_batch *after, struct err *err);
const bool *imap_xfer_done_flag(const struct imap_xfer_batch *b);
void imap_xfer_go(struct imap_xfer_batch *b);
int imap_xfer_finish(struct imap_xfer_batch **bp, uint32_t *uidvalidity_r,
    struct uidset *uids, struct err *err);
void imap_xfer_abort(struct imap_xfer_batch **bp);

#endif
