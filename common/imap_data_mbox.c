/* Typed views of the mailbox-level responses: LIST (RFC 5258), STATUS
 * (RFC 5819), SEARCH and ESEARCH, VANISHED, ENABLED, CAPABILITY. The
 * contract is in imap_data.h; the same care as imap_data.c. */

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "imap_data.h"
#include "imap_data_int.h"
#include "imap_parse.h"
#include "uidlist.h"

/* ---- LIST ---- */

static const struct {
	const char *name;
	enum imap_list_attr bit;
} list_attrs[] = {
	{"\\Noinferiors", IMAP_LIST_NOINFERIORS},
	{"\\Noselect", IMAP_LIST_NOSELECT},
	{"\\Marked", IMAP_LIST_MARKED},
	{"\\Unmarked", IMAP_LIST_UNMARKED},
	{"\\NonExistent", IMAP_LIST_NONEXISTENT},
	{"\\Subscribed", IMAP_LIST_SUBSCRIBED},
	{"\\Remote", IMAP_LIST_REMOTE},
	{"\\HasChildren", IMAP_LIST_HASCHILDREN},
	{"\\HasNoChildren", IMAP_LIST_HASNOCHILDREN},
};

/* RFC 5258 mbox-list-extended: "(" [item *(SP item)] ")" with item =
 * tag SP tagged-ext-val, tag an astring. */
static int
list_ext(const struct imap_arg *x, struct imap_list *l, const char *what,
    struct err *err)
{
	char b[64];
	size_t i, j;
	bool childinfo = false;

	if (x->type != IMAP_ARG_LIST || x->count % 2)
		return err_set(err, ERR_PROTO,
		    "%s: malformed extended data %s", what,
		    idata_show(x, b, sizeof(b)));
	for (i = 0; i < x->count; i += 2) {
		const struct imap_arg *t = &x->list[i], *v = &x->list[i + 1];
		if (t->type != IMAP_ARG_ATOM && !idata_is_string(t))
			return err_set(err, ERR_PROTO,
			    "%s: expected an extended item name, got %s", what,
			    idata_show(t, b, sizeof(b)));
		if (str_ieq(t->str, "CHILDINFO")) {
			/* "(" list-select-base-opt-quoted *(SP ...) ")" */
			if (childinfo || v->type != IMAP_ARG_LIST ||
			    v->count == 0)
				return err_set(err, ERR_PROTO,
				    "%s: malformed CHILDINFO", what);
			for (j = 0; j < v->count; j++) {
				if (!idata_is_string(&v->list[j]) &&
				    v->list[j].type != IMAP_ARG_ATOM)
					return err_set(err, ERR_PROTO,
					    "%s: malformed CHILDINFO", what);
				if (str_ieq(v->list[j].str, "SUBSCRIBED"))
					l->childinfo_subscribed = true;
			}
			childinfo = true;
		} else if (str_ieq(t->str, "OLDNAME")) {
			/* RFC 5465 §5.4: "OLDNAME" SP "(" mailbox ")" */
			if (l->oldname != NULL || v->type != IMAP_ARG_LIST ||
			    v->count != 1)
				return err_set(err, ERR_PROTO,
				    "%s: malformed OLDNAME", what);
			if (idata_mailbox(&v->list[0], &l->oldname,
			    &l->oldname_len, err, what) < 0)
				return -1;
		}
	}
	l->ext = x;
	return 0;
}

int
imap_list_parse(const struct imap_resp *r, struct imap_list *l_r,
    struct err *err)
{
	const char *what;
	const struct imap_arg *d;
	char b[64];
	size_t i, k;

	if (!idata_is_data(r, "LIST") && !idata_is_data(r, "LSUB"))
		return 0;
	memset(l_r, 0, sizeof(*l_r));
	l_r->lsub = str_ieq(r->name, "LSUB");
	what = l_r->lsub ? "LSUB" : "LIST";
	if (r->has_num || r->nargs < 3 || r->nargs > 4)
		return err_set(err, ERR_PROTO,
		    "%s: expected (attributes) delimiter mailbox [(data)]",
		    what);
	if (idata_atom_list(&r->args[0], &l_r->raw, err, what) < 0)
		return -1;
	for (i = 0; i < l_r->raw.n; i++) {
		const char *s = l_r->raw.v[i].str;
		/* mbx-list-flags: all are "\" atom (flag-extension). */
		if (s[0] != '\\' || s[1] == '\0')
			return err_set(err, ERR_PROTO,
			    "%s: attribute %s", what,
			    idata_show(&l_r->raw.v[i], b, sizeof(b)));
		for (k = 0; k < ARRAY_LEN(list_attrs); k++)
			if (str_ieq(s, list_attrs[k].name))
				l_r->attrs |= list_attrs[k].bit;
	}
	/* RFC 5258 §3: "The \NonExistent attribute implies \NoSelect." */
	if (l_r->attrs & IMAP_LIST_NONEXISTENT)
		l_r->attrs |= IMAP_LIST_NOSELECT;
	/* RFC 3501 §9: DQUOTE QUOTED-CHAR DQUOTE / nil; QUOTED-CHAR is a
	 * 7-bit TEXT-CHAR (the tokenizer has undone "\\" and "\""). */
	d = &r->args[1];
	if (d->type == IMAP_ARG_STRING && d->len == 1 &&
	    (unsigned char)d->str[0] >= 1 && (unsigned char)d->str[0] < 0x80 &&
	    d->str[0] != '\r' && d->str[0] != '\n')
		l_r->delim = d->str[0];
	else if (d->type != IMAP_ARG_NIL)
		return err_set(err, ERR_PROTO, "%s: delimiter %s", what,
		    idata_show(d, b, sizeof(b)));
	if (idata_mailbox(&r->args[2], &l_r->mailbox, &l_r->mailbox_len, err,
	    what) < 0)
		return -1;
	if (r->nargs == 4 && list_ext(&r->args[3], l_r, what, err) < 0)
		return -1;
	return 1;
}

/* ---- STATUS ---- */

/* Each item as errors name it, so that nothing is formatted per item (a
 * LIST-STATUS of every mailbox parses thousands); the name follows
 * "STATUS ". */
static const struct {
	const char *what;
	enum imap_status_have bit;
	enum numkind kind;
} status_items[] = {
	{"STATUS MESSAGES", IMAP_STATUS_MESSAGES, N_32},
	{"STATUS RECENT", IMAP_STATUS_RECENT, N_32},
	{"STATUS UIDNEXT", IMAP_STATUS_UIDNEXT, N_NZ32},
	{"STATUS UIDVALIDITY", IMAP_STATUS_UIDVALIDITY, N_NZ32},
	{"STATUS UNSEEN", IMAP_STATUS_UNSEEN, N_32},
	{"STATUS HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ, N_MODSEQ0},
	{"STATUS DELETED", IMAP_STATUS_DELETED, N_32},
	{"STATUS SIZE", IMAP_STATUS_SIZE, N_64},
};

int
imap_status_parse(const struct imap_resp *r, struct imap_status *s_r,
    struct err *err)
{
	const struct imap_arg *l;
	size_t i, k;

	if (!idata_is_data(r, "STATUS"))
		return 0;
	memset(s_r, 0, sizeof(*s_r));
	if (r->has_num || r->nargs != 2 || r->args[1].type != IMAP_ARG_LIST ||
	    r->args[1].count % 2)
		return err_set(err, ERR_PROTO,
		    "STATUS: expected mailbox (name value ...)");
	if (idata_mailbox(&r->args[0], &s_r->mailbox, &s_r->mailbox_len, err,
	    "STATUS") < 0)
		return -1;
	l = &r->args[1];
	for (i = 0; i < l->count; i += 2) {
		uint64_t v;
		const char *what;
		if (l->list[i].type != IMAP_ARG_ATOM)
			return err_set(err, ERR_PROTO,
			    "STATUS: expected an item name");
		for (k = 0; k < ARRAY_LEN(status_items); k++)
			if (str_ieq(l->list[i].str,
			    status_items[k].what + sizeof("STATUS ") - 1))
				break;
		if (k == ARRAY_LEN(status_items))
			continue;
		what = status_items[k].what;
		if (s_r->have & status_items[k].bit)
			return err_set(err, ERR_PROTO, "%s given twice", what);
		if (idata_num(&l->list[i + 1], status_items[k].kind, &v, err,
		    what) < 0)
			return -1;
		s_r->have |= status_items[k].bit;
		switch (status_items[k].bit) {
		case IMAP_STATUS_MESSAGES:
			s_r->messages = (uint32_t)v;
			break;
		case IMAP_STATUS_RECENT:
			s_r->recent = (uint32_t)v;
			break;
		case IMAP_STATUS_UIDNEXT:
			s_r->uidnext = (uint32_t)v;
			break;
		case IMAP_STATUS_UIDVALIDITY:
			s_r->uidvalidity = (uint32_t)v;
			break;
		case IMAP_STATUS_UNSEEN:
			s_r->unseen = (uint32_t)v;
			break;
		case IMAP_STATUS_HIGHESTMODSEQ:
			s_r->highestmodseq = v;
			break;
		case IMAP_STATUS_DELETED:
			s_r->deleted = (uint32_t)v;
			break;
		case IMAP_STATUS_SIZE:
			s_r->size = v;
			break;
		}
	}
	return 1;
}

/* ---- SEARCH, ESEARCH ---- */

int
imap_search_parse(const struct imap_resp *r, struct uidset *set,
    uint64_t *modseq_r, struct err *err)
{
	size_t i, n;
	uint32_t v;

	if (!idata_is_data(r, "SEARCH"))
		return 0;
	if (r->has_num)
		return err_set(err, ERR_PROTO, "SEARCH after a number");
	n = r->nargs;
	*modseq_r = 0;
	/* RFC 7162 §7: "SEARCH" [1*(SP nz-number) SP search-sort-mod-seq],
	 * search-sort-mod-seq = "(" "MODSEQ" SP mod-sequence-value ")". */
	if (n >= 2 && r->args[n - 1].type == IMAP_ARG_LIST) {
		const struct imap_arg *m = &r->args[n - 1];
		if (m->count != 2 || !imap_arg_atom_is(&m->list[0], "MODSEQ"))
			return err_set(err, ERR_PROTO,
			    "SEARCH: expected (MODSEQ n) at the end");
		if (idata_num(&m->list[1], N_MODSEQ, modseq_r, err,
		    "SEARCH MODSEQ") < 0)
			return -1;
		n--;
	}
	for (i = 0; i < n; i++) {
		if (idata_u32(&r->args[i], N_NZ32, &v, err, "SEARCH") < 0)
			return -1;
		uidset_add(set, v, v);
	}
	return 1;
}

int
imap_esearch_parse(const struct imap_resp *r, struct imap_esearch *e_r,
    struct uidset *all, struct err *err)
{
	static const struct {
		const char *what; /* "ESEARCH " and the name, as errors say */
		enum imap_esearch_have bit;
		enum numkind kind;
	} items[] = {
		{"ESEARCH MIN", IMAP_ESEARCH_MIN, N_NZ32},
		{"ESEARCH MAX", IMAP_ESEARCH_MAX, N_NZ32},
		{"ESEARCH COUNT", IMAP_ESEARCH_COUNT, N_32},
		{"ESEARCH ALL", IMAP_ESEARCH_ALL, N_32},
		{"ESEARCH MODSEQ", IMAP_ESEARCH_MODSEQ, N_MODSEQ},
	};
	const struct imap_arg *a = r->args;
	size_t i = 0, k;
	const char *what;
	char b[64];

	if (!idata_is_data(r, "ESEARCH"))
		return 0;
	memset(e_r, 0, sizeof(*e_r));
	if (r->has_num)
		return err_set(err, ERR_PROTO, "ESEARCH after a number");
	/* RFC 4731 §3: search-correlator = SP "(" "TAG" SP tag-string ")" */
	if (r->nargs > 0 && a[0].type == IMAP_ARG_LIST) {
		if (a[0].count != 2 ||
		    !imap_arg_atom_is(&a[0].list[0], "TAG") ||
		    !idata_is_string(&a[0].list[1]))
			return err_set(err, ERR_PROTO,
			    "ESEARCH: expected (TAG \"tag\")");
		e_r->tag = a[0].list[1].str;
		i++;
	}
	if (i < r->nargs && imap_arg_atom_is(&a[i], "UID")) {
		e_r->uid = true;
		i++;
	}
	if ((r->nargs - i) % 2)
		return err_set(err, ERR_PROTO,
		    "ESEARCH: a return item without a value");
	for (; i < r->nargs; i += 2) {
		uint64_t v;
		if (a[i].type != IMAP_ARG_ATOM)
			return err_set(err, ERR_PROTO,
			    "ESEARCH: expected a return item name, got %s",
			    idata_show(&a[i], b, sizeof(b)));
		for (k = 0; k < ARRAY_LEN(items); k++)
			if (str_ieq(a[i].str,
			    items[k].what + sizeof("ESEARCH ") - 1))
				break;
		if (k == ARRAY_LEN(items))
			continue;
		what = items[k].what;
		if (e_r->have & items[k].bit)
			return err_set(err, ERR_PROTO, "%s given twice", what);
		e_r->have |= items[k].bit;
		if (items[k].bit == IMAP_ESEARCH_ALL) {
			if (idata_set(&a[i + 1], all, false, err, what) < 0)
				return -1;
			continue;
		}
		if (idata_num(&a[i + 1], items[k].kind, &v, err, what) < 0)
			return -1;
		switch (items[k].bit) {
		case IMAP_ESEARCH_MIN:
			e_r->min = (uint32_t)v;
			break;
		case IMAP_ESEARCH_MAX:
			e_r->max = (uint32_t)v;
			break;
		case IMAP_ESEARCH_COUNT:
			e_r->count = (uint32_t)v;
			break;
		case IMAP_ESEARCH_MODSEQ:
			e_r->modseq = v;
			break;
		case IMAP_ESEARCH_ALL:
			break;
		}
	}
	return 1;
}

/* ---- VANISHED, ENABLED, CAPABILITY ---- */

int
imap_vanished_parse(const struct imap_resp *r, bool *earlier_r,
    struct uidset *set, struct err *err)
{
	const struct imap_arg *a = r->args;

	if (!idata_is_data(r, "VANISHED"))
		return 0;
	/* RFC 7162 §7: "VANISHED" [SP "(EARLIER)"] SP known-uids */
	*earlier_r = r->nargs == 2;
	if (r->has_num || r->nargs < 1 || r->nargs > 2 ||
	    (r->nargs == 2 && (a[0].type != IMAP_ARG_LIST ||
	    a[0].count != 1 || !imap_arg_atom_is(&a[0].list[0], "EARLIER"))))
		return err_set(err, ERR_PROTO,
		    "VANISHED: expected [(EARLIER)] uid-set");
	return idata_set(&a[r->nargs - 1], set, false, err, "VANISHED") < 0 ?
	    -1 : 1;
}

int
imap_enabled_parse(const struct imap_resp *r, struct imap_atoms *a_r,
    struct err *err)
{
	if (!idata_is_data(r, "ENABLED"))
		return 0;
	if (r->has_num)
		return err_set(err, ERR_PROTO, "ENABLED after a number");
	return idata_atoms(r->args, r->nargs, a_r, err, "ENABLED") < 0 ? -1 : 1;
}

int
imap_capability_parse(const struct imap_resp *r, struct imap_atoms *a_r,
    struct err *err)
{
	if (!idata_is_data(r, "CAPABILITY"))
		return 0;
	if (r->has_num || r->nargs == 0)
		return err_set(err, ERR_PROTO,
		    "CAPABILITY: expected a list of capabilities");
	return idata_atoms(r->args, r->nargs, a_r, err, "CAPABILITY") < 0 ?
	    -1 : 1;
}

