err.o: common/err.h common/util.h
common/util.h:
