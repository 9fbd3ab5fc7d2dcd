#!/bin/bash
# Debian's certbot (standalone http-01) gets certificates from the server under test:
# one name, three names, and one name with an RSA key; each chain must verify against
# root.pem and carry exactly the requested SANs.
. "$(dirname "$0")/lib.sh"
command -v certbot >/dev/null || fail "certbot not installed"
start_dns
start_server

CB=$T/certbot
certbot_get() { # certbot_get LABEL CERTNAME certbot-args...
	local label=$1 name=$2 lf=$T/certbot-$1.log
	shift 2
	REQUESTS_CA_BUNDLE=$CA_BUNDLE run_logged "$lf" timeout 120 certbot certonly \
		--server "$DIRECTORY" --standalone --http-01-port "$HTTPPORT" --http-01-address 127.0.0.1 \
		--config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
		--register-unsafely-without-email --agree-tos --non-interactive --cert-name "$name" "$@" ||
		fail "certbot ($label) exited non-zero" "$lf"
	log "certbot ($label) ok"
}

certbot_get one one -d one.cobble.test
check_cert "certbot one name" "$CB/config/live/one/cert.pem" "$CB/config/live/one/chain.pem" one.cobble.test

certbot_get three three -d a.cobble.test -d b.cobble.test -d c.cobble.test
check_cert "certbot three names" "$CB/config/live/three/cert.pem" "$CB/config/live/three/chain.pem" \
	a.cobble.test b.cobble.test c.cobble.test

certbot_get rsa rsa --key-type rsa --rsa-key-size 2048 -d rsa.cobble.test
check_cert "certbot RSA key" "$CB/config/live/rsa/cert.pem" "$CB/config/live/rsa/chain.pem" rsa.cobble.test

pass "certbot: one name, three names, RSA key"
