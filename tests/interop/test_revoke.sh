#!/bin/bash
# Revocation (RFC 8555 §7.6) end to end: certbot revokes a certificate it obtained (account
# key, keyCompromise), lego revokes one (account key); each serial appears in the CRL its own
# CRLDP names, the CRL verifies against the intermediate and `openssl verify -crl_check`
# refuses the revoked certificate and accepts an unrevoked one. A second revocation is
# refused (alreadyRevoked). cobbled restarts between revocation and CRL fetch: the revocation
# stays and the CRL number keeps increasing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle_lib.sh"
command -v certbot >/dev/null || fail "certbot not installed"
command -v lego >/dev/null || fail "lego not installed"
start_dns
# CRLs on the public plain-HTTP listener; certificates name it in their CRLDP.
PUBPORT=$(pick_port)
COBBLED_ARGS="$COBBLED_ARGS --public-listen 127.0.0.1:$PUBPORT"
start_server

grep -q '"revokeCert"' "$T/directory.json" || fail "directory has no revokeCert"

CB=$T/certbot
certbot_do() { # certbot_do LABEL certbot-args...
	local label=$1 lf=$T/certbot-$1.log
	shift
	REQUESTS_CA_BUNDLE=$CA_BUNDLE run_logged "$lf" timeout 120 certbot "$@" \
		--server "$DIRECTORY" --config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
		--non-interactive
}
certbot_get() { # certbot_get NAME DOMAIN
	certbot_do "get-$1" certonly --standalone --http-01-port "$HTTPPORT" --http-01-address 127.0.0.1 \
		--register-unsafely-without-email --agree-tos --cert-name "$1" -d "$2" ||
		fail "certbot could not get $2" "$T/certbot-get-$1.log"
}
certbot_get keep keep.cobble.test
certbot_get gone gone.cobble.test
KEEP=$CB/config/live/keep/cert.pem
GONE=$CB/config/live/gone/cert.pem
CHAIN=$CB/config/live/gone/chain.pem
check_cert "certbot gone" "$GONE" "$CHAIN" gone.cobble.test

case $(crldp_url "$GONE") in
http://127.0.0.1:$PUBPORT/crl/[0-9]*.crl) ;;
*) fail "CRLDP $(crldp_url "$GONE") is not on the public listener" ;;
esac
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PUBPORT/crl/99.crl")
[ "$code" = 404 ] || fail "an unknown CRL shard answered $code, not 404"
# Before revocation: the shard's CRL verifies and the certificate passes -crl_check.
fetch_crl "$GONE" "$T/crl0.pem"
out=$(openssl crl -in "$T/crl0.pem" -noout -verify -CAfile "$CHAIN" 2>&1) || fail "CRL does not verify: $out"
N0=$(crl_number "$T/crl0.pem")
out=$(openssl verify -crl_check -CAfile "$CA_BUNDLE" -untrusted "$CHAIN" -CRLfile "$T/crl0.pem" "$GONE" 2>&1) ||
	fail "unrevoked certificate fails -crl_check: $out"
log "CRL $(crldp_url "$GONE") number $N0 verifies; certificate passes -crl_check"
# HEAD then GET on one keep-alive connection, sequential and pipelined (RFC 9110 §9.3.2): the
# HEAD's Content-Length is the GET's length and no body follows it (libevent 2.1 sent one),
# on the public listener and on the ACME listener, for the CRLs and an unknown shard.
head_get() { # head_get LABEL head_get.py-args...
	local label=$1
	shift
	run_logged "$T/head-get-$label.log" python3 "$INTEROP_DIR/head_get.py" "$@" ||
		fail "HEAD then GET ($label) on one connection" "$T/head-get-$label.log"
}
head_get pub-crl --expect 200 "$(crldp_url "$GONE")" "$(crldp_url "$KEEP")" "http://127.0.0.1:$PUBPORT/crl/0.crl"
head_get pub-404 --expect 404 "http://127.0.0.1:$PUBPORT/crl/99.crl" "http://127.0.0.1:$PUBPORT/nothing"
ACME_BASE=${DIRECTORY%/directory}
head_get acme-crl --cafile "$CA_BUNDLE" --expect 200 "$ACME_BASE/crl/0.crl" "$ACME_BASE/crl/1.crl"
log "HEAD then GET of CRLs on one connection (public and ACME listener): Content-Length, no body"

certbot_do revoke revoke --cert-path "$GONE" --reason keycompromise --no-delete-after-revoke ||
	fail "certbot revoke failed" "$T/certbot-revoke.log"
log "certbot revoked $(cert_serial "$GONE") (keyCompromise)"
if certbot_do revoke2 revoke --cert-path "$GONE" --reason keycompromise --no-delete-after-revoke; then
	fail "a second revocation succeeded" "$T/certbot-revoke2.log"
fi
# (Debian's certbot answers the problem with a traceback; its debug log has the response.)
cat "$CB"/logs/letsencrypt.log* >>"$T/certbot-revoke2.log" 2>/dev/null
grep -qi "alreadyRevoked" "$T/certbot-revoke2.log" ||
	fail "second revocation did not say alreadyRevoked" "$T/certbot-revoke2.log"
log "second revocation refused: alreadyRevoked"

# Restart between revocation and CRL fetch: nothing lost, the number keeps increasing.
restart_cobbled
fetch_crl "$GONE" "$T/crl1.pem"
out=$(openssl crl -in "$T/crl1.pem" -noout -verify -CAfile "$CHAIN" 2>&1) || fail "CRL does not verify: $out"
N1=$(crl_number "$T/crl1.pem")
[ "$N1" -gt "$N0" ] || fail "CRL number did not increase across the restart ($N0 -> $N1)"
SERIAL=$(cert_serial "$GONE")
openssl crl -in "$T/crl1.pem" -noout -text | grep -A5 "Serial Number: *$SERIAL" | grep -q "Key Compromise" ||
	fail "serial $SERIAL with reason keyCompromise is not in the CRL"
out=$(openssl verify -crl_check -CAfile "$CA_BUNDLE" -untrusted "$CHAIN" -CRLfile "$T/crl1.pem" "$GONE" 2>&1) &&
	fail "openssl verify -crl_check accepted a revoked certificate"
echo "$out" | grep -q "certificate revoked" || fail "openssl verify -crl_check: unexpected answer: $out"
fetch_crl "$KEEP" "$T/crlk.pem"
out=$(openssl verify -crl_check -CAfile "$CA_BUNDLE" -untrusted "$CHAIN" -CRLfile "$T/crlk.pem" "$KEEP" 2>&1) ||
	fail "unrevoked certificate fails -crl_check: $out"
log "after restart: CRL number $N0 -> $N1, $SERIAL listed with keyCompromise, -crl_check refuses it"

# OCSP (RFC 6960) on the public listener, named in the certificates' AIA.
OCSP_URL=$(openssl x509 -noout -ocsp_uri -in "$GONE")
[ "$OCSP_URL" = "http://127.0.0.1:$PUBPORT/ocsp" ] || fail "AIA OCSP URL is \"$OCSP_URL\""
out=$(timeout 30 openssl ocsp -issuer "$CHAIN" -cert "$GONE" -url "$OCSP_URL" -CAfile "$CA_BUNDLE" \
	-verify_other "$CHAIN" 2>&1) || fail "openssl ocsp (revoked) failed: $out"
echo "$out" | grep -q "Response verify OK" || fail "OCSP response does not verify: $out"
echo "$out" | grep -q "$GONE: revoked" || fail "OCSP does not say revoked: $out"
echo "$out" | grep -q "Reason: keyCompromise" || fail "OCSP does not give the reason: $out"
out=$(timeout 30 openssl ocsp -issuer "$CHAIN" -cert "$KEEP" -url "$OCSP_URL" -CAfile "$CA_BUNDLE" \
	-verify_other "$CHAIN" 2>&1) || fail "openssl ocsp (good) failed: $out"
echo "$out" | grep -q "$KEEP: good" || fail "OCSP does not say good: $out"
# GET (RFC 6960 Appendix A.1), for the unrevoked certificate.
openssl ocsp -issuer "$CHAIN" -cert "$KEEP" -no_nonce -reqout "$T/ocsp-req.der" >/dev/null 2>&1 ||
	fail "openssl could not write an OCSP request"
enc=$(base64 -w0 "$T/ocsp-req.der" | sed 's|+|%2B|g; s|/|%2F|g; s|=|%3D|g')
curl -sf --max-time 10 "$OCSP_URL/$enc" -o "$T/ocsp-resp.der" || fail "OCSP GET failed"
out=$(openssl ocsp -respin "$T/ocsp-resp.der" -issuer "$CHAIN" -cert "$KEEP" -CAfile "$CA_BUNDLE" \
	-verify_other "$CHAIN" -no_nonce 2>&1)
echo "$out" | grep -q "$KEEP: good" || fail "OCSP GET does not say good: $out"
# HEAD then GET of it on one connection (each answer is signed anew: lengths within 8 bytes).
head_get pub-ocsp --slack 8 --expect 200 "$OCSP_URL/$enc"
# A certificate of another issuer: unknown. Garbage: malformedRequest, and the server lives on.
out=$(timeout 30 openssl ocsp -issuer "$CA_BUNDLE" -cert "$CHAIN" -url "$OCSP_URL" -noverify 2>&1)
echo "$out" | grep -q ": unknown" || fail "OCSP for another issuer's certificate is not unknown: $out"
curl -s --max-time 10 -H 'Content-Type: application/ocsp-request' --data-binary 'not DER' "$OCSP_URL" \
	-o "$T/ocsp-bad.der" || fail "OCSP POST of garbage got no answer"
out=$(openssl ocsp -respin "$T/ocsp-bad.der" -noverify 2>&1)
echo "$out" | grep -qi "malformedrequest" || fail "garbage OCSP request not answered malformedRequest: $out"
log "OCSP: revoked (keyCompromise) and good verify; GET works; unknown and malformedRequest answered"

# lego revokes one of its certificates (account key).
LP=$T/lego
lego_do() { # lego_do LABEL lego-args... (command last)
	local lf=$T/lego-$1.log
	shift
	LEGO_CA_CERTIFICATES=$CA_BUNDLE run_logged "$lf" timeout 120 lego \
		--server "$DIRECTORY" --accept-tos --email t@example.com --path "$LP" \
		--http --http.port "127.0.0.1:$HTTPPORT" "$@"
}
lego_do get -d lego.cobble.test run || fail "lego could not get a certificate" "$T/lego-get.log"
LC=$LP/certificates/lego.cobble.test.crt
openssl x509 -in "$LC" -out "$T/lego-leaf.pem"
lego_do revoke -d lego.cobble.test revoke --reason 4 || fail "lego revoke failed" "$T/lego-revoke.log"
fetch_crl "$T/lego-leaf.pem" "$T/crl2.pem"
LS=$(cert_serial "$T/lego-leaf.pem")
openssl crl -in "$T/crl2.pem" -noout -text | grep -A5 "Serial Number: *$LS" | grep -q "Superseded" ||
	fail "lego's serial $LS with reason superseded is not in the CRL"
N2=$(crl_number "$T/crl2.pem")
[ "$N2" -gt "$N1" ] || fail "CRL number did not increase ($N1 -> $N2)"
log "lego revoked $LS (superseded); listed in CRL number $N2"

pass "certbot and lego revoke; CRLs list them, verify, survive a restart"
