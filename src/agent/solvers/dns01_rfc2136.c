/* dns-01 by RFC 2136 UPDATE signed with TSIG (RFC 8945), through ldns. After the update we
 * wait until every authoritative server of the zone (its NS set, resolved at the primary)
 * serves the TXT value, so the CA cannot query a secondary that has not caught up. */
#include "agent/solvers/solver.h"
#include "agent/acme/client.h"
#include "agent/ui.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifdef HAVE_LDNS
#include <ldns/ldns.h>

#define PROPAGATION_TIMEOUT 120 /* seconds */
#define TXT_TTL 60

struct rfc2136 {
	char host[64]; /* address literal of the primary (INET6_ADDRSTRLEN fits) */
	int port;
	char *key_name, *key_alg, *key_secret;
};

/* "HOST", "HOST:PORT", "[V6]:PORT"; the host resolved to an address literal. */
static int parse_server(struct rfc2136 *r, const char *s, char *err, size_t errlen)
{
	char host[256];
	const char *port = NULL;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || (size_t)(e - s - 1) >= sizeof host)
			goto bad;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		if (e[1] == ':')
			port = e + 2;
		else if (e[1] != '\0')
			goto bad;
	} else {
		const char *c = strchr(s, ':');
		if (c && strchr(c + 1, ':'))
			c = NULL; /* bare IPv6 */
		size_t n = c ? (size_t)(c - s) : strlen(s);
		if (n == 0 || n >= sizeof host)
			goto bad;
		memcpy(host, s, n);
		host[n] = '\0';
		if (c)
			port = c + 1;
	}
	r->port = 53;
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
			goto bad;
		r->port = (int)p;
	}
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai) {
		snprintf(err, errlen, "--dns01-rfc2136 %s: cannot resolve %s", s, host);
		return -1;
	}
	getnameinfo(ai->ai_addr, ai->ai_addrlen, r->host, sizeof r->host, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	return 0;
bad:
	snprintf(err, errlen, "--dns01-rfc2136 %s: expected SERVER[:PORT]", s);
	return -1;
}

static ldns_resolver *resolver_for(const char *addr, int port, const struct rfc2136 *tsig)
{
	ldns_resolver *res = ldns_resolver_new();
	ldns_rdf *a = ldns_rdf_new_frm_str(strchr(addr, ':') ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, addr);
	if (!res || !a || ldns_resolver_push_nameserver(res, a) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(a);
		if (res)
			ldns_resolver_deep_free(res);
		return NULL;
	}
	ldns_rdf_deep_free(a);
	ldns_resolver_set_port(res, (uint16_t)port);
	ldns_resolver_set_recursive(res, false);
	ldns_resolver_set_retry(res, 2);
	struct timeval tv = {3, 0};
	ldns_resolver_set_timeout(res, tv);
	if (tsig) {
		ldns_resolver_set_tsig_keyname(res, tsig->key_name);
		ldns_resolver_set_tsig_algorithm(res, tsig->key_alg);
		ldns_resolver_set_tsig_keydata(res, tsig->key_secret);
	}
	return res;
}

static int r_init(void **state, const struct solver_cfg *cfg, char *err, size_t errlen)
{
	struct rfc2136 *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!cfg->dns_server || parse_server(r, cfg->dns_server, err, errlen) != 0) {
		if (!cfg->dns_server)
			snprintf(err, errlen, "--dns01-rfc2136 needs SERVER[:PORT]");
		free(r);
		return -1;
	}
	if (cfg->tsig) {
		/* NAME:ALGORITHM:BASE64SECRET (base64 has no ':') */
		const char *c1 = strchr(cfg->tsig, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c1 || !c2 || c1 == cfg->tsig || c2 == c1 + 1 || c2[1] == '\0' || strchr(c2 + 1, ':')) {
			snprintf(err, errlen, "--tsig: expected NAME:ALGORITHM:BASE64SECRET (e.g. "
			                      "update-key:hmac-sha256:c2VjcmV0...)");
			free(r);
			return -1;
		}
		const char *alg = c1 + 1;
		size_t alen = (size_t)(c2 - alg);
		int fq = alg[alen - 1] == '.';
		if (asprintf(&r->key_name, "%.*s%s", (int)(c1 - cfg->tsig), cfg->tsig,
		             cfg->tsig[c1 - cfg->tsig - 1] == '.' ? "" : ".") < 0 ||
		    asprintf(&r->key_alg, "%.*s%s", (int)alen, alg, fq ? "" : ".") < 0 ||
		    !(r->key_secret = strdup(c2 + 1))) {
			snprintf(err, errlen, "out of memory");
			free(r);
			return -1;
		}
		static const char *algs[] = {"hmac-md5.sig-alg.reg.int.", "hmac-sha1.", "hmac-sha224.", "hmac-sha256.",
		                             "hmac-sha384.", "hmac-sha512."};
		int known = 0;
		for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
			known |= strcasecmp(r->key_alg, algs[i]) == 0;
		if (!known) {
			snprintf(err, errlen, "--tsig: unknown algorithm %.*s (hmac-sha256, hmac-sha512, ...)", (int)alen, alg);
			free(r->key_name);
			free(r->key_alg);
			free(r->key_secret);
			free(r);
			return -1;
		}
	} else {
		ui_warn("--dns01-rfc2136 without --tsig: sending unsigned updates");
	}
	*state = r;
	return 0;
}

/* The zone holding fqdn: the owner of the SOA in the answer or authority section. */
static ldns_rdf *find_zone(ldns_resolver *res, const char *fqdn)
{
	ldns_rdf *name = ldns_dname_new_frm_str(fqdn), *zone = NULL;
	if (!name)
		return NULL;
	ldns_pkt *p = ldns_resolver_query(res, name, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0);
	ldns_rdf_deep_free(name);
	if (!p)
		return NULL;
	ldns_pkt_section secs[] = {LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY};
	for (size_t i = 0; !zone && i < 2; i++) {
		ldns_rr_list *l = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_SOA, secs[i]);
		if (l && ldns_rr_list_rr_count(l) > 0)
			zone = ldns_rdf_clone(ldns_rr_owner(ldns_rr_list_rr(l, 0)));
		ldns_rr_list_deep_free(l);
	}
	ldns_pkt_free(p);
	return zone;
}

static int send_update(struct rfc2136 *r, const char *fqdn, const char *value, int add, char *err, size_t errlen)
{
	ldns_resolver *res = resolver_for(r->host, r->port, r->key_name ? r : NULL);
	ldns_resolver *plain = resolver_for(r->host, r->port, NULL); /* queries need no TSIG */
	ldns_rdf *zone = NULL;
	ldns_rr *rr = NULL;
	ldns_rr_list *up = NULL;
	ldns_pkt *pkt = NULL, *answer = NULL;
	char *txt = NULL, zbuf[300] = "?";
	int rc = -1;
	if (!res || !plain) {
		snprintf(err, errlen, "cannot set up a DNS client for %s", r->host);
		goto done;
	}
	zone = find_zone(plain, fqdn);
	if (!zone) {
		snprintf(err, errlen, "%s#%d did not say which zone holds %s (no SOA)", r->host, r->port, fqdn);
		goto done;
	}
	char *zs = ldns_rdf2str(zone);
	if (zs) {
		snprintf(zbuf, sizeof zbuf, "%s", zs);
		free(zs);
	}
	if (asprintf(&txt, "%s %d IN TXT \"%s\"", fqdn, TXT_TTL, value) < 0) {
		txt = NULL;
		goto done;
	}
	if (ldns_rr_new_frm_str(&rr, txt, 0, NULL, NULL) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "cannot build the TXT record for %s", fqdn);
		goto done;
	}
	if (!add) {
		/* RFC 2136 §2.5.4: delete an RR from an RRset: class NONE, TTL 0 */
		ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);
		ldns_rr_set_ttl(rr, 0);
	}
	up = ldns_rr_list_new();
	ldns_rr_list_push_rr(up, rr);
	rr = NULL;
	pkt = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, NULL, up, NULL);
	zone = NULL; /* the packet owns it */
	if (!pkt) {
		snprintf(err, errlen, "cannot build the UPDATE for %s", fqdn);
		goto done;
	}
	if (r->key_name && ldns_update_pkt_tsig_add(pkt, res) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "cannot sign the UPDATE with TSIG key %s (is the secret base64?)", r->key_name);
		goto done;
	}
	ldns_status st = ldns_resolver_send_pkt(&answer, res, pkt);
	if (st != LDNS_STATUS_OK || !answer) {
		snprintf(err, errlen, "UPDATE of zone %s at %s#%d failed: %s%s", zbuf, r->host, r->port,
		         ldns_get_errorstr_by_id(st), r->key_name ? " (check the --tsig key)" : "");
		goto done;
	}
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(answer);
	if (rcode != LDNS_RCODE_NOERROR) {
		ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
		snprintf(err, errlen, "UPDATE of zone %s at %s#%d refused: %s%s", zbuf, r->host, r->port,
		         t ? t->name : "error",
		         rcode == LDNS_RCODE_NOTAUTH || rcode == LDNS_RCODE_REFUSED ? " (check --tsig and the server's ACL)" : "");
		goto done;
	}
	ui_debug("rfc2136: %s %s in zone %s at %s#%d", add ? "added" : "deleted", fqdn, zbuf, r->host, r->port);
	rc = 0;
done:
	ldns_pkt_free(answer);
	ldns_pkt_free(pkt);
	ldns_rr_list_deep_free(up);
	ldns_rr_free(rr);
	ldns_rdf_deep_free(zone);
	free(txt);
	if (res)
		ldns_resolver_deep_free(res);
	if (plain)
		ldns_resolver_deep_free(plain);
	return rc;
}

/* Does addr#port answer fqdn TXT with value? */
static int serves(const char *addr, int port, const char *fqdn, const char *value)
{
	ldns_resolver *res = resolver_for(addr, port, NULL);
	ldns_rdf *name = ldns_dname_new_frm_str(fqdn);
	int found = 0;
	ldns_pkt *p = res && name ? ldns_resolver_query(res, name, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, 0) : NULL;
	ldns_rr_list *l = p ? ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_TXT, LDNS_SECTION_ANSWER) : NULL;
	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);
		if (ldns_rr_rd_count(rr) < 1)
			continue;
		char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0)); /* quoted */
		size_t n = strlen(value);
		if (s && s[0] == '"' && strncmp(s + 1, value, n) == 0 && s[n + 1] == '"')
			found = 1;
		free(s);
	}
	ldns_rr_list_deep_free(l);
	ldns_pkt_free(p);
	ldns_rdf_deep_free(name);
	if (res)
		ldns_resolver_deep_free(res);
	return found;
}

#define MAX_AUTH 16
/* Addresses of the zone's authoritative servers, resolved at the primary. The primary's own
 * port applies to servers at the primary's address (a lab server on a high port); others
 * answer on 53. Always includes the primary. */
static size_t auth_servers(struct rfc2136 *r, const char *fqdn, char addrs[][64], int *ports)
{
	size_t n = 0;
	snprintf(addrs[n], 64, "%s", r->host);
	ports[n++] = r->port;
	ldns_resolver *res = resolver_for(r->host, r->port, NULL);
	ldns_rdf *zone = res ? find_zone(res, fqdn) : NULL;
	ldns_pkt *p = zone ? ldns_resolver_query(res, zone, LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN, 0) : NULL;
	ldns_rr_list *ns = p ? ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_NS, LDNS_SECTION_ANSWER) : NULL;
	for (size_t i = 0; ns && i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rdf *host = ldns_rr_rdf(ldns_rr_list_rr(ns, i), 0);
		ldns_rr_type types[] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA};
		for (size_t t = 0; t < 2; t++) {
			ldns_pkt *ap = ldns_resolver_query(res, host, types[t], LDNS_RR_CLASS_IN, 0);
			ldns_rr_list *al = ap ? ldns_pkt_rr_list_by_type(ap, types[t], LDNS_SECTION_ANSWER) : NULL;
			for (size_t k = 0; al && k < ldns_rr_list_rr_count(al) && n < MAX_AUTH; k++) {
				char *s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(al, k), 0));
				int dup = 0;
				for (size_t m = 0; s && m < n; m++)
					dup |= strcmp(addrs[m], s) == 0;
				if (s && !dup) {
					snprintf(addrs[n], 64, "%s", s);
					ports[n++] = strcmp(s, r->host) == 0 ? r->port : 53;
				}
				free(s);
			}
			ldns_rr_list_deep_free(al);
			ldns_pkt_free(ap);
		}
	}
	ldns_rr_list_deep_free(ns);
	ldns_pkt_free(p);
	ldns_rdf_deep_free(zone);
	if (res)
		ldns_resolver_deep_free(res);
	return n;
}

static int r_present(void *state, const char *identifier, const char *token, const char *keyauth, char *err,
                     size_t errlen)
{
	struct rfc2136 *r = state;
	char value[64], *name = dns01_record_name(identifier), *fqdn = NULL;
	int rc = -1;
	(void)token;
	if (!name || dns01_txt_value(keyauth, value) != 0 || asprintf(&fqdn, "%s.", name) < 0) {
		snprintf(err, errlen, "out of memory");
		fqdn = NULL;
		goto done;
	}
	if (send_update(r, fqdn, value, 1, err, errlen) != 0)
		goto done;
	char addrs[MAX_AUTH][64];
	int ports[MAX_AUTH];
	size_t n = auth_servers(r, fqdn, addrs, ports);
	for (int waited = 0;; waited++) {
		size_t ok = 0;
		for (size_t i = 0; i < n; i++)
			ok += (size_t)serves(addrs[i], ports[i], fqdn, value);
		if (ok == n) {
			ui_step("  %s TXT served by all %zu authoritative server%s", name, n, n == 1 ? "" : "s");
			break;
		}
		if (waited >= PROPAGATION_TIMEOUT) {
			snprintf(err, errlen, "%s: only %zu of %zu authoritative servers serve the TXT record after %d s", name,
			         ok, n, PROPAGATION_TIMEOUT);
			goto done;
		}
		if (acme_sleep(1) != 0) {
			snprintf(err, errlen, "interrupted");
			goto done;
		}
	}
	rc = 0;
done:
	free(name);
	free(fqdn);
	return rc;
}

static void r_cleanup(void *state, const char *identifier, const char *token, const char *keyauth)
{
	struct rfc2136 *r = state;
	char value[64], err[400], *name = dns01_record_name(identifier), *fqdn = NULL;
	(void)token;
	if (name && dns01_txt_value(keyauth, value) == 0 && asprintf(&fqdn, "%s.", name) >= 0) {
		if (send_update(r, fqdn, value, 0, err, sizeof err) != 0)
			ui_warn("could not remove %s TXT: %s", name, err);
		free(fqdn);
	}
	free(name);
}

static void r_fini(void *state)
{
	struct rfc2136 *r = state;
	if (!r)
		return;
	free(r->key_name);
	free(r->key_alg);
	free(r->key_secret);
	free(r);
}

#else /* !HAVE_LDNS */

static int r_init(void **state, const struct solver_cfg *cfg, char *err, size_t errlen)
{
	(void)state;
	(void)cfg;
	snprintf(err, errlen, "--dns01-rfc2136 is not available: cobble was built without ldns");
	return -1;
}
static int r_present(void *s, const char *i, const char *t, const char *k, char *err, size_t errlen)
{
	(void)s; (void)i; (void)t; (void)k;
	snprintf(err, errlen, "not available");
	return -1;
}
static void r_cleanup(void *s, const char *i, const char *t, const char *k) { (void)s; (void)i; (void)t; (void)k; }
static void r_fini(void *s) { (void)s; }

#endif

const struct solver_impl solver_dns01_rfc2136 = {r_init, r_present, r_cleanup, r_fini, NULL};
