#!/bin/bash
# dns-01 TXT records in the lab zone by RFC 2136 UPDATE (knsupdate, TSIG) against the knot
# that lib.sh's start_dns runs; one script for every client of the validation tests:
#   lego exec provider:  va_dns_hook.sh present|cleanup FQDN VALUE
#   certbot --manual:    va_dns_hook.sh certbot-auth|certbot-cleanup  (CERTBOT_DOMAIN, CERTBOT_VALIDATION)
#   va_acme.py, tests:   va_dns_hook.sh add|del NAME VALUE
# Needs DNSPORT and TSIG_KEY in the environment (va_lib.sh exports them). Adds never replace:
# a wildcard and its base name put two values at the same _acme-challenge name (RFC 8555 §8.4).
set -u
: "${DNSPORT:?DNSPORT not set}" "${TSIG_KEY:?TSIG_KEY not set}"

case "${1:-}" in
present | add) op=add name=${2:?name} value=${3:?value} ;;
cleanup | del) op=delete name=${2:?name} value=${3:?value} ;;
certbot-auth) op=add name=_acme-challenge.${CERTBOT_DOMAIN:?} value=${CERTBOT_VALIDATION:?} ;;
certbot-cleanup) op=delete name=_acme-challenge.${CERTBOT_DOMAIN:?} value=${CERTBOT_VALIDATION:?} ;;
*)
	echo "usage: $0 present|cleanup|add|del NAME VALUE, or certbot-auth|certbot-cleanup" >&2
	exit 2
	;;
esac
name=${name%.}.
[ -n "${VA_HOOK_LOG:-}" ] && echo "$op $name $value" >>"$VA_HOOK_LOG"

if [ $op = add ]; then
	line="update add $name 60 TXT \"$value\""
else
	line="update delete $name TXT \"$value\""
fi
printf 'server 127.0.0.1 %s\nzone test.\n%s\nsend\n' "$DNSPORT" "$line" |
	timeout 20 knsupdate -t 5 -y "$TSIG_KEY" || {
	echo "knsupdate failed: $line" >&2
	exit 1
}

# Knot applies an update before answering it; make sure the answer shows it anyway (bounded).
for _ in $(seq 1 25); do
	if timeout 5 kdig +short +time=1 +retry=0 @127.0.0.1 -p "$DNSPORT" "$name" TXT | grep -qF "\"$value\""; then
		[ $op = add ] && exit 0
	else
		[ $op = delete ] && exit 0
	fi
	sleep 0.2
done
echo "knot does not show the $op of TXT $value at $name" >&2
exit 1
