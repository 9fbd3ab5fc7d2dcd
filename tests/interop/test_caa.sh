#!/bin/bash
# CAA end to end (RFC 8659, RFC 8657; issue 4) with cobbled's identity set by config
# ("caaIdentities": ["lab-ca.example"]) and CAA records put in Knot by RFC 2136: lego is
# refused with urn:ietf:params:acme:error:caa under `issue "other-ca.example"` and under the
# default identity that config replaced, allowed under the configured identity; a wildcard
# is refused under `issuewild ";"` while its base name is allowed; `accounturi` and
# `validationmethods` are enforced; a parent's record applies to a child (tree climb) and
# the closest record set wins; an unknown critical tag forbids issuance; a failed CAA lookup
# refuses issuance (fail closed). Then, restarted without the config, the default identity
# "cobble.test" is the one CAA must name.
. "$(dirname "$0")/lib.sh"
. "$INTEROP_DIR/va_lib.sh"
ACME_SERVER=cobbled # cobbled's CAA policy and config; pebble checks no CAA
command -v lego >/dev/null || fail "lego not installed"
start_dns
cat >"$T/cobbled.json" <<'EOF'
{"caaIdentities": ["lab-ca.example"]}
EOF
va_start_cobbled --config "$T/cobbled.json"

python3 - "$T/directory.json" <<'EOF' || fail "directory meta.caaIdentities is not [\"lab-ca.example\"]: $(cat "$T/directory.json")"
import json, sys
sys.exit(json.load(open(sys.argv[1])).get("meta", {}).get("caaIdentities") != ["lab-ca.example"])
EOF
log "directory meta.caaIdentities: [\"lab-ca.example\"]"

ID="lab-ca.example"
# lego_http LABEL NAME...: lego with http-01 for the names.
lego_http() {
	local label=$1 d=()
	shift
	for n in "$@"; do d+=(-d "$n"); done
	va_lego "$label" --http --http.port "127.0.0.1:$HTTPPORT" "${d[@]}"
}
# refused LABEL WHAT CERTNAME [DETAIL-WORD]: lego (already run) failed with a caa problem,
# whose line contains DETAIL-WORD if given, and wrote no certificate CERTNAME.crt.
refused() {
	local lf=$T/lego-$1.log
	[ ! -e "$T/lego/certificates/$3.crt" ] || fail "$2: lego wrote $3.crt" "$lf"
	va_problem_in "$lf" caa || fail "$2: lego's output has no urn:ietf:params:acme:error:caa" "$lf"
	if [ -n "${4:-}" ]; then
		grep 'urn:ietf:params:acme:error:caa' "$lf" | grep -qF -- "$4" ||
			fail "$2: the caa problem does not name $4" "$lf"
	fi
	log "$2: refused: $(grep -o 'urn:ietf:params:acme:error:caa.*' "$lf" | head -n 1)"
}
allowed() { # allowed RC LABEL WHAT CERTNAME NAME...: lego (already run, exit status RC) got the certificate
	local rc=$1 label=$2 what=$3 cn=$4
	shift 4
	[ "$rc" = 0 ] || fail "$what: lego exited $rc, expected a certificate" "$T/lego-$label.log"
	check_cert "$what" "$T/lego/certificates/$cn.crt" "$T/lego/certificates/$cn.issuer.crt" "$@"
}

# 1. Another CA's identity: refused, and the problem names the record.
va_zone other.caa.cobble.test 'CAA 0 issue "other-ca.example"'
va_expect_caa other.caa.cobble.test 1
lego_http other other.caa.cobble.test && fail "issued despite CAA issue \"other-ca.example\"" "$T/lego-other.log"
refused other 'CAA 0 issue "other-ca.example"' other.caa.cobble.test other-ca.example

# 2. The configured identity: allowed.
va_zone ok.caa.cobble.test "CAA 0 issue \"$ID\""
lego_http ok ok.caa.cobble.test
allowed $? ok "CAA 0 issue \"$ID\"" ok.caa.cobble.test ok.caa.cobble.test

# 3. The default identity, replaced by config: refused.
va_zone notours.caa.cobble.test 'CAA 0 issue "cobble.test"'
lego_http notours notours.caa.cobble.test && fail "issued under CAA issue \"cobble.test\", which config replaced by $ID" "$T/lego-notours.log"
refused notours 'CAA 0 issue "cobble.test" (not a configured identity)' notours.caa.cobble.test

# 4. issuewild ";": the wildcard (dns-01) is refused, the base name (http-01) allowed, and a
# valid authorization for the base name is not reused for the wildcard.
va_zone wild.caa.cobble.test "CAA 0 issue \"$ID\"" 'CAA 0 issuewild ";"'
va_expect_caa wild.caa.cobble.test 2
va_lego_dns wild -d '*.wild.caa.cobble.test' && fail "wildcard issued under CAA issuewild \";\"" "$T/lego-wild.log"
refused wild 'CAA 0 issuewild ";" for *.wild.caa.cobble.test' _.wild.caa.cobble.test
lego_http wildbase wild.caa.cobble.test
allowed $? wildbase "base name under issuewild \";\" + issue \"$ID\"" wild.caa.cobble.test wild.caa.cobble.test
va_lego_dns wild2 -d '*.wild.caa.cobble.test' && fail "wildcard issued under CAA issuewild \";\" after its base name was validated" "$T/lego-wild2.log"
refused wild2 'CAA 0 issuewild ";" for *.wild.caa.cobble.test, base name already valid' _.wild.caa.cobble.test

# 5. accounturi (RFC 8657 §3): a wrong account is refused; the named account is allowed.
va_zone acct.caa.cobble.test "CAA 0 issue \"$ID; accounturi=https://127.0.0.1:14000/acct/nope\""
lego_http acct acct.caa.cobble.test && fail "issued despite a CAA accounturi naming another account" "$T/lego-acct.log"
refused acct 'CAA accounturi=https://127.0.0.1:14000/acct/nope' acct.caa.cobble.test
ACCT=$(python3 "$INTEROP_DIR/va_acme.py" account --key "$T/acct.key" 2>"$T/acct.log") || fail "va_acme.py account failed" "$T/acct.log"
va_zone acct2.caa.cobble.test "CAA 0 issue \"$ID; accounturi=$ACCT\""
python3 "$INTEROP_DIR/va_acme.py" order --key "$T/acct.key" --id dns:acct2.caa.cobble.test --chal http-01 \
	--result "$T/acct2.json" >"$T/acct2.log" 2>&1 || fail "the account named by CAA accounturi=$ACCT was refused" "$T/acct2.log"
log "CAA accounturi=$ACCT: that account gets its certificate"
lego_http acct3 acct2.caa.cobble.test && fail "lego's account issued under accounturi=$ACCT (another account)" "$T/lego-acct3.log"
refused acct3 "CAA accounturi=$ACCT, lego's account" acct2.caa.cobble.test

# 6. validationmethods (RFC 8657 §4): http-01 refused, dns-01 allowed.
va_zone vm.caa.cobble.test "CAA 0 issue \"$ID; validationmethods=dns-01\""
lego_http vm vm.caa.cobble.test && fail "http-01 issued under CAA validationmethods=dns-01" "$T/lego-vm.log"
refused vm 'CAA validationmethods=dns-01, http-01 used' vm.caa.cobble.test
va_lego_dns vm2 -d vm2.caa.cobble.test # no CAA at all: allowed (sanity for the dns-01 path)
allowed $? vm2 "dns-01, no CAA" vm2.caa.cobble.test vm2.caa.cobble.test
va_zone vm3.caa.cobble.test "CAA 0 issue \"$ID; validationmethods=dns-01\""
va_lego_dns vm3 -d vm3.caa.cobble.test
allowed $? vm3 "dns-01 under CAA validationmethods=dns-01" vm3.caa.cobble.test vm3.caa.cobble.test

# 7. Tree climb (RFC 8659 §3): the parent's record applies to a child without its own; a
# child with its own record set is judged by that one.
va_zone climb.caa.cobble.test 'CAA 0 issue "other-ca.example"'
va_zone leaf.climb.caa.cobble.test
va_zone ok.climb.caa.cobble.test "CAA 0 issue \"$ID\""
[ -z "$(dns_query leaf.climb.caa.cobble.test CAA)" ] || fail "leaf.climb.caa.cobble.test should have no CAA of its own"
lego_http climb leaf.climb.caa.cobble.test && fail "issued for a child of a name whose CAA forbids us" "$T/lego-climb.log"
refused climb 'parent climb.caa.cobble.test CAA issue "other-ca.example"' leaf.climb.caa.cobble.test climb.caa.cobble.test
lego_http climbok ok.climb.caa.cobble.test
allowed $? climbok "child with its own CAA issue \"$ID\" under a forbidding parent" ok.climb.caa.cobble.test \
	ok.climb.caa.cobble.test

# 8. An unknown tag with the critical flag forbids issuance (RFC 8659 §4.1).
va_zone crit.caa.cobble.test "CAA 0 issue \"$ID\"" 'CAA 128 tbs "unknown"'
lego_http crit crit.caa.cobble.test && fail "issued despite an unknown critical CAA tag" "$T/lego-crit.log"
refused crit 'unknown critical tag (CAA 128 tbs)' crit.caa.cobble.test

# 9. A CAA lookup that fails (SERVFAIL: the name is a CNAME to a zone knot does not serve,
# so the forwarder refuses) refuses issuance (RFC 8659 §3, fail closed), while the dns-01
# TXT below the name answers normally.
dns_update "update delete failcaa.cobble.test." "update add failcaa.cobble.test. 60 CNAME unserved.example." \
	>"$T/knsupdate.log" 2>&1 || fail "knsupdate failcaa.cobble.test failed" "$T/knsupdate.log"
python3 "$INTEROP_DIR/va_acme.py" order --key "$T/failcaa.key" --id dns:failcaa.cobble.test --chal dns-01 \
	--result "$T/failcaa.json" >"$T/failcaa.log" 2>&1
rc=$?
[ $rc = 3 ] || fail "CAA lookup failure: expected no certificate and a problem (status 3), got $rc" "$T/failcaa.log"
python3 - "$T/failcaa.json" <<'EOF2' || fail "CAA lookup failure: authorization not invalid with a dns or caa problem about CAA" "$T/failcaa.log"
import json, sys
a = json.load(open(sys.argv[1]))["authzs"][0]
e = a.get("error") or {}
sys.exit(not (a["status"] == "invalid" and e.get("type") in ("urn:ietf:params:acme:error:dns", "urn:ietf:params:acme:error:caa")
              and "CAA" in e.get("detail", "")))
EOF2
log "CAA lookup failure: $(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["authzs"][0]["error"]; print(e["type"], "::", e["detail"])' "$T/failcaa.json")"

# 10. The default identity (no caaIdentities in config) is "cobble.test": cobbled restarted
# on the same data dir without the config file.
_stop_pid "$SERVER_PID" || fail "cobbled did not stop within 10 s of SIGTERM"
_sanitizer_check || fail "sanitizer report in the log of cobbled with caaIdentities [\"$ID\"] (above)"
mv "$SERVER_LOG" "$T/server-configured.log"
va_start_cobbled
python3 - "$T/directory.json" <<'EOF2' || fail "default directory meta.caaIdentities is not [\"cobble.test\"]: $(cat "$T/directory.json")"
import json, sys
sys.exit(json.load(open(sys.argv[1])).get("meta", {}).get("caaIdentities") != ["cobble.test"])
EOF2
va_zone default.caa.cobble.test 'CAA 0 issue "cobble.test"'
lego_http default default.caa.cobble.test
allowed $? default 'default identity: CAA 0 issue "cobble.test"' default.caa.cobble.test default.caa.cobble.test
va_zone defacct.caa.cobble.test 'CAA 0 issue "cobble.test; accounturi=https://127.0.0.1:14000/acct/nope"'
lego_http defacct defacct.caa.cobble.test && fail "issued despite a CAA accounturi naming another account" "$T/lego-defacct.log"
refused defacct 'default identity, CAA accounturi=https://127.0.0.1:14000/acct/nope' defacct.caa.cobble.test
va_zone defother.caa.cobble.test "CAA 0 issue \"$ID\""
lego_http defother defother.caa.cobble.test && fail "issued under CAA issue \"$ID\", no longer an identity" "$T/lego-defother.log"
refused defother "default identity, CAA 0 issue \"$ID\"" defother.caa.cobble.test

pass "CAA: other CA, own identity, replaced default, issuewild, accounturi, validationmethods, tree climb, critical tag, lookup failure, default identity"
