#!/bin/bash
# cobble's dns-01 hook solver (pebble-challtestsrv as the DNS, driven by the hook through
# its management API), a wildcard with dns-01, tls-alpn-01 standalone (RFC 8737), and
# clear errors with nothing left in certs/ for a failing or malformed hook.
. "$(dirname "$0")/agent_lib.sh"
start_challtestsrv
start_agent_pebble

cat >"$T/hook.sh" <<EOH
#!/bin/sh
# dns-01 hook for pebble-challtestsrv: \$1 = add|del, \$2 = record name, \$3 = TXT value
echo "\$1 \$2 \$3 \$COBBLE_DOMAIN" >>"$T/hook.calls"
case "\$1" in
add) curl -sf -X POST -d "{\"host\":\"\$2.\",\"value\":\"\$3\"}" $CTS/set-txt >&2 || exit 1
     echo "wait=0" ;;
del) curl -sf -X POST -d "{\"host\":\"\$2.\"}" $CTS/clear-txt >&2 || exit 1 ;;
*) exit 2 ;;
esac
EOH
chmod +x "$T/hook.sh"

cob_ok register register --email admin@cobble.test --agree-tos

# plain name via the hook
cob_ok issue-hook issue -d dns.cobble.test --dns01-hook "$T/hook.sh"
check_lineage dns.cobble.test
check_cert dns01-hook "$CFG/certs/dns.cobble.test/cert.pem" "$CFG/certs/dns.cobble.test/chain.pem" dns.cobble.test
grep -q '^add _acme-challenge.dns.cobble.test ' "$T/hook.calls" || fail "hook not called with add _acme-challenge.dns.cobble.test: $(cat "$T/hook.calls")"
grep -q '^del _acme-challenge.dns.cobble.test ' "$T/hook.calls" || fail "hook not called with del (clean-up): $(cat "$T/hook.calls")"

# wildcard plus its base name: two TXT values at the same record name
: >"$T/hook.calls"
cob_ok issue-wildcard issue -d '*.wild.cobble.test' -d wild.cobble.test --dns01-hook "$T/hook.sh"
check_lineage _.wild.cobble.test
check_cert wildcard "$CFG/certs/_.wild.cobble.test/cert.pem" "$CFG/certs/_.wild.cobble.test/chain.pem" '*.wild.cobble.test' wild.cobble.test
[ "$(grep -c '^add ' "$T/hook.calls")" = "$(grep -c '^del ' "$T/hook.calls")" ] || fail "hook add/del calls do not pair up: $(cat "$T/hook.calls")"

# tls-alpn-01 standalone
cob_ok issue-tlsalpn issue -d alpn.cobble.test --name alpn --tlsalpn01-standalone --tlsalpn01-port "$TLSALPNPORT"
check_lineage alpn
check_cert tls-alpn-01 "$CFG/certs/alpn/cert.pem" "$CFG/certs/alpn/chain.pem" alpn.cobble.test
cob_fails tlsalpn-wildcard 'wildcard' issue -d '*.nope.cobble.test' --tlsalpn01-standalone --tlsalpn01-port "$TLSALPNPORT"

# a hook that fails, and one whose stdout is not the protocol: clear errors, no lineage
printf '#!/bin/sh\necho "cannot reach the DNS provider" >&2\nexit 3\n' >"$T/badhook.sh"
printf '#!/bin/sh\necho "record added, all good"\n' >"$T/chattyhook.sh"
chmod +x "$T/badhook.sh" "$T/chattyhook.sh"
cob_fails hook-fails 'hook .* add _acme-challenge.bad.cobble.test failed \(exit status 3\)' issue -d bad.cobble.test --dns01-hook "$T/badhook.sh"
cob_fails hook-malformed 'malformed output from dns-01 hook' issue -d chatty.cobble.test --dns01-hook "$T/chattyhook.sh"
cob_fails hook-missing 'not an executable' issue -d x.cobble.test --dns01-hook "$T/no-such-hook"
for n in bad.cobble.test chatty.cobble.test x.cobble.test; do
	[ ! -e "$CFG/certs/$n" ] && [ ! -e "$CFG/archive/$n" ] || fail "failed issue left files for $n"
done
# Ctrl-C while the proof is published: the hook's del still runs, exit status 130
printf '#!/bin/sh\necho "$1 $2" >>%s/slow.calls\n[ "$1" = add ] && echo wait=30\nexit 0\n' "$T" >"$T/slowhook.sh"
chmod +x "$T/slowhook.sh"
cob_bg "$T/sigint.log" issue -d slow.cobble.test --dns01-hook "$T/slowhook.sh"
pid=$COB_PID
for i in $(seq 1 100); do grep -q '^add' "$T/slow.calls" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
# while it runs, a second cobble must not start working on the same config dir
cob_fails locked 'another cobble is working' renew --force
cob_ok list-while-locked list
kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] || fail "Ctrl-C: exit status $rc, expected 130" "$T/sigint.log"
grep -q '^del _acme-challenge.slow.cobble.test' "$T/slow.calls" || fail "Ctrl-C: the hook's del did not run: $(cat "$T/slow.calls")"
[ ! -e "$CFG/certs/slow.cobble.test" ] || fail "Ctrl-C left certs/slow.cobble.test"
log "Ctrl-C during validation: proof removed, exit 130"
agent_pass "dns-01 hook, wildcard, tls-alpn-01 standalone, hook failures"
