#!/usr/bin/env bash
# make test-boot: the gate's SD image booted on an emulated Raspberry Pi.
#   1. `make image` on the base (image/base.sh: Raspberry Pi OS Lite's layout,
#      Debian bookworm arm64, its kernel and an initramfs);
#   2. a gate config provisioned onto it with `checkpoint provision` (the
#      rpicam camera at 640x480, periph GPIO, web.token set), and the test's
#      own files put in: a stand-in rpicam-vid playing generated frames
#      (image/boot/fixtures), the demo statuses for the cache, the in-guest
#      checks (image/boot/guest.sh) and their units;
#   3. grown to a 2 GiB card (QEMU wants a power of two), booted twice under
#      qemu-system-aarch64 -M raspi3b with the kernel, initramfs and device
#      tree of its boot partition and its cmdline.txt (serial0 is the
#      PL011, ttyAMA0, as the Pi's firmware maps it; no display, so no tty1);
#      -no-reboot: the guest's reboot at the end of each stage ends QEMU;
#   4. every check the host expects must have passed, read from
#      boottest/results-N.txt on the boot partition.
# Serial logs, results and journals go to testout/boot ($CHECKPOINT_ARTIFACTS/boot).
#
# usage: image/boot/test.sh BASE.img NATIVE_BINARY VERSION   (make test-boot)
# BOOT_TIMEOUT (default 1500) bounds each boot in seconds.
set -euo pipefail
base=${1:?usage: image/boot/test.sh BASE.img NATIVE_BINARY VERSION}
native=$(realpath "${2:?}")
version=${3:?}
cd "$(dirname "$0")/../.."
. image/lib.sh
make=${MAKE:-make}
timeout_s=${BOOT_TIMEOUT:-1500}
art=${CHECKPOINT_ARTIFACTS:-testout}/boot
mkdir -p "$art"
rm -f "$art"/*
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
began=$(date +%s)
for tool in qemu-system-aarch64 mcopy debugfs e2fsck sfdisk; do
	command -v "$tool" >/dev/null || die "$tool not found: make test-boot installs it"
done

# expected checks per boot (image/boot/guest.sh's IDs)
expect1="import.renamed import.secrets import.installed sysusers.ran sysusers.user tmpfiles.dirs udev.gpiochip
ready hardening.unit hardening.process gpio.green gpio.relay gpio.green-ends gpio.red stop.outputs stop.control
restart.safe watchdog.restart startfail.exit startfail.onfailure startfail.pattern startfail.retry
fw.image fw.installed fw.version fw.conffile fw.rolledback fw.kept fw.failed fw.reported fw.not-retried
privacy.boot1 privacy.boot1-control"
expect2="badconfig.refused badconfig.error-file badconfig.pattern badconfig.not-started badconfig.kept
privacy.boot2 privacy.boot2-control"

# --- 1. the image, as a user builds it ---------------------------------------
echo "test-boot: make image BASE=$base"
"$make" --no-print-directory image BASE="$base" DIST="$t/dist" VERSION="$version" XZ_LEVEL=-0 >"$art/make-image.log" 2>&1 ||
	die "make image failed: $(tail -5 "$art/make-image.log")"
img=$t/gate.img
xz -dc "$t/dist/checkpoint-$version-arm64.img.xz" >"$img"

# --- 2. the gate's config and the test's files --------------------------------
token=boot-test-token-$RANDOM$RANDOM
cat >"$t/gate.toml" <<EOF
gate = "boot-test"
log_level = "info"

[camera]
source = "rpicam"
width = 640
height = 480
fps = 5
stall_timeout = "10s"

[decode]
workers = 1
# The emulated CPU is many times slower than a Pi's.
budget = "3s"

[gpio]
driver = "periph"

[web]
listen = "127.0.0.1:8080"
token = "$token"

[update]
# The emulated Pi is slow; a gate's default is 10 minutes.
probation = "10s"
EOF
fx=$t/fixtures
go run ./image/boot/fixtures -out "$fx"
# Firmware through the feed: a feed naming the next release (B, a real build
# of another version) and then a broken one (C: exits at start-up), each
# exported as a USB stick carries it.
feedd=$t/feed
"$native" feed init "$feedd" >/dev/null
CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc go build -buildmode=pie -trimpath \
	-ldflags "-s -w -X main.version=$version.b -extldflags=-Wl,-z,relro,-z,now" -o "$t/checkpoint-b" ./cmd/checkpoint
debb=$(deb/build.sh "$t/checkpoint-b" arm64 "$version.b" "$t/debs")
printf '#!/bin/sh\necho "checkpoint %s: a broken release" >&2\nexit 1\n' "$version.c" >"$t/checkpoint-c"
chmod +x "$t/checkpoint-c"
debc=$(deb/build.sh "$t/checkpoint-c" arm64 "$version.c" "$t/debs")
{
	"$native" feed publish "$feedd" --statuses "$fx/statuses.csv" --firmware "$debb" &&
		"$native" feed export "$feedd" "$fx/feed-b" &&
		"$native" feed publish "$feedd" --firmware "$debc" &&
		"$native" feed export "$feedd" "$fx/feed-c"
} >"$art/feed.log" 2>&1 || die "feed: $(tail -3 "$art/feed.log")"
dpkg-deb -f "$debb" Version >"$fx/version-b"
dpkg-deb -f "$debc" Version >"$fx/version-c"
deb/version.sh "$version" >"$fx/version-a"
echo "$version.b" >"$fx/binary-b"
"$native" provision "$img" --config "$t/gate.toml" --root "$feedd/repo/root.json" >"$art/provision.log" 2>&1 ||
	die "provision: $(cat "$art/provision.log")"
echo "$token" >"$fx/token"
sha256sum <"$t/gate.toml" | cut -c1-64 >"$fx/config.sha256"
sha256sum <systemd/checkpoint.service | cut -c1-64 >"$fx/unit.sha256"
printf 'gate = "boot-test"\n[camera]\nfps = -1\n' >"$fx/bad.toml"

partitions "$img"
e2_begin "$img" "$t/e2.cmds"
dir=/usr/lib/checkpoint-boottest
e2_write image/boot/rpicam-vid /usr/bin/rpicam-vid 0755
e2_write image/boot/guest.sh $dir/guest.sh 0755
for f in token config.sha256 unit.sha256 bad.toml statuses.csv secrets.txt version-a version-b version-c binary-b; do
	e2_write "$fx/$f" "$dir/$f" 0644
done
for stick in feed-b feed-c; do
	while IFS= read -r f; do
		e2_write "$fx/$stick/$f" "$dir/$stick/$f" 0644
	done < <(cd "$fx/$stick" && find . -type f | sed 's|^\./||')
done
for f in "$fx"/frames/*.yuv; do
	e2_write "$f" "$dir/frames/${f##*/}" 0644
done
for u in checkpoint-boottest.service checkpoint-boottest-cache.service; do
	e2_write "image/boot/$u" "/etc/systemd/system/$u" 0644
	e2_symlink "/etc/systemd/system/multi-user.target.wants/$u" "/etc/systemd/system/$u"
done
e2_apply

# --- 3. the card and the kernel the Pi's firmware would load -------------------
size=$(stat -c %s "$img")
card=$((1 << 30))
while [ "$card" -lt "$size" ]; do card=$((card * 2)); done
truncate -s "$card" "$img"
boot=$(bootfs "$img")
for f in kernel8.img initramfs8 bcm2837-rpi-3-b.dtb cmdline.txt; do
	mcopy -n -i "$boot" "::$f" "$t/$f" || die "$f missing from the boot partition"
done
append=$(sed -e 's/console=serial0,/console=ttyAMA0,/' -e 's/ *console=tty1\b//' "$t/cmdline.txt")
echo "test-boot: kernel command line: $append"

pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# boot N: one emulated boot, until the guest reboots (or the timeout).
run_boot() {
	local n=$1 s rc
	echo "test-boot: boot $n (qemu-system-aarch64 -M raspi3b, at most $timeout_s s)"
	s=$(date +%s)
	rc=0
	timeout "$timeout_s" qemu-system-aarch64 -M raspi3b -kernel "$t/kernel8.img" -initrd "$t/initramfs8" \
		-dtb "$t/bcm2837-rpi-3-b.dtb" -append "$append" -drive "file=$img,if=sd,format=raw" \
		-serial "file:$art/serial-$n.log" -serial null -display none -monitor none -no-reboot || rc=$?
	echo "test-boot: boot $n ended after $(($(date +%s) - s)) s (qemu exit $rc)"
	echo "boot${n}_qemu_s=$(($(date +%s) - s))" >>"$art/summary.txt"
	[ "$rc" = 0 ] || bad "boot$n: qemu exit $rc (124: timeout, the guest never rebooted); serial log: $(grep -a 'boottest:' "$art/serial-$n.log" | tail -3)"
	mcopy -n -i "$boot" "::boottest/results-$n.txt" "$art/results-$n.txt" 2>/dev/null ||
		grep -a '^boottest: ' "$art/serial-$n.log" | sed 's/^boottest: //' >"$art/results-$n.txt" || true
	mcopy -n -i "$boot" "::boottest/journal-$n.txt" "$art/journal-$n.txt" 2>/dev/null || true
}

# evaluate N IDS: every expected check passed, no check failed.
evaluate() {
	local n=$1 id line
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "boot$n ${line#ok }" ;;
		"FAIL "*) bad "boot$n ${line#FAIL }" ;;
		"info "*)
			echo "info boot$n ${line#info }"
			line=${line#info }
			echo "boot${n}_${line% \[+*}" >>"$art/summary.txt"
			;;
		esac
	done <"$art/results-$n.txt"
	for id in $2; do
		grep -Eq "^ok +$id( |$)" "$art/results-$n.txt" || grep -Eq "^FAIL +$id( |$)" "$art/results-$n.txt" ||
			bad "boot$n $id: check did not run"
	done
	grep -q "^done boot $n" "$art/results-$n.txt" || bad "boot$n: the guest's checks did not finish"
}

run_boot 1
evaluate 1 "$expect1"
run_boot 2
evaluate 2 "$expect2"

total=$(($(date +%s) - began))
echo "test_boot_s=$total" >>"$art/summary.txt"
echo "test-boot: $pass passed, $fail failed, $total s (image, provisioning and two boots); artifacts in $art"
[ "$fail" = 0 ]
