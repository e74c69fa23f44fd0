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

# Edits of the root file system of an image as one debugfs script, built up
# by e2_mkdirs, e2_write and e2_symlink and applied by e2_apply: every file
# and directory owned by root:root, an existing file replaced.
e2_begin() { # e2_begin IMG SCRIPT
	e2img=$1 e2cmds=$2
	: >"$e2cmds"
	e2made=()
}

e2_mkdirs() { # e2_mkdirs PATH MODE: PATH and its missing parents
	local p=$1 mode=$2 parent
	[[ " ${e2made[*]} " == *" $p "* ]] && return 0
	e2stat "$e2img" "$p" >/dev/null && return 0
	parent=$(dirname "$p")
	[ "$parent" = / ] || e2_mkdirs "$parent" 0755
	printf 'mkdir %s\nsif %s mode 040%s\nsif %s uid 0\nsif %s gid 0\n' "$p" "$p" "${mode#0}" "$p" "$p" >>"$e2cmds"
	e2made+=("$p")
}

e2_remove() { # e2_remove PATH: when it exists (not a directory)
	local st
	st=$(e2stat "$e2img" "$1") || return 0
	[[ $st == *"Type: directory"* ]] && die "$1 is a directory in the image"
	printf 'rm %s\n' "$1" >>"$e2cmds"
}

e2_write() { # e2_write SRC DST MODE
	[ -f "$1" ] || die "$1: missing"
	e2_mkdirs "$(dirname "$2")" 0755
	e2_remove "$2"
	printf 'write %s %s\nsif %s mode 0100%s\nsif %s uid 0\nsif %s gid 0\n' "$1" "$2" "$2" "${3#0}" "$2" "$2" >>"$e2cmds"
}

e2_symlink() { # e2_symlink LINK TARGET
	e2_mkdirs "$(dirname "$1")" 0755
	e2_remove "$1"
	printf 'symlink %s %s\n' "$1" "$2" >>"$e2cmds"
}

e2_apply() { # runs the script, then checks the file system
	local root errs out
	root=$(rootfs "$e2img")
	errs=$(debugfs -w -f "$e2cmds" "$root" 2>&1 >/dev/null | grep -v '^debugfs [0-9]' || true)
	[ -z "$errs" ] || die "debugfs: $errs"
	out=$(e2fsck -fn "$root" 2>&1) || die "the root file system does not check clean after writing: $out"
}
