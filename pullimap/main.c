#include "util.h"

#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"
#include "plog.h"
#include "pull.h"
#include "pull_conf.h"
#include "sigwait.h"
#include "status.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: pullimap [--config=FILE] [--idle[=SECONDS]] [--no-delivery]\n"
	    "                [-q|--quiet] [--status]\n"
	    "                [--debug] [-h|--help] [--version] SECTION\n"
	    "Pull new messages from an IMAP mailbox and deliver them to an\n"
	    "SMTP or LMTP server. With --status, show what the state of\n"
	    "SECTION records (no network) and exit. See pullimap(1).\n");
}

static volatile sig_atomic_t stop_flag, wake_flag;

static void
on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		stop_flag = 1;
	wake_flag = 1;
}

/* SIGTERM/SIGINT: finish the message in flight, log out, exit 0.
 * SIGHUP/SIGUSR1: poll now (--idle). No SA_RESTART, so that a wait is
 * interrupted and sees the flags at once; the waits of --idle test the
 * flags with these signals blocked, so that none is missed (sigwait.h). */
static void
signals(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0};
	sigwait_install(sigs, on_signal);
	/* Documented in t/pullimap/signals.sh: a test-only knob. */
	sigwait_set_test_env("PULLIMAP_TEST_WAIT_SIGNAL");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"idle", optional_argument, NULL, 'i'},
		{"no-delivery", no_argument, NULL, 'n'},
		{"quiet", no_argument, NULL, 'q'},
		{"debug", no_argument, NULL, 'd'},
		{"status", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	struct pull_run_opts o = {false, 120 * 1000, 0, &stop_flag, &wake_flag};
	bool idle = false, status = false;
	struct pull_conf pc;
	struct err err;
	int ch, rc;

	setlocale(LC_CTYPE, "");
	/* A dead peer must be an error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	err_clear(&err);
	while ((ch = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'i': {
			uint32_t secs = 0;
			if (optarg && (parse_u32_str(optarg, &secs) < 0 ||
				secs > 86400)) {
				fprintf(stderr, "pullimap: --idle=%s: expected a "
						"number of seconds\n", optarg);
				return EX_USAGE;
			}
			/* 0 or none: 29 minutes, under the 30 minutes after
			 * which servers may log an idle client out. */
			o.idle_ms = (int)(secs ? secs : 29 * 60) * 1000;
			idle = true;
			break;
		}
		case 'n':
			o.no_delivery = true;
			break;
		case 'q':
			log_quiet = true;
			break;
		case 'd':
			log_debug_level++;
			break;
		case 'S':
			status = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pullimap %s\n", VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "pullimap: %s\n",
		    optind == argc ? "missing SECTION argument"
				   : "too many arguments");
		usage(stderr);
		return EX_USAGE;
	}
	/* A test knob, deliberately undocumented: the end-to-end tests
	 * inject dead or slow servers and cannot wait the default two
	 * minutes each time. Users have no use for it. */
	if (getenv("PULLIMAP_TIMEOUT_MS")) {
		uint32_t ms;
		if (parse_u32_str(getenv("PULLIMAP_TIMEOUT_MS"), &ms) == 0 &&
		    ms > 0 && ms < 3600000)
			o.timeout_ms = (int)ms;
	}

	memset(&pc, 0, sizeof(pc));
	if (pull_conf_load(config, argv[optind], &pc, &err) < 0) {
		fprintf(stderr, "pullimap: %s\n", err.msg);
		return err_exitcode(err.kind);
	}
	plog_set_section(argv[optind]);
	if (status) {
		/* Reads the state only: no network, no waiting for a lock. */
		rc = pull_status(&pc, stdout, &err);
	} else {
		signals();
		rc = idle ? pull_idle(&pc, &o, &err) : pull_run(&pc, &o, &err);
	}
	if (rc < 0)
		plog_errorx("%s", err.msg);
	pull_conf_free(&pc);
	plog_set_section(NULL);
	plog_set_mailbox(NULL);
	return rc < 0 ? err_exitcode(err.kind) : 0;
}
