status.o: pullimap/status.h common/err.h common/util.h \
 pullimap/pull_conf.h common/conf.h common/err.h common/imap_conf.h \
 common/conf.h common/conn.h
common/err.h:
common/util.h:
pullimap/pull_conf.h:
common/conf.h:
common/err.h:
common/imap_conf.h:
common/conf.h:
common/conn.h:
