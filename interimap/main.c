#include "util.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "iconf.h"
#include "ilog.h"
#include "log.h"

int
main(int argc, char **argv)
{
	struct icli o;
	struct iconf ic;
	struct err err;
	int rc;

	setlocale(LC_CTYPE, "");
	/* A dead peer must be an error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	err_clear(&err);
	if ((rc = icli_parse(&o, argc, argv, stdout, stderr)) >= 0)
		return rc;
	log_quiet = o.quiet;
	log_debug_level = o.debug;

	if (iconf_load(o.config, &ic, &err) < 0) {
		fprintf(stderr, "interimap: %s\n", err.msg);
		icli_free(&o);
		return err_exitcode(err.kind);
	}
	ilog_set_format(ic.log_prefix);
	if (ic.logfile != NULL && ilog_open_file(ic.logfile, &err) < 0) {
		fprintf(stderr, "interimap: %s\n", err.msg);
		iconf_free(&ic);
		icli_free(&o);
		return err_exitcode(err.kind);
	}
	log_at(LOG_DEBUG, ilog_prefix(NULL, NULL), ">>> interimap %s",
	    VERSION);

	/* STUB (issue 9): the command line and the configuration are
	 * complete; the synchronisation is the next step. Until then say
	 * so and fail, rather than pretend. */
	fprintf(stderr, "interimap: synchronisation is not implemented yet "
	    "(issue 9)\n");
	rc = 1;

	ilog_close_file();
	iconf_free(&ic);
	icli_free(&o);
	return rc;
}
