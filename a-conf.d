conf.o: common/conf.h common/err.h common/util.h
common/err.h:
common/util.h:
