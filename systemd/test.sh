#!/usr/bin/env bash
# Checks the unit files as CI does (make test-systemd), without a running
# systemd: the units, sysusers.d and tmpfiles.d files are installed into a test
# root with the files.list layout, then
#   - systemd-analyze verify passes on each unit, silently;
#   - systemd-analyze security --offline=yes: exposure printed, at most 2.0,
#     and every remaining allowance of checkpoint.service named in a comment;
#   - systemd-sysusers and systemd-tmpfiles create the user, groups and
#     directories with the right owners and modes.
# usage: systemd/test.sh BINARY
set -euo pipefail
bin=${1:?usage: systemd/test.sh BINARY}
cd "$(dirname "$0")/.."
max_exposure=2.0
units=(checkpoint.service checkpoint-firstboot.service checkpoint-fault.service checkpoint-stick@.service)
# The firmware installer runs dpkg as root: verified, and its exposure
# printed and held where it is (it cannot be low: dpkg writes /usr and /etc).
root_units=(checkpoint-update.service checkpoint-update.path)
max_installer_exposure=6.0

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# The test root: the host's own units (verify resolves sysinit.target and
# friends inside the root), then ours and the binary where the image has them.
mkdir -p "$root/usr/lib/systemd/system" "$root/etc" "$root/usr/bin"
cp -a /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"
# The shell checkpoint-fault.service runs, where Debian and Raspberry Pi OS
# have it (/bin is /usr/bin).
ln -s usr/bin "$root/bin"
cp /bin/sh "$root/usr/bin/sh"
while read -r src dst mode; do
	case $src in '' | '#'* | @CHANGELOG) continue ;; @BIN) src=$bin ;; esac
	install -D -m "$mode" "$src" "$root$dst"
done <image/files.list
# The stick unit's commands, where the image has them.
for b in systemd-mount systemd-umount systemctl; do install -D "/usr/bin/$b" "$root/usr/bin/$b"; done

# verify: exit 0 and not a word (it exits 0 on unknown keys and bad values,
# printing a warning).
verify() { systemd-analyze verify --root="$root" "$root/usr/lib/systemd/system/$1" 2>&1; }
for u in "${units[@]}"; do
	if out=$(verify "$u") && [ -z "$out" ]; then
		ok "verify $u"
	else
		bad "verify $u: $out"
	fi
done
for u in "${root_units[@]}"; do
	if out=$(verify "$u") && [ -z "$out" ]; then
		ok "verify $u"
	else
		bad "verify $u: $out"
	fi
done
level=$(systemd-analyze security --offline=yes --root="$root" checkpoint-update.service 2>&1 | sed -n 's/.*Overall exposure level for checkpoint-update.service: \([0-9.]*\).*/\1/p')
if [ -n "$level" ] && awk -v l="$level" -v m="$max_installer_exposure" 'BEGIN { exit !(l <= m) }'; then
	ok "security checkpoint-update.service (root, dpkg): exposure $level <= $max_installer_exposure"
else
	bad "security checkpoint-update.service: exposure '$level' > $max_installer_exposure"
fi
# The check must be able to fail: a unit with a bad value and a missing binary.
sed -e 's/^Type=notify/Type=notifi/' -e 's|^ExecStart=/usr/bin/checkpoint|ExecStart=/usr/bin/checkpoint-missing|' \
	"$root/usr/lib/systemd/system/checkpoint.service" >"$root/usr/lib/systemd/system/broken-check.service"
if out=$(verify broken-check.service) && [ -z "$out" ]; then
	bad "verify accepted a broken unit"
else
	ok "verify rejects a broken unit"
fi
rm "$root/usr/lib/systemd/system/broken-check.service"

# security: exposure at most $max_exposure.
for u in "${units[@]}"; do
	u=${u/@./@sda1.} # a template is rated as an instance
	report=$(systemd-analyze security --offline=yes --root="$root" "$u" 2>&1 || true)
	[ "$u" = checkpoint.service ] && printf '%s\n' "$report"
	level=$(printf '%s\n' "$report" | sed -n "s/.*Overall exposure level for $u: \([0-9.]*\).*/\1/p")
	if [ -z "$level" ]; then
		bad "security $u: no exposure level in the report"
	elif awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l <= m) }'; then
		ok "security $u: exposure $level <= $max_exposure"
	else
		bad "security $u: exposure $level > $max_exposure"
	fi
	[ "$u" = checkpoint.service ] || continue
	# Every allowance left (a ✗ row) is explained in a comment of the unit.
	comments=$(grep '^#' "systemd/$u")
	while read -r setting; do
		# RestrictAddressFamilies=~AF_(INET|INET6) is explained as AF_INET.
		key=$(printf '%s' "$setting" | sed -e 's/^RestrictAddressFamilies=~//' -e 's/^\(AF_[A-Z0-9]*\).*/\1/' -e 's|/.*||')
		# Not printf | grep -q: grep may exit at the match before printf's
		# last write, and under pipefail printf's SIGPIPE fails the check
		# (seen once in a loaded CI run; 1 in 3000 here with the cores busy).
		if grep -qF -- "$key" <<<"$comments"; then
			ok "allowance $setting explained"
		else
			bad "allowance $setting ($key) not explained in a comment of systemd/$u"
		fi
	done < <(printf '%s\n' "$report" | sed -n 's/^✗ \([^ ]*\) .*/\1/p')
done

# A daemon that cannot start (exit 75) or has a bad config (78) is not
# restarted: the unit fails and OnFailure= shows the fault pattern, whose unit
# starts the daemon again after a start failure. (make test-boot shows it
# happen under systemd.)
unit_value() { # unit_value UNIT KEY: the values KEY= has in UNIT, one a line
	sed -n "s/^$2=//p" "systemd/$1"
}
check_unit() { # check_unit WHAT GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
check_unit "checkpoint.service: no restart on exit 78 and 75" "$(unit_value checkpoint.service RestartPreventExitStatus)" "78 75"
check_unit "checkpoint.service: OnFailure= the fault unit" "$(unit_value checkpoint.service OnFailure)" checkpoint-fault.service
# Only checkpoint.service names the fault unit (a refused config fails its
# start through Requires=): with a second OnFailure= source systemd passes no
# MONITOR_* variables, and the fault unit would never retry a start failure.
check_unit "checkpoint-fault.service is the OnFailure= of checkpoint.service alone" \
	"$(grep -l '^OnFailure=checkpoint-fault.service' systemd/*.service | tr '\n' ' ')" "systemd/checkpoint.service "
check_unit "checkpoint-fault.service: its retry exit (75) is a success" "$(unit_value checkpoint-fault.service SuccessExitStatus)" 75
case $(unit_value checkpoint-fault.service ExecStart) in
*" --fault --retry "*) ok "checkpoint-fault.service retries the daemon after a start failure" ;;
*) bad "checkpoint-fault.service: ExecStart= has no --fault --retry" ;;
esac
case $(unit_value checkpoint-fault.service ExecStopPost) in
*'"$EXIT_STATUS" = 75'*"systemctl --no-block start checkpoint.service"*) ok "checkpoint-fault.service starts the daemon again only after its retry exit" ;;
*) bad "checkpoint-fault.service: ExecStopPost= does not start checkpoint.service on exit 75 alone" ;;
esac

# sysusers and tmpfiles on a root whose /etc knows only root and video.
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nvideo:x:44:\n' >"$root/etc/group"
if out=$(systemd-sysusers --root="$root" 2>&1); then ok "systemd-sysusers"; else bad "systemd-sysusers: $out"; fi
if grep -q '^checkpoint:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$root/etc/passwd"; then
	ok "user checkpoint created, no login shell"
else
	bad "user checkpoint missing: $(cat "$root/etc/passwd")"
fi
for g in video gpio; do
	if grep -Eq "^$g:x:[0-9]+:(.*,)?checkpoint(,.*)?$" "$root/etc/group"; then
		ok "checkpoint in group $g"
	else
		bad "checkpoint not in group $g: $(grep "^$g:" "$root/etc/group")"
	fi
done
if out=$(systemd-tmpfiles --root="$root" --create 2>&1); then ok "systemd-tmpfiles --create"; else bad "systemd-tmpfiles: $out"; fi
uid=$(awk -F: '$1 == "checkpoint" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "checkpoint" { print $3 }' "$root/etc/group")
while read -r path want; do
	got=$(stat -c '%a %u:%g' "$root$path" 2>&1 || true)
	if [ "$got" = "$want" ]; then ok "$path $got"; else bad "$path is $got, want $want"; fi
done <<EOT
/etc/checkpoint 750 0:$gid
/etc/checkpoint/checkpoint.toml 640 0:$gid
/var/lib/checkpoint 750 $uid:$gid
EOT

echo "test-systemd: $pass passed, $fail failed"
[ "$fail" = 0 ]
