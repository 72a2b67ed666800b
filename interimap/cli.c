#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"

enum arg_kind { ARG_NONE, ARG_REQUIRED, ARG_OPT_INT };

enum opt_id {
	OPT_CONFIG, OPT_QUIET, OPT_TARGET, OPT_DEBUG, OPT_HELP, OPT_WATCH,
	OPT_NOTIFY, OPT_REPAIR, OPT_DELETE, OPT_RENAME, OPT_STATUS, OPT_VERSION,
};

/* Every long name the reference accepts (Getopt::Long gives each alias
 * of "quiet|q" and "help|h" a long form too), and --status, ours. */
static const struct {
	const char *name;
	enum arg_kind arg;
	enum opt_id id;
} long_opts[] = {
	{ "config", ARG_REQUIRED, OPT_CONFIG },
	{ "quiet", ARG_NONE, OPT_QUIET },
	{ "q", ARG_NONE, OPT_QUIET },
	{ "target", ARG_REQUIRED, OPT_TARGET },
	{ "debug", ARG_NONE, OPT_DEBUG },
	{ "help", ARG_NONE, OPT_HELP },
	{ "h", ARG_NONE, OPT_HELP },
	{ "watch", ARG_OPT_INT, OPT_WATCH },
	{ "notify", ARG_NONE, OPT_NOTIFY },
	{ "repair", ARG_NONE, OPT_REPAIR },
	{ "delete", ARG_NONE, OPT_DELETE },
	{ "rename", ARG_NONE, OPT_RENAME },
	{ "status", ARG_NONE, OPT_STATUS },
	{ "version", ARG_NONE, OPT_VERSION },
};

struct parser {
	struct icli *o;
	int argc;
	char *const *argv;
	int next;           /* index of the next argv word */
	char *pending;      /* what is left of a bundle, as "-REST" */
	FILE *err;
	int errors;
	bool help, version;
	bool commands[4];   /* --repair, --delete, --rename, --status seen */
	bool watch_given;
	unsigned watch_val;
	const char **targets; /* the --target values, borrowed */
	size_t n_targets;
};

/* argv text in a message: printable ASCII as is, the rest as \xHH, so
 * that a message stays one line of text. */
static void
put_escaped(FILE *f, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch < 0x7F)
			fputc(ch, f);
		else
			fprintf(f, "\\x%02X", ch);
	}
}

void
icli_usage(FILE *f)
{
	fputs("Usage: interimap [OPTIONS] [MAILBOX ...]\n"
	    "       interimap [OPTIONS] --repair [MAILBOX ...]\n"
	    "       interimap [OPTIONS] --delete MAILBOX ...\n"
	    "       interimap [OPTIONS] --rename SOURCE DEST\n"
	    "       interimap [OPTIONS] --status [MAILBOX ...]\n"
	    "Synchronise the mailboxes of two IMAP servers, both ways.\n"
	    "--status shows what the database knows, without connecting.\n"
	    "Options: --config=FILE, --watch[=SECONDS], --notify, -q|--quiet,\n"
	    "  --debug, --target=local,remote,database (--delete and --rename\n"
	    "  only), -h|--help, --version. See interimap(1).\n", f);
}

void
icli_usage_short(FILE *f)
{
	fputs("Usage: interimap [OPTIONS] [COMMAND] [MAILBOX ...]\n"
	    "Run 'interimap --help' or see interimap(1) for more.\n", f);
}

/* Getopt::Long's integer: [-+]?[0-9]+ (ASCII digits). */
static bool
is_int_word(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	return *s == '\0';
}

static void
bad(struct parser *p, const char *what, const char *s, size_t len,
    const char *why)
{
	fprintf(p->err, "interimap: %s", what);
	put_escaped(p->err, s, len);
	fprintf(p->err, "%s\n", why);
	p->errors++;
}

/* --watch's value, syntax already checked. Negative values and values
 * past ICLI_WATCH_MAX are refused (the reference would sleep that long,
 * or not at all). */
static void
set_watch(struct parser *p, const char *v)
{
	const char *s = v;
	bool neg = *s == '-';
	unsigned long long n = 0;

	if (*s == '-' || *s == '+')
		s++;
	for (; *s != '\0'; s++) {
		n = n * 10 + (unsigned)(*s - '0');
		if (n > ICLI_WATCH_MAX)
			break;
	}
	if (n > ICLI_WATCH_MAX || (neg && n > 0)) {
		bad(p, "--watch=", v, strlen(v),
		    ": out of range (0 to 2147483647 seconds)");
		return;
	}
	p->watch_given = true;
	p->watch_val = (unsigned)n;
}

static void
apply(struct parser *p, enum opt_id id, const char *value)
{
	switch (id) {
	case OPT_CONFIG:
		p->o->config = value;
		break;
	case OPT_QUIET:
		p->o->quiet = true;
		break;
	case OPT_TARGET:
		p->targets = xrealloc(p->targets,
		    (p->n_targets + 1) * sizeof(*p->targets));
		p->targets[p->n_targets++] = value;
		break;
	case OPT_DEBUG:
		p->o->debug++;
		break;
	case OPT_HELP:
		p->help = true;
		break;
	case OPT_WATCH:
		/* "--watch" and "--watch=" are 0: the default interval. */
		set_watch(p, value != NULL && *value != '\0' ? value : "0");
		break;
	case OPT_NOTIFY:
		p->o->notify = true;
		break;
	case OPT_REPAIR:
	case OPT_DELETE:
	case OPT_RENAME:
	case OPT_STATUS:
		p->commands[id - OPT_REPAIR] = true;
		break;
	case OPT_VERSION:
		p->version = true;
		break;
	}
}

/* word is what follows "--". */
static void
long_option(struct parser *p, const char *word)
{
	const char *eq = strchr(word, '=');
	size_t len = eq != NULL ? (size_t)(eq - word) : strlen(word);
	const char *value = eq != NULL ? eq + 1 : NULL;
	size_t i;

	for (i = 0; i < ARRAY_LEN(long_opts); i++)
		if (strlen(long_opts[i].name) == len &&
		    memcmp(long_opts[i].name, word, len) == 0)
			break;
	if (i == ARRAY_LEN(long_opts) || len == 0) {
		if (len == 0)
			len = strlen(word);
		bad(p, "unknown option --", word, len, "");
		return;
	}
	switch (long_opts[i].arg) {
	case ARG_NONE:
		if (value != NULL) {
			bad(p, "option --", word, len, " takes no value");
			return;
		}
		break;
	case ARG_REQUIRED:
		/* The next word, whatever it looks like: Getopt::Long's
		 * "=s" takes "--debug" or "--" as the value. */
		if (value == NULL) {
			if (p->next >= p->argc) {
				bad(p, "option --", word, len,
				    " needs a value");
				return;
			}
			value = p->argv[p->next++];
		}
		break;
	case ARG_OPT_INT:
		if (value != NULL) {
			if (*value != '\0' && !is_int_word(value)) {
				bad(p, "--watch=", value, strlen(value),
				    ": expected a number of seconds");
				return;
			}
		} else if (p->next < p->argc &&
		    is_int_word(p->argv[p->next])) {
			value = p->argv[p->next++];
		}
		break;
	}
	apply(p, long_opts[i].id, value);
}

/* word is what follows "-": its first byte is an option letter, the rest
 * comes back as "-REST" (Getopt::Long's bundling). */
static void
bundle(struct parser *p, const char *word)
{
	if (word[1] != '\0')
		p->pending = xasprintf("-%s", word + 1);
	if (word[0] == 'q')
		apply(p, OPT_QUIET, NULL);
	else if (word[0] == 'h')
		apply(p, OPT_HELP, NULL);
	else
		bad(p, "unknown option -", word, 1, "");
}

/* Split on ',' like Perl's split(",", ...): trailing empty fields go,
 * other empty ones stay (and are invalid). */
static int
parse_targets(struct parser *p)
{
	unsigned bits = 0;
	size_t i;

	for (i = 0; i < p->n_targets; i++) {
		const char *s = p->targets[i], *end = s + strlen(s);

		while (end > s && end[-1] == ',')
			end--;
		while (s < end) {
			const char *c = memchr(s, ',', (size_t)(end - s));
			size_t n = c != NULL ? (size_t)(c - s) : (size_t)(end - s);

			if (n == 5 && memcmp(s, "local", 5) == 0)
				bits |= ICLI_TARGET_LOCAL;
			else if (n == 6 && memcmp(s, "remote", 6) == 0)
				bits |= ICLI_TARGET_REMOTE;
			else if (n == 8 && memcmp(s, "database", 8) == 0)
				bits |= ICLI_TARGET_DATABASE;
			else {
				fputs("interimap: invalid --target value \"",
				    p->err);
				put_escaped(p->err, s, n);
				fputs("\" (expected local, remote or "
				    "database)\n", p->err);
				return -1;
			}
			s += n + (c != NULL);
		}
	}
	/* The reference goes on with no target at all: an empty list is
	 * surely a mistake. */
	if (bits == 0) {
		fputs("interimap: --target: empty list (expected local, "
		    "remote or database)\n", p->err);
		return -1;
	}
	p->o->targets = bits;
	return 0;
}

/* The reference's !/\A[\x01-\x7F]+\z/: names are given in modified
 * UTF-7 (RFC 3501 §5.1.3), so a UTF-8 name is a mistake. */
static int
check_mailbox(struct parser *p, const char *name)
{
	const unsigned char *s = (const unsigned char *)name;

	if (*s == '\0') {
		fputs("interimap: invalid mailbox name \"\" (empty)\n",
		    p->err);
		return -1;
	}
	for (; *s != '\0'; s++) {
		if (*s > 0x7F) {
			fputs("interimap: invalid mailbox name \"", p->err);
			put_escaped(p->err, name, strlen(name));
			fputs("\" (give names in modified UTF-7: ASCII "
			    "only)\n", p->err);
			return -1;
		}
	}
	return 0;
}

/* The checks the reference makes once the options are read, in its
 * order; one message, then the short usage. Returns -1 when all pass. */
static int
check_usage(struct parser *p, size_t n_args)
{
	static const char *const names[] = { "--repair", "--delete",
		"--rename", "--status" };
	const char *why;
	char buf[64];
	int i, n = 0;

	for (i = 0; i < (int)ARRAY_LEN(names); i++)
		if (p->commands[i]) {
			n++;
			p->o->command = (enum icli_command)(ICLI_REPAIR + i);
		}
	if (n > 1)
		why = "--repair, --delete, --rename and --status exclude each "
		    "other";
	else if (p->o->command == ICLI_DELETE && n_args == 0)
		why = "--delete needs at least one MAILBOX";
	else if (p->o->command == ICLI_RENAME && n_args != 2)
		why = "--rename needs two mailboxes, SOURCE and DEST";
	else if (n == 1 && (p->watch_given || p->o->notify)) {
		snprintf(buf, sizeof(buf), "%s can't be used with --watch or "
		    "--notify", names[p->o->command - ICLI_REPAIR]);
		why = buf;
	} else if (p->n_targets > 0 && p->o->command != ICLI_DELETE &&
	    p->o->command != ICLI_RENAME)
		why = "--target only goes with --delete or --rename";
	else
		return -1;
	fprintf(p->err, "interimap: %s\n", why);
	icli_usage_short(p->err);
	return 1;
}

int
icli_parse(struct icli *o, int argc, char *const argv[], FILE *out,
    FILE *err)
{
	struct parser p;
	size_t i, n_args;
	int rc;

	memset(o, 0, sizeof(*o));
	memset(&p, 0, sizeof(p));
	p.o = o;
	p.argc = argc;
	p.argv = argv;
	p.next = 1;
	p.err = err;

	for (;;) {
		char *word, *held = NULL;

		if (p.pending != NULL) {
			/* Always "-X...": an option. */
			word = held = p.pending;
			p.pending = NULL;
		} else if (p.next < argc) {
			word = argv[p.next];
			/* The first non-option ends the options. */
			if (word[0] != '-' || word[1] == '\0')
				break;
			p.next++;
		} else {
			break;
		}
		if (strcmp(word, "--") == 0) {
			free(held);
			break;
		}
		if (word[1] == '-')
			long_option(&p, word + 2);
		else
			bundle(&p, word + 1);
		free(held);
		/* auto_version: at once, whatever came before. */
		if (p.version) {
			free(p.pending);
			free(p.targets);
			fprintf(out, "interimap version %s (C implementation; "
			    "command line and configuration of interimap "
			    "0.5.7)\n", VERSION);
			return 0;
		}
	}
	free(p.pending);

	rc = 1;
	n_args = (size_t)(argc - p.next);
	if (p.errors > 0) {
		icli_usage_short(err);
		goto done;
	}
	if (p.help) {
		icli_usage(err);
		rc = 0;
		goto done;
	}
	if ((rc = check_usage(&p, n_args)) >= 0)
		goto done;

	if (p.watch_given || o->notify) {
		o->watch = true;
		o->watch_secs = p.watch_val != 0 ? p.watch_val :
		    o->notify ? ICLI_NOTIFY_DEFAULT : ICLI_WATCH_DEFAULT;
	}
	rc = EX_USAGE;
	o->mailboxes = xcalloc(n_args + 1, sizeof(*o->mailboxes));
	for (i = 0; i < n_args; i++) {
		const char *m = argv[p.next + (int)i];

		/* INBOX is case-insensitive (RFC 3501 §5.1). */
		o->mailboxes[i] = str_ieq(m, "INBOX") ? "INBOX" : m;
		if (check_mailbox(&p, m) < 0)
			goto done;
	}
	o->n_mailboxes = n_args;
	o->targets = ICLI_TARGET_ALL;
	if (p.n_targets > 0 && parse_targets(&p) < 0)
		goto done;
	free(p.targets);
	return -1;
done:
	free(p.targets);
	icli_free(o);
	return rc;
}

void
icli_free(struct icli *o)
{
	free(o->mailboxes);
	memset(o, 0, sizeof(*o));
}
