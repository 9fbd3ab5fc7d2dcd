#!/bin/bash
# Crash test: cobble is killed (SIGKILL) during issue and renew, at each step of the
# install (COBBLE_CRASH_POINT) and at random moments; after every kill the lineage is the
# complete old set or the complete new set, never a mixture, and a rerun succeeds.
. "$(dirname "$0")/agent_lib.sh"
PEBBLE_NONCEREJECT=0
start_challtestsrv
start_agent_pebble
cob_ok register register --email admin@cobble.test --agree-tos
N=crash.cobble.test

# consistent NAME: certs/NAME is absent, or a full set whose key matches its certificate.
# Prints the serial of the current set ("none" when absent).
consistent() {
	local d=$CFG/certs/$1
	if [ ! -e "$d" ] && [ ! -L "$d" ]; then
		echo none
		return 0
	fi
	check_lineage "$1" >&2
	openssl x509 -in "$d/cert.pem" -noout -serial
}

# A crash while issuing a brand-new lineage leaves no lineage at all.
for point in files-written version-renamed symlink-made; do
	COBBLE_CRASH_POINT=$point cob issue -d $N --http01-standalone --http01-port "$HTTPPORT" >/dev/null 2>"$T/crash-issue.log"
	rc=$?
	[ $rc = 137 ] || fail "issue with COBBLE_CRASH_POINT=$point: exit $rc, expected to be killed (137)" "$T/crash-issue.log"
	s=$(consistent $N)
	[ "$s" = none ] || fail "issue killed at $point left a lineage ($s)"
	log "issue killed at $point: no lineage, as expected"
done
cob_ok issue issue -d $N --http01-standalone --http01-port "$HTTPPORT"
old=$(consistent $N)

# A crash while renewing leaves the old set before the switch, the new one after it.
for point in files-written version-renamed symlink-made switched; do
	COBBLE_CRASH_POINT=$point cob renew --name $N --force >/dev/null 2>"$T/crash-renew.log"
	rc=$?
	[ $rc = 137 ] || fail "renew with COBBLE_CRASH_POINT=$point: exit $rc, expected 137" "$T/crash-renew.log"
	now=$(consistent $N)
	if [ $point = switched ]; then
		[ "$now" != "$old" ] || fail "renew killed after the switch: still the old set"
	else
		[ "$now" = "$old" ] || fail "renew killed at $point: the set changed ($old -> $now) before the switch"
	fi
	old=$now
	log "renew killed at $point: lineage intact ($now)"
done

# Random kills during renew: whatever moment, old or new, never mixed.
for i in 1 2 3 4 5 6; do
	cob_bg "$T/rand.log" renew --name $N --force
	pid=$COB_PID
	sleep "$((RANDOM % 3)).$((RANDOM % 9 + 1))"
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
	now=$(consistent $N) || fail "random kill $i: inconsistent lineage"
	log "random kill $i: lineage consistent ($now)"
done

# A clean run afterwards works, and clears the leftovers of the killed ones.
cob_ok rerun renew --name $N --force
consistent $N >/dev/null
left=$(find "$CFG/archive/$N" "$CFG/certs" -maxdepth 1 -name '.*tmp-*' | wc -l)
[ "$left" = 0 ] || fail "leftover temporary files after a clean run: $(find "$CFG/archive/$N" "$CFG/certs" -maxdepth 1 -name '.*tmp-*')"
agent_pass "killed at every install step and at random: lineage always old or new, never mixed"
