deliver_p.o: pullimap/deliver_p.h pullimap/deliver.h common/err.h \
 common/util.h
pullimap/deliver.h:
common/err.h:
common/util.h:
