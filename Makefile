# tls_bridge: build, test and run.  `make run` and `make test` do all set-up.
#
# Which Traffic Server the plugin is built for (src/ats/ts_api.h):
#   make                     the installed ATS: 9.2 through tsxs, or, with no
#                            tsxs, a 10.x found by traffic_layout on the PATH
#   make ATS=/opt/ats-10.2.0 the ATS installed under that prefix
# The version comes from the headers (TS_VERSION_MAJOR).  9.2 builds into
# build/ as always; 10.x into build/ats10/ (plus the C++17 shim
# src/ats/ts_api10.cc), so both variants can sit side by side.
#
# The plugin's own version is the VERSION file, the one place it is written
# (the glue gets it as TB_VERSION; debian/changelog must agree, make deb
# checks).  CPPFLAGS, CFLAGS, CXXFLAGS and LDFLAGS from the environment are
# added to ours (dpkg-buildflags' hardening flags in the Debian build).
# `make e2e ATS=PREFIX` (and e2e-asan) also run the suite on that ATS
# (TB_ATS=PREFIX for tests/e2e/harness.py); `make test` adds the 10.x
# stages when the tree ATS10 (default /opt/ats-10.2.0) is there.

CC        ?= cc
CXX       ?= g++
BUILD     := build
PYTHON    := /usr/bin/python3
ATS       ?=
VERSION   := $(shell cat VERSION)
VERSION_DEF := -DTB_VERSION=\"$(VERSION)\"
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
# `make e2e ENGINE=direct`: every ingress of ours on the direct engine
# (TB_ENGINE for the harness; unset = the configurations as written).
ENGINE    ?=
E2E_ENV   := $(if $(ATS_PREFIX),TB_ATS=$(ATS_PREFIX)) $(if $(ENGINE),TB_ENGINE=$(ENGINE))
# The ATS 10 tree `make test` runs the 10.x stages on when it exists.
ATS10     ?= /opt/ats-10.2.0

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Werror
CORE_CFLAGS := -std=c11 -pedantic -D_POSIX_C_SOURCE=200809L -O2 -g -fPIC $(WARN)
ifeq ($(IS_ATS10),yes)
# The glue sees only ts_api.h's C declarations, never ATS 10's C++ headers;
# the shim is the one file that does.
VBUILD    := $(BUILD)/ats$(ATS_MAJOR)
GLUE_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -fPIC $(WARN) -DTB_ATS_MAJOR=$(ATS_MAJOR) $(VERSION_DEF) -Isrc/core
SHIM_CXXFLAGS := -std=c++17 -O2 -g -fPIC -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-declarations -Werror \
  -DTB_ATS_MAJOR=$(ATS_MAJOR) $(VERSION_DEF) -I$(TS_INC) -Isrc/ats
SHIM_OBJ  := $(VBUILD)/ats/ts_api10.o
# C++ objects inside: link as C++ (libstdc++).  The ATS symbols (libtsapi,
# DbgCtl, libswoc) resolve from traffic_server when it loads the plugin.
LINK      := $(CXX)
else
VBUILD    := $(BUILD)
GLUE_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -fPIC $(WARN) -Wno-strict-prototypes $(VERSION_DEF) -I$(TS_INC) -Isrc/core
SHIM_OBJ  :=
LINK      := $(CC)
endif
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# OpenSSL: the shared libssl3/libcrypto3 that traffic_server itself loads
# (9.2 and 10.2), never a static copy.  tb_tls is the direct engine's TLS
# client; tb_certnames reads client certificates (the peer role), whose
# glue takes the connection's certificate from libssl.
LIBS      := -lpcre2-8 -lyaml -lssl -lcrypto

CORE_SRC  := $(wildcard src/core/*.c)
GLUE_SRC  := $(wildcard src/ats/*.c)
CORE_OBJ  := $(patsubst src/core/%.c,$(VBUILD)/core/%.o,$(CORE_SRC))
GLUE_OBJ  := $(patsubst src/ats/%.c,$(VBUILD)/ats/%.o,$(GLUE_SRC))
CHECK_SRC := $(wildcard src/check/*.c)
CHECK_OBJ := $(patsubst src/check/%.c,$(BUILD)/check/%.o,$(CHECK_SRC))
CHECK_BIN := $(BUILD)/tls_bridge_check
CHECK_FMT := $(wildcard src/check/*.[ch])
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))

PLUGIN    ?= $(abspath $(VBUILD)/tls_bridge.so)
E2E_ARGS  ?=

.PHONY: all deps ats-info smoke-ats10 build unit check-tool e2e e2e-asan test test-ats10 test-direct run lint format clean bench bench-quick bench-authz fuzz fuzz-short fuzz-build fuzz-corpus fuzz-corpus-tls soak soak-short soak-upload valgrind install uninstall deb test-pkg
all: build

deps:
	@scripts/install-deps.sh

# Which ATS `make` would build for, and where.
ats-info:
	@echo "ATS headers: $(TS_INC) (major $(ATS_MAJOR)); plugin: $(VBUILD)/tls_bridge.so"

build: $(VBUILD)/tls_bridge.so $(CHECK_BIN)

$(VBUILD)/core/%.o: src/core/%.c $(wildcard src/core/*.h)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(VBUILD)/ats/%.o: src/ats/%.c $(wildcard src/ats/*.h src/core/*.h) VERSION
	@mkdir -p $(@D)
	$(CC) $(GLUE_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(VBUILD)/ats/%.o: src/ats/%.cc src/ats/ts_api.h VERSION
	@mkdir -p $(@D)
	$(CXX) $(SHIM_CXXFLAGS) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

# Link to a temporary name and rename: overwriting a .so in place can crash
# a traffic_server that has it loaded.
$(VBUILD)/tls_bridge.so: $(CORE_OBJ) $(GLUE_OBJ) $(SHIM_OBJ)
	$(LINK) -shared $(LDFLAGS) -o $@.tmp $^ $(LIBS)
	mv -f $@.tmp $@

# tls_bridge_check (docs/tls_bridge_check.md): the core and one main, no
# Traffic Server; the core's flags and warnings.
$(BUILD)/check/%.o: src/check/%.c $(wildcard src/check/*.h src/core/*.h)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) $(CPPFLAGS) $(CFLAGS) -Isrc/core -c $< -o $@

$(CHECK_BIN): $(CHECK_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The checker's tests (tests/check/) run the built binary, then the same
# tests run a build with AddressSanitizer and UBSan.
ASAN_CHECK := $(BUILD)/asan/tls_bridge_check
$(ASAN_CHECK): $(CHECK_SRC) $(CORE_SRC) $(wildcard src/check/*.h src/core/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(WARN) $(SAN) -Isrc/core -o $@ $(CHECK_SRC) $(CORE_SRC) $(LIBS)

check-tool: $(CHECK_BIN) $(ASAN_CHECK)
	TB_CHECK=$(abspath $(CHECK_BIN)) $(PYTHON) -m pytest -p no:cacheprovider -q tests/check
	TB_CHECK=$(abspath $(ASAN_CHECK)) ASAN_OPTIONS=detect_leaks=1 $(PYTHON) -m pytest -p no:cacheprovider -q tests/check

# Install (docs/packaging.md).  `make install [DESTDIR=...] [PREFIX=/usr/local]`:
#   the plugin        $(MODULEDIR)/tls_bridge_ng.so: the ATS modules directory
#                     (tsxs -q LIBEXECDIR; for ATS=PREFIX or without tsxs,
#                     traffic_layout's PLUGINDIR), not under PREFIX, since that is where
#                     ATS looks; named _ng so that it never replaces the
#                     reference tls_bridge.so that Debian's
#                     trafficserver-experimental-plugins owns
#   the checker       $(BINDIR)/tls_bridge_check, its man page in $(MANDIR)/man1
#   docs, examples    $(DOCDIR)/ (README.md, LICENSE, docs/, examples/)
# install(1) unlinks an existing file before writing it, so a running
# traffic_server keeps the copy it has mapped.  `make uninstall` with the
# same variables removes exactly these files.
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/tls-bridge
LAYOUT_VAR = $(shell $(1) info --json 2>/dev/null | sed -n 's/.*"$(2)": *"\([^"]*\)".*/\1/p')
MODULEDIR ?= $(if $(ATS),$(call LAYOUT_VAR,$(ATS)/bin/traffic_layout,PLUGINDIR),$(if $(TSXS),$(shell tsxs -q LIBEXECDIR),$(call LAYOUT_VAR,traffic_layout,PLUGINDIR)))
INSTALL   ?= install
INSTALLED_PLUGIN := tls_bridge_ng.so
CHECK_MAN := man/tls_bridge_check.1
DOC_FILES := README.md LICENSE
DOCS_DIR_FILES := $(wildcard docs/*.md docs/*.png)
EXAMPLE_FILES := examples/README.md $(wildcard examples/ingress/* examples/peer/*)

install: build
	@[ -n "$(MODULEDIR)" ] || { echo "install: no ATS modules directory (no tsxs or traffic_layout): pass MODULEDIR=..."; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(MODULEDIR)
	$(INSTALL) -m 0644 $(VBUILD)/tls_bridge.so $(DESTDIR)$(MODULEDIR)/$(INSTALLED_PLUGIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0755 $(CHECK_BIN) $(DESTDIR)$(BINDIR)/tls_bridge_check
	sed 's/@VERSION@/$(VERSION)/g' $(CHECK_MAN) > $(DESTDIR)$(MANDIR)/man1/tls_bridge_check.1
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/tls_bridge_check.1
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR)/examples/ingress $(DESTDIR)$(DOCDIR)/examples/peer
	$(INSTALL) -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 $(DOCS_DIR_FILES) $(DESTDIR)$(DOCDIR)/docs/
	@set -e; for f in $(EXAMPLE_FILES); do \
	  $(INSTALL) -m 0644 $$f $(DESTDIR)$(DOCDIR)/$$f; done
	@echo "installed $(VERSION): $(DESTDIR)$(MODULEDIR)/$(INSTALLED_PLUGIN); in plugin.config: $(INSTALLED_PLUGIN) --config tls_bridge.yaml"

uninstall:
	@[ -n "$(MODULEDIR)" ] || { echo "uninstall: no ATS modules directory (no tsxs or traffic_layout): pass MODULEDIR=..."; exit 1; }
	rm -f $(DESTDIR)$(MODULEDIR)/$(INSTALLED_PLUGIN) $(DESTDIR)$(BINDIR)/tls_bridge_check \
	  $(DESTDIR)$(MANDIR)/man1/tls_bridge_check.1
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(DOC_FILES) $(DOCS_DIR_FILES) $(EXAMPLE_FILES))
	-rmdir $(DESTDIR)$(DOCDIR)/examples/ingress $(DESTDIR)$(DOCDIR)/examples/peer \
	  $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR) 2>/dev/null

# The Debian package (docs/packaging.md): installs the packaging tools if
# missing, builds with dpkg-buildpackage in a copy of the tree under
# build/deb/ (the working tree stays clean), runs lintian; the .deb lands in
# build/deb/.  `make test-pkg` checks `make install` (no ATS needed).
deb:
	@scripts/make-deb.sh

test-pkg:
	$(PYTHON) -m pytest -p no:cacheprovider tests/pkg

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
FUZZ_TARGETS := resp peer args match yaml reference template tls certnames policy
FUZZ_BIN     := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc/core

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC) $(wildcard src/core/*.h tests/fuzz/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRC) $(LIBS)

fuzz-build: $(FUZZ_BIN)

# fuzz_certnames' seed corpus: DER certificates made with the unit tests'
# generator (tests/unit/tb_certgen.h; throwaway keys, never stored).  The
# output is checked in; rerun only to change what it holds.
$(BUILD)/make_certnames_corpus: tests/fuzz/make_certnames_corpus.c tests/unit/tb_certgen.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(WARN) -Wno-missing-prototypes -Itests/unit -o $@ $< -lcrypto

fuzz-corpus: $(BUILD)/make_certnames_corpus
	$(BUILD)/make_certnames_corpus tests/fuzz/corpus/certnames

# fuzz_tls's seeds: what real OpenSSL servers send to its fixed client
# (tests/fuzz/gen_tls_corpus.c), each replayed once written.  Not part of
# `make test`; the corpus is checked in.  The files differ from run to run
# only inside the session tickets (they carry the time).
fuzz-corpus-tls:
	@mkdir -p $(BUILD)/fuzz tests/fuzz/corpus/tls
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(WARN) -Isrc/core -o $(BUILD)/fuzz/gen_tls_corpus \
	  tests/fuzz/gen_tls_corpus.c $(CORE_SRC) $(LIBS)
	$(BUILD)/fuzz/gen_tls_corpus tests/fuzz/corpus/tls

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
	$(CXX) -std=c++17 -O1 -g -fPIC $(SAN) $(VERSION_DEF) -DTB_ATS_MAJOR=$(ATS_MAJOR) -I$(TS_INC) -Isrc/ats -c $< -o $@
else
ASAN_SHIM   :=
ASAN_GLUE   := -I$(TS_INC)
endif
$(ASAN_PLUGIN): $(CORE_SRC) $(GLUE_SRC) $(ASAN_SHIM) $(wildcard src/core/*.h src/ats/*.h) VERSION
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g -fPIC -shared $(SAN) $(VERSION_DEF) $(ASAN_GLUE) -Isrc/core -o $@.tmp \
	  $(CORE_SRC) $(GLUE_SRC) $(ASAN_SHIM) $(LIBS) $(if $(ASAN_SHIM),-lstdc++)
	mv -f $@.tmp $@

e2e-asan: $(ASAN_PLUGIN)
	$(E2E_ENV) TB_ATS_LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  TB_PLUGIN=$(abspath $(ASAN_PLUGIN)) $(PYTHON) -m pytest -p no:cacheprovider $(E2E_PATHS) $(E2E_ARGS)

# E2E_ARGS naming test files (tests/...) runs those; otherwise the whole suite.
E2E_PATHS = $(if $(findstring tests/,$(E2E_ARGS)),,tests/e2e)

e2e: build
	$(E2E_ENV) TB_PLUGIN=$(PLUGIN) $(PYTHON) -m pytest -p no:cacheprovider $(E2E_PATHS) $(E2E_ARGS)

# deb before e2e: with a fresh package in build/deb, the e2e suite's
# test_package.py installs it, runs it and purges it (make deb 20-55 s,
# the package test under 10 s here; docs/packaging.md).
test: deps
	$(MAKE) lint
	$(MAKE) build unit check-tool fuzz-short valgrind test-pkg
	$(MAKE) deb
	$(MAKE) e2e
	$(MAKE) e2e-asan
	$(MAKE) test-direct
	$(MAKE) soak-short
	$(MAKE) test-ats10

# The direct engine's stages of `make test` (issue 14): the whole suite with
# every ingress of ours on it (but the files TB_ENGINE does not touch: the
# bad-configuration cases and the sample configurations, which name their
# own arguments), the files that drive its link hardest under ASan, and the
# short soak.  On 10.x test-ats10 runs DIRECT_TESTS_10.
DIRECT_E2E_ARGS   := tests/e2e --ignore=tests/e2e/test_config.py --ignore=tests/e2e/test_examples.py
DIRECT_ASAN_TESTS := tests/e2e/test_direct.py tests/e2e/test_transfer.py tests/e2e/test_tunnel.py \
  tests/e2e/test_faults.py tests/e2e/test_pool.py
DIRECT_TESTS_10   := tests/e2e/test_direct.py tests/e2e/test_transfer.py tests/e2e/test_tunnel.py \
  tests/e2e/test_failure_log.py tests/e2e/test_pool.py
test-direct:
	rc=0; $(MAKE) e2e ENGINE=direct E2E_ARGS="$(DIRECT_E2E_ARGS)" || rc=1; \
	$(MAKE) e2e-asan ENGINE=direct E2E_ARGS="$(DIRECT_ASAN_TESTS)" || rc=1; \
	$(MAKE) soak-short ENGINE=direct || rc=1; exit $$rc

# The 10.x stages of `make test`: the plugin built for the ATS 10 tree in
# ATS10 (default /opt/ats-10.2.0; .ci/run unpacks it there), the e2e suite
# on it, the files that go through the 10.x shim most under ASan
# (ASAN_TESTS_10: the whole suite under ASan runs on 9.2, and the C code is
# the same), and a part of the suite on the direct engine (the times of
# every stage are in tests/e2e/README.md).  All run even if one fails.
# Without the tree: a note, not a failure.
ASAN_TESTS_10     := tests/e2e/test_tunnel.py tests/e2e/test_faults.py tests/e2e/test_robustness.py \
  tests/e2e/test_reload.py tests/e2e/test_authz.py
test-ats10:
	@if [ -x "$(ATS10)/bin/traffic_server" ] && [ -f "$(ATS10)/include/ts/ts.h" ]; then \
	  rc=0; $(MAKE) e2e ATS=$(ATS10) || rc=1; $(MAKE) e2e-asan ATS=$(ATS10) E2E_ARGS="$(ASAN_TESTS_10)" || rc=1; \
	  $(MAKE) e2e ATS=$(ATS10) ENGINE=direct E2E_ARGS="$(DIRECT_TESTS_10)" || rc=1; exit $$rc; \
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

# Benchmark: ours on the ats and on the direct engine vs the reference
# tls_bridge.so vs Squid (docs/benchmarks.md).
# Not part of `make test`.  bench-quick: every row, small sizes, ~5 minutes.
# With ATS=PREFIX (an ATS 10.x install) every Traffic Server of the bench is
# that one (TB_ATS, as for make e2e), ours is the 10.x build and the
# reference that install's tls_bridge.so; the results go to
# bench/results/latest-ats10.json and the "On ATS 10.2" section of
# docs/benchmarks.md, so the 9.2 figures stay.  BENCH_OURS=PATH benchmarks
# another build of ours (e.g. an older commit's) against the same reference.
bench: deps
	@bench/install-deps.sh
	$(MAKE) build
	$(E2E_ENV) BENCH_COMMAND="make bench$(if $(ATS), ATS=$(ATS))" $(PYTHON) bench/bench.py
	$(MAKE) bench-authz AUTHZ_BENCH_COMMAND="make bench$(if $(ATS), ATS=$(ATS))"

bench-quick: deps
	@bench/install-deps.sh
	$(MAKE) build
	$(E2E_ENV) BENCH_COMMAND="make bench-quick$(if $(ATS), ATS=$(ATS))" $(PYTHON) bench/bench.py --quick
	$(MAKE) bench-authz AUTHZ_BENCH_ARGS="--rounds 5 --per-round 50 --warmup 20" \
	  AUTHZ_BENCH_COMMAND="make bench-quick$(if $(ATS), ATS=$(ATS))"

# Set-up latency at a peer in the peer role, a policy of 1 and of 1,000
# entries against a peer without the plugin (bench/authz_latency.py, issue
# 13): part of bench and bench-quick, or alone.  Rewrites the "Peer role:
# set-up latency" section of docs/benchmarks.md (the ATS 10.x one with
# ATS=PREFIX) and writes build/[ats10/]bench-authz.json.
AUTHZ_BENCH_ARGS    ?=
AUTHZ_BENCH_COMMAND ?= make bench-authz$(if $(ATS), ATS=$(ATS))$(if $(AUTHZ_BENCH_ARGS), AUTHZ_BENCH_ARGS="$(AUTHZ_BENCH_ARGS)")
bench-authz: build
	$(E2E_ENV) BENCH_COMMAND='$(AUTHZ_BENCH_COMMAND)' nice -n 10 $(PYTHON) bench/authz_latency.py $(AUTHZ_BENCH_ARGS)

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
	  --json $(VBUILD)/soak-short$(if $(ENGINE),-$(ENGINE)).json

# The soak's upload case alone, many times over, with evidence from every hop
# for each upload whose answer does not arrive (tests/soak/upload_repro.py;
# docs/reliability.md, "Soak: the lost upload answer").  Not part of
# `make test`: 41,000 uploads, about 12 minutes here.  UPLOAD_PHASES is
# 'in-flight:count,...'; UPLOAD_ARGS passes other options (--help), e.g.
# '--background 2000 --background-mix echo=72,abort=20,bulk=8' for the
# soak's own traffic around the uploads.
UPLOAD_PHASES ?= 1:1000,50:20000,500:20000
UPLOAD_ARGS   ?=
soak-upload: build
	nice -n 10 $(PYTHON) tests/soak/upload_repro.py --plugin $(PLUGIN) --phases $(UPLOAD_PHASES) \
	  --json $(BUILD)/soak-upload.json $(UPLOAD_ARGS)

# The unit tests under valgrind memcheck, built without sanitizers (they do
# not mix with valgrind) into build/valgrind/.  No suppression file: PCRE2's
# JIT code (tb_index) gave no report with valgrind 3.19.  Part of
# `make test` (about 40 s).
VALGRIND := valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=1
VG_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/valgrind/%,$(UNIT_SRC))

$(BUILD)/valgrind/test_%: tests/unit/test_%.c $(CORE_SRC) $(wildcard src/core/*.h tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(WARN) -Wno-missing-prototypes -DTB_VALGRIND -Isrc/core \
	  -o $@ $< $(CORE_SRC) $(LIBS) -lcmocka

valgrind: deps
	@scripts/install-deps.sh valgrind
	$(MAKE) $(VG_BIN)
	@set -e; for t in $(VG_BIN); do echo "== valgrind $$t"; $(VALGRIND) $$t; done

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -Isrc/core src/core src/ats src/check
	clang-tidy --quiet $(CORE_SRC) $(CHECK_SRC) -- -std=c11 -D_POSIX_C_SOURCE=200809L -Isrc/core
	clang-tidy --quiet $(GLUE_SRC) -- -std=c11 -D_GNU_SOURCE $(VERSION_DEF) -I$(TS_INC) -Isrc/core
	@# The glue as built for ATS 10 (ts_api.h's C view: needs no ATS 10 headers).
	clang-tidy --quiet $(GLUE_SRC) -- -std=c11 -D_GNU_SOURCE -DTB_ATS_MAJOR=10 $(VERSION_DEF) -Isrc/core
	clang-format --dry-run --Werror src/core/*.[ch] src/ats/*.[ch] src/ats/*.cc $(CHECK_FMT) tests/unit/*.[ch]

format:
	clang-format -i src/core/*.[ch] src/ats/*.[ch] src/ats/*.cc $(CHECK_FMT) tests/unit/*.[ch]

clean:
	rm -rf $(BUILD)
