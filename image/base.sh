#!/usr/bin/env bash
# Builds a Raspberry Pi OS Lite-like base image from the Debian bookworm
# archive, for make test-boot (Raspberry Pi OS images cannot be fetched here):
#   - an MBR table (disk id 0x5cba1e00) with Raspberry Pi OS Lite's layout: a
#     FAT32 partition labelled bootfs from sector 8192 (512 MiB), mounted at
#     /boot/firmware, then an ext4 partition labelled rootfs;
#   - bootfs: config.txt, cmdline.txt (root=PARTUUID=5cba1e00-02, as the Pi's
#     images name it), the kernel as kernel8.img, its initramfs as
#     initramfs8 and the Pi 3 B device tree;
#   - rootfs: Debian bookworm arm64 (mmdebstrap, variant minbase) with
#     systemd, udev and Debian's own kernel (linux-image-arm64) and an
#     initramfs holding the SD card and ext4 modules.
# The foreign architecture's maintainer scripts run under qemu-user-static
# through binfmt_misc, which this script mounts and registers when missing.
# Needs root (mmdebstrap's root mode, mke2fs -d keeping owners).
#
# usage: image/base.sh OUT.img
#   MIRROR (default http://deb.debian.org/debian) is the Debian archive.
set -euo pipefail
[ $# = 1 ] || { echo "usage: image/base.sh OUT.img" >&2; exit 2; }
out=$1
cd "$(dirname "$0")/.."
. image/lib.sh
mirror=${MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || die "base.sh needs root (mmdebstrap --mode=root, mke2fs -d keeping owners)"
for tool in mmdebstrap mke2fs mkfs.vfat mcopy mmd sfdisk arch-test; do
	command -v "$tool" >/dev/null || die "$tool not found: make test-boot installs it"
done

# binfmt: arm64 programs (the packages' maintainer scripts) run through
# qemu-aarch64-static.
if ! arch-test arm64 >/dev/null 2>&1; then
	bf=/proc/sys/fs/binfmt_misc
	[ -e "$bf/register" ] || mount -t binfmt_misc binfmt_misc "$bf" || die "cannot mount binfmt_misc on $bf"
	[ -e "$bf/qemu-aarch64" ] || /usr/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf ||
		die "cannot register qemu-aarch64 with binfmt_misc (is qemu-user-static installed?)"
	arch-test arm64 >/dev/null 2>&1 || die "arm64 programs do not run here: $(arch-test arm64 2>&1)"
fi

label_id=0x5cba1e00
partuuid=5cba1e00
boot_start=8192              # sectors, as in Raspberry Pi OS images
boot_sectors=$((512 * 2048)) # 512 MiB
root_start=$((boot_start + boot_sectors))

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.base.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

# The initramfs: only the modules a Pi's SD card and root file system need
# (MODULES=list), set up before the kernel's postinst builds it.
initramfs_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d" &&
printf "MODULES=list\nCOMPRESS=gzip\n" >"$1/etc/initramfs-tools/conf.d/checkpoint-base.conf" &&
printf "%s\n" sdhci-iproc bcm2835 ext4 >"$1/usr/share/initramfs-tools/modules.d/checkpoint-base"'

echo "base: mmdebstrap bookworm arm64 into $root"
mmdebstrap --mode=root --architectures=arm64 --variant=minbase \
	--include=systemd-sysv,udev,kmod,initramfs-tools,linux-image-arm64,e2fsprogs,dosfstools \
	--aptopt='Acquire::Languages "none"' \
	--setup-hook="$initramfs_hook" \
	--customize-hook='echo raspberrypi >"$1/etc/hostname"' \
	--customize-hook='printf "127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n" >"$1/etc/hosts"' \
	--customize-hook="printf 'proc            /proc           proc    defaults          0       0\nPARTUUID=$partuuid-01  /boot/firmware  vfat    defaults          0       2\nPARTUUID=$partuuid-02  /               ext4    defaults,noatime  0       1\n' >\"\$1/etc/fstab\"" \
	--customize-hook='mkdir -p "$1/boot/firmware"' \
	bookworm "$root" "deb $mirror bookworm main"

kver=$(basename "$(ls -d "$root"/usr/lib/linux-image-*-arm64 | tail -1)")
kver=${kver#linux-image-}
echo "base: kernel $kver"
for f in "boot/vmlinuz-$kver" "boot/initrd.img-$kver" "usr/lib/linux-image-$kver/broadcom/bcm2837-rpi-3-b.dtb"; do
	[ -f "$root/$f" ] || die "$f missing from the root file system"
done

# bootfs: what the Pi's firmware reads. On Raspberry Pi OS the kernel
# package keeps these up to date; here they are copied once.
fat=$work/boot.fat
mkfs.vfat -F 32 -n bootfs -C "$fat" $((boot_sectors / 2)) >/dev/null 2>&1 || die "mkfs.vfat failed"
printf '%s\n' \
	'# Raspberry Pi firmware settings (see the Raspberry Pi documentation).' \
	'arm_64bit=1' 'kernel=kernel8.img' 'auto_initramfs=1' 'disable_overscan=1' 'enable_uart=1' \
	'' '[pi3]' 'device_tree=bcm2837-rpi-3-b.dtb' '' '[all]' >"$work/config.txt"
echo "console=serial0,115200 console=tty1 root=PARTUUID=$partuuid-02 rootfstype=ext4 fsck.repair=yes rootwait" >"$work/cmdline.txt"
mcopy -i "$fat" "$work/config.txt" "$work/cmdline.txt" ::
mcopy -i "$fat" "$root/boot/vmlinuz-$kver" ::kernel8.img
mcopy -i "$fat" "$root/boot/initrd.img-$kver" ::initramfs8
mcopy -i "$fat" "$root/usr/lib/linux-image-$kver/broadcom/bcm2837-rpi-3-b.dtb" ::

# rootfs: the tree as an ext4 file system, with room for the gate's cache
# and journal.
used=$(du -sm "$root" | cut -f1)
root_mib=$((used + used / 4 + 512))
img=$work/base.img
truncate -s $(((root_start / 2048 + root_mib) * 1024 * 1024)) "$img"
printf 'label: dos\nlabel-id: %s\nstart=%d, size=%d, type=c\nstart=%d, type=83\n' \
	"$label_id" "$boot_start" "$boot_sectors" "$root_start" | sfdisk -q "$img"
dd if="$fat" of="$img" bs=512 seek="$boot_start" conv=notrunc,sparse status=none
mke2fs -q -t ext4 -L rootfs -d "$root" -E offset=$((root_start * 512)) "$img" "${root_mib}M"
mv "$img" "$out"
echo "base: $out ($(du -h --apparent-size "$out" | cut -f1), kernel $kver)"
