/* cobble-seed: fills a cobbled SQLite database with COUNT issued certificates, as if the CA had
 * been running for 90 days, so the bench can measure issuance and CRLs on a grown database.
 * Every certificate has its account (one per 100 certificates), order, authorization with
 * three challenges, reserved serial and a DER blob of real size (a certificate this CA issued,
 * with the serial rewritten); 1% are revoked. Run it while cobbled is stopped. */
#include "issuance/ca.h"
#include "issuance/csrcheck.h"
#include "issuance/issue.h"
#include "keys.h"
#include "rand.h"
#include <openssl/x509.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400
#define SERIAL_BYTES 16

static sqlite3 *db;

static sqlite3_stmt *prep(const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "seed: %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	return st;
}

static void done(sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE) {
		fprintf(stderr, "seed: %s: %s\n", sqlite3_sql(st), sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_reset(st);
}

static void exec(const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "seed: %s: %s\n", sql, msg ? msg : "?");
		exit(1);
	}
}

static void text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void serial_new(unsigned char *b, char *hex)
{
	rand_fill(b, SERIAL_BYTES);
	b[0] &= 0x7f; /* positive, and no leading zero byte: the same shape as ca_new_serial */
	if (b[0] == 0)
		b[0] = 1;
	for (int i = 0; i < SERIAL_BYTES; i++)
		sprintf(hex + 2 * i, "%02x", b[i]);
}

/* One real leaf from this data dir's CA, and the offset of its serial in the DER. */
static unsigned char *template_cert(const char *dir, const unsigned char *serial, const char *hex, size_t *len,
                                    size_t *serial_off)
{
	struct ca_config cc = {.data_dir = dir, .base_url = "https://127.0.0.1:14000"};
	struct ca *ca = NULL;
	char err[256];
	if (ca_open(&cc, &ca, err, sizeof err) != 0) {
		fprintf(stderr, "seed: %s\n", err);
		exit(1);
	}
	EVP_PKEY *k = key_generate("ec256");
	struct csr req;
	if (!k || csr_from_key(k, &req) != 0) {
		fprintf(stderr, "seed: cannot make a key\n");
		exit(1);
	}
	const char *names[1] = {"seed-0000000.cobble.test"};
	unsigned char *der = NULL;
	int64_t nb, na;
	if (ca_issue(ca, &req, names, 1, hex, 0, 0, &der, len, &nb, &na, err, sizeof err) != 0) {
		fprintf(stderr, "seed: issue: %s\n", err);
		exit(1);
	}
	unsigned char *p = memmem(der, *len, serial, SERIAL_BYTES);
	if (!p) {
		fprintf(stderr, "seed: serial not found in the template certificate\n");
		exit(1);
	}
	*serial_off = (size_t)(p - der);
	unsigned char *copy = malloc(*len);
	memcpy(copy, der, *len);
	OPENSSL_free(der);
	csr_clear(&req);
	EVP_PKEY_free(k);
	ca_free(ca);
	return copy;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: cobble-seed DATA_DIR COUNT   (DATA_DIR/cobble.db must exist: cobbled migrate)\n");
		return 2;
	}
	const char *dir = argv[1];
	long count = atol(argv[2]);
	char path[4096];
	snprintf(path, sizeof path, "%s/cobble.db", dir);
	unsigned char sb[SERIAL_BYTES];
	char hex[2 * SERIAL_BYTES + 1], id[32], tok[64];
	serial_new(sb, hex);
	size_t der_len, off;
	unsigned char *der = template_cert(dir, sb, hex, &der_len, &off);

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "seed: cannot open %s (run cobbled migrate first)\n", path);
		return 1;
	}
	/* A bulk load into a stopped CA: no journal; cobbled turns WAL back on when it opens. */
	exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF;"
	     "PRAGMA cache_size = -262144");
	sqlite3_stmt *acct = prep("INSERT INTO accounts (id, thumbprint, jwk, contact, status, tos_agreed, created_at)"
	                          " VALUES (?, ?, ?, '[]', 'valid', 1, ?)");
	sqlite3_stmt *order = prep("INSERT INTO orders (id, account_id, status, expires, created_at, identifiers,"
	                           " cert_serial) VALUES (?, ?, 'valid', ?, ?, ?, ?)");
	sqlite3_stmt *authz = prep("INSERT INTO authzs (id, account_id, ident_type, ident_value, wildcard, status,"
	                           " expires, created_at) VALUES (?, ?, 'dns', ?, 0, 'valid', ?, ?)");
	sqlite3_stmt *link = prep("INSERT INTO order_authzs (order_id, authz_id, position) VALUES (?, ?, 0)");
	sqlite3_stmt *chall = prep("INSERT INTO challenges (id, authz_id, position, type, token, status,"
	                           " validated_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	sqlite3_stmt *serial = prep("INSERT INTO serials (serial, order_id, reserved_at) VALUES (?, ?, ?)");
	sqlite3_stmt *cert = prep("INSERT INTO certs (serial, account_id, order_id, der, issued_at, not_before,"
	                          " not_after, revoked_at, revoked_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	static const char *types[3] = {"http-01", "dns-01", "tls-alpn-01"};
	static const int reasons[4] = {0, 1, 4, 5};
	int64_t now = (int64_t)time(NULL), start = now - 89 * DAY;
	char acct_id[32] = "", name[128], idents[256], order_id[32], authz_id[32], record[512];
	long revoked = 0;
	exec("BEGIN");
	for (long i = 0; i < count; i++) {
		int64_t t = start + (int64_t)((double)i / (double)(count ? count : 1) * 89 * DAY);
		if (i % 100 == 0) {
			unsigned char kb[64];
			char jwk[256], x[64], y[64];
			rand_id(acct_id);
			rand_fill(kb, sizeof kb);
			for (int k = 0; k < 43; k++) {
				x[k] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[kb[k % 64] & 63];
				y[k] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[(kb[(k + 21) % 64] >> 2) & 63];
			}
			x[43] = y[43] = '\0';
			snprintf(jwk, sizeof jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
			rand_token(tok);
			text(acct, 1, acct_id);
			text(acct, 2, tok);
			text(acct, 3, jwk);
			sqlite3_bind_int64(acct, 4, t);
			done(acct);
		}
		snprintf(name, sizeof name, "seed-%07ld.cobble.test", i);
		snprintf(idents, sizeof idents, "[{\"type\":\"dns\",\"value\":\"%s\"}]", name);
		rand_id(order_id);
		rand_id(authz_id);
		serial_new(sb, hex);
		memcpy(der + off, sb, SERIAL_BYTES);

		text(authz, 1, authz_id);
		text(authz, 2, acct_id);
		text(authz, 3, name);
		sqlite3_bind_int64(authz, 4, t + 30 * DAY);
		sqlite3_bind_int64(authz, 5, t);
		done(authz);
		for (int c = 0; c < 3; c++) {
			rand_id(id);
			rand_token(tok);
			text(chall, 1, id);
			text(chall, 2, authz_id);
			sqlite3_bind_int(chall, 3, c);
			text(chall, 4, types[c]);
			text(chall, 5, tok);
			text(chall, 6, c == 0 ? "valid" : "pending");
			sqlite3_bind_int64(chall, 7, c == 0 ? t : 0);
			if (c == 0) {
				snprintf(record, sizeof record,
				         "[{\"url\":\"http://%s/.well-known/acme-challenge/%s\",\"hostname\":\"%s\","
				         "\"port\":\"80\",\"addressesResolved\":[\"127.0.0.1\"],\"addressUsed\":\"127.0.0.1\"}]",
				         name, tok, name);
				text(chall, 8, record);
			} else {
				sqlite3_bind_null(chall, 8);
			}
			done(chall);
		}
		text(order, 1, order_id);
		text(order, 2, acct_id);
		sqlite3_bind_int64(order, 3, t + 7 * DAY);
		sqlite3_bind_int64(order, 4, t);
		text(order, 5, idents);
		text(order, 6, hex);
		done(order);
		text(link, 1, order_id);
		text(link, 2, authz_id);
		done(link);
		text(serial, 1, hex);
		text(serial, 2, order_id);
		sqlite3_bind_int64(serial, 3, t);
		done(serial);
		int rev = i % 100 == 37; /* 1%, spread over the whole range */
		text(cert, 1, hex);
		text(cert, 2, acct_id);
		text(cert, 3, order_id);
		sqlite3_bind_blob(cert, 4, der, (int)der_len, SQLITE_STATIC);
		sqlite3_bind_int64(cert, 5, t);
		sqlite3_bind_int64(cert, 6, t);
		sqlite3_bind_int64(cert, 7, t + 90 * DAY);
		sqlite3_bind_int64(cert, 8, rev ? t + DAY : 0);
		sqlite3_bind_int(cert, 9, rev ? reasons[i % 4] : 0);
		done(cert);
		revoked += rev;
		if (i % 200000 == 199999) {
			exec("COMMIT; BEGIN");
			fprintf(stderr, "seed: %ld certificates\n", i + 1);
		}
	}
	exec("COMMIT");
	sqlite3_finalize(acct);
	sqlite3_finalize(order);
	sqlite3_finalize(authz);
	sqlite3_finalize(link);
	sqlite3_finalize(chall);
	sqlite3_finalize(serial);
	sqlite3_finalize(cert);
	exec("PRAGMA journal_mode = WAL");
	sqlite3_close(db);
	printf("seeded %ld certificates (%ld revoked), DER %zu bytes each\n", count, revoked, der_len);
	free(der);
	return 0;
}
