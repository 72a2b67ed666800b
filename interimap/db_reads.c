/* Lookups within a read transaction answered from one read of the whole
 * table (db_int.h, DB_READS_BULK): over a thousand mailboxes, one
 * statement stepped a thousand times and the searches here cost half the
 * instructions of a thousand lookups (callgrind: 3.6 against 7.6 million
 * for the states). */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_int.h"

enum { MEMO_MBX, MEMO_STATE };

struct memo_mbx {
	char *name;
	size_t len;
	int64_t idx;
	bool subscribed;
};

struct memo_state {
	int64_t idx;
	struct db_state st[2];
};

struct db_reads_memo {
	unsigned lookups[2];
	int have[2];            /* 0: not read, 1: read, -1: not kept */
	struct memo_mbx *mbx;   /* sorted by name (bytes, then length) */
	size_t nmbx;
	struct memo_state *st;  /* sorted by idx */
	size_t nst;
};

/* Names in bytewise order, a prefix first (as SQLite orders BLOBs). */
static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
mbx_qcmp(const void *pa, const void *pb)
{
	const struct memo_mbx *a = pa, *b = pb;

	return name_cmp(a->name, a->len, b->name, b->len);
}

/* bsearch()'s: a name looked up against an entry. */
struct name_key {
	const char *name;
	size_t len;
};

static int
mbx_key_cmp(const void *pk, const void *pe)
{
	const struct name_key *k = pk;
	const struct memo_mbx *e = pe;

	return name_cmp(k->name, k->len, e->name, e->len);
}

static int
state_qcmp(const void *pa, const void *pb)
{
	const struct memo_state *a = pa, *b = pb;

	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void
free_mbx(struct db_reads_memo *m)
{
	for (size_t i = 0; i < m->nmbx; i++)
		free(m->mbx[i].name);
	free(m->mbx);
	m->mbx = NULL;
	m->nmbx = 0;
}

/* The table's rows into memory: 1, or -1 (nothing kept). */
static int
read_mbx(struct db *db, struct db_reads_memo *m)
{
	struct err err;
	sqlite3_stmt *st = db_stmt(db, Q_MBX_ALL, &err);
	size_t cap = 0;
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int len = sqlite3_column_bytes(st, 0);
		struct memo_mbx *e;

		m->mbx = xgrow(m->mbx, &cap, m->nmbx + 1, sizeof(*m->mbx));
		e = &m->mbx[m->nmbx++];
		e->len = (size_t)len;
		e->name = xmalloc(e->len + 1);
		if (len > 0)
			memcpy(e->name, p, e->len);
		e->idx = sqlite3_column_int64(st, 1);
		e->subscribed = sqlite3_column_int64(st, 2) != 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free_mbx(m);
		return -1;
	}
	if (m->nmbx > 1)
		qsort(m->mbx, m->nmbx, sizeof(*m->mbx), mbx_qcmp);
	return 1;
}

static int
read_states(struct db *db, struct db_reads_memo *m)
{
	struct err err;
	sqlite3_stmt *st = db_stmt(db, Q_STATE_ALL, &err);
	size_t cap = 0;
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct memo_state *e;

		m->st = xgrow(m->st, &cap, m->nst + 1, sizeof(*m->st));
		e = &m->st[m->nst++];
		e->idx = sqlite3_column_int64(st, 0);
		if (db_col_states(db, st, 1, e->st, &err) < 0)
			break;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(m->st);
		m->st = NULL;
		m->nst = 0;
		return -1;
	}
	if (m->nst > 1)
		qsort(m->st, m->nst, sizeof(*m->st), state_qcmp);
	return 1;
}

/* The memo for kind, read when it is time: NULL when the lookup is the
 * caller's. */
static struct db_reads_memo *
memo_for(struct db *db, int kind)
{
	struct db_reads_memo *m;

	if (!db->reads)
		return NULL;
	if (db->memo == NULL)
		db->memo = xcalloc(1, sizeof(*db->memo));
	m = db->memo;
	if (m->have[kind] == 0 && ++m->lookups[kind] > DB_READS_BULK)
		m->have[kind] = kind == MEMO_MBX ? read_mbx(db, m) :
		    read_states(db, m);
	return m->have[kind] > 0 ? m : NULL;
}

int
db_reads_mailbox(struct db *db, const char *name, size_t len,
    int64_t *idx_r, bool *subscribed_r)
{
	struct db_reads_memo *m = memo_for(db, MEMO_MBX);
	struct name_key key = { name, len };
	const struct memo_mbx *e;

	if (m == NULL)
		return -2;
	e = m->nmbx == 0 ? NULL :
	    bsearch(&key, m->mbx, m->nmbx, sizeof(*m->mbx), mbx_key_cmp);
	if (e == NULL)
		return 0;
	*idx_r = e->idx;
	*subscribed_r = e->subscribed;
	return 1;
}

int
db_reads_state(struct db *db, int64_t idx, struct db_state st_r[2])
{
	struct db_reads_memo *m = memo_for(db, MEMO_STATE);
	struct memo_state key = { .idx = idx };
	const struct memo_state *e;

	if (m == NULL)
		return -2;
	e = m->nst == 0 ? NULL :
	    bsearch(&key, m->st, m->nst, sizeof(*m->st), state_qcmp);
	if (e == NULL)
		return 0;
	st_r[0] = e->st[0];
	st_r[1] = e->st[1];
	return 1;
}

void
db_reads_forget(struct db *db)
{
	struct db_reads_memo *m = db->memo;

	if (m == NULL)
		return;
	free_mbx(m);
	free(m->st);
	free(m);
	db->memo = NULL;
}
