#ifndef T_UNIT_CAPTURE_H
#define T_UNIT_CAPTURE_H

/* What a piece of code writes to stderr, for tests of log lines:
 *
 *	capture_begin();
 *	log_warnx("...");
 *	text = capture_end();   // valid until the next capture_end()
 *
 * stderr goes to an unlinked temporary file in between. Not nestable. */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int capture_fd = -1, capture_saved = -1;
static char capture_buf[16384];

static void
capture_begin(void)
{
	if (capture_fd < 0) {
		char path[] = "/tmp/test_capture.XXXXXX";
		if ((capture_fd = mkstemp(path)) < 0)
			abort();
		unlink(path);
	}
	fflush(stderr);
	if (ftruncate(capture_fd, 0) < 0 || lseek(capture_fd, 0, SEEK_SET) < 0)
		abort();
	capture_saved = dup(2);
	dup2(capture_fd, 2);
}

static const char *
capture_end(void)
{
	ssize_t n;

	fflush(stderr);
	dup2(capture_saved, 2);
	close(capture_saved);
	n = pread(capture_fd, capture_buf, sizeof(capture_buf) - 1, 0);
	if (n < 0)
		abort();
	capture_buf[n] = '\0';
	return capture_buf;
}

#endif
