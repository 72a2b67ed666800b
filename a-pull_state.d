pull_state.o: pullimap/pull_state.h common/err.h common/util.h
common/err.h:
common/util.h:
