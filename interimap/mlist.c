#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "imap_cmd.h"
#include "imap_data.h"
#include "ilog.h"
#include "log.h"
#include "mlist.h"

void
mlist_init(struct mlist *ml)
{
	memset(ml, 0, sizeof(*ml));
}

static void
side_free(struct mlist_side *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		free(ls->v[i].wire);
		free(ls->v[i].name);
	}
	free(ls->v);
	memset(ls, 0, sizeof(*ls));
}

void
mlist_free(struct mlist *ml)
{
	side_free(&ml->side[0]);
	side_free(&ml->side[1]);
}

void
mlist_mbx_free(struct mlist_mbx *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].wire[0]);
		free(v[i].wire[1]);
	}
	free(v);
}

/* ---- names ---- */

int
mlist_unname(const char *ref, char delim, const char *wire, size_t wlen,
    char **name_r, size_t *len_r)
{
	size_t rlen = strlen(ref);
	char *name;

	if (wlen < rlen || memcmp(wire, ref, rlen) != 0)
		return 0;
	name = xmalloc(wlen - rlen + 1);
	memcpy(name, wire + rlen, wlen - rlen);
	name[wlen - rlen] = '\0';
	if (delim != '\0')
		for (size_t i = 0; i < wlen - rlen; i++)
			if (name[i] == delim)
				name[i] = '\0';
	*name_r = name;
	*len_r = wlen - rlen;
	return 1;
}

char *
mlist_wire(const char *ref, char delim, const char *name, size_t len)
{
	size_t rlen = strlen(ref);
	char *w;

	if (delim == '\0' && memchr(name, '\0', len) != NULL)
		return NULL;
	w = xmalloc(rlen + len + 1);
	memcpy(w, ref, rlen);
	for (size_t i = 0; i < len; i++)
		w[rlen + i] = name[i] == '\0' ? delim : name[i];
	w[rlen + len] = '\0';
	return w;
}

char *
mlist_pretty(const struct side *local, const char *name, size_t len)
{
	return mlist_wire("", local->delim, name, len);
}

const char *
mlist_delim_str(char delim, char buf[5])
{
	if (delim == '\0')
		return strcpy(buf, "NIL");
	if (delim == '"' || delim == '\\')
		snprintf(buf, 5, "\"\\%c\"", delim);
	else
		snprintf(buf, 5, "\"%c\"", delim);
	return buf;
}

/* ---- listing ---- */

static int
wire_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	return c != 0 ? c : alen < blen ? -1 : alen > blen;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct mlist_entry *x = a, *y = b;
	return wire_cmp(x->wire, x->wlen, y->wire, y->wlen);
}

const struct mlist_entry *
mlist_find(const struct mlist *ml, int side, const char *wire)
{
	const struct mlist_side *ls = &ml->side[side];
	struct mlist_entry key;

	if (wire == NULL || ls->n == 0)
		return NULL;
	key.wire = (char *)(uintptr_t)wire;
	key.wlen = strlen(wire);
	return bsearch(&key, ls->v, ls->n, sizeof(key), entry_cmp);
}

bool
mlist_exists(const struct mlist_entry *e)
{
	return e != NULL &&
	    !(e->attrs & (IMAP_LIST_NONEXISTENT | IMAP_LIST_NOSELECT));
}

bool
mlist_subscribed(const struct mlist_entry *e)
{
	return e != NULL && (e->attrs & IMAP_LIST_SUBSCRIBED);
}

static bool
is_inbox(const char *name, size_t len)
{
	return len == 5 && strncasecmp(name, "INBOX", 5) == 0;
}

/* What one LIST command brought goes into a struct mlist_collect
 * (mlist.h). Entries come in the server's order, a STATUS right after its
 * LIST (RFC 5819 §1 does not promise it, hence the search when it is not
 * so); duplicates are merged afterwards. */
static struct mlist_entry *
entry_for(struct mlist_side *ls, const char *name, size_t len, bool add)
{
	for (size_t i = ls->n; i-- > 0;) {
		struct mlist_entry *e = &ls->v[i];
		if (e->wlen == len && memcmp(e->wire, name, len) == 0)
			return e;
		/* A STATUS follows its LIST: look further only for STATUS. */
		if (add)
			break;
	}
	if (!add)
		return NULL;
	ls->v = xgrow(ls->v, &ls->cap, ls->n + 1, sizeof(*ls->v));
	memset(&ls->v[ls->n], 0, sizeof(ls->v[0]));
	ls->v[ls->n].wire = xmalloc(len + 1);
	memcpy(ls->v[ls->n].wire, name, len);
	ls->v[ls->n].wire[len] = '\0';
	ls->v[ls->n].wlen = len;
	return &ls->v[ls->n++];
}

static int
collect_untagged(void *ctx, const struct imap_resp *r, struct err *err)
{
	struct mlist_collect *c = ctx;
	struct imap_list l;
	struct imap_status st;
	int rc;

	if ((rc = imap_list_parse(r, &l, err)) != 0) {
		const char *name = l.mailbox;
		struct mlist_entry *e;
		if (rc < 0 || l.lsub)
			return rc < 0 ? -1 : 0;
		if (is_inbox(name, l.mailbox_len))
			name = "INBOX";
		c->lists++;
		if (c->lists == 1)
			c->first_delim = l.delim;
		if (c->ls == NULL)
			return 1;
		e = entry_for(c->ls, name, l.mailbox_len, true);
		e->delim = l.delim;
		e->attrs = l.attrs;
		return 1;
	}
	if ((rc = imap_status_parse(r, &st, err)) != 0) {
		const char *name = st.mailbox;
		unsigned need = IMAP_STATUS_UIDVALIDITY | IMAP_STATUS_UIDNEXT |
		    IMAP_STATUS_HIGHESTMODSEQ;
		struct mlist_entry *e;
		if (rc < 0)
			return -1;
		if (is_inbox(name, st.mailbox_len))
			name = "INBOX";
		if (c->ls == NULL ||
		    !(e = entry_for(c->ls, name, st.mailbox_len, false)))
			return 1; /* a STATUS for a name not listed: dropped */
		e->st.have = (st.have & need) == need;
		e->st.uidvalidity = st.uidvalidity;
		e->st.uidnext = st.uidnext;
		e->st.highestmodseq = st.highestmodseq;
		return 1;
	}
	return 0;
}

/* Sorts ls by wire name; of two entries for one name (a server that
 * repeats itself), the later LIST wins, and a STATUS from either. */
static void
sort_merge(struct mlist_side *ls)
{
	size_t o = 0;

	if (ls->n == 0)
		return;
	/* qsort is not stable: rank the duplicates by position first. */
	for (size_t i = 0; i < ls->n; i++)
		ls->v[i].len = i;
	qsort(ls->v, ls->n, sizeof(ls->v[0]), entry_cmp);
	for (size_t i = 0; i < ls->n; i++) {
		struct mlist_entry *e = &ls->v[i];
		if (o > 0 && entry_cmp(&ls->v[o - 1], e) == 0) {
			struct mlist_entry *k = &ls->v[o - 1];
			bool later = e->len > k->len;
			if (later) {
				k->attrs = e->attrs;
				k->delim = e->delim;
			}
			if (e->st.have && (later || !k->st.have))
				k->st = e->st;
			free(e->wire);
			continue;
		}
		ls->v[o++] = *e;
	}
	ls->n = o;
	for (size_t i = 0; i < ls->n; i++)
		ls->v[i].len = 0;
}

/* LIST REF "": the side's delimiter (I:237-252 of the reference). */
static int
ask_delimiter(struct side *s, struct ierr *ie)
{
	struct mlist_collect c = { NULL, 0, '\0' };
	struct imapc_handlers h = { collect_untagged, NULL, NULL, NULL, &c };
	struct imap_cmd *cmd = imap_cmd_new("LIST");
	const char *ref = s->conf->list_reference;
	struct err err;
	int rc;

	if (imap_cmd_astring(cmd, ref, strlen(ref), &err) < 0) {
		imap_cmd_free(&cmd);
		return ierr_wrap(ie, s->name, &err);
	}
	imap_cmd_string(cmd, "", 0, &err);
	if ((rc = side_run(s, cmd, &h, ie)) < 0)
		return -1;
	if (rc > 0)
		return ierr_fail(ie, s->name, "LIST: %s", s->refusal);
	if (c.lists != 1)
		return ierr_fail(ie, s->name, "Missing or unexpected "
		    "(unsolicited) LIST response.");
	s->delim = c.first_delim;
	s->delim_known = true;
	return 0;
}

/* A pattern as the reference quotes it: an atom when it is ASTRING-CHARs
 * (so the wildcards are quoted), else a quoted string or a literal; sent
 * as written (already modified UTF-7: no conversion, unlike
 * imap_cmd_list_mailbox()). */
static int
add_pattern(struct imap_cmd *cmd, const char *p, size_t len,
    struct err *err)
{
	return imap_cmd_astring(cmd, p, len, err);
}

/* The LIST command of one side. pat holds the patterns as they go out
 * (NULs already replaced). */
static int
list_cmd(struct side *s, char **pat, const size_t *patlen, size_t npat,
    const struct mlist_opts *o, struct imap_cmd **cmd_r, struct ierr *ie)
{
	const char *ref = s->conf->list_reference;
	struct imap_cmd *cmd = imap_cmd_new("LIST");
	struct err err;

	if (o->select_opts && *o->select_opts) {
		char *t = xasprintf("(%s)", o->select_opts);
		imap_cmd_raw(cmd, t);
		free(t);
	}
	if (imap_cmd_astring(cmd, ref, strlen(ref), &err) < 0)
		goto bad;
	if (npat == 0) {
		imap_cmd_raw(cmd, "*");
	} else if (npat == 1) {
		if (add_pattern(cmd, pat[0], patlen[0], &err) < 0)
			goto bad;
	} else {
		imap_cmd_list_open(cmd);
		for (size_t i = 0; i < npat; i++)
			if (add_pattern(cmd, pat[i], patlen[i], &err) < 0)
				goto bad;
		imap_cmd_list_close(cmd);
	}
	if (o->ret)
		imap_cmd_raw(cmd, o->status ? "RETURN (SUBSCRIBED STATUS "
		    "(UIDVALIDITY UIDNEXT HIGHESTMODSEQ))" :
		    "RETURN (SUBSCRIBED)");
	*cmd_r = cmd;
	return 0;

bad:
	imap_cmd_free(&cmd);
	return ierr_wrap(ie, s->name, &err);
}

/* The end of a LIST: rc as side_run() returns it. */
static int
list_end(struct side *s, struct mlist_side *ls, int rc, struct ierr *ie)
{
	if (rc < 0)
		return -1;
	if (rc > 0)
		return ierr_fail(ie, s->name, "LIST: %s", s->refusal);
	sort_merge(ls);
	return 0;
}

/* The LIST of one side. */
static int
list_side(struct side *s, struct mlist_side *ls, char **pat,
    const size_t *patlen, size_t npat, const struct mlist_opts *o,
    struct ierr *ie)
{
	struct mlist_collect c = { ls, 0, '\0' };
	struct imapc_handlers h = { collect_untagged, NULL, NULL, NULL, &c };
	struct imap_cmd *cmd;

	if (list_cmd(s, pat, patlen, npat, o, &cmd, ie) < 0)
		return -1;
	return list_end(s, ls, side_run(s, cmd, &h, ie), ie);
}

int
mlist_delim_of(const struct mlist_side *ls, char *delim_r)
{
	/* ls is sorted: the first name but INBOX is the alphabetically
	 * first (the reference sorts the names as Perl strings: bytes). */
	for (size_t i = 0; i < ls->n; i++) {
		if (strcmp(ls->v[i].wire, "INBOX") == 0)
			continue;
		*delim_r = ls->v[i].delim;
		return 1;
	}
	return 0;
}

const struct mlist_entry *
mlist_delim_mismatch(const struct mlist_side *ls, char delim)
{
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->v[i].wire, "INBOX") != 0 &&
		    ls->v[i].delim != delim)
			return &ls->v[i];
	return NULL;
}

/* The delimiter from the listing, then the check of every name against
 * it (INBOX aside), then the internal names. */
static int
delimiters(struct side *s, struct mlist_side *ls, struct ierr *ie)
{
	const char *ref = s->conf->list_reference;
	const struct mlist_entry *bad;
	char a[5], b[5];

	if (!s->delim_known) {
		if (mlist_delim_of(ls, &s->delim))
			s->delim_known = true;
		else if (ask_delimiter(s, ie) < 0)
			return -1;
	}
	if ((bad = mlist_delim_mismatch(ls, s->delim)) != NULL)
		return ierr_fail(ie, s->name, "Mailbox %s has hierarchy "
		    "delimiter %s, while %s was expected.", bad->wire,
		    mlist_delim_str(bad->delim, a), mlist_delim_str(s->delim,
		    b));
	for (size_t i = 0; i < ls->n; i++) {
		struct mlist_entry *e = &ls->v[i];
		mlist_unname(ref, s->delim, e->wire, e->wlen, &e->name, &e->len);
	}
	return 0;
}

/* A hierarchy cannot be mirrored into a flat namespace (I:323). */
static int
same_kind(struct side *s[2], struct ierr *ie)
{
	char a[5], b[5];

	if ((s[0]->delim == '\0') == (s[1]->delim == '\0'))
		return 0;
	return ierr_fail(ie, NULL, "Local and remote namespaces are neither "
	    "both flat nor both hierarchical (local %s, remote %s).",
	    mlist_delim_str(s[0]->delim, a), mlist_delim_str(s[1]->delim, b));
}

/* The side's delimiter from its listing, logged when it was not known
 * before the listing (was_known). */
static int
side_delimiter(struct side *sd, struct mlist_side *ls, bool was_known,
    struct ierr *ie)
{
	char a[5];

	if (delimiters(sd, ls, ie) < 0)
		return -1;
	if (!was_known)
		log_at(LOG_DEBUG, ilog_prefix(sd->name, NULL), "Using %s as "
		    "hierarchy delimiter", mlist_delim_str(sd->delim, a));
	return 0;
}

/* Sends side k's LIST of "*" into e, its replies into ml. 0, or -1 with
 * ie (the command could not be built). */
static int
list_send(struct mlist_early *e, struct mlist *ml, struct side *s, int k,
    const struct mlist_opts *o, struct ierr *ie)
{
	struct imap_cmd *cmd;

	e->known[k] = s->delim_known;
	e->c[k] = (struct mlist_collect){ &ml->side[k], 0, '\0' };
	e->h[k] = (struct imapc_handlers){ collect_untagged, NULL, NULL, NULL,
		&e->c[k] };
	if (list_cmd(s, NULL, NULL, 0, o, &cmd, ie) < 0)
		return -1;
	side_start(s, cmd, &e->h[k], &e->q[k]);
	e->sent[k] = true;
	return 0;
}

/* Without patterns ("*") neither LIST needs the other's answer: both go
 * at once (or went early: e), and are read local first, as the
 * reference sends them. */
static int
list_both(struct mlist *ml, struct side *s[2], const struct mlist_opts *o,
    struct mlist_early *e, struct ierr *ie)
{
	struct mlist_early own;
	int k;

	if (e == NULL) {
		memset(&own, 0, sizeof(own));
		e = &own;
	}
	for (k = 0; k < 2; k++)
		if (!e->sent[k] && list_send(e, ml, s[k], k, o, ie) < 0)
			break;
	/* The outcomes say what failed. */
	(void)side_wait(s, (size_t)k);
	if (k < 2)
		return -1;
	for (k = 0; k < 2; k++)
		if (list_end(s[k], &ml->side[k], side_result(&e->q[k], ie),
		    ie) < 0 || side_delimiter(s[k], &ml->side[k], e->known[k],
		    ie) < 0)
			return -1;
	return same_kind(s, ie);
}

void
mlist_early_init(struct mlist_early *e, struct mlist *ml,
    const struct mlist_opts *o)
{
	memset(e, 0, sizeof(*e));
	e->ml = ml;
	e->o = o;
}

void
mlist_list_early(struct mlist_early *e, struct side *s, int k)
{
	struct ierr ie;

	if (e->o->npat != 0 || e->sent[k] ||
	    !imapc_capable(s->imap, "LIST-EXTENDED") ||
	    (e->o->status && !imapc_capable(s->imap, "LIST-STATUS")))
		return;
	memset(&ie, 0, sizeof(ie));
	/* (a failure to build it is list_both()'s to report) */
	(void)list_send(e, e->ml, s, k, e->o, &ie);
}

int
mlist_list(struct mlist *ml, struct side *s[2], const struct mlist_opts *o,
    struct mlist_early *e, struct ierr *ie)
{
	char **pat;
	bool nul = false;
	int rc = -1;

	if (e != NULL && (e->sent[0] || e->sent[1]))
		return list_both(ml, s, o, e, ie);
	mlist_free(ml);
	if (o->npat == 0)
		return list_both(ml, s, o, NULL, ie);
	pat = xcalloc(o->npat + 1, sizeof(*pat));
	for (size_t i = 0; i < o->npat; i++) {
		pat[i] = xmalloc(o->patlen[i] + 1);
		memcpy(pat[i], o->pat[i], o->patlen[i]);
		pat[i][o->patlen[i]] = '\0';
		nul = nul || memchr(pat[i], '\0', o->patlen[i]) != NULL;
	}
	for (int k = 0; k < 2; k++) {
		struct side *sd = s[k];
		bool was_known = sd->delim_known;
		/* The patterns hold NULs for the delimiter: on the local
		 * side those of the configuration, on the remote one also
		 * the local delimiters (below). */
		if (k == 1 && s[0]->delim != '\0') {
			for (size_t i = 0; i < o->npat; i++)
				for (size_t j = 0; j < o->patlen[i]; j++)
					if (pat[i][j] == s[0]->delim) {
						pat[i][j] = '\0';
						nul = true;
					}
		}
		if (nul) {
			char **out = xcalloc(o->npat + 1, sizeof(*out));
			if (!sd->delim_known && ask_delimiter(sd, ie) < 0) {
				free(out);
				goto out;
			}
			if (sd->delim == '\0') {
				free(out);
				ierr_fail(ie, sd->name, "Mailbox name contains "
				    "null characters but the namespace is "
				    "flat!");
				goto out;
			}
			for (size_t i = 0; i < o->npat; i++) {
				out[i] = xmalloc(o->patlen[i] + 1);
				for (size_t j = 0; j < o->patlen[i]; j++)
					out[i][j] = pat[i][j] == '\0' ?
					    sd->delim : pat[i][j];
				out[i][o->patlen[i]] = '\0';
			}
			rc = list_side(sd, &ml->side[k], out, o->patlen,
			    o->npat, o, ie);
			for (size_t i = 0; i < o->npat; i++)
				free(out[i]);
			free(out);
		} else {
			rc = list_side(sd, &ml->side[k], pat, o->patlen,
			    o->npat, o, ie);
		}
		if (rc < 0 ||
		    (rc = side_delimiter(sd, &ml->side[k], was_known, ie)) < 0)
			goto out;
	}
	rc = same_kind(s, ie);
out:
	for (size_t i = 0; i < o->npat; i++)
		free(pat[i]);
	free(pat);
	return rc;
}

/* ---- the synchronisation ---- */

/* An internal name of the union. */
struct uname {
	const char *name;
	size_t len;
};

static int
uname_cmp(const void *a, const void *b)
{
	const struct uname *x = a, *y = b;
	return wire_cmp(x->name, x->len, y->name, y->len);
}

/* One name of the union, looked up on both sides the reference's way:
 * through its wire name there. */
struct pair {
	char *wire[2];
	const struct mlist_entry *e[2];
	bool exists[2];
};

static void
pair_get(const struct mlist *ml, struct side *s[2], const struct uname *u,
    struct pair *p)
{
	for (int k = 0; k < 2; k++) {
		p->wire[k] = mlist_wire(s[k]->conf->list_reference,
		    s[k]->delim, u->name, u->len);
		p->e[k] = mlist_find(ml, k, p->wire[k]);
		p->exists[k] = mlist_exists(p->e[k]);
	}
}

static void
pair_free(struct pair *p)
{
	free(p->wire[0]);
	free(p->wire[1]);
}

/* The union of the internal names, sorted, without duplicates, ignored
 * names left out. The strings are ml's. */
static int
union_names(const struct mlist *ml, const struct mbfilter *f, bool cli,
    struct uname **v_r, size_t *n_r, struct ierr *ie)
{
	size_t n = 0, o = 0;
	struct uname *v = xcalloc(ml->side[0].n + ml->side[1].n + 1,
	    sizeof(*v));
	struct err err;

	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < ml->side[k].n; i++) {
			const struct mlist_entry *e = &ml->side[k].v[i];
			int rc = 0;
			if (e->name == NULL)
				continue;
			if (!cli && (rc = mbfilter_ignored(f, e->name, e->len,
			    &err)) < 0) {
				free(v);
				return ierr_wrap(ie, NULL, &err);
			}
			if (rc == 0)
				v[n++] = (struct uname){ e->name, e->len };
		}
	}
	qsort(v, n, sizeof(*v), uname_cmp);
	for (size_t i = 0; i < n; i++)
		if (o == 0 || uname_cmp(&v[o - 1], &v[i]) != 0)
			v[o++] = v[i];
	*v_r = v;
	*n_r = o;
	return 0;
}

static int
db_fail(struct ierr *ie, const struct err *err)
{
	return ierr_wrap(ie, NULL, err);
}

/* "database: Created mailbox X" and the row. */
static int
add_mailbox(struct db *db, struct side *local, const struct uname *u,
    bool subscribed, int64_t *idx_r, struct ierr *ie)
{
	struct err err;
	char *pretty;

	if (db_mailbox_add(db, u->name, u->len, subscribed, idx_r, &err) < 0)
		return db_fail(ie, &err);
	pretty = mlist_pretty(local, u->name, u->len);
	log_at(LOG_NOTICE, ilog_prefix("database", NULL), "Created mailbox %s",
	    pretty);
	free(pretty);
	return 0;
}

/* Names whose commands may be in flight ahead of the one being
 * recorded: enough to keep both servers busy, few enough that a failure
 * (which stops the sequential run where it happens) leaves little done
 * beyond it: mailboxes created or subscriptions changed that the next
 * run finds on both sides and records. */
#define AHEAD 64

/* One name of the union (§4.4, I:664-721): what is to be done, decided
 * from the listings and the database before anything is sent, and the
 * commands sent ahead. */
struct plan {
	const struct uname *u;
	struct pair p;
	int known;
	int64_t idx;
	bool dbsub;
	bool sub[2];
	/* The commands, in the order their lines come (allocated while
	 * they are in flight: a side_cmd is a kilobyte). */
	struct pop {
		int side;
		bool create;      /* else SUBSCRIBE (sub) or UNSUBSCRIBE */
		bool sub;
		struct side_cmd q;
	} *op;
	size_t nop;
};

static void
plan_op(struct plan *pl, int side, bool create, bool sub)
{
	struct pop *o;

	if (pl->op == NULL)
		pl->op = xcalloc(2, sizeof(*pl->op));
	o = &pl->op[pl->nop++];

	o->side = side;
	o->create = create;
	o->sub = sub;
}

/* Decides what the name needs (the cases of sync_one()). */
static int
plan_name(struct db *db, const struct uname *u, struct plan *pl,
    struct ierr *ie)
{
	struct pair *p = &pl->p;
	struct err err;

	pl->u = u;
	pl->sub[0] = mlist_subscribed(p->e[0]);
	pl->sub[1] = mlist_subscribed(p->e[1]);
	if ((pl->known = db_mailbox_get(db, u->name, u->len, &pl->idx,
	    &pl->dbsub, &err)) < 0)
		return db_fail(ie, &err);
	if (p->exists[0] && p->exists[1]) {
		if (pl->known && pl->sub[0] != pl->sub[1]) {
			/* One side changed since the last run: the database
			 * says which. */
			int k = pl->dbsub ? (pl->sub[0] ? 0 : 1) :
			    (pl->sub[0] ? 1 : 0);
			plan_op(pl, k, false, !pl->dbsub);
		} else if (!pl->known) {
			for (int k = 0; k < 2; k++)
				if ((pl->sub[0] || pl->sub[1]) && !pl->sub[k])
					plan_op(pl, k, false, true);
		}
	} else {
		/* On one side only, unknown (known was refused before).
		 * Only the leaf: the server makes the parents it needs. */
		int k = p->exists[0] ? 0 : 1, o = 1 - k;
		plan_op(pl, o, true, false);
		if (pl->sub[k])
			plan_op(pl, o, false, true);
	}
	return 0;
}

static void
plan_send(struct side *s[2], struct plan *pl)
{
	for (size_t i = 0; i < pl->nop; i++) {
		struct pop *o = &pl->op[i];
		const char *wire = pl->p.wire[o->side];
		if (o->create)
			side_create_start(s[o->side], wire, &o->q);
		else
			side_subscribe_start(s[o->side], wire, o->sub, &o->q);
	}
}

/* The outcome of the name's i-th command, once it is done. */
static int
plan_end(struct side *s[2], struct plan *pl, size_t i, struct ierr *ie)
{
	struct pop *o = &pl->op[i];
	const char *wire = pl->p.wire[o->side];

	(void)side_wait_for(s, 2, &o->q);
	if (o->create)
		return side_create_end(&o->q, wire, ie);
	return side_subscribe_end(&o->q, wire, o->sub, ie);
}

/* Records the name as the reference does, its commands' outcomes read as
 * their lines come, and commits. */
static int
sync_one(struct db *db, struct side *s[2], struct plan *pl,
    struct mlist_mbx *m, struct ierr *ie)
{
	struct pair *p = &pl->p;
	const struct uname *u = pl->u;
	bool dbsub = pl->dbsub;
	int64_t idx = pl->idx;
	struct err err;

	if (p->exists[0] && p->exists[1]) {
		if (pl->known && pl->sub[0] != pl->sub[1]) {
			if (plan_end(s, pl, 0, ie) < 0)
				return -1;
			dbsub = !dbsub;
			if (db_mailbox_set_subscribed(db, idx, dbsub, &err) < 0)
				return db_fail(ie, &err);
		} else if (pl->known && pl->sub[0] != dbsub) {
			dbsub = pl->sub[0];
			if (db_mailbox_set_subscribed(db, idx, dbsub, &err) < 0)
				return db_fail(ie, &err);
		} else if (!pl->known) {
			dbsub = pl->sub[0] || pl->sub[1];
			if (add_mailbox(db, s[0], u, dbsub, &idx, ie) < 0)
				return -1;
		}
	} else {
		dbsub = pl->sub[p->exists[0] ? 0 : 1];
		if (add_mailbox(db, s[0], u, dbsub, &idx, ie) < 0)
			return -1;
	}
	/* What is left: the commands that follow the database line. */
	for (size_t i = pl->known && pl->sub[0] != pl->sub[1] ? 1 : 0;
	    i < pl->nop; i++)
		if (plan_end(s, pl, i, ie) < 0)
			return -1;
	if (db_commit(db, &err) < 0)
		return db_fail(ie, &err);

	m->name = xmalloc(u->len + 1);
	memcpy(m->name, u->name, u->len);
	m->name[u->len] = '\0';
	m->len = u->len;
	m->idx = idx;
	m->subscribed = dbsub;
	for (int k = 0; k < 2; k++) {
		m->wire[k] = p->wire[k];
		p->wire[k] = NULL;
		if (p->exists[k])
			m->st[k] = p->e[k]->st;
	}
	return 0;
}

int
mlist_sync(struct mlist *ml, struct side *s[2], struct db *db,
    const struct mbfilter *f, bool cli, struct mlist_mbx **v_r,
    size_t *n_r, struct ierr *ie)
{
	struct uname *u = NULL;
	struct mlist_mbx *v = NULL;
	struct plan *pl = NULL;
	size_t nu = 0, n = 0;
	struct err err;

	*v_r = NULL;
	*n_r = 0;
	if (union_names(ml, f, cli, &u, &nu, ie) < 0)
		return -1;
	v = xcalloc(nu + 1, sizeof(*v));

	/* A known mailbox that exists on one side only was deleted or
	 * renamed behind interimap's back: which, it cannot tell. Refused
	 * before anything changes (the reference stops where it meets it,
	 * after the changes of the names before it). */
	for (size_t i = 0; i < nu; i++) {
		struct pair p;
		int64_t idx;
		bool dbsub;
		int known = 0;
		pair_get(ml, s, &u[i], &p);
		if (p.exists[0] != p.exists[1] && (known = db_mailbox_get(db,
		    u[i].name, u[i].len, &idx, &dbsub, &err)) < 0) {
			pair_free(&p);
			db_fail(ie, &err);
			goto fail;
		}
		pair_free(&p);
		if (known > 0) {
			char *x = mlist_pretty(s[0], u[i].name, u[i].len);
			ierr_fail(ie, "database", "Mailbox %s exists. Run "
			    "`interimap --target=database --delete %s` to "
			    "delete.", x, x);
			free(x);
			goto fail;
		}
	}
	/* Each name in turn, the commands of the next ones in flight
	 * (AHEAD): both servers work while the lines and the database
	 * follow the reference's order. */
	pl = xcalloc(nu + 1, sizeof(*pl));
	for (size_t i = 0; i < nu; i++)
		pair_get(ml, s, &u[i], &pl[i].p);
	for (size_t i = 0, sent = 0; i < nu; i++) {
		int rc;
		for (; sent < nu && sent < i + AHEAD; sent++) {
			if (!pl[sent].p.exists[0] && !pl[sent].p.exists[1])
				continue;
			if (plan_name(db, &u[sent], &pl[sent], ie) < 0)
				goto fail;
			plan_send(s, &pl[sent]);
		}
		if (!pl[i].p.exists[0] && !pl[i].p.exists[1])
			continue;
		rc = sync_one(db, s, &pl[i], &v[n], ie);
		free(pl[i].op);
		pl[i].op = NULL;
		if (rc < 0) {
			db_rollback(db);
			goto fail;
		}
		n++;
	}
	/* Nothing left in flight (after a failure, what was sent ahead
	 * is let through: nothing of it is recorded). */
	(void)side_wait(s, 2);
	for (size_t i = 0; i < nu; i++) {
		pair_free(&pl[i].p);
		free(pl[i].op);
	}
	free(pl);
	free(u);
	*v_r = v;
	*n_r = n;
	return 0;

fail:
	if (pl != NULL) {
		(void)side_wait(s, 2);
		for (size_t i = 0; i < nu; i++) {
			pair_free(&pl[i].p);
			free(pl[i].op);
		}
		free(pl);
	}
	free(u);
	mlist_mbx_free(v, n);
	return -1;
}
