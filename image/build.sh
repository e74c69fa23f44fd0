#!/usr/bin/env bash
# Builds the gate's SD-card image from a Raspberry Pi OS Lite (arm64) image
# and the gate's Debian package (make deb), with no root, sudo, loop device
# or chroot: e2fsprogs' debugfs writes into the ext4 root partition in
# place, mtools into the FAT boot partition. The package goes in as dpkg
# would put it: its files with their modes, and dpkg's record of it
# (/var/lib/dpkg/status, info/checkpoint.*), so that later upgrades, the
# firmware updates through the feed and `apt remove` treat it as installed.
# Its postinst's work is done by the image's own first boot:
# systemd-sysusers (the user checkpoint; /usr is made newer than
# /etc/.updated), systemd-tmpfiles and udev run at every boot, and the units
# are enabled here by deb-systemd-helper itself, on a copy of the package.
#
# usage: image/build.sh BASE DEB VERSION DIST
#   BASE     raspios-lite-arm64.img or .img.xz (left untouched)
#   DEB      checkpoint_DEBVERSION_arm64.deb (make deb)
#   DIST     writes DIST/checkpoint-VERSION-arm64.img.xz and its .sha256
# XZ_LEVEL (default -6) sets the compression.
set -euo pipefail
[ $# = 4 ] || { echo "usage: image/build.sh BASE DEB VERSION DIST" >&2; exit 2; }
base=$1 deb=$2 version=$3 dist=$4
cd "$(dirname "$0")/.."
. image/lib.sh

for tool in sfdisk debugfs e2fsck mcopy xz sha256sum dpkg-deb deb-systemd-helper; do
	command -v "$tool" >/dev/null || die "$tool not found: make image installs it"
done
[ -f "$base" ] || die "BASE $base: no such file"
[ -f "$deb" ] || die "$deb: no package (make deb)"
pkg=$(dpkg-deb -f "$deb" Package) || die "$deb: not a Debian package"
[ "$pkg" = checkpoint ] || die "$deb: package $pkg, not checkpoint"

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

# The package as dpkg unpacks it; its units enabled as its postinst would.
stage=$work/pkg
dpkg-deb -R "$deb" "$stage"
DPKG_MAINTSCRIPT_PACKAGE=checkpoint DPKG_ROOT=$stage deb-systemd-helper enable checkpoint.service checkpoint-update.path
paths=$(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./var -prune -o -path ./etc/systemd -prune -o -print | sed -n 's|^\.\(/..*\)|\1|p' | LC_ALL=C sort)

e2_begin "$img" "$work/debugfs.cmds"
# Files an earlier build installed that this package no longer has.
old=$(debugfs -R "cat /var/lib/dpkg/info/checkpoint.list" "$root" 2>/dev/null || true)
while IFS= read -r p; do
	case $p in '' | /.) continue ;; esac
	[ -e "$stage$p" ] || [ -L "$stage$p" ] && continue
	if st=$(e2stat "$img" "$p") && [[ $st != *"Type: directory"* ]]; then
		printf 'rm %s\n' "$p" >>"$e2cmds"
	fi
done <<<"$old"
while IFS= read -r p; do
	mode=0$(stat -c %a "$stage$p")
	if [ -L "$stage$p" ]; then
		e2_symlink "$p" "$(readlink "$stage$p")"
	elif [ -d "$stage$p" ]; then
		e2_mkdirs "$p" "$mode"
	else
		e2_write "$stage$p" "$p" "$mode"
	fi
done <<<"$paths"
# deb-systemd-helper's links and its record of them.
while IFS= read -r l; do
	e2_symlink "$l" "$(readlink "$stage$l")"
done < <(cd "$stage" && find ./etc/systemd -type l | sed 's|^\.||')
while IFS= read -r f; do
	e2_write "$stage$f" "$f" 0644
done < <(cd "$stage" && find ./var/lib/systemd -type f | sed 's|^\.||')

# dpkg's record: the status paragraph (replacing an earlier build's) and
# the package's info files.
info=/var/lib/dpkg/info
{ echo /.; printf '%s\n' "$paths"; } >"$work/checkpoint.list"
e2_write "$work/checkpoint.list" $info/checkpoint.list 0644
for f in md5sums conffiles; do e2_write "$stage/DEBIAN/$f" "$info/checkpoint.$f" 0644; done
for f in postinst prerm postrm; do e2_write "$stage/DEBIAN/$f" "$info/checkpoint.$f" 0755; done
debugfs -R "cat /var/lib/dpkg/status" "$root" 2>/dev/null | awk -v RS= -v ORS='\n\n' '!/^Package: checkpoint\n/' >"$work/status" || true
{
	sed -n '1p' "$stage/DEBIAN/control"
	echo "Status: install ok installed"
	sed '1d' "$stage/DEBIAN/control"
	echo "Conffiles:"
	while IFS= read -r c; do echo " $c $(md5sum <"$stage$c" | cut -d' ' -f1)"; done <"$stage/DEBIAN/conffiles"
	echo
} >>"$work/status"
e2_write "$work/status" /var/lib/dpkg/status 0644
# The package itself, for the firmware installer: what a failed update goes
# back to (else it rebuilds it from dpkg's record, without the pristine conffile).
e2_mkdirs /var/lib/checkpoint-update/packages 0700
e2_write "$deb" "/var/lib/checkpoint-update/packages/checkpoint_$(dpkg-deb -f "$deb" Version).deb" 0600
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
