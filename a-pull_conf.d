pull_conf.o: pullimap/pull_conf.h common/conf.h common/err.h \
 common/util.h common/err.h common/imap_conf.h common/conf.h \
 common/conn.h
common/conf.h:
common/err.h:
common/util.h:
common/err.h:
common/imap_conf.h:
common/conf.h:
common/conn.h:
