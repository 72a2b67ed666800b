util.o: common/util.h
