/* Typed views of parsed IMAP responses. The contract is in imap_data.h.
 *
 * Everything here reads a tree the tokenizer built from untrusted input:
 * every index is checked against a count, every number goes through
 * parse_u64_str() and a range check, and nothing is allocated except by
 * uidset_add(), whose cost is bounded by the length of the set's text. */

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "imap_data.h"
#include "imap_data_int.h"
#include "imap_parse.h"
#include "uidlist.h"

static const char *const numkind_name[] = {
	"a non-zero 32-bit number", "a 32-bit number", "a 64-bit number",
	"a mod-sequence (1..2^63-1)", "a mod-sequence (0..2^63-1)",
};

/* A short printable excerpt of an arg for error messages; size >= 16. */
const char *
idata_show(const struct imap_arg *a, char *buf, size_t size)
{
	char q = a && a->type == IMAP_ARG_ATOM ? '\'' : '"';
	size_t i, o = 0;

	if (a == NULL)
		return "nothing";
	switch (a->type) {
	case IMAP_ARG_NIL:
		return "NIL";
	case IMAP_ARG_LIST:
		snprintf(buf, size, "a list of %zu", a->count);
		return buf;
	case IMAP_ARG_LITERAL_STREAMED:
		snprintf(buf, size, "a streamed literal of %zu bytes", a->len);
		return buf;
	case IMAP_ARG_ATOM:
	case IMAP_ARG_STRING:
	case IMAP_ARG_LITERAL:
		break;
	}
	buf[o++] = q;
	/* Room is kept for one escape, "...", the quote and the NUL. */
	for (i = 0; i < a->len && o + 10 < size; i++) {
		unsigned char c = (unsigned char)a->str[i];
		if (c >= ' ' && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = "0123456789ABCDEF"[c >> 4];
			buf[o++] = "0123456789ABCDEF"[c & 15];
		}
	}
	if (i < a->len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = q;
	buf[o] = '\0';
	return buf;
}

static bool
num_ok(const struct imap_arg *a, enum numkind k, uint64_t *v_r)
{
	uint64_t v;

	if (a == NULL || a->type != IMAP_ARG_ATOM ||
	    parse_u64_str(a->str, &v) < 0)
		return false;
	switch (k) {
	case N_NZ32:
		if (v == 0 || v > UINT32_MAX)
			return false;
		break;
	case N_32:
		if (v > UINT32_MAX)
			return false;
		break;
	case N_64:
		break;
	case N_MODSEQ:
		if (v == 0 || v > MODSEQ_MAX)
			return false;
		break;
	case N_MODSEQ0:
		if (v > MODSEQ_MAX)
			return false;
		break;
	}
	*v_r = v;
	return true;
}

/* what names the value for the message: "FETCH 3: UID". */
int
idata_num(const struct imap_arg *a, enum numkind k, uint64_t *v_r,
    struct err *err, const char *what)
{
	char b[64];

	if (num_ok(a, k, v_r))
		return 0;
	return err_set(err, ERR_PROTO, "%s: expected %s, got %s", what,
	    numkind_name[k], idata_show(a, b, sizeof(b)));
}

int
idata_u32(const struct imap_arg *a, enum numkind k, uint32_t *v_r,
    struct err *err, const char *what)
{
	uint64_t v;

	if (idata_num(a, k, &v, err, what) < 0)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

/* A sequence-set atom without "*" added to set. */
int
idata_set(const struct imap_arg *a, struct uidset *set, bool ascending,
    struct err *err, const char *what)
{
	char b[64];

	if (a != NULL && a->type == IMAP_ARG_ATOM &&
	    (ascending ? uidset_parse_ascending(set, a->str) :
	    uidset_parse(set, a->str)) == 0)
		return 0;
	return err_set(err, ERR_PROTO, "%s: expected %s, got %s", what,
	    ascending ? "an ascending set of UIDs" : "a set of UIDs",
	    idata_show(a, b, sizeof(b)));
}

bool
idata_is_nstring(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_NIL || a->type == IMAP_ARG_STRING ||
	    a->type == IMAP_ARG_LITERAL;
}

bool
idata_is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_STRING || a->type == IMAP_ARG_LITERAL;
}

/* RFC 3501 astring (and mailbox): an atom or a string. A NUL would cut
 * the name short wherever it is used as a C string, so it is refused. */
int
idata_mailbox(const struct imap_arg *a, const char **s_r, size_t *len_r,
    struct err *err, const char *what)
{
	char b[64];

	if (a != NULL && (a->type == IMAP_ARG_ATOM || idata_is_string(a)) &&
	    memchr(a->str, '\0', a->len) == NULL) {
		*s_r = a->str;
		*len_r = a->len;
		return 0;
	}
	return err_set(err, ERR_PROTO, "%s: expected a mailbox name, got %s",
	    what, idata_show(a, b, sizeof(b)));
}

int
idata_atoms(const struct imap_arg *v, size_t n, struct imap_atoms *a_r,
    struct err *err, const char *what)
{
	char b[64];
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].type != IMAP_ARG_ATOM)
			return err_set(err, ERR_PROTO,
			    "%s: expected an atom, got %s", what,
			    idata_show(&v[i], b, sizeof(b)));
	a_r->v = n ? v : NULL;
	a_r->n = n;
	return 0;
}

/* A "(atom ...)" list. */
int
idata_atom_list(const struct imap_arg *a, struct imap_atoms *a_r,
    struct err *err, const char *what)
{
	char b[64];

	if (a == NULL || a->type != IMAP_ARG_LIST)
		return err_set(err, ERR_PROTO, "%s: expected a list, got %s",
		    what, idata_show(a, b, sizeof(b)));
	return idata_atoms(a->list, a->count, a_r, err, what);
}

bool
imap_atoms_has(const struct imap_atoms *a, const char *s)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (imap_arg_atom_is(&a->v[i], s))
			return true;
	return false;
}

void
imap_caps_set(struct imap_caps *c, const struct imap_arg *args, size_t n)
{
	imap_caps_free(c);
	c->v = xcalloc(n ? n : 1, sizeof(*c->v));
	for (size_t i = 0; i < n; i++)
		if (args[i].type == IMAP_ARG_ATOM)
			c->v[c->n++] = xstrdup(args[i].str);
}

bool
imap_caps_has(const struct imap_caps *c, const char *cap)
{
	for (size_t i = 0; i < c->n; i++)
		if (str_ieq(c->v[i], cap))
			return true;
	return false;
}

void
imap_caps_free(struct imap_caps *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* An untagged data response named name. */
bool
idata_is_data(const struct imap_resp *r, const char *name)
{
	return r->kind == IMAP_RESP_UNTAGGED && r->status == NULL &&
	    r->name != NULL && str_ieq(r->name, name);
}

enum imap_data_kind
imap_data_kind(const struct imap_resp *r)
{
	static const struct {
		const char *name;
		enum imap_data_kind kind;
	} k[] = {
		{"FETCH", IMAP_DATA_FETCH},
		{"LIST", IMAP_DATA_LIST},
		{"LSUB", IMAP_DATA_LIST},
		{"STATUS", IMAP_DATA_STATUS},
		{"SEARCH", IMAP_DATA_SEARCH},
		{"ESEARCH", IMAP_DATA_ESEARCH},
		{"VANISHED", IMAP_DATA_VANISHED},
		{"ENABLED", IMAP_DATA_ENABLED},
		{"CAPABILITY", IMAP_DATA_CAPABILITY},
		{"FLAGS", IMAP_DATA_FLAGS},
		{"EXISTS", IMAP_DATA_EXISTS},
		{"RECENT", IMAP_DATA_RECENT},
		{"EXPUNGE", IMAP_DATA_EXPUNGE},
	};
	size_t i;

	if (r->kind != IMAP_RESP_UNTAGGED || r->status != NULL ||
	    r->name == NULL)
		return IMAP_DATA_OTHER;
	for (i = 0; i < ARRAY_LEN(k); i++) {
		if (!str_ieq(r->name, k[i].name))
			continue;
		/* RFC 3501 §7.3.1, 7.3.2, 7.4.1: number SP "EXISTS" / "RECENT",
		 * nz-number SP "EXPUNGE". */
		if ((k[i].kind == IMAP_DATA_EXISTS ||
		    k[i].kind == IMAP_DATA_RECENT) && !r->has_num)
			return IMAP_DATA_OTHER;
		if (k[i].kind == IMAP_DATA_EXPUNGE &&
		    (!r->has_num || r->num == 0))
			return IMAP_DATA_OTHER;
		return k[i].kind;
	}
	return IMAP_DATA_OTHER;
}

/* ---- FETCH ---- */

static const struct {
	const char *name;
	enum imap_fetch_have bit;
} fetch_items[] = {
	{"UID", IMAP_FETCH_UID},
	{"FLAGS", IMAP_FETCH_FLAGS},
	{"MODSEQ", IMAP_FETCH_MODSEQ},
	{"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
	{"RFC822.SIZE", IMAP_FETCH_SIZE},
	{"ENVELOPE", IMAP_FETCH_ENVELOPE},
	{"BODY[]", IMAP_FETCH_BODY},
	{"BINARY[]", IMAP_FETCH_BINARY},
};

/* RFC 3501 §9: env-from ... env-bcc = "(" 1*address ")" / nil, with
 * address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")". An
 * empty list is let through: it says the same as NIL. */
static bool
addr_list_ok(const struct imap_arg *a)
{
	size_t i, j;

	if (a->type == IMAP_ARG_NIL)
		return true;
	if (a->type != IMAP_ARG_LIST)
		return false;
	for (i = 0; i < a->count; i++) {
		const struct imap_arg *ad = &a->list[i];
		if (ad->type != IMAP_ARG_LIST || ad->count != 4)
			return false;
		for (j = 0; j < 4; j++)
			if (!idata_is_nstring(&ad->list[j]))
				return false;
	}
	return true;
}

static bool
envelope_ok(const struct imap_arg *a)
{
	size_t i;

	if (a->type != IMAP_ARG_LIST || a->count != 10)
		return false;
	for (i = 0; i < 10; i++) {
		bool addr = i >= IMAP_ENV_FROM && i <= IMAP_ENV_BCC;
		const struct imap_arg *f = &a->list[i];
		if (addr ? !addr_list_ok(f) : !idata_is_nstring(f))
			return false;
	}
	return true;
}

static int
fetch_item(struct imap_fetch *f, enum imap_fetch_have bit,
    const struct imap_arg *v, struct err *err, const char *what)
{
	char b[64];

	switch (bit) {
	case IMAP_FETCH_UID:
		return idata_u32(v, N_NZ32, &f->uid, err, what);
	case IMAP_FETCH_FLAGS:
		return idata_atom_list(v, &f->flags, err, what);
	case IMAP_FETCH_MODSEQ:
		/* RFC 7162: "MODSEQ" SP "(" permsg-modsequence ")" */
		if (v->type != IMAP_ARG_LIST || v->count != 1)
			break;
		return idata_num(&v->list[0], N_MODSEQ, &f->modseq, err, what);
	case IMAP_FETCH_INTERNALDATE:
		if (v->type != IMAP_ARG_STRING || strlen(v->str) != v->len ||
		    imap_date_parse(v->str, NULL, NULL) < 0)
			break;
		f->internaldate = v->str;
		return 0;
	case IMAP_FETCH_SIZE:
		return idata_num(v, N_64, &f->size, err, what);
	case IMAP_FETCH_ENVELOPE:
		if (!envelope_ok(v))
			break;
		f->envelope = v;
		return 0;
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BINARY:
		/* nstring, or literal8 for BINARY (the tokenizer makes both
		 * LITERAL); a big one was streamed to the caller. */
		if (!idata_is_nstring(v) && v->type != IMAP_ARG_LITERAL_STREAMED)
			break;
		*(bit == IMAP_FETCH_BODY ? &f->body : &f->binary) = v;
		return 0;
	}
	return err_set(err, ERR_PROTO, "%s: malformed value %s", what,
	    idata_show(v, b, sizeof(b)));
}

/* The items of e[0..n), in pairs; a last unpaired name is left to the
 * caller (a FETCH stopped at a streamed literal). */
static int
fetch_items_parse(const struct imap_arg *e, size_t n, struct imap_fetch *f,
    struct err *err)
{
	char what[96], b[64];
	size_t i, k;

	for (i = 0; i + 1 < n; i += 2) {
		if (e[i].type != IMAP_ARG_ATOM)
			return err_set(err, ERR_PROTO,
			    "FETCH %u: expected an item name, got %s",
			    (unsigned)f->seq, idata_show(&e[i], b, sizeof(b)));
		for (k = 0; k < ARRAY_LEN(fetch_items); k++)
			if (str_ieq(e[i].str, fetch_items[k].name))
				break;
		if (k == ARRAY_LEN(fetch_items))
			continue;
		snprintf(what, sizeof(what), "FETCH %u: %s", (unsigned)f->seq,
		    fetch_items[k].name);
		if (f->have & fetch_items[k].bit)
			return err_set(err, ERR_PROTO, "%s given twice", what);
		if (fetch_item(f, fetch_items[k].bit, &e[i + 1], err, what) < 0)
			return -1;
		f->have |= fetch_items[k].bit;
	}
	return 0;
}

/* Checks the "* N FETCH (" part; 0 if r is not a FETCH. */
static int
fetch_head(const struct imap_resp *r, struct imap_fetch *f, struct err *err)
{
	if (!idata_is_data(r, "FETCH"))
		return 0;
	memset(f, 0, sizeof(*f));
	if (!r->has_num || r->num == 0)
		return err_set(err, ERR_PROTO,
		    "FETCH without a message sequence number");
	f->seq = r->num;
	if (r->nargs != 1 || r->args[0].type != IMAP_ARG_LIST)
		return err_set(err, ERR_PROTO,
		    "FETCH %u: expected one list of items", (unsigned)f->seq);
	return 1;
}

int
imap_fetch_parse(const struct imap_resp *r, struct imap_fetch *f_r,
    struct err *err)
{
	const struct imap_arg *l;
	int ret = fetch_head(r, f_r, err);

	if (ret <= 0)
		return ret;
	l = &r->args[0];
	if (l->count == 0 || l->count % 2)
		return err_set(err, ERR_PROTO,
		    "FETCH %u: %s", (unsigned)f_r->seq, l->count ?
		    "an item without a value" : "no items");
	return fetch_items_parse(l->list, l->count, f_r, err) < 0 ? -1 : 1;
}

int
imap_fetch_parse_partial(const struct imap_resp *partial,
    const struct imap_arg *cont, size_t count, struct imap_fetch *f_r,
    const char **item_r, struct err *err)
{
	int ret;

	/* Only when the literal's container is the FETCH list itself and the
	 * literal takes the place of a value: after a name, at an odd index. */
	if (!idata_is_data(partial, "FETCH") || partial->nargs != 1 ||
	    partial->args[0].type != IMAP_ARG_LIST ||
	    cont != partial->args[0].list || count % 2 != 1 ||
	    cont == NULL)
		return 0;
	ret = fetch_head(partial, f_r, err);
	if (ret <= 0)
		return ret;
	if (fetch_items_parse(cont, count, f_r, err) < 0)
		return -1;
	if (cont[count - 1].type != IMAP_ARG_ATOM)
		return err_set(err, ERR_PROTO,
		    "FETCH %u: a literal where an item name belongs",
		    (unsigned)f_r->seq);
	*item_r = cont[count - 1].str;
	return 1;
}

const struct imap_arg *
imap_fetch_item(const struct imap_resp *r, const char *name)
{
	const struct imap_arg *l;
	size_t i;

	if (!idata_is_data(r, "FETCH") || r->nargs != 1 ||
	    r->args[0].type != IMAP_ARG_LIST)
		return NULL;
	l = &r->args[0];
	for (i = 0; i + 1 < l->count; i += 2)
		if (imap_arg_atom_is(&l->list[i], name))
			return &l->list[i + 1];
	return NULL;
}

/* Two decimal digits at s, or -1. */
static int
d2(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool
leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar,
 * counted through the 400-year cycle from 0000-03-01 (years start in March
 * so that the leap day comes last). y >= 0. */
static long long
days_from_civil(long y, int m, int d)
{
	long long era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
imap_date_parse(const char *s, time_t *t_r, int *zone_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31};
	int day, mon, hh, mm, ss, zh, zm, zone;
	long year;
	long long t;

	/* RFC 3501 §9: date-time = DQUOTE date-day-fixed "-" date-month "-"
	 * date-year SP time SP zone DQUOTE, date-day-fixed = (SP DIGIT) /
	 * 2DIGIT, zone = ("+" / "-") 4DIGIT. */
	if (strlen(s) != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' ||
	    s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
	    (s[21] != '+' && s[21] != '-'))
		return -1;
	if (s[0] == ' ')
		day = s[1] >= '1' && s[1] <= '9' ? s[1] - '0' : -1;
	else
		day = d2(s);
	for (mon = 0; mon < 12; mon++)
		if (strncasecmp(s + 3, months + 3 * mon, 3) == 0)
			break;
	if (d2(s + 7) < 0 || d2(s + 9) < 0)
		return -1;
	year = d2(s + 7) * 100L + d2(s + 9);
	hh = d2(s + 12);
	mm = d2(s + 15);
	ss = d2(s + 18);
	zh = d2(s + 22);
	zm = d2(s + 24);
	if (mon == 12 || day < 1 ||
	    day > mdays[mon] + (mon == 1 && leap(year)) || hh < 0 || hh > 23 ||
	    mm < 0 || mm > 59 || ss < 0 || ss > 60 || zh < 0 || zh > 23 ||
	    zm < 0 || zm > 59)
		return -1;
	zone = (zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
	t = days_from_civil(year, mon + 1, day) * 86400 + hh * 3600 + mm * 60 +
	    ss - zone * 60;
	if ((long long)(time_t)t != t)
		return -1; /* a 32-bit time_t */
	if (t_r)
		*t_r = (time_t)t;
	if (zone_r)
		*zone_r = zone;
	return 0;
}

/* ---- ENVELOPE ---- */

static const struct imap_arg *
env_field(const struct imap_arg *env, enum imap_env_field f)
{
	if (env == NULL || env->type != IMAP_ARG_LIST || env->count != 10 ||
	    (unsigned)f >= 10)
		return NULL;
	return &env->list[f];
}

const char *
imap_envelope_string(const struct imap_arg *env, enum imap_env_field f,
    size_t *len_r)
{
	const struct imap_arg *a = env_field(env, f);

	if (a == NULL || (f >= IMAP_ENV_FROM && f <= IMAP_ENV_BCC) ||
	    !idata_is_string(a))
		return NULL;
	if (len_r)
		*len_r = a->len;
	return a->str;
}

static const char *
nstr(const struct imap_arg *a)
{
	return idata_is_string(a) ? a->str : NULL;
}

int
imap_envelope_address(const struct imap_arg *env, enum imap_env_field f,
    size_t i, struct imap_address *a_r)
{
	const struct imap_arg *a = env_field(env, f), *ad;

	if (a == NULL || f < IMAP_ENV_FROM || f > IMAP_ENV_BCC ||
	    a->type != IMAP_ARG_LIST || i >= a->count)
		return 0;
	ad = &a->list[i];
	if (ad->type != IMAP_ARG_LIST || ad->count != 4)
		return 0;
	a_r->name = nstr(&ad->list[0]);
	a_r->adl = nstr(&ad->list[1]);
	a_r->mailbox = nstr(&ad->list[2]);
	a_r->host = nstr(&ad->list[3]);
	return 1;
}

