#ifndef T_FUZZ_FEED_H
#define T_FUZZ_FEED_H

/* The fuzz targets' common driver: data[1..size) goes to the tokenizer in
 * pieces of 1 to 17 bytes (data[0] picks the size), every streamed literal
 * is skipped the way the client does, and each complete response and each
 * literal start is handed to the target. Resumption at every byte is
 * exercised, not only whole-buffer parsing. */

#include <stdint.h>

#include "imap_parse.h"

typedef void fuzz_done_fn(const struct imap_resp *r);
/* At a streamed literal: the response so far and the list holding it. */
typedef void fuzz_literal_fn(const struct imap_resp *partial,
    const struct imap_arg *container, size_t count);

static inline void
fuzz_feed(const uint8_t *data, size_t size, fuzz_done_fn *done,
    fuzz_literal_fn *literal)
{
	static const struct imap_parse_limits lim = {4096, 64, 1 << 20, 8, 256};
	struct imap_parser *p;
	size_t step, off = 1;
	uint64_t lit = 0;
	struct err err;

	if (size == 0)
		return;
	p = imap_parse_new(&lim);
	step = (size_t)data[0] % 17 + 1;
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;
		if (lit > 0) {
			size_t k = lit < n ? (size_t)lit : n;
			lit -= k;
			off += k;
			if (lit == 0)
				imap_parse_literal_done(p);
			continue;
		}
		switch (imap_parse_feed(p, (const char *)data + off, n, &used,
		    &err)) {
		case IMAP_PARSE_ERROR:
			imap_parse_reset(p);
			off += n;
			continue;
		case IMAP_PARSE_DONE:
			done(imap_parse_resp(p));
			break;
		case IMAP_PARSE_LITERAL: {
			size_t count;
			const struct imap_arg *cont =
			    imap_parse_literal_container(p, &count);
			literal(imap_parse_partial(p), cont, count);
			lit = imap_parse_literal_size(p);
			if (lit == 0)
				imap_parse_literal_done(p);
			break;
		}
		case IMAP_PARSE_MORE:
			break;
		}
		off += used;
		if (used == 0 && lit == 0)
			off += n; /* never loop without progress */
	}
	imap_parse_free(&p);
}

#endif
