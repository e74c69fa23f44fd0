# Shell functions shared by image/build.sh and image/test.sh (sourced).
# Everything works on plain image files: no root, loop device or mount.

export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null DEBUGFS_PAGER=__none__ PAGER=__none__

die() {
	echo "image: $*" >&2
	exit 1
}

# partitions IMG: sets boot_off (first FAT partition) and root_off (first
# Linux partition), in bytes, from the image's MBR partition table.
partitions() {
	local img=$1 dump sector=512 line start type
	dump=$(sfdisk -d "$img" 2>&1) || die "$img: no partition table: $dump"
	case $dump in *"label: dos"*) ;; *) die "$img: not an MBR (dos) partition table, as Raspberry Pi OS images have" ;; esac
	boot_off='' root_off=''
	while IFS= read -r line; do
		case $line in
		sector-size:*) sector=${line##*: } ;;
		*" : start="*)
			start=$(sed -n 's/.*start= *\([0-9]*\).*/\1/p' <<<"$line")
			type=$(sed -n 's/.*type= *\([0-9a-fA-F]*\).*/\1/p' <<<"$line")
			case $type in
			c | b | e | 6 | 4 | 1) [ -n "$boot_off" ] || boot_off=$((start * sector)) ;;
			83) [ -n "$root_off" ] || root_off=$((start * sector)) ;;
			esac
			;;
		esac
	done <<<"$dump"
	[ -n "$boot_off" ] || die "$img: no FAT boot partition"
	[ -n "$root_off" ] || die "$img: no Linux root partition (type 83)"
}

# rootfs IMG: the debugfs/e2fsck name of the root file system inside IMG.
rootfs() { echo "$1?offset=$root_off"; }

# bootfs IMG: the mtools drive of the boot partition inside IMG.
bootfs() { echo "$1@@$boot_off"; }

# e2stat IMG PATH: debugfs's stat of PATH in the root file system; fails
# when PATH does not exist.
e2stat() {
	local out
	out=$(debugfs -R "stat $2" "$(rootfs "$1")" 2>&1)
	case $out in *"Inode: "*) printf '%s\n' "$out" ;; *) return 1 ;; esac
}
