#ifndef COMMON_IMAP_DATA_H
#define COMMON_IMAP_DATA_H

/* Typed views of parsed IMAP responses (struct imap_resp, imap_parse.h):
 * FETCH, LIST/LSUB (RFC 5258), STATUS (also after LIST-STATUS, RFC 5819),
 * SEARCH and ESEARCH (RFC 4731, 7162), VANISHED (RFC 7162), ENABLED
 * (RFC 5161), CAPABILITY, and the response codes of status responses.
 *
 * Return values. Every view function (imap_*_parse taking a response)
 * and code accessor (imap_code_* but imap_code_name) returns
 *   1  the response is of that kind and the view is filled;
 *   0  the response is not of that kind (cheap: a name or code compare);
 *      the view and sets are left untouched;
 *  -1  the response is of that kind but malformed: err (ERR_PROTO) names
 *      what is wrong; the view is unspecified, sets may hold part of the
 *      values.
 * They never crash or allocate from a number the server sent.
 *
 * Memory. Views are borrowed: their pointers point into the response and
 * are valid as long as the response is (until the parser starts the next
 * one, see imap_parse.h). A struct uidset argument is the caller's: the
 * functions add to it (they do not clear it first) and the caller frees it.
 *
 * Numbers are strict: UIDs, sequence numbers, UIDVALIDITY and UIDNEXT are
 * 32-bit and non-zero; mod-sequences are 1..2^63-1 (RFC 7162
 * mod-sequence-value), except STATUS HIGHESTMODSEQ, which may be 0
 * (mod-sequence-valzer); counts are 32-bit; sizes 64-bit. Numbers are
 * atoms of digits only, never quoted strings. Sets are sequence-sets
 * without "*" (RFC 7162 known-uids, RFC 4315 uid-set). Mailbox names are
 * kept raw (modified UTF-7 is decoded elsewhere) and may not contain NUL. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "imap_parse.h"
#include "uidlist.h"

/* ---- which view fits ---- */

enum imap_data_kind {
	IMAP_DATA_OTHER,      /* none of these: status, continuation, ... */
	IMAP_DATA_FETCH,      /* imap_fetch_parse */
	IMAP_DATA_LIST,       /* imap_list_parse: LIST or LSUB */
	IMAP_DATA_STATUS,     /* imap_status_parse */
	IMAP_DATA_SEARCH,     /* imap_search_parse */
	IMAP_DATA_ESEARCH,    /* imap_esearch_parse */
	IMAP_DATA_VANISHED,   /* imap_vanished_parse */
	IMAP_DATA_ENABLED,    /* imap_enabled_parse */
	IMAP_DATA_CAPABILITY, /* imap_capability_parse */
	IMAP_DATA_FLAGS,      /* "* FLAGS (...)": r->args, not checked */
	/* "* N EXISTS", "* N RECENT" (N >= 0) and "* N EXPUNGE" (N >= 1):
	 * the number is r->num. Without it (or EXPUNGE 0) they are OTHER. */
	IMAP_DATA_EXISTS,
	IMAP_DATA_RECENT,
	IMAP_DATA_EXPUNGE,
};

/* The kind of an untagged data response, from its name alone (and its
 * number for EXISTS, RECENT, EXPUNGE): a dispatcher's switch. The view
 * still checks the rest and may return -1. Status responses are OTHER:
 * see imap_code() for their codes. */
enum imap_data_kind imap_data_kind(const struct imap_resp *r);

/* ---- lists of atoms: flags, capabilities, extensions ---- */

/* n atoms, v[i].type == IMAP_ARG_ATOM for every i (checked by the parse
 * functions that fill it). Empty: {NULL, 0}. */
struct imap_atoms {
	const struct imap_arg *v;
	size_t n;
};

/* True when one of the atoms equals s, ASCII case-insensitively (flags,
 * capabilities and keywords are case-insensitive in IMAP). */
bool imap_atoms_has(const struct imap_atoms *a, const char *s);

/* An owned copy of a capability list, kept past the response that carried
 * it. Empty: IMAP_CAPS_INIT. */
struct imap_caps {
	char **v;
	size_t n;
};
#define IMAP_CAPS_INIT {NULL, 0}
/* Replaces the list with the atoms of args[0..n) (other args skipped). */
void imap_caps_set(struct imap_caps *c, const struct imap_arg *args, size_t n);
/* cap is in the list, ASCII case-insensitively. */
bool imap_caps_has(const struct imap_caps *c, const char *cap);
void imap_caps_free(struct imap_caps *c);

/* ---- FETCH (RFC 3501 §7.4.2, RFC 7162 §3.1.4) ---- */

enum imap_fetch_have {
	IMAP_FETCH_UID = 1 << 0,
	IMAP_FETCH_FLAGS = 1 << 1,
	IMAP_FETCH_MODSEQ = 1 << 2,
	IMAP_FETCH_INTERNALDATE = 1 << 3,
	IMAP_FETCH_SIZE = 1 << 4,
	IMAP_FETCH_ENVELOPE = 1 << 5,
	IMAP_FETCH_BODY = 1 << 6,   /* BODY[] */
	IMAP_FETCH_BINARY = 1 << 7, /* BINARY[] (RFC 3516) */
};

struct imap_fetch {
	uint32_t seq;             /* the message sequence number, >= 1 */
	unsigned have;            /* enum imap_fetch_have: items present */
	uint32_t uid;             /* UID */
	struct imap_atoms flags;  /* FLAGS */
	uint64_t modseq;          /* MODSEQ (n) */
	const char *internaldate; /* INTERNALDATE, checked by imap_date_parse */
	uint64_t size;            /* RFC822.SIZE */
	/* ENVELOPE: a LIST whose shape has been checked (see
	 * imap_envelope_string/imap_envelope_address). */
	const struct imap_arg *envelope;
	/* BODY[] and BINARY[]: an arg of type NIL, STRING, LITERAL or
	 * LITERAL_STREAMED (the caller consumed the bytes; len is their
	 * number, str is ""). */
	const struct imap_arg *body;
	const struct imap_arg *binary;
};

/* "* N FETCH (...)". Items may come in any order; unknown items (BODY[1],
 * X-GM-LABELS...) are skipped whatever their value; a known item given twice
 * is an error: a server that sends two UIDs for one message is not trusted
 * with either. Item names are ATOMs matched case-insensitively. */
int imap_fetch_parse(const struct imap_resp *r, struct imap_fetch *f_r,
    struct err *err);

/* At IMAP_PARSE_LITERAL: partial, cont and count as returned by
 * imap_parse_partial() and imap_parse_literal_container(). When the literal
 * coming is the value of an item of a FETCH (not nested deeper, e.g. inside
 * an ENVELOPE), returns 1 with *f_r filled from the items before it and
 * *item_r the item's name ("BODY[]", "BINARY[]", or any other), so that the
 * caller knows which message the bytes are; 0 when it is not; -1 when the
 * items so far are malformed (as imap_fetch_parse). */
int imap_fetch_parse_partial(const struct imap_resp *partial,
    const struct imap_arg *cont, size_t count, struct imap_fetch *f_r,
    const char **item_r, struct err *err);

/* The value of any item of a FETCH response by name (case-insensitive,
 * e.g. "BODY[HEADER.FIELDS (MESSAGE-ID)]"), or NULL when r is not a FETCH
 * or has no such item. Does not check the response. */
const struct imap_arg *imap_fetch_item(const struct imap_resp *r,
    const char *name);

/* RFC 3501 date-time, "dd-Mon-yyyy hh:mm:ss +zzzz" (dd may be " d"; the
 * month is case-insensitive). 0 with *t_r the instant (seconds since the
 * epoch, UTC) and *zone_r the zone in minutes east of UTC (+0130 -> 90);
 * -1 when s is not exactly that (no err: the caller knows the context).
 * Either out-parameter may be NULL. */
int imap_date_parse(const char *s, time_t *t_r, int *zone_r);

/* ENVELOPE fields (RFC 3501 §7.4.2), in their order in the list. */
enum imap_env_field {
	IMAP_ENV_DATE,
	IMAP_ENV_SUBJECT,
	IMAP_ENV_FROM,
	IMAP_ENV_SENDER,
	IMAP_ENV_REPLY_TO,
	IMAP_ENV_TO,
	IMAP_ENV_CC,
	IMAP_ENV_BCC,
	IMAP_ENV_IN_REPLY_TO,
	IMAP_ENV_MESSAGE_ID,
};

/* A string field (DATE, SUBJECT, IN_REPLY_TO, MESSAGE_ID) of an envelope
 * from imap_fetch_parse: its text (raw: RFC 2047 words are not decoded; it
 * may contain NUL bytes, hence *len_r, which may be NULL), or NULL for NIL,
 * for an address field or for an envelope of the wrong shape. */
const char *imap_envelope_string(const struct imap_arg *env,
    enum imap_env_field f, size_t *len_r);

/* An address (RFC 3501 addr-name, addr-adl, addr-mailbox, addr-host); NULL
 * members are NIL. RFC 2822 groups come as an address with host NULL and
 * mailbox the group name, closed by one with mailbox and host NULL. */
struct imap_address {
	const char *name, *adl, *mailbox, *host;
};

/* The i-th address (from 0) of an address field (FROM ... BCC): 1 with *a_r
 * filled, 0 when there is none (past the end, NIL, not an address field). */
int imap_envelope_address(const struct imap_arg *env, enum imap_env_field f,
    size_t i, struct imap_address *a_r);

/* ---- LIST and LSUB (RFC 3501 §7.2.2, RFC 5258, RFC 5465 §5.4) ---- */

enum imap_list_attr {
	IMAP_LIST_NOINFERIORS = 1 << 0,
	IMAP_LIST_NOSELECT = 1 << 1,
	IMAP_LIST_MARKED = 1 << 2,
	IMAP_LIST_UNMARKED = 1 << 3,
	IMAP_LIST_NONEXISTENT = 1 << 4,  /* sets NOSELECT too (RFC 5258 §3) */
	IMAP_LIST_SUBSCRIBED = 1 << 5,
	IMAP_LIST_REMOTE = 1 << 6,
	IMAP_LIST_HASCHILDREN = 1 << 7,
	IMAP_LIST_HASNOCHILDREN = 1 << 8,
};

struct imap_list {
	bool lsub;                /* an LSUB response */
	unsigned attrs;           /* enum imap_list_attr */
	struct imap_atoms raw;    /* all attributes as sent */
	char delim;               /* hierarchy delimiter; '\0' for NIL */
	const char *mailbox;      /* raw name, may be "" (LIST "" "") */
	size_t mailbox_len;
	/* Extended data (RFC 5258 mbox-list-extended): */
	bool childinfo_subscribed;  /* CHILDINFO ("SUBSCRIBED") */
	const char *oldname;        /* OLDNAME ("name") or NULL */
	size_t oldname_len;
	const struct imap_arg *ext; /* the whole extended list, or NULL */
};

/* "* LIST (attrs) delim mailbox [(ext...)]", also "* LSUB ...". NIL as the
 * delimiter means a flat name space. Unknown attributes are only in raw;
 * unknown extended items are skipped; CHILDINFO or OLDNAME given twice is
 * an error. */
int imap_list_parse(const struct imap_resp *r, struct imap_list *l_r,
    struct err *err);

/* ---- STATUS (RFC 3501 §7.2.4, 7162, 9051 DELETED, 8438 SIZE) ---- */

enum imap_status_have {
	IMAP_STATUS_MESSAGES = 1 << 0,
	IMAP_STATUS_RECENT = 1 << 1,
	IMAP_STATUS_UIDNEXT = 1 << 2,
	IMAP_STATUS_UIDVALIDITY = 1 << 3,
	IMAP_STATUS_UNSEEN = 1 << 4,
	IMAP_STATUS_HIGHESTMODSEQ = 1 << 5,
	IMAP_STATUS_DELETED = 1 << 6,
	IMAP_STATUS_SIZE = 1 << 7,
};

struct imap_status {
	const char *mailbox; /* raw name */
	size_t mailbox_len;
	unsigned have;       /* enum imap_status_have */
	uint32_t messages, recent, uidnext, uidvalidity, unseen, deleted;
	uint64_t highestmodseq; /* 0: no persistent mod-sequences */
	uint64_t size;
};

/* "* STATUS mailbox (name value ...)": unknown items are skipped, a known
 * one given twice is an error. */
int imap_status_parse(const struct imap_resp *r, struct imap_status *s_r,
    struct err *err);

/* ---- SEARCH, ESEARCH (RFC 3501 §7.2.5, RFC 4731, RFC 7162 §3.1.5) ---- */

/* "* SEARCH n n ... [(MODSEQ m)]": adds the numbers to set; *modseq_r is
 * m, or 0 without it. */
int imap_search_parse(const struct imap_resp *r, struct uidset *set,
    uint64_t *modseq_r, struct err *err);

enum imap_esearch_have {
	IMAP_ESEARCH_MIN = 1 << 0,
	IMAP_ESEARCH_MAX = 1 << 1,
	IMAP_ESEARCH_COUNT = 1 << 2,
	IMAP_ESEARCH_ALL = 1 << 3,
	IMAP_ESEARCH_MODSEQ = 1 << 4,
};

struct imap_esearch {
	const char *tag;  /* the (TAG "...") correlator, or NULL */
	bool uid;         /* numbers are UIDs */
	unsigned have;    /* enum imap_esearch_have */
	uint32_t min, max, count;
	uint64_t modseq;
};

/* "* ESEARCH [(TAG "t")] [UID] [name value]...": ALL's set is added to
 * all. Unknown return data (name and one value) are skipped; a known name
 * given twice is an error. */
int imap_esearch_parse(const struct imap_resp *r, struct imap_esearch *e_r,
    struct uidset *all, struct err *err);

/* ---- VANISHED (RFC 7162 §3.2.10) ---- */

/* "* VANISHED [(EARLIER)] uid-set": adds the UIDs to set; *earlier_r tells
 * whether (EARLIER) was there. */
int imap_vanished_parse(const struct imap_resp *r, bool *earlier_r,
    struct uidset *set, struct err *err);

/* ---- ENABLED (RFC 5161) and CAPABILITY (RFC 3501 §7.2.1) ---- */

/* "* ENABLED ext...": the extensions the server enabled (maybe none). */
int imap_enabled_parse(const struct imap_resp *r, struct imap_atoms *a_r,
    struct err *err);
/* "* CAPABILITY cap...": must list at least one capability. */
int imap_capability_parse(const struct imap_resp *r, struct imap_atoms *a_r,
    struct err *err);

/* ---- response codes (RFC 3501 §7.1 and extensions) ---- */

enum imap_code {
	IMAP_CODE_NONE,          /* no code, or not a status response */
	IMAP_CODE_OTHER,         /* a code not listed here */
	IMAP_CODE_ALERT,
	IMAP_CODE_PARSE,
	IMAP_CODE_TRYCREATE,
	IMAP_CODE_READ_ONLY,
	IMAP_CODE_READ_WRITE,
	IMAP_CODE_UIDVALIDITY,   /* number */
	IMAP_CODE_UIDNEXT,       /* number */
	IMAP_CODE_UNSEEN,        /* number */
	IMAP_CODE_PERMANENTFLAGS,/* imap_code_permanentflags */
	IMAP_CODE_CAPABILITY,    /* imap_code_atoms */
	IMAP_CODE_APPENDUID,     /* RFC 4315: imap_code_appenduid */
	IMAP_CODE_COPYUID,       /* RFC 4315: imap_code_copyuid */
	IMAP_CODE_UIDNOTSTICKY,  /* RFC 4315 */
	IMAP_CODE_HIGHESTMODSEQ, /* RFC 7162: number */
	IMAP_CODE_NOMODSEQ,      /* RFC 7162 */
	IMAP_CODE_MODIFIED,      /* RFC 7162: imap_code_modified */
	IMAP_CODE_CLOSED,        /* RFC 7162 */
	IMAP_CODE_COMPRESSIONACTIVE,    /* RFC 4978 */
	IMAP_CODE_NOTIFICATIONOVERFLOW, /* RFC 5465 */
	IMAP_CODE_BADEVENT,      /* RFC 5465: imap_code_atoms */
};

/* Which code a status response (tagged or untagged) carries. Looks at the
 * name only: the arguments are checked by the accessors below. */
enum imap_code imap_code(const struct imap_resp *r);
/* The code's name as imap_code() knows it ("READ-ONLY"), for messages. */
const char *imap_code_name(enum imap_code c);

/* UIDVALIDITY, UIDNEXT, UNSEEN (32-bit, >= 1) and HIGHESTMODSEQ
 * (1..2^63-1): 1 with *v_r the number; 0 for any other code. */
int imap_code_number(const struct imap_resp *r, uint64_t *v_r,
    struct err *err);

/* [APPENDUID uidvalidity uid-set]: the UIDs of the appended messages (a
 * set with MULTIAPPEND), in ascending order as RFC 4315 assigns them. */
int imap_code_appenduid(const struct imap_resp *r, uint32_t *uidvalidity_r,
    struct uidset *uids, struct err *err);

/* [COPYUID uidvalidity src-set dst-set]: the i-th UID of src was copied to
 * the i-th UID of dst (counting in sets that were empty before the call).
 * Both sets must be written in ascending order (each range low:high, each
 * above the previous one) and hold as many UIDs as each other: then the
 * pairing survives the sets' sorted storage (uidset_rank on src, then
 * uidset_nth on dst). A server listing them otherwise gets -1, and the
 * caller must do without. */
int imap_code_copyuid(const struct imap_resp *r, uint32_t *uidvalidity_r,
    struct uidset *src, struct uidset *dst, struct err *err);

/* [MODIFIED set]: the messages (UIDs after UID STORE) not stored. */
int imap_code_modified(const struct imap_resp *r, struct uidset *set,
    struct err *err);

/* [CAPABILITY cap...] (at least one) and [BADEVENT (event...)]. 0 for any
 * other code. */
int imap_code_atoms(const struct imap_resp *r, struct imap_atoms *a_r,
    struct err *err);

/* [PERMANENTFLAGS (flag...)]: the flags, "\*" included; *star_r says
 * whether "\*" (new keywords can be created) is one of them. */
int imap_code_permanentflags(const struct imap_resp *r,
    struct imap_atoms *a_r, bool *star_r, struct err *err);

#endif
