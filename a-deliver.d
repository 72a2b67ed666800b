deliver.o: pullimap/deliver.h common/err.h common/util.h
common/err.h:
common/util.h:
