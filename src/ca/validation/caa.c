/* CAA property evaluation (RFC 8659 §4, RFC 8657 accounturi/validationmethods).
 * Parsing is bounded by CAA_VALUE_MAX; a value that does not parse never authorizes. */
#include "caa.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

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
