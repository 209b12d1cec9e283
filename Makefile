# mod_dtprovider: static probes for Apache httpd, and the tools that read them.
#
#   make            build the module and httpdtrace under $(BUILD)/
#   make check      install test dependencies (Debian), build, run every test
#   make demo       the same dependencies, then a private Apache traced live
#   make install    DESTDIR, PREFIX honoured; the module goes where apxs says
#   make uninstall  removes what make install put (same DESTDIR, PREFIX)
#
# Everything generated lives under $(BUILD)/ and is never committed.

BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
APXS      ?= apxs
DTRACE    ?= dtrace
CC        ?= cc
PYTEST    ?= /usr/bin/python3 -m pytest
# bench/bench.py and demo/demo.py import the tests' harness (tests/harness/).
PYHARNESS := PYTHONPATH=$(CURDIR)/tests /usr/bin/python3
OS        := $(shell uname -s)
# The version, in one place: debian/changelog's first line, upstream part.
VERSION   := $(shell head -n1 debian/changelog | cut -d' ' -f2 | tr -d '()' | cut -d- -f1)

# Apache's own compiler flags and include paths, as apxs reports them.
AP_INCLUDEDIR := $(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
AP_CPPFLAGS   := $(shell $(APXS) -q EXTRA_CPPFLAGS 2>/dev/null) \
                 -I$(AP_INCLUDEDIR) $(shell apr-1-config --includes 2>/dev/null)
AP_LIBEXECDIR := $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)
AP_SYSCONFDIR := $(shell $(APXS) -q SYSCONFDIR 2>/dev/null)

WARN      := -Wall -Wextra -Werror
MOD_CFLAGS = -O2 -g -fPIC -fstack-protector-strong $(WARN) $(AP_CPPFLAGS) \
             -I$(BUILD) -Imodule -MMD -MP -DDTP_VERSION='"$(VERSION)"'

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
# The builder's own flags come last (a Debian build's hardening, for one):
# CPPFLAGS, CFLAGS and LDFLAGS from the environment or the command line.
MOD_CFLAGS += $(CPPFLAGS) $(CFLAGS)

MODULE    := $(BUILD)/mod_dtprovider.so

.PHONY: all module tools check check-deps unit integration install uninstall clean \
        bench bench-busy bench-build bench-smoke demo deb deb-deps
all: module tools

# ---------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------
module: $(MODULE)

$(BUILD):
	mkdir -p $@

$(BUILD)/httpd_provider.h: module/httpd_provider.d | $(BUILD)
	$(DTRACE) -h -s $< -o $@

# The module's C files: the entry file, ids, the traceparent reader and one
# file per probe family (module/README.md has the map), each compiled to
# $(BUILD)/module/ in the same folders.
MOD_SRCS  := $(wildcard module/*.c module/probes/*.c)
MOD_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(MOD_SRCS))

$(BUILD)/module/%.o: module/%.c $(BUILD)/httpd_provider.h debian/changelog
	@mkdir -p $(@D)
	$(CC) $(MOD_CFLAGS) -c $< -o $@

# Linux (systemtap's dtrace): -G only makes the semaphores. DTrace proper
# rewrites the module's objects and wants them on the command line.
# systemtap's dtrace compiles the semaphores with $CFLAGS from the
# environment; an optimizing compiler may emit them in any order, and the
# module tests them in groups laid out in declaration order: keep it.
ifeq ($(OS),Linux)
$(BUILD)/httpd_provider.o: module/httpd_provider.d | $(BUILD)
	CFLAGS=-fno-toplevel-reorder $(DTRACE) -G -s $< -o $@
else
$(BUILD)/httpd_provider.o: module/httpd_provider.d $(MOD_OBJS)
	$(DTRACE) -G -s $< -o $@ $(MOD_OBJS)
endif

$(MODULE): $(MOD_OBJS) $(BUILD)/httpd_provider.o
	$(CC) -shared $(LDFLAGS) -o $@ $^
ifeq ($(OS),Linux)
	DTP_SDT_NOP1=$(SDT_NOP1) module/check-probes.sh $@ module/httpd_provider.d
endif

-include $(patsubst %.o,%.d,$(MOD_OBJS))

# ---------------------------------------------------------------------------
# httpdtrace (src/): Debian's libbpf, clang for the BPF side, bpftool for
# vmlinux.h and the skeletons. Every src/**/x.bpf.c becomes $(BUILD)/x.skel.h
# (one BPF program per subcommand, so the names are unique); every other .c
# under src/ is user space, compiled to $(BUILD)/src/ in the same folders and
# linked into one binary. A new subcommand needs no line here: its files
# are found (src/httpdtrace.h says how to add one).
# ---------------------------------------------------------------------------
CLANG     ?= clang
BPFTOOL   ?= bpftool
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
LIBBPF_CFLAGS := $(shell pkg-config --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz
CURSES_LIBS   := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)
MHD_LIBS      := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

TOOL      := $(BUILD)/httpdtrace
SRC_DIRS  := src $(patsubst %/,%,$(sort $(dir $(wildcard src/*/*.c))))
BPF_SRCS  := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.bpf.c))
TOOL_SRCS := $(filter-out %.bpf.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
TOOL_OBJS := $(patsubst src/%.c,$(BUILD)/src/%.o,$(TOOL_SRCS))
SKELS     := $(patsubst %.bpf.c,$(BUILD)/%.skel.h,$(notdir $(BPF_SRCS)))
TOOL_CFLAGS = -O2 -g $(WARN) $(LIBBPF_CFLAGS) -I$(BUILD) -Isrc -Imodule -MMD -MP \
              -DHTTPDTRACE_LIBEXECDIR='"$(AP_LIBEXECDIR)"' -DHTTPDTRACE_VERSION='"$(VERSION)"' \
              $(CPPFLAGS) $(CFLAGS)
# BPF_USDT/BPF_PROG pass ctx and every probe argument whether used or not.
BPF_CFLAGS = -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Wno-unused-function -Wno-unused-parameter \
             $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH)) -I$(BUILD) -Isrc -Imodule

tools: $(TOOL)

$(BUILD)/vmlinux.h: | $(BUILD)
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp
	mv $@.tmp $@

# Skeletons are made through a pattern rule, so make would delete them as
# intermediates after a build and rebuild everything that includes them on
# the next `make`: keep them.
.SECONDARY: $(SKELS) $(BUILD)/vmlinux.h

# One rule per BPF program: compile, then generate its skeleton. vpath finds
# x.bpf.c in whichever folder of src/ holds it.
vpath %.bpf.c $(SRC_DIRS)
$(BUILD)/%.skel.h: %.bpf.c $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(BUILD)/$*.bpf.d -MT $@ -c $< -o $(BUILD)/$*.bpf.o
	$(BPFTOOL) gen skeleton $(BUILD)/$*.bpf.o > $@.tmp
	mv $@.tmp $@

-include $(wildcard $(BUILD)/*.bpf.d)

# Skeletons first: until a first build, -MMD has not yet said who needs them.
# a new version rebuilds what prints it
$(TOOL_OBJS): debian/changelog
$(BUILD)/src/%.o: src/%.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(TOOL_CFLAGS) -c $< -o $@

# The dashboard's files are built into httpdtrace (src/exporter/assets.c):
# src/exporter/web/ and Debian's Chart.js (libjs-chart.js).
CHART_JS  ?= /usr/share/javascript/chart.js/chart.min.js
$(BUILD)/src/exporter/assets.o: $(wildcard src/exporter/web/*) $(CHART_JS)
$(BUILD)/src/exporter/assets.o: TOOL_CFLAGS += -DDASH_CHART_JS='"$(CHART_JS)"'

$(TOOL): $(TOOL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBBPF_LIBS) $(CURSES_LIBS) $(MHD_LIBS)

-include $(patsubst %.o,%.d,$(TOOL_OBJS))

# C unit tests of httpdtrace's pure helpers (no BPF, no root): one binary.
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_LIBS := $(addprefix $(BUILD)/src/,lib/hist.o lib/fmt.o lib/filter.o lib/options.o \
             exporter/exposition.o top/table.o top/view.o top/report.o pools/leak.o) \
             $(BUILD)/module/traceparent.o
UNIT_BIN  := $(BUILD)/unit-tests

$(UNIT_BIN): $(UNIT_SRCS) tests/unit/unit.h $(UNIT_LIBS)
	$(CC) -O1 -g $(WARN) -Isrc -Imodule -Itests/unit -o $@ $(UNIT_SRCS) $(UNIT_LIBS)

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

# ... and of the dashboard's pure JavaScript (src/exporter/web/dash_core.mjs), by
# node's test runner.
unit: $(UNIT_BIN)
	$(UNIT_BIN)
	node --test tests/web/

# Every pytest folder of tests/ (probes/, tools/, scripts/, install/; see
# README.md, Tests); pytest.ini puts tests/harness/ on the import path.
integration: all
	$(PYTEST) -ra tests

# make demo: a private Apache with the module on 127.0.0.1:8080, traced while
# it serves sample traffic, then stopped (demo/demo.py; DEMO_PORT=N to move).
demo: check-deps
	$(MAKE) all
	$(PYHARNESS) demo/demo.py

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
	$(PYHARNESS) bench/bench.py

# The same beside two busy loops; its verdicts must equal bench/RESULTS.md's.
bench-busy: bench-build
	$(PYHARNESS) bench/bench.py --busy 2 -o bench/RESULTS-busy.md --compare bench/RESULTS.md

bench-smoke: bench-build
	$(PYHARNESS) bench/bench.py --smoke

# ---------------------------------------------------------------------------
# Debian packages: libapache2-mod-dtprovider and httpdtrace (debian/), built by
# dpkg-buildpackage in a copy of this tree (no build/, no .git) under
# $(BUILD)/deb; the .debs land there. deb-deps installs what debian/control
# asks for to build (apt-get build-dep), only when something is missing.
# ---------------------------------------------------------------------------
DEB_DIR   := $(BUILD)/deb

deb: deb-deps
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/mod-dtprovider-$(VERSION)
	tar --exclude=./build --exclude=./.git -cf - . | tar -C $(DEB_DIR)/mod-dtprovider-$(VERSION) -xf -
	cd $(DEB_DIR)/mod-dtprovider-$(VERSION) && \
	    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

deb-deps:
	@if ! command -v dpkg-checkbuilddeps >/dev/null 2>&1 || ! dpkg-checkbuilddeps >/dev/null 2>&1; then \
	    if [ "$$(id -u)" -ne 0 ]; then \
	        echo "deb-deps: build dependencies missing; run as root, or: sudo apt-get build-dep ./" >&2; \
	        exit 1; fi; \
	    apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dpkg-dev && \
	    DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q ./ ; fi

# ---------------------------------------------------------------------------
# Install
# ---------------------------------------------------------------------------
# The module and Debian's mods-available/dtprovider.load go where apxs says
# (then `a2enmod dtprovider`); the rest under PREFIX: httpdtrace, man pages,
# the header, the scripts and docs, and the DTrace translator in lib/dtrace.
# systemd looks for units under /usr/local/lib/systemd/system too.
UNITDIR   = $(PREFIX)/lib/systemd/system
SHAREDIR  = $(PREFIX)/share/mod_dtprovider
DOCDIR    = $(PREFIX)/share/doc/mod_dtprovider

install: all
	install -d $(DESTDIR)$(AP_LIBEXECDIR) $(DESTDIR)$(AP_SYSCONFDIR)/mods-available
	install -m 644 $(MODULE) $(DESTDIR)$(AP_LIBEXECDIR)/mod_dtprovider.so
	sed 's|@LIBEXECDIR@|$(AP_LIBEXECDIR)|' module/dtprovider.load \
	    > $(DESTDIR)$(AP_SYSCONFDIR)/mods-available/dtprovider.load
	install -m 644 module/dtprovider.conf $(DESTDIR)$(AP_SYSCONFDIR)/mods-available/
	install -d $(DESTDIR)$(PREFIX)/include
	install -m 644 module/mod_dtprovider.h $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(TOOL) $(DESTDIR)$(PREFIX)/sbin/httpdtrace
	install -m 644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(SHAREDIR)/scripts/bpftrace \
	    $(DESTDIR)$(SHAREDIR)/scripts/dtrace $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(PREFIX)/lib/dtrace
	install -m 755 scripts/bpftrace/*.bt $(DESTDIR)$(SHAREDIR)/scripts/bpftrace/
	install -m 755 scripts/dtrace/*.d $(DESTDIR)$(SHAREDIR)/scripts/dtrace/
	install -m 644 module/httpd.d $(DESTDIR)$(PREFIX)/lib/dtrace/
	install -m 644 README.md docs/probes.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(DOCDIR)/prometheus $(DESTDIR)$(UNITDIR)
	install -m 644 contrib/prometheus/*.yml $(DESTDIR)$(DOCDIR)/prometheus/
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|' -e 's|@MODULE@|$(AP_LIBEXECDIR)/mod_dtprovider.so|' \
	    contrib/httpdtrace-exporter.service > $(DESTDIR)$(UNITDIR)/httpdtrace-exporter.service

# Removes exactly what `make install` put there (same DESTDIR and PREFIX),
# after `a2dismod dtprovider` if it is enabled; Apache keeps running the
# copy it loaded until it is restarted.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -e $(AP_SYSCONFDIR)/mods-enabled/dtprovider.load ]; then \
	    a2dismod -q dtprovider; fi
	rm -f $(DESTDIR)$(AP_LIBEXECDIR)/mod_dtprovider.so \
	    $(DESTDIR)$(AP_SYSCONFDIR)/mods-available/dtprovider.load \
	    $(DESTDIR)$(AP_SYSCONFDIR)/mods-available/dtprovider.conf \
	    $(DESTDIR)$(PREFIX)/include/mod_dtprovider.h \
	    $(DESTDIR)$(PREFIX)/sbin/httpdtrace \
	    $(DESTDIR)$(PREFIX)/lib/dtrace/httpd.d \
	    $(DESTDIR)$(UNITDIR)/httpdtrace-exporter.service
	rm -f $(patsubst docs/man/%,$(DESTDIR)$(PREFIX)/share/man/man8/%,$(wildcard docs/man/*.8))
	rm -rf $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(DOCDIR)
	-rmdir $(DESTDIR)$(PREFIX)/lib/dtrace $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(PREFIX)/lib/systemd 2>/dev/null

clean:
	rm -rf $(BUILD)
