#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ilog.h"
#include "imap_verbs.h"
#include "imapc.h"
#include "intent.h"
#include "log.h"
#include "msync_int.h"

/* Copies under way (msync_int.h): recorded before each APPEND batch,
 * looked for after an interruption. The reference copies again what a
 * kill between an APPEND's OK and its commit left unknown (notes §4.9):
 * a duplicate of the whole batch on the target. */

char *
ms_intent_msgid(const struct imap_resp *r)
{
	const struct imap_arg *a = imap_fetch_item(r, MS_INTENT_ITEM);

	if (!a || (a->type != IMAP_ARG_STRING && a->type != IMAP_ARG_LITERAL))
		return NULL;
	return intent_msgid(a->str, a->len);
}

/* The lowest UIDNEXT the target can have now: what it said last, else
 * what the database says. */
static uint32_t
target_uidnext(const struct ms_box *dst)
{
	if (dst->uidnext != 0)
		return dst->uidnext;
	return dst->p_uidnext != 0 ? dst->p_uidnext : 1;
}

int
ms_intent_record(struct ms *ms, const struct ms_box *src,
    const struct ms_box *dst, const struct ms_newmsg *const *m, size_t n)
{
	struct db_intent *v;
	struct err e;
	int rc = 0;

	if (n == 0 || src->uidvalidity == 0 || dst->uidvalidity == 0)
		return 0;
	v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].target = dst->s->side;
		v[i].uidvalidity = dst->uidvalidity;
		v[i].uidnext = target_uidnext(dst);
		v[i].s_uidvalidity = src->uidvalidity;
		v[i].suid = m[i]->uid;
		v[i].size = m[i]->size;
		v[i].date = m[i]->date;
		v[i].flags = ms_flags_norm_v(m[i]->flags, m[i]->nflags);
		v[i].msgid = m[i]->msgid;
	}
	/* Durable before the first byte of the APPEND. */
	if (db_intent_add(ms->db, ms->idx, v, n, &e) < 0 ||
	    db_commit(ms->db, &e) < 0)
		rc = ms_db_fail(ms, &e);
	for (size_t i = 0; i < n; i++)
		free(v[i].flags);
	free(v);
	return rc;
}

int
ms_intent_done(struct ms *ms, const struct ms_box *dst,
    const uint32_t *suids, size_t n)
{
	struct err e;

	if (db_intent_delete(ms->db, ms->idx, dst->s->side, suids, n, &e) < 0)
		return ms_db_fail(ms, &e);
	return 0;
}

int
ms_intent_pending(struct ms *ms, bool *pending_r)
{
	struct err e;

	if (db_intent_has(ms->db, ms->idx, pending_r, &e) < 0)
		return ms_db_fail(ms, &e);
	return 0;
}

/* Whether x is valid (intent_valid()), with cur the UIDVALIDITYs to
 * check. 1, 0, or -1 (ms_db_fail()). */
static int
valid(struct ms *ms, const struct db_intent *x, const struct db_state st[2],
    const uint32_t cur[2])
{
	uint32_t other;
	struct err e;
	int m = db_map_get(ms->db, ms->idx,
	    x->target == DB_LOCAL ? DB_REMOTE : DB_LOCAL, x->suid, &other, &e);

	if (m < 0)
		return ms_db_fail(ms, &e);
	return intent_valid(x, st, cur, m > 0) ? 1 : 0;
}

int
ms_intent_prune(struct ms *ms, const struct db_state st[2], bool *left_r)
{
	struct db_intent *v = NULL;
	uint32_t cur[2];
	size_t n = 0;
	struct err e;
	int k = 0;

	*left_r = false;
	if (ms_intent_pending(ms, left_r) < 0)
		return -1;
	if (!*left_r)
		return 0;
	for (int i = 0; i < 2; i++)
		cur[i] = ms->b[i].s->have_status ? ms->b[i].s->uidvalidity : 0;
	if (db_intent_get(ms->db, ms->idx, &v, &n, &e) < 0)
		return ms_db_fail(ms, &e);
	for (size_t i = 0; i < n && k == 0; i++)
		k = valid(ms, &v[i], st, cur);
	db_intents_free(v, n);
	if (k < 0)
		return -1;
	*left_r = k > 0;
	/* What a later sync (the Perl program's) dealt with: no more a
	 * reason to resume. */
	if (k == 0 && (db_intent_clear(ms->db, ms->idx, &e) < 0 ||
	    db_commit(ms->db, &e) < 0))
		return ms_db_fail(ms, &e);
	return 0;
}

/* ---- recovery ---- */

/* The target's messages from the lowest recorded UIDNEXT on, offered to
 * its rows as the FETCH answers (nothing kept but the rows' counts). */
struct look {
	struct intent_row *rows;
	size_t n;
	uint32_t from;
	struct uidset *mapped;    /* target UIDs in a pair: not candidates */
};

static int
look_own(struct ms_cmd *q, const struct imap_resp *r, struct err *err)
{
	const unsigned need = IMAP_FETCH_UID | IMAP_FETCH_SIZE |
	    IMAP_FETCH_INTERNALDATE | IMAP_FETCH_FLAGS;
	struct look *l = q->ctx;
	struct intent_msg m;
	struct imap_fetch f;
	char *flags, *msgid;
	int zone;

	if (imap_data_kind(r) != IMAP_DATA_FETCH)
		return 0;
	if (imap_fetch_parse(r, &f, err) < 0) {
		err_prefix(err, "%s", imapc_name(q->b->c));
		return ms_fail_err(q->b->ms, q->b->s->name, q->b->s->mailbox,
		    err);
	}
	/* Anything else (a flag change of another message) is the
	 * caches'. */
	if ((f.have & need) != need || !imap_fetch_item(r, MS_INTENT_ITEM))
		return 0;
	ms_observe_fetch(q->b, &f);
	if (f.uid < l->from || uidset_has(l->mapped, f.uid) ||
	    imap_date_parse(f.internaldate, &m.when, &zone) < 0)
		return 1;
	m.uid = f.uid;
	m.size = f.size;
	m.flags = flags = ms_flags_norm(&f.flags);
	m.msgid = msgid = ms_intent_msgid(r);
	intent_offer(l->rows, l->n, &m);
	free(flags);
	free(msgid);
	return 1;
}

/* Looks for the copies of rows[0..n) (all of target b) on b: their
 * matches in rows[i].cand (intent_match()). */
static int
look_for(struct ms *ms, struct ms_box *b, struct intent_row *rows, size_t n)
{
	struct uidset range = UIDSET_INIT, mapped = UIDSET_INIT;
	struct db_pair *pairs = NULL;
	struct look l = {rows, n, UINT32_MAX, &mapped};
	size_t np = 0;
	struct err e;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (rows[i].uidnext < l.from)
			l.from = rows[i].uidnext;
	if (l.from == 0)
		l.from = 1;
	uidset_add(&range, l.from, UINT32_MAX);
	if (db_map_find(ms->db, ms->idx, b->s->side, &range, &pairs, &np,
	    &e) < 0) {
		rc = ms_db_fail(ms, &e);
		goto out;
	}
	for (size_t i = 0; i < np; i++) {
		uint32_t u = b->s->side == DB_LOCAL ? pairs[i].luid
						    : pairs[i].ruid;
		uidset_add(&mapped, u, u);
	}
	uidset_normalise(&mapped);
	/* 2^32-1, not "*": "*" is the highest UID even below l.from. */
	for (size_t pos = 0; pos < range.n && rc == 0;) {
		struct imap_cmd *cmd;
		if (imap_verb_uid_fetch(&range, &pos, "(UID RFC822.SIZE "
		    "INTERNALDATE FLAGS " MS_INTENT_FETCH ")",
		    IMAP_VERB_NO_MODSEQ, false, &cmd, &e) < 0)
			rc = ms_box_fail(b, e.kind, "%s", e.msg);
		else
			ms_submit(b, cmd, look_own, &l);
	}
	if (ms_wait(ms) < 0)
		rc = -1;
	ms_cmds_free(ms);
out:
	free(pairs);
	uidset_free(&range);
	uidset_free(&mapped);
	return rc;
}

/* Pairs the matched rows of target b (made, not committed) and logs them
 * as the reference logs its copies. *made_r: how many. */
static int
pair_up(struct ms *ms, struct ms_box *b, const struct intent_row *rows,
    size_t n, size_t *made_r)
{
	uint32_t *t = xcalloc(n ? n : 1, sizeof(*t));
	uint32_t *s = xcalloc(n ? n : 1, sizeof(*s));
	uint32_t *amb = xcalloc(n ? n : 1, sizeof(*amb));
	size_t k = 0, na = 0;
	struct err e;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t u = intent_match(&rows[i]), l, r;
		if (u == 0) {
			if (rows[i].ncand > 0)
				amb[na++] = rows[i].suid;
			continue;
		}
		l = b->s->side == DB_LOCAL ? u : rows[i].suid;
		r = b->s->side == DB_LOCAL ? rows[i].suid : u;
		log_at(LOG_DEBUG, ilog_prefix(NULL, NULL), "Adding mapping "
		    "(lUID,rUID) = (%" PRIu32 ",%" PRIu32 ") for %s", l, r,
		    ms->display);
		if (db_map_add(ms->db, ms->idx, l, r, &e) < 0) {
			rc = ms_db_fail(ms, &e);
			break;
		}
		t[k] = u;
		s[k++] = rows[i].suid;
	}
	if (rc == 0 && k > 0) {
		char *ts = ms_list_text(t, k), *ss = ms_list_text(s, k);
		if (b->s->side == DB_LOCAL)
			log_at(LOG_INFO, ms_prefix(b), "Recovered %zu UID(s) %s "
			    "<- %s copied before an interruption", k, ts, ss);
		else
			log_at(LOG_INFO, ms_prefix(b), "Recovered %zu UID(s) %s "
			    "-> %s copied before an interruption", k, ss, ts);
		free(ts);
		free(ss);
	}
	if (rc == 0 && na > 0) {
		char *as = ms_list_text(amb, na);
		/* Copied again: a duplicate rather than a wrong pair. */
		log_at(LOG_WARN, ms_prefix(b), "%zu message(s) copied before an "
		    "interruption not told apart from others (UID(s) %s on "
		    "%s): copied again", na, as,
		    b->s->side == DB_LOCAL ? "remote" : "local");
		free(as);
	}
	free(t);
	free(s);
	free(amb);
	*made_r = k;
	return rc;
}

int
ms_intent_recover(struct ms *ms, const struct db_state st[2])
{
	struct db_intent *v = NULL;
	struct intent_row *rows = NULL;
	uint32_t cur[2] = {ms->b[DB_LOCAL].uidvalidity,
	    ms->b[DB_REMOTE].uidvalidity};
	size_t n = 0, made = 0;
	bool pending;
	struct err e;
	int rc = -1;

	if (ms_intent_pending(ms, &pending) < 0)
		return -1;
	if (!pending)
		return 0;
	if (db_intent_get(ms->db, ms->idx, &v, &n, &e) < 0) {
		ms_db_fail(ms, &e);
		goto out;
	}
	rows = xcalloc(n ? n : 1, sizeof(*rows));
	for (int t = 0; t < 2; t++) {
		struct ms_box *b = &ms->b[t];
		size_t k = 0, got;
		for (size_t i = 0; i < n; i++) {
			int m;
			if (v[i].target != b->s->side)
				continue;
			if ((m = valid(ms, &v[i], st, cur)) < 0)
				goto out;
			if (m > 0)
				intent_row_init(&rows[k++], &v[i]);
		}
		if (k == 0)
			continue;
		if (look_for(ms, b, rows, k) < 0 ||
		    pair_up(ms, b, rows, k, &got) < 0)
			goto out;
		made += got;
	}
	/* Every record goes: what was not found is copied again. */
	if (db_intent_clear(ms->db, ms->idx, &e) < 0 ||
	    db_commit(ms->db, &e) < 0) {
		ms_db_fail(ms, &e);
		goto out;
	}
	rc = (int)(made > INT32_MAX ? INT32_MAX : made);
out:
	db_intents_free(v, n);
	free(rows);
	return rc;
}
