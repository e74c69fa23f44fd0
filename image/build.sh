#!/usr/bin/env bash
# Builds the gate's SD-card image from a Raspberry Pi OS Lite (arm64) image,
# with no root, sudo, loop device or chroot: e2fsprogs' debugfs writes into
# the ext4 root partition in place, mtools into the FAT boot partition.
#
# usage: image/build.sh BASE BINARY VERSION DIST
#   BASE     raspios-lite-arm64.img or .img.xz (left untouched)
#   BINARY   the arm64 checkpoint binary (make build-arm64)
#   DIST     writes DIST/checkpoint-VERSION-arm64.img.xz and its .sha256
# XZ_LEVEL (default -6) sets the compression.
set -euo pipefail
[ $# = 4 ] || { echo "usage: image/build.sh BASE BINARY VERSION DIST" >&2; exit 2; }
base=$1 bin=$2 version=$3 dist=$4
cd "$(dirname "$0")/.."
. image/lib.sh

for tool in sfdisk debugfs e2fsck mcopy xz sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found: make deps installs it"
done
[ -f "$base" ] || die "BASE $base: no such file"
[ -x "$bin" ] || die "$bin: no binary (make build-arm64)"

name=checkpoint-$version-arm64.img
mkdir -p "$dist"
work=$(mktemp -d "$dist/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
img=$work/$name

echo "image: unpacking $base"
case $base in
*.xz) xz -dc "$base" >"$img" ;;
*) cp --sparse=always "$base" "$img" ;;
esac
partitions "$img"
root=$(rootfs "$img")
out=$(debugfs -R stats "$root" 2>&1) && [[ $out == *"Filesystem magic number:  0xEF53"* ]] ||
	die "$base: the Linux partition is not an ext4 file system"

# The debugfs script: directories, files (replacing any from an earlier
# build), modes and owners, the enable symlink, and /usr's mtime.
e2_begin "$img" "$work/debugfs.cmds"
e2_mkdirs /etc/checkpoint 0750
while read -r src dst mode; do
	case $src in '' | '#'*) continue ;; @BIN) src=$bin ;; esac
	e2_write "$src" "$dst" "$mode"
done <image/files.list
e2_symlink /etc/systemd/system/multi-user.target.wants/checkpoint.service /usr/lib/systemd/system/checkpoint.service
# A /usr newer than /etc/.updated makes systemd-sysusers, which creates the
# user checkpoint, run on the next boot (ConditionNeedsUpdate=/etc).
printf 'sif /usr mtime @%s\n' "$(date +%s)" >>"$e2cmds"

echo "image: writing the root file system"
e2_apply

echo "image: writing the boot partition"
boot=$(bootfs "$img")
mcopy -o -i "$boot" image/checkpoint.toml ::checkpoint.toml || die "mcopy checkpoint.toml failed"
mcopy -o -i "$boot" image/BOOT-README.txt ::CHECKPOINT-README.txt || die "mcopy README failed"

echo "image: compressing"
xz -T0 "${XZ_LEVEL:--6}" -c "$img" >"$work/$name.xz"
mv "$work/$name.xz" "$dist/$name.xz"
(cd "$dist" && sha256sum "$name.xz" >"$name.xz.sha256")
echo "image: $dist/$name.xz"
