imap_conf.o: common/imap_conf.h common/conf.h common/err.h common/util.h \
 common/conn.h
common/conf.h:
common/err.h:
common/util.h:
common/conn.h:
