#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_cmd.h"
#include "mutf7.h"

struct seg {
	struct imap_cmd_seg pub;
	char *own; /* the text, or a copied literal's bytes */
	size_t cap; /* of a TEXT segment's own */
};

struct imap_cmd {
	char *verb;
	struct seg *segs;
	size_t nsegs, cap;
	bool join;      /* no space before the next piece */
	unsigned depth; /* open lists */
	bool secret;
	size_t secret_seg, secret_off; /* where the secret part starts */
};

static void ATTR_NORETURN ATTR_PRINTF(1, 2)
bug(const char *fmt, ...)
{
	va_list ap;
	fputs("imap_cmd: programming error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* RFC 3501 §9: ATOM-CHAR = <any CHAR except atom-specials>, atom-specials =
 * "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
 * resp-specials. */
static bool
is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR = ATOM-CHAR / resp-specials */
static bool
is_astring_char(unsigned char c)
{
	return is_atom_char(c) || c == ']';
}

static bool
is_print(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

bool
imap_cmd_atom_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!is_atom_char((unsigned char)*s))
			return false;
	return true;
}

bool
imap_cmd_raw_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!is_print((unsigned char)*s) || *s == '{')
			return false;
	return true;
}

bool
imap_cmd_verb_ok(const char *s)
{
	bool word = false; /* inside a word */
	for (; *s; s++) {
		if (*s == ' ') {
			if (!word)
				return false;
			word = false;
		} else if (is_atom_char((unsigned char)*s)) {
			word = true;
		} else {
			return false;
		}
	}
	return word;
}

static struct seg *
push_seg(struct imap_cmd *cmd, enum imap_cmd_seg_kind kind)
{
	struct seg *g;
	cmd->segs = xgrow(cmd->segs, &cmd->cap, cmd->nsegs + 1,
	    sizeof(*cmd->segs));
	g = &cmd->segs[cmd->nsegs++];
	memset(g, 0, sizeof(*g));
	g->pub.kind = kind;
	return g;
}

static void
put(struct imap_cmd *cmd, const char *p, size_t n)
{
	struct seg *g = cmd->nsegs ? &cmd->segs[cmd->nsegs - 1] : NULL;
	if (g == NULL || g->pub.kind != IMAP_CMD_SEG_TEXT)
		g = push_seg(cmd, IMAP_CMD_SEG_TEXT);
	g->own = xgrow(g->own, &g->cap, g->pub.len + n, 1);
	memcpy(g->own + g->pub.len, p, n);
	g->pub.len += n;
	g->pub.text = g->own;
}

static void
puts_(struct imap_cmd *cmd, const char *s)
{
	put(cmd, s, strlen(s));
}

static void
sep(struct imap_cmd *cmd)
{
	if (cmd->join)
		cmd->join = false;
	else
		put(cmd, " ", 1);
}

struct imap_cmd *
imap_cmd_new(const char *verb)
{
	struct imap_cmd *cmd;
	if (!imap_cmd_verb_ok(verb))
		bug("bad verb \"%s\"", verb);
	cmd = xcalloc(1, sizeof(*cmd));
	cmd->verb = xstrdup(verb);
	puts_(cmd, verb);
	return cmd;
}

void
imap_cmd_free(struct imap_cmd **cmdp)
{
	struct imap_cmd *cmd = *cmdp;
	if (cmd == NULL)
		return;
	for (size_t i = 0; i < cmd->nsegs; i++) {
		struct seg *g = &cmd->segs[i];
		if (cmd->secret && i >= cmd->secret_seg && g->own != NULL)
			explicit_zero(g->own, g->pub.kind == IMAP_CMD_SEG_TEXT ?
			    g->pub.len : (size_t)g->pub.size);
		free(g->own);
	}
	free(cmd->segs);
	free(cmd->verb);
	free(cmd);
	*cmdp = NULL;
}

void
imap_cmd_atom(struct imap_cmd *cmd, const char *atom)
{
	if (!imap_cmd_atom_ok(atom))
		bug("bad atom \"%s\"", atom);
	sep(cmd);
	puts_(cmd, atom);
}

void
imap_cmd_number(struct imap_cmd *cmd, uint64_t n)
{
	char s[24];
	snprintf(s, sizeof(s), "%" PRIu64, n);
	sep(cmd);
	puts_(cmd, s);
}

enum form { FORM_ATOM, FORM_QUOTED, FORM_LITERAL };

/* The plainest form that carries s[0..len); -1 when it holds a NUL. */
static int
string_form(const char *s, size_t len, bool atom_ok)
{
	bool atom = atom_ok && len > 0, quoted = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0')
			return -1;
		if (!is_astring_char(c))
			atom = false;
		if (!is_print(c))
			quoted = false;
	}
	if (atom && !(len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return FORM_ATOM;
	return quoted ? FORM_QUOTED : FORM_LITERAL;
}

static void
put_quoted(struct imap_cmd *cmd, const char *s, size_t len)
{
	put(cmd, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			put(cmd, "\\", 1);
		put(cmd, &s[i], 1);
	}
	put(cmd, "\"", 1);
}

static void
push_literal(struct imap_cmd *cmd, uint64_t size, bool literal8,
    const char *data, char *own, imap_source_fn *src, void *ctx)
{
	struct seg *g;
	sep(cmd);
	g = push_seg(cmd, IMAP_CMD_SEG_LITERAL);
	g->pub.size = size;
	g->pub.literal8 = literal8;
	g->pub.data = data;
	g->pub.src = src;
	g->pub.src_ctx = ctx;
	g->own = own;
}

static void
put_copy_literal(struct imap_cmd *cmd, const char *s, size_t len)
{
	char *own = xmalloc(len ? len : 1);
	memcpy(own, s, len);
	push_literal(cmd, len, false, own, own, NULL, NULL);
}

static int
put_string(struct imap_cmd *cmd, const char *s, size_t len, bool atom_ok,
    struct err *err)
{
	switch (string_form(s, len, atom_ok)) {
	case FORM_ATOM:
		sep(cmd);
		put(cmd, s, len);
		return 0;
	case FORM_QUOTED:
		sep(cmd);
		put_quoted(cmd, s, len);
		return 0;
	case FORM_LITERAL:
		put_copy_literal(cmd, s, len);
		return 0;
	default:
		return err_set(err, ERR_REFUSED,
		    "%s: cannot send a string holding a NUL byte", cmd->verb);
	}
}

int
imap_cmd_astring(struct imap_cmd *cmd, const char *s, size_t len,
    struct err *err)
{
	return put_string(cmd, s, len, true, err);
}

int
imap_cmd_string(struct imap_cmd *cmd, const char *s, size_t len,
    struct err *err)
{
	return put_string(cmd, s, len, false, err);
}

int
imap_cmd_quoted(struct imap_cmd *cmd, const char *s, size_t len,
    struct err *err)
{
	if (string_form(s, len, false) != FORM_QUOTED)
		return err_set(err, ERR_REFUSED,
		    "%s: cannot send %zu bytes with NUL, CR, LF, control or "
		    "8-bit characters as a quoted string", cmd->verb, len);
	sep(cmd);
	put_quoted(cmd, s, len);
	return 0;
}

void
imap_cmd_mailbox_wire(struct imap_cmd *cmd, const char *name)
{
	struct err err;
	if (str_ieq(name, "INBOX")) {
		sep(cmd);
		puts_(cmd, "INBOX");
		return;
	}
	/* A C string holds no NUL, the only refusal. */
	if (put_string(cmd, name, strlen(name), true, &err) < 0)
		bug("%s", err.msg);
}

/* The wire form of a name or pattern given by the user (see
 * imap_cmd_mailbox()): allocated, or NULL with err set. */
static char *
mailbox_wire(const struct imap_cmd *cmd, const char *name, struct err *err)
{
	size_t len = strlen(name);
	bool ascii = true;
	char *m;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] >= 0x80)
			ascii = false;
	if (ascii) {
		struct err ignored;
		/* Already wire form: encoding it again would turn each "&"
		 * into "&-" and break existing configurations. */
		if ((m = mutf7_decode(name, len, &ignored)) != NULL) {
			free(m);
			return xstrdup(name);
		}
	}
	if ((m = mutf7_encode(name, len, err)) == NULL) {
		err->kind = ERR_CONFIG;
		err_prefix(err, "%s: mailbox name \"%s\"", cmd->verb, name);
	}
	return m;
}

int
imap_cmd_mailbox(struct imap_cmd *cmd, const char *name, struct err *err)
{
	char *m = mailbox_wire(cmd, name, err);
	if (m == NULL)
		return -1;
	imap_cmd_mailbox_wire(cmd, m);
	free(m);
	return 0;
}

/* RFC 3501 §9: list-char = ATOM-CHAR / list-wildcards / resp-specials */
static bool
is_list_char(unsigned char c)
{
	return is_astring_char(c) || c == '%' || c == '*';
}

int
imap_cmd_list_mailbox(struct imap_cmd *cmd, const char *pattern,
    struct err *err)
{
	char *m;
	size_t len;
	bool atom;

	if (str_ieq(pattern, "INBOX")) {
		imap_cmd_mailbox_wire(cmd, "INBOX");
		return 0;
	}
	if ((m = mailbox_wire(cmd, pattern, err)) == NULL)
		return -1;
	len = strlen(m);
	/* list-mailbox has no NIL, but a server's generic parser may read an
	 * atom NIL as one: quote it as imap_cmd_astring() does. */
	atom = len > 0 && !str_ieq(m, "NIL");
	for (size_t i = 0; i < len && atom; i++)
		atom = is_list_char((unsigned char)m[i]);
	sep(cmd);
	if (atom)
		put(cmd, m, len);
	else
		put_quoted(cmd, m, len); /* wire form: printable ASCII */
	free(m);
	return 0;
}

int
imap_cmd_flag(struct imap_cmd *cmd, const char *flag, struct err *err)
{
	/* RFC 3501 §9: flag-keyword = atom, flag-extension = "\" atom */
	if (!imap_cmd_atom_ok(flag[0] == '\\' ? flag + 1 : flag))
		return err_set(err, ERR_REFUSED, "%s: bad flag \"%s\"",
		    cmd->verb, flag);
	sep(cmd);
	puts_(cmd, flag);
	return 0;
}

void
imap_cmd_uidset(struct imap_cmd *cmd, struct uidset *s)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	uidset_format(&b, s);
	if (b.len == 0)
		bug("%s: empty UID set", cmd->verb);
	sep(cmd);
	put(cmd, b.data, b.len);
	buf_free(&b);
}

size_t
imap_cmd_uidset_chunk(struct imap_cmd *cmd, struct uidset *s, size_t *pos,
    size_t maxlen)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	size_t k = uidset_format_chunk(&b, s, pos, maxlen);
	if (k == 0)
		bug("%s: no UID left in the set", cmd->verb);
	sep(cmd);
	put(cmd, b.data, b.len);
	buf_free(&b);
	return k;
}

void
imap_cmd_range(struct imap_cmd *cmd, uint32_t lo, uint32_t hi)
{
	char s[32], a[12], b[12];
	snprintf(a, sizeof(a), "%" PRIu32, lo);
	snprintf(b, sizeof(b), "%" PRIu32, hi);
	if (lo == hi)
		snprintf(s, sizeof(s), "%s", lo == IMAP_CMD_STAR ? "*" : a);
	else
		snprintf(s, sizeof(s), "%s:%s", lo == IMAP_CMD_STAR ? "*" : a,
		    hi == IMAP_CMD_STAR ? "*" : b);
	sep(cmd);
	puts_(cmd, s);
}

void
imap_cmd_raw(struct imap_cmd *cmd, const char *text)
{
	if (!imap_cmd_raw_ok(text))
		bug("%s: bad raw text \"%s\"", cmd->verb, text);
	sep(cmd);
	puts_(cmd, text);
}

void
imap_cmd_list_open(struct imap_cmd *cmd)
{
	sep(cmd);
	put(cmd, "(", 1);
	cmd->depth++;
	cmd->join = true;
}

void
imap_cmd_list_close(struct imap_cmd *cmd)
{
	if (cmd->depth == 0)
		bug("%s: ')' without '('", cmd->verb);
	put(cmd, ")", 1);
	cmd->depth--;
	cmd->join = false;
}

void
imap_cmd_join(struct imap_cmd *cmd)
{
	cmd->join = true;
}

static int
add_literal(struct imap_cmd *cmd, const void *data, size_t len,
    bool literal8, bool copy, struct err *err)
{
	char *own = NULL;
	if (!literal8 && memchr(data, '\0', len) != NULL)
		return err_set(err, ERR_REFUSED,
		    "%s: a literal holding a NUL byte needs BINARY",
		    cmd->verb);
	if (copy) {
		own = xmalloc(len ? len : 1);
		memcpy(own, data, len);
		data = own;
	}
	push_literal(cmd, len, literal8, data, own, NULL, NULL);
	return 0;
}

int
imap_cmd_literal(struct imap_cmd *cmd, const void *data, size_t len,
    bool literal8, struct err *err)
{
	return add_literal(cmd, data, len, literal8, true, err);
}

int
imap_cmd_literal_borrow(struct imap_cmd *cmd, const void *data, size_t len,
    bool literal8, struct err *err)
{
	return add_literal(cmd, data, len, literal8, false, err);
}

void
imap_cmd_literal_stream(struct imap_cmd *cmd, uint64_t size, bool literal8,
    imap_source_fn *src, void *ctx)
{
	push_literal(cmd, size, literal8, NULL, NULL, src, ctx);
}

void
imap_cmd_set_secret(struct imap_cmd *cmd)
{
	const struct seg *g = &cmd->segs[cmd->nsegs - 1];
	if (cmd->secret)
		return;
	cmd->secret = true;
	if (g->pub.kind == IMAP_CMD_SEG_TEXT) {
		cmd->secret_seg = cmd->nsegs - 1;
		cmd->secret_off = g->pub.len;
	} else {
		cmd->secret_seg = cmd->nsegs;
		cmd->secret_off = 0;
	}
}

char *
imap_cmd_trace(const struct imap_cmd *cmd, bool show_secret)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	bool hide = cmd->secret && !show_secret;
	for (size_t i = 0; i < cmd->nsegs; i++) {
		const struct imap_cmd_seg *s = &cmd->segs[i].pub;
		if (hide && i == cmd->secret_seg) {
			if (s->kind == IMAP_CMD_SEG_TEXT)
				buf_append(&b, s->text, cmd->secret_off);
			if (s->kind != IMAP_CMD_SEG_TEXT ||
			    cmd->secret_off < s->len || i + 1 < cmd->nsegs)
				buf_appends(&b, " [REDACTED]");
			break;
		}
		if (s->kind == IMAP_CMD_SEG_TEXT)
			buf_append(&b, s->text, s->len);
		else
			buf_appendf(&b, "%s{%" PRIu64 "}[...]",
			    s->literal8 ? "~" : "", s->size);
	}
	return buf_steal(&b);
}

const char *
imap_cmd_verb(const struct imap_cmd *cmd)
{
	return cmd->verb;
}

size_t
imap_cmd_nsegs(const struct imap_cmd *cmd)
{
	return cmd->nsegs;
}

const struct imap_cmd_seg *
imap_cmd_seg(const struct imap_cmd *cmd, size_t i)
{
	if (i >= cmd->nsegs)
		bug("%s: segment %zu of %zu", cmd->verb, i, cmd->nsegs);
	return &cmd->segs[i].pub;
}

void
imap_cmd_writer_init(struct imap_cmd_writer *w, const struct imap_cmd *cmd,
    enum imap_lit_mode mode)
{
	if (cmd->depth != 0)
		bug("%s: %u list(s) left open", cmd->verb, cmd->depth);
	memset(w, 0, sizeof(*w));
	w->cmd = cmd;
	w->mode = mode;
}

static bool
is_sync(enum imap_lit_mode mode, uint64_t size)
{
	return mode == IMAP_LIT_SYNC ||
	    (mode == IMAP_LIT_MINUS && size > IMAP_LIT_MINUS_MAX);
}

static void
next_seg(struct imap_cmd_writer *w)
{
	w->seg++;
	w->off = 0;
	w->hdr_len = w->hdr_off = 0;
	w->in_body = false;
}

enum imap_cmd_wr
imap_cmd_writer_next(struct imap_cmd_writer *w, char *buf, size_t cap,
    size_t *len_r, struct err *err)
{
	const struct imap_cmd *cmd = w->cmd;
	bool pulled = false; /* the source was called: at most once a call */
	size_t len = 0;

	*len_r = 0;
	if (cap == 0)
		bug("%s: writer given no room", cmd->verb);
	if (w->failed)
		return err_set(err, ERR_INTERNAL,
		    "%s: command writer called after an error", cmd->verb);
	while (w->seg < cmd->nsegs) {
		const struct imap_cmd_seg *s = &cmd->segs[w->seg].pub;
		size_t n;
		if (len == cap)
			break;
		if (s->kind == IMAP_CMD_SEG_TEXT) {
			n = s->len - (size_t)w->off;
			if (n > cap - len)
				n = cap - len;
			memcpy(buf + len, s->text + w->off, n);
			len += n;
			w->off += n;
			if (w->off == s->len)
				next_seg(w);
			continue;
		}
		if (!w->in_body) {
			bool sync = is_sync(w->mode, s->size);
			if (w->hdr_len == 0)
				w->hdr_len = (size_t)snprintf(w->hdr,
				    sizeof(w->hdr), "%s{%" PRIu64 "%s}\r\n",
				    s->literal8 ? "~" : "", s->size,
				    sync ? "" : "+");
			n = w->hdr_len - w->hdr_off;
			if (n > cap - len)
				n = cap - len;
			memcpy(buf + len, w->hdr + w->hdr_off, n);
			len += n;
			w->hdr_off += n;
			if (w->hdr_off < w->hdr_len)
				break;
			w->in_body = true;
			if (sync) {
				*len_r = len;
				return IMAP_CMD_WR_WAIT;
			}
			continue; /* buf may be full */
		}
		if (w->off == s->size) {
			next_seg(w);
			continue;
		}
		n = cap - len;
		if (n > s->size - w->off)
			n = (size_t)(s->size - w->off);
		if (s->data != NULL) {
			memcpy(buf + len, s->data + w->off, n);
		} else {
			ssize_t r;
			if (pulled)
				break;
			pulled = true;
			r = s->src(s->src_ctx, buf + len, n, err);
			if (r == IMAP_SOURCE_AGAIN) {
				*len_r = len;
				return IMAP_CMD_WR_BLOCKED;
			}
			if (r < 0) {
				w->failed = true;
				return err_prefix(err,
				    "%s: literal source after %" PRIu64
				    " of %" PRIu64 " bytes", cmd->verb, w->off,
				    s->size);
			}
			if (r == 0) {
				w->failed = true;
				return err_set(err, ERR_TEMP,
				    "%s: literal source ended after %" PRIu64
				    " of %" PRIu64 " bytes", cmd->verb, w->off,
				    s->size);
			}
			if ((size_t)r > n) {
				w->failed = true;
				return err_set(err, ERR_INTERNAL,
				    "%s: literal source returned %zd bytes for "
				    "%zu", cmd->verb, r, n);
			}
			n = (size_t)r;
		}
		len += n;
		w->off += n;
		if (w->off == s->size)
			next_seg(w);
	}
	*len_r = len;
	return w->seg < cmd->nsegs ? IMAP_CMD_WR_MORE : IMAP_CMD_WR_DONE;
}

int
imap_cmd_render(const struct imap_cmd *cmd, enum imap_lit_mode mode,
    const char *wait_mark, struct buf *out, struct err *err)
{
	struct imap_cmd_writer w;
	char chunk[4096];
	enum imap_cmd_wr st;

	imap_cmd_writer_init(&w, cmd, mode);
	do {
		size_t n;
		st = imap_cmd_writer_next(&w, chunk, sizeof(chunk), &n, err);
		if (st == IMAP_CMD_WR_ERROR)
			return -1;
		if (buf_append(out, chunk, n) < 0 ||
		    (st == IMAP_CMD_WR_WAIT && wait_mark != NULL &&
		    buf_appends(out, wait_mark) < 0))
			return err_set(err, ERR_INTERNAL,
			    "%s: command longer than %zu bytes", cmd->verb,
			    out->max);
		if (st == IMAP_CMD_WR_BLOCKED)
			return err_set(err, ERR_INTERNAL,
			    "%s: literal source would block", cmd->verb);
	} while (st != IMAP_CMD_WR_DONE);
	return 0;
}
