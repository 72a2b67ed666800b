#ifndef COMMON_IMAP_CONF_H
#define COMMON_IMAP_CONF_H

/* The IMAP connection options of a configuration section, shared by
 * pullimap and interimap: the keys, defaults and accepted values of the
 * reference (Net::IMAP::InterIMAP's read_config), except where noted. */

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "err.h"
#include "imap_auth.h"

/* True for the configuration keys read by imap_conf_load(). Case-sensitive,
 * like the reference. */
bool imap_conf_is_key(const char *key);

/* Fills o with the defaults, then with the IMAP keys of section (and of the
 * default section "_" it inherits), validating each value. Other keys are
 * ignored: the caller rejects unknown ones. Returns 0, or -1 with err
 * (ERR_CONFIG, "FILE:LINE: invalid value for KEY: ...", or naming both
 * password and password-command when both are set). */
int imap_conf_load(const struct conf *c, const char *section,
    struct imap_opts *o, struct err *err);

/* Helpers for the other keys of a section, with the same message format.
 * Each returns 0, or -1 with ERR_CONFIG naming the entry. */
/* YES or NO, any case. */
int imap_conf_bool(const struct conf *c, const struct conf_entry *e,
    bool *v, struct err *err);
/* No ASCII control character (the reference's \P{Control}); empty allowed
 * only when allow_empty. */
int imap_conf_text(const struct conf *c, const struct conf_entry *e,
    bool allow_empty, struct err *err);
/* Non-empty, bytes 0x01-0x7F only. */
int imap_conf_ascii(const struct conf *c, const struct conf_entry *e,
    bool secret, struct err *err);

#endif
