#include "util.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "plog.h"
#include "pull_conf.h"

/* pullimap's own keys; the IMAP ones are imap_conf_is_key()'s. */
static const char *const pull_keys[] = {
	"statefile", "mailbox", "deliver-method", "deliver-ehlo",
	"deliver-rcpt", "purge-after",
};

static bool
is_pull_key(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(pull_keys); i++)
		if (strcmp(key, pull_keys[i]) == 0)
			return true;
	return false;
}

/* mkdir -p with mode 0700 for what is created. */
static int
make_dirs(const char *dir, struct err *err)
{
	char *p = xstrdup(dir), *s;
	int rc = 0;

	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		{
			char saved = *s;

			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST)
				rc = err_sys(err, ERR_SYS, "can't create %s",
				    p);
			*s = saved;
		}
		if (rc < 0 || *s == '\0')
			break;
	}
	free(p);
	return rc;
}

static int
load_statefile(struct pull_conf *pc, struct err *err)
{
	const struct conf_entry *e = conf_get(pc->conf, pc->section,
	    "statefile");
	const char *arg = pc->section;
	char *dir;
	int rc;

	if (e != NULL) {
		if (imap_conf_text(pc->conf, e, false, err) < 0)
			return -1;
		arg = e->value;
	}
	pc->statefile = conf_xdg_path("XDG_DATA_HOME", ".local/share",
	    "pullimap", arg);
	if (arg[0] == '/')
		return 0;
	/* Like the reference, create the pullimap directory (not deeper
	 * ones a relative statefile might name): statefile is DIR/arg. */
	dir = xstrndup(pc->statefile, strlen(pc->statefile) - strlen(arg) - 1);
	rc = make_dirs(dir, err);
	free(dir);
	return rc;
}

static int
load_rcpt(struct pull_conf *pc, struct err *err)
{
	const struct conf_entry *e = conf_get(pc->conf, pc->section,
	    "deliver-rcpt");
	struct passwd *pw;

	if (e != NULL) {
		if (imap_conf_text(pc->conf, e, false, err) < 0)
			return -1;
		pc->deliver_rcpt = xstrdup(e->value);
		return 0;
	}
	errno = 0;
	pw = getpwuid(geteuid());
	if (pw == NULL || pw->pw_name == NULL || pw->pw_name[0] == '\0')
		return err_set(err, ERR_CONFIG, "%s: deliver-rcpt is not set "
		    "and uid %lu has no user name", pc->config_path,
		    (unsigned long)geteuid());
	pc->deliver_rcpt = xstrdup(pw->pw_name);
	return 0;
}

static int
load_pull_keys(struct pull_conf *pc, struct err *err)
{
	const struct conf *c = pc->conf;
	const struct conf_entry *e;

	pc->mailbox = "INBOX";
	if ((e = conf_get(c, pc->section, "mailbox")) != NULL) {
		if (imap_conf_ascii(c, e, false, err) < 0)
			return -1;
		pc->mailbox = e->value;
	}

	pc->deliver_method = "smtp:[127.0.0.1]:25";
	if ((e = conf_get(c, pc->section, "deliver-method")) != NULL) {
		struct deliver_target t;

		if (deliver_parse_method(e->value, &t, err) < 0)
			return err_prefix(err, "%s", conf_where(c, e));
		deliver_target_clear(&t);
		pc->deliver_method = e->value;
	}

	pc->deliver_ehlo = "localhost.localdomain";
	if ((e = conf_get(c, pc->section, "deliver-ehlo")) != NULL) {
		if (imap_conf_text(c, e, false, err) < 0)
			return -1;
		pc->deliver_ehlo = e->value;
	}

	if ((e = conf_get(c, pc->section, "purge-after")) != NULL &&
	    e->value[0] != '\0') {
		/* The reference's \d*: digits, or nothing (= unset). */
		if (parse_u32_str(e->value, &pc->purge_after_days) < 0)
			return err_set(err, ERR_CONFIG, "%s: invalid value for "
			    "purge-after: %.200s (expected a number of days)",
			    conf_where(c, e), e->value);
		/* Further back, the SEARCH BEFORE date leaves the calendar
		 * (a negative year near 739,000 days) and every purge would
		 * be refused by the server. */
		if (pc->purge_after_days > PULL_PURGE_MAX_DAYS)
			return err_set(err, ERR_CONFIG, "%s: purge-after: %u "
			    "days is too far back (at most %u, 100 years)",
			    conf_where(c, e), pc->purge_after_days,
			    PULL_PURGE_MAX_DAYS);
		pc->has_purge_after = true;
	}

	if (load_rcpt(pc, err) < 0)
		return -1;
	return load_statefile(pc, err);
}

/* A password in a file others can read is as good as published: say so
 * (once, not an error: the file may sit in a private directory). */
static void
check_password_mode(const struct pull_conf *pc)
{
	const char *const *names;
	size_t i, n = conf_sections(pc->conf, &names);
	bool has = conf_get(pc->conf, "_", "password") != NULL;
	struct stat st;

	for (i = 0; i < n && !has; i++)
		has = conf_get(pc->conf, names[i], "password") != NULL;
	if (has && stat(pc->config_path, &st) == 0 &&
	    (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		plog_warnx("%s: contains a password and is readable by others "
		    "(chmod 600 it)", pc->config_path);
}

static int
check_keys(struct pull_conf *pc, struct err *err)
{
	const struct conf_entry **list;
	size_t i, n;
	int rc = 0;

	n = conf_entries(pc->conf, pc->section, &list);
	for (i = 0; i < n; i++) {
		if (!is_pull_key(list[i]->key) &&
		    !imap_conf_is_key(list[i]->key)) {
			rc = err_set(err, ERR_CONFIG,
			    "%s: unknown option %.200s",
			    conf_where(pc->conf, list[i]), list[i]->key);
			break;
		}
	}
	free(list);
	return rc;
}

int
pull_conf_load(const char *config_path_arg, const char *section,
    struct pull_conf *pc, struct err *err)
{
	memset(pc, 0, sizeof(*pc));
	if (section == NULL || section[0] == '\0' || strcmp(section, "_") == 0)
		return err_set(err, ERR_USAGE, "SECTION must name an account "
		    "section of the configuration file, not the default "
		    "section \"_\"");
	pc->section = xstrdup(section);
	pc->config_path = conf_default_path("pullimap", config_path_arg);
	pc->conf = conf_load(pc->config_path, err);
	if (pc->conf == NULL)
		goto fail;
	if (!conf_has_section(pc->conf, section)) {
		err_set(err, ERR_CONFIG, "%s: no such section: %s",
		    pc->config_path, section);
		goto fail;
	}
	check_password_mode(pc);
	if (check_keys(pc, err) < 0 ||
	    imap_conf_load(pc->conf, section, &pc->imap, err) < 0 ||
	    load_pull_keys(pc, err) < 0)
		goto fail;
	return 0;
fail:
	pull_conf_free(pc);
	return -1;
}

void
pull_conf_free(struct pull_conf *pc)
{
	conf_free(&pc->conf);
	free(pc->config_path);
	free(pc->section);
	free(pc->statefile);
	free(pc->deliver_rcpt);
	memset(pc, 0, sizeof(*pc));
}
