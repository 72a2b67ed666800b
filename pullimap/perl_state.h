#ifndef PULLIMAP_PERL_STATE_H
#define PULLIMAP_PERL_STATE_H

/* The statefile of the Perl pullimap (InterIMAP 0.5.7), read so that its
 * state can be imported into ours. Its format: big-endian 32-bit integers,
 *   UIDVALIDITY, UIDNEXT, then the UIDs delivered by a run that was
 *   interrupted before it could mark them \Seen and store the new UIDNEXT
 *   (the reference marks them \Seen at its next run and never delivers
 *   them again).
 * The reference writes UIDVALIDITY first, then UIDNEXT (1), one 4-byte
 * write each, so after an interrupted first run the file may hold 0 or 4
 * bytes:
 *   0 bytes  nothing recorded: not a Perl statefile for us (an empty file
 *            is also what an interrupted first run of ours leaves behind,
 *            and SQLite takes it as an empty database; both programs then
 *            start from scratch, so nothing is lost);
 *   4 bytes  UIDVALIDITY only: UIDNEXT is 1 (what the reference assumes).
 * Anything else whose size is not a multiple of 4, or with a zero
 * UIDVALIDITY, UIDNEXT or pending UID (RFC 3501 nz-numbers), is corrupt. */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct perl_state {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t *pending; /* allocated, in file order; NULL when none */
	size_t npending;
};

/* Parses the len bytes of a Perl statefile named name (for messages).
 * Returns 0, or -1 with ERR_DB "NAME: ..." for a corrupt content (len 0
 * included). ps is zeroed first; free it with perl_state_free(). */
int perl_state_parse(const char *name, const unsigned char *buf, size_t len,
    struct perl_state *ps, struct err *err);

/* Reads and parses the file at path. Errors: ERR_SYS when it cannot be
 * read, ERR_DB when it is corrupt or unreasonably large. */
int perl_state_read(const char *path, struct perl_state *ps,
    struct err *err);

/* Returns 1 when the file at path is neither missing, empty nor an SQLite
 * database (so it must be a Perl statefile, or garbage that
 * perl_state_read() refuses), 0 otherwise, -1 with ERR_SYS when it cannot
 * be read. */
int perl_state_detect(const char *path, struct err *err);

void perl_state_free(struct perl_state *ps);

#endif
