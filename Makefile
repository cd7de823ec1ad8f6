# tls_bridge: build, test and run.  `make run` and `make test` do all set-up.
#
# Which Traffic Server the plugin is built for (src/ats/ts_api.h):
#   make                     the installed ATS: 9.2 through tsxs, or, with no
#                            tsxs, a 10.x found by traffic_layout on the PATH
#   make ATS=/opt/ats-10.2.0 the ATS installed under that prefix
# The version comes from the headers (TS_VERSION_MAJOR).  9.2 builds into
# build/ as always; 10.x into build/ats10/ (plus the C++17 shim
# src/ats/ts_api10.cc), so both variants can sit side by side.
# `make e2e ATS=PREFIX` (and e2e-asan) also run the suite on that ATS
# (TB_ATS=PREFIX for tests/e2e/harness.py); `make test` adds the 10.x
# stages when the tree ATS10 (default /opt/ats-10.2.0) is there.

CC        ?= cc
CXX       ?= g++
BUILD     := build
PYTHON    := /usr/bin/python3
ATS       ?=
TSXS      := $(if $(ATS),,$(shell command -v tsxs 2>/dev/null))
LAYOUT_INC = $(shell $(1) info --json 2>/dev/null | sed -n 's/.*"INCLUDEDIR": *"\([^"]*\)".*/\1/p')
ifneq ($(ATS),)
TS_INC    := $(if $(wildcard $(ATS)/include/ts/ts.h),$(ATS)/include,$(call LAYOUT_INC,$(ATS)/bin/traffic_layout))
else ifneq ($(TSXS),)
TS_INC    := $(shell tsxs -q INCLUDEDIR)
else
TS_INC    := $(or $(call LAYOUT_INC,traffic_layout),/usr/include)
endif
ifneq ($(ATS),)
ifeq ($(wildcard $(TS_INC)/ts/ts.h),)
$(error ATS=$(ATS): no Traffic Server headers found (looked for $(ATS)/include/ts/ts.h and traffic_layout))
endif
endif
ATS_MAJOR := $(shell sed -n 's/^\#define TS_VERSION_MAJOR *\([0-9][0-9]*\).*/\1/p' $(TS_INC)/ts/apidefs.h 2>/dev/null)
IS_ATS10  := $(shell [ "0$(ATS_MAJOR)" -ge 10 ] && echo yes)
# The install the e2e suite runs on (tests/e2e/harness.py, AtsInstall):
# unset = Debian's 9.2 packages; the prefix of the ATS selected here
# otherwise (also a 10.x found through traffic_layout on the PATH).
ATS_PREFIX := $(or $(ATS),$(if $(IS_ATS10),$(patsubst %/include,%,$(TS_INC))))
E2E_ENV   := $(if $(ATS_PREFIX),TB_ATS=$(ATS_PREFIX))
# The ATS 10 tree `make test` runs the 10.x stages on when it exists.
ATS10     ?= /opt/ats-10.2.0

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Werror
CORE_CFLAGS := -std=c11 -pedantic -D_POSIX_C_SOURCE=200809L -O2 -g -fPIC $(WARN)
ifeq ($(IS_ATS10),yes)
# The glue sees only ts_api.h's C declarations, never ATS 10's C++ headers;
# the shim is the one file that does.
VBUILD    := $(BUILD)/ats$(ATS_MAJOR)
GLUE_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -fPIC $(WARN) -DTB_ATS_MAJOR=$(ATS_MAJOR) -Isrc/core
SHIM_CXXFLAGS := -std=c++17 -O2 -g -fPIC -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-declarations -Werror \
  -DTB_ATS_MAJOR=$(ATS_MAJOR) -I$(TS_INC) -Isrc/ats
SHIM_OBJ  := $(VBUILD)/ats/ts_api10.o
# C++ objects inside: link as C++ (libstdc++).  The ATS symbols (libtsapi,
# DbgCtl, libswoc) resolve from traffic_server when it loads the plugin.
LINK      := $(CXX)
else
VBUILD    := $(BUILD)
GLUE_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -fPIC $(WARN) -Wno-strict-prototypes -I$(TS_INC) -Isrc/core
SHIM_OBJ  :=
LINK      := $(CC)
endif
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LIBS      := -lpcre2-8 -lyaml

CORE_SRC  := $(wildcard src/core/*.c)
GLUE_SRC  := $(wildcard src/ats/*.c)
CORE_OBJ  := $(patsubst src/core/%.c,$(VBUILD)/core/%.o,$(CORE_SRC))
GLUE_OBJ  := $(patsubst src/ats/%.c,$(VBUILD)/ats/%.o,$(GLUE_SRC))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))

PLUGIN    ?= $(abspath $(VBUILD)/tls_bridge.so)
E2E_ARGS  ?=

.PHONY: all deps ats-info smoke-ats10 build unit e2e e2e-asan test test-ats10 run lint format clean bench bench-quick fuzz fuzz-short fuzz-build soak soak-short valgrind
all: build

deps:
	@scripts/install-deps.sh

# Which ATS `make` would build for, and where.
ats-info:
	@echo "ATS headers: $(TS_INC) (major $(ATS_MAJOR)); plugin: $(VBUILD)/tls_bridge.so"

build: $(VBUILD)/tls_bridge.so

$(VBUILD)/core/%.o: src/core/%.c $(wildcard src/core/*.h)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -c $< -o $@

$(VBUILD)/ats/%.o: src/ats/%.c $(wildcard src/ats/*.h src/core/*.h)
	@mkdir -p $(@D)
	$(CC) $(GLUE_CFLAGS) -c $< -o $@

$(VBUILD)/ats/%.o: src/ats/%.cc src/ats/ts_api.h
	@mkdir -p $(@D)
	$(CXX) $(SHIM_CXXFLAGS) -c $< -o $@

# Link to a temporary name and rename: overwriting a .so in place can crash
# a traffic_server that has it loaded.
$(VBUILD)/tls_bridge.so: $(CORE_OBJ) $(GLUE_OBJ) $(SHIM_OBJ)
	$(LINK) -shared -o $@.tmp $^ $(LIBS)
	mv -f $@.tmp $@

# Unit tests: the core alone, rebuilt with sanitizers, one binary per module.
$(BUILD)/unit/test_%: tests/unit/test_%.c $(CORE_SRC) $(wildcard src/core/*.h tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(WARN) -Wno-missing-prototypes $(SAN) -Isrc/core \
	  -o $@ $< $(CORE_SRC) $(LIBS) -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

# Fuzzing (libFuzzer, clang; docs/reliability.md).  `make fuzz` runs each
# target for FUZZ_SECONDS on a temporary copy of its seed corpus;
# `make fuzz-short` runs each for a fixed, seeded number of inputs and only
# reads the checked-in corpus (new inputs go to a temporary directory).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?= 20000
FUZZ_TARGETS := resp peer args match yaml
FUZZ_BIN     := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc/core

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC) $(wildcard src/core/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRC) $(LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  tmp=$$(mktemp -d); cp tests/fuzz/corpus/$$t/* $$tmp/; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; \
	  $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/$$t- $$tmp > $(BUILD)/fuzz/$$t.log 2>&1 \
	    || { tail -n 40 $(BUILD)/fuzz/$$t.log; rm -rf $$tmp; exit 1; }; \
	  rm -rf $$tmp; \
	  grep -E '^(Done|stat::number_of_executed_units)' $(BUILD)/fuzz/$$t.log; \
	done

fuzz-short: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  tmp=$$(mktemp -d); echo "== fuzz_$$t: $(FUZZ_RUNS) runs"; \
	  $(BUILD)/fuzz/fuzz_$$t -seed=1 -runs=$(FUZZ_RUNS) -artifact_prefix=$(BUILD)/fuzz/$$t- \
	    $$tmp tests/fuzz/corpus/$$t > $(BUILD)/fuzz/$$t-short.log 2>&1 \
	    || { tail -n 40 $(BUILD)/fuzz/$$t-short.log; rm -rf $$tmp; exit 1; }; \
	  rm -rf $$tmp; grep -E '^Done' $(BUILD)/fuzz/$$t-short.log; \
	done

# The e2e suite against a build of the plugin with AddressSanitizer and
# UBSan, their runtimes preloaded into traffic_server (9.2's or, with
# ATS=PREFIX, 10.x's).  For 10.x the glue is C as always (ts_api.h's C view,
# -DTB_ATS_MAJOR) and the shim C++17 with g++, both instrumented.
ASAN_PLUGIN := $(VBUILD)/asan/tls_bridge.so
ifeq ($(IS_ATS10),yes)
ASAN_SHIM   := $(VBUILD)/asan/ts_api10.o
ASAN_GLUE   := -DTB_ATS_MAJOR=$(ATS_MAJOR)
$(ASAN_SHIM): src/ats/ts_api10.cc src/ats/ts_api.h
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O1 -g -fPIC $(SAN) -DTB_ATS_MAJOR=$(ATS_MAJOR) -I$(TS_INC) -Isrc/ats -c $< -o $@
else
ASAN_SHIM   :=
ASAN_GLUE   := -I$(TS_INC)
endif
$(ASAN_PLUGIN): $(CORE_SRC) $(GLUE_SRC) $(ASAN_SHIM) $(wildcard src/core/*.h src/ats/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g -fPIC -shared $(SAN) $(ASAN_GLUE) -Isrc/core -o $@.tmp \
	  $(CORE_SRC) $(GLUE_SRC) $(ASAN_SHIM) $(LIBS) $(if $(ASAN_SHIM),-lstdc++)
	mv -f $@.tmp $@

e2e-asan: $(ASAN_PLUGIN)
	$(E2E_ENV) TB_ATS_LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  TB_PLUGIN=$(abspath $(ASAN_PLUGIN)) $(PYTHON) -m pytest -p no:cacheprovider tests/e2e $(E2E_ARGS)

e2e: build
	$(E2E_ENV) TB_PLUGIN=$(PLUGIN) $(PYTHON) -m pytest -p no:cacheprovider tests/e2e $(E2E_ARGS)

test: deps
	$(MAKE) lint
	$(MAKE) build unit fuzz-short valgrind
	$(MAKE) e2e
	$(MAKE) e2e-asan
	$(MAKE) soak-short
	$(MAKE) test-ats10

# The 10.x stages of `make test`: the plugin built for the ATS 10 tree in
# ATS10 (default /opt/ats-10.2.0; .ci/run unpacks it there) and the e2e
# suite on it, plain and under ASan (about 5 minutes each here; the times
# of every stage are in tests/e2e/README.md).  Both run even if the first
# fails.  Without the tree: a note, not a failure.
test-ats10:
	@if [ -x "$(ATS10)/bin/traffic_server" ] && [ -f "$(ATS10)/include/ts/ts.h" ]; then \
	  rc=0; $(MAKE) e2e ATS=$(ATS10) || rc=1; $(MAKE) e2e-asan ATS=$(ATS10) || rc=1; exit $$rc; \
	else \
	  echo "test-ats10: skipped: no ATS 10 tree at $(ATS10) (unpack ../shared/ats/trafficserver-10.2.0-debian12-amd64.tar.xz into /opt, as .ci/run does, or pass ATS10=PREFIX)"; \
	fi

# The ATS 10.x smoke (tests/e2e/ats10_smoke.py) against the 10.x build:
# make smoke-ats10 ATS=/opt/ats-10.2.0
smoke-ats10: build
	@[ "$(IS_ATS10)" = yes ] || { echo "smoke-ats10: needs an ATS 10.x (make smoke-ats10 ATS=PREFIX)"; exit 1; }
	$(E2E_ENV) $(PYTHON) tests/e2e/ats10_smoke.py --plugin $(PLUGIN)

run: deps
	$(MAKE) build
	$(E2E_ENV) $(PYTHON) scripts/run.py --plugin $(PLUGIN)

# Benchmark: ours vs the reference tls_bridge.so vs Squid (docs/benchmarks.md).
# Not part of `make test`.  bench-quick: every row, small sizes, ~2 minutes.
bench: deps
	@bench/install-deps.sh
	$(MAKE) build
	BENCH_COMMAND="make bench" $(PYTHON) bench/bench.py

bench-quick: deps
	@bench/install-deps.sh
	$(MAKE) build
	BENCH_COMMAND="make bench-quick" $(PYTHON) bench/bench.py --quick

# Soak (tests/soak/soak.py; what it checks is in its header): a real peer
# and ingress, 100,000 tunnels (echo, aborted set-ups, bulk transfers
# checked byte for byte, SOAK_CONCURRENCY open at once), then the ingress's
# descriptors and RSS against a baseline; summary in build/soak.json.
# About 8 minutes here; `make soak SOAK_TUNNELS=2000` for a quick run,
# SOAK_ARGS for other options (--help).  `make test` runs soak-short.
SOAK_TUNNELS     ?= 100000
SOAK_CONCURRENCY ?= 2000
SOAK_ARGS        ?=
soak: deps
	$(MAKE) build
	$(E2E_ENV) $(PYTHON) tests/soak/soak.py --plugin $(PLUGIN) --tunnels $(SOAK_TUNNELS) \
	  --concurrency $(SOAK_CONCURRENCY) --json $(VBUILD)/soak.json $(SOAK_ARGS)

# The short form CI runs (part of `make test`, about 2 minutes): the same
# checks on 2,000 tunnels, 500 open at once.
soak-short: build
	$(E2E_ENV) $(PYTHON) tests/soak/soak.py --plugin $(PLUGIN) --tunnels 2000 --concurrency 500 \
	  --json $(VBUILD)/soak-short.json

# The unit tests under valgrind memcheck, built without sanitizers (they do
# not mix with valgrind) into build/valgrind/.  No suppression file: PCRE2's
# JIT code (tb_index) gave no report with valgrind 3.19.  Part of
# `make test` (about 40 s).
VALGRIND := valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=1
VG_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/valgrind/%,$(UNIT_SRC))

$(BUILD)/valgrind/test_%: tests/unit/test_%.c $(CORE_SRC) $(wildcard src/core/*.h tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(WARN) -Wno-missing-prototypes -Isrc/core \
	  -o $@ $< $(CORE_SRC) $(LIBS) -lcmocka

valgrind: deps
	@scripts/install-deps.sh valgrind
	$(MAKE) $(VG_BIN)
	@set -e; for t in $(VG_BIN); do echo "== valgrind $$t"; $(VALGRIND) $$t; done

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -Isrc/core src/core src/ats
	clang-tidy --quiet $(CORE_SRC) -- -std=c11 -D_POSIX_C_SOURCE=200809L -Isrc/core
	clang-tidy --quiet $(GLUE_SRC) -- -std=c11 -D_GNU_SOURCE -I$(TS_INC) -Isrc/core
	@# The glue as built for ATS 10 (ts_api.h's C view: needs no ATS 10 headers).
	clang-tidy --quiet $(GLUE_SRC) -- -std=c11 -D_GNU_SOURCE -DTB_ATS_MAJOR=10 -Isrc/core
	clang-format --dry-run --Werror src/core/*.[ch] src/ats/*.[ch] src/ats/*.cc tests/unit/*.[ch]

format:
	clang-format -i src/core/*.[ch] src/ats/*.[ch] src/ats/*.cc tests/unit/*.[ch]

clean:
	rm -rf $(BUILD)
