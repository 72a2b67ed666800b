#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_data.h"
#include "imap_verbs.h"

static void ATTR_NORETURN ATTR_PRINTF(1, 2)
bug(const char *fmt, ...)
{
	va_list ap;
	fputs("imap_verbs: programming error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int
give(struct imap_cmd *cmd, struct imap_cmd **cmd_r)
{
	*cmd_r = cmd;
	return 0;
}

/* err is set. */
static int
fail(struct imap_cmd *cmd, struct imap_cmd **cmd_r)
{
	imap_cmd_free(&cmd);
	*cmd_r = NULL;
	return -1;
}

static int
check_modseq(const char *what, uint64_t m, uint64_t min, struct err *err)
{
	if (m < min || m > IMAP_VERB_MODSEQ_MAX)
		return err_set(err, ERR_REFUSED,
		    "%s %" PRIu64 " out of range %" PRIu64 "..%" PRIu64
		    " (RFC 7162)", what, m, min, IMAP_VERB_MODSEQ_MAX);
	return 0;
}

static void
put_set(struct imap_cmd *c, struct uidset *set, size_t *pos)
{
	if (pos == NULL)
		imap_cmd_uidset(c, set);
	else
		(void)imap_cmd_uidset_chunk(c, set, pos, IMAP_VERB_SET_MAX);
}

/* A flag list "(...)" without \Recent, which no client can set (RFC 3501
 * §2.3.2): a list relayed from a FETCH may hold it. */
static int
put_flags(struct imap_cmd *c, const char *const *flags, size_t n,
    struct err *err)
{
	imap_cmd_list_open(c);
	for (size_t i = 0; i < n; i++) {
		if (str_ieq(flags[i], "\\Recent"))
			continue;
		if (imap_cmd_flag(c, flags[i], err) < 0)
			return -1;
	}
	imap_cmd_list_close(c);
	return 0;
}

/* ---- any state ---- */

struct imap_cmd *
imap_verb_capability(void)
{
	return imap_cmd_new("CAPABILITY");
}

struct imap_cmd *
imap_verb_noop(void)
{
	return imap_cmd_new("NOOP");
}

struct imap_cmd *
imap_verb_logout(void)
{
	return imap_cmd_new("LOGOUT");
}

struct imap_cmd *
imap_verb_enable(const char *const *exts, size_t n)
{
	struct imap_cmd *c;
	if (n == 0)
		bug("ENABLE without a capability");
	c = imap_cmd_new("ENABLE");
	for (size_t i = 0; i < n; i++)
		imap_cmd_atom(c, exts[i]);
	return c;
}

int
imap_verb_enabled_check(const struct imap_resp *r, const char *ext,
    bool *enabled_r, struct err *err)
{
	struct imap_atoms a;
	int rc = imap_enabled_parse(r, &a, err);
	if (rc == 1 && imap_atoms_has(&a, ext))
		*enabled_r = true;
	return rc;
}

struct imap_cmd *
imap_verb_idle(void)
{
	return imap_cmd_new("IDLE");
}

/* ---- mailboxes ---- */

static bool
has(const struct uidset *s)
{
	return s != NULL && s->n > 0;
}

static int
select_like(const char *verb, const char *mailbox,
    const struct imap_verb_select *opt, struct imap_cmd **cmd_r,
    struct err *err)
{
	struct imap_cmd *c;
	bool qresync = false, known = false, match = false;

	*cmd_r = NULL;
	if (opt != NULL) {
		qresync = opt->uidvalidity != 0;
		known = has(opt->known_uids);
		match = has(opt->match_seqs);
		if (!qresync && (opt->modseq != 0 || known || match ||
		    has(opt->match_uids)))
			bug("%s: QRESYNC data without a UIDVALIDITY", verb);
		if (match != has(opt->match_uids))
			bug("%s: QRESYNC seq-match-data needs both sets", verb);
		/* RFC 7162 §3.2.5: the i-th UID is the i-th number's. */
		if (match && uidset_count(opt->match_seqs) !=
		    uidset_count(opt->match_uids))
			bug("%s: QRESYNC seq-match-data: %" PRIu64
			    " message numbers for %" PRIu64 " UIDs", verb,
			    uidset_count(opt->match_seqs),
			    uidset_count(opt->match_uids));
		if (qresync && check_modseq("QRESYNC mod-sequence",
		    opt->modseq, 1, err) < 0)
			return err_prefix(err, "%s", verb);
	}
	c = imap_cmd_new(verb);
	if (imap_cmd_mailbox(c, mailbox, err) < 0)
		return fail(c, cmd_r);
	if (opt != NULL && (opt->condstore || qresync)) {
		imap_cmd_list_open(c);
		if (opt->condstore)
			imap_cmd_atom(c, "CONDSTORE");
		if (qresync) {
			imap_cmd_atom(c, "QRESYNC");
			imap_cmd_list_open(c);
			imap_cmd_number(c, opt->uidvalidity);
			imap_cmd_number(c, opt->modseq);
			if (known)
				imap_cmd_uidset(c, opt->known_uids);
			if (match) {
				imap_cmd_list_open(c);
				imap_cmd_uidset(c, opt->match_seqs);
				imap_cmd_uidset(c, opt->match_uids);
				imap_cmd_list_close(c);
			}
			imap_cmd_list_close(c);
		}
		imap_cmd_list_close(c);
	}
	return give(c, cmd_r);
}

int
imap_verb_select(const char *mailbox, const struct imap_verb_select *opt,
    struct imap_cmd **cmd_r, struct err *err)
{
	return select_like("SELECT", mailbox, opt, cmd_r, err);
}

int
imap_verb_examine(const char *mailbox, const struct imap_verb_select *opt,
    struct imap_cmd **cmd_r, struct err *err)
{
	return select_like("EXAMINE", mailbox, opt, cmd_r, err);
}

static int
mailbox_verb(const char *verb, const char *mailbox, const char *mailbox2,
    struct imap_cmd **cmd_r, struct err *err)
{
	struct imap_cmd *c = imap_cmd_new(verb);
	if (imap_cmd_mailbox(c, mailbox, err) < 0 ||
	    (mailbox2 != NULL && imap_cmd_mailbox(c, mailbox2, err) < 0))
		return fail(c, cmd_r);
	return give(c, cmd_r);
}

int
imap_verb_create(const char *mailbox, struct imap_cmd **cmd_r,
    struct err *err)
{
	return mailbox_verb("CREATE", mailbox, NULL, cmd_r, err);
}

int
imap_verb_delete(const char *mailbox, struct imap_cmd **cmd_r,
    struct err *err)
{
	return mailbox_verb("DELETE", mailbox, NULL, cmd_r, err);
}

int
imap_verb_rename(const char *from, const char *to, struct imap_cmd **cmd_r,
    struct err *err)
{
	return mailbox_verb("RENAME", from, to, cmd_r, err);
}

int
imap_verb_subscribe(const char *mailbox, struct imap_cmd **cmd_r,
    struct err *err)
{
	return mailbox_verb("SUBSCRIBE", mailbox, NULL, cmd_r, err);
}

int
imap_verb_unsubscribe(const char *mailbox, struct imap_cmd **cmd_r,
    struct err *err)
{
	return mailbox_verb("UNSUBSCRIBE", mailbox, NULL, cmd_r, err);
}

/* The reference interimap's order first: its traces compare line for
 * line. */
static const struct {
	unsigned bit;
	const char *name;
} status_items[] = {
	{IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY"},
	{IMAP_STATUS_UIDNEXT, "UIDNEXT"},
	{IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ"},
	{IMAP_STATUS_MESSAGES, "MESSAGES"},
	{IMAP_STATUS_RECENT, "RECENT"},
	{IMAP_STATUS_UNSEEN, "UNSEEN"},
	{IMAP_STATUS_DELETED, "DELETED"},
	{IMAP_STATUS_SIZE, "SIZE"},
};

/* "(item ...)": RFC 3501 §9 status = "STATUS" SP mailbox SP "("
 * status-att *(SP status-att) ")", at least one. */
static void
put_status_items(struct imap_cmd *c, unsigned items)
{
	unsigned known = 0;
	for (size_t i = 0; i < ARRAY_LEN(status_items); i++)
		known |= status_items[i].bit;
	if (items == 0 || (items & ~known) != 0)
		bug("%s: STATUS items 0x%x", imap_cmd_verb(c), items);
	imap_cmd_list_open(c);
	for (size_t i = 0; i < ARRAY_LEN(status_items); i++)
		if (items & status_items[i].bit)
			imap_cmd_atom(c, status_items[i].name);
	imap_cmd_list_close(c);
}

int
imap_verb_status(const char *mailbox, unsigned items, struct imap_cmd **cmd_r,
    struct err *err)
{
	struct imap_cmd *c = imap_cmd_new("STATUS");
	if (imap_cmd_mailbox(c, mailbox, err) < 0)
		return fail(c, cmd_r);
	put_status_items(c, items);
	return give(c, cmd_r);
}

int
imap_verb_list(const struct imap_verb_list *l, struct imap_cmd **cmd_r,
    struct err *err)
{
	struct imap_cmd *c;
	bool base = false, recursive = false;

	*cmd_r = NULL;
	if (l->npatterns == 0)
		bug("LIST without a pattern");
	if ((l->ret & ~(unsigned)(IMAP_VERB_LIST_SUBSCRIBED |
	    IMAP_VERB_LIST_CHILDREN)) != 0)
		bug("LIST: return options 0x%x", l->ret);
	for (size_t i = 0; i < l->nselect; i++) {
		const char *o = l->select_opts[i];
		if (!imap_cmd_atom_ok(o))
			return err_set(err, ERR_CONFIG,
			    "LIST: bad selection option \"%s\"", o);
		if (str_ieq(o, "RECURSIVEMATCH"))
			recursive = true;
		else if (!str_ieq(o, "REMOTE"))
			base = true;
	}
	/* RFC 5258 §3.1: RECURSIVEMATCH modifies a base option and "MUST
	 * NOT occur as the only selection option". */
	if (recursive && !base)
		return err_set(err, ERR_CONFIG,
		    "LIST: RECURSIVEMATCH needs another selection option, such "
		    "as SUBSCRIBED (RFC 5258 §3.1)");

	c = imap_cmd_new("LIST");
	if (l->nselect > 0) {
		imap_cmd_list_open(c);
		for (size_t i = 0; i < l->nselect; i++)
			imap_cmd_atom(c, l->select_opts[i]);
		imap_cmd_list_close(c);
	}
	if (imap_cmd_mailbox(c, l->reference ? l->reference : "", err) < 0)
		return fail(c, cmd_r);
	if (l->npatterns > 1)
		imap_cmd_list_open(c);
	for (size_t i = 0; i < l->npatterns; i++)
		if (imap_cmd_list_mailbox(c, l->patterns[i], err) < 0)
			return fail(c, cmd_r);
	if (l->npatterns > 1)
		imap_cmd_list_close(c);
	if (l->ret != 0 || l->status != 0) {
		imap_cmd_atom(c, "RETURN");
		imap_cmd_list_open(c);
		if (l->ret & IMAP_VERB_LIST_SUBSCRIBED)
			imap_cmd_atom(c, "SUBSCRIBED");
		if (l->ret & IMAP_VERB_LIST_CHILDREN)
			imap_cmd_atom(c, "CHILDREN");
		if (l->status != 0) {
			imap_cmd_atom(c, "STATUS");
			put_status_items(c, l->status);
		}
		imap_cmd_list_close(c);
	}
	return give(c, cmd_r);
}

static const char *const notify_filters[] = {
	[IMAP_VERB_NOTIFY_SELECTED] = "SELECTED",
	[IMAP_VERB_NOTIFY_SELECTED_DELAYED] = "SELECTED-DELAYED",
	[IMAP_VERB_NOTIFY_INBOXES] = "INBOXES",
	[IMAP_VERB_NOTIFY_PERSONAL] = "PERSONAL",
	[IMAP_VERB_NOTIFY_SUBSCRIBED] = "SUBSCRIBED",
	[IMAP_VERB_NOTIFY_SUBTREE] = "SUBTREE",
	[IMAP_VERB_NOTIFY_MAILBOXES] = "MAILBOXES",
};

/* In the order of the bits. */
static const char *const notify_events[] = {"MessageNew", "MessageExpunge",
    "FlagChange", "AnnotationChange", "MailboxName", "SubscriptionChange",
    "MailboxMetadataChange", "ServerMetadataChange"};

#define EV_ALL ((1u << ARRAY_LEN(notify_events)) - 1)
/* RFC 5465 §8 message-event; the others are mailbox events. */
#define EV_MESSAGE                                                             \
	(IMAP_VERB_EV_MESSAGE_NEW | IMAP_VERB_EV_MESSAGE_EXPUNGE |             \
	    IMAP_VERB_EV_FLAG_CHANGE | IMAP_VERB_EV_ANNOTATION_CHANGE)
#define EV_NEW_EXPUNGE                                                         \
	(IMAP_VERB_EV_MESSAGE_NEW | IMAP_VERB_EV_MESSAGE_EXPUNGE)

/* The composition rules of RFC 5465 §5 and §6.1: a server answers BAD. */
static void
notify_check(const struct imap_verb_notify_group *g, size_t n)
{
	bool selected = false;

	if (n == 0)
		bug("NOTIFY SET without an event group");
	for (size_t i = 0; i < n; i++) {
		unsigned ev = g[i].events;
		bool sel, named;
		size_t flen;

		if ((unsigned)g[i].filter >= ARRAY_LEN(notify_filters))
			bug("NOTIFY SET: filter %d", (int)g[i].filter);
		sel = g[i].filter == IMAP_VERB_NOTIFY_SELECTED ||
		    g[i].filter == IMAP_VERB_NOTIFY_SELECTED_DELAYED;
		named = g[i].filter == IMAP_VERB_NOTIFY_SUBTREE ||
		    g[i].filter == IMAP_VERB_NOTIFY_MAILBOXES;
		if ((ev & ~EV_ALL) != 0)
			bug("NOTIFY SET: events 0x%x", ev);
		if ((ev & EV_NEW_EXPUNGE) != 0 &&
		    (ev & EV_NEW_EXPUNGE) != EV_NEW_EXPUNGE)
			bug("NOTIFY SET: MessageNew and MessageExpunge go "
			    "together (RFC 5465 §5)");
		if ((ev & (IMAP_VERB_EV_FLAG_CHANGE |
		    IMAP_VERB_EV_ANNOTATION_CHANGE)) != 0 &&
		    (ev & EV_NEW_EXPUNGE) == 0)
			bug("NOTIFY SET: FlagChange and AnnotationChange need "
			    "MessageNew and MessageExpunge (RFC 5465 §5)");
		if (sel && (ev & ~EV_MESSAGE) != 0)
			bug("NOTIFY SET: %s takes message events only (RFC "
			    "5465 §6.1)", notify_filters[g[i].filter]);
		if (sel && selected)
			bug("NOTIFY SET: two SELECTED groups (RFC 5465 §6.1)");
		selected = selected || sel;
		if (named != (g[i].nmailboxes > 0))
			bug("NOTIFY SET: %s with %zu mailboxes",
			    notify_filters[g[i].filter], g[i].nmailboxes);
		if (g[i].fetch_att == NULL)
			continue;
		if (!sel || (ev & IMAP_VERB_EV_MESSAGE_NEW) == 0)
			bug("NOTIFY SET: fetch attributes without SELECTED "
			    "MessageNew");
		flen = strlen(g[i].fetch_att);
		if (flen < 3 || g[i].fetch_att[0] != '(' ||
		    g[i].fetch_att[flen - 1] != ')')
			bug("NOTIFY SET: fetch attributes \"%s\" are no list",
			    g[i].fetch_att);
	}
}

int
imap_verb_notify_set(bool status, const struct imap_verb_notify_group *g,
    size_t n, struct imap_cmd **cmd_r, struct err *err)
{
	struct imap_cmd *c;

	notify_check(g, n);
	c = imap_cmd_new("NOTIFY");
	imap_cmd_atom(c, "SET");
	if (status)
		imap_cmd_atom(c, "STATUS");
	for (size_t i = 0; i < n; i++) {
		imap_cmd_list_open(c);
		imap_cmd_atom(c, notify_filters[g[i].filter]);
		if (g[i].nmailboxes > 0) {
			imap_cmd_list_open(c);
			for (size_t j = 0; j < g[i].nmailboxes; j++)
				if (imap_cmd_mailbox(c, g[i].mailboxes[j],
				    err) < 0)
					return fail(c, cmd_r);
			imap_cmd_list_close(c);
		}
		if (g[i].events == 0) {
			imap_cmd_atom(c, "NONE");
		} else {
			imap_cmd_list_open(c);
			for (size_t k = 0; k < ARRAY_LEN(notify_events); k++) {
				if ((g[i].events & (1u << k)) == 0)
					continue;
				imap_cmd_atom(c, notify_events[k]);
				if (k == 0 && g[i].fetch_att != NULL)
					imap_cmd_raw(c, g[i].fetch_att);
			}
			imap_cmd_list_close(c);
		}
		imap_cmd_list_close(c);
	}
	return give(c, cmd_r);
}

struct imap_cmd *
imap_verb_notify_none(void)
{
	struct imap_cmd *c = imap_cmd_new("NOTIFY");
	imap_cmd_atom(c, "NONE");
	return c;
}

int
imap_verb_append(const char *mailbox, const struct imap_verb_append_msg *msgs,
    size_t n, struct imap_cmd **cmd_r, struct err *err)
{
	struct imap_cmd *c;

	*cmd_r = NULL;
	if (n == 0)
		bug("APPEND without a message");
	c = imap_cmd_new("APPEND");
	if (imap_cmd_mailbox(c, mailbox, err) < 0)
		return fail(c, cmd_r);
	for (size_t i = 0; i < n; i++) {
		const struct imap_verb_append_msg *m = &msgs[i];
		if (m->data == NULL && m->src == NULL)
			bug("APPEND: message %zu has no data", i + 1);
		if (m->flags != NULL &&
		    put_flags(c, m->flags, m->nflags, err) < 0)
			return fail(c, cmd_r);
		if (m->internaldate != NULL) {
			if (imap_date_parse(m->internaldate, NULL, NULL) < 0) {
				err_set(err, ERR_REFUSED, "APPEND: bad "
				    "INTERNALDATE \"%s\" (RFC 3501 date-time: "
				    "\"dd-Mon-yyyy hh:mm:ss +zzzz\")",
				    m->internaldate);
				return fail(c, cmd_r);
			}
			/* printable ASCII once parsed: cannot fail */
			if (imap_cmd_quoted(c, m->internaldate,
			    strlen(m->internaldate), err) < 0)
				return fail(c, cmd_r);
		}
		if (m->data == NULL) {
			imap_cmd_literal_stream(c, m->size, m->literal8, m->src,
			    m->src_ctx);
			continue;
		}
		if (m->size > SIZE_MAX)
			bug("APPEND: %" PRIu64 " bytes in memory", m->size);
		if (imap_cmd_literal(c, m->data, (size_t)m->size, m->literal8,
		    err) < 0)
			return fail(c, cmd_r);
	}
	return give(c, cmd_r);
}

/* ---- selected state ---- */

struct imap_cmd *
imap_verb_unselect(void)
{
	return imap_cmd_new("UNSELECT");
}

struct imap_cmd *
imap_verb_uid_search(bool esearch, const char *criteria)
{
	struct imap_cmd *c = imap_cmd_new("UID SEARCH");
	if (esearch)
		imap_cmd_raw(c, "RETURN (ALL)");
	imap_cmd_raw(c, criteria);
	return c;
}

int
imap_verb_uid_fetch(struct uidset *set, size_t *pos, const char *items,
    uint64_t changedsince, bool vanished, struct imap_cmd **cmd_r,
    struct err *err)
{
	struct imap_cmd *c;
	bool mod = changedsince != IMAP_VERB_NO_MODSEQ;

	*cmd_r = NULL;
	/* RFC 7162 §3.2.6: VANISHED "MUST only be specified together with
	 * the CHANGEDSINCE UID FETCH modifier". */
	if (vanished && !mod)
		bug("UID FETCH: VANISHED without CHANGEDSINCE");
	/* Checked before the set is taken: *pos stays as it was. */
	if (mod && check_modseq("CHANGEDSINCE", changedsince, 1, err) < 0)
		return err_prefix(err, "UID FETCH");
	c = imap_cmd_new("UID FETCH");
	put_set(c, set, pos);
	imap_cmd_raw(c, items);
	if (mod) {
		imap_cmd_list_open(c);
		imap_cmd_atom(c, "CHANGEDSINCE");
		imap_cmd_number(c, changedsince);
		if (vanished)
			imap_cmd_atom(c, "VANISHED");
		imap_cmd_list_close(c);
	}
	return give(c, cmd_r);
}

int
imap_verb_uid_store(struct uidset *set, size_t *pos, uint64_t unchangedsince,
    enum imap_verb_store_op op, bool silent, const char *const *flags,
    size_t nflags, struct imap_cmd **cmd_r, struct err *err)
{
	static const char *const ops[] = {
		[IMAP_VERB_STORE_SET] = "FLAGS",
		[IMAP_VERB_STORE_ADD] = "+FLAGS",
		[IMAP_VERB_STORE_REMOVE] = "-FLAGS",
	};
	struct imap_cmd *c;
	bool mod = unchangedsince != IMAP_VERB_NO_MODSEQ;
	size_t pos0 = pos ? *pos : 0;
	char item[16];

	*cmd_r = NULL;
	if ((unsigned)op >= ARRAY_LEN(ops))
		bug("UID STORE: operation %d", (int)op);
	/* RFC 7162 §3.1.3: UNCHANGEDSINCE takes mod-sequence-valzer. */
	if (mod && check_modseq("UNCHANGEDSINCE", unchangedsince, 0, err) < 0)
		return err_prefix(err, "UID STORE");
	c = imap_cmd_new("UID STORE");
	put_set(c, set, pos);
	/* RFC 4466 §2.5: store-modifiers come before store-att-flags. */
	if (mod) {
		imap_cmd_list_open(c);
		imap_cmd_atom(c, "UNCHANGEDSINCE");
		imap_cmd_number(c, unchangedsince);
		imap_cmd_list_close(c);
	}
	snprintf(item, sizeof(item), "%s%s", ops[op], silent ? ".SILENT" : "");
	imap_cmd_atom(c, item);
	if (put_flags(c, flags, nflags, err) < 0) {
		if (pos != NULL)
			*pos = pos0; /* the caller may skip the flag and retry */
		return fail(c, cmd_r);
	}
	return give(c, cmd_r);
}

struct imap_cmd *
imap_verb_uid_expunge(struct uidset *set, size_t *pos)
{
	struct imap_cmd *c = imap_cmd_new("UID EXPUNGE");
	put_set(c, set, pos);
	return c;
}
