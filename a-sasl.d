sasl.o: common/sasl.h common/err.h common/util.h
common/err.h:
common/util.h:
