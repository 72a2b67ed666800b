buf.o: common/buf.h common/util.h
common/util.h:
