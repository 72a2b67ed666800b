perl_state.o: pullimap/perl_state.h common/err.h common/util.h
common/err.h:
common/util.h:
