#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "lanes.h"
#include "log.h"
#include "sigwait.h"

/* The lines a lane holds back, at most: past it, a lane ahead takes no
 * new mailbox until the one before is done (memory stays bounded
 * whatever the number of mailboxes). */
#define HOLD_MAX (1u << 20)

#define NONE SIZE_MAX

enum pos_state { P_TODO, P_RUN, P_DONE };

/* Lines held: records of a flag byte (1 debug, 2 error), the length (a
 * size_t) and the bytes. */
struct held {
	char *buf;
	size_t len, cap;
};

struct pos {
	enum pos_state st;
	struct held held;
};

struct lanes;

struct lane {
	struct lanes *L;
	int id;                 /* 0: the main pair, in the caller's thread */
	struct side *s[2];
	struct side own[2];     /* the other lanes' sessions */
	size_t cur;             /* the position synced, or NONE */
	size_t reserved;        /* lanes_take_next()'s, or NONE */
	bool swallow;           /* opening: its lines are no one's */
	bool started, finished; /* its thread (not lane 0) */
	pthread_t th;
};

struct lanes {
	pthread_mutex_t gil;    /* held by the thread that runs */
	pthread_cond_t txn_cv;  /* the transaction is free */
	pthread_cond_t moved;   /* a position ended */
	int txn_owner;          /* lane id, or -1 */
	struct db *db;
	struct db_txn_hook hook;
	const size_t *items;
	size_t n;
	lanes_sync_fn *fn;
	lanes_end_fn *end;
	void *ctx;
	struct pos *p;
	size_t next;            /* the next position to take */
	size_t head;            /* the first position not done */
	size_t failed;          /* the first position that failed, or n */
	size_t held_bytes;
	struct ierr fail_ie;
	sigset_t mask;          /* the caller's signal mask */
	unsigned nl;            /* lanes */
	struct lane lane[LANES_MAX];
};

/* The lane the calling thread runs, while lanes run. */
static _Thread_local struct lane *self;

/* lanes_kick()'s: the threads, kick_n of them while kick_on. A thread
 * blocks every signal before it ends, and the caller's blocks them while
 * it waits for the others' end: no handler runs once one has ended, so
 * none is sent a signal after it was joined. */
static pthread_t kick_t[LANES_MAX];
static volatile sig_atomic_t kick_n, kick_on;

void
lanes_kick(int sig)
{
	pthread_t me;

	if (!kick_on)
		return;
	me = pthread_self();
	for (sig_atomic_t i = 0; i < kick_n; i++)
		if (!pthread_equal(me, kick_t[i]))
			pthread_kill(kick_t[i], sig);
}

/* ---- one thread at a time ---- */

static void
gil_hook(void *ctx, bool before)
{
	struct lanes *L = ctx;

	if (self == NULL)
		return;
	if (before)
		pthread_mutex_unlock(&L->gil);
	else
		pthread_mutex_lock(&L->gil);
}

static void
txn_acquire(void *ctx)
{
	struct lanes *L = ctx;

	if (self == NULL)
		return;
	while (L->txn_owner >= 0 && L->txn_owner != self->id)
		pthread_cond_wait(&L->txn_cv, &L->gil);
	L->txn_owner = self->id;
}

static bool
txn_owned(void *ctx)
{
	struct lanes *L = ctx;

	return self == NULL || L->txn_owner == self->id;
}

static void
txn_release(void *ctx)
{
	struct lanes *L = ctx;

	if (self == NULL || L->txn_owner != self->id)
		return;
	L->txn_owner = -1;
	pthread_cond_broadcast(&L->txn_cv);
}

/* ---- the log in list order ---- */

static void
held_add(struct held *h, bool debug, bool error, const char *line,
    size_t len)
{
	size_t need = 1 + sizeof(len) + len;

	if (h->cap - h->len < need) {
		size_t cap = h->cap ? h->cap : 1024;
		while (cap - h->len < need)
			cap *= 2;
		h->buf = xrealloc(h->buf, cap);
		h->cap = cap;
	}
	h->buf[h->len] = (char)((debug ? 1 : 0) | (error ? 2 : 0));
	memcpy(h->buf + h->len + 1, &len, sizeof(len));
	memcpy(h->buf + h->len + 1 + sizeof(len), line, len);
	h->len += need;
}

static bool
hold(void *ctx, bool debug, bool error, const char *line, size_t len)
{
	struct lane *ln = ctx;
	struct lanes *L = ln->L;

	if (ln->swallow)
		return true;
	if (ln->cur == NONE || ln->cur == L->head)
		return false;
	held_add(&L->p[ln->cur].held, debug, error, line, len);
	L->held_bytes += len;
	return true;
}

/* Writes the lines position i held, now. */
static void
flush(struct lanes *L, size_t i)
{
	struct held *h = &L->p[i].held;
	size_t o = 0;

	while (o < h->len) {
		unsigned char f = (unsigned char)h->buf[o];
		size_t len;
		memcpy(&len, h->buf + o + 1, sizeof(len));
		log_put_line(f & 1, f & 2, h->buf + o + 1 + sizeof(len), len);
		L->held_bytes -= len;
		o += 1 + sizeof(len) + len;
	}
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

/* ---- the positions ---- */

static void advance(struct lanes *L);

/* The next position for ln (the one lanes_take_next() took, if any), or
 * NONE: none left, or one failed before. A lane that would hold its lines
 * back waits while too many are. */
static size_t
take(struct lanes *L, struct lane *ln)
{
	size_t i;

	if (ln->reserved != NONE) {
		i = ln->reserved;
		ln->reserved = NONE;
		if (i < L->failed) {
			ln->cur = i;
			return i;
		}
		/* One before it failed: as if never taken. */
		L->p[i].st = P_DONE;
		advance(L);
		return NONE;
	}
	for (;;) {
		if (L->next >= L->n || L->next > L->failed)
			return NONE;
		if (L->next == L->head || L->held_bytes < HOLD_MAX)
			break;
		pthread_cond_wait(&L->moved, &L->gil);
	}
	i = L->next++;
	L->p[i].st = P_RUN;
	ln->cur = i;
	return i;
}

static void
finish(struct lanes *L, struct lane *ln, int rc, struct ierr *ie)
{
	size_t i = ln->cur;

	/* The mailbox's writes end with it, as they would before the next
	 * one in a sequential run (nothing is left open normally). */
	if (L->txn_owner == ln->id) {
		struct err err;
		if (rc < 0)
			db_rollback(L->db);
		else if (db_commit(L->db, &err) < 0)
			rc = ierr_wrap(ie, "database", &err);
	}
	L->p[i].st = P_DONE;
	if (rc < 0 && i < L->failed) {
		L->failed = i;
		L->fail_ie = *ie;
	}
	ln->cur = NONE;
	advance(L);
}

/* The positions done first in order: their lines out. */
static void
advance(struct lanes *L)
{
	while (L->head < L->n && L->p[L->head].st == P_DONE)
		flush(L, L->head++);
	/* The mailbox under way in another lane is first now: what it
	 * held comes out, and its next lines go straight out. */
	if (L->head < L->n && L->p[L->head].st == P_RUN)
		flush(L, L->head);
	pthread_cond_broadcast(&L->moved);
}

size_t
lanes_take_next(void)
{
	struct lane *ln = self;
	struct lanes *L;
	size_t i;

	if (ln == NULL || ln->reserved != NONE)
		return SIZE_MAX;
	L = ln->L;
	/* take()'s conditions, without its wait. */
	if (L->next >= L->n || L->next > L->failed ||
	    (L->next != L->head && L->held_bytes >= HOLD_MAX))
		return SIZE_MAX;
	i = L->next++;
	L->p[i].st = P_RUN;
	ln->reserved = i;
	return L->items[i];
}

unsigned
lanes_self(void)
{
	return self != NULL ? (unsigned)self->id : 0;
}

static void
lane_loop(struct lanes *L, struct lane *ln)
{
	size_t i;

	while ((i = take(L, ln)) != NONE) {
		struct ierr ie;
		int rc;

		memset(&ie, 0, sizeof(ie));
		rc = L->fn(L->ctx, ln->s, L->items[i], &ie);
		finish(L, ln, rc, &ie);
	}
	if (L->end != NULL)
		L->end(L->ctx, ln->s);
}

/* Another lane's thread: its sessions, the positions it takes, its
 * traffic handed to the main pair's summaries. */
static void *
lane_main(void *arg)
{
	struct lane *ln = arg;
	struct lanes *L = ln->L;
	struct ierr ie;
	sigset_t all;

	pthread_mutex_lock(&L->gil);
	/* Started with every signal blocked (lanes_run()): the stop
	 * signals are taken once lanes_kick() knows this thread. */
	pthread_sigmask(SIG_SETMASK, &L->mask, NULL);
	self = ln;
	log_set_hold(hold, ln);
	memset(&ie, 0, sizeof(ie));
	ln->swallow = true;
	if (side_open(ln->s, 2, false, NULL, &ie) == 0) {
		ln->swallow = false;
		lane_loop(L, ln);
	} else {
		ln->swallow = false;
		log_at(LOG_DEBUG, ilog_prefix(NULL, NULL), "no pair of "
		    "sessions #%d (%s): one mailbox less at a time", ln->id + 1,
		    ie.e.msg);
	}
	for (int k = 0; k < 2; k++) {
		side_absorb(L->lane[0].s[k], &ln->own[k]);
		side_drop(&ln->own[k]);
	}
	log_set_hold(NULL, NULL);
	ilog_thread_end();
	self = NULL;
	/* No wait left: no signal handler in this thread from now on. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	ln->finished = true;
	pthread_cond_broadcast(&L->moved);
	pthread_mutex_unlock(&L->gil);
	return NULL;
}

int
lanes_run(struct db *db, struct side *const s[2], unsigned lanes,
    const size_t *items, size_t n, lanes_sync_fn *fn, lanes_end_fn *end,
    void *ctx, struct ierr *ie)
{
	struct lanes *L;
	sigset_t all;
	struct err err;
	int rc;

	if (lanes > LANES_MAX)
		lanes = LANES_MAX;
	if (lanes < 2 || n < LANES_MIN) {
		rc = 0;
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = fn(ctx, s, items[i], ie);
		if (end != NULL)
			end(ctx, s);
		return rc;
	}
	/* Nothing open that a lane would take for its own. */
	if (db_commit(db, &err) < 0)
		return ierr_wrap(ie, "database", &err);

	L = xcalloc(1, sizeof(*L));
	pthread_mutex_init(&L->gil, NULL);
	pthread_cond_init(&L->txn_cv, NULL);
	pthread_cond_init(&L->moved, NULL);
	L->txn_owner = -1;
	L->db = db;
	L->hook = (struct db_txn_hook){ txn_acquire, txn_owned, txn_release,
	    L };
	L->items = items;
	L->n = n;
	L->fn = fn;
	L->end = end;
	L->ctx = ctx;
	L->p = xcalloc(n, sizeof(*L->p));
	L->failed = n;
	L->nl = lanes;
	for (int id = 0; id < (int)lanes; id++) {
		struct lane *ln = &L->lane[id];
		ln->L = L;
		ln->id = id;
		ln->cur = NONE;
		ln->reserved = NONE;
		for (int k = 0; k < 2; k++) {
			if (id == 0) {
				ln->s[k] = s[k];
				continue;
			}
			side_init(&ln->own[k], s[k]->name, s[k]->conf);
			ln->own[k].delim_known = s[k]->delim_known;
			ln->own[k].delim = s[k]->delim;
			ln->s[k] = &ln->own[k];
		}
	}

	pthread_mutex_lock(&L->gil);
	self = &L->lane[0];
	log_set_hold(hold, &L->lane[0]);
	sigwait_set_hook(gil_hook, L);
	db_set_txn_hook(db, &L->hook);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &L->mask);
	kick_t[0] = pthread_self();
	kick_n = 1;
	for (unsigned id = 1; id < lanes; id++) {
		struct lane *ln = &L->lane[id];
		ln->started = pthread_create(&ln->th, NULL, lane_main,
		    ln) == 0;
		if (ln->started)
			kick_t[kick_n++] = ln->th;
	}
	kick_on = 1;
	pthread_sigmask(SIG_SETMASK, &L->mask, NULL);

	lane_loop(L, &L->lane[0]);

	/* The stop signals go to the other lanes while this thread waits
	 * for their end (they kick this one, which finds the flag
	 * afterwards); none is sent once they ended (see kick_t). */
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	for (unsigned id = 1; id < lanes; id++)
		while (L->lane[id].started && !L->lane[id].finished)
			pthread_cond_wait(&L->moved, &L->gil);
	kick_on = 0;
	kick_n = 0;
	pthread_mutex_unlock(&L->gil);
	for (unsigned id = 1; id < lanes; id++)
		if (L->lane[id].started)
			pthread_join(L->lane[id].th, NULL);
	pthread_mutex_lock(&L->gil);
	pthread_sigmask(SIG_SETMASK, &L->mask, NULL);
	db_set_txn_hook(db, NULL);
	sigwait_set_hook(NULL, NULL);
	log_set_hold(NULL, NULL);
	self = NULL;
	pthread_mutex_unlock(&L->gil);

	/* Mailboxes synced after one that failed or was never taken: their
	 * lines, in order. */
	for (size_t i = L->head; i < n; i++)
		if (L->p[i].held.len > 0)
			flush(L, i);
	if (L->failed < n)
		*ie = L->fail_ie;
	rc = L->failed < n ? -1 : 0;
	for (size_t i = 0; i < n; i++)
		free(L->p[i].held.buf);
	free(L->p);
	pthread_cond_destroy(&L->moved);
	pthread_cond_destroy(&L->txn_cv);
	pthread_mutex_destroy(&L->gil);
	free(L);
	return rc;
}
