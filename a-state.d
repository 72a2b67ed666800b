state.o: common/state.h common/err.h common/util.h
common/err.h:
common/util.h:
