curl_lazy.o: pullimap/curl_lazy.h common/err.h common/util.h
common/err.h:
common/util.h:
