#ifndef COMMON_IMAP_TRACE_H
#define COMMON_IMAP_TRACE_H

/* The --debug protocol trace, in two shapes: the parsed one (server
 * responses as the tokenizer read them, pullimap's) and the wire one
 * (the lines that went over the connection, the reference
 * Net::IMAP::InterIMAP's, interimap's). The engine (imapc.h) picks one
 * per connection. */

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "imap_parse.h"

/* One line in IMAP syntax: quoted strings re-quoted ('"' and '\\'
 * escaped), so that what was valid on the wire reads valid; literals held
 * in memory as {N} and their text quoted the same way (so that it stays
 * on the line), streamed ones (message bodies) as {N}[...]; strings longer
 * than 200 bytes cut, marked "...". Control bytes are left to the log
 * functions, which escape them. Allocated; caller frees. */
char *imap_trace_format(const struct imap_resp *r);

/* The wire shape: one direction of a connection cut into its lines, CRLF
 * removed, literals left out. A line that ends in a literal's
 * announcement ("{N}", "{N+}", "~{N}") is followed by the literal's N
 * bytes, which are skipped, and the line after them begins with "[...]"
 * (none for {0}, as the reference). Lines are passed on as the peer
 * sent them, whatever the bytes (the log functions escape them); a line
 * longer than IMAP_TRACE_LINE_MAX bytes is cut there. Memory: the
 * splitter owns its line buffer, freed by imap_trace_wire_free(). */
#define IMAP_TRACE_LINE_MAX 8192

/* A finished line, line[0..len) (NUL-terminated too), valid during the
 * call only. */
typedef void imap_trace_line_fn(void *ctx, const char *line, size_t len);

struct imap_trace_wire {
	imap_trace_line_fn *fn;
	void *ctx;
	struct buf line;    /* the line so far, "[...]" included */
	bool cut;           /* bytes of it were dropped (too long) */
	bool last_cr;       /* its last byte is a CR */
	int tail;           /* how the line ends: a literal's "{N}"? */
	uint64_t num;       /* the N of that "{N}" */
	uint64_t lit_left;  /* literal bytes still to skip */
};

void imap_trace_wire_init(struct imap_trace_wire *w, imap_trace_line_fn *fn,
    void *ctx);
/* The next bytes of the stream: calls fn for every line they end. */
void imap_trace_wire_feed(struct imap_trace_wire *w, const char *data,
    size_t len);
/* The literal the last line announced went by without being fed (read
 * by its consumer straight from the connection): the stream goes on
 * after it, its line with "[...]". */
void imap_trace_wire_literal_read(struct imap_trace_wire *w);
/* The literal the last line announced will never come (the server
 * refused it instead of "+"): the next bytes start a new line. */
void imap_trace_wire_literal_dropped(struct imap_trace_wire *w);
void imap_trace_wire_free(struct imap_trace_wire *w);

#endif
