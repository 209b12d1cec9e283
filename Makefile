# mod_dtprovider: static probes for Apache httpd, and the tools that read them.
#
#   make            build the module (and the tools) under $(BUILD)/
#   make check      install test dependencies (Debian), build, run every test
#   make install    DESTDIR, PREFIX honoured; the module goes where apxs says
#
# Everything generated lives under $(BUILD)/ and is never committed.

BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
APXS      ?= apxs
DTRACE    ?= dtrace
CC        ?= cc
PYTEST    ?= /usr/bin/python3 -m pytest
OS        := $(shell uname -s)

# Apache's own compiler flags and include paths, as apxs reports them.
AP_INCLUDEDIR := $(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
AP_CPPFLAGS   := $(shell $(APXS) -q EXTRA_CPPFLAGS 2>/dev/null) \
                 -I$(AP_INCLUDEDIR) $(shell apr-1-config --includes 2>/dev/null)
AP_LIBEXECDIR := $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)
AP_SYSCONFDIR := $(shell $(APXS) -q SYSCONFDIR 2>/dev/null)

WARN      := -Wall -Wextra -Werror
MOD_CFLAGS = -O2 -g -fPIC -fstack-protector-strong $(WARN) $(AP_CPPFLAGS) \
             -I$(BUILD) -Imodule -MMD -MP

# Probe sites are 5-byte nops on x86-64 (module/sdt_nop5.h): the kernel's
# optimized uprobe enters them with a call, which writes below the stack
# pointer, so code holding them keeps nothing in the red zone.
# `make SDT_NOP1=1` keeps sys/sdt.h's 1-byte nop sites instead.
SDT_NOP1  ?=
ifneq ($(SDT_NOP1),)
SDT_CFLAGS := -DDTP_SDT_NOP1
else ifeq ($(shell $(CC) -dumpmachine 2>/dev/null | cut -d- -f1),x86_64)
SDT_CFLAGS := -mno-red-zone
endif
MOD_CFLAGS += $(SDT_CFLAGS)

MODULE    := $(BUILD)/mod_dtprovider.so

.PHONY: all module tools check check-deps unit integration install clean \
        bench bench-build bench-smoke
all: module

tools:

# ---------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------
module: $(MODULE)

$(BUILD):
	mkdir -p $@

$(BUILD)/httpd_provider.h: module/httpd_provider.d | $(BUILD)
	$(DTRACE) -h -s $< -o $@

$(BUILD)/mod_dtprovider.o: module/mod_dtprovider.c $(BUILD)/httpd_provider.h
	$(CC) $(MOD_CFLAGS) -c $< -o $@

# Linux (systemtap's dtrace): -G only makes the semaphores. DTrace proper
# rewrites the module's object and wants it on the command line.
ifeq ($(OS),Linux)
$(BUILD)/httpd_provider.o: module/httpd_provider.d | $(BUILD)
	$(DTRACE) -G -s $< -o $@
else
$(BUILD)/httpd_provider.o: module/httpd_provider.d $(BUILD)/mod_dtprovider.o
	$(DTRACE) -G -s $< -o $@ $(BUILD)/mod_dtprovider.o
endif

$(MODULE): $(BUILD)/mod_dtprovider.o $(BUILD)/httpd_provider.o
	$(CC) -shared -o $@ $^
ifeq ($(OS),Linux)
	DTP_SDT_NOP1=$(SDT_NOP1) module/check-probes.sh $@ module/httpd_provider.d
endif

-include $(wildcard $(BUILD)/*.d)

# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
# check-deps installs what the tests need on Debian (apt-get update first),
# unless every package is already there.
check: check-deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) bench-smoke

check-deps:
	tests/install-deps.sh

unit:
	@echo "unit: no C unit tests yet"

integration: all
	$(PYTEST) -ra tests/integration

# ---------------------------------------------------------------------------
# Benchmark (bench/bench.py says what it measures)
# ---------------------------------------------------------------------------
# probe-hit fires request-done as the module does; probe-hit-nop1 is the
# same with sys/sdt.h's 1-byte nop site, to measure the 5-byte site's gain.
BENCH_CFLAGS = -O2 -g $(WARN) -I$(BUILD) -Imodule
BENCH_BINS   := $(BUILD)/bench/probe-hit $(BUILD)/bench/probe-hit-nop1

$(BUILD)/bench/probe-hit: bench/probe-hit.c module/sdt_nop5.h $(BUILD)/httpd_provider.o
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(SDT_CFLAGS) $< $(BUILD)/httpd_provider.o -o $@

$(BUILD)/bench/probe-hit-nop1: bench/probe-hit.c $(BUILD)/httpd_provider.o
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(SDT_CFLAGS) -DDTP_SDT_NOP1 $< $(BUILD)/httpd_provider.o -o $@

bench-build: all $(BENCH_BINS)

# The full run (a few minutes) writes bench/RESULTS.md; the smoke run (about
# a minute, part of check) only proves every row is still produced.
bench: bench-build
	/usr/bin/python3 bench/bench.py

bench-smoke: bench-build
	/usr/bin/python3 bench/bench.py --smoke

# ---------------------------------------------------------------------------
# Install
# ---------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(AP_LIBEXECDIR) $(DESTDIR)$(AP_SYSCONFDIR)/mods-available
	install -m 644 $(MODULE) $(DESTDIR)$(AP_LIBEXECDIR)/mod_dtprovider.so
	sed 's|@LIBEXECDIR@|$(AP_LIBEXECDIR)|' module/dtprovider.load \
	    > $(DESTDIR)$(AP_SYSCONFDIR)/mods-available/dtprovider.load
	install -d $(DESTDIR)$(PREFIX)/include
	install -m 644 module/mod_dtprovider.h $(DESTDIR)$(PREFIX)/include/

clean:
	rm -rf $(BUILD)
