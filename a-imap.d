imap.o: common/imap.h common/err.h common/util.h common/imap_parse.h
common/err.h:
common/util.h:
common/imap_parse.h:
