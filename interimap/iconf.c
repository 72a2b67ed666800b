#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "iconf.h"
#include "ilog.h"
#include "imap_conf.h"
#include "log.h"

#define PROG "interimap"

/* "FILE:LINE: invalid value for KEY: VALUE (why)", imap_conf's format. */
static int
invalid(const struct conf *c, const struct conf_entry *e, const char *why,
    struct err *err)
{
	return err_set(err, ERR_CONFIG, "%s: invalid value for %s: %s%.200s%s "
	    "(%s)", conf_where(c, e), e->key, e->value[0] == '\0' ? "\"" : "",
	    e->value, e->value[0] == '\0' ? "\"" : "", why);
}

/* The reference's \P{Control}+ (imap_conf_text()). */
static int
check_text(const struct conf *c, const struct conf_entry *e, struct err *err)
{
	return imap_conf_text(c, e, false, err);
}

/* \P{Control}*: log-prefix may be empty (no prefix at all). */
static int
check_text_empty(const struct conf *c, const struct conf_entry *e,
    struct err *err)
{
	return imap_conf_text(c, e, true, err);
}

/* An absolute path: the reference's \/\P{Control}+. */
static int
check_logfile(const struct conf *c, const struct conf_entry *e,
    struct err *err)
{
	if (e->value[0] != '/' || e->value[1] == '\0')
		return invalid(c, e, "expected an absolute file name", err);
	return imap_conf_text(c, e, false, err);
}

/* RFC 3501 TEXT-CHAR: 0x01-0x7F but CR and LF, which a line can't hold
 * anyway. */
static bool
text_chars(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 0x7F)
			return false;
	return true;
}

static int
check_text_chars(const struct conf *c, const struct conf_entry *e,
    struct err *err)
{
	if (e->value[0] == '\0')
		return invalid(c, e, "must not be empty", err);
	if (!text_chars(e->value))
		return invalid(c, e, "must be ASCII", err);
	return 0;
}

static int
check_text_chars_empty(const struct conf *c, const struct conf_entry *e,
    struct err *err)
{
	if (!text_chars(e->value))
		return invalid(c, e, "must be ASCII", err);
	return 0;
}

/* invalid() with the reason a module left in err. */
static int
invalid_why(const struct conf *c, const struct conf_entry *e,
    struct err *err)
{
	char why[sizeof(err->msg)];

	snprintf(why, sizeof(why), "%s", err->msg);
	return invalid(c, e, why, err);
}

/* The three that become data (mbfilter.h), checked the same way in
 * every section; the default section's values are kept. */
static int
load_list_mailbox(const struct conf *c, const struct conf_entry *e,
    struct mbfilter *f, struct err *err)
{
	if (check_text_chars(c, e, err) < 0)
		return -1;
	if (mbfilter_set_list(f, e->value, err) < 0)
		return invalid_why(c, e, err);
	return 0;
}

static int
load_select_opts(const struct conf *c, const struct conf_entry *e,
    struct mbfilter *f, struct err *err)
{
	if (mbfilter_set_select_opts(f, e->value, err) < 0)
		return invalid_why(c, e, err);
	return 0;
}

static int
load_ignore(const struct conf *c, const struct conf_entry *e,
    struct mbfilter *f, struct err *err)
{
	if (check_text_chars(c, e, err) < 0)
		return -1;
	if (mbfilter_set_ignore(f, e->value, err) < 0)
		return invalid_why(c, e, err);
	return 0;
}

/* interimap's own keys (the connection keys are imap_conf_is_key()'s). */
static const struct {
	const char *key;
	int (*check)(const struct conf *, const struct conf_entry *,
	    struct err *);
	int (*load)(const struct conf *, const struct conf_entry *,
	    struct mbfilter *, struct err *);
} inter_keys[] = {
	{ "database", check_text, NULL },
	{ "logfile", check_logfile, NULL },
	{ "log-prefix", check_text_empty, NULL },
	{ "list-reference", check_text_chars_empty, NULL },
	{ "list-mailbox", NULL, load_list_mailbox },
	{ "list-select-opts", NULL, load_select_opts },
	{ "ignore-mailbox", NULL, load_ignore },
};

static int
inter_key(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(inter_keys); i++)
		if (strcmp(key, inter_keys[i].key) == 0)
			return (int)i;
	return -1;
}

bool
iconf_is_key(const char *key)
{
	return inter_key(key) >= 0 || imap_conf_is_key(key);
}

/* Every key of section (its own and the defaults it inherits) is known
 * and its value valid, when it is one of interimap's keys. */
static int
check_section(struct iconf *ic, const char *section, struct err *err)
{
	const struct conf_entry **list;
	struct mbfilter scratch;
	size_t i, n;
	int k, rc = 0;

	memset(&scratch, 0, sizeof(scratch));
	n = conf_entries(ic->conf, section, &list);
	for (i = 0; i < n && rc == 0; i++) {
		const struct conf_entry *e = list[i];

		if ((k = inter_key(e->key)) < 0) {
			if (!imap_conf_is_key(e->key))
				rc = err_set(err, ERR_CONFIG,
				    "%s: unknown option %.200s",
				    conf_where(ic->conf, e), e->key);
		} else if (inter_keys[k].check != NULL) {
			rc = inter_keys[k].check(ic->conf, e, err);
		} else {
			rc = inter_keys[k].load(ic->conf, e, &scratch, err);
			mbfilter_free(&scratch);
		}
	}
	free(list);
	return rc;
}

/* The side effects of the reference's xdg_basedir() for path, made by
 * conf_xdg_path() from the relative name arg: the base directory must
 * exist, its interimap/ directory is created. */
static int
prepare_dir(const char *path, const char *arg, struct err *err)
{
	size_t len = strlen(path) - strlen(arg) - 1;
	char *dir = xstrndup(path, len);
	struct stat st;
	int rc = 0;

	dir[len - strlen(PROG) - 1] = '\0';
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = err_set(err, ERR_CONFIG, "no such directory: %s", dir);
	} else {
		dir[len - strlen(PROG) - 1] = '/';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			rc = err_sys(err, ERR_SYS, "can't create %s", dir);
	}
	free(dir);
	return rc;
}

/* A file name the reference takes: not empty, no control character (its
 * \p{Print}+, on bytes). */
static bool
printable(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return false;
	return true;
}

static int
load_database(struct iconf *ic, struct err *err)
{
	const struct conf_entry *e = conf_get(ic->conf, "_", "database");
	char *arg;
	int rc = 0;

	arg = e != NULL ? xstrdup(e->value) :
	    xasprintf("%s.db", ic->side[ICONF_REMOTE].imap.host);
	if (!printable(arg)) {
		rc = err_set(err, ERR_CONFIG, "%s: database name %.200s has "
		    "control characters", ic->config_path, arg);
	} else {
		ic->database = conf_xdg_path("XDG_DATA_HOME", ".local/share",
		    PROG, arg);
		if (arg[0] != '/')
			rc = prepare_dir(ic->database, arg, err);
	}
	free(arg);
	return rc;
}

static int
load_sides(struct iconf *ic, struct err *err)
{
	static const char *const names[ICONF_SIDES] = { "local", "remote" };
	const struct conf_entry *e;
	int i;

	for (i = 0; i < ICONF_SIDES; i++) {
		struct iconf_side *s = &ic->side[i];

		s->name = names[i];
		if (imap_conf_load(ic->conf, s->name, &s->imap, err) < 0)
			return -1;
		/* Local servers seldom gain from COMPRESS (RFC 4978). */
		if (i == ICONF_LOCAL &&
		    conf_get(ic->conf, s->name, "compress") == NULL)
			s->imap.compress = false;
		e = conf_get(ic->conf, s->name, "list-reference");
		s->list_reference = e != NULL ? e->value : "";
	}
	return 0;
}

/* interimap's keys of the default section, checked already. */
static int
load_defaults(struct iconf *ic, struct err *err)
{
	const struct conf_entry *e;

	e = conf_get(ic->conf, "_", "logfile");
	ic->logfile = e != NULL ? e->value : NULL;
	e = conf_get(ic->conf, "_", "log-prefix");
	ic->log_prefix = e != NULL ? e->value : ILOG_DEFAULT_FORMAT;
	if ((e = conf_get(ic->conf, "_", "list-mailbox")) != NULL &&
	    load_list_mailbox(ic->conf, e, &ic->filter, err) < 0)
		return -1;
	if ((e = conf_get(ic->conf, "_", "list-select-opts")) != NULL &&
	    load_select_opts(ic->conf, e, &ic->filter, err) < 0)
		return -1;
	if ((e = conf_get(ic->conf, "_", "ignore-mailbox")) != NULL &&
	    load_ignore(ic->conf, e, &ic->filter, err) < 0)
		return -1;
	return 0;
}

/* A password in a file others can read is as good as published: say so
 * (not an error: the file may sit in a private directory). */
static void
check_password_mode(const struct iconf *ic)
{
	static const char *const sections[] = { "_", "local", "remote" };
	bool has = false;
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_LEN(sections); i++)
		has = has ||
		    conf_get(ic->conf, sections[i], "password") != NULL;
	if (has && stat(ic->config_path, &st) == 0 &&
	    (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		log_at(LOG_WARN, NULL, "%s: contains a password and is "
		    "readable by others (chmod 600 it)", ic->config_path);
}

int
iconf_load(const char *config_arg, struct iconf *ic, struct err *err)
{
	static const char *const required[] = { "local", "remote" };
	const char *arg = config_arg != NULL ? config_arg : "config";
	size_t i;

	memset(ic, 0, sizeof(*ic));
	if (!printable(arg))
		return err_set(err, ERR_CONFIG, "invalid configuration file "
		    "name \"%.200s\"", arg);
	ic->config_path = conf_default_path(PROG, arg);
	if (arg[0] != '/' && prepare_dir(ic->config_path, arg, err) < 0)
		goto fail;
	if ((ic->conf = conf_load(ic->config_path, err)) == NULL)
		goto fail;
	/* The reference's order: the default section, then each side. */
	if (check_section(ic, "_", err) < 0)
		goto fail;
	for (i = 0; i < ARRAY_LEN(required); i++) {
		if (!conf_has_section(ic->conf, required[i])) {
			err_set(err, ERR_CONFIG, "%s: no such section: %s",
			    ic->config_path, required[i]);
			goto fail;
		}
		if (check_section(ic, required[i], err) < 0)
			goto fail;
	}
	check_password_mode(ic);
	if (load_sides(ic, err) < 0 || load_database(ic, err) < 0 ||
	    load_defaults(ic, err) < 0)
		goto fail;
	return 0;
fail:
	iconf_free(ic);
	return -1;
}

void
iconf_free(struct iconf *ic)
{
	conf_free(&ic->conf);
	free(ic->config_path);
	free(ic->database);
	mbfilter_free(&ic->filter);
	memset(ic, 0, sizeof(*ic));
}
