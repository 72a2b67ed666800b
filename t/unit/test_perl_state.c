#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "perl_state.h"
#include "test.h"

static void
test_parse(void)
{
	static const unsigned char eight[] = {0, 0, 0, 1, 0, 0, 0, 7};
	static const unsigned char pend[] = {0x5f, 0x12, 0x34, 0x56, 0, 0, 1, 0,
	    0, 0, 1, 0, 0, 0, 1, 2};
	static const unsigned char four[] = {0, 0, 0, 9};
	struct perl_state ps;
	struct err err;

	test_begin("perl_state: UIDVALIDITY and UIDNEXT (8 bytes)");
	test_assert(perl_state_parse("f", eight, sizeof(eight), &ps,
	    &err) == 0);
	test_assert(ps.uidvalidity == 1 && ps.uidnext == 7);
	test_assert(ps.npending == 0 && ps.pending == NULL);
	perl_state_free(&ps);
	test_end();

	test_begin("perl_state: pending UIDs of an interrupted run");
	test_assert(perl_state_parse("f", pend, sizeof(pend), &ps, &err) == 0);
	test_assert(ps.uidvalidity == 0x5f123456u && ps.uidnext == 256);
	test_assert(ps.npending == 2 && ps.pending[0] == 256 &&
	    ps.pending[1] == 258);
	perl_state_free(&ps);
	test_end();

	test_begin("perl_state: 4 bytes (interrupted first run): UIDNEXT 1");
	test_assert(perl_state_parse("f", four, sizeof(four), &ps, &err) == 0);
	test_assert(ps.uidvalidity == 9 && ps.uidnext == 1 && ps.npending == 0);
	perl_state_free(&ps);
	test_end();

	test_begin("perl_state: corrupt sizes and zero values are refused");
	test_assert(perl_state_parse("F.st", eight, 0, &ps, &err) < 0);
	test_assert(err.kind == ERR_DB && strstr(err.msg, "F.st") != NULL);
	for (size_t n = 1; n < sizeof(pend); n++) {
		if (n % 4 == 0)
			continue;
		test_assert(perl_state_parse("F.st", pend, n, &ps, &err) < 0);
		test_assert(strstr(err.msg, "F.st: ") == err.msg);
		test_assert(ps.pending == NULL);
	}
	{
		static const unsigned char z1[] = {0, 0, 0, 0, 0, 0, 0, 7};
		static const unsigned char z2[] = {0, 0, 0, 1, 0, 0, 0, 0};
		static const unsigned char z3[] = {0, 0, 0, 1, 0, 0, 0, 2,
		    0, 0, 0, 3, 0, 0, 0, 0};
		test_assert(perl_state_parse("f", z1, 8, &ps, &err) < 0);
		test_assert(perl_state_parse("f", z2, 8, &ps, &err) < 0);
		test_assert(perl_state_parse("f", z3, 16, &ps, &err) < 0);
		test_assert(strstr(err.msg, "offset 12") != NULL);
		test_assert(ps.pending == NULL);
	}
	test_end();
}

static void
test_files(void)
{
	char dir[] = "/tmp/test_perl_state.XXXXXX";
	struct perl_state ps;
	struct err err;
	char *p;

	test_begin("perl_state: detect and read files");
	test_assert(mkdtemp(dir) != NULL);
	p = xasprintf("%s/st", dir);
	test_assert(perl_state_detect(p, &err) == 0); /* missing */
	test_assert(perl_state_read(p, &ps, &err) < 0 && err.kind == ERR_SYS);
	test_write_file(p, "", 0);
	test_assert(perl_state_detect(p, &err) == 0); /* empty */
	test_write_file(p, "SQLite format 3\0garbage", 24);
	test_assert(perl_state_detect(p, &err) == 0);
	test_write_file(p, "\0\0\0\2\0\0\0\5\0\0\0\6", 12);
	test_assert(perl_state_detect(p, &err) == 1);
	test_assert(perl_state_read(p, &ps, &err) == 0);
	test_assert(ps.uidvalidity == 2 && ps.uidnext == 5 &&
	    ps.npending == 1 && ps.pending[0] == 6);
	perl_state_free(&ps);
	test_write_file(p, "\0\0\0\2\0\0\0", 7);
	test_assert(perl_state_detect(p, &err) == 1);
	test_assert(perl_state_read(p, &ps, &err) < 0 && err.kind == ERR_DB);
	test_assert(strstr(err.msg, p) != NULL);
	test_assert(test_rm_rf(dir) == 0);
	free(p);
	test_end();
}

int
main(void)
{
	test_parse();
	test_files();
	return test_exit();
}
