#ifndef COMMON_IMAP_CMD_H
#define COMMON_IMAP_CMD_H

/* IMAP commands built from typed pieces, and their rendering for the wire.
 *
 * A command is its verb and arguments as a sequence of segments: TEXT
 * (bytes sent as they are; never CR, LF or NUL) and LITERAL (a size and the
 * bytes, from memory or pulled from a source callback). The tag ("TAG ")
 * and the final CRLF are not part of it: the engine adds them. A literal's
 * header ("{N}", "{N+}", "~{N}") is not stored either: the engine chooses it
 * when it sends the command (see enum imap_lit_mode). No text given to the
 * builder is ever read as a literal marker.
 *
 * Each builder piece appends one argument, separated by one space from what
 * came before, except after imap_cmd_list_open() and imap_cmd_join(), and
 * for imap_cmd_list_close(), which join.
 *
 * Programming errors (a bad verb, atom or raw text, an unbalanced list, a
 * zero buffer capacity) abort() with a message on stderr: they are bugs in
 * fixed text, not conditions to handle. Data that may come from a user or a
 * server (strings, mailbox names, flags) is checked and refused with an
 * error return instead.
 *
 * All memory belongs to the caller unless stated otherwise. Not thread-safe;
 * no I/O of its own except through the source callbacks. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"
#include "uidlist.h"

struct imap_cmd;

/* A streamed literal's bytes: writes at most n (n >= 1) bytes to buf and
 * returns how many (>= 1), 0 at the end of the data (always too early:
 * the writer never asks past the literal's size, so this is an error, see
 * IMAP_CMD_WR_ERROR), -1 on error with err set, or IMAP_SOURCE_AGAIN when no byte is available now (a non-blocking
 * source; the writer then returns IMAP_CMD_WR_BLOCKED). Called only by
 * imap_cmd_writer_next() (and imap_cmd_render()), never for more bytes than
 * the literal has left. */
typedef ssize_t imap_source_fn(void *ctx, char *buf, size_t n,
    struct err *err);
#define IMAP_SOURCE_AGAIN ((ssize_t)-2)

/* Returns a new command with the verb ("SELECT", "UID FETCH"); free with
 * imap_cmd_free(). Aborts unless verb is one or more atoms (ATOM-CHAR, RFC
 * 3501 §9) separated by single spaces. */
struct imap_cmd *imap_cmd_new(const char *verb);
/* Frees *cmdp (NULL is fine) and sets it to NULL. Copied bytes appended
 * after imap_cmd_set_secret() are zeroed first. */
void imap_cmd_free(struct imap_cmd **cmdp);

/* The checks behind the aborting pieces below, for tests and for callers
 * that hold text of unknown origin. */
bool imap_cmd_atom_ok(const char *s); /* 1*ATOM-CHAR */
bool imap_cmd_raw_ok(const char *s);  /* see imap_cmd_raw() */
bool imap_cmd_verb_ok(const char *s); /* see imap_cmd_new() */

/* An atom (1*ATOM-CHAR: printable ASCII but "(){ %*\"\\]"); aborts on
 * anything else. For keywords like "FLAGS", "UIDVALIDITY", "PLAIN". */
void imap_cmd_atom(struct imap_cmd *cmd, const char *atom);
/* A decimal number (number, nz-number, mod-sequence-value). */
void imap_cmd_number(struct imap_cmd *cmd, uint64_t n);

/* An astring (RFC 3501 §4.3, §9) holding s[0..len): an atom when s is
 * non-empty ASTRING-CHARs and not "NIL" in any case (that would read as
 * NIL); else a quoted string when s is printable ASCII (escaping '"' and
 * '\\'); else (8-bit, CR, LF, other controls: RFC 3501 allows controls but
 * CR and LF in a quoted string, a literal keeps them unambiguous for every
 * server and readable in traces) a literal of copied bytes. Returns 0, or -1
 * (ERR_REFUSED; cmd unchanged) when s holds a NUL: only a literal8 could carry
 * it, and that needs BINARY. */
int imap_cmd_astring(struct imap_cmd *cmd, const char *s, size_t len,
    struct err *err);
/* The same as a string: never an atom, so "" and NIL come out quoted. */
int imap_cmd_string(struct imap_cmd *cmd, const char *s, size_t len,
    struct err *err);
/* A quoted string only, where the grammar allows nothing else (APPEND's
 * date-time). -1 (ERR_REFUSED; cmd unchanged) when s holds a byte that
 * imap_cmd_astring() would not quote. */
int imap_cmd_quoted(struct imap_cmd *cmd, const char *s, size_t len,
    struct err *err);
/* A mailbox name as the user gave it (configuration, command line, local
 * state), converted to its wire form (RFC 3501 §5.1.3) when UTF8=ACCEPT
 * (RFC 6855) is not in effect:
 *   - "INBOX" in any case goes out as INBOX (RFC 3501 §5.1: the name is
 *     case-insensitive);
 *   - a name holding a byte >= 0x80 is taken as UTF-8 and encoded with
 *     mutf7_encode() ("Entwürfe" -> Entw&APw-rfe, "Café & Bar" ->
 *     "Caf&AOk- &- Bar": every "&" in it is taken as text);
 *   - a pure US-ASCII name that is valid modified UTF-7 (mutf7_decode()
 *     accepts it) is sent as it is: it may already be in wire form, as
 *     configurations written for the reference interimap or older pullimap
 *     releases are ("Entw&APw-rfe" keeps working);
 *   - any other pure US-ASCII name (one with a stray "&" or a control
 *     character, which cannot be wire form) is encoded too: "R&D" ->
 *     R&-D, "&" -> &-, a TAB -> &AAk-.
 * The result then goes out as imap_cmd_astring() (an atom or a quoted
 * string: the wire form is printable ASCII). Returns 0, or -1 (ERR_CONFIG:
 * the message names the verb and the name; cmd unchanged) when a name with
 * 8-bit bytes is not valid UTF-8. */
int imap_cmd_mailbox(struct imap_cmd *cmd, const char *name,
    struct err *err);
/* A mailbox name already in wire form, sent byte for byte (a name read from
 * the server's LIST reply, given back to it): the INBOX rule above, then
 * imap_cmd_astring(), which cannot fail on a C string (8-bit bytes from a
 * non-compliant server go out as a literal). */
void imap_cmd_mailbox_wire(struct imap_cmd *cmd, const char *name);
/* A LIST or LSUB pattern (RFC 3501 §9 list-mailbox): converted as
 * imap_cmd_mailbox() converts a name ("%" and "*" are printable ASCII, so
 * the wildcards survive), then sent as an atom when it is non-empty
 * list-chars (ATOM-CHAR, "%", "*", "]") and not NIL in any case, else as a
 * quoted string. Same return and errors as imap_cmd_mailbox(). */
int imap_cmd_list_mailbox(struct imap_cmd *cmd, const char *pattern,
    struct err *err);
/* A flag: "\" atom (system flag or flag-extension) or an atom (keyword).
 * -1 (ERR_REFUSED; cmd unchanged) for anything else, e.g. a keyword with a
 * space relayed from another server. */
int imap_cmd_flag(struct imap_cmd *cmd, const char *flag, struct err *err);

/* The set as a sequence-set ("1:3,5"); normalises s. Aborts on an empty
 * set: there is no empty sequence-set, the caller must not send the
 * command. */
void imap_cmd_uidset(struct imap_cmd *cmd, struct uidset *s);
/* Ranges of s from index *pos on, until the set's text holds maxlen bytes or
 * more (uidset_format_chunk()): servers cap the length of a command line,
 * so a long set goes out in several commands. Moves *pos past them; returns
 * how many ranges it took (>= 1). Aborts when none is left. */
size_t imap_cmd_uidset_chunk(struct imap_cmd *cmd, struct uidset *s,
    size_t *pos, size_t maxlen);
/* "*" (the largest number in use) for imap_cmd_range(); 0 is no valid
 * message number or UID. */
#define IMAP_CMD_STAR 0u
/* lo:hi, either end IMAP_CMD_STAR: "5", "5:9", "5:*", "*". */
void imap_cmd_range(struct imap_cmd *cmd, uint32_t lo, uint32_t hi);

/* Verbatim protocol text for the fixed parts: "(UID FLAGS)",
 * "+FLAGS.SILENT", "RETURN (ALL)". Aborts unless text is non-empty printable
 * ASCII (0x20-0x7e) without '{': no CR, LF or NUL can end the line early,
 * and no "{N}" can look like a literal. Never pass data through here. */
void imap_cmd_raw(struct imap_cmd *cmd, const char *text);
/* "(": the next piece follows without a space. */
void imap_cmd_list_open(struct imap_cmd *cmd);
/* ")", joined to what precedes it; aborts without an open list. */
void imap_cmd_list_close(struct imap_cmd *cmd);
/* The next piece is appended without the separating space ("BODY[]" then
 * "<0.100>"). */
void imap_cmd_join(struct imap_cmd *cmd);

/* A literal of data[0..len), copied. literal8 sends "~{N}" (RFC 3516
 * BINARY, which the caller must have checked); only then may data hold
 * NUL: otherwise -1 (ERR_REFUSED; cmd unchanged). */
int imap_cmd_literal(struct imap_cmd *cmd, const void *data, size_t len,
    bool literal8, struct err *err);
/* The same, borrowing data: it must stay valid and unchanged until the
 * command is freed. */
int imap_cmd_literal_borrow(struct imap_cmd *cmd, const void *data,
    size_t len, bool literal8, struct err *err);
/* A literal of exactly size bytes pulled from src(ctx, ...) while the
 * command is sent; ctx must stay valid until then. The bytes are not
 * checked (a NUL without literal8 is the server's to refuse). Sizes of 2^32
 * and more need a server that takes number64 (RFC 7888, RFC 9051);
 * they are sent as they are. Such a command can be written once. */
void imap_cmd_literal_stream(struct imap_cmd *cmd, uint64_t size,
    bool literal8, imap_source_fn *src, void *ctx);

/* Everything appended from now on is shown as "[REDACTED]" by
 * imap_cmd_trace() (LOGIN's password, AUTHENTICATE's initial response) and
 * zeroed by imap_cmd_free(). The first call counts. */
void imap_cmd_set_secret(struct imap_cmd *cmd);

/* Returns the command for a --debug trace, allocated (caller frees): the
 * text as sent, each literal as "{N}[...]" ("~{N}[...]" for literal8),
 * whatever the literal mode, and what follows imap_cmd_set_secret() as
 * " [REDACTED]" unless show_secret (--debug --debug). */
char *imap_cmd_trace(const struct imap_cmd *cmd, bool show_secret);
/* The verb given to imap_cmd_new(), valid while cmd lives. */
const char *imap_cmd_verb(const struct imap_cmd *cmd);

/* Read-only view of the segments, for the engine; valid until the next
 * builder call or imap_cmd_free(). TEXT segments never hold CR, LF or NUL
 * and include the space before a following literal; two TEXT segments are
 * never adjacent. */
enum imap_cmd_seg_kind { IMAP_CMD_SEG_TEXT, IMAP_CMD_SEG_LITERAL };
struct imap_cmd_seg {
	enum imap_cmd_seg_kind kind;
	/* TEXT */
	const char *text;
	size_t len;
	/* LITERAL: size bytes from data, or from src(src_ctx) when data is
	 * NULL. */
	uint64_t size;
	bool literal8;
	const char *data;
	imap_source_fn *src;
	void *src_ctx;
};
size_t imap_cmd_nsegs(const struct imap_cmd *cmd);
/* Aborts when i >= imap_cmd_nsegs(cmd). */
const struct imap_cmd_seg *imap_cmd_seg(const struct imap_cmd *cmd,
    size_t i);

/* How literal headers go out, from the server's capabilities:
 * SYNC  "{N}\r\n", then wait for the server's "+" to THIS command;
 * PLUS  "{N+}\r\n" (LITERAL+, RFC 7888);
 * MINUS "{N+}\r\n" when N <= 4096, else as SYNC (LITERAL-, RFC 7888).
 * literal8 puts "~" first. */
enum imap_lit_mode { IMAP_LIT_SYNC, IMAP_LIT_PLUS, IMAP_LIT_MINUS };
#define IMAP_LIT_MINUS_MAX 4096

/* Sends a command in pieces, never holding more of it than the caller's
 * buffer: the engine keeps one per command being sent. Fields are private;
 * it holds no allocation. cmd must outlive it. */
struct imap_cmd_writer {
	const struct imap_cmd *cmd;
	enum imap_lit_mode mode;
	size_t seg;      /* segment being written */
	uint64_t off;    /* bytes of it written (a literal: of its body) */
	char hdr[32];    /* the current literal's header */
	size_t hdr_len, hdr_off;
	bool in_body;    /* the current literal's header is out */
	bool failed;
};

/* After a call, buf[0..*len_r) are the next bytes to send, in order, before
 * acting on the status:
 * MORE     call again;
 * WAIT     the bytes end with a synchronizing literal's header: send them,
 *          then call again once the server's "+" for this command arrived.
 *          A tagged reply instead means the server refused the command: the
 *          rest must not be sent, drop the writer;
 * BLOCKED  a source returned IMAP_SOURCE_AGAIN: call again when it may have
 *          data;
 * DONE     the command is complete (the engine sends CRLF); further calls
 *          return DONE with no bytes;
 * ERROR    err is set and *len_r is 0: a source failed, returned more than
 *          asked, or ended before the literal's size. Part of the command
 *          may be out (a literal is never cancellable), so the engine must
 *          drop the connection. Further calls return ERROR. */
enum imap_cmd_wr {
	IMAP_CMD_WR_ERROR = -1,
	IMAP_CMD_WR_DONE,
	IMAP_CMD_WR_MORE,
	IMAP_CMD_WR_WAIT,
	IMAP_CMD_WR_BLOCKED,
};
/* Aborts when a list is left open. */
void imap_cmd_writer_init(struct imap_cmd_writer *w,
    const struct imap_cmd *cmd, enum imap_lit_mode mode);
/* Fills buf with up to cap (>= 1) bytes. Calls a source at most once per
 * call, for at most cap bytes, so a literal of any size goes through a
 * buffer of cap bytes, and a source's short read comes back as a short
 * chunk. */
enum imap_cmd_wr imap_cmd_writer_next(struct imap_cmd_writer *w, char *buf,
    size_t cap, size_t *len_r, struct err *err);

/* Appends the whole command to out as a writer in mode sends it, with
 * wait_mark (unless NULL) where the writer returns WAIT: for tests and
 * synchronous callers. Returns 0, or -1 when a source fails or would block,
 * or out would exceed its max (out then holds part of the command). */
int imap_cmd_render(const struct imap_cmd *cmd, enum imap_lit_mode mode,
    const char *wait_mark, struct buf *out, struct err *err);

#endif
