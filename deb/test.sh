#!/usr/bin/env bash
# make test-deb: the Debian package on a Debian 12 root file system. A
# bookworm amd64 chroot (mmdebstrap, minbase with systemd, cached in
# DEB_CACHE like test-boot's base) gets two real builds of different
# versions, A and B (make deb): install A; the config edited as a technician
# would; upgrade to B (with a changed template, so dpkg must choose: the
# edit is kept, the new template lands beside it as .dpkg-dist); remove;
# install again; purge. Each step checks what dpkg, the maintainer scripts,
# systemd-sysusers, systemd-tmpfiles and deb-systemd-helper left. Then the
# firmware path without systemd (deb/firmware.sh). Needs root (chroot).
#
# usage: deb/test.sh DEB_A DEB_B   (make test-deb)
set -euo pipefail
deb_a=$(realpath "${1:?usage: deb/test.sh DEB_A DEB_B}")
deb_b=$(realpath "${2:?usage: deb/test.sh DEB_A DEB_B}")
cd "$(dirname "$0")/.."
die() { echo "test-deb: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (chroot)"
cache=${DEB_CACHE:-.cache/deb}
mirror=${MIRROR:-http://deb.debian.org/debian}
pkgs=systemd,init-system-helpers
base=$cache/bookworm-amd64-$(printf '%s' "$pkgs" | sha256sum | cut -c1-12).tar
if [ ! -f "$base" ]; then
	rm -f "$cache"/bookworm-amd64-*.tar
	mkdir -p "$cache"
	echo "test-deb: building $base (once; cached)"
	s=$(date +%s)
	mmdebstrap --mode=root --format=tar --variant=minbase --include="$pkgs" --aptopt='Acquire::Languages "none"' \
		bookworm "$base.tmp" "deb $mirror bookworm main" >"$cache/mmdebstrap.log" 2>&1 ||
		die "mmdebstrap failed: $(tail -5 "$cache/mmdebstrap.log")"
	mv "$base.tmp" "$base"
	echo "test-deb: chroot built in $(($(date +%s) - s)) s"
fi

t=$(mktemp -d)
r=$t/root
cleanup() {
	umount "$r/proc" 2>/dev/null || true
	rm -rf "$t"
}
trap cleanup EXIT
mkdir -p "$r"
tar -C "$r" -xf "$base"
mount -t proc proc "$r/proc"
cp "$deb_a" "$r/tmp/a.deb"
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1: $2"; else bad "$1: got '$2', want '$3'"; fi; }
inroot() { chroot "$r" "$@"; }
ver() { dpkg-deb -f "$1" Version; }
status() { inroot dpkg-query -W -f '${Status} ${Version}' checkpoint 2>/dev/null || echo "none"; }
va=$(ver "$deb_a") vb=$(ver "$deb_b")
[ "$va" != "$vb" ] || die "A and B have the same version $va"

# B with a changed default config, as a release that changes the template.
dpkg-deb -R "$deb_b" "$t/b"
echo '# a setting new in this release' >>"$t/b/etc/checkpoint/checkpoint.toml"
dpkg-deb --root-owner-group -Zgzip -b "$t/b" "$r/tmp/b.deb" >/dev/null

# --- install A ---------------------------------------------------------------
if out=$(inroot dpkg -i /tmp/a.deb 2>&1); then ok "dpkg -i A ($va)"; else bad "dpkg -i A: $out"; fi
check "installed" "$(status)" "install ok installed $va"
check "checkpoint version" "$(inroot checkpoint version)" "checkpoint $(dpkg-deb --fsys-tarfile "$deb_a" | tar -xO ./usr/bin/checkpoint >"$t/bin-a" && chmod +x "$t/bin-a" && "$t/bin-a" version | cut -d' ' -f2)"
check "user checkpoint" "$(inroot getent passwd checkpoint | cut -d: -f6,7)" "/var/lib/checkpoint:/usr/sbin/nologin"
check "its groups" "$(inroot id -nG checkpoint | tr ' ' '\n' | grep -E '^(video|gpio)$' | sort | tr '\n' ' ')" "gpio video "
check "directories and config" "$(inroot stat -c '%n %a %U:%G' /etc/checkpoint /etc/checkpoint/checkpoint.toml /var/lib/checkpoint | tr '\n' ' ')" \
	"/etc/checkpoint 750 root:checkpoint /etc/checkpoint/checkpoint.toml 640 root:checkpoint /var/lib/checkpoint 750 checkpoint:checkpoint "
check "conffile" "$(inroot dpkg-query -W -f '${Conffiles}' checkpoint | awk 'NF { print $1 }')" "/etc/checkpoint/checkpoint.toml"
enabled() { # the units deb-systemd-helper enabled, as links that resolve
	local l
	for l in multi-user.target.wants/checkpoint.service paths.target.wants/checkpoint-update.path; do
		if inroot test -e "/etc/systemd/system/$l"; then printf '%s ' "$l"; fi
	done
}
check "enabled" "$(enabled)" "multi-user.target.wants/checkpoint.service paths.target.wants/checkpoint-update.path "
if out=$(inroot dpkg --verify checkpoint 2>&1) && [ -z "$out" ]; then ok "dpkg --verify: every file as shipped"; else bad "dpkg --verify: $out"; fi
uid=$(inroot id -u checkpoint)

# A technician's edit, and the gate's state.
sed -i 's/^gate = .*/gate = "north-7"/' "$r/etc/checkpoint/checkpoint.toml"
edited=$(sha256sum <"$r/etc/checkpoint/checkpoint.toml")
# A cache of this release's schema, written as the daemon writes it.
printf 'qid,status,valid_until\nQ1,green,\nQ2,red,\n' >"$r/tmp/q.csv"
asgate() { inroot setpriv --reuid=checkpoint --regid=checkpoint --clear-groups "$@"; }
asgate checkpoint cache import --csv /tmp/q.csv --config /etc/checkpoint/checkpoint.toml >/dev/null || bad "cache import as the user checkpoint"
state=$(sha256sum <"$r/var/lib/checkpoint/cache.db")

# --- upgrade to B --------------------------------------------------------------
if out=$(inroot env DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i /tmp/b.deb 2>&1); then
	ok "upgrade A -> B ($vb)"
else
	bad "upgrade: $out"
fi
check "upgraded" "$(status)" "install ok installed $vb"
check "the edited config is kept" "$(sha256sum <"$r/etc/checkpoint/checkpoint.toml")" "$edited"
check "the new template beside it" "$(tail -1 "$r/etc/checkpoint/checkpoint.toml.dpkg-dist" 2>&1)" "# a setting new in this release"
check "the user's id is kept" "$(inroot id -u checkpoint)" "$uid"
check "state kept" "$(sha256sum <"$r/var/lib/checkpoint/cache.db")" "$state"
check "still enabled" "$(enabled)" "multi-user.target.wants/checkpoint.service paths.target.wants/checkpoint-update.path "

# --- firmware through the feed, driven directly (no systemd here) ---------------
# The feed first names B (installed: not taken), then A marked as a
# deliberate rollback. The daemon's side (sync --from a stick's copy)
# offers it; the installer is killed (SIGKILL, its process group: dpkg
# too) in the middle of dpkg, and started again: the gate is back on B,
# dpkg's record whole; the next offer installs A.
host=$t/bin-a
feedd=$t/feed
"$host" feed init "$feedd" >/dev/null
printf 'qid,status,valid_until\nQ1,green,\n' >"$t/statuses.csv"
cp "$feedd/repo/root.json" "$r/etc/checkpoint/root.json"
cat >"$r/etc/checkpoint/fw.toml" <<EOT
gate = "north-7"
[cache]
path = "/var/lib/checkpoint/fw-cache.db"
EOT
chmod 0600 "$r/etc/checkpoint/fw.toml"
publish() { "$host" feed publish "$feedd" "$@" >>"$t/feed.log" 2>&1 && rm -rf "$r/tmp/stick" && "$host" feed export "$feedd" "$r/tmp/stick" >>"$t/feed.log" 2>&1; }
offer() { inroot checkpoint sync --once --from /tmp/stick --config /etc/checkpoint/fw.toml >"$t/sync.log" 2>&1; test -e "$r/var/lib/checkpoint/update/offer" && echo offered || echo none; }
installer() { inroot checkpoint update install --config /etc/checkpoint/fw.toml; }
laststate() { inroot checkpoint update status --config /etc/checkpoint/fw.toml | grep '^last:' | cut -d' ' -f2-3; }
publish --statuses "$t/statuses.csv" --firmware "$r/tmp/b.deb" || bad "feed publish B: $(tail -3 "$t/feed.log")"
check "the installed version is not offered" "$(offer)" none
publish --firmware "$deb_a" || true
check "a lower version without the rollback mark: refused by publish" "$(tail -1 "$t/feed.log" | grep -o 'pass --rollback')" "pass --rollback"
publish --firmware "$deb_a" --rollback || bad "feed publish A --rollback: $(tail -3 "$t/feed.log")"
check "a deliberate rollback to A is offered" "$(offer)" offered
setsid chroot "$r" checkpoint update install --config /etc/checkpoint/fw.toml >"$t/install-1.log" 2>&1 &
# Killed as soon as dpkg's record shows the package between two states
# (half installed, unpacked, half configured): in the middle of dpkg.
killed=
for _ in $(seq 1 3000); do
	st=$(inroot dpkg-query -W -f '${db:Status-Abbrev}${Version}' checkpoint 2>/dev/null || true)
	if [[ $st != "ii "* ]]; then
		kill -KILL -- -"$!" 2>/dev/null && killed=$st
		break
	fi
	kill -0 "$!" 2>/dev/null || break
	sleep 0.005
done
wait 2>/dev/null || true
if [ -n "$killed" ]; then ok "installer and dpkg killed in the middle (dpkg's record then: $killed)"; else bad "dpkg never seen running: $(cat "$t/install-1.log")"; fi
if out=$(installer 2>&1); then ok "the installer started again"; else bad "installer after the kill: $out"; fi
check "back on B, dpkg's record whole" "$(status) $(inroot checkpoint version | cut -d' ' -f2)" "install ok installed $vb $(dpkg-deb --fsys-tarfile "$deb_b" | tar -xO ./usr/bin/checkpoint >"$t/bin-b" && chmod +x "$t/bin-b" && "$t/bin-b" version | cut -d' ' -f2)"
check "recorded as cut short, not failed" "$(laststate) $(inroot checkpoint update status --config /etc/checkpoint/fw.toml | grep -c '^failed')" "rolled-back $va 0"
if out=$(inroot dpkg --audit 2>&1) && [ -z "$out" ]; then ok "dpkg --audit: nothing half installed"; else bad "dpkg --audit: $out"; fi
check "offered again" "$(offer)" offered
if out=$(installer 2>&1); then ok "installer"; else bad "installer: $out"; fi
check "the deliberate rollback installed (no probation without systemd)" "$(status) $(laststate)" "install ok installed $va installed $va"
check "the technician's config kept through it all" "$(sha256sum <"$r/etc/checkpoint/checkpoint.toml")" "$edited"
# B's prerm rewrote the cache for the older A (A's binary is this source's,
# so what is checked is that it ran: schema 4, the user's files, the rows).
cp "$r/var/lib/checkpoint/cache.db" "$t/cache-copy.db"
check "the cache rewritten for the older version (schema 4)" "$("$t/bin-a" cache downgrade --db "$t/cache-copy.db" | grep -o 'in schema 4 or older already')" "in schema 4 or older already"
check "the cache's files still the user checkpoint's" "$(cd "$r/var/lib/checkpoint" && find . -maxdepth 1 -name 'cache.db*' ! -uid "$uid" | tr '\n' ' ')" ""
check "its statuses read by the older version" "$(printf '******1|A B|1990-01-01|0|Q2|\n' | asgate checkpoint scan --json --text --config /etc/checkpoint/checkpoint.toml - 2>/dev/null | grep -o '"verdict":"red"')" '"verdict":"red"'
state=$(sha256sum <"$r/var/lib/checkpoint/cache.db")

# --- remove, install again, purge ------------------------------------------------
if out=$(inroot dpkg -r checkpoint 2>&1); then ok "dpkg -r"; else bad "dpkg -r: $out"; fi
check "removed: config files only" "$(status)" "deinstall ok config-files $va"
check "binary gone" "$(test -e "$r/usr/bin/checkpoint" && echo present || echo gone)" gone
check "config and state kept" "$(sha256sum <"$r/etc/checkpoint/checkpoint.toml") $(sha256sum <"$r/var/lib/checkpoint/cache.db")" "$edited $state"
if out=$(inroot dpkg --force-confdef --force-confold -i /tmp/a.deb 2>&1); then ok "dpkg -i A again (a downgrade after removal)"; else bad "dpkg -i A again: $out"; fi
check "installed again, edit kept, enabled" "$(status) $(sha256sum <"$r/etc/checkpoint/checkpoint.toml" | cut -c1-12) $(enabled)" \
	"install ok installed $va ${edited:0:12} multi-user.target.wants/checkpoint.service paths.target.wants/checkpoint-update.path "
if out=$(inroot dpkg -P checkpoint 2>&1); then ok "dpkg -P"; else bad "dpkg -P: $out"; fi
check "purged" "$(status)" none
left=$(cd "$r" && find etc var usr -name '*checkpoint*' ! -path 'etc/passwd*' 2>/dev/null | sort | tr '\n' ' ')
check "nothing of the package left (the user stays, as Debian's system users do)" "$left" ""
check "the user stays" "$(inroot id -u checkpoint)" "$uid"

echo "test-deb: $pass passed, $fail failed"
[ "$fail" = 0 ]
