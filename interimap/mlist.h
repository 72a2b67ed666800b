#ifndef INTERIMAP_MLIST_H
#define INTERIMAP_MLIST_H

/* The mailbox lists of both sides, as the reference reads and reconciles
 * them (notes-interimap.md §4.3, §4.4).
 *
 * Names. On the wire a mailbox name is the side's list-reference followed
 * by the name with that side's hierarchy delimiter, in modified UTF-7
 * (interimap never decodes it). Inside interimap (and in the database) it
 * is the "internal name": the reference stripped, every delimiter replaced
 * by a NUL byte, so that "perso/a/b" (reference "perso/", "/") and "a.b"
 * (no reference, ".") are both "a\0b". INBOX, case-insensitive (RFC 3501
 * §5.1), is always written INBOX. Internal names come with a length.
 *
 * Listing (mlist_list): one LIST each,
 *   LIST [(SELECT-OPTS) ]REF PATTERN|(P1 P2 ...) [RETURN (SUBSCRIBED
 *        [STATUS (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)])]
 * both at once without patterns ("*"), else local first, then remote
 * (the remote patterns depend on the local answer); either way the
 * answers are read local first, as the reference meets them.
 * A NUL in a pattern stands for the delimiter: the side's delimiter is
 * then asked first with LIST REF "" (once per process), and a flat
 * namespace there fails "Mailbox name contains null characters but the
 * namespace is flat!". After the local LIST, the local delimiter in the
 * patterns stands for the hierarchy too (command-line names are written
 * with it), so the remote LIST gets the remote one.
 * The delimiter is that of the alphabetically first listed name other
 * than INBOX (whose own may differ: RFC 3501 §7.2.2), else LIST REF ""'s,
 * which must bring exactly one LIST reply ("Missing or unexpected
 * (unsolicited) LIST response."). Every other listed name must agree:
 * "Mailbox M has hierarchy delimiter "x", while "y" was expected.". One
 * side flat and the other not: "Local and remote namespaces are neither
 * both flat nor both hierarchical (local "/", remote NIL).". All are
 * fail()s (status 1), with the side's prefix but the last.
 *
 * A name exists on a side when it was listed without \NonExistent or
 * \Noselect; it is subscribed with \Subscribed. Names listed without the
 * side's reference are not interimap's and are left out.
 *
 * All memory belongs to struct mlist (mlist_free()); mlist_sync()'s
 * result to the caller (mlist_mbx_free()). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "ierr.h"
#include "mbfilter.h"
#include "side.h"

/* One side's LIST-STATUS of a mailbox (RFC 5819). */
struct mlist_status {
	bool have; /* UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ all came */
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq; /* 0: the server keeps no mod-sequences */
};

/* One name a side listed. */
struct mlist_entry {
	char *wire;               /* as listed (INBOX uppercased) */
	size_t wlen;
	char delim;               /* its delimiter, '\0' for NIL */
	unsigned attrs;           /* enum imap_list_attr (imap_data.h) */
	struct mlist_status st;
	/* The internal name, or NULL when the name lacks the side's
	 * list-reference (set once the delimiter is known). */
	char *name;
	size_t len;
};

struct mlist_side {
	struct mlist_entry *v;    /* sorted by wire name, no duplicates */
	size_t n, cap;
};

struct mlist {
	struct mlist_side side[2]; /* [DB_LOCAL], [DB_REMOTE] */
};

/* What to list. */
struct mlist_opts {
	/* LIST patterns (NUL: the delimiter), npat >= 0 (0: "*"), each
	 * patlen[i] bytes; borrowed. */
	const char *const *pat;
	const size_t *patlen;
	size_t npat;
	const char *select_opts;   /* list-select-opts, or NULL */
	bool ret;                  /* RETURN (SUBSCRIBED ...): the sync */
	bool status;               /* ... STATUS (...): unless --notify */
};

void mlist_init(struct mlist *ml);
void mlist_free(struct mlist *ml);

/* What one LIST command brought (mlist.c): private. */
struct mlist_collect {
	struct mlist_side *ls;
	unsigned lists;           /* LIST replies */
	char first_delim;         /* the delimiter of the first LIST reply */
};

/* The LISTs of a sync sent early: each side's as soon as its session
 * logged in (side_open()'s logged_in hook), behind its COMPRESS and
 * ENABLE, not after both sessions opened: no round trip of its own, and
 * no wait for the other side's login. The outcomes are read by
 * mlist_list(), once side_open() returned (it waits for every command
 * in flight, so nothing of e is in use after it). Members private. */
struct mlist_early {
	struct mlist *ml;
	const struct mlist_opts *o;
	bool sent[2], known[2];
	struct mlist_collect c[2];
	struct imapc_handlers h[2];
	struct side_cmd q[2];
};

/* Sets e up for ml (mlist_init()ed, left alone until mlist_list()) and o
 * (borrowed): early LISTs only without patterns (the "*" of a sync). */
void mlist_early_init(struct mlist_early *e, struct mlist *ml,
    const struct mlist_opts *o);
/* Sends side k's (DB_LOCAL, DB_REMOTE) LIST into e, if e is on and the
 * server can answer it (LIST-EXTENDED, and LIST-STATUS when asked):
 * otherwise mlist_list() lists it as usual. */
void mlist_list_early(struct mlist_early *e, struct side *s, int k);

/* Lists both sides (s[DB_LOCAL] then s[DB_REMOTE]) as described above,
 * setting their delimiters, and checks that both namespaces are flat or
 * both hierarchical. Replaces what ml held, unless e (may be NULL) sent
 * a LIST: then that LIST's outcome is read into ml (e's) instead of
 * sending another. 0, or -1 with ie. */
int mlist_list(struct mlist *ml, struct side *s[2],
    const struct mlist_opts *o, struct mlist_early *e, struct ierr *ie);

/* What side listed as wire (NUL-terminated), or NULL. */
const struct mlist_entry *mlist_find(const struct mlist *ml, int side,
    const char *wire);
/* e is not NULL and neither \NonExistent nor \Noselect. */
bool mlist_exists(const struct mlist_entry *e);
bool mlist_subscribed(const struct mlist_entry *e);

/* ---- names (pure) ---- */

/* The internal name of wire (wlen bytes) on a side with reference ref
 * and delimiter delim ('\0': flat, nothing replaced): 1 with *name_r
 * (allocated, NUL-terminated after *len_r bytes), 0 when wire does not
 * start with ref. */
int mlist_unname(const char *ref, char delim, const char *wire, size_t wlen,
    char **name_r, size_t *len_r);
/* The wire name of an internal name: ref, then name with each NUL
 * replaced by delim. Allocated. NULL when delim is '\0' and name holds a
 * NUL (a hierarchical name in a flat namespace: no such name). */
char *mlist_wire(const char *ref, char delim, const char *name, size_t len);
/* The name in messages: the local delimiter, no reference (the
 * reference's mbx_pretty()). Allocated; as mlist_wire(). */
char *mlist_pretty(const struct side *local, const char *name, size_t len);
/* A delimiter as the reference prints it: "x" (with '"' and '\' escaped
 * by a '\'), or NIL. buf holds 5 bytes; returns it. */
const char *mlist_delim_str(char delim, char buf[5]);

/* The delimiter a listing ls (sorted, as mlist_list() leaves it)
 * gives: 1 with *delim_r that of the alphabetically first name but
 * INBOX, 0 when INBOX is all there is (then LIST REF "" tells). */
int mlist_delim_of(const struct mlist_side *ls, char *delim_r);
/* The first name of ls but INBOX whose delimiter is not delim, or
 * NULL. */
const struct mlist_entry *mlist_delim_mismatch(const struct mlist_side *ls,
    char delim);

/* ---- the mailbox-list synchronisation ---- */

/* A mailbox to synchronise (the reference's @MAILBOXES). */
struct mlist_mbx {
	char *name;                 /* internal name, len bytes */
	size_t len;
	int64_t idx;                /* its database row */
	bool subscribed;
	char *wire[2];              /* its name on each side */
	/* Each side's LIST-STATUS; have is false where the mailbox was
	 * created by this run or where LIST had no STATUS (--notify). */
	struct mlist_status st[2];
};
void mlist_mbx_free(struct mlist_mbx *v, size_t n);

/* The mailbox-list synchronisation (§4.4) of what mlist_list() found,
 * with the database: over the union of both sides' internal names (but
 * those ignore-mailbox matches unless cli: names from the command line),
 * in bytewise order, each name existing on at least one side:
 *  - on both, known: a subscription on one side only is carried over
 *    (to the other side when the database said unsubscribed, else the
 *    still-subscribed side is unsubscribed); equal subscriptions that
 *    differ from the database update it;
 *  - on both, unknown: added ("database: Created mailbox X"), subscribed
 *    on the side that is not when the other is;
 *  - on one side, unknown: added, created on the other side (a refusal
 *    is a warning), subscribed there when subscribed here;
 *  - on one side, known: fail "Mailbox X exists. Run `interimap
 *    --target=database --delete X` to delete." (prefix "database").
 *    Checked for every name before anything is changed.
 * Each mailbox's changes are committed before the next one's. Returns 0
 * with *v_r (allocated; mlist_mbx_free()) the mailboxes, *n_r of them, or
 * -1 with ie. */
int mlist_sync(struct mlist *ml, struct side *s[2], struct db *db,
    const struct mbfilter *f, bool cli, struct mlist_mbx **v_r,
    size_t *n_r, struct ierr *ie);

#endif
