# goha: build, install, test and package. `make test` (as root) on a fresh
# Debian 12 machine installs what it needs and runs every test tier.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
# Targets run in the order they are listed, even under make -j.
.NOTPARALLEL:

export PATH := /usr/local/go/bin:$(CURDIR)/.tools:$(PATH)
GO ?= go
NFPM := $(CURDIR)/.tools/nfpm

VERSION ?= $(shell cat VERSION 2>/dev/null || { git describe --tags --dirty 2>/dev/null || echo 0.0.0; } | sed 's/^v//')
# Timestamps inside the packages and man pages: the last commit's, so that
# two builds of one commit are identical.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

LDFLAGS := -s -w -X github.com/goha-ha/goha/internal/version.Version=$(VERSION)
# Static (CGO_ENABLED=0), no libc needed. Not position-independent: a
# static-pie Go binary relocates every pointer of its data at each exec,
# which made a Galera monitor 50% dearer (9 ms of CPU against 6 ms, make
# bench); the agents run once per monitor interval, in a memory-safe
# runtime. The CLI docs (urfave_cli_no_docs) are not linked: nothing uses
# them and their init costs every agent call.
GOBUILD := CGO_ENABLED=0 $(GO) build -tags urfave_cli_no_docs -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'

DESTDIR ?=
PREFIX ?= /usr
SBINDIR := $(PREFIX)/sbin
OCFDIR := $(PREFIX)/lib/ocf/resource.d/goha
MANDIR := $(PREFIX)/share/man

# Test time limits; together they stay under the 45 minutes CI allows.
UNIT_TIMEOUT ?= 15m
E2E_TIMEOUT ?= 35m
PACKAGE_TIMEOUT ?= 5m
# make soak SOAK_COUNT=10 SOAK_RUN=Galera
SOAK_COUNT ?= 3
SOAK_RUN ?= .
SOAK_TIMEOUT ?= 3h

AGENTS = $$(bin/goha agents | awk '{print $$1}')
UNIT_PACKAGES = $$($(GO) list ./... | grep -v '/e2e')

.PHONY: all deps tools build man install uninstall lint unit install-check e2e \
	package-test test soak bench demo deb rpm lintian readme clean distclean

all: build

## deps: install, as root, the Debian packages and pinned Go tools (idempotent)
deps:
	GO=$(GO) scripts/deps

tools:
	GO=$(GO) scripts/deps tools

$(NFPM):
	GO=$(GO) scripts/deps tools

## build: bin/goha, and bin/ocf/goha/<agent> symlinks (an OCF root for tests)
build:
	$(GOBUILD) -o bin/goha ./cmd/goha
	rm -rf bin/ocf
	mkdir -p bin/ocf/goha
	for a in $(AGENTS); do ln -s ../../goha bin/ocf/goha/$$a; done

## man: render goha(8) and ocf_goha_<agent>(7) into build/man
man: build
	rm -rf build/man
	mkdir -p build/man
	bin/goha man | gzip -9n >build/man/goha.8.gz
	for a in $(AGENTS); do bin/goha man $$a | gzip -9n >build/man/ocf_goha_$$a.7.gz; done

## install: goha, its agent symlinks and man pages under $(DESTDIR)$(PREFIX)
install: man
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(OCFDIR) $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 bin/goha $(DESTDIR)$(SBINDIR)/goha
	ln -sfn goha $(DESTDIR)$(SBINDIR)/fence_goha_lab
	# links of agents this build no longer has would be left dangling
	find $(DESTDIR)$(OCFDIR) -maxdepth 1 -type l -lname $(SBINDIR)/goha -delete
	for a in $(AGENTS); do ln -sfn $(SBINDIR)/goha $(DESTDIR)$(OCFDIR)/$$a; done
	install -m 0644 build/man/ocf_goha_*.7.gz $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 build/man/goha.8.gz $(DESTDIR)$(MANDIR)/man8/
	ln -sfn goha.8.gz $(DESTDIR)$(MANDIR)/man8/fence_goha_lab.8.gz

uninstall:
	find $(DESTDIR)$(OCFDIR) -maxdepth 1 -type l -lname $(SBINDIR)/goha -delete 2>/dev/null || true
	rmdir $(DESTDIR)$(OCFDIR) 2>/dev/null || true
	rm -f $(DESTDIR)$(SBINDIR)/goha $(DESTDIR)$(SBINDIR)/fence_goha_lab
	rm -f $(DESTDIR)$(MANDIR)/man7/ocf_goha_*.7.gz $(DESTDIR)$(MANDIR)/man8/goha.8.gz $(DESTDIR)$(MANDIR)/man8/fence_goha_lab.8.gz

## lint: gofmt must have nothing to say, go vet must pass
lint:
	out=$$(gofmt -l $$(find . -name '*.go' -not -path './.tools/*' -not -path './build/*')); \
	if [[ -n $$out ]]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## unit: unit and component tests (every package but e2e)
unit:
	$(GO) test -count=1 -timeout $(UNIT_TIMEOUT) $(UNIT_PACKAGES)

## install-check: make install into a scratch DESTDIR and check the tree
install-check:
	rm -rf build/destdir
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/build/destdir
	scripts/check-install $(CURDIR)/build/destdir $(PREFIX)

## e2e: end-to-end scenarios on the lab cluster, one package at a time
e2e:
	$(GO) test -p 1 -count=1 -timeout $(E2E_TIMEOUT) ./e2e/...

## package-test: install, exercise, upgrade and remove the .deb (root)
package-test: deb rpm
	GOHA_PACKAGE_TEST=1 $(GO) test -count=1 -v -timeout $(PACKAGE_TIMEOUT) -run '^TestPackage' ./e2e

## test: every tier (as root on a fresh machine: make test)
test: deps build lint unit install-check e2e package-test

## soak: the e2e scenarios SOAK_COUNT times
soak: build
	$(GO) test -p 1 -count=$(SOAK_COUNT) -timeout $(SOAK_TIMEOUT) -run '$(SOAK_RUN)' ./e2e/...

## bench: goha's agents against the reference shell agents (scripts/bench)
bench: deps build
	@test -x scripts/bench || { echo "make bench: scripts/bench is missing" >&2; exit 1; }
	scripts/bench

## demo: a lab cluster with the File Fabric stack, the writer's node crashed, the failover (scripts/demo)
demo: deps build
	@test -x scripts/demo || { echo "make demo: scripts/demo is missing" >&2; exit 1; }
	scripts/demo

build/nfpm.yaml: man
	scripts/nfpm-config bin/goha $(VERSION) >$@.tmp
	mv $@.tmp $@

build/doc/changelog.gz: packaging/changelog
	mkdir -p build/doc
	gzip -9n <$< >$@

## deb, rpm: the packages, in build/pkg
deb: build/nfpm.yaml build/doc/changelog.gz $(NFPM)
	mkdir -p build/pkg
	rm -f build/pkg/*.deb
	$(NFPM) package --config build/nfpm.yaml --packager deb --target build/pkg/
	$(MAKE) --no-print-directory lintian

rpm: build/nfpm.yaml build/doc/changelog.gz $(NFPM)
	mkdir -p build/pkg
	rm -f build/pkg/*.rpm
	$(NFPM) package --config build/nfpm.yaml --packager rpm --target build/pkg/
	rpm -qlpv build/pkg/*.rpm

## lintian: no errors allowed on the .deb
lintian:
	lintian --fail-on error --display-info build/pkg/*.deb

## readme: the agents table of README.md, from bin/goha agents
readme: build
	scripts/readme-agents bin/goha

clean:
	rm -rf bin build

distclean: clean
	rm -rf .tools
