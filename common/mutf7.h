#ifndef COMMON_MUTF7_H
#define COMMON_MUTF7_H

/* Modified UTF-7 (RFC 3501 §5.1.3), the encoding of IMAP mailbox names on
 * the wire when UTF8=ACCEPT (RFC 6855) is not in effect.
 *
 *   - printable US-ASCII, 0x20-0x7e, stands for itself, except "&";
 *   - "&" is written "&-";
 *   - every other character (0x01-0x1f, 0x7f and everything above U+007F)
 *     is written as UTF-16 (surrogate pairs above U+FFFF) in modified
 *     BASE64 (RFC 2045 alphabet with "," instead of "/", no "=" padding)
 *     between "&" and "-"; a maximal stretch of such characters makes one
 *     run.
 *
 * Both functions take a byte string with its length (it need not be
 * NUL-terminated) and return an allocated, NUL-terminated string that the
 * caller frees, or NULL with err set. Mailbox names cannot contain NUL
 * (RFC 3501 §9: a mailbox is an astring, whose literal form is made of
 * CHAR8 = %x01-ff and whose other forms are narrower): an embedded NUL
 * byte in the input, or a decoded U+0000, is refused.
 *
 * Error messages name the byte offset in the input and the reason, e.g.
 * "invalid UTF-8 at offset 3: overlong encoding"; they do not quote the name,
 * so that the caller adds the name and the context:
 *   err_prefix(err, "LIST: mailbox \"%s\"", raw).
 *
 * Being strict on both sides gives the property the fuzzer checks: whenever
 * mutf7_decode(m) succeeds, mutf7_encode() of its result gives back m byte
 * for byte; whenever mutf7_encode(s) succeeds, mutf7_decode() of its result
 * gives back s. So a name has exactly one wire form, and a name read from
 * the server can be stored as UTF-8 and written back unchanged. */

#include <stddef.h>

#include "err.h"

/* Encodes UTF-8 to modified UTF-7. Refused (ERR_CONFIG: the names come
 * from the user's configuration or the local state, not from a server;
 * the caller may re-kind the error): invalid UTF-8, i.e. a stray
 * continuation byte, a lead byte 0xc0, 0xc1 or 0xf5-0xff, an overlong
 * form, a UTF-16 surrogate (U+D800-U+DFFF) encoded in UTF-8, a code point
 * above U+10FFFF, a sequence truncated by the end of the input or by a
 * non-continuation byte; and a NUL byte. The empty string encodes to the
 * empty string. */
char *mutf7_encode(const char *utf8, size_t len, struct err *err);

/* Decodes modified UTF-7 to UTF-8. Strict: only the canonical form that
 * mutf7_encode() produces is accepted. Refused (ERR_PROTO: the names come
 * from a server's LIST, LSUB or STATUS replies):
 *   - a byte outside 0x20-0x7e: raw 8-bit bytes, control characters, NUL;
 *   - an "&" run that is not terminated by "-" before the end of input;
 *   - a character other than A-Z a-z 0-9 "+" "," inside a run ("/" and
 *     "=" included);
 *   - a run whose bits do not split into whole UTF-16 units: a dangling
 *     base64 character (6 or more bits left over) or leftover bits that
 *     are not zero;
 *   - a lone or reversed surrogate, or a surrogate pair split across runs;
 *   - an encoded U+0000, or an encoded printable ASCII character (0x20-0x7e,
 *     "&" included: "&ACY-" must be "&-"), which must stand for itself;
 *   - a run that directly follows another run ("&AOk-&AOk-"): a canonical
 *     encoder writes one run "&AOkA6Q-". "&-" is not a run: "&AOk-&-" is
 *     "é&" and accepted.
 * The empty string decodes to the empty string. */
char *mutf7_decode(const char *m7, size_t len, struct err *err);

#endif
