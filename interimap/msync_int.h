#ifndef INTERIMAP_MSYNC_INT_H
#define INTERIMAP_MSYNC_INT_H

/* msync's insides, shared by msync.c (the algorithm) and msync_box.c
 * (each side's caches, the responses they are kept from, the commands
 * and waits, the reference's set notations). Not for other users. */

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
	struct uidset modified;   /* [MODIFIED] of its tagged reply */
};

/* ---- msync_box.c ---- */

/* Records a failure (see struct ms): logged as "PREFIX: ERROR: text" by
 * msync_mailbox() on its way out, prefix ilog_prefix(name, mailbox).
 * Returns -1. */
int ms_fail(struct ms *ms, const char *name, const char *mailbox,
    enum err_kind kind, const char *fmt, ...) ATTR_PRINTF(5, 6);
/* The same with an error already set (copied). */
int ms_fail_err(struct ms *ms, const char *name, const char *mailbox,
    const struct err *e);
/* The side's log prefix: "local(MBX): " once selected, "local: " before
 * (the reference's client logs with the selected mailbox only in the
 * SELECTED state). Valid until the next ilog_prefix(). */
const char *ms_prefix(const struct ms_box *b);
/* ms_fail() with b's prefix. */
int ms_box_fail(struct ms_box *b, enum err_kind kind, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

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
 * command is linked into ms->cmds and freed by ms_cmds_free(). */
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

/* A FETCH's FLAGS as the reference compares them: \Recent dropped
 * (ASCII case-insensitively), sorted bytewise, joined by one space.
 * Allocated. */
char *ms_flags_norm(const struct imap_atoms *a);
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

/* ---- msync.c, for msync_repair.c ---- */

/* SELECTs both sides as the reference's plain select() calls do: the
 * QRESYNC parameter from the persistent caches, without the mapping's
 * sample. */
int ms_select_plain(struct ms *ms);
/* UID FETCH s (MODSEQ FLAGS) on b, submitted, not waited for: the
 * responses go to b's caches. */
int ms_fetch_flags(struct ms_box *b, struct uidset *s);
/* remove_message on both sides at once (sets[DB_LOCAL], sets[DB_REMOTE],
 * either may be empty), with its "Removed" and "Couldn't UID EXPUNGE"
 * lines. */
int ms_remove(struct ms *ms, struct uidset sets[2]);
/* delete_mapping: the pair of luid goes (not committed). */
int ms_unmap(struct ms *ms, uint32_t luid);
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
/* One APPEND of msgs[0..n) from src to dst (callback_new_message_flush):
 * the pairs committed with it, "Added" logged, the new UIDs of dst added
 * to added. */
int ms_append(struct ms *ms, struct ms_box *src, struct ms_box *dst,
    const struct imap_xfer_msg *msgs, size_t n, struct uidset *added);
/* The reference's batches (callback_new_message, I:1151), shared by the
 * sync and --repair: ms_batch_add() queues a message (its strings
 * borrowed until the batch is sent), sending the batch first when it
 * holds batch_max messages or the message would take it past batch_bytes,
 * and at once without MULTIAPPEND; a 0-length message is skipped with the
 * reference's warning. ms_batch_end(b, rc) sends what is left when rc is
 * 0, frees, and returns the outcome. total bounds the batch's size. */
struct ms_batch {
	struct ms *ms;
	struct ms_box *src, *dst;
	struct uidset *added;
	struct imap_xfer_msg *v;
	size_t n;
	uint64_t bytes;
	bool multi;
};
void ms_batch_init(struct ms_batch *b, struct ms *ms, struct ms_box *src,
    struct ms_box *dst, size_t total, struct uidset *added);
int ms_batch_add(struct ms_batch *b, const struct imap_xfer_msg *x);
int ms_batch_end(struct ms_batch *b, int rc);
/* sync_messages: the new messages both ways (lign, rign: local and
 * remote UIDs not to copy, may be NULL), the known ones, then both
 * sides' state committed. */
int ms_sync_new(struct ms *ms, struct uidset *lign, struct uidset *rign);

/* ---- msync_repair.c ---- */

/* The body of msync_repair() (msync.h). */
int ms_repair(struct ms *ms);

#endif
