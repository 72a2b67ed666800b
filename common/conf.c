#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

/*
 * How the Config::Tiny emulation is split between us and libinih.
 *
 * libinih does the key/value splitting and trimming and reports sections,
 * keys and values to handler(). It is fed through ini_parse_stream() by
 * reader(), which sees every line first and does what libinih cannot be
 * configured to do the way Config::Tiny does it:
 *  - split lines on "\r\r\n", "\r\n", "\r" or "\n" (Tiny's split regex);
 *  - cut the leftmost "\s;\s.+$" (Tiny's inline comment) off the whole
 *    line before anything else looks at it, so "[s] ; c" is a section and
 *    "abc ;def" or "abc ;" stay whole;
 *  - reject what Tiny rejects and libinih would accept: "k: v", a line
 *    without '=', "[t] #c", "[s", "= v", a UTF-8 BOM;
 *  - refuse lines longer than CONF_MAX_LINE instead of letting libinih
 *    split them into several lines (which would silently inject keys);
 *  - count lines, so that errors name the file and the line;
 *  - track the current section, since libinih does not report a section
 *    that has no key (Tiny creates it), does not trim "[ s ]" and
 *    truncates section names to 49 bytes.
 * libinih's options are Debian runtime globals (see ini.h): inline comments
 * and multi-line values off (an indented "  password = x" is a key of its
 * own, not a continuation of the previous value), no BOM skipping, a heap
 * line buffer as large as our own limit.
 *
 * Residual differences with Config::Tiny 2.28 (all of them inputs that
 * the programs reject anyway, with a different message):
 *  - Tiny accepts a key containing ':' before the '=' ("a:b = c" is key
 *    "a:b"); libinih would split at ':', so we report a syntax error.
 *  - Tiny accepts a section name containing ']' ("[a]b]" is "a]b") and a
 *    key starting with '[' ("[x] = y"); libinih cannot, we report a syntax
 *    error.
 *  - Tiny takes " = v" (whitespace-only key) as a key made of one
 *    whitespace character and "[ ]" as a section of that name; we report a
 *    syntax error.
 *  - Tiny takes a BOM as part of the first line (a key "\xEF\xBB\xBFk", or
 *    a syntax error); we always report a syntax error.
 *  - NUL bytes and lines longer than CONF_MAX_LINE bytes are syntax errors
 *    here; Tiny reads them.
 *  - libinih trims keys and values with isspace(), which is locale
 *    dependent for bytes >= 0x80 (Tiny: ASCII whitespace only); in the C and
 *    UTF-8 locales they agree.
 */

/* Longest accepted line, line break excluded. Far above any real value
 * (the point is "no silent truncation", not a tight bound). */
#define CONF_MAX_LINE (1024 * 1024)
/* Largest accepted file. */
#define CONF_MAX_FILE (16 * 1024 * 1024)

static const char DEFAULT_SECTION[] = "_";

unsigned long conf_compares;

struct entry {
	struct conf_entry pub; /* key/value point to the fields below */
	char *key;
	char *value;
};

/* Open-addressing hash table of array indexes, kept at most half full, so
 * that loading and looking up stay linear in the size of the file (a
 * linear search made 100,000 sections take minutes). */
struct slot {
	uint64_t hash;
	size_t idx; /* index + 1 into the array; 0 = free */
};
struct table {
	struct slot *slot;
	size_t cap; /* 0 or a power of 2 */
};

struct conf {
	char *path;
	char **sections; /* named sections (never "_"), file order, unique */
	size_t n_sections, cap_sections;
	struct table section_index; /* name -> sections[] */
	struct entry *entries; /* one per (section, key): last value wins */
	size_t n_entries, cap_entries;
	struct table entry_index; /* (section, key) -> entries[] */
};

struct parse {
	struct conf *c;
	const char *p, *end; /* the input not yet handed to libinih */
	int line;            /* number of the line last handed to libinih */
	const char *section; /* interned name of the current section */
	bool failed;         /* err is set; stop */
	struct err *err;
};

/* Tiny reads bytes without unicode_strings: \s is ASCII whitespace. */
static bool
is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' ||
	    ch == '\f' || ch == '\r';
}

/* FNV-1a. */
static uint64_t
hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

#define HASH_INIT 14695981039346656037ULL

static uint64_t
entry_hash(const char *section, const char *key)
{
	/* The NUL separates the two names. */
	return hash_bytes(hash_bytes(HASH_INIT, section, strlen(section) + 1),
	    key, strlen(key));
}

/* Makes room for n items. */
static void
table_reserve(struct table *t, size_t n)
{
	struct slot *s;
	size_t cap, i, j;

	if (n <= t->cap / 2)
		return;
	cap = t->cap ? t->cap : 64;
	while (n > cap / 2)
		cap *= 2;
	s = xcalloc(cap, sizeof(*s));
	for (i = 0; i < t->cap; i++) {
		if (t->slot[i].idx == 0)
			continue;
		for (j = t->slot[i].hash & (cap - 1); s[j].idx != 0;
		    j = (j + 1) & (cap - 1))
			;
		s[j] = t->slot[i];
	}
	free(t->slot);
	t->slot = s;
	t->cap = cap;
}

/* The slot holding the section name (len bytes), or the free slot where it
 * would go (NULL if the table is empty). */
static struct slot *
section_slot(const struct conf *c, const char *name, size_t len,
    uint64_t h)
{
	const struct table *t = &c->section_index;
	size_t j;

	if (t->cap == 0)
		return NULL;
	for (j = h & (t->cap - 1); t->slot[j].idx != 0; j = (j + 1) & (t->cap - 1)) {
		const char *s = c->sections[t->slot[j].idx - 1];

		conf_compares++;
		if (t->slot[j].hash == h && strncmp(s, name, len) == 0 &&
		    s[len] == '\0')
			break;
	}
	return &t->slot[j];
}

static struct slot *
entry_slot(const struct conf *c, const char *section, const char *key,
    uint64_t h)
{
	const struct table *t = &c->entry_index;
	size_t j;

	if (t->cap == 0)
		return NULL;
	for (j = h & (t->cap - 1); t->slot[j].idx != 0; j = (j + 1) & (t->cap - 1)) {
		const struct entry *e = &c->entries[t->slot[j].idx - 1];

		conf_compares++;
		if (t->slot[j].hash == h && e->pub.section == section &&
		    strcmp(e->key, key) == 0)
			break;
	}
	return &t->slot[j];
}

/* Interns a section name; "" and "_" are the default section. */
static const char *
section_intern(struct conf *c, const char *name, size_t len)
{
	uint64_t h;
	struct slot *sl;

	if (len == 0 || (len == 1 && name[0] == '_'))
		return DEFAULT_SECTION;
	h = hash_bytes(HASH_INIT, name, len);
	table_reserve(&c->section_index, c->n_sections + 1);
	sl = section_slot(c, name, len, h);
	if (sl->idx != 0)
		return c->sections[sl->idx - 1];
	c->sections = xgrow(c->sections, &c->cap_sections, c->n_sections + 1,
	    sizeof(*c->sections));
	c->sections[c->n_sections] = xstrndup(name, len);
	sl->hash = h;
	sl->idx = ++c->n_sections;
	return c->sections[c->n_sections - 1];
}

static const char *
section_find(const struct conf *c, const char *name)
{
	const struct slot *sl;
	size_t len;

	if (name == NULL || strcmp(name, "_") == 0)
		return DEFAULT_SECTION;
	len = strlen(name);
	sl = section_slot(c, name, len, hash_bytes(HASH_INIT, name, len));
	return sl != NULL && sl->idx != 0 ? c->sections[sl->idx - 1] : NULL;
}

static void
entry_set(struct conf *c, const char *section, const char *key,
    const char *value, int line)
{
	uint64_t h = entry_hash(section, key);
	struct slot *sl;
	struct entry *e;

	table_reserve(&c->entry_index, c->n_entries + 1);
	sl = entry_slot(c, section, key, h);
	if (sl->idx != 0) {
		/* Tiny: the last duplicate wins. */
		e = &c->entries[sl->idx - 1];
		explicit_zero(e->value, strlen(e->value));
		free(e->value);
	} else {
		c->entries = xgrow(c->entries, &c->cap_entries,
		    c->n_entries + 1, sizeof(*c->entries));
		e = &c->entries[c->n_entries++];
		e->key = xstrdup(key);
		e->pub.section = section;
		sl->hash = h;
		sl->idx = c->n_entries;
	}
	e->value = xstrdup(value);
	e->pub.line = line;
}

/* Pointers into the entries array are handed out only once it no longer
 * grows. */
static void
entries_fix_pointers(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->n_entries; i++) {
		c->entries[i].pub.key = c->entries[i].key;
		c->entries[i].pub.value = c->entries[i].value;
	}
}

static void
parse_fail(struct parse *ps, const char *reason)
{
	err_set(ps->err, ERR_CONFIG, "%s:%d: syntax error: %s", ps->c->path,
	    ps->line, reason);
	ps->failed = true;
}

/* Next line of the input as Tiny splits it: on "\r\r\n", "\r\n", "\r" or
 * "\n". Returns false at the end. */
static bool
next_line(struct parse *ps, const char **start_r, size_t *len_r)
{
	const char *s = ps->p, *q = s;

	if (s >= ps->end)
		return false;
	while (q < ps->end && *q != '\r' && *q != '\n')
		q++;
	*start_r = s;
	*len_r = (size_t)(q - s);
	if (q < ps->end && *q == '\r') {
		if (ps->end - q >= 3 && q[1] == '\r' && q[2] == '\n')
			q += 3;
		else if (ps->end - q >= 2 && q[1] == '\n')
			q += 2;
		else
			q++;
	} else if (q < ps->end) {
		q++;
	}
	ps->p = q;
	return true;
}

/* Classifies one line the way Tiny does. Returns the length of the part to
 * hand to libinih (0 for a comment or blank line), or -1 after
 * parse_fail(). */
static long
check_line(struct parse *ps, const char *l, size_t len)
{
	const char *s, *e, *eq, *colon;
	size_t i;

	if (memchr(l, '\0', len) != NULL) {
		parse_fail(ps, "NUL byte");
		return -1;
	}
	if (ps->line == 1 && len >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
		parse_fail(ps, "UTF-8 byte order mark (save the file "
		    "without it)");
		return -1;
	}

	s = l;
	while (s < l + len && is_ws(*s))
		s++;
	if (s == l + len || *s == '#' || *s == ';')
		return 0;

	/* Tiny's inline comment: the leftmost whitespace, ';', whitespace
	 * followed by at least one more character, up to the end. */
	for (i = 0; i + 3 < len; i++) {
		if (is_ws(l[i]) && l[i + 1] == ';' && is_ws(l[i + 2])) {
			len = i;
			break;
		}
	}
	e = l + len;
	while (e > s && is_ws(e[-1]))
		e--;

	if (*s == '[') {
		const char *n = s + 1, *ne = e - 1;

		if (e - s < 2 || e[-1] != ']') {
			parse_fail(ps, "a section header must be \"[NAME]\" "
			    "alone on its line (comments start with \" ; \" "
			    "or go on their own line)");
			return -1;
		}
		if (memchr(n, ']', (size_t)(ne - n)) != NULL) {
			parse_fail(ps, "']' in a section name");
			return -1;
		}
		while (n < ne && is_ws(*n))
			n++;
		while (ne > n && is_ws(ne[-1]))
			ne--;
		if (n == ne) {
			parse_fail(ps, "empty section name");
			return -1;
		}
		/* Tracked here: libinih does not report empty sections and
		 * truncates section names to 49 bytes. */
		ps->section = section_intern(ps->c, n, (size_t)(ne - n));
		return (long)len;
	}

	eq = memchr(s, '=', (size_t)(e - s));
	colon = memchr(s, ':', (size_t)(eq != NULL ? eq - s : e - s));
	if (eq == NULL && colon != NULL) {
		parse_fail(ps, "expected \"KEY = VALUE\" (':' is not a "
		    "separator, use '=')");
		return -1;
	}
	if (eq == NULL) {
		parse_fail(ps, "expected \"KEY = VALUE\", \"[SECTION]\" or a "
		    "comment");
		return -1;
	}
	if (colon != NULL) {
		parse_fail(ps, "':' in a key");
		return -1;
	}
	{
		const char *ke = eq;

		while (ke > s && is_ws(ke[-1]))
			ke--;
		if (ke == s) {
			parse_fail(ps, "missing key before '='");
			return -1;
		}
	}
	return (long)len;
}

/* ini_reader: fgets()-like, one line of ours per call, so that libinih's
 * line count stays ours. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	const char *l;
	size_t len;
	long keep;

	if (ps->failed || !next_line(ps, &l, &len))
		return NULL;
	ps->line++;
	if (len > CONF_MAX_LINE) {
		parse_fail(ps, "line too long");
		return NULL;
	}
	keep = check_line(ps, l, len);
	if (keep < 0)
		return NULL;
	if (num < 2 || (size_t)keep > (size_t)num - 2) {
		/* libinih ignored our buffer size: never let it split a
		 * line. */
		parse_fail(ps, "line too long for the INI parser");
		return NULL;
	}
	memcpy(str, l, (size_t)keep);
	str[keep] = '\n';
	str[keep + 1] = '\0';
	return str;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;

	/* libinih's section is ours untrimmed ("[ s ]") and possibly
	 * truncated: use ours. */
	(void)section;
	entry_set(ps->c, ps->section, name, value, ps->line);
	return 1;
}

static struct conf *
parse_text(const char *name, const char *text, size_t len, struct err *err)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	struct parse ps = {
		.c = c, .p = text, .end = text + len, .err = err,
		.section = DEFAULT_SECTION,
	};
	bool o_multi = ini_allow_multiline, o_bom = ini_allow_bom;
	bool o_inline = ini_allow_inline_comments, o_stack = ini_use_stack;
	bool o_realloc = ini_allow_realloc, o_stop = ini_stop_on_first_error;
	bool o_novalue = ini_allow_no_value;
	int o_max = ini_max_line, o_init = ini_initial_alloc;
	int rc;

	c->path = xstrdup(name);

	/* Process-wide settings: not thread-safe, restored afterwards. */
	ini_allow_multiline = false;
	ini_allow_bom = false;
	ini_allow_inline_comments = false;
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_stop_on_first_error = true;
	ini_allow_no_value = false;
	ini_max_line = CONF_MAX_LINE + 3; /* + "\n", NUL and a spare */
	ini_initial_alloc = ini_max_line;

	rc = ini_parse_stream(reader, &ps, handler, &ps);

	ini_allow_multiline = o_multi;
	ini_allow_bom = o_bom;
	ini_allow_inline_comments = o_inline;
	ini_use_stack = o_stack;
	ini_allow_realloc = o_realloc;
	ini_stop_on_first_error = o_stop;
	ini_allow_no_value = o_novalue;
	ini_max_line = o_max;
	ini_initial_alloc = o_init;

	if (!ps.failed && rc == -2)
		err_set(err, ERR_SYS, "%s: out of memory", name);
	else if (!ps.failed && rc != 0)
		/* Every line was checked first, so this is unexpected. */
		err_set(err, ERR_CONFIG, "%s:%d: syntax error", name, rc);
	if (ps.failed || rc != 0) {
		conf_free(&c);
		return NULL;
	}
	entries_fix_pointers(c);
	return c;
}

struct conf *
conf_load_string(const char *name, const char *text, struct err *err)
{
	return parse_text(name, text, strlen(text), err);
}

struct conf *
conf_load(const char *path, struct err *err)
{
	struct conf *c;
	char *buf = NULL;
	size_t len = 0, cap = 0, want = 4096;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_sys(err, ERR_CONFIG, "%s", path);
		return NULL;
	}
	/* Its size and one byte to see the end: a buffer the size of the
	 * file, not 128 KiB to fill and then wipe for a 300-byte one. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size < CONF_MAX_FILE)
		want = (size_t)st.st_size + 1;
	for (;;) {
		if (len == cap)
			buf = xgrow(buf, &cap, len + want, 1);
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(err, ERR_CONFIG, "%s", path);
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONF_MAX_FILE) {
			err_set(err, ERR_CONFIG, "%s: file too large", path);
			n = -1;
			break;
		}
	}
	close(fd);
	c = n < 0 ? NULL : parse_text(path, buf, len, err);
	/* It may hold passwords. */
	explicit_zero(buf, cap);
	free(buf);
	return c;
}

void
conf_free(struct conf **cp)
{
	struct conf *c = *cp;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_entries; i++) {
		free(c->entries[i].key);
		explicit_zero(c->entries[i].value,
		    strlen(c->entries[i].value));
		free(c->entries[i].value);
	}
	free(c->entries);
	for (i = 0; i < c->n_sections; i++)
		free(c->sections[i]);
	free(c->sections);
	free(c->section_index.slot);
	free(c->entry_index.slot);
	free(c->path);
	free(c);
	*cp = NULL;
}

const char *
conf_path(const struct conf *c)
{
	return c->path;
}

size_t
conf_sections(const struct conf *c, const char *const **names_r)
{
	*names_r = (const char *const *)c->sections;
	return c->n_sections;
}

bool
conf_has_section(const struct conf *c, const char *section)
{
	return section_find(c, section) != NULL;
}

static const struct conf_entry *
get_in(const struct conf *c, const char *sec, const char *key)
{
	const struct slot *sl = entry_slot(c, sec, key, entry_hash(sec, key));

	return sl != NULL && sl->idx != 0 ? &c->entries[sl->idx - 1].pub : NULL;
}

const struct conf_entry *
conf_get(const struct conf *c, const char *section, const char *key)
{
	const char *sec = section_find(c, section);
	const struct conf_entry *e = NULL;

	if (sec != NULL && sec != DEFAULT_SECTION)
		e = get_in(c, sec, key);
	if (e == NULL)
		e = get_in(c, DEFAULT_SECTION, key);
	return e;
}

static int
by_line(const void *a, const void *b)
{
	const struct conf_entry *x = *(const struct conf_entry *const *)a;
	const struct conf_entry *y = *(const struct conf_entry *const *)b;

	return (x->line > y->line) - (x->line < y->line);
}

size_t
conf_entries(const struct conf *c, const char *section,
    const struct conf_entry ***list_r)
{
	const char *sec = section_find(c, section);
	const struct conf_entry **list;
	size_t i, n = 0;

	list = xcalloc(c->n_entries + 1, sizeof(*list));
	for (i = 0; i < c->n_entries; i++) {
		const struct entry *e = &c->entries[i];

		if (e->pub.section == sec ||
		    (e->pub.section == DEFAULT_SECTION &&
		    (sec == NULL || get_in(c, sec, e->key) == NULL)))
			list[n++] = &e->pub;
	}
	/* File order, so that the first problem reported is the first one
	 * in the file. */
	qsort(list, n, sizeof(*list), by_line);
	*list_r = list;
	return n;
}

const char *
conf_where(const struct conf *c, const struct conf_entry *e)
{
	static char buf[PATH_MAX + 32];

	snprintf(buf, sizeof(buf), "%s:%d", c->path, e->line);
	return buf;
}

char *
conf_xdg_path(const char *xdg_var, const char *home_default,
    const char *prog, const char *arg)
{
	const char *base = getenv(xdg_var), *home;

	if (arg[0] == '/')
		return xstrdup(arg);
	/* The XDG spec: an unset, empty or relative variable means the
	 * default. */
	if (base != NULL && base[0] == '/')
		return xasprintf("%s/%s/%s", base, prog, arg);
	home = getenv("HOME");
	if (home == NULL || home[0] == '\0') {
		struct passwd *pw = getpwuid(getuid());

		home = pw != NULL && pw->pw_dir != NULL ? pw->pw_dir : "";
	}
	return xasprintf("%s/%s/%s/%s", home, home_default, prog, arg);
}

char *
conf_default_path(const char *prog, const char *arg)
{
	return conf_xdg_path("XDG_CONFIG_HOME", ".config", prog,
	    arg != NULL ? arg : "config");
}
