#ifndef PULLIMAP_ENVELOPE_H
#define PULLIMAP_ENVELOPE_H

/* What pullimap takes from a message's IMAP metadata: the envelope sender
 * for MAIL FROM, and server text safe to journal and log. Pure functions:
 * the server is not trusted. */

#include "imap_parse.h"

/* The envelope sender, as the reference builds it: the ENVELOPE's sender
 * address (the Sender: header; servers fall back to From:); the local part
 * quoted when it is not a Dot-string; "" (<>) when there is none or it
 * cannot be expressed safely: a domain that is neither an RFC 5321 domain
 * nor an address literal, control characters or NUL anywhere (what goes
 * into MAIL FROM must not carry ESMTP parameters of a remote sender's
 * choosing). Returns an allocated string without angle brackets. */
char *envelope_sender(const struct imap_arg *env);

/* Server text for the journal and the log (INTERNALDATE, Message-ID): at
 * most 998 bytes, control bytes written as \xNN so that no server can
 * forge a log line. NULL when a is not a string; else allocated. */
char *envelope_text(const struct imap_arg *a);

#endif
