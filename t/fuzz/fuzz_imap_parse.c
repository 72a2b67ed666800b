/* libFuzzer target for the IMAP response tokenizer: `make fuzz`, then
 * build-fuzz/fuzz_imap_parse [corpus dir]. The input is fed in pieces whose
 * sizes come from its first byte, and every streamed literal is skipped the
 * way the client does, so that resumption and literal handling are
 * exercised, not only whole-buffer parsing. */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
dump(const struct imap_resp *r)
{
	free(imap_parse_dump(r));
}

static void
partial(const struct imap_resp *r, const struct imap_arg *cont, size_t count)
{
	(void)r;
	(void)cont;
	(void)count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_feed(data, size, dump, partial);
	return 0;
}
