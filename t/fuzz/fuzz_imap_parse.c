/* libFuzzer target for the IMAP response tokenizer: `make fuzz`, then
 * build-fuzz/fuzz_imap_parse [corpus dir]. The input is fed in pieces whose
 * sizes come from its first byte, and every streamed literal is skipped the
 * way the client does, so that resumption and literal handling are
 * exercised, not only whole-buffer parsing. */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_parse_limits lim = {4096, 64, 1 << 20, 8, 256};
	struct imap_parser *p = imap_parse_new(&lim);
	size_t step, off = 1;
	uint64_t lit = 0;
	struct err err;

	if (size == 0) {
		imap_parse_free(&p);
		return 0;
	}
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
			free(imap_parse_dump(imap_parse_resp(p)));
			break;
		case IMAP_PARSE_LITERAL: {
			size_t count;
			imap_parse_literal_container(p, &count);
			imap_parse_partial(p);
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
	return 0;
}
