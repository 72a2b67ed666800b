/* The matching of copies made before an interruption (intent.h). */
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_data.h"
#include "intent.h"

char *
intent_msgid(const char *p, size_t len)
{
	char *s, *o;
	bool space = false;

	if (!p || memchr(p, '\0', len))
		return NULL;
	o = s = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o != s;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = false;
		*o++ = c;
	}
	*o = '\0';
	if ((size_t)(o - s) > INTENT_MSGID_MAX) {
		free(s);
		return NULL;
	}
	return s;
}

void
intent_row_init(struct intent_row *r, const struct db_intent *x)
{
	memset(r, 0, sizeof(*r));
	r->suid = x->suid;
	r->uidnext = x->uidnext;
	r->size = x->size;
	r->flags = x->flags;
	r->dated = imap_date_parse(x->date, &r->when, NULL) == 0;
}

void
intent_row_free(struct intent_row *r)
{
	free(r->msgid);
	r->msgid = NULL;
}

struct intent_row *
intent_row_find(struct intent_row *v, size_t n, uint32_t suid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].suid == suid)
			return &v[mid];
		if (v[mid].suid < suid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
intent_row_source(struct intent_row *r, const struct intent_msg *m)
{
	intent_row_free(r);
	r->seen = r->dated && m->size == r->size && m->when == r->when;
	if (r->seen && m->msgid)
		r->msgid = xstrdup(m->msgid);
}

bool
intent_same(const struct intent_row *r, const struct intent_msg *m)
{
	if (!r->seen || !r->msgid || !m->msgid || m->uid < r->uidnext ||
	    m->size != r->size || m->when != r->when ||
	    strcmp(m->msgid, r->msgid) != 0)
		return false;
	/* Without Message-ID, the flags the APPEND set. */
	return r->msgid[0] != '\0' ||
	    (m->flags && strcasecmp(m->flags, r->flags) == 0);
}

void
intent_offer(struct intent_row *v, size_t n, const struct intent_msg *m)
{
	size_t first = n, k = 0;

	for (size_t i = 0; i < n; i++) {
		if (!intent_same(&v[i], m))
			continue;
		if (v[i].ncand++ == 0)
			v[i].cand = m->uid;
		if (k++ == 0) {
			first = i;
		} else {
			v[first].shared = true;
			v[i].shared = true;
		}
	}
}

uint32_t
intent_match(const struct intent_row *r)
{
	return r->ncand == 1 && !r->shared ? r->cand : 0;
}

bool
intent_valid(const struct db_intent *x, const struct db_state st[2],
    const uint32_t cur[2], bool suid_mapped)
{
	int t = x->target == DB_LOCAL ? 0 : 1, s = 1 - t;

	if (x->uidvalidity != st[t].uidvalidity ||
	    x->s_uidvalidity != st[s].uidvalidity ||
	    (cur[t] != 0 && cur[t] != x->uidvalidity) ||
	    (cur[s] != 0 && cur[s] != x->s_uidvalidity))
		return false;
	/* A sync that completed since moved the database's UIDNEXTs to the
	 * servers': the source's past the message, the target's past the
	 * one recorded once anything came there. A --repair's copy is of a
	 * message below the source's UIDNEXT from the start: only the
	 * target's tells for it. */
	return !suid_mapped &&
	    (x->suid >= st[s].uidnext || x->uidnext >= st[t].uidnext);
}
