# nudged — plain GNU make.  See README.md.
#
#   make            build build/nudged and build/nudgectl
#   make check      unit tests, then the integration suite against an
#                   -fsanitize=address,undefined build (any report fails)
#   make demo       a local end-to-end run with a catcher SMTP server
#   make deps       install missing Debian packages (or print the command)
#   make install    PREFIX, DESTDIR, SYSCONFDIR honoured; never overwrites a config
#   make bench      nudged vs a naive peer vs the machine's limits (tests/bench/);
#                   installs its own tools (make bench-deps: Postfix, nginx, wrk)
#   make fuzz       libFuzzer targets (tests/fuzz), FUZZ_TIME seconds each
#   make fuzz-replay  run every fuzz target over its seed corpus (in check)
#   make layers     includes and calls only point down src/'s layers, and no
#                   function runs over 60 lines without a reason (in check)
#   make lint       cppcheck and clang-tidy (.clang-tidy) over src/ (in check)
#   SANITIZE=1      build into build-asan/ with ASan and UBSan

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= /lib/systemd/system
DESTDIR    ?=
PYTHON     ?= /usr/bin/python3
# Integration tests mostly wait on servers and clocks: run them four at a time.
TEST_JOBS  ?= 4
VERSION    := 0.1.0

CC         ?= cc
PKGS       := libcurl libconfig sqlite3 jansson libical openssl
# Read when this make starts: a target that first runs `deps` (demo, check,
# bench, fuzz) builds through a sub-make, which reads them again once the
# -dev packages are there.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl, libssl and libical are not linked: they are opened at first use
# (src/base/dl.h: an idle service maps none of them; issue 12).
LINK_PKGS  := libconfig sqlite3 jansson
PKG_LIBS   := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null) -ldl

CFLAGS     ?= -O2 -g
WARN       := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
              -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
DEFS       := -Isrc -D_GNU_SOURCE -DNUDGED_VERSION=\"$(VERSION)\" \
              -DNUDGED_SYSCONFDIR=\"$(SYSCONFDIR)\"

ifeq ($(SANITIZE),1)
B          := build-asan
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS     := -O1 -g
# Both runtimes linked in: one copy of their common part, and
# LeakSanitizer's exit scan of every module's globals reads 5.6 MB of
# untouched .bss instead of 11.7 (libubsan.so's own copy), which halves
# its cost per process; the interceptors are still exported, so libraries
# opened later (libcurl...) are checked as before.
SANLDFLAGS := -static-libasan -static-libubsan
else
B          := build
SANFLAGS   :=
SANLDFLAGS :=
endif

# -pthread: email.connections > 1 sends over threads (transport/mail_session.c)
ALL_CFLAGS  = $(WARN) $(DEFS) $(PKG_CFLAGS) $(CFLAGS) $(SANFLAGS) -pthread -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS) $(SANLDFLAGS) -pthread

# One folder per layer (src/README); the library is everything but cmd/.
LAYERS     := base model conf store policy transport engine
SRC        := $(foreach l,$(LAYERS) cmd,$(wildcard src/$(l)/*.c))
CTL_SRC    := $(wildcard src/cmd/ctl*.c)
LIB_SRC    := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
CTL_OBJ    := $(CTL_SRC:src/%.c=$(B)/obj/%.o)
LIB_OBJ    := $(LIB_SRC:src/%.c=$(B)/obj/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

DEB_PKGS   := gcc make pkg-config libcurl4-openssl-dev libconfig-dev \
              libsqlite3-dev libjansson-dev libcmocka-dev tzdata openssl \
              python3 python3-pytest python3-pytest-xdist python3-aiosmtpd sqlite3 ca-certificates \
              systemd clang libical-dev python3-icalendar libssl-dev \
              cppcheck clang-tidy libclang-rt-14-dev strace

.PHONY: layers all check unit integration demo deps install bench bench-deps clean asan fuzz fuzz-build \
	fuzz-replay lint

all: $(B)/nudged $(B)/nudgectl

$(B)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests:
	mkdir -p $@

$(B)/libnudged.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/nudged: $(B)/obj/cmd/main.o $(B)/obj/cmd/daemon.o $(B)/libnudged.a $(B)/link.flags
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(PKG_LIBS)

$(B)/nudgectl: $(CTL_OBJ) $(B)/libnudged.a $(B)/link.flags
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(PKG_LIBS)

# The link command's flags as last used: when they change (SANLDFLAGS...),
# the programs are linked again instead of kept from the old flags.
$(B)/link.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(ALL_LDFLAGS) $(PKG_LIBS)' | cmp -s - $@ || echo '$(ALL_LDFLAGS) $(PKG_LIBS)' >$@

FORCE:

# The bench's floor: libcurl alone, linked to it directly (tests/bench/curl_floor.c).
$(B)/curl_floor: tests/bench/curl_floor.c
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) $$(pkg-config --libs libcurl sqlite3)

# tests/unit/fixture.c: the helpers the unit tests share, in every binary.
$(B)/tests/fixture.o: tests/unit/fixture.c | $(B)/tests
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(B)/tests/fixture.o $(B)/libnudged.a $(B)/link.flags | $(B)/tests
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< $(B)/tests/fixture.o \
	    $(B)/libnudged.a $(ALL_LDFLAGS) $(PKG_LIBS) -lcmocka

# Two test programs at a time (test_store alone takes seconds); each one's
# output goes to its .log, shown whole when it fails.
unit: $(UNIT_BIN)
	@printf '%s\n' $(UNIT_BIN) | xargs -P2 -I{} sh -c 't={}; case $$t in /*) ;; *) t=./$$t;; esac; \
	    if $$t >{}.log 2>&1; then echo "== {}: $$(grep -c "^\[       OK \]" {}.log) passed"; \
	    else cat {}.log; echo "== {}: FAILED"; exit 1; fi'

asan:
	$(MAKE) -j2 SANITIZE=1 all $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%)

# The integration suite runs the sanitizer build: every end-to-end test is
# also a memory-error test (tests/integration/conftest.py fails on any report).
#
# Its files go under TEST_TMPDIR: tmpfs when the machine has one, where a
# commit's fdatasync does not wait for a disk (nothing here tests a power
# cut).  A fresh directory per run (two runs never share one); kept when
# a test fails, for its files.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm || echo /tmp)
integration: asan
	@d=$$(mktemp -d $(TEST_TMPDIR)/nudged-tests-XXXXXX) && \
	NUDGED_BUILD=$(CURDIR)/build-asan TMPDIR=$$d $(PYTHON) -m pytest -q \
	    -n $(TEST_JOBS) --basetemp=$$d/pytest tests/integration; \
	r=$$?; if [ $$r = 0 ]; then rm -rf $$d; else echo "test files kept in $$d"; fi; \
	exit $$r

# Builds run two jobs at a time (-j2: each step builds into its own
# directory); the unit binaries still run one after another.
check: deps
	$(MAKE) -j2 all
	$(MAKE) layers
	$(MAKE) -j2 B=build-clang CC=clang all	# warnings as errors under clang too
	$(MAKE) -j2 lint
	$(MAKE) -j2 fuzz-replay
	$(MAKE) -j2 unit
	$(MAKE) -j2 SANITIZE=1 unit
	$(MAKE) integration

demo: deps
	$(MAKE) all
	$(PYTHON) tests/demo.py --build $(CURDIR)/build

# Postfix (smtp-sink/-source, never started), nginx-light and wrk: only
# for the bench, so `make deps` and `make check` never install a mail server.
bench-deps:
	sh tests/bench/deps.sh

bench: deps bench-deps
	$(MAKE) all $(B)/curl_floor
	$(PYTHON) tests/bench/run.py --build $(CURDIR)/build

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	cmd="apt-get install -y --no-install-recommends$$missing"; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "make deps: installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$cmd; \
	else \
	    echo "make deps: missing packages; run as root:"; \
	    echo "  sudo apt-get update && sudo $$cmd"; exit 1; \
	fi

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 build/nudged $(DESTDIR)$(PREFIX)/sbin/nudged
	install -m 0755 build/nudgectl $(DESTDIR)$(PREFIX)/bin/nudgectl
	install -d $(DESTDIR)/usr/lib/sysusers.d $(DESTDIR)$(UNITDIR)
	install -m 0644 systemd/nudged.sysusers $(DESTDIR)/usr/lib/sysusers.d/nudged.conf
	@# nudged.service, and the template nudged@.service (one per practice)
	for u in nudged.service nudged@.service; do \
	    sed 's|/usr/local/sbin/nudged|$(PREFIX)/sbin/nudged|; s|/etc/nudged|$(SYSCONFDIR)/nudged|g' \
	        systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	@# their OnFailure= mail to the practitioner
	for u in nudged-failed.service nudged-failed@.service; do \
	    sed 's|/usr/local/bin/nudgectl|$(PREFIX)/bin/nudgectl|; s|/etc/nudged|$(SYSCONFDIR)/nudged|g' \
	        systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	@for m in man/*.[0-9]; do s=$${m##*.}; \
	    install -d $(DESTDIR)$(MANDIR)/man$$s; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/nudged
	@# Never overwrite a practitioner's config.
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/nudged/nudged.conf ]; then \
	    echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/nudged/nudged.conf"; \
	    install -m 0640 conf/nudged.conf $(DESTDIR)$(SYSCONFDIR)/nudged/nudged.conf.example; \
	else \
	    install -m 0640 conf/nudged.conf $(DESTDIR)$(SYSCONFDIR)/nudged/nudged.conf; \
	fi
	@# On the real system: the nudged user and group, and the config readable by that group.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
	    systemd-sysusers /usr/lib/sysusers.d/nudged.conf && \
	    chgrp nudged $(SYSCONFDIR)/nudged $(SYSCONFDIR)/nudged/nudged.conf*; \
	else \
	    echo "note: the nudged user and group were not created here; on the" \
	        "system that runs nudged, as root: systemd-sysusers" \
	        "/usr/lib/sysusers.d/nudged.conf && chgrp nudged" \
	        "$(SYSCONFDIR)/nudged $(SYSCONFDIR)/nudged/nudged.conf*"; fi

# ---- layers: `make layers` (part of `make check`) ----
# Includes only point down the layers of src/README; no file-level circles;
# sqlite3.h only in store/, curl.h only in transport/, no log_* in policy/;
# no function over 60 lines without a /* long: reason */ (tests/fnlen.py).
layers: $(LIB_OBJ) $(CTL_OBJ) $(B)/obj/cmd/main.o $(B)/obj/cmd/daemon.o
	$(PYTHON) tests/layers.py src $(B)/obj
	$(PYTHON) tests/fnlen.py src

# ---- static analysis: `make lint` (part of `make check`) ----
# cppcheck, then clang-tidy with the checked-in .clang-tidy (each exclusion
# is explained there).  clang-tidy costs about a minute on two cores, so
# each file's clean result is remembered (build/tidy/NAME.ok) until the
# file, a header it includes (through build/obj/NAME.o's dependencies) or
# .clang-tidy changes; run it with -j2.
TIDY_FLAGS  = -std=c11 $(DEFS) $(PKG_CFLAGS)
TIDY_OK    := $(SRC)
TIDY_OK    := $(TIDY_OK:src/%.c=build/tidy/%.ok)

lint: $(TIDY_OK)
	cppcheck --enable=warning,portability --error-exitcode=1 --quiet \
	    --inline-suppr --std=c11 -D_GNU_SOURCE -Isrc $(SRC)

build/tidy/%.ok: src/%.c build/obj/%.o .clang-tidy
	@mkdir -p $(@D)
	@echo "clang-tidy $<"
	@clang-tidy --quiet $< -- $(TIDY_FLAGS) 2>/dev/null
	@touch $@

ifneq ($(B),build)
build/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(DEFS) $(PKG_CFLAGS) -O2 -g -MMD -MP -c -o $@ $<
endif

# ---- fuzzing: `make fuzz` (libFuzzer; needs clang and libclang-rt-14-dev) ----
# Every target links the whole library, built once with the fuzzer's
# instrumentation.  `make fuzz-replay` (in `make check`) runs each target
# over its seed corpus in tests/fuzz/corpus/NAME, once per input.
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_DIR    ?= build/fuzz
FUZZ_NAMES  := fuzz_tmpl fuzz_time fuzz_phone fuzz_mail fuzz_sms fuzz_smtp fuzz_conf \
               fuzz_ical
FUZZ_SAN     = -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CFLAGS  = $(WARN) $(DEFS) $(PKG_CFLAGS) -Isrc $(FUZZ_SAN) -pthread \
               -fsanitize=fuzzer,address,undefined
FUZZ_OBJ_FLAGS = $(WARN) $(DEFS) $(PKG_CFLAGS) $(FUZZ_SAN) \
               -fsanitize=fuzzer-no-link,address,undefined -MMD -MP

fuzz-build: $(FUZZ_NAMES:%=$(FUZZ_DIR)/%)

$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_OBJ_FLAGS) -c -o $@ $<

$(FUZZ_DIR)/libfuzz.a: $(LIB_SRC:src/%.c=$(FUZZ_DIR)/obj/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libfuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_DIR)/libfuzz.a $(PKG_LIBS)

# libconfig's own leaks are not ours (see the file).
FUZZ_ENV     = LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp

fuzz-replay: fuzz-build
	@set -e; for f in $(FUZZ_NAMES); do n=$${f#fuzz_}; \
	    echo "== $$f: $$(ls tests/fuzz/corpus/$$n | wc -l) seeds"; \
	    $(FUZZ_ENV) $(FUZZ_DIR)/$$f tests/fuzz/corpus/$$n/* \
	        >$(FUZZ_DIR)/$$f.replay.log 2>&1 \
	        || { tail -40 $(FUZZ_DIR)/$$f.replay.log; exit 1; }; \
	done

fuzz: deps
	$(MAKE) fuzz-build
	@set -e; for f in $(FUZZ_NAMES); do \
	    n=$${f#fuzz_}; mkdir -p $(FUZZ_DIR)/corpus/$$n $(FUZZ_DIR)/crashes/$$n; \
	    echo "== $$f ($(FUZZ_TIME) s)"; \
	    $(FUZZ_ENV) $(FUZZ_DIR)/$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_DIR)/crashes/$$n/ $(FUZZ_DIR)/corpus/$$n \
	        tests/fuzz/corpus/$$n 2>$(FUZZ_DIR)/$$f.log \
	        || { tail -40 $(FUZZ_DIR)/$$f.log; exit 1; }; \
	    grep -E '^(Done|stat::new_units_added)' $(FUZZ_DIR)/$$f.log; \
	done

clean:
	rm -rf build build-asan build-clang tests/integration/__pycache__ .pytest_cache

# Every build's: make check also builds build-clang (B=build-clang) and
# the fuzz targets (build/fuzz), and a header change must rebuild them too.
-include $(sort $(wildcard build*/obj/*/*.d build/fuzz/obj/*/*.d \
    $(B)/obj/*/*.d build*/tests/*.d))
