/* CAA property evaluation (RFC 8659 §4, RFC 8657 accounturi/validationmethods) and the lookup of
 * the relevant record set (RFC 8659 §3). Parsing is bounded by CAA_VALUE_MAX and CAA_RRSET_MAX;
 * a value that does not parse never authorizes, a record that does not parse fails the lookup. */
#include "caa.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "problem.h"
#include "resolver.h"

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static int tag_known(const char *tag)
{
    return strcasecmp(tag, "issue") == 0 || strcasecmp(tag, "issuewild") == 0 ||
           strcasecmp(tag, "iodef") == 0;
}

/* Does the comma-separated list [s, s+len) hold item? RFC 8657 §4 */
static int list_has(const char *s, size_t len, const char *item)
{
    size_t ilen = strlen(item), i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        if (j - i == ilen && strncmp(s + i, item, ilen) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

/* RFC 8659 §4.2: issue-value = [issuer-domain-name] *(";" parameter). */
static int value_authorizes(const char *v, const char *const *ids, size_t n_ids,
                            const char *account_uri, const char *method)
{
    size_t len = strnlen(v, CAA_VALUE_MAX + 1);
    if (len > CAA_VALUE_MAX)
        return 0;
    size_t i = 0;
    while (i < len && is_ws(v[i]))
        i++;
    size_t ds = i;
    while (i < len && v[i] != ';' && !is_ws(v[i]))
        i++;
    size_t dlen = i - ds;
    if (dlen == 0)
        return 0; /* ";" : nobody may issue */
    int match = 0;
    for (size_t k = 0; k < n_ids; k++)
        if (strlen(ids[k]) == dlen && strncasecmp(ids[k], v + ds, dlen) == 0)
            match = 1;
    if (!match)
        return 0;
    while (i < len) {
        while (i < len && is_ws(v[i]))
            i++;
        if (i >= len)
            break;
        if (v[i] != ';')
            return 0;
        i++;
        while (i < len && is_ws(v[i]))
            i++;
        if (i >= len)
            break;
        size_t ks = i;
        while (i < len && v[i] != '=' && v[i] != ';' && !is_ws(v[i]))
            i++;
        if (i >= len || v[i] != '=')
            return 0;
        size_t klen = i - ks;
        i++;
        size_t vs = i;
        while (i < len && v[i] != ';' && !is_ws(v[i]))
            i++;
        size_t vlen = i - vs;
        if (klen == 10 && strncasecmp(v + ks, "accounturi", 10) == 0) {
            if (!account_uri || strlen(account_uri) != vlen || strncmp(v + vs, account_uri, vlen) != 0)
                return 0;
        } else if (klen == 17 && strncasecmp(v + ks, "validationmethods", 17) == 0) {
            if (!method || !list_has(v + vs, vlen, method))
                return 0;
        }
        /* other parameters are CA-specific; ignored */
    }
    return 1;
}

int caa_check(const struct caa_record *recs, size_t n, int wildcard, const char *const *ca_ids,
              size_t n_ids, const char *account_uri, const char *method, char *why, size_t whylen)
{
    const char *want = "issue";
    const struct caa_record *first = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        if ((recs[i].flags & CAA_FLAG_CRITICAL) && !tag_known(recs[i].tag)) {
            if (why)
                snprintf(why, whylen, "CAA record \"%u %.64s %.200s\" has an unknown critical tag",
                         recs[i].flags, recs[i].tag, recs[i].value);
            return 0;
        }
    }
    if (wildcard)
        for (i = 0; i < n; i++)
            if (strcasecmp(recs[i].tag, "issuewild") == 0)
                want = "issuewild";
    for (i = 0; i < n; i++) {
        if (strcasecmp(recs[i].tag, want) != 0)
            continue;
        if (!first)
            first = &recs[i];
        if (value_authorizes(recs[i].value, ca_ids, n_ids, account_uri, method))
            return 1;
    }
    if (!first)
        return 1; /* no relevant property: anyone may issue */
    if (why)
        snprintf(why, whylen, "CAA record \"%u %s \\\"%.200s\\\"\" does not authorize this CA",
                 first->flags, want, first->value);
    return 0;
}

int caa_parse_rdata(const unsigned char *d, size_t len, unsigned *flags, char tag[CAA_TAG_MAX + 1],
                    char value[CAA_VALUE_MAX + 1])
{
    if (!d || len < 2)
        return -1;
    size_t tl = d[1];
    if (tl < 1 || tl > CAA_TAG_MAX || tl > len - 2)
        return -1;
    for (size_t i = 0; i < tl; i++) {
        unsigned char c = d[2 + i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return -1;
    }
    size_t vl = len - 2 - tl;
    if (vl > CAA_VALUE_MAX || memchr(d + 2 + tl, '\0', vl))
        return -1;
    *flags = d[0];
    memcpy(tag, d + 2, tl);
    tag[tl] = '\0';
    memcpy(value, d + 2 + tl, vl);
    value[vl] = '\0';
    return 0;
}

int caa_records_from_rdata(const unsigned char *const *rdata, const size_t *len, size_t n,
                           struct caa_record **out, char *err, size_t errlen)
{
    char value[CAA_VALUE_MAX + 1];
    unsigned flags;
    size_t strings = 0, i;

    *out = NULL;
    if (n > CAA_RRSET_MAX) {
        snprintf(err, errlen, "%zu CAA records, more than the %d the CA reads", n, CAA_RRSET_MAX);
        return -1;
    }
    if (n == 0)
        return 0;
    /* Pass 1: every record must parse; size the block. */
    for (i = 0; i < n; i++) {
        char t[CAA_TAG_MAX + 1];
        if (caa_parse_rdata(rdata[i], len[i], &flags, t, value) != 0) {
            snprintf(err, errlen, "CAA record %zu of %zu is malformed (RFC 8659 §4.1: tag of 1 to %d "
                     "letters and digits, value of at most %d bytes without NUL)", i + 1, n,
                     CAA_TAG_MAX, CAA_VALUE_MAX);
            return -1;
        }
        strings += strlen(t) + 1 + strlen(value) + 1;
    }
    struct caa_record *recs = malloc(n * sizeof *recs + strings);
    if (!recs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *s = (char *)(recs + n);
    for (i = 0; i < n; i++) {
        char t[CAA_TAG_MAX + 1];
        caa_parse_rdata(rdata[i], len[i], &flags, t, value);
        size_t tl = strlen(t) + 1, vl = strlen(value) + 1;
        memcpy(s, t, tl);
        recs[i].tag = s;
        s += tl;
        memcpy(s, value, vl);
        recs[i].value = s;
        s += vl;
        recs[i].flags = flags;
    }
    *out = recs;
    return 0;
}

static int is_ip_literal(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

struct caa_pending {
    char base[254];
    int wildcard;
    size_t nlevels;
    const char *levels[RESOLVER_CAA_LEVELS_MAX]; /* into base */
    struct resolver_caa_pending *lookup;
};

int caa_check_start(struct resolver *r, const char *name, int wildcard, struct caa_pending **out,
                    struct problem **prob)
{
    *out = NULL;
    *prob = NULL;
    if (!name || !*name) {
        *prob = problem_new("serverInternal", 500, "CAA check without a name");
        return -1;
    }
    if (is_ip_literal(name))
        return 1; /* CAA is defined for FQDNs (RFC 8659 §3); RFC 8738 defines none for IPs */
    if (strncmp(name, "*.", 2) == 0) {
        name += 2; /* RFC 8659 §3: RelevantCAASet(X) for *.X */
        wildcard = 1;
    }
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 253) { /* RFC 1035 §2.3.4 (in text form, without the final dot) */
        *prob = problem_new("dns", 400, "DNS problem: \"%.260s\" is not a name CAA can be checked for",
                            name);
        return -1;
    }
    struct caa_pending *p = calloc(1, sizeof *p);
    if (!p) {
        *prob = problem_new("serverInternal", 500, "out of memory checking CAA");
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        p->base[i] = (char)tolower((unsigned char)name[i]);
    p->base[len] = '\0';
    p->wildcard = wildcard;
    if (!r) {
        *prob = problem_new("dns", 400, "DNS problem: no resolver configured to check CAA for %s", p->base);
        free(p);
        return -1;
    }

    /* RFC 8659 §3: climb from the name up to, but not including, the root; the first
     * non-empty RRset is the relevant one. Every level is asked in one round
     * (resolver_caa_walk_start), and the same set the sequential climb would pick is chosen:
     * a failure at a level below the relevant one fails the check, one above it does not matter. */
    for (const char *cur = p->base; cur && *cur && p->nlevels < RESOLVER_CAA_LEVELS_MAX;) {
        p->levels[p->nlevels++] = cur;
        cur = strchr(cur, '.');
        if (cur)
            cur++;
    }
    if (resolver_caa_walk_start(r, p->levels, p->nlevels, &p->lookup, prob) != 0) {
        free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int caa_check_finish(struct caa_pending *p, const char *const *ca_ids, size_t n_ids,
                     const char *account_uri, const char *method, struct problem **prob)
{
    char why[512];
    struct caa_record *recs = NULL;
    size_t level, n = 0;
    int rc;
    *prob = NULL;
    if (resolver_caa_walk_finish(p->lookup, &level, &recs, &n, prob) != 0) {
        rc = -1;
        goto out;
    }
    rc = 1;
    if (n == 0)
        goto out;
    const char *cur = p->levels[level], *base = p->base, *star = p->wildcard ? "*." : "";
    if (caa_check(recs, n, p->wildcard, ca_ids, n_ids, account_uri, method, why, sizeof why))
        goto out;
    rc = 0;
    if (strcmp(cur, base) == 0)
        *prob = problem_new("caa", 403, "CAA records for %s%s forbid issuance: %s", star, base, why);
    else
        *prob = problem_new("caa", 403, "CAA records at %s (the relevant record set for %s%s) "
                            "forbid issuance: %s", cur, star, base, why);
out:
    free(recs);
    free(p);
    return rc;
}

void caa_check_cancel(struct caa_pending *p)
{
    if (!p)
        return;
    resolver_caa_walk_cancel(p->lookup);
    free(p);
}

int caa_check_name(struct resolver *r, const char *name, int wildcard, const char *const *ca_ids,
                   size_t n_ids, const char *account_uri, const char *method, struct problem **prob)
{
    struct caa_pending *p;
    int rc = caa_check_start(r, name, wildcard, &p, prob);
    if (rc != 0)
        return rc;
    return caa_check_finish(p, ca_ids, n_ids, account_uri, method, prob);
}
