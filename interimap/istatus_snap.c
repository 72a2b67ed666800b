/* The status snapshot file (istatus.h): its text, written and read. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "istatus.h"

static const char *const mode_words[] = {
	[ISTATUS_ONCE] = "once",
	[ISTATUS_REPAIR] = "repair",
	[ISTATUS_DELETE] = "delete",
	[ISTATUS_RENAME] = "rename",
	[ISTATUS_WATCH] = "watch",
	[ISTATUS_NOTIFY] = "notify",
};

static const char *const result_words[] = {
	[ISTATUS_RUNNING] = "running",
	[ISTATUS_OK] = "ok",
	[ISTATUS_STOPPED] = "stopped",
	[ISTATUS_FAILED] = "failed",
};

void
istatus_snap_free(struct istatus_snap *s)
{
	free(s->error);
	free(s->last_error);
	db_summary_free(s->mbx, s->nmbx);
	memset(s, 0, sizeof(*s));
}

char *
istatus_snap_path(const char *db_path)
{
	return xasprintf("%s.status", db_path);
}

/* ---- Writing ----------------------------------------------------------- */

static void
put_escaped(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0; /* s[run..i): plain bytes not appended yet */

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7F || c == '%') {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_append(b, s + run, i - run);
			buf_append(b, e, 3);
			run = i + 1;
		}
	}
	buf_append(b, s + run, len - run);
}

/* " V" at p (room for 21 bytes), without printf: the numbers of a
 * mailbox line are most of a snapshot of a thousand mailboxes, written
 * twice a run. Returns the end. */
static char *
put_num(char *p, uint64_t v)
{
	*p++ = ' ';
	return p + fmt_u64(p, v);
}

static void
put_mailbox(struct buf *b, const struct db_summary *m)
{
	/* "mailbox", then nine numbers or dashes, then " ": one append */
	char line[7 + 10 * 21 + 2], *p = line;

	memcpy(p, "mailbox", 7);
	p += 7;
	/* (never negative: SQLite's rowids; " -N" if it were) */
	*p++ = ' ';
	if (m->idx < 0)
		*p++ = '-';
	p += fmt_u64(p, m->idx >= 0 ? (uint64_t)m->idx : 0 - (uint64_t)m->idx);
	for (int k = 0; k < 2; k++) {
		if (!m->synced) {
			memcpy(p, " - - -", 6);
			p += 6;
			continue;
		}
		p = put_num(p, m->st[k].uidvalidity);
		p = put_num(p, m->st[k].uidnext);
		p = put_num(p, m->st[k].highestmodseq);
	}
	p = put_num(p, m->pairs);
	p = put_num(p, m->pending);
	*p++ = ' ';
	buf_append(b, line, (size_t)(p - line));
	put_escaped(b, m->name, m->len);
	buf_append(b, "\n", 1);
	/* A line of its own: readers of version 1 skip it. */
	if (m->copying[DB_LOCAL] > 0 || m->copying[DB_REMOTE] > 0)
		buf_appendf(b, "copying %" PRId64 " %" PRIu64 " %" PRIu64 "\n",
		    m->idx, m->copying[DB_LOCAL], m->copying[DB_REMOTE]);
}

char *
istatus_snap_format(const struct istatus_snap *s, size_t *len_r)
{
	/* Unbounded in practice: the text is ours. */
	struct buf b = BUF_INIT(SIZE_MAX / 2);

	buf_appendf(&b, "interimap-status %d\n", ISTATUS_VERSION);
	buf_appendf(&b, "pid %ld\n", s->pid);
	buf_appendf(&b, "mode %s", mode_words[s->mode]);
	if (s->mode == ISTATUS_WATCH || s->mode == ISTATUS_NOTIFY)
		buf_appendf(&b, " %u", s->secs);
	buf_appendf(&b, "\nstarted %" PRId64 "\nupdated %" PRId64 "\n",
	    s->started, s->updated);
	if (s->ended != 0)
		buf_appendf(&b, "ended %" PRId64 "\n", s->ended);
	buf_appendf(&b, "result %s", result_words[s->result]);
	if (s->result == ISTATUS_STOPPED)
		buf_appendf(&b, " %d", s->signal);
	buf_appends(&b, "\n");
	if (s->result == ISTATUS_FAILED && s->error != NULL) {
		buf_appends(&b, "error ");
		put_escaped(&b, s->error, strlen(s->error));
		buf_appends(&b, "\n");
	}
	if (s->last_error != NULL) {
		buf_appendf(&b, "last-error %" PRId64 " ", s->last_error_at);
		put_escaped(&b, s->last_error, strlen(s->last_error));
		buf_appends(&b, "\n");
	}
	if (s->delim_known) {
		buf_appends(&b, "delimiter ");
		if (s->delim == '\0')
			buf_appends(&b, "NIL");
		else
			put_escaped(&b, &s->delim, 1);
		buf_appends(&b, "\n");
	}
	if (s->exact)
		buf_appends(&b, "exact\n");
	for (size_t i = 0; i < s->nmbx; i++)
		put_mailbox(&b, &s->mbx[i]);
	buf_appends(&b, "end\n");
	*len_r = b.len;
	return buf_steal(&b);
}

int
istatus_snap_write(const char *path, const struct istatus_snap *s,
    struct err *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	size_t len, off = 0;
	char *text = istatus_snap_format(s, &len);
	int fd, rc = -1;

	/* A fresh file: 0600 whatever a leftover had, and never through a
	 * symbolic link. */
	if (unlink(tmp) < 0 && errno != ENOENT) {
		err_sys(err, ERR_SYS, "cannot remove %s", tmp);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		err_sys(err, ERR_SYS, "cannot create %s", tmp);
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_sys(err, ERR_SYS, "cannot write %s", tmp);
			close(fd);
			unlink(tmp);
			goto out;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0) {
		err_sys(err, ERR_SYS, "cannot write %s", tmp);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		err_sys(err, ERR_SYS, "cannot rename %s to %s", tmp, path);
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(tmp);
	return rc;
}

/* ---- Reading ----------------------------------------------------------- */

/* The escaped text s (NUL-terminated) decoded: allocated, *len_r bytes
 * and a NUL; NULL when a '%' is not followed by two hexadecimal digits. */
static char *
unescape(const char *s, size_t *len_r)
{
	char *out = xmalloc(strlen(s) + 1);
	size_t o = 0;

	for (; *s != '\0'; s++) {
		if (*s != '%') {
			out[o++] = *s;
			continue;
		}
		int v = 0;
		for (int i = 1; i <= 2; i++) {
			char c = s[i];
			int d = c >= '0' && c <= '9' ? c - '0' :
			    c >= 'A' && c <= 'F' ? c - 'A' + 10 :
			    c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (d < 0) {
				free(out);
				return NULL;
			}
			v = v * 16 + d;
		}
		out[o++] = (char)v;
		s += 2;
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* A decimal field of a line at *p, followed by a space (advanced past)
 * or the end. */
static int
field_u64(const char **p, uint64_t max, uint64_t *v)
{
	if (parse_u64(p, v) < 0 || *v > max || (**p != ' ' && **p != '\0'))
		return -1;
	if (**p == ' ')
		(*p)++;
	return 0;
}

static int
field_time(const char **p, int64_t *t)
{
	uint64_t v;

	if (field_u64(p, INT64_MAX, &v) < 0)
		return -1;
	*t = (int64_t)v;
	return 0;
}

static int
word_index(const char *w, size_t len, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(words[i]) == len && memcmp(words[i], w, len) == 0)
			return (int)i;
	return -1;
}

/* "mailbox ..." after the key. */
static int
parse_mailbox(const char *p, struct istatus_snap *s)
{
	struct db_summary m;
	uint64_t v;
	int dashes = 0;

	memset(&m, 0, sizeof(m));
	if (field_u64(&p, INT64_MAX, &v) < 0)
		return -1;
	m.idx = (int64_t)v;
	for (int k = 0; k < 2; k++) {
		uint64_t uv, un;

		if (strncmp(p, "- - - ", 6) == 0) {
			dashes++;
			p += 6;
			continue;
		}
		if (field_u64(&p, UINT32_MAX, &uv) < 0 ||
		    field_u64(&p, UINT32_MAX, &un) < 0 ||
		    field_u64(&p, UINT64_MAX, &m.st[k].highestmodseq) < 0)
			return -1;
		m.st[k].uidvalidity = (uint32_t)uv;
		m.st[k].uidnext = (uint32_t)un;
	}
	/* Both sides' states, or neither (db.h: a row has its twin). */
	if (dashes == 1)
		return -1;
	m.synced = dashes == 0;
	if (field_u64(&p, UINT64_MAX, &m.pairs) < 0 || *p == '\0' ||
	    field_u64(&p, UINT64_MAX, &m.pending) < 0 || *p == '\0')
		return -1;
	if ((m.name = unescape(p, &m.len)) == NULL || m.len == 0) {
		free(m.name);
		return -1;
	}
	s->mbx = xrealloc(s->mbx, (s->nmbx + 1) * sizeof(*s->mbx));
	s->mbx[s->nmbx++] = m;
	return 0;
}

/* "copying ..." after the key: it belongs to the mailbox line just
 * before it. */
static int
parse_copying(const char *p, struct istatus_snap *s)
{
	struct db_summary *m = s->nmbx > 0 ? &s->mbx[s->nmbx - 1] : NULL;
	uint64_t idx, c[2];

	if (field_u64(&p, INT64_MAX, &idx) < 0 || m == NULL ||
	    m->idx != (int64_t)idx || *p == '\0' ||
	    field_u64(&p, UINT64_MAX, &c[DB_LOCAL]) < 0 || *p == '\0' ||
	    field_u64(&p, UINT64_MAX, &c[DB_REMOTE]) < 0 || *p != '\0')
		return -1;
	m->copying[DB_LOCAL] = c[DB_LOCAL];
	m->copying[DB_REMOTE] = c[DB_REMOTE];
	return 0;
}

/* Flags of the keys a snapshot must have. */
enum {
	HAVE_PID = 1, HAVE_MODE = 2, HAVE_STARTED = 4, HAVE_UPDATED = 8,
	HAVE_RESULT = 16, HAVE_ALL = 31,
};

/* One line (NUL-terminated, without its newline) after the first. */
static int
parse_line(const char *line, struct istatus_snap *s, unsigned *have)
{
	const char *sp = strchr(line, ' ');
	size_t klen = sp ? (size_t)(sp - line) : strlen(line);
	const char *p = sp ? sp + 1 : line + klen;
	uint64_t v;
	size_t len;
	int i;

#define KEY(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
	if (KEY("pid")) {
		if (field_u64(&p, LONG_MAX, &v) < 0 || *p != '\0' || v == 0)
			return -1;
		s->pid = (long)v;
		*have |= HAVE_PID;
	} else if (KEY("mode")) {
		const char *e = strchr(p, ' ');
		size_t wlen = e ? (size_t)(e - p) : strlen(p);

		if ((i = word_index(p, wlen, mode_words,
		    ARRAY_LEN(mode_words))) < 0)
			return -1;
		s->mode = (enum istatus_mode)i;
		p += wlen;
		if (s->mode == ISTATUS_WATCH || s->mode == ISTATUS_NOTIFY) {
			if (*p++ != ' ' || field_u64(&p, UINT_MAX, &v) < 0)
				return -1;
			s->secs = (unsigned)v;
		}
		if (*p != '\0')
			return -1;
		*have |= HAVE_MODE;
	} else if (KEY("started") || KEY("updated") || KEY("ended")) {
		int64_t *t = KEY("started") ? &s->started :
		    KEY("updated") ? &s->updated : &s->ended;

		if (field_time(&p, t) < 0 || *p != '\0')
			return -1;
		*have |= KEY("started") ? HAVE_STARTED :
		    KEY("updated") ? HAVE_UPDATED : 0;
	} else if (KEY("result")) {
		const char *e = strchr(p, ' ');
		size_t wlen = e ? (size_t)(e - p) : strlen(p);

		if ((i = word_index(p, wlen, result_words,
		    ARRAY_LEN(result_words))) < 0)
			return -1;
		s->result = (enum istatus_result)i;
		p += wlen;
		if (s->result == ISTATUS_STOPPED) {
			if (*p++ != ' ' || field_u64(&p, 127, &v) < 0)
				return -1;
			s->signal = (int)v;
		}
		if (*p != '\0')
			return -1;
		*have |= HAVE_RESULT;
	} else if (KEY("error")) {
		free(s->error);
		if ((s->error = unescape(p, &len)) == NULL ||
		    strlen(s->error) != len)
			return -1;
	} else if (KEY("last-error")) {
		if (field_time(&p, &s->last_error_at) < 0)
			return -1;
		free(s->last_error);
		if ((s->last_error = unescape(p, &len)) == NULL ||
		    strlen(s->last_error) != len)
			return -1;
	} else if (KEY("delimiter")) {
		char *d;

		s->delim_known = true;
		if (strcmp(p, "NIL") == 0) {
			s->delim = '\0';
			return 0;
		}
		if ((d = unescape(p, &len)) == NULL || len != 1 ||
		    d[0] == '\0') {
			free(d);
			return -1;
		}
		s->delim = d[0];
		free(d);
	} else if (KEY("exact")) {
		if (sp != NULL)
			return -1;
		s->exact = true;
	} else if (KEY("mailbox")) {
		return parse_mailbox(p, s);
	} else if (KEY("copying")) {
		return parse_copying(p, s);
	}
	/* Other keys: a later version's; skipped. */
	return 0;
#undef KEY
}

int
istatus_snap_parse(const char *text, size_t len, struct istatus_snap *s,
    struct err *err)
{
	char *copy, *line, *next;
	unsigned have = 0, lineno = 1;
	uint64_t version;
	bool ended = false;
	const char *p;

	memset(s, 0, sizeof(*s));
	if (memchr(text, '\0', len) != NULL)
		return err_set(err, ERR_DB, "a NUL byte");
	copy = xstrndup(text, len);
	next = strchr(copy, '\n');
	if (next == NULL || strncmp(copy, "interimap-status ", 17) != 0) {
		free(copy);
		return err_set(err, ERR_DB, "not a status snapshot");
	}
	*next++ = '\0';
	p = copy + 17;
	if (parse_u64(&p, &version) < 0 || *p != '\0' || version == 0) {
		free(copy);
		return err_set(err, ERR_DB, "line 1: bad version");
	}
	if (version > ISTATUS_VERSION) {
		free(copy);
		return err_set(err, ERR_DB, "version %" PRIu64 ", later than "
		    "this interimap's (%d)", version, ISTATUS_VERSION);
	}
	for (line = next; *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) == NULL)
			break;  /* cut short: no "end" follows */
		*next++ = '\0';
		if (strcmp(line, "end") == 0) {
			ended = true;
			line = next;
			break;
		}
		if (parse_line(line, s, &have) < 0) {
			free(copy);
			istatus_snap_free(s);
			return err_set(err, ERR_DB, "line %u: does not read",
			    lineno);
		}
	}
	if (!ended || *line != '\0') {
		free(copy);
		istatus_snap_free(s);
		return err_set(err, ERR_DB, "%s", !ended ? "incomplete (no "
		    "\"end\" line)" : "text after the \"end\" line");
	}
	free(copy);
	if (have != HAVE_ALL) {
		istatus_snap_free(s);
		return err_set(err, ERR_DB, "a key is missing");
	}
	return 0;
}

int
istatus_snap_read(const char *path, struct istatus_snap *s, struct err *err)
{
	struct stat sb;
	char *text;
	size_t off = 0;
	int fd;

	memset(s, 0, sizeof(*s));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(err, ERR_SYS, "cannot open %s", path);
	}
	if (fstat(fd, &sb) < 0) {
		err_sys(err, ERR_SYS, "cannot stat %s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > ISTATUS_MAX_FILE) {
		close(fd);
		return err_set(err, ERR_DB, "%s: not a status snapshot (not "
		    "a file, or too large)", path);
	}
	/* The file is replaced, never rewritten in place: its size holds. */
	text = xmalloc((size_t)sb.st_size + 1);
	while (off < (size_t)sb.st_size) {
		ssize_t n = read(fd, text + off, (size_t)sb.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(err, ERR_SYS, "cannot read %s", path);
			break;
		}
		if (n == 0) {
			err_set(err, ERR_SYS, "%s: shorter than its size",
			    path);
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	if (off != (size_t)sb.st_size) {
		free(text);
		return -1;
	}
	if (istatus_snap_parse(text, off, s, err) < 0) {
		free(text);
		return err_prefix(err, "%s", path);
	}
	free(text);
	return 1;
}
