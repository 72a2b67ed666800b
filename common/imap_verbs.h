#ifndef COMMON_IMAP_VERBS_H
#define COMMON_IMAP_VERBS_H

/* The commands pullimap and interimap send, each built whole from typed
 * arguments (imap_cmd.h) so that its text matches the grammar of the RFC
 * named above it. The tag and the final CRLF are the engine's.
 *
 * Return values. A constructor whose arguments are all fixed text or
 * numbers returns the new command. One that takes data that may have to be
 * refused (mailbox names, flags, dates, mod-sequences) returns 0 with
 * *cmd_r the new command, or -1 with err set and *cmd_r NULL (nothing is
 * left allocated):
 *   ERR_CONFIG   a mailbox name (or LIST pattern, or selection option)
 *                that cannot be sent: 8-bit bytes that are not UTF-8;
 *   ERR_REFUSED  any other refused value: a flag that is no atom, a
 *                malformed date, a mod-sequence out of range, a NUL in a
 *                literal without literal8.
 * The caller may re-kind the error (a name read from the local state is a
 * state problem, ERR_DB). Programming errors (a wrong combination of
 * options, fixed text that is not what the grammar wants, an empty set or
 * list where the grammar needs one element) abort() with a message on
 * stderr, as in imap_cmd.h.
 *
 * Mailbox names are given as the user wrote them and converted by
 * imap_cmd_mailbox() (UTF-8 -> modified UTF-7, INBOX in any case ->
 * INBOX); LIST patterns by imap_cmd_list_mailbox().
 *
 * What a command needs from the server (a capability, QRESYNC enabled, a
 * mailbox selected) is the caller's to check: the constructors only build
 * the text.
 *
 * Memory: the caller owns the returned command (free it with
 * imap_cmd_free() or hand it to the engine). Every argument is copied into
 * it, so it may be freed once the constructor returns, except the source
 * context of a streamed APPEND literal, which must stay valid until the
 * command is sent. UID sets are normalised in place (imap_cmd_uidset()).
 * Not thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "imap_cmd.h"
#include "imap_data.h" /* enum imap_status_have, struct imap_resp */
#include "uidlist.h"

/* The largest mod-sequence (RFC 7162 §7: mod-sequence-value is 63-bit). */
#define IMAP_VERB_MODSEQ_MAX UINT64_C(9223372036854775807)
/* "No mod-sequence" for the optional CHANGEDSINCE and UNCHANGEDSINCE. */
#define IMAP_VERB_NO_MODSEQ UINT64_MAX

/* UID sets. UID FETCH, UID STORE and UID EXPUNGE take a set s and pos:
 *   pos NULL  the whole set goes into the command;
 *   else      the ranges from *pos on, until the set's text holds
 *             IMAP_VERB_SET_MAX bytes or more (at most one range more,
 *             22 bytes with its comma), and *pos is moved past them.
 *             Servers cap the length of a command line (the reference
 *             interimap splits sets at 4096 bytes), so a long set goes
 *             out in several commands:
 *                 for (size_t pos = 0; pos < s.n;)
 *                         submit(imap_verb_uid_expunge(&s, &pos));
 *             (s.n counts the ranges once the first call has normalised
 *             the set.)
 * The set must not be empty, nor *pos past its end: there is no empty
 * sequence-set (RFC 3501 §9), the caller must not send the command. A
 * refused command leaves *pos as it was. */
#define IMAP_VERB_SET_MAX 4000

/* ---- any state (RFC 3501 §6.1), and ENABLE and IDLE ---- */

/* CAPABILITY (RFC 3501 §6.1.1). */
struct imap_cmd *imap_verb_capability(void);
/* NOOP (RFC 3501 §6.1.2). */
struct imap_cmd *imap_verb_noop(void);
/* LOGOUT (RFC 3501 §6.1.3). */
struct imap_cmd *imap_verb_logout(void);

/* ENABLE ext... (RFC 5161 §3.1): n >= 1 capability names, atoms (fixed
 * text: "QRESYNC", "UTF8=ACCEPT"). */
struct imap_cmd *imap_verb_enable(const char *const *exts, size_t n);

/* For each untagged response of an ENABLE command: 1 when r is an ENABLED
 * response (RFC 5161 §3.2), with *enabled_r set to true when it names ext
 * (ASCII case-insensitively) and left as it was otherwise, so that the
 * caller sets it false before the command and reads it after the tagged
 * OK; 0 when r is no ENABLED response (*enabled_r untouched); -1 (ERR_PROTO)
 * for a malformed one. The tagged OK proves nothing: a server answers OK
 * to ENABLE and leaves out of ENABLED what it did not enable (RFC 5161
 * §3.1); only this check tells. */
int imap_verb_enabled_check(const struct imap_resp *r, const char *ext,
    bool *enabled_r, struct err *err);

/* IDLE (RFC 2177 §3). The engine waits for the continuation and ends the
 * command with "DONE" CRLF, which is no command and not built here. */
struct imap_cmd *imap_verb_idle(void);

/* ---- authenticated state: mailboxes (RFC 3501 §6.3) ---- */

/* SELECT and EXAMINE parameters (RFC 4466 §2.1 select-params). */
struct imap_verb_select {
	/* (CONDSTORE), RFC 7162 §3.1.8. May be given with QRESYNC, which
	 * implies it. */
	bool condstore;
	/* (QRESYNC (uidvalidity modseq [known-uids] [seq-match-data])),
	 * RFC 7162 §3.2.5, when uidvalidity is not 0. modseq must be
	 * 1..IMAP_VERB_MODSEQ_MAX (else ERR_REFUSED: 0 means the mailbox has
	 * no known state, send a plain SELECT). */
	uint32_t uidvalidity;
	uint64_t modseq;
	/* known-uids: NULL or empty when left out. */
	struct uidset *known_uids;
	/* seq-match-data "(known-sequence-set known-uid-set)": message
	 * numbers and the UIDs they had, as many of each; both NULL or empty
	 * when left out. RFC 7162 allows it with or without known-uids. */
	struct uidset *match_seqs, *match_uids;
};

/* SELECT mailbox [(params)] (RFC 3501 §6.3.1). opt NULL: no parameter.
 * Aborts when the QRESYNC fields are given without uidvalidity, or when
 * only one of the match sets is given or they differ in size. */
int imap_verb_select(const char *mailbox, const struct imap_verb_select *opt,
    struct imap_cmd **cmd_r, struct err *err);
/* EXAMINE mailbox [(params)] (RFC 3501 §6.3.2): the same, read-only. */
int imap_verb_examine(const char *mailbox, const struct imap_verb_select *opt,
    struct imap_cmd **cmd_r, struct err *err);

/* CREATE mailbox (RFC 3501 §6.3.3). */
int imap_verb_create(const char *mailbox, struct imap_cmd **cmd_r,
    struct err *err);
/* DELETE mailbox (RFC 3501 §6.3.4). */
int imap_verb_delete(const char *mailbox, struct imap_cmd **cmd_r,
    struct err *err);
/* RENAME from to (RFC 3501 §6.3.5). */
int imap_verb_rename(const char *from, const char *to,
    struct imap_cmd **cmd_r, struct err *err);
/* SUBSCRIBE mailbox (RFC 3501 §6.3.6). */
int imap_verb_subscribe(const char *mailbox, struct imap_cmd **cmd_r,
    struct err *err);
/* UNSUBSCRIBE mailbox (RFC 3501 §6.3.7). */
int imap_verb_unsubscribe(const char *mailbox, struct imap_cmd **cmd_r,
    struct err *err);

/* STATUS mailbox (items) (RFC 3501 §6.3.10). items is a mask of enum
 * imap_status_have (imap_data.h), the bits the reply's view reports:
 * MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN, HIGHESTMODSEQ (RFC 7162
 * §3.1.7, needs CONDSTORE), DELETED (RFC 9051), SIZE (RFC 8438). They go
 * out in the order UIDVALIDITY UIDNEXT HIGHESTMODSEQ MESSAGES RECENT
 * UNSEEN DELETED SIZE (the reference interimap's three first). Aborts when
 * items is 0 or has an unknown bit. */
int imap_verb_status(const char *mailbox, unsigned items,
    struct imap_cmd **cmd_r, struct err *err);

/* LIST return options (RFC 5258 §3.2, RFC 5819). */
enum imap_verb_list_return {
	IMAP_VERB_LIST_SUBSCRIBED = 1 << 0, /* RETURN (SUBSCRIBED) */
	IMAP_VERB_LIST_CHILDREN = 1 << 1,   /* RETURN (CHILDREN), §4 */
};

struct imap_verb_list {
	/* list-select-opts: SUBSCRIBED, REMOTE, RECURSIVEMATCH... (RFC 5258
	 * §3.1), from the user's configuration: each must be an atom (else
	 * ERR_CONFIG), and RECURSIVEMATCH needs an option other than itself
	 * and REMOTE (a base option, the grammar's list-select-base-opt;
	 * else ERR_CONFIG). nselect 0: no "(...)". Sent as given (they are
	 * case-insensitive). */
	const char *const *select_opts;
	size_t nselect;
	/* The reference name, a mailbox name (imap_cmd_mailbox()); NULL is
	 * "". */
	const char *reference;
	/* npatterns >= 1 LIST patterns (imap_cmd_list_mailbox()): one goes
	 * out alone, several as a list "(p1 p2)" (RFC 5258 §3). */
	const char *const *patterns;
	size_t npatterns;
	/* enum imap_verb_list_return. */
	unsigned ret;
	/* RETURN (... STATUS (items)) (RFC 5819 LIST-STATUS): a mask of
	 * enum imap_status_have as imap_verb_status() takes, 0 for none. */
	unsigned status;
};

/* LIST [(select-opts)] reference pattern|(patterns) [RETURN (opts)]
 * (RFC 3501 §6.3.8, RFC 5258 §3 LIST-EXTENDED, RFC 5819 LIST-STATUS).
 * Without select options, with one pattern and no return option, this is
 * RFC 3501's LIST; RETURN is left out when there is no return option. */
int imap_verb_list(const struct imap_verb_list *l, struct imap_cmd **cmd_r,
    struct err *err);

/* NOTIFY (RFC 5465) mailbox filters (§6.1). */
enum imap_verb_notify_filter {
	IMAP_VERB_NOTIFY_SELECTED,         /* "SELECTED" */
	IMAP_VERB_NOTIFY_SELECTED_DELAYED, /* "SELECTED-DELAYED" */
	IMAP_VERB_NOTIFY_INBOXES,          /* "INBOXES" */
	IMAP_VERB_NOTIFY_PERSONAL,         /* "PERSONAL" */
	IMAP_VERB_NOTIFY_SUBSCRIBED,       /* "SUBSCRIBED" */
	IMAP_VERB_NOTIFY_SUBTREE,          /* "SUBTREE" (mailboxes) */
	IMAP_VERB_NOTIFY_MAILBOXES,        /* "MAILBOXES" (mailboxes) */
};

/* NOTIFY events (RFC 5465 §5), sent in this order. */
enum imap_verb_notify_event {
	IMAP_VERB_EV_MESSAGE_NEW = 1 << 0,            /* MessageNew */
	IMAP_VERB_EV_MESSAGE_EXPUNGE = 1 << 1,        /* MessageExpunge */
	IMAP_VERB_EV_FLAG_CHANGE = 1 << 2,            /* FlagChange */
	IMAP_VERB_EV_ANNOTATION_CHANGE = 1 << 3,      /* AnnotationChange */
	IMAP_VERB_EV_MAILBOX_NAME = 1 << 4,           /* MailboxName */
	IMAP_VERB_EV_SUBSCRIPTION_CHANGE = 1 << 5,    /* SubscriptionChange */
	IMAP_VERB_EV_MAILBOX_METADATA_CHANGE = 1 << 6,/* MailboxMetadataChange */
	IMAP_VERB_EV_SERVER_METADATA_CHANGE = 1 << 7, /* ServerMetadataChange */
};

/* One event group "(filter [mailboxes] events)". */
struct imap_verb_notify_group {
	enum imap_verb_notify_filter filter;
	/* SUBTREE and MAILBOXES: nmailboxes >= 1 names, always sent as a
	 * list "(m1 m2)"; the other filters: none. */
	const char *const *mailboxes;
	size_t nmailboxes;
	/* enum imap_verb_notify_event; 0 sends NONE. */
	unsigned events;
	/* SELECTED and SELECTED-DELAYED with MessageNew only: NULL, or fixed
	 * protocol text for the fetch attributes sent with each new message,
	 * a parenthesised list "(UID FLAGS)" (Dovecot takes it nowhere
	 * else). */
	const char *fetch_att;
};

/* NOTIFY SET [STATUS] (group) (group)... (RFC 5465 §3.1); status asks
 * for a STATUS reply per mailbox at once. Aborts (RFC 5465 §5, §6.1) when
 * n is 0; when a group has MessageNew without MessageExpunge or the other
 * way round, or FlagChange or AnnotationChange without both; when a
 * SELECTED or SELECTED-DELAYED group has an event about mailboxes
 * (MailboxName and the three after it), or there are two such groups;
 * when fetch_att or mailboxes are given where they do not belong, or
 * missing where needed. */
int imap_verb_notify_set(bool status, const struct imap_verb_notify_group *g,
    size_t n, struct imap_cmd **cmd_r, struct err *err);
/* NOTIFY NONE (RFC 5465 §3.1): no notification at all. */
struct imap_cmd *imap_verb_notify_none(void);

/* One message of an APPEND (RFC 3501 §6.3.11, RFC 3502 MULTIAPPEND). */
struct imap_verb_append_msg {
	/* The flag list: NULL to leave it out; else nflags flags (imap_cmd_flag:
	 * "\Seen", "$Label"), sent as "(...)", "()" when there are none.
	 * \Recent (in any case) is dropped, not refused: it cannot be set
	 * (RFC 3501 §2.3.2), and a list relayed from another server's FETCH
	 * may hold it. Another flag that is no atom is refused
	 * (ERR_REFUSED). */
	const char *const *flags;
	size_t nflags;
	/* The INTERNALDATE: NULL to leave it out; else an RFC 3501
	 * date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (dd may be " d"), as a
	 * server's FETCH gives it; checked with imap_date_parse() (else
	 * ERR_REFUSED), sent as a quoted string. */
	const char *internaldate;
	/* The message, a literal of size bytes: data[0..size), copied (a
	 * NUL in it without literal8 is refused, ERR_REFUSED); or, when data
	 * is NULL, pulled from src(src_ctx, ...) while the command is sent
	 * (imap_cmd_literal_stream(): src_ctx must stay valid until then, and
	 * such a command can be written once). */
	uint64_t size;
	const void *data;
	imap_source_fn *src;
	void *src_ctx;
	/* "~{N}" (RFC 3516 BINARY: the caller checked the capability). */
	bool literal8;
};

/* APPEND mailbox [(flags)] [date] {N}... (RFC 3501 §6.3.11; n >= 1: more
 * than one message needs MULTIAPPEND, RFC 3502 §6.3.11). Aborts when n is 0
 * or a message has neither data nor src. */
int imap_verb_append(const char *mailbox,
    const struct imap_verb_append_msg *msgs, size_t n,
    struct imap_cmd **cmd_r, struct err *err);

/* ---- selected state (RFC 3501 §6.4) ---- */

/* UNSELECT (RFC 3691 §2). */
struct imap_cmd *imap_verb_unselect(void);

/* UID SEARCH [RETURN (ALL)] criteria (RFC 3501 §6.4.4, §6.4.8; RFC 4731
 * §3.1 ESEARCH when esearch). criteria is fixed protocol text, as
 * imap_cmd_raw() takes ("UID 1:*", "MODSEQ 52"). */
struct imap_cmd *imap_verb_uid_search(bool esearch, const char *criteria);

/* UID FETCH set items [(CHANGEDSINCE m [VANISHED])] (RFC 3501 §6.4.8;
 * RFC 7162 §3.1.4.1 CHANGEDSINCE, §3.2.6 VANISHED). items is fixed
 * protocol text: one fetch attribute or a parenthesised list ("(MODSEQ
 * FLAGS INTERNALDATE BODY.PEEK[])"). changedsince is
 * IMAP_VERB_NO_MODSEQ for none, else 1..IMAP_VERB_MODSEQ_MAX (else
 * ERR_REFUSED). vanished needs changedsince (aborts otherwise) and
 * QRESYNC enabled. The set as described at IMAP_VERB_SET_MAX. */
int imap_verb_uid_fetch(struct uidset *set, size_t *pos, const char *items,
    uint64_t changedsince, bool vanished, struct imap_cmd **cmd_r,
    struct err *err);

/* What UID STORE does to the flags (RFC 3501 §6.4.6). */
enum imap_verb_store_op {
	IMAP_VERB_STORE_SET,    /* FLAGS: replace */
	IMAP_VERB_STORE_ADD,    /* +FLAGS */
	IMAP_VERB_STORE_REMOVE, /* -FLAGS */
};

/* UID STORE set [(UNCHANGEDSINCE m)] [+-]FLAGS[.SILENT] (flags)
 * (RFC 3501 §6.4.6, §6.4.8; RFC 7162 §3.1.3 UNCHANGEDSINCE).
 * unchangedsince is IMAP_VERB_NO_MODSEQ for none, else
 * 0..IMAP_VERB_MODSEQ_MAX (0 is valid there: mod-sequence-valzer; else
 * ERR_REFUSED). The flags as for APPEND: \Recent dropped, others checked
 * (ERR_REFUSED); the list may be empty ("FLAGS ()" clears them all). The
 * set as described at IMAP_VERB_SET_MAX. */
int imap_verb_uid_store(struct uidset *set, size_t *pos,
    uint64_t unchangedsince, enum imap_verb_store_op op, bool silent,
    const char *const *flags, size_t nflags, struct imap_cmd **cmd_r,
    struct err *err);

/* UID EXPUNGE set (RFC 4315 §2.1 UIDPLUS). The set as described at
 * IMAP_VERB_SET_MAX. */
struct imap_cmd *imap_verb_uid_expunge(struct uidset *set, size_t *pos);

#endif
