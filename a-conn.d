conn.o: common/conn.h common/err.h common/util.h
common/err.h:
common/util.h:
