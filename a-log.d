log.o: common/log.h common/util.h
common/util.h:
