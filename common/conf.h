#ifndef COMMON_CONF_H
#define COMMON_CONF_H

/* INI configuration files, read with libinih and made to give the same
 * values as Perl's Config::Tiny (what the reference tools use):
 *  - "key = value" (first '=' splits; key and value trimmed), '#' or ';'
 *    comment lines, no ':' separator, no continuation lines, no line-length
 *    limit;
 *  - a " ; comment" with whitespace on both sides of ';' ends the value;
 *    "abc ;def" and "abc;def" are kept whole;
 *  - "[ name ]" is section "name"; keys before the first section belong to
 *    the default section "_", which applies to every section;
 *  - the last duplicate key wins; a repeated section is merged;
 *  - a line that is none of the above is an error naming file and line.
 * A few odd lines Tiny accepts are errors here (a ':' in a key, a ']' in a
 * section name, blank-only names, a UTF-8 BOM): see conf.c.
 * Loading sets libinih's process-wide options: not thread-safe.
 *
 * All returned strings belong to the struct conf and live until conf_free(). */

#include <stdbool.h>

#include "err.h"

struct conf;

/* Name comparisons made so far by the lookups of this module (sections and
 * keys): lets the tests check that loading and looking up stay linear in the
 * size of the file without timing anything. */
extern unsigned long conf_compares;

struct conf_entry {
	const char *key;
	const char *value;
	const char *section; /* the section it was read in ("_" for defaults) */
	int line;
};

/* Returns NULL with err (ERR_CONFIG, "FILE:LINE: reason" or
 * "FILE: strerror") on failure. */
struct conf *conf_load(const char *path, struct err *err);
/* Same, from a string (for tests); name is used in messages. */
struct conf *conf_load_string(const char *name, const char *text,
    struct err *err);
void conf_free(struct conf **cp);

const char *conf_path(const struct conf *c);
/* Named sections (not "_"), in file order, including sections without
 * keys. The default section "_" always exists for conf_has_section(). */
size_t conf_sections(const struct conf *c, const char *const **names_r);
bool conf_has_section(const struct conf *c, const char *section);

/* The value of key in section, falling back to the default section "_";
 * NULL when unset. */
const struct conf_entry *conf_get(const struct conf *c, const char *section,
    const char *key);

/* Every effective entry of a section (its own keys and the defaults it does
 * not override), for validation. *list_r is allocated; caller frees the
 * array (not the entries). */
size_t conf_entries(const struct conf *c, const char *section,
    const struct conf_entry ***list_r);

/* "FILE:LINE" of an entry, for messages; static buffer. */
const char *conf_where(const struct conf *c, const struct conf_entry *e);

/* Resolve the configuration path the reference's way: an absolute path as
 * is, a relative one (or the default "config") under
 * $XDG_CONFIG_HOME/prog or ~/.config/prog. Allocated. */
char *conf_default_path(const char *prog, const char *arg);

/* The same for any XDG base directory: arg if absolute, else
 * $xdg_var/prog/arg, or $HOME/home_default/prog/arg when xdg_var is unset,
 * empty or relative (XDG spec; $HOME unset: the passwd entry's home).
 * Creates nothing. Allocated. */
char *conf_xdg_path(const char *xdg_var, const char *home_default,
    const char *prog, const char *arg);

#endif
