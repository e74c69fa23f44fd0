#!/usr/bin/env bash
# The image build, end to end (make test-image): a small synthetic Raspberry
# Pi OS-like base image (MBR table by sfdisk on a plain file, FAT32 by
# mkfs.vfat, ext4 by mke2fs -d from a tiny root tree with a dpkg database),
# `make image BASE=…`, then the result inspected with debugfs and mtools
# (every file of the package with its mode and owner, the enable links,
# dpkg's record), the arm64 binary taken out of the image run under
# qemu-aarch64, and a gate provisioned onto it.
#
# usage: image/test.sh NATIVE_BINARY VERSION   (make passes both)
set -euo pipefail
native=${1:?usage: image/test.sh NATIVE_BINARY VERSION}
version=${2:?usage: image/test.sh NATIVE_BINARY VERSION}
cd "$(dirname "$0")/.."
. image/lib.sh
native=$(realpath "$native")
make=${MAKE:-make}

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { # check WHAT GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}

# --- the base image: 4 MiB gap, 64 MiB FAT32 boot, 64 MiB ext4 root -------
base=$t/raspios-test.img
tree=$t/tree
mkdir -p "$tree"/{etc/systemd/system/multi-user.target.wants,usr/bin,usr/lib/systemd/system,var/lib/dpkg/info,boot/firmware}
printf 'Package: base-files\nStatus: install ok installed\nPriority: required\nMaintainer: Debian <base@checkpoint.invalid>\nArchitecture: arm64\nVersion: 12.4\nDescription: base\n\n' >"$tree/var/lib/dpkg/status"
ln -s usr/lib "$tree/lib"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$tree/etc/passwd"
printf 'root:x:0:\nvideo:x:44:\ngpio:x:993:\n' >"$tree/etc/group"
echo raspberrypi >"$tree/etc/hostname"
printf 'TIMESTAMP_NSEC=1000000000000000000\n' >"$tree/etc/.updated"
touch -d @946684800 "$tree/usr" # an old /usr, as in an image built long ago
truncate -s 136M "$base"
printf 'label: dos\nstart=8192, size=131072, type=c\nstart=139264, type=83\n' | sfdisk -q "$base"
mkfs.vfat -F 32 -n BOOTFS -C "$t/boot.fat" 65536 >/dev/null
printf 'arm_64bit=1\n' >"$t/config.txt"
mcopy -i "$t/boot.fat" "$t/config.txt" ::config.txt
dd if="$t/boot.fat" of="$base" bs=512 seek=8192 conv=notrunc,sparse status=none
mke2fs -q -t ext4 -L rootfs -d "$tree" -E offset=$((139264 * 512)) "$base" 65536k
xz -T0 -1 -k "$base"
base_sum=$(sha256sum <"$base.xz")

# --- make image ------------------------------------------------------------
dist=$t/dist
start=$(date +%s)
if out=$("$make" --no-print-directory image BASE="$base.xz" DIST="$dist" VERSION="$version" XZ_LEVEL=-1 2>&1); then
	ok "make image BASE=….img.xz"
else
	bad "make image: $out"
	echo "test-image: $pass passed, $fail failed"
	exit 1
fi
check "the base image is left untouched" "$(sha256sum <"$base.xz")" "$base_sum"
name=checkpoint-$version-arm64.img.xz
if (cd "$dist" && sha256sum -c --quiet "$name.sha256"); then ok "$name.sha256 matches"; else bad "$name.sha256 does not match"; fi
img=$t/out.img
xz -dc "$dist/$name" >"$img"
partitions "$img"
check "boot partition offset" "$boot_off" $((8192 * 512))
check "root partition offset" "$root_off" $((139264 * 512))
root=$(rootfs "$img")

# --- the root file system ---------------------------------------------------
if out=$(e2fsck -fn "$root" 2>&1); then ok "e2fsck: root file system clean"; else bad "e2fsck: $out"; fi
field() { # field STAT NAME: a value from debugfs's stat output
	sed -n "s/.*$2: *\([^ ]*\).*/\1/p" <<<"$1" | head -1
}
inspect() { # inspect PATH TYPE MODE [SOURCE]
	local st
	if ! st=$(e2stat "$img" "$1"); then
		bad "$1 missing from the image"
		return
	fi
	check "$1 type" "$(field "$st" Type)" "$2"
	check "$1 mode" "$(field "$st" Mode)" "$3"
	check "$1 owner" "$(field "$st" User):$(field "$st" Group)" "0:0"
	if [ -n "${4:-}" ]; then
		rm -f "$t/dumped"
		debugfs -R "dump $1 $t/dumped" "$root" 2>/dev/null
		if cmp -s "$4" "$t/dumped"; then ok "$1 content"; else bad "$1 content differs from $4"; fi
	fi
}
# Every file and directory of the package, as dpkg would have put it.
deb=$dist/checkpoint_$(deb/version.sh "$version")_arm64.deb
dpkg-deb -R "$deb" "$t/pkg"
while IFS= read -r p; do
	if [ -d "$t/pkg$p" ]; then
		inspect "$p" directory "0$(stat -c %a "$t/pkg$p")"
	else
		inspect "$p" regular "0$(stat -c %a "$t/pkg$p")" "$t/pkg$p"
	fi
done < <(cd "$t/pkg" && find . -path ./DEBIAN -prune -o -print | sed -n 's|^\.\(/..*\)|\1|p')
inspect "/var/lib/checkpoint-update/packages/checkpoint_$(deb/version.sh "$version").deb" regular 0600 "$deb"
check "/etc/checkpoint mode (the config may hold web.token)" "$(field "$(e2stat "$img" /etc/checkpoint)" Mode)" 0750
while read -r src dst mode; do
	case $src in '' | '#'*) continue ;; esac
	[ -e "$t/pkg$dst" ] || bad "$dst (image/files.list) missing from the package"
done <image/files.list
for link in /etc/systemd/system/multi-user.target.wants/checkpoint.service /etc/systemd/system/paths.target.wants/checkpoint-update.path; do
	if st=$(e2stat "$img" "$link"); then
		check "$link type" "$(field "$st" Type)" symlink
		check "$link target" "$(sed -n 's/^Fast link dest: "\(.*\)"$/\1/p' <<<"$st")" "/usr/lib/systemd/system/${link##*/}"
	else
		bad "$link missing: the unit would not start at boot"
	fi
done
if e2stat "$img" /var/lib/systemd/deb-systemd-helper-enabled/checkpoint.service.dsh-also >/dev/null; then
	ok "deb-systemd-helper's record of the enabled units (a purge removes the links)"
else
	bad "no deb-systemd-helper record in the image"
fi
# dpkg's record: the package installed, the base's packages kept.
dpkg_state() { # dpkg_state IMG: Status and Version of each package in the image's dpkg database
	rm -rf "$t/dpkgdb" && mkdir -p "$t/dpkgdb"
	debugfs -R "rdump /var/lib/dpkg $t/dpkgdb" "$(rootfs "$1")" 2>/dev/null
	dpkg-query --admindir="$t/dpkgdb/dpkg" -W -f '${Package} ${Status} ${Version}\n' 2>&1 | sort | tr '\n' ';'
}
check "dpkg's database" "$(dpkg_state "$img")" "base-files install ok installed 12.4;checkpoint install ok installed $(deb/version.sh "$version");"
usr_mtime=$(debugfs -R "stat /usr" "$root" 2>/dev/null | sed -n 's/^ *mtime: 0x\([0-9a-f]*\).*/\1/p')
if [ $((16#$usr_mtime)) -ge "$start" ]; then
	ok "/usr newer than /etc/.updated: systemd-sysusers runs on first boot"
else
	bad "/usr mtime $((16#$usr_mtime)) not bumped"
fi
check "base files kept" "$(debugfs -R "cat /etc/hostname" "$root" 2>/dev/null)" raspberrypi

# --- the boot partition ----------------------------------------------------
boot=$(bootfs "$img")
for pair in checkpoint.toml:image/checkpoint.toml CHECKPOINT-README.txt:image/BOOT-README.txt; do
	if mcopy -n -i "$boot" "::${pair%%:*}" "$t/fat-file" 2>/dev/null && cmp -s "$t/fat-file" "${pair#*:}"; then
		ok "boot partition: ${pair%%:*}"
	else
		bad "boot partition: ${pair%%:*} missing or differs from ${pair#*:}"
	fi
	rm -f "$t/fat-file"
done
check "boot partition: base files kept" "$(mcopy -n -i "$boot" ::config.txt - 2>&1)" arm_64bit=1

# --- the binary in the image runs on arm64 ---------------------------------
debugfs -R "dump /usr/bin/checkpoint $t/checkpoint" "$root" 2>/dev/null
chmod +x "$t/checkpoint"
check "checkpoint version (arm64 binary from the image, qemu-aarch64)" \
	"$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$t/checkpoint" version 2>&1)" "checkpoint $version"

# --- provisioning a gate onto the built image ------------------------------
printf 'gate = "test-gate"\n\n[web]\nlisten = "0.0.0.0:8080"\ntoken = "provision-test-token"\n' >"$t/site.toml"
if out=$("$native" provision "$img" --config "$t/site.toml" 2>&1); then ok "provision"; else bad "provision: $out"; fi
if mcopy -n -i "$boot" ::checkpoint.toml "$t/back.toml" && cmp -s "$t/site.toml" "$t/back.toml"; then
	ok "provision: config read back identical"
else
	bad "provision: config read back differs"
fi
printf 'gate = "x"\n[web]\nlisten = "0.0.0.0:8080"\n' >"$t/bad.toml"
sum=$(sha256sum <"$img")
if out=$("$native" provision "$img" --config "$t/bad.toml" 2>&1); then
	bad "provision accepted a config without web.token"
else
	case $out in *"bad.toml"*"web.token"*) ok "provision refuses a malformed config: $out" ;; *) bad "provision's refusal does not name the key: $out" ;; esac
fi
check "a refused provisioning leaves the image untouched" "$(sha256sum <"$img")" "$sum"
if out=$(e2fsck -fn "$root" 2>&1); then ok "e2fsck after provisioning"; else bad "e2fsck after provisioning: $out"; fi

# --- rebuilding from a built (plain .img) image replaces the package --------
printf '#!/bin/sh\necho another build\n' >"$t/alt" && chmod +x "$t/alt"
altdeb=$(deb/build.sh "$t/alt" arm64 "$version.2" "$t/altdeb")
sum=$(sha256sum <"$img")
if out=$(XZ_LEVEL=-0 image/build.sh "$img" "$altdeb" "$version-2" "$t/dist2" 2>&1); then
	check "rebuild: the base .img is left untouched" "$(sha256sum <"$img")" "$sum"
	xz -dc "$t/dist2/checkpoint-$version-2-arm64.img.xz" >"$t/again.img"
	if out=$(e2fsck -fn "$(rootfs "$t/again.img")" 2>&1); then ok "rebuild from a built image: clean"; else bad "rebuild: e2fsck: $out"; fi
	debugfs -R "dump /usr/bin/checkpoint $t/alt-back" "$(rootfs "$t/again.img")" 2>/dev/null
	if cmp -s "$t/alt" "$t/alt-back"; then ok "rebuild: the new binary replaced the old"; else bad "rebuild: old binary left"; fi
	check "rebuild: dpkg's record replaced" "$(dpkg_state "$t/again.img")" "base-files install ok installed 12.4;checkpoint install ok installed $(deb/version.sh "$version.2");"
else
	bad "rebuild from a built image: $out"
fi

# --- make image installs its own tools ---------------------------------------
# Every program the image build runs comes from a package `make image`
# installs when missing (image-deps): a fresh machine needs nothing else.
pkgs=" $("$make" --no-print-directory -s image-pkgs) "
for tool in aarch64-linux-gnu-gcc sfdisk debugfs e2fsck mcopy xz dpkg-deb deb-systemd-helper; do
	owner=$(dpkg -S "bin/$tool" 2>/dev/null | awk -F': ' -v t="$tool" '$2 ~ ("/" t "$") { sub(/:.*/, "", $1); print $1; exit }')
	if [ -z "$owner" ]; then
		bad "make image: no package owns $tool"
	elif [[ $pkgs == *" $owner "* ]]; then
		ok "make image installs $owner ($tool)"
	else
		bad "make image does not install $owner, which $tool comes from (it installs:$pkgs)"
	fi
done

# --- bad input -------------------------------------------------------------
if out=$("$make" --no-print-directory image DIST="$dist" 2>&1); then bad "make image without BASE succeeded"; else
	case $out in *"usage: make image BASE="*) ok "make image without BASE: usage" ;; *) bad "make image without BASE: $out" ;; esac
fi
truncate -s 8M "$t/nofs.img"
printf 'label: dos\nstart=2048, size=4096, type=c\nstart=6144, type=83\n' | sfdisk -q "$t/nofs.img"
if out=$(image/build.sh "$t/nofs.img" "$deb" "$version" "$dist" 2>&1); then bad "build.sh accepted an image without ext4"; else
	case $out in *"not an ext4 file system"*) ok "no ext4 root: refused" ;; *) bad "no ext4 root: $out" ;; esac
fi

echo "test-image: $pass passed, $fail failed"
[ "$fail" = 0 ]
