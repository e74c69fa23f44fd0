# checkpoint: build, test, demo, benchmarks and the SD-card image.
# `make demo` and `make test` do all set-up on a fresh Debian 12 machine.

SHELL    := /bin/bash
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/checkpoint
SHARED   ?= $(abspath ../shared)
export CHECKPOINT_TESTDATA ?= $(SHARED)/testdata

# Debian packages the full test suite needs (installed by `make deps`).
DEB_PKGS := gcc g++ pkg-config make git ca-certificates xz-utils \
	libopencv-dev libzbar-dev libzxing-dev \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
	systemd mtools dosfstools e2fsprogs fdisk \
	chromium

.PHONY: all build demo test deps test-go test-fuzz test-gocv test-arm64 test-systemd test-image \
	bench bench-decode bench-cache soak-cache fuzz soak build-arm64 image clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/checkpoint

## demo: the daemon on the embedded demo set (replay camera, demo cache, terminal outputs).
demo: build
	./$(BIN) demo

## deps: install the Debian packages the tests need (no-op when present).
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		echo "installing:" $$missing; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

## test: the whole suite, as CI runs it.
test: deps
	$(MAKE) test-go test-fuzz test-gocv test-arm64 test-systemd test-image

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# Each fuzz target runs briefly; `make fuzz` runs them longer.
FUZZTIME ?= 10s
test-fuzz:
	@./scripts/fuzz-all.sh $(FUZZTIME)

fuzz:
	@./scripts/fuzz-all.sh 2m

test-gocv:
	@echo "test-gocv: not yet"

build-arm64:
	@echo "build-arm64: not yet"

test-arm64:
	@echo "test-arm64: not yet"

test-systemd:
	@echo "test-systemd: not yet"

test-image:
	@echo "test-image: not yet"

image:
	@echo "image: not yet"

bench:
	@echo "bench: not yet"

bench-decode:
	@echo "bench-decode: not yet"

# Cache and feed at scale (BENCHMARKS.md "Cache and feed"): publish and apply
# a BENCH_KEYS snapshot and a tenth-size delta over a loopback feed, bytes per
# key, lookup latency; then the 1M-row lookup and delta micro-benchmarks.
# Needs about 300 bytes of disk per key in BENCH_DIR.
BENCH_KEYS ?= 10000000
BENCH_DIR  ?= $(CURDIR)/.bench-cache
bench-cache:
	CHECKPOINT_BENCH_KEYS=$(BENCH_KEYS) CHECKPOINT_BENCH_DIR=$(BENCH_DIR) \
		$(GO) test -count=1 -run '^TestScaleReport$$' -v -timeout 120m ./feed | grep -v '^=== RUN'
	$(GO) test -count=1 -run '^$$' -bench 'Lookup1M|ApplyDelta' -benchtime 1x ./cache >/dev/null
	$(GO) test -count=1 -run '^$$' -bench 'Lookup1M' -benchtime 300000x ./cache | grep Benchmark
	$(GO) test -count=1 -run '^$$' -bench 'ApplyDelta' -benchtime 3x ./cache | grep Benchmark

# Crash safety of the cache, longer: SIGKILL during delta applies.
CRASH_RUNS ?= 500
soak-cache:
	CHECKPOINT_CRASH_RUNS=$(CRASH_RUNS) $(GO) test -count=1 -run '^TestCrashDuringApply$$' -v -timeout 60m ./feed

soak:
	@echo "soak: not yet"

clean:
	rm -rf bin dist
