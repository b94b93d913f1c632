# cdctop - build, test, install. `make demo` and `make check` work from a clean clone on
# Debian 12: both install missing packages first (make deps).
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
PKGS     = ncursesw libmariadb rdkafka jansson

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2
SAN      ?=
CFLAGS  ?=
WARN     = -Wall -Wextra -Werror
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) $(SAN) $(PKG_CFLAGS) -Isrc -Iui -I$(BUILD) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)
LIBS     = $(PKG_LIBS) -lpthread -lm

CORE_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
UI_SRC   := $(wildcard ui/*.c)
SQL      := $(sort $(wildcard sql/*.sql))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/sql_embed.o
UI_OBJ   := $(UI_SRC:%.c=$(BUILD)/%.o)
EXTRA_SRC ?=
EXTRA_OBJ := $(EXTRA_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
TOOL_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))

.PHONY: all deps check check-ui-boundary check-asan check-tsan demo bench chaos fuzz fuzz-build install clean format

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 60

all: $(BUILD)/cdctop $(UNIT_BIN) $(TOOL_BIN)

deps:
	@sh scripts/deps.sh

$(BUILD)/cdctop: $(BUILD)/src/main.o $(UI_OBJ) $(EXTRA_OBJ) $(BUILD)/libcdctop.a
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
	@[ "$(BUILD)" != build ] || ln -sf build/cdctop cdctop

$(BUILD)/libcdctop.a: $(CORE_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

# sql/*.sql are compiled into the binary so an installed cdctop needs no source tree.
$(BUILD)/sql_embed.c: $(SQL) scripts/embed-sql.sh
	@mkdir -p $(BUILD)
	@sh scripts/embed-sql.sh $(SQL) > $@

$(BUILD)/sql_embed.o: $(BUILD)/sql_embed.c
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcdctop.a $(EXTRA_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(EXTRA_OBJ) $(BUILD)/libcdctop.a $(LIBS)

# Test tools (tests/tools/*.c), driven by the shell tests.
$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libcdctop.a $(EXTRA_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(EXTRA_OBJ) $(BUILD)/libcdctop.a $(LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libcdctop.a
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libcdctop.a $(LIBS)

# Every test: the normal build, then the same suite built with ASan+UBSan, then the threaded
# tests (TSAN_TESTS) under ThreadSanitizer; also a warning-free clang build and the fuzzers.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-ui-boundary
	@echo "== clang build (warnings are errors)"
	@$(MAKE) --no-print-directory BUILD=build-clang CC=clang all >/dev/null
	@$(MAKE) --no-print-directory check-asan-build
	@$(MAKE) --no-print-directory fuzz-build
	@$(MAKE) --no-print-directory check-tsan-build
	@BUILDS="build build-asan build-tsan" TSAN_TESTS="$(TSAN_TESTS)" sh tests/run.sh

# ui/ reads the panes' views (src/view.h), never the relay's, the consumer's or a client
# library's types: every ui/ file compiles with ncurses alone, the MariaDB include path left out
# and a stand-in for mysql.h and librdkafka's headers that stops the build naming the include.
UI_BOUNDARY = $(BUILD)/ui-boundary
check-ui-boundary:
	@echo "== ui/ compiles without the MariaDB and librdkafka headers"
	@mkdir -p $(UI_BOUNDARY)/librdkafka
	@for h in mysql.h librdkafka/rdkafka.h librdkafka/rdkafka_mock.h; do \
		echo "#error \"ui/ must not include $$h: read a view from src/view.h\"" \
			> $(UI_BOUNDARY)/$$h; done
	@for f in $(UI_SRC); do $(CC) -std=c11 -D_GNU_SOURCE $(WARN) -fsyntax-only \
		$$(pkg-config --cflags ncursesw) -I$(UI_BOUNDARY) -Isrc -Iui $$f || exit 1; done

check-asan: deps check-asan-build
	@BUILDS="build-asan" sh tests/run.sh

check-asan-build:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all

# The threads under ThreadSanitizer: librdkafka's C11 threads go through tests/tsan/thrd_shim.c.
# TSAN_TESTS picks the tests: every test but two. t_fuzz runs the libFuzzer build, not this
# one. t_ui_kafka quits with every broker gone: TSan builds tear the pipeline down fully, and
# librdkafka 2.0.2's destroy can wait without bound for brokers that are gone (normal and ASan
# builds bound the quit to a second, and run it).
TSAN_TESTS ?= !t_fuzz !t_ui_kafka
check-tsan: deps check-tsan-build
	@BUILDS="build-tsan" TESTS="$(TSAN_TESTS)" sh tests/run.sh

check-tsan-build:
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 SAN="-fsanitize=thread" \
		EXTRA_SRC=tests/tsan/thrd_shim.c all

# libFuzzer targets (clang): the core built with fuzzer instrumentation, one binary per target.
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
		SAN="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libcdctop.a
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
		clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
		-o build-fuzz/$$n $$f build-fuzz/libcdctop.a $(LIBS) || exit 1; done

# Each fuzz target for FUZZ_SECONDS (make check runs them briefly through tests/t_fuzz.sh).
fuzz: deps fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

demo: deps
	@$(MAKE) --no-print-directory all
	./build/cdctop

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@sh bench/run.sh

# The chaos suite at full scale (tests/chaos/run.sh; CHAOS_SEED, CHAOS_SCALE=short, CHAOS_ONLY).
chaos: deps
	@$(MAKE) --no-print-directory all
	@CDCTOP="$(abspath $(BUILD))/cdctop" BUILD_DIR="$(abspath $(BUILD))" sh tests/chaos/run.sh

install: $(BUILD)/cdctop
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/cdctop $(DESTDIR)$(PREFIX)/bin/cdctop
	install -m 644 man/cdctop.1 $(DESTDIR)$(PREFIX)/share/man/man1/cdctop.1

clean:
	rm -rf build build-asan build-clang build-tsan build-fuzz cdctop

format:
	clang-format -i src/*.c src/*.h ui/*.c ui/*.h tests/unit/*.c

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
