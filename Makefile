# pullimap / interimap - plain GNU make, dependencies through pkg-config.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/pullimap
UNITDIR    ?= $(PREFIX)/lib/systemd/user
DESTDIR    ?=
VERSION    := 0.1.0

PKGS   = libcurl openssl sqlite3 inih zlib libpcre2-8
WARN   = -Wall -Wextra -Wshadow -Wcast-qual -Wformat=2 -Wstrict-prototypes \
         -Wmissing-prototypes -Wmissing-declarations -Wpointer-arith \
         -Wwrite-strings -Wundef -Wvla -Werror=implicit-function-declaration
CFLAGS ?= -O2 -g
ifeq ($(filter clean,$(MAKECMDGOALS)),)
ifneq ($(shell pkg-config --exists $(PKGS) 2>/dev/null && echo ok),ok)
$(error missing build dependencies (pkg-config: $(PKGS)); on Debian 12: sudo apt-get install build-essential pkg-config libcurl4-openssl-dev libssl-dev libsqlite3-dev libinih-dev zlib1g-dev libpcre2-dev)
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
# libcurl is dlopen()ed on first use (common/curl_lazy.c): not linked.
# (-pthread: interimap's lanes, interimap/lanes.h)
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libcurl,$(PKGS))) -pthread
ALL_CFLAGS  = -std=c11 -pthread -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -Icommon -Ipullimap -Iinterimap \
              $(WARN) $(if $(filter 1,$(WERROR)),-Werror) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
SAN_FLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined

COMMON_SRC   := $(wildcard common/*.c)
PULL_SRC     := $(filter-out pullimap/main.c,$(wildcard pullimap/*.c))
INTER_SRC    := $(filter-out interimap/main.c,$(wildcard interimap/*.c))
# interimap is being written (issue 9): built once it has a main.
INTERIMAP    := $(if $(wildcard interimap/main.c),interimap/interimap)
UNIT_SRC     := $(wildcard t/unit/test_*.c)
# Programs the end-to-end tests run (t/tools/NAME.c): build/t/NAME and, with
# the sanitizers, build-san/t/NAME, both built by `make units` (so by make
# check); never named test_* (t/run runs those).
TOOL_SRC     := $(wildcard t/tools/*.c)

# $(1) = build dir
objs = $(patsubst %.c,$(1)/%.o,$(2))

B  := build
BS := build-san
TOOL_BIN := $(patsubst t/tools/%.c,$(B)/t/%,$(TOOL_SRC))
TOOL_SAN := $(patsubst t/tools/%.c,$(BS)/t/%,$(TOOL_SRC))

all: pullimap/pullimap $(INTERIMAP)

pullimap/pullimap: $(B)/pullimap/main.o $(B)/libpull.a $(B)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

interimap/interimap: $(B)/interimap/main.o $(B)/libinter.a $(B)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/libinter.a: $(call objs,$(B),$(INTER_SRC))
	@rm -f $@; $(AR) rcs $@ $^
$(BS)/libinter.a: $(call objs,$(BS),$(INTER_SRC))
	@rm -f $@; $(AR) rcs $@ $^
$(B)/libcommon.a: $(call objs,$(B),$(COMMON_SRC))
	@rm -f $@; $(AR) rcs $@ $^
$(B)/libpull.a: $(call objs,$(B),$(PULL_SRC))
	@rm -f $@; $(AR) rcs $@ $^
$(BS)/libcommon.a: $(call objs,$(BS),$(COMMON_SRC))
	@rm -f $@; $(AR) rcs $@ $^
$(BS)/libpull.a: $(call objs,$(BS),$(PULL_SRC))
	@rm -f $@; $(AR) rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BS)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# Unit tests: built with ASan+UBSan.
UNIT_BIN := $(patsubst t/unit/%.c,$(BS)/t/%,$(UNIT_SRC))
$(BS)/t/%: $(BS)/t/unit/%.o $(BS)/libinter.a $(BS)/libpull.a $(BS)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# The sanitizer build of the program itself, used by the end-to-end tests.
$(BS)/bin/pullimap: $(BS)/pullimap/main.o $(BS)/libpull.a $(BS)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)
$(BS)/bin/interimap: $(BS)/interimap/main.o $(BS)/libinter.a $(BS)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# Linked without libinih: common/'s IMAP client must not need the
# configuration parser (the config layer fills struct imap_opts), nor
# interimap's synchronisation (libinter.a: the linker takes what a tool
# uses).
TOOL_LIBS := $(filter-out -linih,$(PKG_LIBS))
$(TOOL_BIN): $(B)/t/%: $(B)/t/tools/%.o $(B)/libinter.a $(B)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS)
$(TOOL_SAN): $(BS)/t/%: $(BS)/t/tools/%.o $(BS)/libinter.a $(BS)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(TOOL_LIBS)

units: $(UNIT_BIN) $(TOOL_SAN) $(TOOL_BIN)

# libFuzzer targets (clang), by convention: every t/fuzz/fuzz_NAME.c that has
# a seed corpus directory t/fuzz/corpus/NAME/ is built by `make fuzz` as
# build-fuzz/fuzz_NAME, and make check runs it through t/fuzz/run.sh (corpus
# replay, then FUZZ_SECONDS of random inputs, 10 by default). Extra libFuzzer
# flags for one target (e.g. -max_len=4096) go in t/fuzz/fuzz_NAME.options.
# A new target needs no change here. Targets link build-fuzz/libinter.a and
# libcommon.a, all of interimap/ (but main) and common/ instrumented for the
# fuzzer; the linker pulls in only the objects a target uses. The gcc build is the warning gate: here only -Wall -Wextra,
# without -Werror (clang's -Wformat=2 flags vprintf wrappers that gcc accepts).
FZ         := build-fuzz
FUZZ_NAMES := $(foreach d,$(wildcard t/fuzz/corpus/*/),$(notdir $(d:%/=%)))
FUZZ_NAMES := $(foreach n,$(FUZZ_NAMES),$(if $(wildcard t/fuzz/fuzz_$(n).c),$(n)))
FUZZ_BIN   := $(patsubst %,$(FZ)/fuzz_%,$(FUZZ_NAMES))
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -Icommon -Iinterimap -Wall -Wextra \
              $(PKG_CFLAGS) -g -O1 -fno-omit-frame-pointer -MMD -MP
# Undefined behaviour is a finding, whatever UBSAN_OPTIONS says.
FUZZ_SAN    = address,undefined -fno-sanitize-recover=undefined
$(FZ)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<
$(FZ)/libcommon.a: $(call objs,$(FZ),$(COMMON_SRC))
	@rm -f $@; $(AR) rcs $@ $^
$(FZ)/libinter.a: $(call objs,$(FZ),$(INTER_SRC))
	@rm -f $@; $(AR) rcs $@ $^
$(FZ)/fuzz_%: $(FZ)/t/fuzz/fuzz_%.o $(FZ)/libinter.a $(FZ)/libcommon.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $^ $(PKG_LIBS)
fuzz: $(FUZZ_BIN)
HAVE_CLANG := $(shell command -v clang >/dev/null 2>&1 && echo yes)

# What the tests run, built (make -j2 check-build builds it on 2 cores).
check-build: all units $(BS)/bin/pullimap $(if $(INTERIMAP),$(BS)/bin/interimap) \
    $(if $(HAVE_CLANG),$(FUZZ_BIN))
check: check-build
	@t/run

# The unit tests only (no servers): a few seconds.
unit-check: units
	@t/run $(UNIT_BIN)

demo: all
	@t/demo

# The bench's own timer: see t/bench/measure.c for why it is not Python.
# Static where the C library allows it: as the local tunnel's command it
# starts at every run, and the program that reaps it pays for its start.
$(B)/bench/measure: t/bench/measure.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -static -o $@ $< || \
	    $(CC) -std=c11 -O2 -Wall -Wextra -o $@ $<

bench: all $(B)/bench/measure
	@t/bench/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 pullimap/pullimap $(DESTDIR)$(BINDIR)/pullimap
	install -m 0644 doc/pullimap.1 $(DESTDIR)$(MANDIR)/man1/pullimap.1
	install -m 0644 pullimap.sample $(DESTDIR)$(DOCDIR)/pullimap.sample
	install -m 0755 interimap/interimap $(DESTDIR)$(BINDIR)/interimap
	install -m 0644 doc/interimap.1 $(DESTDIR)$(MANDIR)/man1/interimap.1
	install -m 0644 interimap.sample $(DESTDIR)$(DOCDIR)/interimap.sample
	for u in doc/systemd/pullimap* doc/systemd/interimap*; do \
		[ -e "$$u" ] && sed "s,/usr/local/bin,$(BINDIR)," "$$u" > $(DESTDIR)$(UNITDIR)/$$(basename "$$u"); done; true

hdrcheck:
	@for h in common/*.h pullimap/*.h $(wildcard interimap/*.h); do \
		$(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -fsyntax-only -x c $$h || exit 1; done

clean:
	rm -rf $(B) $(BS) build-fuzz pullimap/pullimap interimap/interimap

.PHONY: all units check check-build unit-check demo bench install hdrcheck fuzz clean
.SECONDARY:

-include $(shell find $(B) $(BS) $(FZ) -name '*.d' 2>/dev/null)
