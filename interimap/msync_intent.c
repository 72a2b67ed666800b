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

/* Copies under way (msync_int.h): recorded before the APPEND batches,
 * looked for after an interruption. The reference copies again what a
 * kill between an APPEND's OK and its commit left unknown (notes §4.9):
 * a duplicate of the whole batch on the target. */

/* The Message-ID fields, as asked for and as the response names them. */
#define MSGID_FETCH "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
#define MSGID_ITEM "BODY[HEADER.FIELDS (MESSAGE-ID)]"

/* intent_msgid() of r's MSGID_ITEM (NULL without one). Allocated. */
static char *
fetch_msgid(const struct imap_resp *r)
{
	const struct imap_arg *a = imap_fetch_item(r, MSGID_ITEM);

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
    const struct ms_box *dst, const struct ms_newmsg *m, size_t n)
{
	struct db_intent *v;
	struct err e;
	size_t k = 0;
	int rc = 0;

	if (n == 0 || src->uidvalidity == 0 || dst->uidvalidity == 0)
		return 0;
	v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		if (m[i].size == 0)
			continue;
		v[k].target = dst->s->side;
		v[k].uidvalidity = dst->uidvalidity;
		/* The later batches' copies are above it too. */
		v[k].uidnext = target_uidnext(dst);
		v[k].s_uidvalidity = src->uidvalidity;
		v[k].suid = m[i].uid;
		v[k].size = m[i].size;
		v[k].date = m[i].date;
		v[k].flags = ms_flags_norm_v(m[i].flags, m[i].nflags);
		k++;
	}
	/* Durable before the first byte of the APPEND. */
	if (k > 0 && ms_state_write(ms) < 0)
		rc = -1;
	else if (k > 0 && (db_intent_add(ms->db, ms->idx, v, k, &e) < 0 ||
	    db_commit(ms->db, &e) < 0))
		rc = ms_db_fail(ms, &e);
	for (size_t i = 0; i < k; i++)
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

/* The UIDVALIDITYs the servers gave (0: not known yet), for
 * intent_valid(). */
static void
current(const struct ms *ms, bool selected, uint32_t cur[2])
{
	for (int i = 0; i < 2; i++)
		cur[i] = selected ? ms->b[i].uidvalidity :
		    ms->b[i].s->have_status ? ms->b[i].s->uidvalidity : 0;
}

int
ms_intent_prune(struct ms *ms, const struct db_state st[2], bool *left_r)
{
	struct db_intent *v = NULL;
	uint32_t cur[2];
	size_t n = 0;
	struct err e;

	*left_r = false;
	if (ms_intent_pending(ms, left_r) < 0)
		return -1;
	if (!*left_r)
		return 0;
	current(ms, false, cur);
	if (db_intent_get_valid(ms->db, ms->idx, st, cur, &v, &n, &e) < 0)
		return ms_db_fail(ms, &e);
	db_intents_free(v, n);
	*left_r = n > 0;
	/* What a later sync (the Perl program's) dealt with: no more a
	 * reason to resume. */
	if (n == 0 && (db_intent_clear(ms->db, ms->idx, &e) < 0 ||
	    db_commit(ms->db, &e) < 0))
		return ms_db_fail(ms, &e);
	return 0;
}

/* ---- recovery ---- */

/* A side's messages as the recovery's FETCHes give them: of the source,
 * the recorded ones (rows' UIDs), fed to their rows; of the target, from
 * the lowest recorded UIDNEXT on, less those in a pair, offered to the
 * rows as they come (nothing kept but the rows' counts). */
struct look {
	struct intent_row *rows;  /* sorted by source UID */
	size_t n;
	bool target;
	uint32_t from;            /* target: the lowest UIDNEXT */
	struct uidset *mapped;    /* target: UIDs in a pair, no candidates */
};

static int
look_own(struct ms_cmd *q, const struct imap_resp *r, struct err *err)
{
	struct look *l = q->ctx;
	const unsigned need = IMAP_FETCH_UID | IMAP_FETCH_SIZE |
	    IMAP_FETCH_INTERNALDATE | (l->target ? IMAP_FETCH_FLAGS : 0);
	struct intent_row *row;
	struct intent_msg m;
	struct imap_fetch f;
	char *flags = NULL, *msgid;

	if (imap_data_kind(r) != IMAP_DATA_FETCH)
		return 0;
	if (imap_fetch_parse(r, &f, err) < 0) {
		err_prefix(err, "%s", imapc_name(q->b->c));
		return ms_fail_err(q->b->ms, q->b->s->name, q->b->s->mailbox,
		    err);
	}
	/* Anything else (a flag change of another message) is the
	 * caches'. */
	if ((f.have & need) != need || !imap_fetch_item(r, MSGID_ITEM))
		return 0;
	ms_observe_fetch(q->b, &f);
	memset(&m, 0, sizeof(m));
	m.uid = f.uid;
	m.size = f.size;
	if (imap_date_parse(f.internaldate, &m.when, NULL) < 0)
		return 1;
	if (!l->target) {
		if ((row = intent_row_find(l->rows, l->n, f.uid)) != NULL) {
			m.msgid = msgid = fetch_msgid(r);
			intent_row_source(row, &m);
			free(msgid);
		}
		return 1;
	}
	if (f.uid < l->from || uidset_has(l->mapped, f.uid))
		return 1;
	m.flags = flags = ms_flags_norm(&f.flags);
	m.msgid = msgid = fetch_msgid(r);
	intent_offer(l->rows, l->n, &m);
	free(flags);
	free(msgid);
	return 1;
}

/* Submits the FETCHes of set on b, its responses to look_own(l). */
static int
look_submit(struct ms_box *b, struct uidset *set, const char *items,
    struct look *l)
{
	struct err e;

	uidset_normalise(set);
	for (size_t pos = 0; pos < set->n;) {
		struct imap_cmd *cmd;
		if (imap_verb_uid_fetch(set, &pos, items, IMAP_VERB_NO_MODSEQ,
		    false, &cmd, &e) < 0)
			return ms_box_fail(b, e.kind, "%s", e.msg);
		ms_submit(b, cmd, look_own, l);
	}
	return 0;
}

/* The source's messages of l's rows (of target t), asked for on the
 * other side; set holds their UIDs (caller's, freed by it). */
static int
look_source(struct ms *ms, int t, struct look *l, struct uidset *set)
{
	for (size_t i = 0; i < l->n; i++)
		uidset_add(set, l->rows[i].suid, l->rows[i].suid);
	return look_submit(&ms->b[1 - t], set, "(UID RFC822.SIZE INTERNALDATE "
	    MSGID_FETCH ")", l);
}

/* The target's messages from l's lowest UIDNEXT on, asked for on target
 * t; set and mapped (caller's, freed by it) are filled here. */
static int
look_target(struct ms *ms, int t, struct look *l, struct uidset *set,
    struct uidset *mapped)
{
	struct ms_box *b = &ms->b[t];
	struct db_pair *pairs = NULL;
	size_t np = 0;
	struct err e;

	l->target = true;
	l->from = UINT32_MAX;
	l->mapped = mapped;
	for (size_t i = 0; i < l->n; i++)
		if (l->rows[i].uidnext < l->from)
			l->from = l->rows[i].uidnext;
	if (l->from == 0)
		l->from = 1;
	/* 2^32-1, not "*": "*" is the highest UID even below l->from. */
	uidset_add(set, l->from, UINT32_MAX);
	if (db_map_find(ms->db, ms->idx, b->s->side, set, &pairs, &np,
	    &e) < 0)
		return ms_db_fail(ms, &e);
	for (size_t i = 0; i < np; i++) {
		uint32_t u = b->s->side == DB_LOCAL ? pairs[i].luid
						    : pairs[i].ruid;
		uidset_add(mapped, u, u);
	}
	free(pairs);
	uidset_normalise(mapped);
	return look_submit(b, set, "(UID RFC822.SIZE INTERNALDATE FLAGS "
	    MSGID_FETCH ")", l);
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
	struct look l[2];
	struct uidset set[2] = {UIDSET_INIT, UIDSET_INIT};
	struct uidset mapped[2] = {UIDSET_INIT, UIDSET_INIT};
	uint32_t cur[2];
	size_t n = 0, k = 0, made = 0, got;
	bool pending;
	struct err e;
	int rc = -1;

	if (ms_intent_pending(ms, &pending) < 0)
		return -1;
	if (!pending)
		return 0;
	current(ms, true, cur);
	if (db_intent_get_valid(ms->db, ms->idx, st, cur, &v, &n, &e) < 0) {
		ms_db_fail(ms, &e);
		goto out;
	}
	/* The rows of each target, by source UID (as read). */
	rows = xcalloc(n ? n : 1, sizeof(*rows));
	for (int t = 0; t < 2; t++) {
		l[t].rows = rows + k;
		l[t].target = false;
		for (size_t i = 0; i < n; i++)
			if (v[i].target == ms->b[t].s->side)
				intent_row_init(&rows[k++], &v[i]);
		l[t].n = (size_t)(rows + k - l[t].rows);
	}
	/* The sources first (what their messages are), then the targets
	 * (offered as they come): both sides at once each time. */
	for (int t = 0; t < 2; t++)
		if (l[t].n > 0 && look_source(ms, t, &l[t], &set[1 - t]) < 0)
			goto wait;
	if (ms_wait(ms) < 0)
		goto wait;
	ms_cmds_free(ms);
	for (int t = 0; t < 2; t++) {
		uidset_clear(&set[t]);
		if (l[t].n > 0 && look_target(ms, t, &l[t], &set[t],
		    &mapped[t]) < 0)
			goto wait;
	}
	if (ms_wait(ms) < 0)
		goto wait;
	ms_cmds_free(ms);
	for (int t = 0; t < 2; t++) {
		if (l[t].n == 0)
			continue;
		if (pair_up(ms, &ms->b[t], l[t].rows, l[t].n, &got) < 0)
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
	goto out;
wait:
	/* Nothing of ours may run once l is gone. */
	ms_wait(ms);
	ms_cmds_free(ms);
out:
	for (size_t i = 0; i < k; i++)
		intent_row_free(&rows[i]);
	for (int t = 0; t < 2; t++) {
		uidset_free(&set[t]);
		uidset_free(&mapped[t]);
	}
	db_intents_free(v, n);
	free(rows);
	return rc;
}
