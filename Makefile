# checkpoint: build, test, demo, benchmarks and the SD-card image.
# `make demo` and `make test` do all set-up on a fresh Debian 12 machine.

SHELL    := /bin/bash
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION) -extldflags=-Wl,-z,relro,-z,now
GOBUILD  := $(GO) build
# The gate's binary: PIE (address space layout randomisation) with full RELRO,
# as Debian builds C. (The native build for tests stays as `go test` builds, so
# SQLite's C is compiled once for both.)
GOBUILD_GATE := $(GO) build -buildmode=pie -trimpath
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
# What `make build-arm64` and `make image` need, installed by them: the cross
# compiler (cgo), and sfdisk, debugfs/e2fsck, mtools and xz for the image.
ARM64_PKGS := gcc-aarch64-linux-gnu libc6-dev-arm64-cross
IMAGE_PKGS := $(ARM64_PKGS) fdisk e2fsprogs mtools xz-utils dpkg init-system-helpers
# What `make test-boot` needs besides: mmdebstrap and qemu-user-static (with
# binfmt) for the arm64 base, mkfs.vfat, and the emulated Raspberry Pi.
BOOT_PKGS := $(IMAGE_PKGS) mmdebstrap arch-test qemu-user-static dosfstools qemu-system-arm ca-certificates
# What `make deb` needs besides the compilers: lintian, readelf (binutils);
# `make test-deb` also mmdebstrap for its bookworm chroot.
DEB_PKGS_BUILD := $(ARM64_PKGS) binutils lintian
DEB_TEST_PKGS  := $(DEB_PKGS_BUILD) mmdebstrap

# apt_install: installs those of the Debian packages $(1) that are missing
# (a no-op when all are there), with sudo when not root.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		echo "installing:" $$missing; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

.PHONY: all build demo test deps arm64-deps image-deps boot-deps image-pkgs test-go test-fuzz test-gocv test-arm64 test-systemd \
	test-image test-boot test-browser deb deb-arm64 test-deb deb-deps bench bench-decode bench-cache soak-cache bench-camera bench-idle bench-credential conformance \
	fuzz soak test-soak build-arm64 image clean

all: build

build:
	@[ -x $(BIN) ] || echo "building $(BIN): the first build compiles SQLite's C sources through cgo, a minute or two on a laptop, longer on a Pi"
	$(GOBUILD) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/checkpoint

## demo: the daemon on the embedded demo set (replay camera, demo cache, terminal outputs).
demo: build
	./$(BIN) demo

## deps: install the Debian packages the tests need (no-op when present).
deps:
	$(call apt_install,$(DEB_PKGS))

arm64-deps:
	$(call apt_install,$(ARM64_PKGS))

image-deps:
	$(call apt_install,$(IMAGE_PKGS))

boot-deps:
	$(call apt_install,$(BOOT_PKGS))

# image-pkgs: the packages `make image` installs (make test-image checks that
# they hold every tool the build runs).
image-pkgs:
	@echo $(IMAGE_PKGS)

## test: the whole suite, as CI runs it.
test: deps
	$(MAKE) test-go test-fuzz test-gocv test-arm64 test-systemd test-deb test-image test-boot test-browser test-soak

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
build-arm64: arm64-deps
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc \
		$(GOBUILD_GATE) -ldflags '$(LDFLAGS)' -o $(BIN_ARM64) ./cmd/checkpoint

# The arm64 binary is an AArch64 executable and runs under qemu-aarch64.
test-arm64: build-arm64
	@aarch64-linux-gnu-readelf -h $(BIN_ARM64) | grep -q 'Machine: *AArch64' \
		|| { echo "test-arm64: $(BIN_ARM64) is not an AArch64 executable"; exit 1; }
	@out=$$(qemu-aarch64 -L /usr/aarch64-linux-gnu $(BIN_ARM64) version) \
		&& echo "test-arm64: qemu-aarch64 $(BIN_ARM64) version: $$out" \
		&& [ "$$out" = "checkpoint $(VERSION)" ] \
		|| { echo "test-arm64: want \"checkpoint $(VERSION)\""; exit 1; }

## deb: the Debian packages dist/checkpoint_DEBVERSION_arm64.deb (gates) and _amd64 (this
## machine, tests) from image/files.list (deb/build.sh; DEBVERSION is deb/version.sh VERSION);
## the gates' package checked by lintian (every tag left is explained in deb/lintian-overrides;
## the amd64 one, for tests, is built without PIE like the test binaries).
DEB_VERSION = $(shell deb/version.sh '$(VERSION)')
DEB_ARCH   := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_ARM64  = $(DIST)/checkpoint_$(DEB_VERSION)_arm64.deb
DEB_NATIVE = $(DIST)/checkpoint_$(DEB_VERSION)_$(DEB_ARCH).deb
deb-deps:
	$(call apt_install,$(DEB_PKGS_BUILD))

# deb-arm64: the gate's package alone (make image takes it).
deb-arm64: build-arm64
	deb/build.sh $(BIN_ARM64) arm64 $(VERSION) $(DIST) >/dev/null

deb: deb-deps build build-arm64
	deb/build.sh $(BIN_ARM64) arm64 $(VERSION) $(DIST)
	deb/build.sh $(BIN) $(DEB_ARCH) $(VERSION) $(DIST)
	lintian --fail-on error,warning --display-info --pedantic $(DEB_ARM64)

## test-deb: install, upgrade (the edited conffile kept), remove and purge on a Debian 12 chroot
## (mmdebstrap bookworm amd64, cached in DEB_CACHE), with two builds: VERSION and VERSION.b.
## Heavy the first time (the chroot): run it under flock /tmp/checkpoint-heavy.lock.
DEB_CACHE ?= $(CURDIR)/.cache/deb
test-deb: deb
	$(call apt_install,$(DEB_TEST_PKGS))
	$(GOBUILD) -ldflags '$(subst main.version=$(VERSION),main.version=$(VERSION).b,$(LDFLAGS))' -o bin/checkpoint-b ./cmd/checkpoint
	deb/build.sh bin/checkpoint-b $(DEB_ARCH) $(VERSION).b bin/deb-b >/dev/null
	DEB_CACHE=$(DEB_CACHE) deb/test.sh $(DEB_NATIVE) bin/deb-b/checkpoint_$(shell deb/version.sh '$(VERSION).b')_$(DEB_ARCH).deb

## test-systemd: systemd-analyze verify and security on the units, sysusers and tmpfiles.
test-systemd: build
	systemd/test.sh $(BIN)

## test-image: builds an image from a synthetic base and inspects it.
test-image: build build-arm64
	image/test.sh $(BIN) $(VERSION)

## image: the SD-card image, from BASE=raspios-lite-arm64.img[.xz] (no root needed; installs the
## cross compiler, mtools, e2fsprogs, fdisk and xz-utils when missing).
image:
	@[ -n "$(BASE)" ] || { echo "usage: make image BASE=path/to/raspios-lite-arm64.img[.xz]"; exit 2; }
	@$(MAKE) --no-print-directory image-deps
	$(MAKE) --no-print-directory deb-arm64
	image/build.sh "$(BASE)" $(DEB_ARM64) $(VERSION) $(DIST)

## test-boot: the image built on a Raspberry Pi OS Lite-like base (Debian bookworm arm64, built
## by image/base.sh with mmdebstrap on first use and cached in BOOT_CACHE; needs root), a gate
## provisioned onto it, booted twice under qemu-system-aarch64 -M raspi3b with the checks of
## image/boot/guest.sh (serial logs, results and journals in testout/boot or
## $CHECKPOINT_ARTIFACTS/boot). Heavy: run it under flock /tmp/checkpoint-heavy.lock.
BOOT_CACHE ?= $(CURDIR)/.cache/boot
BOOT_BASE  := $(BOOT_CACHE)/base-$(shell sha256sum image/base.sh 2>/dev/null | cut -c1-12).img
test-boot: boot-deps build
	@if [ ! -f $(BOOT_BASE) ]; then \
		rm -f $(BOOT_CACHE)/base-*.img; \
		echo "test-boot: building the base image $(BOOT_BASE) (once; cached)"; \
		s=$$(date +%s); image/base.sh $(BOOT_BASE) && echo "test-boot: base image built in $$(( $$(date +%s) - s )) s"; \
	fi
	image/boot/test.sh $(BOOT_BASE) $(BIN) $(VERSION)

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
## the device per change (/proc/self/io, and as root the sectors sent to a loop device holding the
## gate's folder on its own ext4); then the 1M-row lookup, run lookup cost and delta
## micro-benchmarks. Needs about 200 bytes of disk per key (BENCH_DIR).
BENCH_KEYS  ?= 10000000
BENCH_DELTA ?=
BENCH_DAY   ?=
BENCH_DIR   ?= $(CURDIR)/.bench-cache
bench-cache:
	@mkdir -p bin
	CHECKPOINT_BENCH_KEYS=$(BENCH_KEYS) CHECKPOINT_BENCH_DELTA=$(BENCH_DELTA) CHECKPOINT_BENCH_DAY=$(BENCH_DAY) \
		CHECKPOINT_BENCH_DIR=$(BENCH_DIR) \
		$(GO) test -count=1 -run '^TestScaleReport$$' -v -timeout 600m ./feed > bin/bench-cache-report.txt; \
		status=$$?; grep -v '^=== RUN' bin/bench-cache-report.txt; exit $$status
	$(GO) test -count=1 -run '^$$' -bench 'Lookup1M|ApplyDelta' -benchtime 1x ./cache >/dev/null
	$(GO) test -count=1 -run '^$$' -bench 'Lookup1M' -benchtime 300000x ./cache | grep Benchmark
	$(GO) test -count=1 -run '^$$' -bench 'LookupDeltaCost' -benchtime 300000x ./cache | grep Benchmark
	$(GO) test -count=1 -run '^$$' -bench 'ApplyDelta' -benchtime 3x ./cache | grep Benchmark

## soak-cache: crash safety of the cache, longer: SIGKILL during delta applies.
CRASH_RUNS ?= 500
soak-cache:
	CHECKPOINT_CRASH_RUNS=$(CRASH_RUNS) $(GO) test -count=1 -run '^TestCrashDuringApply$$' -v -timeout 60m ./feed

## bench-idle: CPU time the daemon uses per idle minute (empty gate), the camera running all along
## and in trigger mode between presses (camera stopped); CHECKPOINT_IDLE_WINDOW sets the measured time.
bench-idle:
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkIdleCPU$$' -benchtime 1x -timeout 20m ./cmd/checkpoint

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
