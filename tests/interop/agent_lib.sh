# shellcheck shell=bash
# Helpers for the agent's interop tests (tests/interop/test_agent_*.sh): pebble with
# pebble-challtestsrv as its DNS, and a `cob` wrapper around build/cobble.
# Builds on lib.sh (free ports, verdicts, clean-up traps, check_cert).
#
# Knobs: COBBLE=path (default: the cobble beside $COBBLED, i.e. build/cobble); PEBBLE_NONCEREJECT=N (percent of nonces pebble
# rejects; default: pebble's own default, 5%, which exercises badNonce retries);
# PEBBLE_EXTRA='"key": value, ...' (extra members of pebble's config object);
# PEBBLE_ENV="VAR=value ..." (extra environment for pebble).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ACME_SERVER=pebble
# The cobble next to the cobbled under test: run-tests.sh's ASan pass (COBBLED=build-asan/
# cobbled) then exercises the sanitizer build of the agent too.
COBBLE=${COBBLE:-$(dirname "$COBBLED")/cobble}
CFG=$T/cobble
mkdir -p "$CFG"

[ -x "$COBBLE" ] || fail "cobble binary not found at $COBBLE (build first: ninja -C build cobble)"
command -v pebble-challtestsrv >/dev/null || fail "pebble-challtestsrv not installed (Debian package pebble)"

# start_challtestsrv: DNS for pebble on $DNSPORT (every A query answers 127.0.0.1, no AAAA),
# management API on $CTS (POST /set-txt, /clear-txt, /add-a ...).
start_challtestsrv() {
	DNSPORT=$(pick_port)
	local mp
	mp=$(pick_port)
	CTS=http://127.0.0.1:$mp
	pebble-challtestsrv -dns01 "127.0.0.1:$DNSPORT" -management "127.0.0.1:$mp" -http01 "" -https01 "" \
		-tlsalpn01 "" -defaultIPv6 "" >"$T/challtestsrv.log" 2>&1 &
	HELPER_PIDS="$HELPER_PIDS $!"
	local i
	for i in $(seq 1 50); do
		curl -s -o /dev/null "$CTS/" 2>/dev/null && break
		sleep 0.1
	done
	curl -s -o /dev/null "$CTS/" || fail "pebble-challtestsrv did not start" "$T/challtestsrv.log"
	log "pebble-challtestsrv DNS on 127.0.0.1:$DNSPORT, management $CTS"
}

# start_agent_pebble: like lib.sh's start_pebble, but nonce rejection left at pebble's
# default unless PEBBLE_NONCEREJECT is set, plus PEBBLE_EXTRA / PEBBLE_ENV.
start_agent_pebble() {
	[ -n "${DNSPORT:-}" ] || fail "start a DNS server (start_challtestsrv or start_dns) first"
	ACME_PORT=$(pick_port)
	HTTPPORT=$(pick_port)
	TLSALPNPORT=$(pick_port)
	local mgmt p=$T/pebble
	mgmt=$(pick_port)
	PEBBLE_MGMT=https://127.0.0.1:$mgmt
	DATA=$T/data
	CA_BUNDLE=$DATA/root.pem
	DIRECTORY=https://127.0.0.1:$ACME_PORT/dir
	local extra='"externalAccountBindingRequired": false'
	[ -n "${PEBBLE_EXTRA:-}" ] && extra=$PEBBLE_EXTRA
	mkdir -p "$p" "$DATA"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=pebble test TLS root" -keyout "$p/tls-root.key" -out "$p/tls-root.pem" 2>/dev/null ||
		fail "openssl could not make the pebble TLS root"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
		-keyout "$p/tls.key" -out "$p/tls.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$p/ext"
	openssl x509 -req -in "$p/tls.csr" -CA "$p/tls-root.pem" -CAkey "$p/tls-root.key" -CAcreateserial \
		-days 2 -extfile "$p/ext" -out "$p/tls.pem" 2>/dev/null || fail "openssl could not sign the pebble TLS cert"
	cat >"$p/pebble.json" <<EOC
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT", "managementListenAddress": "127.0.0.1:$mgmt",
 "certificate": "$p/tls.pem", "privateKey": "$p/tls.key", "httpPort": $HTTPPORT, "tlsPort": $TLSALPNPORT,
 "ocspResponderURL": "", $extra}}
EOC
	cp "$p/tls-root.pem" "$CA_BUNDLE"
	local envs="PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0"
	[ -n "${PEBBLE_NONCEREJECT:-}" ] && envs="$envs PEBBLE_WFE_NONCEREJECT=$PEBBLE_NONCEREJECT"
	# shellcheck disable=SC2086
	env $envs ${PEBBLE_ENV:-} pebble -config "$p/pebble.json" -dnsserver "127.0.0.1:$DNSPORT" >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	_wait_directory
	curl -sf --cacert "$p/tls-root.pem" "$PEBBLE_MGMT/roots/0" >"$p/issuer-root.pem" ||
		fail "could not fetch pebble's issuing root from $PEBBLE_MGMT/roots/0"
	cat "$p/tls-root.pem" "$p/issuer-root.pem" >"$CA_BUNDLE"
	log "pebble at $DIRECTORY, http-01 port $HTTPPORT, tls-alpn-01 port $TLSALPNPORT"
}

# cob ARGS...: the agent against the test server, config in $CFG.
cob() { "$COBBLE" --server "$DIRECTORY" --ca-bundle "$CA_BUNDLE" --config-dir "$CFG" "$@"; }

# cob_ok LABEL ARGS...: run cob with output in $T/LABEL.log; fail with the log on non-zero.
cob_ok() {
	local label=$1
	shift
	cob "$@" >"$T/$label.out" 2>"$T/$label.log" || fail "$label: cobble $* exited $?" "$T/$label.log"
	log "$label: ok"
}

# cob_fails LABEL PATTERN ARGS...: cobble must exit non-zero and say PATTERN (ERE) on stderr.
cob_fails() {
	local label=$1 pat=$2
	shift 2
	if cob "$@" >"$T/$label.out" 2>"$T/$label.log"; then
		fail "$label: cobble $* succeeded but should have failed" "$T/$label.log"
	fi
	grep -Eq "$pat" "$T/$label.log" || fail "$label: error does not match /$pat/" "$T/$label.log"
	log "$label: failed as expected: $(grep -E "$pat" "$T/$label.log" | head -n1)"
}

# lineage_version NAME: the archive version certs/NAME points to.
lineage_version() { basename "$(readlink "$CFG/certs/$1")"; }

# check_lineage NAME: symlinked set with the expected files and modes.
check_lineage() {
	local n=$1 d=$CFG/certs/$1 f
	[ -L "$d" ] || fail "$n: $d is not a symlink to an archive version"
	for f in cert.pem chain.pem fullchain.pem privkey.pem renewal.json; do
		[ -s "$d/$f" ] || fail "$n: $d/$f missing or empty"
	done
	[ "$(stat -c %a "$d/privkey.pem")" = 600 ] || fail "$n: privkey.pem mode is $(stat -c %a "$d/privkey.pem"), want 600"
	cmp -s "$d/fullchain.pem" <(cat "$d/cert.pem" "$d/chain.pem") || fail "$n: fullchain.pem != cert.pem + chain.pem"
	# key matches certificate
	[ "$(openssl x509 -in "$d/cert.pem" -noout -pubkey | openssl md5)" = \
		"$(openssl pkey -in "$d/privkey.pem" -pubout | openssl md5)" ] || fail "$n: privkey.pem does not match cert.pem"
}

# cob_bg LOG ARGS...: cobble in the background (stderr to LOG); its own pid in $COB_PID, so
# signals reach cobble itself rather than a subshell.
cob_bg() {
	local lf=$1
	shift
	"$COBBLE" --server "$DIRECTORY" --ca-bundle "$CA_BUNDLE" --config-dir "$CFG" "$@" >/dev/null 2>"$lf" &
	COB_PID=$!
}

# agent_pass MSG: lib.sh's pass, after checking cobble's own logs for sanitizer reports
# (for runs with an ASan/UBSan build of cobble: COBBLE=build-asan/cobble).
agent_pass() {
	local f
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		[ "$f" = "$SERVER_LOG" ] && continue
		if grep -Eq "$_SANITIZER_RE" "$f"; then
			grep -En -A25 "$_SANITIZER_RE" "$f" | head -n 60 >&2
			fail "sanitizer report in cobble's output ($(basename "$f"))"
		fi
	done
	pass "$@"
}
