#include "util.h"

#include <stdio.h>
#include <stdlib.h>

#include "plog.h"

static char *section, *mailbox;
static char prefix[512];

static void
update(void)
{
	if (section && mailbox)
		snprintf(prefix, sizeof(prefix), "%s(%s)", section, mailbox);
	else
		snprintf(prefix, sizeof(prefix), "%s", section ? section : "");
}

void
plog_set_section(const char *s)
{
	free(section);
	section = s ? xstrdup(s) : NULL;
	update();
}

void
plog_set_mailbox(const char *m)
{
	free(mailbox);
	mailbox = m ? xstrdup(m) : NULL;
	update();
}

const char *
plog_prefix(void)
{
	return prefix;
}
