# btdownload: one non-recursive GNU Makefile.
#
#   make            build every program into the top directory
#   make check      build and run every unit test, then the end-to-end tests
#   make asan       the same under AddressSanitizer + UBSan (objects in build/asan)
#   make demo       a seeder and a leecher on loopback, live progress, bytes checked
#   make valgrind   one seeder -> leecher transfer under valgrind --leak-check=full
#   make fuzz       libFuzzer targets into build/fuzz/ (run: bash fuzz/run.sh)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# Sources are found by wildcard so that a new module needs no Makefile edit:
# every src/*.c that is not a program's main() goes into build/libbt.a, and
# every tests/test_*.c becomes one test executable linked against it.  V=1
# shows the full commands.

PREFIX  ?= /usr/local
DESTDIR ?=
O       ?= build
BINDIR  ?= .

CRYPTO_CFLAGS := $(shell pkg-config --cflags libcrypto 2>/dev/null)
CRYPTO_LIBS   := $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)

WARN = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
       -Wshadow -Wpointer-arith -Wcast-qual -Wsign-compare
CFLAGS  ?= -O2 -g
SANFLAGS ?=
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -Iinclude \
	     $(CRYPTO_CFLAGS) $(CFLAGS) $(SANFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LDLIBS += $(CRYPTO_LIBS) -lm

ALL_PROGS = btdownload btmakemetafile btshowmetainfo btlaunchmany
PROG_SRCS = $(ALL_PROGS:%=src/%.c)
PROGS     = $(patsubst src/%.c,%,$(wildcard $(PROG_SRCS)))
bin       = $(if $(filter .,$(BINDIR)),$(1),$(BINDIR)/$(1))
PROG_BINS = $(foreach p,$(PROGS),$(call bin,$(p)))
LIB_SRCS  = $(filter-out $(PROG_SRCS),$(sort $(wildcard src/*.c)))
LIB_OBJS  = $(LIB_SRCS:src/%.c=$(O)/%.o)
LIB       = $(O)/libbt.a

TEST_SRCS = $(sort $(wildcard tests/test_*.c))
TEST_BINS = $(TEST_SRCS:tests/%.c=$(O)/tests/%)
FAKE_SRCS = $(sort $(wildcard tests/fake_*.c))
FAKE_OBJS = $(FAKE_SRCS:tests/%.c=$(O)/tests/%.o)
E2E       = $(filter-out tests/e2e/lib.sh,$(sort $(wildcard tests/e2e/*.sh)))
SHIM      = $(O)/tests/fault_shim.so
MANS      = $(sort $(wildcard man/*.1))

ifeq ($(V),1)
Q =
say = @true
else
Q = @
say = @printf '  %-6s %s\n'
endif

.PHONY: all check unit e2e asan demo bench install clean fuzz valgrind
all: $(PROG_BINS)

$(O)/%.o: src/%.c
	$(say) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/tests/%.o: tests/%.c
	$(say) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -c -o $@ $<

$(LIB): $(LIB_OBJS)
	$(say) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

define prog_rule
$(call bin,$(1)): $(O)/$(1).o $(LIB)
	$$(say) LD $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(ALL_LDFLAGS) -o $$@ $$< $$(LIB) $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

$(O)/tests/test_%: $(O)/tests/test_%.o $(FAKE_OBJS) $(LIB)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(FAKE_OBJS) $(LIB) $(LDLIBS)

# Unit tests first (fast, precise), then the end-to-end scripts, which run
# the real binaries on loopback.  Every test runs even after a failure; the
# target fails if any did.  TESTS=bencode limits the unit run to one module,
# E2E=tests/e2e/x.sh the end-to-end run to one script.
check: unit
	@$(MAKE) --no-print-directory e2e

unit: $(TEST_BINS)
	@fail=0; for t in $(if $(TESTS),$(TESTS:%=$(O)/tests/test_%),$(TEST_BINS)); do \
		echo "== $$t"; $$t || { echo "FAILED: $$t"; fail=1; }; \
	done; exit $$fail

e2e: all $(SHIM)
	@fail=0; for s in $(E2E); do \
		echo "== $$s"; BINDIR=$(abspath $(BINDIR)) FAULT_SHIM=$(abspath $(SHIM)) \
			bash $$s || { echo "FAILED: $$s"; fail=1; }; \
	done; exit $$fail

# The LD_PRELOAD library that fails file writes for tests/e2e/diskfull.sh.
# Built without sanitizers: under `make asan` the script preloads libasan
# ahead of it.
$(SHIM): tests/fault_shim.c
	$(say) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(WARN) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

valgrind: all
	@BINDIR=$(abspath $(BINDIR)) bash tests/e2e/valgrind.sh

asan:
	$(MAKE) O=build/asan BINDIR=build/asan \
		CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		check

# libFuzzer targets: each fuzz/fuzz_*.c linked with -fsanitize=fuzzer
# against the library sources built again by clang with ASan, UBSan and
# coverage (fuzzer-no-link), never against the programs' main().
# -Wformat=2 makes any printf-family call with a non-literal format an error.
FUZZ_CC    ?= clang
FUZZ_O      = build/fuzz
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -Wformat=2 -Iinclude \
	      $(CRYPTO_CFLAGS) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -MMD -MP
FUZZ_SRCS   = $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS   = $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_O)/%)
FUZZ_OBJS   = $(LIB_SRCS:src/%.c=$(FUZZ_O)/obj/%.o)

fuzz: $(FUZZ_BINS)

$(FUZZ_O)/obj/%.o: src/%.c
	$(say) FUZZCC $@
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_O)/libbt.a: $(FUZZ_OBJS)
	$(say) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_O)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_O)/libbt.a
	$(say) FUZZLD $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_O)/libbt.a $(LDLIBS)

demo: all
	@bash tests/demo.sh

bench: all
	@bash bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(PROG_BINS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MANS),install -m 644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1/)

clean:
	rm -rf build $(ALL_PROGS)

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)
-include $(LIB_OBJS:.o=.d) $(PROGS:%=$(O)/%.d) $(TEST_SRCS:tests/%.c=$(O)/tests/%.d) $(FAKE_OBJS:.o=.d)

.SECONDARY:
