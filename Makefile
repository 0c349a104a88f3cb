# SPDX-License-Identifier: GPL-2.0
#
# vfiosim top-level build.
#
#   make              module for each kernel of scripts/kernels.sh, libvfiosim,
#                     vfiosimctl and the selftests
#   make KDIR=<dir>   the module for one kernel build tree, e.g.
#                     make KDIR=/lib/modules/$(uname -r)/build
#   make check        everything, then host unit tests (ASan+UBSan),
#                     checkpatch, and the selftest suite in a QEMU guest
#                     of each kernel: Debian 12's 6.1 and 6.12, and the
#                     newest of the Debian 13 root (scripts/trixie-root.sh)
#   make check-debug  the suite in a guest of a debug kernel (KASAN,
#                     lockdep, kmemleak, UBSAN), built on first use into
#                     /var/lib/vfiosim/debug-kernel (scripts/debug-kernel.sh)
#   make debug-kernel only build (or find) that kernel
#   make torture      random interleavings of every lifecycle path from
#                     several processes, TORTURE_S seconds (default 180),
#                     in a guest of the debug kernel (scripts/torture.sh)
#   make demo         a guided tour in a QEMU guest
#   make bench        benchmarks in a QEMU guest (6.12), against mtty
#   make bench-socket the unix: backend through vfiosim-userd against the
#                     bare UNIX-socket ping-pong floor only (bench.sh --socket)
#   make kselftest-install
#                     the selftests as a kselftest install tree for the
#                     kernel's run_kselftest.sh -c vfiosim (INSTALL_PATH=,
#                     default build/kselftest_install)
#   make deps         install the Debian packages all of this needs, and
#                     build the Debian 13 root
#   make install      tools, library, headers, pkg-config file, systemd
#                     units, boot-time module loading, man pages and the DKMS source
#                     (PREFIX=/usr/local, DESTDIR=); then
#                     dkms install vfiosim/$(VERSION) builds the module

TOP	:= $(CURDIR)
BUILD	:= $(TOP)/build
KVERS	?= $(shell $(TOP)/scripts/kernels.sh)

VERSION	:= 0.9.0
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
UNITDIR	?= $(PREFIX)/lib/systemd/system
# Where DKMS and modules-load.d look, whatever the prefix.
DKMSDIR	?= /usr/src/vfiosim-$(VERSION)
MODLOADDIR ?= /usr/lib/modules-load.d
MANDIR	?= $(PREFIX)/share/man
MANPAGES := man/vfiosimctl.8 man/vfiosim-userd.8 man/libvfiosim.3 man/vfiosim.4

.PHONY: all deps modules userspace userspace-asan selftests mtty check demo \
	bench bench-socket check-debug debug-kernel torture checkpatch clean install install-dkms-src kselftest-install

all: modules userspace selftests

deps:
	@$(TOP)/scripts/install-deps.sh

ifdef KDIR
KREL := $(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null)
modules:
	$(TOP)/scripts/kbuild.sh $(KDIR) $(BUILD)/kmod/$(or $(KREL),custom)
	@echo "built $(BUILD)/kmod/$(or $(KREL),custom)/vfiosim.ko"
else
modules:
	@test -n "$(KVERS)" || { echo "no Debian kernel headers found: run 'make deps'"; exit 1; }
	@set -e; for k in $(KVERS); do \
		$(TOP)/scripts/build-module.sh $$k $(BUILD)/kmod/$$k; \
	done
endif

# The peer for benchmarks; its source only builds against 6.12 headers.
mtty:
	@set -e; for k in $(filter 6.12%,$(KVERS)); do \
		$(TOP)/scripts/build-mtty.sh /usr/src/linux-headers-$$k $(BUILD)/mtty/$$k; \
	done

userspace:
	$(MAKE) -C userspace

userspace-asan:
	$(MAKE) -C userspace SANITIZE=1 BUILD=build/asan

selftests: userspace
	$(MAKE) -C selftests/vfiosim

kselftest-install: userspace
	$(MAKE) -C selftests/vfiosim install \
		INSTALL_PATH=$(abspath $(or $(INSTALL_PATH),$(BUILD)/kselftest_install))

checkpatch:
	$(TOP)/scripts/checkpatch.sh

check: deps
	@$(TOP)/scripts/check.sh

check-debug: deps
	@$(TOP)/scripts/check-debug.sh

debug-kernel: deps
	@$(TOP)/scripts/debug-kernel.sh >/dev/null

torture: deps
	@$(TOP)/scripts/torture.sh

demo: deps modules userspace
	@$(TOP)/scripts/demo.sh

bench: deps modules userspace mtty
	@$(TOP)/scripts/bench.sh

bench-socket: deps modules userspace
	@$(TOP)/scripts/bench.sh --socket

install: userspace install-dkms-src
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/vfiosim/linux \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MODLOADDIR)
	install -m 0755 userspace/build/vfiosimctl $(DESTDIR)$(BINDIR)/
	install -m 0755 userspace/build/vfiosim-userd $(DESTDIR)$(SBINDIR)/
	install -m 0644 userspace/build/libvfiosim.a $(DESTDIR)$(LIBDIR)/
	install -m 0755 userspace/build/libvfiosim.so.0.9.0 $(DESTDIR)$(LIBDIR)/
	ln -sf libvfiosim.so.0.9.0 $(DESTDIR)$(LIBDIR)/libvfiosim.so.0
	ln -sf libvfiosim.so.0.9.0 $(DESTDIR)$(LIBDIR)/libvfiosim.so
	install -m 0644 userspace/lib/vfiosim.h $(DESTDIR)$(INCLUDEDIR)/vfiosim/
	install -m 0644 uapi/linux/vfiosim.h \
		$(DESTDIR)$(INCLUDEDIR)/vfiosim/linux/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
		userspace/vfiosim.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/vfiosim.pc
	install -m 0644 userspace/userd/vfiosim-userd@.socket $(DESTDIR)$(UNITDIR)/
	sed 's|^ExecStart=vfiosim-userd|ExecStart=$(SBINDIR)/vfiosim-userd|' \
		userspace/userd/vfiosim-userd@.service \
		> $(DESTDIR)$(UNITDIR)/vfiosim-userd@.service
	install -m 0644 userspace/vfiosim-modules.conf \
		$(DESTDIR)$(MODLOADDIR)/vfiosim.conf
	# Man pages compressed as Debian ships them (gzip -n: reproducible).
	set -e; for m in $(MANPAGES); do \
		sec=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$sec; \
		gzip -9n < $$m > $(DESTDIR)$(MANDIR)/man$$sec/$$(basename $$m).gz; \
	done

# The module's source as DKMS wants it: dkms.conf at the top.
install-dkms-src:
	install -d $(DESTDIR)$(DKMSDIR)/kmod $(DESTDIR)$(DKMSDIR)/uapi/linux
	install -m 0644 Kbuild $(DESTDIR)$(DKMSDIR)/
	install -m 0644 $(wildcard kmod/*.c kmod/*.h) $(DESTDIR)$(DKMSDIR)/kmod/
	install -m 0644 uapi/linux/vfiosim.h $(DESTDIR)$(DKMSDIR)/uapi/linux/
	sed 's|@VERSION@|$(VERSION)|g' dkms.conf > $(DESTDIR)$(DKMSDIR)/dkms.conf

clean:
	rm -rf $(BUILD)
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests/vfiosim clean
