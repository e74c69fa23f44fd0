#!/bin/bash
# The checks of make test-boot inside the emulated Raspberry Pi, run by
# checkpoint-boottest.service as root. Boot 1 runs on the config the host
# provisioned; it ends by putting a bad config on the boot partition. Boot 2
# runs on that. Each boot writes /boot/firmware/boottest/results-N.txt, one
# line a check ("ok ID what" or "FAIL ID what", ID as the host expects it)
# and "info KEY=VALUE" lines, then its journal beside it, and reboots: QEMU
# runs with -no-reboot, so the reboot ends the emulator.
#
# What the daemon drives is read from the kernel: /sys/kernel/debug/gpio
# lists each requested line with its consumer (periph names it
# checkpoint@PID), direction and level; the BCM2835 pin controller's debugfs
# file gives every pin's function and level, requested or not.
set -u
T=/usr/lib/checkpoint-boottest
R=/boot/firmware/boottest
S=/var/lib/checkpoint-boottest
mkdir -p "$R" "$S" /run/checkpoint-boottest
boot=$(($(cat "$S/boots" 2>/dev/null || echo 0) + 1))
echo "$boot" >"$S/boots"
out=$R/results-$boot.txt
: >"$out"
start=$SECONDS

say() { # a result line, with the seconds since the stage began
	echo "boottest: $* [+$((SECONDS - start))s]" >/dev/console
	echo "$* [+$((SECONDS - start))s]" >>"$out"
}
ok() { say "ok   $*"; }
bad() { say "FAIL $*"; }
info() { say "info $*"; }
check() { # check ID GOT WANT
	if [ "$2" = "$3" ]; then ok "$1 $2"; else bad "$1 got '$2', want '$3'"; fi
}
prop() { systemctl show -p "$2" --value "$1"; } # prop UNIT PROPERTY
scene() { echo "$1" >/run/checkpoint-boottest/scene; }

# --- GPIO as the kernel sees it --------------------------------------------
declare -A GP # requested lines: GP[GPIO17]="checkpoint@345 out hi"
sample() {
	GP=()
	local l
	while IFS= read -r l; do
		if [[ $l =~ \(([A-Za-z0-9_]+)\ *\|([^\ \)]*)\ *\)\ (in|out)\ +(hi|lo) ]]; then
			GP[${BASH_REMATCH[1]}]="${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]}"
		fi
	done </sys/kernel/debug/gpio
}
# await SECONDS COND: samples the GPIO lines until the bash condition COND
# holds (true) or SECONDS pass (false). SEEN collects the states seen.
SEEN=
await() {
	local end=$((SECONDS + $1)) k
	SEEN=
	while :; do
		sample
		for k in "${!GP[@]}"; do
			[[ $SEEN == *"[$k ${GP[$k]}]"* ]] || SEEN+="[$k ${GP[$k]}]"
		done
		eval "$2" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}
line_is() { [ "${GP[$1]:-free}" = "$2" ]; } # line_is NAME "CONSUMER out hi"
# held_by OWNER: the lines OWNER holds, "NAME DIR LEVEL" a line.
held_by() {
	local k
	for k in "${!GP[@]}"; do
		[[ ${GP[$k]} == "$1 "* ]] && echo "$k ${GP[$k]#* }"
	done | sort
}
# pins: "17:lo 22:lo 23:lo 24:lo 27:lo", the outputs' pad levels from the
# pin controller, whether or not a line is requested.
pins() {
	local l res=
	for n in 17 22 23 24 27; do
		l=$(grep -m1 "^pin $n (gpio$n)" /sys/kernel/debug/pinctrl/*bcm2835*/pins)
		[[ $l =~ function\ ([a-z0-9_]+)\ in\ (hi|lo) ]] && res+="$n:${BASH_REMATCH[2]} "
	done
	echo "${res% }"
}
all_lo="17:lo 22:lo 23:lo 24:lo 27:lo"

# blinking OWNER SECONDS: GPIO22 held by OWNER seen both high and low.
blinking() {
	local end=$((SECONDS + $2)) hi= lo=
	while [ "$SECONDS" -lt "$end" ]; do
		sample
		line_is GPIO22 "$1 out hi" && hi=1
		line_is GPIO22 "$1 out lo" && lo=1
		[ -n "$hi" ] && [ -n "$lo" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_active UNIT SECONDS: the unit active (for Type=notify: READY=1 came).
wait_active() {
	local end=$((SECONDS + $2))
	until [ "$(prop "$1" ActiveState)" = active ]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.5
	done
}
wait_state() { # wait_state UNIT STATE SECONDS
	local end=$((SECONDS + $3))
	until [ "$(prop "$1" ActiveState)" = "$2" ]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.5
	done
}
daemon() { echo "checkpoint@$(prop checkpoint.service MainPID)"; }

# privacy ID: the journal of this boot, every field, holds none of the
# personal strings of the codes shown; the search finds one when present.
privacy() {
	local j=/run/checkpoint-boottest/journal.txt found
	journalctl -b -o verbose --no-pager >"$j" 2>&1
	if found=$(grep -F -i -o -f "$T/secrets.txt" "$j" | sort -u | head -3) && [ -n "$found" ]; then
		bad "$1 the journal holds personal data of a code shown: $(wc -l <"$j") lines searched"
	else
		ok "$1 none of $(wc -l <"$T/secrets.txt") names, ID and document numbers, birth dates in $(wc -l <"$j") journal lines"
	fi
	if { cat "$j"; sed -n 2p "$T/secrets.txt"; } | grep -F -i -q -f "$T/secrets.txt"; then
		ok "$1-control the search finds a name added to the journal text"
	else
		bad "$1-control the search misses a name added to the journal text"
	fi
}

finish() {
	info "stage_seconds=$((SECONDS - start))"
	journalctl -b --no-pager >"$R/journal-$boot.txt" 2>&1
	sync
	say "done boot $boot"
	systemctl reboot
	sleep 60
	echo b >/proc/sysrq-trigger
}

# --- firmware through the feed, from a USB stick -----------------------------
# last_outcome: the installer's last result, "VERSION OUTCOME AT".
last_outcome() {
	sed -n '/"last"/,/}/p' /var/lib/checkpoint-update/state.json 2>/dev/null |
		sed -n 's/.*"\(version\|outcome\|at\)": "\([^"]*\)".*/\2/p' | tr '\n' ' '
}
# stick DIR: the feed DIR as if on a stick: in place, and the daemon told.
stick() {
	rm -rf /run/checkpoint-stick/feed
	mkdir -p /run/checkpoint-stick
	cp -a "$1" /run/checkpoint-stick/feed
	systemctl kill --kill-whom=main --signal=SIGUSR1 checkpoint.service
}
# await_outcome WANT SECONDS: the installer's last result starts with WANT.
await_outcome() {
	local end=$((SECONDS + $2))
	until [[ $(last_outcome) == "$1"* ]]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 2
	done
}
firmware() {
	local va vb vc t0 before
	va=$(cat "$T/version-a") vb=$(cat "$T/version-b") vc=$(cat "$T/version-c")
	check fw.image "$(dpkg-query -W -f '${Status} ${Version}' checkpoint)" "install ok installed $va"
	# B, a real build of the next version: installed, kept after its probation.
	t0=$SECONDS
	stick "$T/feed-b"
	if await_outcome "$vb installed" 600; then
		ok "fw.installed $vb installed by checkpoint-update.service and kept after its probation, $((SECONDS - t0)) s after the stick"
		info "firmware_install_s=$((SECONDS - t0))"
	else
		bad "fw.installed last result: $(last_outcome); $(journalctl -b -u checkpoint-update --no-pager | tail -5)"
	fi
	check fw.version "$(dpkg-query -W -f '${Status} ${Version}' checkpoint) $(/usr/bin/checkpoint version) $(prop checkpoint.service ActiveState)" \
		"install ok installed $vb checkpoint $(cat "$T/binary-b") active"
	check fw.conffile "$(sha256sum </etc/checkpoint/checkpoint.toml | cut -c1-64)" "$(cat "$T/config.sha256")"
	# C exits at start-up: rolled back to B, recorded, never taken again.
	t0=$SECONDS
	stick "$T/feed-c"
	if await_outcome "$vc rolled-back" 600; then
		ok "fw.rolledback $vc rolled back $((SECONDS - t0)) s after the stick: $(grep -o '"reason": "[^"]*"' /var/lib/checkpoint-update/state.json | tail -1)"
		info "firmware_rollback_s=$((SECONDS - t0))"
	else
		bad "fw.rolledback last result: $(last_outcome); $(journalctl -b -u checkpoint-update --no-pager | tail -5)"
	fi
	wait_active checkpoint.service 300
	check fw.kept "$(dpkg-query -W -f '${Status} ${Version}' checkpoint) $(prop checkpoint.service ActiveState)" "install ok installed $vb active"
	if /usr/bin/checkpoint update status --config /etc/checkpoint/checkpoint.toml | grep -q "^failed: $vc "; then
		ok "fw.failed checkpoint update status: $(/usr/bin/checkpoint update status --config /etc/checkpoint/checkpoint.toml | grep '^failed' | head -1)"
	else
		bad "fw.failed $(/usr/bin/checkpoint update status --config /etc/checkpoint/checkpoint.toml 2>&1 | tr '\n' ' ')"
	fi
	# The daemon (B again) reports it: its log, the event log.
	local end=$((SECONDS + 60)) ev=
	until ev=$(runuser -u checkpoint -- /usr/bin/checkpoint events export --since 2000-01-01T00:00:00Z --config /etc/checkpoint/checkpoint.toml 2>/dev/null | grep '"format":"firmware"') && [ -n "$ev" ]; do
		[ "$SECONDS" -lt "$end" ] || break
		sleep 2
	done
	if [ -n "$ev" ] && journalctl -b -u checkpoint --no-pager | grep -q 'firmware rolled back'; then
		ok "fw.reported the daemon's log and event log: $ev"
	else
		bad "fw.reported event '$ev'; log: $(journalctl -b -u checkpoint --no-pager | grep -c firmware) firmware lines"
	fi
	before=$(last_outcome)
	stick "$T/feed-c"
	sleep 15
	check fw.not-retried "$(last_outcome) $(test -e /var/lib/checkpoint/update/offer && echo offered || echo none)" "$before none"
}

# --- boot 1: first boot on the provisioned config ---------------------------
boot1() {
	local ready pid st faultpid
	# First-boot import, sysusers, tmpfiles, udev.
	if [ ! -e /boot/firmware/checkpoint.toml ] && [ -f /boot/firmware/checkpoint-imported.toml ]; then
		ok "import.renamed checkpoint.toml imported and renamed checkpoint-imported.toml"
	else
		bad "import.renamed boot partition: $(ls /boot/firmware | tr '\n' ' ')"
	fi
	if ! grep -qF "$(cat "$T/token")" /boot/firmware/checkpoint-imported.toml &&
		grep -q 'secrets (web.token) removed' /boot/firmware/checkpoint-imported.toml; then
		ok "import.secrets web.token cut out of the boot partition's copy"
	else
		bad "import.secrets the boot partition's copy still has web.token or no note of its removal"
	fi
	check import.installed "$(sha256sum </etc/checkpoint/checkpoint.toml | cut -c1-64) $(stat -c '%a %U:%G' /etc/checkpoint/checkpoint.toml)" \
		"$(cat "$T/config.sha256") 640 root:checkpoint"
	check sysusers.ran "$(prop systemd-sysusers.service ActiveState) $(prop systemd-sysusers.service Result)" "active success"
	check sysusers.user "$(getent passwd checkpoint | cut -d: -f6,7) $(id -nG checkpoint | tr ' ' '\n' | grep -E '^(video|gpio)$' | sort | tr '\n' ' ')" \
		"/var/lib/checkpoint:/usr/sbin/nologin gpio video "
	check tmpfiles.dirs "$(stat -c '%n %a %U:%G' /etc/checkpoint /var/lib/checkpoint | tr '\n' ' ')" \
		"/etc/checkpoint 750 root:checkpoint /var/lib/checkpoint 750 checkpoint:checkpoint "
	check udev.gpiochip "$(stat -c '%a %U:%G' /dev/gpiochip0)" "660 root:gpio"

	# READY under the shipped unit.
	if wait_active checkpoint.service 300; then
		ready=$(prop checkpoint.service ActiveEnterTimestampMonotonic)
		ok "ready checkpoint.service active (READY=1) $((ready / 1000000)).$((ready / 100000 % 10)) s after the kernel started"
		info "power_on_to_ready_s=$((ready / 1000000)).$((ready / 100000 % 10))"
		info "systemd_analyze=$(systemd-analyze 2>&1 | head -1 | tr -s ' ')"
	else
		bad "ready checkpoint.service is $(prop checkpoint.service ActiveState)/$(prop checkpoint.service SubState): $(journalctl -b -u checkpoint --no-pager | tail -5)"
		return
	fi
	check hardening.unit "$(readlink -f "$(prop checkpoint.service FragmentPath)") $(sha256sum </usr/lib/systemd/system/checkpoint.service | cut -c1-64) [$(prop checkpoint.service DropInPaths)]" \
		"/usr/lib/systemd/system/checkpoint.service $(cat "$T/unit.sha256") []"
	pid=$(prop checkpoint.service MainPID)
	st=$(awk '/^(Uid|NoNewPrivs|Seccomp|CapEff|CapBnd):/ { printf "%s%s ", $1, $2 }' "/proc/$pid/status")
	check hardening.process "$st" "Uid:$(id -u checkpoint) CapEff:0000000000000000 CapBnd:0000000000000000 NoNewPrivs:1 Seccomp:2 "

	# A green code: GPIO17 high and the relay (GPIO24) pulsed, by the daemon.
	sleep 2
	D=$(daemon)
	scene green
	if await 60 'line_is GPIO24 "$D out hi"'; then
		# One read of debugfs is not a snapshot: the kernel prints the lines
		# one by one while the daemon sets GPIO17 and then GPIO24, so the read
		# that first shows the relay high can show GPIO17 from before. A second
		# read, inside the relay's 1 s pulse, comes after both were set.
		sample
		if line_is GPIO17 "$D out hi" && ! line_is GPIO22 "$D out hi"; then
			ok "gpio.green GPIO17 high with the relay, $D holding them"
		else
			bad "gpio.green relay high but GPIO17 ${GP[GPIO17]:-free}, GPIO22 ${GP[GPIO22]:-free}"
		fi
		ok "gpio.relay GPIO24 pulsed: ${GP[GPIO24]}"
	else
		bad "gpio.green no relay pulse within 60 s; seen: $SEEN; log: $(journalctl -b -u checkpoint -o cat --no-pager | tail -3)"
	fi
	scene empty
	if await 20 'line_is GPIO17 "$D out lo" && line_is GPIO24 "$D out lo"'; then
		ok "gpio.green-ends the green pattern ends: GPIO17 and GPIO24 low"
	else
		bad "gpio.green-ends seen: $SEEN"
	fi
	sleep 4 # past the cooldown
	scene red
	if await 60 'line_is GPIO22 "$D out hi"'; then
		if [[ $SEEN != *"[GPIO24 $D out hi]"* ]] && line_is GPIO17 "$D out lo"; then
			ok "gpio.red GPIO22 high, green off and the relay not pulled"
		else
			bad "gpio.red GPIO22 high but seen: $SEEN"
		fi
	else
		bad "gpio.red GPIO22 not high within 60 s; seen: $SEEN"
	fi
	scene empty
	sleep 5

	# Stopped during a relay pulse: every output off, every line released.
	scene green
	if await 60 'line_is GPIO24 "$D out hi"'; then
		systemctl stop checkpoint.service
		sample
		check stop.outputs "[$(held_by "$D")] $(pins)" "[] $all_lo"
	else
		bad "stop.outputs no relay pulse to stop during; seen: $SEEN"
	fi
	scene empty

	# The check above can fail: a daemon killed during a relay pulse cannot
	# switch it off, and the emulated pin controller keeps the level latched
	# (a Pi's pad, an input once released, would read its pull-down). The
	# restarted daemon claims the pins at their safe level.
	systemctl start checkpoint.service
	wait_active checkpoint.service 300 || bad "restart.safe checkpoint.service did not start again"
	D=$(daemon)
	scene green
	if await 60 'line_is GPIO24 "$D out hi"'; then
		pid=$(prop checkpoint.service MainPID)
		kill -KILL "$pid"
		sleep 1
		case $(pins) in *"24:hi"*) ok "stop.control SIGKILL during the pulse leaves GPIO24 latched high: the stop check can fail" ;;
		*) bad "stop.control GPIO24 not high after SIGKILL during its pulse: $(pins)" ;;
		esac
		scene empty
		if wait_state checkpoint.service activating 30 && wait_active checkpoint.service 300 &&
			D=$(daemon) && [ "$D" != "checkpoint@$pid" ] && await 20 'line_is GPIO24 "$D out lo"'; then
			ok "restart.safe restarted after SIGKILL; the new daemon holds GPIO24 low: $(pins)"
		else
			bad "restart.safe after SIGKILL: $(prop checkpoint.service ActiveState), seen: $SEEN"
		fi
	else
		bad "stop.control no relay pulse; seen: $SEEN"
	fi
	scene empty

	# A hung loop: SIGSTOP. The watchdog (WatchdogSec=30s) kills it and
	# systemd starts it again.
	pid=$(prop checkpoint.service MainPID)
	local n0 since
	n0=$(prop checkpoint.service NRestarts)
	since=$(date '+%Y-%m-%d %H:%M:%S')
	kill -STOP "$pid"
	local t0=$SECONDS
	if wait_state checkpoint.service activating 90 && wait_active checkpoint.service 300 &&
		[ "$(prop checkpoint.service MainPID)" != "$pid" ]; then
		if journalctl -b -u checkpoint.service --since "$since" --no-pager | grep -q 'Watchdog timeout'; then
			ok "watchdog.restart SIGSTOPped daemon killed by the watchdog and restarted (NRestarts $n0 -> $(prop checkpoint.service NRestarts), ready again after $((SECONDS - t0)) s)"
		else
			bad "watchdog.restart restarted, but no watchdog timeout in the journal"
		fi
	else
		bad "watchdog.restart state $(prop checkpoint.service ActiveState), MainPID $(prop checkpoint.service MainPID) (stopped: $pid)"
		kill -CONT "$pid" 2>/dev/null
	fi

	# A daemon that cannot start (no camera program): exit 75, the unit
	# fails, OnFailure= starts the fault unit, GPIO22 blinks; the fault unit
	# starts the daemon again after its retry, which then finds the camera.
	mv /usr/bin/rpicam-vid /usr/bin/rpicam-vid.away
	systemctl restart checkpoint.service
	if wait_active checkpoint-fault.service 120; then
		check startfail.exit "$(prop checkpoint.service Result) $(prop checkpoint.service ExecMainStatus) $(prop checkpoint.service NRestarts)" "exit-code 75 0"
		ok "startfail.onfailure OnFailure= started checkpoint-fault.service"
		faultpid=$(prop checkpoint-fault.service MainPID)
		if blinking "checkpoint@$faultpid" 12; then
			ok "startfail.pattern GPIO22 blinking, held by checkpoint@$faultpid (the fault unit)"
		else
			bad "startfail.pattern GPIO22 not blinking: ${GP[GPIO22]:-free}"
		fi
	else
		bad "startfail.onfailure checkpoint-fault.service is $(prop checkpoint-fault.service ActiveState); checkpoint.service $(prop checkpoint.service ActiveState) (result $(prop checkpoint.service Result), status $(prop checkpoint.service ExecMainStatus))"
	fi
	mv /usr/bin/rpicam-vid.away /usr/bin/rpicam-vid
	if wait_active checkpoint.service 300 && [ "$(prop checkpoint-fault.service ActiveState)" = inactive ]; then
		ok "startfail.retry the fault unit started the daemon again after its retry: READY"
	else
		bad "startfail.retry checkpoint.service $(prop checkpoint.service ActiveState), checkpoint-fault.service $(prop checkpoint-fault.service ActiveState)"
	fi

	firmware
	privacy privacy.boot1
	# The next boot: a config the gate must refuse.
	cp "$T/bad.toml" /boot/firmware/checkpoint.toml
}

# --- boot 2: a bad config on the boot partition -----------------------------
boot2() {
	local faultpid
	wait_state checkpoint-firstboot.service failed 300
	check badconfig.refused "$(prop checkpoint-firstboot.service Result) $(prop checkpoint-firstboot.service ExecMainStatus)" "exit-code 78"
	if grep -q 'camera.fps' /boot/firmware/checkpoint-error.txt 2>/dev/null && [ -f /boot/firmware/checkpoint.toml ]; then
		ok "badconfig.error-file checkpoint-error.txt names the key: $(grep -m1 camera.fps /boot/firmware/checkpoint-error.txt)"
	else
		bad "badconfig.error-file no checkpoint-error.txt naming camera.fps: $(ls /boot/firmware | tr '\n' ' ')"
	fi
	if wait_active checkpoint-fault.service 120; then
		faultpid=$(prop checkpoint-fault.service MainPID)
		if blinking "checkpoint@$faultpid" 12; then
			ok "badconfig.pattern GPIO22 blinking, held by checkpoint@$faultpid (the fault unit)"
		else
			bad "badconfig.pattern GPIO22 not blinking: ${GP[GPIO22]:-free}"
		fi
	else
		bad "badconfig.pattern checkpoint-fault.service is $(prop checkpoint-fault.service ActiveState)"
	fi
	check badconfig.not-started "$(prop checkpoint.service ActiveState) $(prop checkpoint.service ExecMainStartTimestampMonotonic)" "inactive 0"
	check badconfig.kept "$(sha256sum </etc/checkpoint/checkpoint.toml | cut -c1-64)" "$(cat "$T/config.sha256")"
	privacy privacy.boot2
}

info "boot=$boot"
case $boot in
1) boot1 ;;
2) boot2 ;;
*) bad "boot.count boot $boot: the test runs two boots" ;;
esac
finish
