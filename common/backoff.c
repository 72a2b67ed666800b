#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"

unsigned
backoff_next(struct backoff *b)
{
	static bool seeded;
	unsigned j;

	if (!seeded) {
		srandom((unsigned)getpid() ^ (unsigned)time(NULL));
		seeded = true;
	}
	b->ms = b->ms == 0 ? BACKOFF_MIN_MS
	    : b->ms > BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : b->ms * 2;
	j = b->ms / 5;
	return b->ms - j + (unsigned)(random() % (2 * j + 1));
}

void
backoff_reset(struct backoff *b)
{
	b->ms = 0;
}
