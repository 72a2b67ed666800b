imap_parse.o: common/imap_parse.h common/err.h common/util.h
common/err.h:
common/util.h:
