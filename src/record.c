/*
 * Job record inspection with SQLite's JSON functions, on a private
 * in-memory connection with one prepared statement.  The body is never
 * rewritten: the parse only decides whether to cache it and under which
 * status; the cache keeps and serves the bytes upstream sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "record.h"
#include "util.h"

#define RECORD_PARSER_MAGIC	0x52435052u

struct record_parser {
	unsigned	 magic;
	sqlite3		*db;		/* owned */
	sqlite3_stmt	*st;		/* owned */
};

/* json_valid() first: the other functions raise errors on bad JSON. */
static const char parse_sql[] =
    "SELECT json_type(?1), json_type(?1, '$.status'),"
    " json_extract(?1, '$.status'), json_type(?1, '$.type'),"
    " json_extract(?1, '$.type'),"
    " (SELECT count(*) FROM json_each(?1) WHERE key = 'status'),"
    " instr(?1, '\\u0000') WHERE json_valid(?1)";

struct record_parser *
record_parser_new(void)
{
	struct record_parser *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->magic = RECORD_PARSER_MAGIC;
	if (sqlite3_open_v2(":memory:", &p->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_MEMORY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(p->db, parse_sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &p->st, NULL) != SQLITE_OK) {
		record_parser_free(p);
		return NULL;
	}
	return p;
}

void
record_parser_free(struct record_parser *p)
{
	if (p == NULL)
		return;
	CHECK_OBJ(p, RECORD_PARSER_MAGIC);
	sqlite3_finalize(p->st);
	sqlite3_close(p->db);
	memset(p, 0, sizeof(*p));
	free(p);
}

/* Copies text column col into out, truncated to fit. */
static void
column_string(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	if (s == NULL)
		n = 0;
	if (n >= len)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

int
record_parse(struct record_parser *p, const void *body, size_t len,
    struct record *rec)
{
	const char *t;
	int rc = -1;

	CHECK_OBJ(p, RECORD_PARSER_MAGIC);
	memset(rec, 0, sizeof(*rec));
	/* A raw NUL is never JSON, and SQLite would stop reading there. */
	if (len == 0 || len > INT32_MAX || memchr(body, '\0', len) != NULL)
		return -1;
	if (sqlite3_bind_text(p->st, 1, body, (int)len, SQLITE_STATIC) != SQLITE_OK)
		goto done;
	if (sqlite3_step(p->st) != SQLITE_ROW)
		goto done;
	if ((t = (const char *)sqlite3_column_text(p->st, 0)) == NULL ||
	    strcmp(t, "object") != 0)
		goto done;
	if ((t = (const char *)sqlite3_column_text(p->st, 1)) == NULL ||
	    strcmp(t, "text") != 0)
		goto done;
	column_string(p->st, 2, rec->status, sizeof(rec->status));
	t = (const char *)sqlite3_column_text(p->st, 3);
	if (t != NULL && strcmp(t, "text") == 0)
		column_string(p->st, 4, rec->type, sizeof(rec->type));
	/*
	 * Terminal is forever, so only a plain answer counts: one "status"
	 * key (readers differ on duplicates), not cut short, and no escaped
	 * NUL in the body (SQLite's JSON functions stop at one).
	 */
	rec->terminal = record_status_terminal(rec->status) &&
	    strlen(rec->status) == (size_t)sqlite3_column_bytes(p->st, 2) &&
	    sqlite3_column_int(p->st, 5) == 1 &&
	    sqlite3_column_int(p->st, 6) == 0;
	rc = 0;
done:
	sqlite3_reset(p->st);
	sqlite3_clear_bindings(p->st);
	return rc;
}

int
record_status_terminal(const char *status)
{
	return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0;
}

void
record_etag(const void *body, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[33];

	if (EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		assert(!"SHA-256 failed");
	util_hex(md, 16, hex);
	snprintf(out, ETAG_LEN + 1, "\"%s\"", hex);
}
