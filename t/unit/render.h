#ifndef T_UNIT_RENDER_H
#define T_UNIT_RENDER_H

/* A command as imap_cmd's writer sends it, compared with the exact wire
 * text: for the tests of common/imap_cmd.c and common/imap_verbs.c.
 * Include after test.h. */

#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "imap_cmd.h"

/* Where the writer stops for the server's "+" (a synchronizing literal). */
#define WAIT "<WAIT>"

/* The command as the writer sends it in mode, WAIT where it stops for "+";
 * "ERROR: msg" when rendering fails. Caller frees. */
static inline char *
render(const struct imap_cmd *cmd, enum imap_lit_mode mode)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	struct err err = {0};
	if (imap_cmd_render(cmd, mode, WAIT, &b, &err) < 0) {
		buf_free(&b);
		return xasprintf("ERROR: %s", err.msg);
	}
	buf_append(&b, "", 1);
	return b.data;
}

/* Renders cmd (which must not be NULL) in mode and checks it against want;
 * cmd stays the caller's. */
static inline void
check_render(const struct imap_cmd *cmd, enum imap_lit_mode mode,
    const char *want)
{
	char *got;

	test_assert(cmd != NULL);
	if (cmd == NULL)
		return;
	got = render(cmd, mode);
	test_assert_str(got, want);
	free(got);
}

#endif
