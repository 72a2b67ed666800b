#ifndef INTERIMAP_INTENT_H
#define INTERIMAP_INTENT_H

/* Which messages of a target mailbox are the copies an interrupted APPEND
 * made, from what was recorded before it was sent (db.h: struct
 * db_intent) and what the source says of the message now. Pure: no I/O;
 * interimap/msync_intent.c feeds it the rows, the source's messages and
 * the target's, and acts on the answer.
 *
 * Why the Message-ID comes from the source only now: a message (a UID
 * under a UIDVALIDITY) never changes, so asking the source after the
 * interruption gives what asking before would have, and the copies that
 * are never interrupted (nearly all) cost nothing more: the metadata
 * FETCH stays the size and date Dovecot reads from the file's name and
 * mtime, where the header would have it open every message once more.
 * A message gone from the source since is looked for no more: its copy
 * is then a new message of the target, as the reference has it.
 *
 * The rule. A row (a message being copied, the target's UIDNEXT as last
 * seen before) and a message of the target are the same when:
 * - the source still has the row's message, with the recorded size and
 *   INTERNALDATE;
 * - the target message's UID is at or above the row's UIDNEXT (the copy
 *   cannot be below: UIDs only grow), and it is in no pair (the caller
 *   leaves those out);
 * - RFC822.SIZE is the same, and INTERNALDATE is the same instant (we set
 *   it from the source's; servers may give it back in another zone);
 * - the Message-ID fields are the same (see intent_msgid()); a message
 *   without Message-ID (on both) matches by its flags instead, the ones
 *   the APPEND set, compared as lists (\Recent aside, ASCII case
 *   ignored): foreign deliveries rarely have any, and a user changing
 *   them in between only costs a copy more. An unusable Message-ID on
 *   either side (too long, NIL, streamed) matches nothing.
 * A pair is made only one-to-one: the row has exactly one such message
 * and that message is the same as no other row. Anything else (two
 * candidates: the same message twice in a batch, a foreign delivery that
 * looks the same) makes no pair: the message is copied again. A
 * duplicate is better than a wrong pair, which would lose a message on
 * both sides.
 *
 * Memory: intent_msg borrows its strings; intent_row borrows flags and
 * owns msgid (intent_row_free()). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "db.h"

/* Message-ID fields longer than this (after intent_msgid()'s folding)
 * are unusable rather than stored. */
#define INTENT_MSGID_MAX 1024

/* The value of a FETCH's BODY[HEADER.FIELDS (MESSAGE-ID)], len bytes at p
 * (the fields as the message has them, then an empty line): runs of
 * white space (CR and LF included: folding) become one space, the ends
 * trimmed. "" when the message has none; NULL when unusable: p NULL (NIL,
 * or a literal the engine streamed past), a NUL byte, or longer than
 * INTENT_MSGID_MAX. Allocated. */
char *intent_msgid(const char *p, size_t len);

/* A message of the target or the source, as a FETCH gave it. */
struct intent_msg {
	uint32_t uid;
	uint64_t size;
	time_t when;
	const char *flags;      /* normalised (the target's; NULL: not asked) */
	const char *msgid;      /* intent_msgid()'s; NULL unusable */
};

/* One recorded copy, being matched. */
struct intent_row {
	/* from the record */
	uint32_t suid, uidnext;
	uint64_t size;
	time_t when;
	bool dated;             /* its INTERNALDATE is one */
	const char *flags;      /* normalised */
	/* from the source, by intent_row_source() */
	bool seen;              /* the message is there, as recorded */
	char *msgid;            /* intent_msgid()'s: "" none, NULL unusable */
	/* matching, by intent_offer() */
	unsigned ncand;         /* messages the same as this row */
	uint32_t cand;          /* the first of them */
	bool shared;            /* one of them is the same as another row */
};

/* Fills r from x for matching (flags borrowed from x). */
void intent_row_init(struct intent_row *r, const struct db_intent *x);
void intent_row_free(struct intent_row *r);
/* The row of source UID suid in v[0..n), sorted by source UID, or
 * NULL. */
struct intent_row *intent_row_find(struct intent_row *v, size_t n,
    uint32_t suid);
/* The source's message of r as a FETCH gives it now (its UID r's): seen
 * when its size and INTERNALDATE are the recorded ones, with its
 * Message-ID fields (copied). Given twice: the last counts. */
void intent_row_source(struct intent_row *r, const struct intent_msg *m);
/* The rule above, for one row and one message. */
bool intent_same(const struct intent_row *r, const struct intent_msg *m);
/* Offers m to rows v[0..n): every row it is the same as counts it. A
 * message offered twice counts twice (and so is ambiguous). */
void intent_offer(struct intent_row *v, size_t n, const struct intent_msg *m);
/* Once every message was offered: the UID of r's copy, or 0 (none, or
 * not one-to-one). */
uint32_t intent_match(const struct intent_row *r);

/* Whether a row can still describe a copy the last run left in flight,
 * st being the database's states of its mailbox, cur the UIDVALIDITYs
 * the servers now give ([DB_LOCAL], [DB_REMOTE]; 0: not known), and
 * suid_mapped whether its source UID is in a pair already. Stale: a
 * UIDVALIDITY that is not both the database's and the server's (the
 * mailbox was recreated: the UIDs mean other messages), a source UID in
 * a pair, or a sync (ours or the Perl program's) that completed since:
 * both the source UID below the source's UIDNEXT in the database and
 * the row's UIDNEXT below the target's. (A new message's copy has its
 * source UID at or above the source's UIDNEXT until a sync completes;
 * a --repair's copy, of a message below it from the start, is told by
 * the target's UIDNEXT alone, which a sync moves once the copies, or
 * anything else, came there. A sync that found neither side changed
 * leaves a row valid: its copies never came, it finds none.) */
bool intent_valid(const struct db_intent *x, const struct db_state st[2],
    const uint32_t cur[2], bool suid_mapped);

#endif
