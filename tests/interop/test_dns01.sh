#!/bin/bash
# dns-01 end to end (RFC 8555 §8.4, issue 4) against Knot updated by RFC 2136: lego (exec
# provider) and certbot (--manual with auth/cleanup hooks) get wildcard certificates
# (*.X + X: two TXT values at one name); the authorization is for the base name with
# "wildcard": true and offers dns-01 only; a valid authorization is reused by the next order;
# a wrong TXT value makes the authorization invalid with an unauthorized problem, and a second
# attempt with the right value does not revive it; a CNAME at
# _acme-challenge is followed; a wildcard right below a public suffix is refused.
. "$(dirname "$0")/lib.sh"
. "$INTEROP_DIR/va_lib.sh"
command -v lego >/dev/null || fail "lego not installed"
command -v certbot >/dev/null || fail "certbot not installed"
start_dns
va_start_server
export VA_HOOK_LOG=$T/hook.calls

# 1. lego, exec provider: *.x.cobble.test and x.cobble.test
va_lego_dns wild -d '*.x.cobble.test' -d x.cobble.test || fail "lego dns-01 wildcard exited non-zero" "$T/lego-wild.log"
check_cert "lego dns-01 wildcard" "$T/lego/certificates/_.x.cobble.test.crt" \
	"$T/lego/certificates/_.x.cobble.test.issuer.crt" '*.x.cobble.test' x.cobble.test
[ "$(grep -c '^add _acme-challenge.x.cobble.test. ' "$VA_HOOK_LOG")" = 2 ] ||
	fail "lego's exec hook did not add two TXT values at _acme-challenge.x.cobble.test: $(cat "$VA_HOOK_LOG")"
[ -z "$(dns_query _acme-challenge.x.cobble.test TXT)" ] ||
	fail "TXT records left at _acme-challenge.x.cobble.test after lego's cleanup: $(dns_query _acme-challenge.x.cobble.test TXT)"

# 2. certbot --manual with hooks: *.y.cobble.test and y.cobble.test
CB=$T/certbot
: >"$VA_HOOK_LOG"
REQUESTS_CA_BUNDLE=$CA_BUNDLE run_logged "$T/certbot.log" timeout 150 certbot certonly \
	--server "$DIRECTORY" --manual --preferred-challenges dns \
	--manual-auth-hook "$INTEROP_DIR/va_dns_hook.sh certbot-auth" \
	--manual-cleanup-hook "$INTEROP_DIR/va_dns_hook.sh certbot-cleanup" \
	--config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
	--register-unsafely-without-email --agree-tos --non-interactive --cert-name wild \
	-d '*.y.cobble.test' -d y.cobble.test || fail "certbot --manual dns-01 wildcard exited non-zero" "$T/certbot.log"
check_cert "certbot dns-01 wildcard" "$CB/config/live/wild/cert.pem" "$CB/config/live/wild/chain.pem" \
	'*.y.cobble.test' y.cobble.test
[ "$(grep -c '^add _acme-challenge.y.cobble.test. ' "$VA_HOOK_LOG")" = 2 ] ||
	fail "certbot's auth hook did not add two TXT values: $(cat "$VA_HOOK_LOG")"
[ -z "$(dns_query _acme-challenge.y.cobble.test TXT)" ] ||
	fail "TXT records left at _acme-challenge.y.cobble.test after certbot's cleanup hook"

# 3. The authorization for *.w.cobble.test, seen by a client that reads it (va_acme.py).
K=$T/acct.key
python3 "$INTEROP_DIR/va_acme.py" order --key "$K" --id 'dns:*.w.cobble.test' --chal dns-01 \
	--result "$T/w.json" --cert "$T/w.pem" >"$T/w.log" 2>&1 || fail "dns-01 wildcard order (va_acme.py) failed" "$T/w.log"
python3 - "$T/w.json" <<'EOF' || fail "wildcard authorization is not {dns w.cobble.test, wildcard true}" "$T/w.json"
import json, sys
s = json.load(open(sys.argv[1]))
a = s["authzs"]
sys.exit(not (len(a) == 1 and a[0]["identifier"] == {"type": "dns", "value": "w.cobble.test"} and a[0]["wildcard"] is True))
EOF
[ "$(va_sans "$T/w.pem")" = 'DNS:*.w.cobble.test' ] || fail "wildcard certificate SANs: $(va_sans "$T/w.pem")"
log "authorization for *.w.cobble.test: identifier w.cobble.test, wildcard true; SAN $(va_sans "$T/w.pem")"

if [ "$ACME_SERVER" = cobbled ]; then
	# A wildcard's authorization offers dns-01 only (RFC 8555 §7.1.3 / §8.4 note).
	python3 "$INTEROP_DIR/va_acme.py" order --key "$T/other.key" --id 'dns:*.v.cobble.test' --chal http-01 \
		>"$T/v.log" 2>&1
	rc=$?
	{ [ $rc = 2 ] && grep -q "offers no http-01: \['dns-01'\]" "$T/v.log"; } ||
		fail "wildcard authorization should offer only dns-01 (va_acme.py status $rc)" "$T/v.log"
	log "wildcard authorization offers dns-01 only"

	# Authorization reuse: the same account orders *.w.cobble.test again; no new challenge.
	python3 "$INTEROP_DIR/va_acme.py" order --key "$K" --id 'dns:*.w.cobble.test' --chal dns-01 \
		--result "$T/w2.json" >"$T/w2.log" 2>&1 || fail "second wildcard order failed" "$T/w2.log"
	grep -q 'already valid (reused)' "$T/w2.log" || fail "valid authorization for *.w.cobble.test was not reused" "$T/w2.log"
	log "valid authorization reused by the account's next order"
fi

# 4. A wrong TXT value: the authorization is invalid with an unauthorized problem.
python3 "$INTEROP_DIR/va_acme.py" order --key "$T/wrong.key" --id dns:wrongtxt.cobble.test --chal dns-01 \
	--txt not-the-key-authorization-digest --retry-right --result "$T/wrong.json" >"$T/wrong.log" 2>&1
rc=$?
[ $rc = 3 ] || fail "wrong TXT value: expected no certificate and a problem (status 3), got $rc" "$T/wrong.log"
python3 - "$T/wrong.json" <<'EOF' || fail "wrong TXT value: authorization not invalid with unauthorized" "$T/wrong.log"
import json, sys
a = json.load(open(sys.argv[1]))["authzs"][0]
e = a.get("error") or {}
print("problem:", json.dumps(e), file=sys.stderr)
sys.exit(not (a["status"] == "invalid" and e.get("type") == "urn:ietf:params:acme:error:unauthorized"
              and e.get("detail")))
EOF
log "wrong TXT value: $(grep '^authz' "$T/wrong.log")"
# One validation attempt per authorization (issue 4): the right TXT and a second challenge
# POST leave it invalid (the POST itself may be refused or ignored).
python3 - "$T/wrong.json" <<'EOF' || fail "a failed authorization became valid on a second challenge POST" "$T/wrong.log"
import json, sys
r = json.load(open(sys.argv[1]))["retry"]
sys.exit(r["authz_status"] != "invalid")
EOF
log "second attempt: $(grep '^retry' "$T/wrong.log")"

# 5. CNAME delegation (RFC 8555 §8.4 lets the CA follow it): _acme-challenge.cn.cobble.test is
# a CNAME to a name that holds the TXT, as with acme-dns set-ups.
dns_update "update add _acme-challenge.cn.cobble.test. 60 CNAME cn.acme-dns.cobble.test." >"$T/knsupdate.log" 2>&1 ||
	fail "knsupdate CNAME failed" "$T/knsupdate.log"
python3 "$INTEROP_DIR/va_acme.py" order --key "$T/cn.key" --id dns:cn.cobble.test --chal dns-01 \
	--txt-name cn.acme-dns.cobble.test --cert "$T/cn.pem" >"$T/cn.log" 2>&1 ||
	fail "dns-01 through a CNAME at _acme-challenge.cn.cobble.test: no certificate" "$T/cn.log"
log "dns-01 through a CNAME: issued ($(va_sans "$T/cn.pem"))"

if [ "$ACME_SERVER" = cobbled ]; then
	# 6. A wildcard directly below a public suffix is refused at newOrder.
	python3 "$INTEROP_DIR/va_acme.py" order --key "$T/psl.key" --id 'dns:*.co.uk' --chal dns-01 \
		--result "$T/psl.json" >"$T/psl.log" 2>&1
	rc=$?
	[ $rc = 3 ] || fail "*.co.uk: expected newOrder refused (status 3), got $rc" "$T/psl.log"
	python3 - "$T/psl.json" <<'EOF' || fail "*.co.uk: newOrder not a 400 rejectedIdentifier" "$T/psl.log"
import json, sys
n = json.load(open(sys.argv[1]))["newOrder"]
sys.exit(not (n["status"] == 400 and (n.get("body") or {}).get("type") == "urn:ietf:params:acme:error:rejectedIdentifier"))
EOF
	log "*.co.uk: $(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["newOrder"]["body"]; print(b["type"], "::", b["detail"])' "$T/psl.json")"
fi

pass "dns-01: lego and certbot wildcards, wildcard authorization, reuse, wrong TXT, CNAME, public-suffix wildcard"
