#ifndef INTERIMAP_MSYNC_INT_H
#define INTERIMAP_MSYNC_INT_H

/* msync's insides, shared by its files, one job each: msync.c (the entry
 * points and their common opening: the database's state, the SELECTs;
 * sync_messages), msync_resume.c (an interrupted copy), msync_known.c
 * (the known messages' turns and the pulls they read), msync_expunge.c
 * (vanished messages), msync_flags.c (flag changes), msync_copy.c (new
 * messages), msync_repair.c (--repair), msync_box.c (each side's caches,
 * the responses they are kept from, the commands and waits, failures),
 * msync_sets.c (the reference's set and flag notations), msync_ahead.c
 * (the next mailbox started ahead). Not for other
 * users. References: I: /usr/bin/interimap, L: Net/IMAP/InterIMAP.pm
 * (0.5.7). */

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "err.h"
#include "imap_cmd.h"
#include "imap_data.h"
#include "imap_parse.h"
#include "imap_xfer.h"
#include "msync.h"
#include "uidlist.h"

struct imapc;
struct ms;

/* A flag change the server reported: its MODSEQ and its flags,
 * normalised (ms_flags_norm()), or NULL when the FETCH had no FLAGS (the
 * reference then fetches them, as it does after [MODIFIED], which it
 * records with modseq 0). */
struct ms_mod {
	uint32_t uid;
	uint64_t modseq;
	char *flags;
	uint64_t order; /* arrival, for the reference's merge rule */
};

/* The reference's _MODIFIED hash, as a list merged lazily: appended in
 * arrival order, sorted and merged (ms_mods_norm()) before any read. */
struct ms_mods {
	struct ms_mod *v;
	size_t n, cap;
	bool sorted;
	uint64_t order;
};

/* One side. The internal cache is what the server last said (the
 * reference's _CACHE), the persistent one what the database says or is
 * about to say (its _PCACHE); 0 stands for the reference's undef, which
 * every use of the values there treats as 0 (or as 1 for a UIDNEXT, the
 * same for a test "uid < UIDNEXT"). */
struct ms_box {
	struct ms *ms;
	const struct msync_side *s;
	struct imapc *c;
	bool selected;            /* the SELECT's OK came */
	/* internal cache */
	uint32_t uidvalidity, uidnext, exists;
	uint64_t hms;
	bool have_exists;         /* EXISTS is known (reset at SELECT) */
	uint64_t new_mail;        /* EXISTS growth since the last pull */
	bool nomodseq, uidnotsticky;
	struct uidset vanished;   /* VANISHED not yet pulled */
	struct ms_mods mods;      /* flag changes not yet pulled */
	/* persistent cache */
	uint32_t p_uidvalidity, p_uidnext;
	uint64_t p_hms;
	/* The first metadata FETCH, sent with the SELECT (ms_prefetch()). */
	struct ms_pre *pre;
	/* msync_ahead (msync.h): the next mailbox's SELECT went out on this
	 * side (lent: ms_reclaim() before any command of this mailbox);
	 * this mailbox's SELECT went out during the sync before (ahead);
	 * this mailbox is being selected again (reopen: its caches go on,
	 * [CLOSED] is not a new mailbox). */
	bool lent, ahead, reopen;
};

struct ms {
	struct db *db;
	int64_t idx;
	const char *display;
	const struct msync_opts *o;
	unsigned batch_max;
	uint64_t batch_bytes;
	int timeout_ms;           /* o's, or the default */
	struct ms_box b[2];       /* [DB_LOCAL], [DB_REMOTE] */
	/* The failure to report, logged with prefix ilog_prefix(fail_name,
	 * fail_mbx): the first, or, of failures on both sides of a phase run
	 * on both at once, the local one (what the reference, local first,
	 * would have met). */
	bool failed;
	struct err err;
	char *fail_name, *fail_mbx;
	int fail_rank;            /* 0 local, 1 remote, 2 other */
	bool cancelling;          /* errors of cancelled commands: not news */
	struct ms_cmd *cmds;      /* submitted, not yet freed */
	/* A mailbox new to the database: its state row is added with its
	 * first write (ms_state_write()), in that write's transaction. */
	bool state_new;
	/* The caller's msync_ahead or NULL; whether this mailbox tried to
	 * start the next one already (once). */
	struct msync_ahead *ahead;
	bool ahead_tried;
	/* Started ahead with the database's state of it (a QRESYNC SELECT),
	 * not as new to it. */
	bool ahead_known;
};

/* A command of msync's: its handlers feed the side's caches; own, when
 * set, is offered each untagged response first (1: the command's own,
 * not fed to the caches; 0: not; -1: failed, err set). */
struct ms_cmd {
	struct ms_cmd *next;
	struct ms_box *b;
	int (*own)(struct ms_cmd *q, const struct imap_resp *r,
	    struct err *err);
	void *ctx;
	bool done, failed;
	bool select;              /* ms_submit_select()'s */
	struct uidset modified;   /* [MODIFIED] of its tagged reply */
};

/* ---- msync.c ---- */

/* A fresh ms for the mailbox idx (nothing sent, nothing allocated). */
void ms_init(struct ms *ms, struct db *db, int64_t idx, const char *display,
    const struct msync_side *local, const struct msync_side *remote,
    const struct msync_opts *o);
/* Frees what ms holds (its commands must be done); logs nothing. */
void ms_release(struct ms *ms);
/* The persistent caches of both sides from the database's state st, or
 * from the LIST-STATUS values when st is NULL (a new mailbox). */
void ms_open_init(struct ms *ms, const struct db_state *st);
/* Submits b's SELECT (QRESYNC with the database's sample when sample
 * and st had a state), its caches reset for it. With ahead, the engine's
 * log prefix is left alone (the mailbox before still runs there): the
 * SELECT is traced under the unselected prefix all the same. 0, or -1
 * (a database error). */
int ms_open_submit(struct ms *ms, struct ms_box *b, bool sample, bool ahead);
/* Will the first metadata FETCH of b go with its SELECT? Sends it
 * (ms_prefetch()) if so. With guess, the local side's goes also when the
 * remote one has no LIST-STATUS (created by this run, in all likelihood
 * empty: should it have messages to copy first, the answer is not
 * used). */
void ms_open_prefetch(struct ms *ms, struct ms_box *b, bool guess);
/* SELECT of b's mailbox with the QRESYNC parameter (RFC 7162 §3.2.5):
 * uidvalidity, hms, the known UIDs 1:uidnext-1 (left out when uidnext
 * <= 1), and, when uids is not NULL, the message-sequence-match data
 * lo:hi and uids. */
struct imap_cmd *ms_select_qresync(const struct ms_box *b,
    uint32_t uidvalidity, uint64_t hms, uint32_t uidnext, uint32_t lo,
    uint32_t hi, struct uidset *uids);

/* Before any write about the mailbox: its state row, when it is new to
 * the database (not before: no transaction stays open while the servers
 * answer, lanes.h). 0, or -1 (ms_db_fail()). */
int ms_state_write(struct ms *ms);

/* ---- msync_ahead.c ---- */

/* Where the copy from src has sent its last command there: the next
 * mailbox's SELECT on src, when msync_ahead (msync.h) allows it. */
void ms_ahead_lend(struct ms *ms, struct ms_box *src, struct ms_box *dst);
/* The ms started for mailbox idx, taken (the caller frees it, after
 * ms_release()), or NULL. One started for another mailbox is given up. */
struct ms *ms_ahead_take(struct msync_ahead *a, int64_t idx,
    const struct msync_side *local, const struct msync_side *remote);
/* b lent to the next mailbox: its commands waited for and given up, b's
 * mailbox selected again. 0 (also when b was not lent), or -1 (ms_fail()
 * recorded it). */
int ms_reclaim(struct ms_box *b);
/* msync_ahead_force() was called (a NULL-safe). */
bool ms_ahead_forced(const struct msync_ahead *a);

/* ---- msync_box.c ---- */

/* Records a failure (see struct ms): logged as "PREFIX: ERROR: text" by
 * msync_mailbox() on its way out, prefix ilog_prefix(name, mailbox).
 * Returns -1. */
int ms_fail(struct ms *ms, const char *name, const char *mailbox,
    enum err_kind kind, const char *fmt, ...) ATTR_PRINTF(5, 6);
/* The same with an error already set (copied). */
int ms_fail_err(struct ms *ms, const char *name, const char *mailbox,
    const struct err *e);
/* A database error, with the reference's prefix "database: ". */
int ms_db_fail(struct ms *ms, const struct err *e);
/* The side's log prefix: "local(MBX): " once selected, "local: " before
 * (the reference's client logs with the selected mailbox only in the
 * SELECTED state). Valid until the next ilog_prefix(). */
const char *ms_prefix(const struct ms_box *b);
/* The prefix of the reference's msg2(NAME => MBX, ...): the side's name
 * and mailbox, selected or not. Valid as ms_prefix(). */
const char *ms_prefix_mbx(const struct ms_box *b);
/* ms_fail() with b's prefix. */
int ms_box_fail(struct ms_box *b, enum err_kind kind, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* ms_box_fail() with the reference's "UIDVALIDITY changed! (have !=
 * want)  Need to invalidate the UID cache for MBX." (ERR_DB). */
int ms_uidvalidity_fail(struct ms_box *b, uint32_t have, uint32_t want);

/* Resets b's internal cache for a SELECT (the reference's _open_mailbox;
 * the UIDVALIDITY to check the server's against is p_uidvalidity, unless
 * 0). */
void ms_box_open(struct ms_box *b);
/* Every untagged response of b's engine while msync's commands are in
 * flight: keeps the internal cache (EXISTS, VANISHED, FETCH's UID and
 * MODSEQ, the codes UIDVALIDITY UIDNEXT HIGHESTMODSEQ NOMODSEQ
 * UIDNOTSTICKY CLOSED) and the lists of vanished UIDs and flag changes,
 * as the reference's _resp. 1, or -1 (err, and ms_fail()) for what the
 * reference dies of. */
int ms_observe(struct ms_box *b, const struct imap_resp *r, struct err *err);
/* The cache side of a FETCH response (EXISTS, UIDNEXT, HIGHESTMODSEQ),
 * for a response a command took as its own. */
void ms_observe_fetch(struct ms_box *b, const struct imap_fetch *f);
/* The response codes of a status response (also a tagged one). */
int ms_observe_code(struct ms_box *b, const struct imap_resp *r,
    struct err *err);
/* The reference's is_dirty: new mail, or an internal UIDNEXT or
 * HIGHESTMODSEQ other than the persistent one (or either 0). */
bool ms_box_dirty(const struct ms_box *b);

/* Submits cmd on b's engine with msync's handlers (own may be NULL). The
 * command is linked into ms->cmds and freed by ms_cmds_free(). On a
 * side lent to the next mailbox, ms_reclaim() first; should that fail,
 * the command is not sent (it is done, failed: ms_wait() says -1). */
struct ms_cmd *ms_submit(struct ms_box *b, struct imap_cmd *cmd,
    int (*own)(struct ms_cmd *, const struct imap_resp *, struct err *),
    void *ctx);
/* The same for a SELECT of the side's mailbox. */
struct ms_cmd *ms_submit_select(struct ms_box *b, struct imap_cmd *cmd);
/* Drives both engines until none of msync's commands is in flight. 0, or
 * -1 when a command failed or a connection did (ms_fail() recorded it;
 * commands still in flight were cancelled). */
int ms_wait(struct ms *ms);
void ms_cmds_free(struct ms *ms);
/* The reference's checks after every command while selected (_recv):
 * NOMODSEQ and UIDNOTSTICKY. -1 with ms_fail(). */
int ms_box_check(struct ms_box *b);

/* Flag changes: add one (the reference's rule: kept when newer, or as
 * new with flags where the known one had none); sort and merge. flags is
 * taken (allocated or NULL). */
void ms_mods_add(struct ms_mods *m, uint32_t uid, uint64_t modseq,
    char *flags);
void ms_mods_norm(struct ms_mods *m);
/* The change of uid, or NULL (normalises). */
struct ms_mod *ms_mods_find(struct ms_mods *m, uint32_t uid);
/* Forgets the changes of the UIDs in s (normalises). */
void ms_mods_remove(struct ms_mods *m, struct uidset *s);
void ms_mods_clear(struct ms_mods *m);
/* qsort() order of changes: by UID, then by arrival (order). */
int ms_mod_cmp(const void *a, const void *b);
/* The change of uid in v[0..n), sorted by UID with one change each, or
 * NULL. */
struct ms_mod *ms_mod_find(struct ms_mod *v, size_t n, uint32_t uid);

/* ---- msync_sets.c ---- */

/* A FETCH's FLAGS as the reference compares them: \Recent dropped
 * (ASCII case-insensitively), sorted bytewise, joined by one space.
 * Allocated. */
char *ms_flags_norm(const struct imap_atoms *a);
/* The same of flags[0..n) (a struct ms_newmsg's). */
char *ms_flags_norm_v(char *const *flags, size_t n);
/* The sorted union of two such lists (the conflict rule). Allocated. */
char *ms_flags_union(const char *a, const char *b);
/* Splits a normalised list into *v_r (pointers into an allocated copy,
 * *store_r; both freed by the caller), for imap_verb_uid_store(). */
size_t ms_flags_split(const char *flags, char ***v_r, char **store_r);

/* The reference's compact_set (sorted, duplicates merged, "1:3,5") of a
 * set, and compact_list (the order kept, runs up or down: "5:3,7") of a
 * list. Allocated. */
char *ms_set_text(struct uidset *s);
char *ms_list_text(const uint32_t *v, size_t n);

/* Set arithmetic: s is empty; dst gets src's UIDs (src normalised; merge
 * also normalises dst); s becomes s minus t (both normalised). */
bool ms_set_empty(const struct uidset *s);
void ms_set_copy(struct uidset *dst, struct uidset *src);
void ms_set_merge(struct uidset *dst, struct uidset *src);
void ms_set_minus(struct uidset *s, struct uidset *t);

/* ---- msync.c ---- */

/* The opening the sync, a resumption and --repair share: sets both
 * sides' persistent caches from st, the database's state (NULL: a
 * mailbox new to it, or a resumption, which trusts no HIGHESTMODSEQ: only
 * the LIST-STATUS UIDVALIDITY, if any, to check the server's against),
 * then SELECTs both sides at once, with the QRESYNC parameter (RFC 7162
 * §3.2.5) when the persistent caches have a state; sample: with the
 * mapping's sample as message-sequence-match data (select_mbx, I:818),
 * else as the reference's plain select() calls. Fails as the reference
 * does without MODSEQ support. */
int ms_open(struct ms *ms, const struct db_state *st, bool sample);
/* The same for a mailbox new to the database, its first metadata
 * FETCHes sent with the SELECTs where the LIST-STATUS values promise
 * them (ms_prefetch()). */
int ms_open_new(struct ms *ms);
/* sync_messages (I:1222): the new messages both ways (lign, rign: local
 * and remote UIDs not to copy, may be NULL), the known ones, then both
 * sides' state committed. */
int ms_sync_new(struct ms *ms, struct uidset *lign, struct uidset *rign);

/* ---- msync_resume.c ---- */

/* The resumption of an interrupted copy (I:1308) of a mailbox whose
 * database state is st and whose pairs[0..n) lie beyond a side's UIDNEXT
 * (n may be 0 when copies under way were recorded): the copies found of
 * those records become pairs (ms_intent_recover()), the pairs missing a
 * side lose the other, the rest is synced as a conflict
 * (ms_sync_new()). */
int ms_resume(struct ms *ms, const struct db_state st[2],
    const struct db_pair *pairs, size_t n);

/* ---- msync_known.c ---- */

/* What a pull_updates (L:1226) of one side brought: the flag changes
 * (v[0..n), by UID, one each, flags owned) and the vanished UIDs, both
 * below the persistent UIDNEXT. */
struct ms_pulled {
	struct ms_mod *v;
	size_t n, cap;
	struct uidset vanished;
};

/* UID FETCH s (MODSEQ FLAGS) on b, in commands of at most
 * IMAP_VERB_SET_MAX bytes of set, submitted, not waited for: the
 * responses go to b's caches, own (may be NULL) seeing them first. */
int ms_fetch_flags(struct ms_box *b, struct uidset *s,
    int (*own)(struct ms_cmd *, const struct imap_resp *, struct err *),
    void *ctx);
/* pull_updates of b's caches into *out: the changes newer than the
 * persistent HIGHESTMODSEQ (full: all of them, the reference's
 * pull_updates(1)), what lacks its flags being fetched first (the last
 * answer counts); the vanished UIDs, which no change survives; then the
 * persistent HIGHESTMODSEQ becomes the server's. *out is freed by
 * ms_pulled_free() (also after a failure). */
int ms_pull(struct ms *ms, struct ms_box *b, bool full,
    struct ms_pulled *out);
void ms_pulled_free(struct ms_pulled *p);
/* The change of uid in p, or NULL. */
const struct ms_mod *ms_pulled_find(const struct ms_pulled *p, uint32_t uid);
/* sync_known_messages (I:1012): turns until both sides are quiet.
 * *update_r: something was pending. */
int ms_sync_known(struct ms *ms, bool *update_r);

/* ---- msync_expunge.c ---- */

/* remove_message on both sides at once (sets[DB_LOCAL], sets[DB_REMOTE],
 * either may be empty), with its "Removed" and "Couldn't UID EXPUNGE"
 * lines. */
int ms_remove(struct ms *ms, struct uidset sets[2]);
/* delete_mapping: the pair of luid goes (not committed). */
int ms_unmap(struct ms *ms, uint32_t luid);
/* The VANISHED half of a known-messages turn (I:1040): what vanished on
 * one side is removed on the other, the pairs go. */
int ms_expunge_vanished(struct ms *ms, struct ms_pulled *lp,
    struct ms_pulled *rp);

/* ---- msync_flags.c ---- */

/* A flag list to set on a UID (push_flag_updates' input). */
struct ms_upd {
	uint32_t uid;
	const char *flags; /* normalised (ms_flags_norm()) */
};
/* push_flag_updates on both sides at once, v[DB_LOCAL][0..n[DB_LOCAL])
 * and v[DB_REMOTE][...]: grouped by flag list, the groups in the order
 * their lists first come in v, with the "Updated flags" and "Couldn't
 * update flags" lines; what a [MODIFIED] refused is fetched again by the
 * next pull. */
int ms_push_updates(struct ms *ms, const struct ms_upd *const v[2],
    const size_t n[2]);
/* flag_conflict (I:766): the union of a pair's two flag lists
 * (allocated), announced by the reference's conflict warning. */
char *ms_flag_conflict(struct ms *ms, uint32_t luid, const char *lflags,
    uint32_t ruid, const char *rflags);
/* The flags half of a known-messages turn (I:1087): each side's changes
 * to the other, conflicts to the union on both. */
int ms_propagate_flags(struct ms *ms, struct ms_pulled *lp,
    struct ms_pulled *rp);

/* ---- msync_copy.c ---- */

/* A message to copy, as its metadata FETCH gave it. */
struct ms_newmsg {
	uint32_t uid;
	uint64_t size;
	char **flags;
	size_t nflags;
	char *date;
	char *from; /* with the envelope: "mailbox@host" or ""; else NULL */
};

struct ms_newmsgs {
	struct ms_newmsg *v;
	size_t n, cap;
};

/* UID FETCH uids (MODSEQ FLAGS INTERNALDATE RFC822.SIZE, and ENVELOPE
 * when envelope) on src, waited for: the messages of uids it reports
 * are added to *out (the rest goes to the caches); freed by
 * ms_newmsgs_free(), also after a failure. */
int ms_fetch_new(struct ms *ms, struct ms_box *src, struct uidset *uids,
    bool envelope, struct ms_newmsgs *out);
void ms_newmsgs_free(struct ms_newmsgs *m);
/* Copies m's messages from src to dst in UID order, in the reference's
 * batches (callback_new_message, I:1151: batch_max messages, or what
 * fits batch_bytes, one a batch without MULTIAPPEND; a 0-length message
 * skipped with its warning), recorded as copies under way first
 * (ms_intent_record()); each batch's pairs committed with it
 * (callback_new_message_flush, I:1184), its records gone with them,
 * "Added" logged, the new UIDs of dst added to added. announce: each message is first logged as "UID n
 * from <ADDRESS> (DATE)" (download_missing). */
int ms_copy_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct ms_newmsgs *m, bool announce, struct uidset *added);
/* The same, and, when dst_ignore is not NULL (the UIDs of dst the next
 * pull from dst ignores besides those this copy adds), the metadata FETCH
 * that pull sends first is submitted behind the last APPEND (as
 * ms_prefetch()), its UIDs predicted from dst's UIDNEXT: the copies take
 * the next ones. The pull uses its answer when it asks for the same UIDs
 * (a client appending meanwhile breaks the prediction: it asks again). */
int ms_copy_new_ahead(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct ms_newmsgs *m, struct uidset *added, struct uidset *dst_ignore);
/* pull_new_messages (L:1283) from src, copied to dst: the UIDs from the
 * persistent UIDNEXT on, less those of ignore (copies just made on src),
 * again while src's UIDNEXT moves; the new UIDs of dst added to added.
 * Its first metadata FETCH is the one ms_prefetch() or a copy to src
 * sent (ms_copy_new_ahead()), when that asked for the same UIDs;
 * dst_ignore: ms_copy_new_ahead()'s. */
int ms_pull_new(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    struct uidset *ignore, struct uidset *added, struct uidset *dst_ignore);
/* Submits, without waiting (right after b's SELECT), the metadata FETCH
 * ms_pull_new() would send first with nothing to ignore: the UIDs from
 * the persistent UIDNEXT on. The caller knows it will be sent (the
 * LIST-STATUS UIDNEXT is beyond them, and nothing will be copied to b
 * before). ms_pre_free() forgets it (NULL-safe: nothing sent). */
void ms_prefetch(struct ms *ms, struct ms_box *b);
/* A FETCH response that belongs to the FETCH sent ahead, offered to the
 * caches first because a command before it is still in flight (a server
 * may start on the FETCH before the APPEND's OK): true when taken. */
bool ms_pre_take(struct ms_box *b, const struct imap_fetch *f);
/* The same for the UIDs of b from its persistent UIDNEXT on but those of
 * ignore. */
void ms_prefetch_ignoring(struct ms *ms, struct ms_box *b,
    struct uidset *ignore);
void ms_pre_free(struct ms_box *b);

/* ---- msync_intent.c ---- */

/* The copies under way, recorded so that a run cut short between an
 * APPEND and the commit of its pairs copies nothing twice (db.h: "Copies
 * under way"; intent.h: the matching). */

/* Before m[0..n) (but those of size 0, never sent) go from src to dst:
 * the records, committed (with whatever else the transaction held).
 * Nothing when a UIDVALIDITY is not known. -1 with ms_db_fail(). */
int ms_intent_record(struct ms *ms, const struct ms_box *src,
    const struct ms_box *dst, const struct ms_newmsg *m, size_t n);
/* The batch's pairs are in: its records go, in the same transaction (not
 * committed). suids[0..n): its source UIDs. */
int ms_intent_done(struct ms *ms, const struct ms_box *dst,
    const uint32_t *suids, size_t n);
/* Whether the mailbox has records (a cut-short copy to look into). */
int ms_intent_pending(struct ms *ms, bool *pending_r);
/* The same, before anything is selected (st the database's states, the
 * UIDVALIDITYs those of LIST-STATUS, if any), for the records still
 * valid (intent_valid()): when none is, they all go (committed), and
 * *left_r is false. */
int ms_intent_prune(struct ms *ms, const struct db_state st[2],
    bool *left_r);
/* On a resumption, both sides selected, st the database's states: the
 * records still valid (intent_valid()) are looked for on their target
 * (intent.h; both at once: UID FETCH of the recorded UIDs on the source,
 * from the lowest recorded UIDNEXT on on the target: size, INTERNALDATE,
 * the Message-ID fields, the target's flags; nothing is changed on a
 * server), the copies found become pairs, logged as "Recovered N UID(s)
 * ...", the rest will be copied again; every record of the mailbox goes;
 * committed. Returns the number of pairs made, or -1 (ms_fail()). */
int ms_intent_recover(struct ms *ms, const struct db_state st[2]);

/* ---- msync_repair.c ---- */

/* The body of msync_repair() (msync.h), for a mailbox whose database
 * state is st. */
int ms_repair(struct ms *ms, const struct db_state st[2]);

#endif
