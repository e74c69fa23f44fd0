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
	bench bench-decode bench-cache bench-camera bench-credential conformance fuzz soak test-soak build-arm64 image clean

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
	$(MAKE) test-go test-fuzz test-gocv test-arm64 test-systemd test-image test-soak

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# Each fuzz target runs briefly; `make fuzz` runs them longer.
FUZZTIME ?= 10s
test-fuzz:
	@./scripts/fuzz-all.sh $(FUZZTIME)

fuzz:
	@./scripts/fuzz-all.sh 2m

## test-gocv: the OpenCV camera source (needs libopencv-dev), with the rest of the camera package.
test-gocv:
	$(GO) vet -tags gocv ./camera/...
	$(GO) test -tags gocv -count=1 ./camera/...

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

## bench-camera: cost per 1280x720 frame of each camera source (ns, allocations), gocv included.
bench-camera:
	$(GO) test -tags gocv -run '^$$' -bench . -benchmem -benchtime 2s ./camera

bench-cache:
	@echo "bench-cache: not yet"

## bench-credential: payload parsing (1405, CCCD, HC1 ES256/PS256) and the zlib bomb refusal.
bench-credential:
	$(GO) test -run '^$$' -bench . -benchmem ./credential

## conformance: the dgc-testdata HC1 conformance report (agreed/total per EXPECTED* key).
conformance:
	$(GO) test -count=1 -v -run 'TestConformance' ./credential

## soak: the daemon binary for SOAK_MINUTES (default 10) replaying the demo at full speed, syncing
## every 2 s against a loopback feed republished all along; RSS, goroutines and open files must stay
## flat. The curve is written to bin/soak.md (copy it into BENCHMARKS.md, section Soak).
SOAK_MINUTES ?= 10
soak: build
	CHECKPOINT_SOAK=$(SOAK_MINUTES)m CHECKPOINT_BIN=$(abspath $(BIN)) CHECKPOINT_SOAK_REPORT=$(abspath bin/soak.md) \
		$(GO) test -count=1 -timeout $$(( $(SOAK_MINUTES) + 10 ))m -run '^TestSoak$$' -v ./cmd/checkpoint

## test-soak: the 60 s soak CI runs.
test-soak: build
	CHECKPOINT_SOAK=60s CHECKPOINT_BIN=$(abspath $(BIN)) $(GO) test -count=1 -timeout 10m -run '^TestSoak$$' ./cmd/checkpoint

clean:
	rm -rf bin dist
