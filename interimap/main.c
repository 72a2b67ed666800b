#include "util.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "cli.h"
#include "conn.h"
#include "db.h"
#include "iconf.h"
#include "ierr.h"
#include "ilog.h"
#include "istatus.h"
#include "lanes.h"
#include "log.h"
#include "mcmd.h"
#include "mlist.h"
#include "msync.h"
#include "progress.h"
#include "side.h"
#include "sigwait.h"
#include "watch.h"

/* The reference's run order (notes-interimap.md §4.1); the steps are its
 * numbers. */

/* SIGTERM or SIGINT, when one came. The reference's handlers (I:155-156)
 * stop it wherever it is: the connections dropped, what the database had
 * not committed rolled back, status 0 (SIGINT: 1, after a line saying
 * its errno). Here every wait on a server ends at once ("interrupted",
 * conn.h), and the run unwinds without a word (msync_opts.stop). */
static volatile sig_atomic_t stop_sig;
/* SIGHUP or SIGUSR1 during --watch or --notify: a round now, with the
 * mailbox lists. */
static volatile sig_atomic_t wake_sig;

/* Pairs of sessions for the first round (lanes.h): 0 to decide by the
 * round trip and the work (lanes_pick()); 1 with --debug (a trace as the
 * reference's) or with an SQLite built without its connection mutex; the
 * test knob INTERIMAP_LANES=N (1 to LANES_MAX) forces N. */
static unsigned n_lanes;

static void
on_stop(int sig)
{
	bool first = stop_sig == 0;

	stop_sig = sig;
	if (first)
		lanes_kick(sig);
}

static void
on_wake(int sig)
{
	wake_sig = sig;
}

/* Step 4's LIST: the command-line names (--delete, --rename: those only,
 * without RETURN), else list-mailbox and list-select-opts. */
static void
list_opts(const struct icli *o, const struct iconf *ic, struct mlist_opts *lo,
    const char ***pat_r, size_t **len_r)
{
	bool cmd = o->command == ICLI_DELETE || o->command == ICLI_RENAME;
	size_t n = o->n_mailboxes ? o->n_mailboxes : ic->filter.n_patterns;
	const char **pat = xcalloc(n + 1, sizeof(*pat));
	size_t *len = xcalloc(n + 1, sizeof(*len));

	for (size_t i = 0; i < n; i++) {
		if (o->n_mailboxes) {
			pat[i] = o->mailboxes[i];
			len[i] = strlen(pat[i]);
		} else {
			pat[i] = ic->filter.patterns[i].name;
			len[i] = ic->filter.patterns[i].len;
		}
	}
	memset(lo, 0, sizeof(*lo));
	lo->pat = pat;
	lo->patlen = len;
	lo->npat = n;
	lo->select_opts = cmd ? NULL : ic->filter.select_opts;
	lo->ret = !cmd;
	lo->status = !cmd && !o->notify;
	*pat_r = pat;
	*len_r = len;
}

/* Steps 8-9 and the main loop, for a mailbox of the working list: is
 * there anything to do? What the reference's is_dirty() says after
 * set_cache(): the server's LIST-STATUS against the last synced state.
 * news_r (NULL: not wanted): plus how many messages the mailbox may have
 * that its last sync did not see, both sides, as far as the UIDNEXTs
 * tell (an upper bound: UIDs are not dense; for lanes_pick()). */
static int
needs_sync(struct db *db, struct side *s[2], const struct mlist_mbx *m,
    bool *dirty_r, uint64_t *news_r, struct ierr *ie)
{
	struct db_state st[2];
	struct err err;
	int known = db_state_get(db, m->idx, st, &err);

	if (known < 0)
		return ierr_wrap(ie, NULL, &err);
	for (int k = 0; news_r != NULL && k < 2; k++) {
		uint32_t from = known > 0 ? st[k].uidnext : 1;
		if (m->st[k].have && m->st[k].uidnext > from)
			*news_r += m->st[k].uidnext - from;
	}
	*dirty_r = known == 0;
	for (int k = 0; known > 0 && k < 2; k++) {
		const struct mlist_status *ls = &m->st[k];
		/* A recreated mailbox: the UIDs in the mapping mean other
		 * messages now (I:1409, set_cache()). */
		if (ls->have && ls->uidvalidity != st[k].uidvalidity)
			return ierr_fail(ie, s[k]->name, "UIDVALIDITY changed! "
			    "(%u != %u)  Need to invalidate the UID cache for "
			    "%s.", ls->uidvalidity, st[k].uidvalidity,
			    m->wire[k]);
		if (!ls->have || st[k].uidnext == 0 ||
		    st[k].highestmodseq == 0 ||
		    ls->uidnext != st[k].uidnext ||
		    ls->highestmodseq != st[k].highestmodseq)
			*dirty_r = true;
	}
	return 0;
}

/* What msync is told of mailbox m's sides. */
static void
msync_sides(struct side *const s[2], const struct mlist_mbx *m,
    struct msync_side ms[2])
{
	for (int k = 0; k < 2; k++) {
		memset(&ms[k], 0, sizeof(ms[k]));
		ms[k].c = s[k]->imap;
		ms[k].name = s[k]->name;
		ms[k].mailbox = m->wire[k];
		ms[k].side = k == 0 ? DB_LOCAL : DB_REMOTE;
		ms[k].have_status = m->st[k].have;
		ms[k].uidvalidity = m->st[k].uidvalidity;
		ms[k].uidnext = m->st[k].uidnext;
		ms[k].highestmodseq = m->st[k].highestmodseq;
	}
}

/* Mailboxes started ahead (msync.h, msync_ahead): 1 (the default; not
 * with --debug, whose trace follows the reference's states), 0 with the
 * test knob INTERIMAP_AHEAD=0; INTERIMAP_AHEAD=1 (2: every lent side
 * taken back, msync_ahead_force()) also says on stderr how many were. */
static unsigned ahead_mode = 1;
static bool ahead_report;

/* The same for ahead's next mailbox, next (NULL: none). */
static void
ahead_next(struct msync_ahead *ahead, struct db *db, struct side *const s[2],
    const struct mlist_mbx *next)
{
	struct msync_side ns[2];
	char *pretty;

	if (next == NULL) {
		msync_ahead_next(ahead, db, 0, NULL, NULL, NULL);
		return;
	}
	pretty = mlist_pretty(s[0], next->name, next->len);
	msync_sides(s, next, ns);
	msync_ahead_next(ahead, db, next->idx, pretty ? pretty : next->wire[0],
	    &ns[0], &ns[1]);
	free(pretty);
}

/* The messages of mailbox m (interimap/msync.h): m->idx its database
 * row, m->wire[k] its name on side s[k], m->st[k] the LIST-STATUS seen
 * for it; repaired (--repair) or synced. msync logs its own errors, with
 * the mailbox in the prefix. With ahead (one pair of sessions: msync.h,
 * msync_ahead), next is the mailbox synced after it (NULL: none). */
static int
sync_messages_ahead(struct db *db, struct side *const s[2],
    const struct mlist_mbx *m, bool repair, const struct mlist_mbx *next,
    struct msync_ahead *ahead, struct ierr *ie)
{
	struct msync_side ms[2];
	struct msync_opts mo;
	char *pretty = mlist_pretty(s[0], m->name, m->len);
	struct err err;
	int rc;

	memset(&mo, 0, sizeof(mo));
	mo.timeout_ms = SIDE_TIMEOUT_MS;
	mo.stop = &stop_sig;
	msync_sides(s, m, ms);
	if (ahead != NULL && !repair) {
		ahead_next(ahead, db, s, next);
		mo.ahead = ahead;
	}
	progress_mailbox(pretty ? pretty : m->wire[0]);
	rc = (repair ? msync_repair : msync_mailbox)(db, m->idx,
	    pretty ? pretty : m->wire[0], &ms[0], &ms[1], &mo, &err);
	progress_mailbox_done(pretty ? pretty : m->wire[0]);
	free(pretty);
	istatus_synced(db, s[0], m->idx);
	return rc < 0 ? ierr_logged(ie, &err) : 0;
}

static int
sync_messages(struct db *db, struct side *const s[2], const struct mlist_mbx *m,
    bool repair, struct ierr *ie)
{
	return sync_messages_ahead(db, s, m, repair, NULL, NULL, ie);
}

/* lanes_run()'s callbacks over the first round's dirty mailboxes. */
struct first_round {
	struct db *db;
	const struct mlist_mbx *mv;
	const size_t *items;
	size_t n, pos;
	/* Mailboxes started ahead: 0 not, 1 with one pair (the next one
	 * in order: items[pos + 1], pos where the loop is), 2 with several
	 * (the one each pair takes next, lanes_take_next()). */
	unsigned ahead_mode;
	bool ahead_force;
	struct lane_ahead {
		struct first_round *r;
		struct side *const *s;   /* the pair's, during lane_sync */
		struct msync_ahead *a;   /* NULL until its first mailbox */
	} lane[LANES_MAX];
	unsigned started, reclaimed;
};

/* msync_ahead_provider()'s: the mailbox this pair takes next. */
static void
lane_provide(void *ctx)
{
	struct lane_ahead *la = ctx;
	size_t i = lanes_take_next();

	if (i != SIZE_MAX)
		ahead_next(la->a, la->r->db, la->s, &la->r->mv[i]);
}

static int
lane_sync(void *ctx, struct side *const s[2], size_t i, struct ierr *ie)
{
	struct first_round *r = ctx;
	struct lane_ahead *la = &r->lane[lanes_self()];
	const struct mlist_mbx *next = NULL;

	if (r->ahead_mode == 0)
		return sync_messages(r->db, s, &r->mv[i], false, ie);
	if (la->a == NULL) {
		la->r = r;
		la->a = msync_ahead_new();
		if (r->ahead_force)
			msync_ahead_force(la->a);
		if (r->ahead_mode == 2)
			msync_ahead_provider(la->a, lane_provide, la);
	}
	la->s = s;
	if (r->ahead_mode == 1) {
		while (r->pos < r->n && r->items[r->pos] != i)
			r->pos++;
		if (r->pos + 1 < r->n)
			next = &r->mv[r->items[r->pos + 1]];
	}
	return sync_messages_ahead(r->db, s, &r->mv[i], false, next, la->a,
	    ie);
}

/* After a pair's last mailbox: what was started and not taken is waited
 * for (on its sessions, before they close), its counts kept. */
static void
lane_end(void *ctx, struct side *const s[2])
{
	struct first_round *r = ctx;
	struct lane_ahead *la = &r->lane[lanes_self()];
	unsigned started, reclaimed;

	(void)s;
	if (la->a == NULL)
		return;
	msync_ahead_counts(la->a, &started, &reclaimed);
	msync_ahead_free(&la->a);
	r->started += started;
	r->reclaimed += reclaimed;
}

/* Step 8: mailboxes of the working list whose last copy was cut short
 * are resumed first, before any UIDVALIDITY check (as the reference);
 * so are those with copies under way recorded (ours: before their first
 * pair came). done[i] tells which were synced so. */
static int
resume_pending(struct db *db, struct side *s[2], const struct mlist_mbx *mv,
    size_t nm, bool *done, struct ierr *ie)
{
	int64_t *pv = NULL;
	size_t np = 0;
	struct err err;
	int rc = 0;

	if (db_pending_idx(db, &pv, &np, &err) < 0)
		return ierr_wrap(ie, NULL, &err);
	for (size_t i = 0; i < nm && rc == 0; i++) {
		bool pending = false;
		for (size_t j = 0; j < np && !pending; j++)
			pending = pv[j] == mv[i].idx;
		if (!pending && db_intent_has(db, mv[i].idx, &pending,
		    &err) < 0) {
			rc = ierr_wrap(ie, NULL, &err);
			break;
		}
		if (pending) {
			rc = sync_messages(db, s, &mv[i], false, ie);
			done[i] = true;
		}
	}
	free(pv);
	return rc;
}

/* Is mailbox i of mv to be synced in this round? The reference's
 * is_dirty() (step 9 and the main loop); during a watch, what the servers
 * said of it since (watch.h). */
static int
round_dirty(struct db *db, struct side *s[2], const struct mlist_mbx *m,
    const struct watch *w, size_t i, bool *dirty_r, struct ierr *ie)
{
	if (w != NULL && w->changed[i]) {
		*dirty_r = true;
		return 0;
	}
	return needs_sync(db, s, m, dirty_r, NULL, ie);
}

/* After mailbox m was synced during a --notify watch: its STATUS as
 * the database now has it, so that only news makes it dirty again. */
static void
status_from_db(struct db *db, struct mlist_mbx *m)
{
	struct db_state st[2];
	struct err err;

	if (db_state_get(db, m->idx, st, &err) <= 0)
		return;
	for (int k = 0; k < 2; k++) {
		m->st[k].have = true;
		m->st[k].uidvalidity = st[k].uidvalidity;
		m->st[k].uidnext = st[k].uidnext;
		m->st[k].highestmodseq = st[k].highestmodseq;
	}
}

/* Whether a round passes mailbox i by without a look: after the first,
 * a watch's rounds look only at what it marked. */
static bool
round_skips(const struct watch *w, bool first, size_t i)
{
	return !first && w != NULL && !w->notified[i] && !w->changed[i];
}

/* The mailbox after i that the round syncs next, as far as can be told
 * before i is synced (reads only; NULL: none, or one whose LIST-STATUS a
 * watch found stale: not started ahead). */
static const struct mlist_mbx *
round_next(struct db *db, struct side *s[2], const struct mlist_mbx *mv,
    size_t nm, const struct watch *w, bool first, size_t i)
{
	for (size_t j = i + 1; j < nm; j++) {
		struct ierr ie;
		bool dirty = false;

		if (round_skips(w, first, j))
			continue;
		if (w != NULL && w->changed[j])
			return NULL;
		memset(&ie, 0, sizeof(ie));
		if (needs_sync(db, s, &mv[j], &dirty, NULL, &ie) < 0)
			return NULL;
		if (dirty)
			return &mv[j];
	}
	return NULL;
}

/* One round of the main loop (step 12) over mv: every dirty mailbox
 * synced, in list order, the next one started ahead (msync.h); with a
 * watch, only those it marked (first: the first round, every mailbox is
 * looked at). 0, or -1 with ie. */
static int
sync_round(struct db *db, struct side *s[2], struct mlist_mbx *mv,
    size_t nm, struct watch *w, bool first, struct ierr *ie)
{
	struct msync_ahead *a = NULL;
	unsigned started, reclaimed;
	int rc = 0;

	if (ahead_mode > 0) {
		a = msync_ahead_new();
		if (ahead_mode == 2)
			msync_ahead_force(a);
	}
	for (size_t i = 0; i < nm && rc == 0; i++) {
		const struct mlist_mbx *next;
		bool dirty = false;

		if (round_skips(w, first, i))
			continue;
		if (round_dirty(db, s, &mv[i], w, i, &dirty, ie) < 0) {
			rc = -1;
			break;
		}
		/* News of the selected mailbox: its last LIST-STATUS is
		 * stale, and msync would believe it. */
		if (w != NULL && w->changed[i])
			mv[i].st[0].have = mv[i].st[1].have = false;
		if (w != NULL)
			watch_clear(w, i);
		if (!dirty)
			continue;
		next = a != NULL ? round_next(db, s, mv, nm, w, first, i) : NULL;
		rc = sync_messages_ahead(db, s, &mv[i], false, next, a, ie);
		if (rc == 0 && w != NULL)
			status_from_db(db, &mv[i]);
		if (stop_sig)
			break;
	}
	msync_ahead_counts(a, &started, &reclaimed);
	msync_ahead_free(&a);
	if (ahead_report && started > 0)
		fprintf(stderr, "interimap: test: %u mailbox(es) started ahead "
		    "in a round, %u given back\n", started, reclaimed);
	return rc;
}

/* --watch and --notify after the first round (§4.14): wait, then sync
 * what changed, until a stop request (returns 0) or an error (-1 with
 * ie: the reference's watch dies on the first one). */
/* --watch between two rounds: the interval, INBOX watched with IDLE
 * meanwhile where both servers can (a change there synced at once),
 * then the mailbox released for the LIST-STATUS of the next round. */
static int
watch_between(const struct icli *o, struct db *db, struct side *s[2],
    struct mlist_mbx *mv, size_t nm, struct watch *w, struct ierr *ie)
{
	uint64_t end = now_ms() + (uint64_t)o->watch_secs * 1000;

	for (;;) {
		uint64_t now = now_ms();
		int r;

		if (stop_sig || wake_sig || now >= end)
			break;
		if (!watch_can_idle(w)) {
			if (watch_release(w, ie) < 0 ||
			    watch_wait(w, end - now, false, ie) < 0)
				return -1;
			break;
		}
		if ((r = watch_idle(w, end - now, ie)) < 0)
			return -1;
		if (r == 0 || stop_sig)
			break;
		if (sync_round(db, s, mv, nm, w, false, ie) < 0)
			return -1;
	}
	return stop_sig ? 0 : watch_release(w, ie);
}

/* --notify: the longest wait without a command (see watch_loop()). */
#define NOTIFY_SLICE_MS 30000

static int
watch_loop(const struct icli *o, struct iconf *ic, struct side *s[2],
    struct db *db, struct mlist *ml, struct mlist_mbx **mvp, size_t *nmp,
    struct watch *w, struct ierr *ie)
{
	struct mlist_opts lo;
	const char **pat;
	size_t *patlen;
	int rc = 0;

	list_opts(o, ic, &lo, &pat, &patlen);
	while (rc == 0 && !stop_sig) {
		bool full = true;

		istatus_round(s[0]);
		if (o->notify) {
			/* Until a notification (INBOX watched with IDLE:
			 * Dovecot's NOTIFY news come with a command's reply
			 * only, the IDLE's DONE included), or N s. */
			uint64_t end = now_ms() + (uint64_t)o->watch_secs * 1000;
			int r;

			/* In slices: each ends with a command (DONE, else a
			 * NOOP) and brings what the server held back. */
			do {
				uint64_t now = now_ms(), ms = end > now ?
				    end - now : 0;
				if (ms > NOTIFY_SLICE_MS)
					ms = NOTIFY_SLICE_MS;
				/* (and no longer than a command may take: a
				 * dead peer found as soon) */
				if (ms > (uint64_t)SIDE_TIMEOUT_MS)
					ms = (uint64_t)SIDE_TIMEOUT_MS;
				if (watch_can_idle(w))
					r = watch_idle(w, ms, ie);
				else if ((r = watch_wait(w, ms, true, ie)) == 0 &&
				    !stop_sig && !wake_sig)
					r = watch_noop(w, ie) < 0 ? -1
					    : (w->any || w->relist);
			} while (r == 0 && !stop_sig && !wake_sig &&
			    now_ms() < end);
			if (r < 0) {
				rc = -1;
				break;
			}
			/* A mailbox created, renamed, deleted, (un)subscribed,
			 * a signal, or the interval: the lists again, and
			 * NOTIFY SET STATUS's word on every mailbox (news a
			 * server failed to send are found so). */
			full = r == 0 || w->relist || wake_sig;
		} else if (watch_between(o, db, s, *mvp, *nmp, w, ie) < 0) {
			rc = -1;
			break;
		}
		if (stop_sig)
			break;
		wake_sig = 0;
		if (!full) {
			rc = sync_round(db, s, *mvp, *nmp, w, false, ie);
			continue;
		}
		/* The list again: mailboxes created meanwhile join. */
		watch_set_mailboxes(w, NULL, 0);
		mlist_mbx_free(*mvp, *nmp);
		*mvp = NULL;
		*nmp = 0;
		if (mlist_list(ml, s, &lo, NULL, ie) < 0 ||
		    mlist_sync(ml, s, db, &ic->filter, o->n_mailboxes > 0,
		    mvp, nmp, ie) < 0) {
			rc = -1;
			break;
		}
		watch_set_mailboxes(w, *mvp, *nmp);
		/* NOTIFY's list is the new one; its STATUS replies say what
		 * changed (the LIST had no STATUS). */
		if (o->notify && watch_notify(w, ie) < 0) {
			rc = -1;
			break;
		}
		rc = sync_round(db, s, *mvp, *nmp, w, true, ie);
	}
	free(pat);
	free(patlen);
	return rc < 0 ? -1 : 0;
}

/* --watch and --notify: what a reconnection may cure (the network, a
 * server restarting, a dead connection, a server talking nonsense);
 * configuration, authentication and the reference's data errors
 * (UIDVALIDITY, a mailbox on one side only, refusals) end the run. */
static bool
transient(const struct ierr *ie)
{
	return ie->e.kind == ERR_TEMP || ie->e.kind == ERR_PROTO;
}

/* The start of the status snapshot (istatus_begin(): reading the
 * database, writing the file), done while the first connections are
 * made (side_open()'s meanwhile), once. */
struct begin {
	struct db *db;
	const struct icli *o;
	bool done;
};

static void
begin_status(void *arg)
{
	struct begin *b = arg;

	if (b->done)
		return;
	b->done = true;
	istatus_begin(b->db, b->o);
}

/* side_open()'s hooks in a session: the snapshot's start, and step 4's
 * LISTs sent as each side logs in (mlist_list_early()). */
struct opening_hooks {
	struct begin *b;
	struct mlist_early *early; /* NULL: no early LIST */
};

static void
opening_meanwhile(void *arg)
{
	begin_status(((struct opening_hooks *)arg)->b);
}

static void
opening_logged_in(void *arg, struct side *sd, size_t k)
{
	struct opening_hooks *oh = arg;

	if (oh->early != NULL)
		mlist_list_early(oh->early, sd, (int)k);
}

/* Steps 3 to 12, on the database *dbp holds. *synced: a round was
 * completed (the connections worked). b: begin_status()'s. */
static int
session(const struct icli *o, struct iconf *ic, struct side *s[2],
    struct db **dbp, struct begin *b, bool *synced, struct ierr *ie);

/* --notify with a server that lacks NOTIFY but has LIST-STATUS: --watch's
 * ways instead (INBOX watched with IDLE, the lists with LIST-STATUS at
 * each interval), after a warning per such side, where the reference
 * stops (issue 10). Without LIST-STATUS either, the reference's error
 * comes at step 11. Returns o, or *eff (a copy, notify off). */
static const struct icli *
notify_fallback(const struct icli *o, struct side *s[2], struct icli *eff)
{
	bool fallback = false;

	if (!o->notify)
		return o;
	for (int k = 0; k < 2; k++)
		if (!imapc_capable(s[k]->imap, "LIST-STATUS"))
			return o;
	for (int k = 0; k < 2; k++) {
		if (imapc_capable(s[k]->imap, "NOTIFY"))
			continue;
		log_at(LOG_WARN, ilog_prefix(s[k]->name, NULL), "Server did "
		    "not advertise NOTIFY (RFC 5465) capability: watching "
		    "INBOX with IDLE and listing every %u s instead",
		    o->watch_secs);
		fallback = true;
	}
	if (!fallback)
		return o;
	*eff = *o;
	eff->notify = false;
	return eff;
}

/* Step 2, then the session; with --watch or --notify, again after an
 * error a reconnection may cure, with a growing delay (backoff.h), the
 * database held all along. */
static int
run(const struct icli *o, struct iconf *ic, struct side *s[2],
    struct db **dbp, struct ierr *ie)
{
	struct backoff bo = BACKOFF_INIT;
	struct begin b;
	struct err err;

	/* Step 2: the lock before any network traffic, so that a second
	 * instance fails at once. --watch and --notify, long-lived, never
	 * start a new database. */
	*dbp = db_open(ic->database, o->watch ? DB_OPEN_NO_CREATE : 0, &err);
	if (*dbp == NULL)
		return ierr_wrap(ie, NULL, &err);
	b = (struct begin){ *dbp, o, false };
	for (;;) {
		bool synced = false;
		unsigned ms;
		int rc = session(o, ic, s, dbp, &b, &synced, ie);

		/* (side_open() calls it in every case: this is a guard) */
		begin_status(&b);
		if (rc == 0 || stop_sig)
			return 0;
		if (!o->watch || !transient(ie))
			return -1;
		if (synced)
			backoff_reset(&bo);
		ms = backoff_next(&bo);
		/* One line: the error as a warning, and what comes next. */
		if (ie->logged)
			log_at(LOG_WARN, ilog_prefix(NULL, NULL),
			    "reconnecting in %.1f s", ms / 1000.0);
		else
			log_at(LOG_WARN, ilog_prefix(ie->who, NULL),
			    "%s; reconnecting in %.1f s", ie->e.msg,
			    ms / 1000.0);
		memset(ie, 0, sizeof(*ie));
		side_drop(s[0]);
		side_drop(s[1]);
		sigwait_nap(ms, &stop_sig, &wake_sig);
		wake_sig = 0;
		if (stop_sig)
			return 0;
	}
}

static int
session(const struct icli *o, struct iconf *ic, struct side *s[2],
    struct db **dbp, struct begin *b, bool *synced, struct ierr *ie)
{
	struct icli eff;
	struct mlist ml;
	struct mlist_opts lo;
	struct mlist_early early;
	struct opening_hooks oh = { b, NULL };
	struct side_open_hooks hooks = { opening_meanwhile, opening_logged_in,
		&oh };
	struct mlist_mbx *mv = NULL;
	size_t nm = 0;
	const char **pat;
	size_t *patlen;
	struct watch w, *wp = NULL;
	struct err err;
	char *msg = NULL;
	int rc = -1;

	/* Step 4's LISTs go early (mlist.h), but with --notify: its
	 * fallback may change what is listed. */
	mlist_init(&ml);
	list_opts(o, ic, &lo, &pat, &patlen);
	mlist_early_init(&early, &ml, &lo);
	if (!o->notify)
		oh.early = &early;

	/* Step 3: both at once, read local first (side.h). */
	if (side_open(s, 2, o->notify, &hooks, ie) < 0)
		goto out;
	/* A dead peer found out without waiting for a round. */
	for (int k = 0; o->watch && k < 2; k++)
		conn_set_keepalive(imapc_conn(s[k]->imap));
	o = notify_fallback(o, s, &eff);
	if (o == &eff) {
		/* (the listing changes with it) */
		free(pat);
		free(patlen);
		list_opts(o, ic, &lo, &pat, &patlen);
	}

	/* Step 4. */
	if (mlist_list(&ml, s, &lo, oh.early, ie) < 0)
		goto out;

	/* Step 5, once both delimiters are known; its line is unprefixed
	 * and shown even with -q, as the reference's. */
	rc = db_schema(*dbp, s[0]->delim, s[1]->delim, &msg, &err);
	if (msg)
		log_at(LOG_NOTICE, ilog_prefix(NULL, NULL), "%s", msg);
	free(msg);
	if (rc < 0) {
		ierr_wrap(ie, NULL, &err);
		goto out;
	}
	rc = -1;

	/* Step 6. */
	if (o->command == ICLI_DELETE) {
		rc = mcmd_delete(&ml, s, *dbp, o->mailboxes, o->n_mailboxes,
		    o->targets, ie);
		goto out;
	}
	if (o->command == ICLI_RENAME) {
		rc = mcmd_rename(&ml, s, *dbp, o->mailboxes[0], o->mailboxes[1],
		    o->targets, ie);
		goto out;
	}

	/* Step 7. (Its lookups, and step 9's, in one read transaction
	 * where nothing is written: db.h, db_reads_begin().) */
	db_reads_begin(*dbp);
	if (mlist_sync(&ml, s, *dbp, &ic->filter, o->n_mailboxes > 0, &mv, &nm,
	    ie) < 0)
		goto out;
	if (o->watch) {
		watch_init(&w, s, &stop_sig, &wake_sig);
		watch_set_mailboxes(&w, mv, nm);
		wp = &w;
	}

	/* Step 8, then step 9 (UIDVALIDITY) for every mailbox before any
	 * is synced, then step 10 (--repair: every mailbox), step 11
	 * (--notify) and the first round of the main loop, over the dirty
	 * ones. */
	{
		bool *done = xcalloc(nm + 1, sizeof(*done));
		bool *dirty = xcalloc(nm + 1, sizeof(*dirty));
		size_t i = 0, todo = 0;
		uint64_t news = 0;

		if (resume_pending(*dbp, s, mv, nm, done, ie) == 0) {
			db_reads_begin(*dbp);
			for (i = 0; i < nm; i++)
				if (!done[i] && needs_sync(*dbp, s, &mv[i],
					&dirty[i], &news, ie) < 0)
					break;
		}
		db_reads_end(*dbp);
		/* (the progress line's total; --notify's is not known) */
		for (size_t j = 0; j < nm && !o->notify; j++)
			todo += done[j] + (o->command == ICLI_REPAIR || dirty[j]);
		progress_total(todo);
		if (i == nm && o->command == ICLI_REPAIR) {
			for (size_t j = 0; j < nm; j++)
				if (sync_messages(*dbp, s, &mv[j], true,
				    ie) < 0)
					break;
		} else if (i == nm && o->notify) {
			/* LIST said no STATUS: NOTIFY's replies tell. */
			if (watch_notify(wp, ie) == 0)
				sync_round(*dbp, s, mv, nm, wp, true, ie);
		} else if (i == nm) {
			size_t *items = xcalloc(nm + 1, sizeof(*items)), k = 0;
			struct first_round r;
			unsigned lanes = 1;

			memset(&r, 0, sizeof(r));
			r.db = *dbp;
			r.mv = mv;
			r.items = items;

			for (size_t j = 0; j < nm; j++)
				if (dirty[j])
					items[k++] = j;
			r.n = k;
			if (k < LANES_MIN ||
			    lanes_pick(s, n_lanes, k, news, &lanes, ie) == 0) {
				/* The next mailbox may start while one side
				 * finishes the one before (on each pair). */
				if (ahead_mode > 0 && k > 1) {
					r.ahead_mode = lanes == 1 ||
					    k < LANES_MIN ? 1 : 2;
					r.ahead_force = ahead_mode == 2;
				}
				lanes_run(*dbp, s, lanes, items, k, lane_sync,
				    lane_end, &r, ie);
				if (ahead_report && r.ahead_mode > 0)
					fprintf(stderr, "interimap: test: %u "
					    "mailbox(es) started ahead, %u "
					    "given back\n", r.started,
					    r.reclaimed);
			}
			free(items);
		}
		free(done);
		free(dirty);
		progress_stop();
		if (ie->e.kind != ERR_NONE)
			goto out;
	}
	*synced = true;
	if (wp != NULL && !stop_sig &&
	    watch_loop(o, ic, s, *dbp, &ml, &mv, &nm, wp, ie) < 0)
		goto out;
	rc = 0;
out:
	db_reads_end(*dbp);
	if (wp != NULL)
		watch_free(wp);
	mlist_mbx_free(mv, nm);
	mlist_free(&ml);
	free(pat);
	free(patlen);
	return rc;
}

int
main(int argc, char **argv)
{
	struct icli o;
	struct iconf ic;
	struct err err;
	struct ierr ie;
	struct side sd[2], *s[2] = { &sd[0], &sd[1] };
	struct db *db = NULL;
	int rc;

	setlocale(LC_CTYPE, "");
	/* A dead peer must be an error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	err_clear(&err);
	if ((rc = icli_parse(&o, argc, argv, stdout, stderr)) >= 0)
		return rc;
	log_quiet = o.quiet;
	/* The tests' knob (side.h). */
	if (getenv("INTERIMAP_TIMEOUT_MS")) {
		uint32_t ms;
		if (parse_u32_str(getenv("INTERIMAP_TIMEOUT_MS"), &ms) == 0 &&
		    ms > 0 && ms < 3600000)
			side_timeout_ms = (int)ms;
	}
	log_debug_level = o.debug;
	if (getenv("INTERIMAP_LANES") != NULL) {
		uint32_t v;
		n_lanes = parse_u32_str(getenv("INTERIMAP_LANES"), &v) == 0 &&
		    v >= 1 && v <= LANES_MAX ? v : 1;
	}
	if (o.debug > 0 || !db_serialized())
		n_lanes = 1;
	if (getenv("INTERIMAP_AHEAD") != NULL) {
		uint32_t v;
		ahead_mode = parse_u32_str(getenv("INTERIMAP_AHEAD"), &v) == 0 &&
		    v <= 2 ? v : 1;
		ahead_report = ahead_mode > 0;
	}
	if (o.debug > 0)
		ahead_mode = 0;

	if (iconf_load(o.config, &ic, &err) < 0) {
		fprintf(stderr, "interimap: %s\n", err.msg);
		icli_free(&o);
		return err_exitcode(err.kind);
	}
	if (o.command == ICLI_STATUS) {
		rc = istatus_main(&o, &ic);
		iconf_free(&ic);
		icli_free(&o);
		return rc;
	}
	ilog_set_format(ic.log_prefix);
	if (ic.logfile != NULL && ilog_open_file(ic.logfile, &err) < 0) {
		fprintf(stderr, "interimap: %s\n", err.msg);
		iconf_free(&ic);
		icli_free(&o);
		return err_exitcode(err.kind);
	}
	log_at(LOG_DEBUG, ilog_prefix(NULL, NULL), ">>> interimap %s",
	    VERSION);

	memset(&ie, 0, sizeof(ie));
	side_init(&sd[0], "local", &ic.side[ICONF_LOCAL]);
	side_init(&sd[1], "remote", &ic.side[ICONF_REMOTE]);
	{
		/* Installed over an inherited SIG_IGN too (a background job
		 * of a shell ignores SIGINT), as the reference's. */
		static const int sigs[] = { SIGTERM, SIGINT, 0 };
		static const int wakes[] = { SIGHUP, SIGUSR1, 0 };
		sigwait_install(sigs, on_stop);
		/* Only a long-lived run has a use for them; a one-shot run
		 * keeps their default (the reference's). */
		if (o.watch)
			sigwait_install(wakes, on_wake);
		sigwait_set_test_env("INTERIMAP_TEST_WAIT_SIGNAL");
		conn_set_interrupt(&stop_sig);
	}
	progress_start(!o.quiet && o.debug == 0);
	rc = run(&o, &ic, s, &db, &ie) < 0 ? ie.status : 0;
	if (stop_sig == SIGINT && !o.watch) {
		/* The reference prints its $!, EINTR when a wait was cut
		 * short (unprefixed, even with -q). */
		log_at(LOG_NOTICE, ilog_prefix(NULL, NULL), "%s",
		    strerror(EINTR));
		rc = 1;
	} else if (stop_sig != 0) {
		rc = 0;
	} else if (rc != 0) {
		ierr_report(&ie);
	}
	istatus_end(&sd[0], rc, stop_sig, &ie);
	/* The traffic summaries, after the error as the reference's. */
	side_summary(&sd[0]);
	side_summary(&sd[1]);
	log_at(LOG_DEBUG, ilog_prefix(NULL, NULL), "Cleaning up...");
	db_close(&db);
	/* The connections last: at their end of stream the servers wake up
	 * to tear their sessions down, and on a busy machine would take the
	 * CPU from the rest of ours (measured: up to 8 ms of a no-change
	 * run's wall time spent runnable, not running). */
	side_drop(&sd[0]);
	side_drop(&sd[1]);

	ilog_close_file();
	iconf_free(&ic);
	icli_free(&o);
	return rc;
}
