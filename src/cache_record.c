/*
 * Reading upstream's job records: whether a body is a JSON object with a
 * string "status", its status, its type and whether it is terminal.  It is
 * one SQL statement of SQLite's JSON functions, so that the records are
 * read the way the cache reads what it stores (media lists, link
 * rewriting): integers past 64 bits and reals past a double included,
 * which jansson refuses.  It runs on the cache's in-memory connection
 * (c->mem), not on the file: reading a record takes no lock there.  The
 * bytes are never changed.
 */
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "cache.h"
#include "cache_int.h"
#include "util.h"

/* json_valid() first: the other functions raise errors on bad JSON. */
const char *const cache_record_sql[1] = {
    "SELECT json_type(?1), json_type(?1, '$.status'),"
    " json_extract(?1, '$.status'), json_type(?1, '$.type'),"
    " json_extract(?1, '$.type'),"
    " (SELECT count(*) FROM json_each(?1) WHERE key = 'status'),"
    " instr(?1, '\\u0000') WHERE json_valid(?1)",
};

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
cache_parse_record(struct cache *c, const void *body, size_t len,
    struct record *rec)
{
	sqlite3_stmt *st;
	const char *t;
	int rc = -1;

	CHECK_OBJ(c, CACHE_MAGIC);
	memset(rec, 0, sizeof(*rec));
	/* A raw NUL is never JSON, and SQLite would stop reading there. */
	if (len == 0 || len > INT32_MAX || memchr(body, '\0', len) != NULL)
		return -1;
	st = c->rst[0];
	if (sqlite3_bind_text(st, 1, body, (int)len, SQLITE_STATIC) != SQLITE_OK)
		goto done;
	if (sqlite3_step(st) != SQLITE_ROW)
		goto done;
	if ((t = (const char *)sqlite3_column_text(st, 0)) == NULL ||
	    strcmp(t, "object") != 0)
		goto done;
	if ((t = (const char *)sqlite3_column_text(st, 1)) == NULL ||
	    strcmp(t, "text") != 0)
		goto done;
	column_string(st, 2, rec->status, sizeof(rec->status));
	t = (const char *)sqlite3_column_text(st, 3);
	if (t != NULL && strcmp(t, "text") == 0)
		column_string(st, 4, rec->type, sizeof(rec->type));
	/*
	 * Terminal is forever, so only a plain answer counts: one "status"
	 * key (readers differ on duplicates), not cut short, and no escaped
	 * NUL in the body (SQLite's JSON functions stop at one).
	 */
	rec->terminal = record_status_terminal(rec->status) &&
	    strlen(rec->status) == (size_t)sqlite3_column_bytes(st, 2) &&
	    sqlite3_column_int(st, 5) == 1 &&
	    sqlite3_column_int(st, 6) == 0;
	rc = 0;
done:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}
