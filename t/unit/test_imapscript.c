#include "util.h"

#include <sys/socket.h>

#include "imapscript.h"
#include "test.h"

/* The scripted server's own test: a client made of plain read()/write()
 * calls that follows, or does not follow, the script. */

static int
pair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
}

static size_t
read_n(int fd, char *buf, size_t n, unsigned *calls)
{
	size_t off = 0;
	while (off < n) {
		ssize_t k = read(fd, buf + off, n - off);
		if (k <= 0)
			break;
		off += (size_t)k;
		if (calls)
			(*calls)++;
	}
	return off;
}

static void
write_s(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		abort();
}

static void
test_follows(void)
{
	static const char script[] =
	    "# a comment\n"
	    "S: * OK hi\n"
	    "C: 1 LOGIN a \"b\\\\c\"\n"
	    "S: 1 OK done\n"
	    "S: * 1 FETCH (BODY[] {100000}\n"
	    "S< 100000 3\n"
	    "S: )\n"
	    "C: 2 APPEND INBOX {5000+}\\c\n"
	    "C< 5000 9\n"
	    "C: \n"
	    "S: a\\x00b\\c\n"
	    "eof\n";
	int fds[2];
	char buf[100000], msg[512];
	struct imapscript *s;
	bool pattern_ok = true;

	test_begin("imapscript: a client that follows the script");
	test_assert(pair(fds) == 0);
	s = imapscript_start(fds[0], script, false);
	test_assert(read_n(fds[1], buf, 9, NULL) == 9 &&
	    memcmp(buf, "* OK hi\r\n", 9) == 0);
	write_s(fds[1], "1 LOGIN a \"b\\c\"\r\n", 17);
	test_assert(read_n(fds[1], buf, 11, NULL) == 11 &&
	    memcmp(buf, "1 OK done\r\n", 11) == 0);
	test_assert(read_n(fds[1], buf, 28, NULL) == 28 &&
	    memcmp(buf, "* 1 FETCH (BODY[] {100000}\r\n", 28) == 0);
	test_assert(read_n(fds[1], buf, 100000, NULL) == 100000);
	for (size_t i = 0; i < 100000; i++)
		if ((unsigned char)buf[i] != imapscript_pattern(3, i))
			pattern_ok = false;
	test_assert(pattern_ok);
	test_assert(read_n(fds[1], buf, 3, NULL) == 3 &&
	    memcmp(buf, ")\r\n", 3) == 0);
	write_s(fds[1], "2 APPEND INBOX {5000+}", 22);
	for (size_t i = 0; i < 5000; i++)
		buf[i] = (char)imapscript_pattern(9, i);
	write_s(fds[1], buf, 5000);
	write_s(fds[1], "\r\n", 2);
	test_assert(read_n(fds[1], buf, 3, NULL) == 3 &&
	    memcmp(buf, "a\0b", 3) == 0);
	close(fds[1]);
	test_assert(imapscript_wait(s, msg, sizeof(msg)) == 0);
	test_end();
}

static void
test_mismatch(void)
{
	int fds[2];
	char buf[64], msg[512];
	struct imapscript *s;

	test_begin("imapscript: a wrong command is reported, with the byte");
	test_assert(pair(fds) == 0);
	s = imapscript_start(fds[0], "S: * OK hi\nC: 1 LOGIN a b\nS: 1 OK\n",
	    false);
	test_assert(read_n(fds[1], buf, 9, NULL) == 9);
	write_s(fds[1], "1 LOGIN a c\r\n", 13);
	test_assert(imapscript_wait(s, msg, sizeof(msg)) == -1);
	test_assert(strstr(msg, "line 2, byte 10") != NULL);
	test_assert(strstr(msg, "expected \"b\\x0d\\x0a\"") != NULL);
	close(fds[1]);
	test_end();

	test_begin("imapscript: a client that closes early is reported");
	test_assert(pair(fds) == 0);
	s = imapscript_start(fds[0], "C: 1 NOOP\n", false);
	write_s(fds[1], "1 NO", 4);
	close(fds[1]);
	test_assert(imapscript_wait(s, msg, sizeof(msg)) == -1);
	test_assert(strstr(msg, "and closed") != NULL);
	test_end();

	test_begin("imapscript: a client that sends more than eof allows");
	test_assert(pair(fds) == 0);
	s = imapscript_start(fds[0], "eof\n", false);
	write_s(fds[1], "x", 1);
	test_assert(imapscript_wait(s, msg, sizeof(msg)) == -1);
	test_assert(strstr(msg, "expected the client to close") != NULL);
	close(fds[1]);
	test_end();
}

static void
test_split(void)
{
	char script[400], buf[300], msg[512];
	int fds[2];
	unsigned calls = 0;
	struct imapscript *s;

	test_begin("imapscript: split sends a byte per write");
	memset(buf, 'x', 200);
	snprintf(script, sizeof(script), "S: * OK %.200s\neof\n", buf);
	/* Records keep the writes apart, however fast the writer: each
	 * read() returns one write's bytes (on a stream a reader that came
	 * late could get them all at once). */
	test_assert(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
	s = imapscript_start(fds[0], script, true);
	test_assert(read_n(fds[1], buf, 207, &calls) == 207);
	/* 207 one-byte writes. */
	test_assert(calls == 207);
	close(fds[1]);
	test_assert(imapscript_wait(s, msg, sizeof(msg)) == 0);
	test_end();
}

int
main(void)
{
	test_follows();
	test_mismatch();
	test_split();
	return test_exit();
}
