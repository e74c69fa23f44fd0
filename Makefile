# checkpoint: build, test, demo, benchmarks and the SD-card image.
# `make demo` and `make test` do all set-up on a fresh Debian 12 machine.

SHELL    := /bin/bash
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/checkpoint
BIN_ARM64 := bin/checkpoint-arm64
DIST     ?= dist
SHARED   ?= $(abspath ../shared)
export CHECKPOINT_TESTDATA ?= $(SHARED)/testdata

# Debian packages the full test suite needs (installed by `make deps`).
DEB_PKGS := gcc g++ pkg-config make git ca-certificates xz-utils \
	libopencv-dev libzbar-dev libzxing-dev webp \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
	systemd mtools dosfstools e2fsprogs fdisk \
	chromium

.PHONY: all build demo test deps test-go test-fuzz test-gocv test-arm64 test-systemd test-image test-browser \
	bench bench-decode bench-cache soak-cache bench-camera bench-credential conformance fuzz soak test-soak build-arm64 image clean

all: build

build:
	@[ -x $(BIN) ] || echo "building $(BIN): the first build compiles SQLite's C sources through cgo, a minute or two on a laptop, longer on a Pi"
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
	$(MAKE) test-go test-fuzz test-gocv test-arm64 test-systemd test-image test-browser test-soak

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# Each fuzz target runs briefly; `make fuzz` runs them longer.
FUZZTIME ?= 10s
test-fuzz:
	@./scripts/fuzz-all.sh $(FUZZTIME)

fuzz:
	@./scripts/fuzz-all.sh 2m

## test-browser: headless chromium against the operator screen of a running daemon
## (screenshots in testout/web or $CHECKPOINT_ARTIFACTS/web).
test-browser:
	$(GO) vet -tags browser ./web/
	$(GO) test -count=1 -timeout 5m -tags browser -run '^TestBrowser' ./web/

## test-gocv: the OpenCV camera source (needs libopencv-dev), with the rest of the camera package.
test-gocv:
	$(GO) vet -tags gocv ./camera/...
	$(GO) test -tags gocv -count=1 ./camera/...

## build-arm64: the gate's binary (Raspberry Pi OS arm64), cross-compiled with cgo.
build-arm64:
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc \
		$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN_ARM64) ./cmd/checkpoint

# The arm64 binary is an AArch64 executable and runs under qemu-aarch64.
test-arm64: build-arm64
	@aarch64-linux-gnu-readelf -h $(BIN_ARM64) | grep -q 'Machine: *AArch64' \
		|| { echo "test-arm64: $(BIN_ARM64) is not an AArch64 executable"; exit 1; }
	@out=$$(qemu-aarch64 -L /usr/aarch64-linux-gnu $(BIN_ARM64) version) \
		&& echo "test-arm64: qemu-aarch64 $(BIN_ARM64) version: $$out" \
		&& [ "$$out" = "checkpoint $(VERSION)" ] \
		|| { echo "test-arm64: want \"checkpoint $(VERSION)\""; exit 1; }

## test-systemd: systemd-analyze verify and security on the units, sysusers and tmpfiles.
test-systemd: build
	systemd/test.sh $(BIN)

## test-image: builds an image from a synthetic base and inspects it.
test-image: build build-arm64
	image/test.sh $(BIN) $(VERSION)

## image: the SD-card image, from BASE=raspios-lite-arm64.img[.xz] (no root needed).
image:
	@[ -n "$(BASE)" ] || { echo "usage: make image BASE=path/to/raspios-lite-arm64.img[.xz]"; exit 2; }
	$(MAKE) --no-print-directory build-arm64
	image/build.sh "$(BASE)" $(BIN_ARM64) $(VERSION) $(DIST)

## bench: decode time and allocations per frame (640x480 and 1280x720, empty and with a code),
## frame-to-verdict latency over the demo replayed at 30 fps, and cache lookups at 1M rows.
bench:
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkDecode$$' -benchmem ./decode
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkFrameToVerdict$$' -benchtime 5x ./demo
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkLookup1M$$' -benchtime 300000x ./cache

## bench-decode: our decoder, zxing-cpp and zbar (bench/zxbench) and zxing-wasm (zxing-cpp 3.x in
## WebAssembly under node, bench/zxwasm; its times reported apart) on the same frames, interleaved
## frame by frame: the generated corpus (BENCH_DECODE_N frames per category at 640x480 and
## 1280x720, BENCH_DECODE_N12 per gate category at 4000x3000) and zxing's blackbox at four
## rotations. Success per category (codes read where frames hold many), CPU ms per frame (median,
## p99), allocations; writes the "Decoding" section of BENCHMARKS.md.
ZXBENCH          := bin/zxbench
ZXWASM           := bench/zxwasm/node_modules/zxing-wasm/package.json
BENCH_DECODE_N   ?= 20
BENCH_DECODE_N12 ?= 3
$(ZXBENCH): bench/zxbench.cc bench/zbarread.c bench/zbarread.h
	@mkdir -p bin
	$(CC) -O2 -c bench/zbarread.c -o bin/zbarread.o $$(pkg-config --cflags zbar)
	$(CXX) -O2 -std=c++17 bench/zxbench.cc bin/zbarread.o $$(pkg-config --cflags --libs zxing zbar) -o $@

$(ZXWASM): bench/zxwasm/package.json bench/zxwasm/package-lock.json
	@command -v npm >/dev/null || { SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends nodejs npm; }
	cd bench/zxwasm && npm ci --no-audit --no-fund

bench-decode: deps $(ZXBENCH) $(ZXWASM)
	@mkdir -p bin
	$(GO) test -count=1 -run '^$$' -bench '^Benchmark(Decode|Pipeline)$$' -benchmem ./decode | tee bin/bench-decode-go.txt
	$(GO) run ./bench/decodebench -harness $(ZXBENCH) -wasm 'node bench/zxwasm/zxwasm.mjs' \
		-n $(BENCH_DECODE_N) -n12 $(BENCH_DECODE_N12) -r 5 \
		-testdata $(CHECKPOINT_TESTDATA) -gobench bin/bench-decode-go.txt -update BENCHMARKS.md

## bench-camera: cost per 1280x720 frame of each camera source (ns, allocations), gocv included.
bench-camera:
	$(GO) test -tags gocv -run '^$$' -bench . -benchmem -benchtime 2s ./camera

## bench-cache: the cache and feed at scale (BENCHMARKS.md "Cache and feed"): publish and apply
## a BENCH_KEYS snapshot and two deltas of BENCH_DELTA changes (default a tenth, at most 1M) over a
## loopback feed, a merge, a day of hourly deltas (BENCH_DAY of them, default 24 up to 10M keys),
## bytes per key, lookup latency (and the machine's own stalls, internal/stall), bytes written to
## the device per change (/proc/self/io); then the 1M-row lookup, run lookup cost and delta
## micro-benchmarks. Needs about 200 bytes of disk per key (BENCH_DIR).
BENCH_KEYS  ?= 10000000
BENCH_DELTA ?=
BENCH_DAY   ?=
BENCH_DIR   ?= $(CURDIR)/.bench-cache
bench-cache:
	CHECKPOINT_BENCH_KEYS=$(BENCH_KEYS) CHECKPOINT_BENCH_DELTA=$(BENCH_DELTA) CHECKPOINT_BENCH_DAY=$(BENCH_DAY) \
		CHECKPOINT_BENCH_DIR=$(BENCH_DIR) \
		$(GO) test -count=1 -run '^TestScaleReport$$' -v -timeout 600m ./feed | grep -v '^=== RUN'
	$(GO) test -count=1 -run '^$$' -bench 'Lookup1M|ApplyDelta' -benchtime 1x ./cache >/dev/null
	$(GO) test -count=1 -run '^$$' -bench 'Lookup1M' -benchtime 300000x ./cache | grep Benchmark
	$(GO) test -count=1 -run '^$$' -bench 'LookupDeltaCost' -benchtime 300000x ./cache | grep Benchmark
	$(GO) test -count=1 -run '^$$' -bench 'ApplyDelta' -benchtime 3x ./cache | grep Benchmark

## soak-cache: crash safety of the cache, longer: SIGKILL during delta applies.
CRASH_RUNS ?= 500
soak-cache:
	CHECKPOINT_CRASH_RUNS=$(CRASH_RUNS) $(GO) test -count=1 -run '^TestCrashDuringApply$$' -v -timeout 60m ./feed

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
