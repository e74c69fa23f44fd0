#!/usr/bin/env bash
# Builds the Debian package checkpoint_DEBVERSION_ARCH.deb from image/files.list,
# the one list of what goes onto a gate: the binary, the units, sysusers,
# tmpfiles and udev rules, the default config (a conffile) and the docs, at
# the paths and modes the list gives, all owned by root. A destination ending
# in .gz whose source does not is compressed (gzip -9n); @BIN is the binary,
# @CHANGELOG the Debian changelog made here. The maintainer scripts are
# deb/postinst, prerm and postrm (@VERSION@ in them is the package's
# version); files under /etc are the conffiles.
# SOURCE_DATE_EPOCH (default: the last commit's time) dates the changelog
# and clamps every mtime, so the same inputs give the same package.
#
# usage: deb/build.sh BINARY ARCH VERSION OUTDIR   (make deb)
#   VERSION is the build's version (git describe); the package's is
#   deb/version.sh VERSION. Prints the path of the package written.
set -euo pipefail
[ $# = 4 ] || { echo "usage: deb/build.sh BINARY ARCH VERSION OUTDIR" >&2; exit 2; }
bin=$1 arch=$2 version=$3 out=$4
cd "$(dirname "$0")/.."
die() { echo "deb: $*" >&2; exit 1; }
for tool in dpkg-deb readelf gzip md5sum; do
	command -v "$tool" >/dev/null || die "$tool not found: make deb installs it"
done
[ -x "$bin" ] || die "$bin: no binary"
debver=$(deb/version.sh "$version")
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
mkdir -p "$root/DEBIAN"

# The changelog: native package, one entry for this build.
cat >"$stage/changelog" <<EOT
checkpoint ($debver) stable; urgency=medium

  * Build $version of checkpoint; the changes are in the project's history.

 -- checkpoint developers <dev@checkpoint.invalid>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
EOT

conffiles=()
while read -r src dst mode; do
	case $src in '' | '#'*) continue ;; @BIN) src=$bin ;; @CHANGELOG) src=$stage/changelog ;; esac
	[ -f "$src" ] || die "$src (image/files.list): missing"
	mkdir -p "$root$(dirname "$dst")"
	if [[ $dst == *.gz && $src != *.gz ]]; then
		gzip -9nc "$src" >"$root$dst"
		chmod "$mode" "$root$dst"
	else
		install -m "$mode" "$src" "$root$dst"
	fi
	[[ $dst == /etc/* ]] && conffiles+=("$dst")
done <image/files.list
# The config directory is the daemon's group's only (tmpfiles.d gives it the
# group checkpoint): the config may hold web.token.
chmod 0750 "$root/etc/checkpoint"

# Depends: the newest glibc symbol version the binary needs, as
# dpkg-shlibdeps would find it.
glibc=$( (readelf -V --wide "$bin" 2>/dev/null || true) | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1 || true)
libc="libc6"
[ -n "$glibc" ] && libc="libc6 (>= $glibc)"
size=$(find "$root" -path "$root/DEBIAN" -prune -o -type f -printf '%s\n' | awk '{ k += int(($1 + 1023) / 1024) } END { print k + 0 }')
sed -e "s/@VERSION@/$debver/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@LIBC@/$libc/" deb/control.in >"$root/DEBIAN/control"
printf '%s\n' "${conffiles[@]}" >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
	grep -vxF -f <(printf '%s\n' "${conffiles[@]#/}") | xargs md5sum) >"$root/DEBIAN/md5sums"
for s in postinst prerm postrm; do
	sed "s/@VERSION@/$debver/" "deb/$s" >"$root/DEBIAN/$s"
	chmod 0755 "$root/DEBIAN/$s"
done

mkdir -p "$out"
deb=$out/checkpoint_${debver}_${arch}.deb
dpkg-deb --root-owner-group -Zgzip -z9 --build "$root" "$deb" >/dev/null
echo "$deb"
